//! Last words: the signal-safe drain request a crash or
//! termination handler makes of the sink's worker, and the handlers.
//!
//! A [`CrashDrain`] is made by the builder (whoever assembles the stack)
//! and handed to the sink's worker and to the handlers; nothing finds it
//! through a global. The handler side uses only atomics, a bounded sleep
//! loop and `write(2)`; the worker side is ordinary code on the worker's
//! thread:
//!
//! ```text
//! handler (crashing thread)                 worker (its own thread)
//!   request(): fields, requested += 1  ──▶   pending() at the top of its loop
//!   unpark the worker (best effort)          write what is queued, the final
//!   wait(): sleep 1 ms, up to timeout        record, flush; complete(): done
//!   done >= seq, or gave up            ◀──   = seq
//!   re-raise with the default action
//! ```

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

#[cfg(unix)]
mod fault;
#[cfg(unix)]
pub(crate) mod handler;
#[cfg(unix)]
mod on_top;
#[cfg(unix)]
mod sys;
#[cfg(unix)]
pub(crate) mod term;

/// How long a handler waits for the worker by default: long enough for a
/// healthy writer to take a full batch, short enough that a supervisor
/// restarting a crashed service barely notices.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The longest the worker may wait while a drain can be requested (see
/// [`CrashDrain::poll_interval`]).
const POLL: Duration = Duration::from_millis(50);

/// The kernel keeps 15 bytes of a thread's name (16 with the NUL).
const NAME: usize = 16;

/// The drain request shared by the handlers and the sink's worker.
pub(crate) struct CrashDrain {
    /// Requests made so far; a handler waits for `done` to reach its own.
    requested: AtomicU64,
    /// The last request the worker finished.
    done: AtomicU64,
    /// The first fatal request filled in `signal` and `thread`.
    claimed: AtomicBool,
    /// The worker took the final record already.
    recorded: AtomicBool,
    signal: AtomicI32,
    /// Whether the signal kills the process (`true`) or asks it to stop.
    fatal: AtomicBool,
    thread: [AtomicU8; NAME],
    thread_len: AtomicUsize,
    /// The worker's thread, to unpark (set once it is spawned).
    worker: OnceLock<Thread>,
    timeout: Duration,
}

/// A pending request, as the worker sees it.
pub(crate) struct Request {
    seq: u64,
    /// The signal to name in the final record, once per process.
    record: Option<(i32, bool, [u8; NAME], usize)>,
}

impl CrashDrain {
    /// A drain request whose handlers wait at most `timeout`.
    pub(crate) fn new(timeout: Duration) -> Arc<CrashDrain> {
        Arc::new(CrashDrain {
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
            claimed: AtomicBool::new(false),
            recorded: AtomicBool::new(false),
            signal: AtomicI32::new(0),
            fatal: AtomicBool::new(false),
            thread: Default::default(),
            thread_len: AtomicUsize::new(0),
            worker: OnceLock::new(),
            timeout,
        })
    }

    // ------------------------------------------------------ worker side

    /// The worker's thread, so a handler can unpark it.
    pub(crate) fn set_worker(&self, thread: Thread) {
        let _ = self.worker.set(thread);
    }

    /// The longest the worker may park or pause between two checks of
    /// [`pending`](Self::pending) (50 ms). A handler unparks the worker on
    /// Linux, where that is a lock-free futex wake; elsewhere it does not
    /// call into std, and a worker waiting for the control channel (the
    /// back-off after a writer error) is not woken by an unpark at all.
    pub(crate) fn poll_interval(&self) -> Duration {
        POLL
    }

