//! [`FlushGuard`]: flushes on demand, and drains the queue on drop within a
//! deadline, never longer.

use std::fmt;
use std::io;
use std::sync::atomic::{fence, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::status::write_line;
use super::worker::Control;
use super::Shared;
use crate::stats::{DropReason, Stats};

/// How long past the deadline the guard waits for the worker to stop: the
/// worker checks the deadline between writes, so a healthy one stops within
/// one write call of it.
const EXIT_GRACE: Duration = Duration::from_millis(50);

/// Owns the sink's worker thread: flushes on demand, and on drop drains the
/// queue within the flush deadline.
///
/// Dropping it never hangs, even when the writer is stuck forever: it waits
/// for the worker until the deadline (plus 50 ms for the worker to stop),
/// then gives up, counts what was not
/// written as [`DropReason::Shutdown`] and says on stderr how many records
/// were lost. Records submitted after it is dropped are dropped the same way.
///
/// Bind it to a named variable that lives as long as logging should (`let
/// _guard = ...`; `let _ = ...` drops it at once).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use layer_safe::Sink;
///
/// let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
/// let mut record = sink.buffer();
/// record.extend_from_slice(b"{}\n");
/// sink.submit(tracing_core::Level::INFO, record).unwrap();
/// drop(guard); // writes what is queued, within the deadline
/// assert_eq!(sink.stats().written, 1);
/// ```
#[must_use = "dropping the guard shuts the sink down: bind it, `let _guard = layer_safe::init();`"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    ctrl: Sender<Control>,
    /// Disconnects when the worker thread ends.
    done: Receiver<()>,
    /// The worker's thread; `None` when it has none (see `on_demand`).
    handle: Option<std::thread::JoinHandle<()>>,
    deadline: Duration,
    /// Helpers that stop with the sink (the metrics publisher). Fields drop
    /// after `drop` has drained the queue, so they see the final counts.
    attached: Vec<Box<dyn Send + Sync>>,
}

impl FlushGuard {
    pub(crate) fn new(
        shared: Arc<Shared>,
        ctrl: Sender<Control>,
        done: Receiver<()>,
        handle: Option<std::thread::JoinHandle<()>>,
        deadline: Duration,
    ) -> FlushGuard {
        FlushGuard {
            shared,
            ctrl,
            done,
            handle,
            deadline,
            attached: Vec::new(),
        }
    }

    /// Keeps `helper` until the guard is dropped, then drops it after the
    /// queue is drained.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn attach(&mut self, helper: Box<dyn Send + Sync>) {
        self.attached.push(helper);
    }

    /// Writes what is queued now and flushes the writer, waiting at most
    /// `timeout`. Returns `true` when all of it reached the writer and the
    /// writer flushed without error; `false` on a timeout or a writer error.
    /// Records dropped before the call do not make it `false`; see
    /// [`stats`](Self::stats) for those.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// assert!(guard.flush(Duration::from_secs(1)));
    /// ```
    pub fn flush(&self, timeout: Duration) -> bool {
        flush(&self.shared, &self.ctrl, timeout)
    }

    /// The worker's control channel, for tests that ask it from a writer.
    #[cfg(test)]
    pub(crate) fn control(&self) -> Sender<Control> {
        self.ctrl.clone()
    }

    /// The flush deadline at shutdown.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A handle that can ask for a flush from elsewhere (the panic hook),
    /// without owning the shutdown.
    pub(crate) fn flusher(&self) -> Flusher {
        Flusher(self.shared.clone(), self.ctrl.clone())
    }

    /// A snapshot of the counters (the same as [`Sink::stats`](super::Sink::stats)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let stats = guard.stats();
    /// assert_eq!(stats.submitted, stats.written + stats.dropped.total() + stats.in_flight);
    /// ```
    pub fn stats(&self) -> Stats {
        super::Sink::from_shared(self.shared.clone()).stats()
    }
}

/// Asks the worker for a flush; see [`FlushGuard::flush`].
#[derive(Clone)]
pub(crate) struct Flusher(Arc<Shared>, Sender<Control>);

impl Flusher {
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        flush(&self.0, &self.1, timeout)
    }
}

fn flush(shared: &Shared, ctrl: &Sender<Control>, timeout: Duration) -> bool {
    let deadline = deadline_after(timeout);
    let (tx, rx) = crossbeam_channel::bounded(1);
    if ctrl.send_deadline(Control::Flush(tx), deadline).is_err() {
        return false;
    }
    shared.wake_now();
    match shared.on_demand.get() {
        // Disconnected: the worker exited without answering.
        Some(worker) => worker
            .wait_for(shared, deadline, || match rx.try_recv() {
                Err(TryRecvError::Empty) => None,
                answer => Some(answer.unwrap_or(false)),
            })
            .unwrap_or(false),
        None => rx.recv_deadline(deadline).unwrap_or(false),
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let counters = &self.shared.counters;
        let lost_before = counters.dropped_count(DropReason::Shutdown);
        let deadline = deadline_after(self.deadline);
        let _ = self
            .ctrl
            .send_deadline(Control::Shutdown { deadline }, deadline);
        self.shared.wake_now();
        // The worker stops at the deadline; allow it a moment to say so.
        let until = deadline + EXIT_GRACE;
        let exited = match self.shared.on_demand.get() {
            Some(worker) => worker
                .wait_for(&self.shared, until, || match self.done.try_recv() {
                    Err(TryRecvError::Disconnected) => Some(()),
                    _ => None,
                })
                .is_some(),
            None => matches!(
                self.done.recv_deadline(until),
                Err(RecvTimeoutError::Disconnected)
            ),
        };
        if exited {
            if let Some(handle) = self.handle.take() {
                // Already finished: joining does not wait.
                let _ = handle.join();
            }
        }
        // Nothing reads the lanes from now on. A record pushed as this
        // closes them is counted by the next submit on its thread, or by
        // the next `stats()`, which drain closed lanes.
        self.shared.closed.store(true, SeqCst);
        fence(SeqCst);
        self.shared.drain_closed();
        // Nothing grows any more: the spare-segment thread ends here.
        self.shared.spares.stop();
        let lost = counters.dropped_count(DropReason::Shutdown) - lost_before;
        let stuck = if exited {
            0
        } else {
            counters.snapshot().in_flight
        };
        if lost > 0 || stuck > 0 {
            let stuck = Stuck(stuck);
            write_line(
                &mut io::stderr().lock(),
                format_args!(
                    "{lost} log records lost at shutdown: not written within the flush \
                     deadline ({:?}){stuck}",
                    self.deadline
                ),
            );
        }
    }
}

/// The tail of the shutdown message: records still in a stuck writer's
/// hands, if any.
struct Stuck(u64);

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(
                f,
                "; the writer is stuck with {n} more records in its hands"
            ),
        }
    }
}

impl fmt::Debug for FlushGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlushGuard")
            .field("deadline", &self.deadline)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// `timeout` from now; a timeout too long to represent waits "forever".
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}
