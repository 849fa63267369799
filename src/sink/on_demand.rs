//! A worker with no thread of its own, for the fuzz targets
//! ([`SinkBuilder::on_demand`](super::SinkBuilder::on_demand)): it runs on
//! whichever thread waits for it (a flush, the guard's drop, a caller
//! blocked on a full queue) until it would wait, and then returns. A fuzz
//! target builds a sink per input, and every hand-off to a sink's own
//! threads (starting them, waking the parked worker for a record or a
//! flush, joining them at the end) was a cross-core wake: most of an
//! input's time. The worker's turns, states and accounting are those of the
//! threaded worker; only where, and when, it runs differs.

use std::sync::{Mutex, TryLockError};
use std::time::Instant;

use crossbeam_channel::Sender;

use super::worker::Worker;
use super::Shared;

/// The worker, for whichever thread runs it next.
pub(crate) struct OnDemand {
    /// With the sender whose end tells the guard it has exited. `None` once
    /// it has: its `Arc<Shared>` goes with it (no cycle left).
    worker: Mutex<Option<(Worker, Sender<()>)>>,
}

impl OnDemand {
    pub(crate) fn new(worker: Worker, done: Sender<()>) -> OnDemand {
        OnDemand {
            worker: Mutex::new(Some((worker, done))),
        }
    }

    /// Makes the spare segments lanes asked for, then runs the worker until
    /// it would wait; `false` if another thread is running it (or this one
    /// is, further up its stack: a writer that flushes).
    pub(crate) fn try_run(&self, shared: &Shared) -> bool {
        let mut slot = match self.worker.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => return false,
            // Its turns contain every panic: a poisoned lock is one that
            // escaped while it was being dropped. Nothing is left to run.
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        shared.spares.make_asked(shared);
        if let Some((worker, _)) = slot.as_mut() {
            if worker.drive() {
                *slot = None;
            }
        }
        true
    }

    /// Runs the worker (whenever no other thread does) until `answer` gives
    /// one or `deadline` passes. A run ends with every request it took
    /// answered, so one run is enough unless another thread held it.
    pub(crate) fn wait_for<T>(
        &self,
        shared: &Shared,
        deadline: Instant,
        mut answer: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        loop {
            if let Some(a) = answer() {
                return Some(a);
            }
            if Instant::now() >= deadline {
                return None;
            }
            if !self.try_run(shared) {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    use std::thread::ThreadId;
    use std::time::Duration;

    use tracing_core::Level;

    use crate::sink::{Overflow, SinkBuilder};
    use crate::testing::Output;
    use crate::{FlushGuard, Sink};

    /// Keeps what it takes, and which thread called it, whether that was in
    /// the logging path, and what a flush from inside it answered.
    #[derive(Clone, Default)]
    struct Seen {
        out: Output,
        calls: Arc<Mutex<Vec<(ThreadId, bool)>>>,
        /// Flushed from inside `write`, when set.
        guard: Arc<OnceLock<Weak<FlushGuard>>>,
        inner_flush: Arc<Mutex<Option<bool>>>,
        dropped: Arc<Mutex<bool>>,
    }

    struct SeenWriter(Seen);

    impl Write for SeenWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let s = &self.0;
            s.calls
                .lock()
                .unwrap()
                .push((std::thread::current().id(), crate::in_logging_path()));
            if let Some(g) = s.guard.get().and_then(Weak::upgrade) {
                *s.inner_flush.lock().unwrap() = Some(g.flush(Duration::from_millis(20)));
            }
            s.out.clone().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for SeenWriter {
        fn drop(&mut self) {
            *self.0.dropped.lock().unwrap() = true;
        }
    }

    fn on_demand(seen: &Seen) -> SinkBuilder {
        Sink::builder()
            .writer(SeenWriter(seen.clone()))
            .virtual_time(true)
            .on_demand(true)
    }

    fn submit(sink: &Sink, line: &str) -> Result<(), crate::DropReason> {
        let mut record = sink.buffer();
        record.extend_from_slice(line.as_bytes());
        sink.submit(Level::INFO, record)
    }

    #[test]
    fn records_wait_until_a_flush_runs_the_worker_on_its_thread() {
        let seen = Seen::default();
        let (sink, guard) = on_demand(&seen).build().unwrap();
        for n in 0..3 {
            submit(&sink, &format!("{{\"n\":{n}}}\n")).unwrap();
        }
        assert_eq!((sink.stats().in_flight, sink.stats().written), (3, 0));
        assert!(guard.flush(Duration::from_secs(5)));
        assert_eq!(sink.stats().written, 3);
        assert_eq!(seen.out.lines().len(), 3);
        // On this thread, in the logging path while it wrote, and out of
        // it again once the flush returned.
        let me = std::thread::current().id();
        assert!(seen.calls.lock().unwrap().iter().all(|c| *c == (me, true)));
        assert!(!crate::in_logging_path());
    }

    #[test]
    fn the_guard_runs_the_worker_to_its_end() {
        let seen = Seen::default();
        let (sink, guard) = on_demand(&seen).build().unwrap();
        submit(&sink, "{\"last\":1}\n").unwrap();
        drop(guard);
        let stats = sink.stats();
        assert_eq!((stats.written, stats.in_flight), (1, 0));
        // The worker is gone, and with it the writer.
        assert!(*seen.dropped.lock().unwrap());
    }

    #[test]
    fn a_blocked_submit_makes_room_itself() {
        let seen = Seen::default();
        let (sink, _guard) = on_demand(&seen)
            .capacity(1)
            .high_water_mark(100)
            .overflow(Overflow::Block {
                timeout: Duration::from_secs(30),
            })
            .build()
            .unwrap();
        for n in 0..4 {
            submit(&sink, &format!("{{\"n\":{n}}}\n")).unwrap();
        }
        // The first three were written to make room for the next.
        assert_eq!(sink.stats().written, 3);
        assert_eq!(sink.stats().dropped.total(), 0);
    }

    #[test]
    fn a_writer_that_flushes_is_answered_false_not_deadlocked() {
        let seen = Seen::default();
        let (sink, guard) = on_demand(&seen).build().unwrap();
        let guard = Arc::new(guard);
        let _ = seen.guard.set(Arc::downgrade(&guard));
        submit(&sink, "{}\n").unwrap();
        assert!(guard.flush(Duration::from_secs(5)));
        // The worker was already running on this thread: the inner flush
        // could not run it, and timed out.
        assert_eq!(*seen.inner_flush.lock().unwrap(), Some(false));
        assert_eq!(sink.stats().written, 1);
    }
}