    /// Whether a request is not yet finished, without taking it (see
    /// [`pending`](Self::pending)).
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.requested.load(Ordering::Relaxed) > self.done.load(Ordering::Relaxed)
    }

    /// A request not yet finished: the worker writes what is queued, then
    /// [`Request::final_record`], flushes, and calls [`complete`](Self::complete).
    #[inline]
    pub(crate) fn pending(&self) -> Option<Request> {
        let seq = self.requested.load(Ordering::Acquire);
        if seq <= self.done.load(Ordering::Relaxed) {
            return None;
        }
        let record = (self.claimed.load(Ordering::Acquire)
            && !self.recorded.swap(true, Ordering::Relaxed))
        .then(|| {
            let mut name = [0; NAME];
            for (b, a) in name.iter_mut().zip(&self.thread) {
                *b = a.load(Ordering::Relaxed);
            }
            let len = self.thread_len.load(Ordering::Relaxed).min(NAME);
            let fatal = self.fatal.load(Ordering::Relaxed);
            (self.signal.load(Ordering::Relaxed), fatal, name, len)
        });
        Some(Request { seq, record })
    }

    /// The worker finished `request`: its handler may go on.
    pub(crate) fn complete(&self, request: &Request) {
        self.done.fetch_max(request.seq, Ordering::Release);
    }

    // ----------------------------------------------------- handler side

    /// Asks for a drain; async-signal-safe (atomics only). With `signal`,
    /// the first such request also asks for the final record naming it and
    /// `thread`. Returns the request's number for [`wait`](Self::wait).
    pub(crate) fn request(&self, signal: Option<(i32, bool)>, thread: &[u8]) -> u64 {
        if let Some((signo, fatal)) = signal {
            if !self.claimed.load(Ordering::Relaxed) && !self.claimed.swap(true, Ordering::Relaxed)
            {
                for (a, b) in self.thread.iter().zip(thread) {
                    a.store(*b, Ordering::Relaxed);
                }
                self.thread_len
                    .store(thread.len().min(NAME), Ordering::Relaxed);
                self.fatal.store(fatal, Ordering::Relaxed);
                self.signal.store(signo, Ordering::Relaxed);
                // Publishes the fields before `requested` below.
                self.claimed.store(true, Ordering::Release);
            }
        }
        let seq = self.requested.fetch_add(1, Ordering::AcqRel) + 1;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(worker) = self.worker.get() {
            // Best effort: on Linux std's parker is an atomic swap and a
            // futex wake, no lock, no allocation. It wakes the idle worker
            // (parked in `Worker::wait`); one pausing on its control channel
            // after a writer error sees the request within `poll_interval`.
            worker.unpark();
        }
        seq
    }

    /// Waits until the worker finished request `seq`, at most the timeout,
    /// in 1 ms sleeps (`nanosleep`, async-signal-safe). Returns whether it
    /// finished. Counts sleeps rather than reading a clock, so a stalled or
    /// crashed worker costs the timeout and no more.
    pub(crate) fn wait(&self, seq: u64) -> bool {
        let step = Duration::from_millis(1);
        let steps = self.timeout.as_millis().max(1);
        for _ in 0..steps {
            if self.done.load(Ordering::Acquire) >= seq {
                return true;
            }
            std::thread::sleep(step);
        }
        self.done.load(Ordering::Acquire) >= seq
    }

    /// The handlers' timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// What the final record says: the signal and the thread it hit. The
/// worker writes it in the sink's format.
#[derive(Debug)]
pub(crate) struct FinalRecord {
    /// Whether the signal kills the process (`ERROR`), or asks it to stop.
    pub(crate) fatal: bool,
    pub(crate) signal: &'static str,
    pub(crate) signo: i32,
    pub(crate) thread: String,
}

impl FinalRecord {
    /// `fatal signal SIGSEGV on thread 'main'`.
    pub(crate) fn message(&self) -> String {
        let what = if self.fatal {
            "fatal signal"
        } else {
            "terminating on"
        };
        format!("{what} {} on thread '{}'", self.signal, self.thread)
    }
}

impl Request {
    /// The final record, when this request carries one.
    pub(crate) fn final_record(&self) -> Option<FinalRecord> {
        let (signo, fatal, name, len) = self.record?;
        let thread = String::from_utf8_lossy(&name[..len]);
        Some(FinalRecord {
            fatal,
            signal: signal_name(signo),
            signo,
            thread: if thread.is_empty() {
                "<unknown>".into()
            } else {
                thread.into_owned()
            },
        })
    }
}

/// Runs `spawn` with the crash and termination signals blocked, so the
/// thread it starts (the sink's worker) never receives them when they are
/// sent to the process (`kill`): a handler running on the worker could not
/// drain, since the worker is what drains. Faults of the worker's own are
/// delivered to it whatever the mask, and found by
/// [`handler::on_worker`](handler::on_worker).
pub(crate) fn with_signals_blocked<R>(spawn: impl FnOnce() -> R) -> R {
    #[cfg(unix)]
    let _blocked = {
        let mut signals = handler::SIGNALS.to_vec();
        signals.extend_from_slice(&term::SIGNALS);
        sys::Blocked::now(&signals)
    };
    spawn()
}

/// `SIGSEGV`, ...; `signal N` for one without a name here.
pub(crate) fn signal_name(signo: i32) -> &'static str {
    #[cfg(unix)]
    if let Some(name) = signal_hook::low_level::signal_name(signo) {
        return name;
    }
    let _ = signo;
    "an unnamed signal"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_pending_until_completed_and_carries_one_record() {
        let drain = CrashDrain::new(Duration::from_millis(5));
        assert!(drain.pending().is_none());
        let seq = drain.request(Some((6, true)), b"worker-7");
        assert!(!drain.wait(seq), "nobody completes it: gives up");
        let r = drain.pending().expect("pending");
        let record = r.final_record().expect("the first request's record");
        assert_eq!(record.signal, "SIGABRT");
        assert_eq!(record.thread, "worker-7");
        assert!(record.fatal);
        assert_eq!(
            record.message(),
            "fatal signal SIGABRT on thread 'worker-7'"
        );
        drain.complete(&r);
        assert!(drain.wait(seq));
        assert!(drain.pending().is_none());
        // A second request drains again, without a second record.
        let seq = drain.request(Some((15, false)), b"main");
        let r = drain.pending().unwrap();
        assert!(r.final_record().is_none());
        drain.complete(&r);
        assert!(drain.wait(seq));
    }
}
