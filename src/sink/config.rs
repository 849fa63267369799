//! [`SinkBuilder`]: the settings, their defaults and their validation.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use super::config_error::ConfigError;
use super::flush_guard::FlushGuard;
use super::on_demand::OnDemand;
use super::worker::Worker;
use super::{writers, Limits, Shared, Sink};
use crate::crash::CrashDrain;

/// 1 Mi records per thread: in practice the byte budget binds first (a
/// thread's lane may take half of it, some 200 000 standard events), so a
/// burst of a few hundred thousand events from one thread is absorbed.
/// Nothing is allocated for records that are not queued.
const DEFAULT_CAPACITY: usize = 1024 * 1024;
/// 64 MiB of queued records: a full queue of 1 KiB records.
const DEFAULT_BYTE_BUDGET: usize = 64 * 1024 * 1024;
/// 64 KiB per record: far above any sane log line, small enough that one
/// runaway `Debug` cannot eat the budget.
const DEFAULT_MAX_RECORD: usize = 64 * 1024;
/// Shed below `WARN` above 80% full, as Logback's `AsyncAppender` does.
const DEFAULT_HIGH_WATER_PERCENT: u8 = 80;
/// Logback's `maxFlushTime`: long enough to drain a healthy writer, short
/// enough that nobody waits on a dead one.
const DEFAULT_FLUSH_DEADLINE: Duration = Duration::from_secs(1);
/// While busy, a buffering writer is flushed at least this often.
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The largest capacity accepted: the channel allocates its slots up front.
pub(super) const MAX_CAPACITY: usize = 1 << 24;
/// The smallest maximum record size accepted: room for the truncation marker.
pub(super) const MIN_MAX_RECORD: usize = 64;

/// What [`Sink::submit`] does when the queue is full (or the byte budget
/// spent).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use layer_safe::sink::Overflow;
///
/// // An audit log: wait up to 50 ms for room, then drop (and count).
/// let (sink, guard) = layer_safe::Sink::builder()
///     .overflow(Overflow::Block { timeout: Duration::from_millis(50) })
///     .writer(std::io::sink())
///     .build()
///     .unwrap();
/// assert!(sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).is_ok());
/// assert!(guard.flush(Duration::from_secs(5)));
/// assert_eq!(guard.stats().written, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the record being submitted, counted as `QueueFull` (or
    /// `ByteBudget`). The default: the caller never waits.
    #[default]
    DropNewest,
    /// Make room by dropping the oldest queued records (counted the same way),
    /// so the log keeps the most recent events. The caller never waits.
    DropOldest,
    /// Wait up to `timeout` for room, then drop and count. Opt-in, for logs
    /// that matter more than the caller's latency (audit logs).
    Block {
        /// How long one submit may wait.
        timeout: Duration,
    },
}

/// Configures and starts a [`Sink`]; made by [`Sink::builder`].
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | [`capacity`](Self::capacity) | 1 Mi records per thread | the byte budget binds first; a limit on records in case it does not |
/// | [`byte_budget`](Self::byte_budget) | 64 MiB | the memory bound, whatever the number of threads; one thread's lane takes at most half |
/// | [`max_record`](Self::max_record) | 64 KiB | no sane line is longer; one runaway `Debug` cannot eat the budget |
/// | [`overflow`](Self::overflow) | [`Overflow::DropNewest`] | the caller never waits |
/// | [`high_water_mark`](Self::high_water_mark) | 80% | shed below `WARN` above it, as Logback does |
/// | [`flush_deadline`](Self::flush_deadline) | 1 s | Logback's `maxFlushTime` |
/// | [`flush_interval`](Self::flush_interval) | 100 ms | bounds how long a busy, buffering writer holds lines |
/// | [`writer`](Self::writer) | stdout | |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use layer_safe::{Sink, sink::Overflow};
///
/// let (sink, guard) = Sink::builder()
///     .capacity(8192)
///     .byte_budget(16 << 20)
///     .max_record(16 << 10)
///     .overflow(Overflow::DropOldest)
///     .high_water_mark(90)
///     .flush_deadline(Duration::from_millis(500))
///     .flush_interval(Duration::from_millis(50))
///     .writer(std::io::sink())
///     .build()?;
/// assert_eq!(sink.max_record(), 16 << 10);
/// assert!(sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).is_ok());
/// assert!(guard.flush(Duration::from_secs(5)));
/// # Ok::<(), layer_safe::sink::ConfigError>(())
/// ```
pub struct SinkBuilder {
    capacity: usize,
    byte_budget: usize,
    max_record: usize,
    overflow: Overflow,
    high_water_percent: u8,
    flush_deadline: Duration,
    flush_interval: Duration,
    writer: Option<Box<dyn Write + Send>>,
    report_violations: bool,
    /// The crash handlers' drain request, handed to the worker.
    crash: Option<Arc<CrashDrain>>,
    /// The worker's own sleeps take no time (fuzz targets).
    virtual_time: bool,
    /// Where the worker and the spare-segment thread run (fuzz targets).
    on_demand: bool,
}

impl Default for SinkBuilder {
    fn default() -> Self {
        SinkBuilder {
            capacity: DEFAULT_CAPACITY,
            byte_budget: DEFAULT_BYTE_BUDGET,
            max_record: DEFAULT_MAX_RECORD,
            overflow: Overflow::DropNewest,
            high_water_percent: DEFAULT_HIGH_WATER_PERCENT,
            flush_deadline: DEFAULT_FLUSH_DEADLINE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            writer: None,
            report_violations: false,
            crash: None,
            virtual_time: false,
            on_demand: false,
        }
    }
}

impl fmt::Debug for SinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkBuilder")
            .field("capacity", &self.capacity)
            .field("byte_budget", &self.byte_budget)
            .field("max_record", &self.max_record)
            .field("overflow", &self.overflow)
            .field("high_water_percent", &self.high_water_percent)
            .field("flush_deadline", &self.flush_deadline)
            .field("flush_interval", &self.flush_interval)
            .field("writer", &self.writer.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl SinkBuilder {
    /// How many records each thread may have queued (default 1 Mi); the
    /// byte budget usually binds first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// use tracing_core::Level;
    /// let (sink, guard) = layer_safe::Sink::builder().capacity(2).writer(held).build().unwrap();
    /// let submit = || sink.submit(Level::WARN, b"{}\n".to_vec());
    /// submit().unwrap();
    /// entered.recv().unwrap(); // the worker is writing that one, and waits
    /// let queued = (0..4).filter(|_| submit().is_ok()).count();
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(queued, 2); // two fit the queue, two do not
    /// assert_eq!(guard.stats().dropped.queue_full, 2);
    /// ```
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = records;
        self
    }

    /// How many bytes of records the queue holds at most (default 64 MiB).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// use tracing_core::Level;
    /// let (sink, guard) = layer_safe::Sink::builder()
    ///     .max_record(1024)
    ///     .byte_budget(8192) // one thread's queue takes at most half: 4 KiB
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// let record = || [vec![b'x'; 999], vec![b'\n']].concat(); // 1000 bytes
    /// sink.submit(Level::WARN, record()).unwrap();
    /// entered.recv().unwrap(); // the writer is held: the queue fills
    /// let queued = (0..10).filter(|_| sink.submit(Level::WARN, record()).is_ok()).count();
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!((queued, guard.stats().dropped.byte_budget), (4, 6));
    /// ```
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.byte_budget = bytes;
        self
    }

    /// The largest record, in bytes, trailing `\n` included (default 64 KiB).
    /// A longer one is cut with a visible marker, or dropped as `Oversize`
    /// when even the marker would not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (sink, guard) = layer_safe::Sink::builder().max_record(4096).writer(out.clone()).build().unwrap();
    /// assert_eq!(sink.max_record(), 4096);
    /// let long = format!("{{\"message\":\"{}\"}}\n", "x".repeat(10_000));
    /// sink.submit(tracing_core::Level::INFO, long.into_bytes()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().truncated, 1);
    /// assert!(out.text().len() <= 4096); // cut, with a marker
    /// ```
    pub fn max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes;
        self
    }

    /// What to do when the queue is full (default [`Overflow::DropNewest`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// use layer_safe::sink::Overflow;
    /// use tracing_core::Level;
    /// let (sink, guard) = layer_safe::Sink::builder()
    ///     .capacity(2)
    ///     .overflow(Overflow::DropOldest)
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// let submit = || sink.submit(Level::WARN, b"{}\n".to_vec());
    /// submit().unwrap();
    /// entered.recv().unwrap(); // the writer is held: the queue fills
    /// assert!((0..3).all(|_| submit().is_ok())); // the newest always gets in
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().dropped.queue_full, 1); // the oldest made room
    /// ```
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// Above this percentage of the capacity or of the byte budget, events
    /// below `WARN` are dropped as `Shed` so that warnings and errors still
    /// get through (default 80; 100 turns shedding off).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// use tracing_core::Level;
    /// let (sink, guard) = layer_safe::Sink::builder()
    ///     .capacity(10)
    ///     .high_water_mark(50)
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// let submit = |level| sink.submit(level, b"{}\n".to_vec());
    /// submit(Level::INFO).unwrap();
    /// entered.recv().unwrap(); // the writer is held: the queue fills
    /// let infos = (0..8).filter(|_| submit(Level::INFO).is_ok()).count();
    /// assert!(infos < 8);
    /// assert!(submit(Level::WARN).is_ok()); // above the mark, warnings still get in
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().dropped.shed, 8 - infos as u64);
    /// ```
    pub fn high_water_mark(mut self, percent: u8) -> Self {
        self.high_water_percent = percent;
        self
    }

    /// How long dropping the [`FlushGuard`] waits for the queue to drain
    /// (default 1 s). Records still unwritten then are counted as lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// use std::time::Duration;
    /// let (sink, guard) = layer_safe::Sink::builder()
    ///     .flush_deadline(Duration::from_millis(100))
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).unwrap();
    /// entered.recv().unwrap(); // the writer is stuck on that record
    /// sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).unwrap();
    /// drop(guard); // gives up after 100 ms
    /// let stats = sink.stats();
    /// assert_eq!(stats.written, 0);
    /// assert!(stats.dropped.shutdown >= 1);
    /// # drop(go);
    /// ```
    pub fn flush_deadline(mut self, deadline: Duration) -> Self {
        self.flush_deadline = deadline;
        self
    }

    /// While records keep coming, the writer is flushed at least this often
    /// (default 100 ms); it is always flushed when the queue empties.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use layer_safe::{sink::ConfigError, Sink};
    /// let builder = Sink::builder().writer(std::io::sink());
    /// assert!(builder.flush_interval(Duration::from_millis(20)).build().is_ok());
    ///
    /// let zero = Sink::builder().flush_interval(Duration::ZERO).build();
    /// assert!(matches!(zero, Err(ConfigError::FlushInterval { .. })));
    /// ```
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Where records go (default stdout). Any `io::Write + Send`; see
    /// [`writers`](super::writers) for files, rolling files and the console.
    /// The worker writes whole batches of lines, so the writer needs no
    /// buffering of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let dir = tempfile::tempdir()?;
    /// let file = layer_safe::sink::writers::append_file(dir.path().join("app.log"))?;
    /// let (sink, guard) = layer_safe::Sink::builder().writer(file).build()?;
    /// sink.submit(tracing_core::Level::INFO, b"{\"message\":\"on disk\"}\n".to_vec()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let text = std::fs::read_to_string(dir.path().join("app.log"))?;
    /// assert_eq!(text, "{\"message\":\"on disk\"}\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Writes the process's lint violations in-band (see `Limits`).
    pub(crate) fn report_violations(mut self, on: bool) -> Self {
        self.report_violations = on;
        self
    }

    /// Hands the worker the crash handlers' drain request.
    pub(crate) fn crash_drain(mut self, drain: Option<Arc<CrashDrain>>) -> Self {
        self.crash = drain;
        self
    }

    fn limits(&self) -> Result<Limits, ConfigError> {
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(ConfigError::Capacity { got: self.capacity });
        }
        if self.max_record < MIN_MAX_RECORD {
            return Err(ConfigError::MaxRecord {
                got: self.max_record,
            });
        }
        if self.byte_budget < self.max_record {
            return Err(ConfigError::ByteBudget {
                got: self.byte_budget,
                max_record: self.max_record,
            });
        }
        if self.high_water_percent == 0 || self.high_water_percent > 100 {
            return Err(ConfigError::HighWaterMark {
                got: self.high_water_percent,
            });
        }
        if self.flush_interval.is_zero() {
            return Err(ConfigError::FlushInterval {
                got: self.flush_interval,
            });
        }
        let (high_water_records, high_water_bytes) = if self.high_water_percent == 100 {
            (usize::MAX, usize::MAX)
        } else {
            let p = self.high_water_percent as usize;
            // Round up, so a mark never sits at zero.
            let records = (self.capacity * p).div_ceil(100);
            let lane = super::lane_max_bytes(self.byte_budget, self.max_record);
            let bytes = (lane / 100).saturating_mul(p).max(1);
            (records, bytes)
        };
        Ok(Limits {
            capacity: self.capacity,
            byte_budget: self.byte_budget,
            max_record: self.max_record,
            overflow: self.overflow,
            high_water_records,
            high_water_bytes,
            report_violations: self.report_violations,
        })
    }

    /// Not for production: the worker runs on a virtual clock in which its
    /// back-off, naps and pauses pass at once (it still parks until woken),
    /// so a fuzz target's writer failures cost microseconds, not the 10 ms
    /// and more of real back-off. Behaviour and accounting are those of the
    /// real clock; only the waits are skipped.
    #[doc(hidden)]
    pub fn virtual_time(mut self, on: bool) -> Self {
        self.virtual_time = on;
        self
    }

    /// Not for production: the sink starts no thread. Its worker runs on
    /// whichever thread waits for it (a flush, the guard's drop, a caller
    /// blocked on a full queue) until it would wait; the spare segments
    /// lanes ask for are made as it starts. A fuzz target builds a sink per
    /// input, and the hand-offs to a sink's own threads were most of an
    /// input's time. The worker's turns, states and accounting are the same;
    /// records wait in the queue until something runs it. No crash drain:
    /// a crash handler finds no worker to drain for.
    #[doc(hidden)]
    pub fn on_demand(mut self, on: bool) -> Self {
        self.on_demand = on;
        self
    }

    /// Validates the settings and starts the worker thread. Returns the
    /// producer handle and the guard that flushes on drop: keep the guard
    /// alive for as long as events should be written (bind it to a named
    /// variable, not `_`).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] names the setting out of range, or says the worker
    /// thread could not be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (sink, guard) = layer_safe::Sink::builder().writer(std::io::sink()).build()?;
    /// sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// # Ok::<(), layer_safe::sink::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<(Sink, FlushGuard), ConfigError> {
        let limits = self.limits()?;
        let shared = Shared::new(limits, Arc::default(), !self.on_demand);
        let writer = self.writer.unwrap_or_else(|| Box::new(writers::stdout()));
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded(16);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let crash = self.crash.filter(|_| !self.on_demand);
        let worker = Worker::new(
            shared.clone(),
            ctrl_rx,
            writer,
            self.flush_interval,
            self.flush_deadline,
        )
        .with_crash_drain(crash.clone())
        .with_virtual_time(self.virtual_time);
        let handle = if self.on_demand {
            let _ = shared.on_demand.set(OnDemand::new(worker, done_tx));
            None
        } else {
            // Signals sent to the process go to other threads, whose
            // handlers the worker can drain for.
            let handle = crate::crash::with_signals_blocked(|| {
                std::thread::Builder::new()
                    .name("layer-safe-sink".into())
                    .spawn(move || {
                        // Dropped when the thread ends, however it ends:
                        // tells the guard the worker is gone.
                        let _done = done_tx;
                        worker.run();
                    })
            })
            .map_err(ConfigError::Spawn)?;
            let _ = shared.worker.set(handle.thread().clone());
            if let Some(crash) = &crash {
                crash.set_worker(handle.thread().clone());
            }
            Some(handle)
        };
        let guard = FlushGuard::new(
            shared.clone(),
            ctrl_tx,
            done_rx,
            handle,
            self.flush_deadline,
        );
        Ok((Sink::from_shared(shared), guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: SinkBuilder) -> ConfigError {
        b.limits().unwrap_err()
    }

    #[test]
    fn validation_names_the_bad_value() {
        let b = || SinkBuilder::default();
        assert!(err(b().capacity(0)).to_string().contains("got 0"));
        assert!(err(b().capacity(MAX_CAPACITY + 1))
            .to_string()
            .contains("capacity"));
        assert!(err(b().max_record(10)).to_string().contains("got 10"));
        let e = err(b().max_record(1000).byte_budget(999)).to_string();
        assert!(e.contains("1000") && e.contains("999"), "{e}");
        assert!(err(b().high_water_mark(0)).to_string().contains("got 0"));
        assert!(err(b().high_water_mark(101))
            .to_string()
            .contains("got 101"));
        assert!(err(b().flush_interval(Duration::ZERO))
            .to_string()
            .contains("flush_interval"));
    }

    #[test]
    fn high_water_marks() {
        let l = SinkBuilder::default()
            .capacity(10)
            .byte_budget(1000)
            .max_record(100);
        let l = l.high_water_mark(80).limits().unwrap();
        // A lane may take half the budget: 80% of 500 bytes.
        assert_eq!((l.high_water_records, l.high_water_bytes), (8, 400));
        let l = SinkBuilder::default()
            .capacity(1)
            .high_water_mark(1)
            .limits()
            .unwrap();
        assert_eq!(l.high_water_records, 1);
        let l = SinkBuilder::default()
            .high_water_mark(100)
            .limits()
            .unwrap();
        assert_eq!(l.high_water_records, usize::MAX);
    }
}
