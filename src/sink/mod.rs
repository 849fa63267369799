//! The bounded async sink: callers hand records over to their own thread's
//! lane, one background thread formats and writes them. Its public items
//! are at `layer_safe::` (`Sink`, `FlushGuard`) and `layer_safe::sink::`
//! (the builder, its options, the writers): one path each, `src/sink.rs`'s
//! facade; its guarantees are documented there.
//!
//! # Code map
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Sink`], the producer handle, and the state it shares with the worker |
//! | `lane.rs` | one thread's lane: its ring, its counters, the budget its segments take |
//! | `config.rs` | [`SinkBuilder`], [`Overflow`], [`ConfigError`], the defaults |
//! | `submit.rs` | the caller's path: size limit, shedding, overflow policies |
//! | `worker.rs` | the worker thread, a small state machine: drain lanes, format, write, retry, report, shut down |
//! | `batch.rs` | the worker's batch, with exact accounting of partial writes |
//! | `flush_guard.rs` | [`FlushGuard`]: flush on demand, drain on drop within a deadline |
//! | `status.rs` | the rate-limited stderr status channel for internal errors |
//! | `report.rs` | the sink's own records (reports and the crash's final record in a layer's format; the stand-in for a record too long) |
//! | `summary.rs` | the in-band summary of events suppressed per call site (rate limit) |
//! | `make_writer.rs` | `MakeWriter` for `tracing_subscriber::fmt` |
//! | `writers/` | stdout/stderr, append file, rolling by time, rolling by size |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use layer_safe::Sink;
//!
//! let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
//! let mut record = sink.buffer();
//! record.extend_from_slice(b"{\"level\":\"INFO\",\"fields\":{\"message\":\"hi\"}}\n");
//! sink.submit(tracing_core::Level::INFO, record).unwrap();
//! assert!(guard.flush(Duration::from_secs(5)));
//! assert_eq!(sink.stats().written, 1);
//! ```

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;
use tracing_core::Level;

use crate::clock::{Clock, WallClock};
use crate::stats::{level_index, Counters, DropReason, Stats};

mod batch;
mod budget;
mod config;
mod config_error;
mod drain;
mod flush_guard;
mod lane;
mod make_writer;
mod on_demand;
mod reader;
mod report;
mod spares;
pub(crate) mod status;
mod submit;
mod summary;
mod worker;
pub mod writers;

pub use config::{Overflow, SinkBuilder};
pub use config_error::ConfigError;
pub use flush_guard::FlushGuard;
pub(crate) use flush_guard::Flusher;
pub(crate) use lane::FRAME;
use lane::{Budget, Lane, LaneLimits, LaneShared};
pub use make_writer::SinkWriter;

/// The kind of a record that is a finished line (from [`Sink::submit`]);
/// other kinds name the [`Render`] that formats the record.
pub(crate) const RAW: u8 = 0;

/// Formats captured records on the worker: implemented by the layer that
/// captures them, registered with [`Sink::register`]. The sink knows
/// nothing of what a payload holds.
pub(crate) trait Render: Send + Sync {
    /// Appends the line (ending in `\n`, at most `max_record` bytes) for
    /// `payload` to `out`. Returns whether a value was cut to fit.
    fn render(
        &self,
        payload: &[u8],
        clock: &WallClock,
        max_record: usize,
        out: &mut Vec<u8>,
    ) -> bool;

    /// Appends one of the sink's own records (see `report.rs`) of at most
    /// `max` bytes in this layer's format; `false`, with nothing appended,
    /// when it cannot be made to fit.
    fn own_record(
        &self,
        level: Level,
        now: std::time::SystemTime,
        fields: &[(&str, crate::encode::record::Value<'_>)],
        max: usize,
        out: &mut Vec<u8>,
    ) -> bool;

    /// Events this layer suppressed so far (its per-call-site rate
    /// limit): `each(site, metadata, total)` for every call site with any.
    /// Called on the worker when it stages a drop report; by default,
    /// none.
    fn suppressed(&self, each: &mut dyn FnMut(u32, &'static tracing_core::Metadata<'static>, u64)) {
        let _ = each;
    }
}

/// Configuration after validation, shared read-only.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) capacity: usize,
    pub(crate) byte_budget: usize,
    pub(crate) max_record: usize,
    pub(crate) overflow: Overflow,
    /// Records queued in one lane at or above which events below `WARN` are
    /// shed.
    pub(crate) high_water_records: usize,
    /// Bytes queued in one lane (of [`lane_max_bytes`]) above which events
    /// below `WARN` are shed.
    pub(crate) high_water_bytes: usize,
    /// Whether this sink writes the process's lint violations in-band. The
    /// store is process-wide, so only the sink `init` installs does; a sink
    /// built for a test must not carry another test's violations.
    pub(crate) report_violations: bool,
}

impl Limits {
    /// The bounds of each lane: a lane may grow to half the budget, so a
    /// burst from one thread leaves room for the others.
    #[inline]
    pub(crate) fn lane(&self) -> LaneLimits {
        LaneLimits {
            records: self.capacity as u64,
            max_bytes: lane_max_bytes(self.byte_budget, self.max_record),
        }
    }
}

/// How far one lane's ring may grow: half the budget, so a burst from one
/// thread leaves room for the others; all of it when half would not hold
/// one record of the maximum size.
pub(crate) fn lane_max_bytes(byte_budget: usize, max_record: usize) -> usize {
    let frame = max_record + lane::HEADER + 2;
    if byte_budget / 2 >= frame {
        byte_budget / 2
    } else {
        byte_budget
    }
}

/// Everything the producers, the worker and the guard share.
pub(crate) struct Shared {
    /// This thread's lane (made on its first record), padded: `ThreadLocal`
    /// keeps the threads' values side by side, and each is written per
    /// event by its own thread.
    lanes: ThreadLocal<CachePadded<RefCell<Lane>>>,
    /// Every lane's reading end, in the order they were made; the worker
    /// keeps a copy and looks again when `lane_count` moves.
    readers: Mutex<Vec<Arc<LaneShared>>>,
    lane_count: AtomicUsize,
    pub(crate) budget: Budget,
    pub(crate) counters: Arc<Counters>,
    renderers: RwLock<Vec<Arc<dyn Render>>>,
    pub(crate) clock: Clock,
    /// Where lanes ask for their next segment (see `spares.rs`).
    pub(crate) spares: spares::Spares,
    /// The worker's thread, to wake it from its idle park.
    pub(crate) worker: OnceLock<std::thread::Thread>,
    /// The worker, when it has no thread of its own (see `on_demand.rs`).
    pub(crate) on_demand: OnceLock<on_demand::OnDemand>,
    /// The worker parks: the next record wakes it.
    pub(crate) parked: AtomicBool,
    /// Set once the guard has finished shutting down: nothing will read the
    /// lanes any more, so what is submitted after is dropped as `Shutdown`.
    pub(crate) closed: AtomicBool,
    /// The one stderr line about events logged after the guard was dropped
    /// has been printed.
    pub(crate) warned_closed: AtomicBool,
    pub(crate) limits: Limits,
}

impl Shared {
    /// The sink's shared state; `spares`: with its spare-segment thread.
    pub(crate) fn new(limits: Limits, counters: Arc<Counters>, spares: bool) -> Arc<Shared> {
        let shared = Arc::new(Shared {
            spares: spares::Spares::default(),
            lanes: ThreadLocal::new(),
            readers: Mutex::new(Vec::new()),
            lane_count: AtomicUsize::new(0),
            budget: Budget::new(limits.byte_budget),
            counters,
            renderers: RwLock::new(Vec::new()),
            clock: Clock::new(),
            worker: OnceLock::new(),
            on_demand: OnceLock::new(),
            parked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            warned_closed: AtomicBool::new(false),
            limits,
        });
        if spares {
            shared.spares.start(Arc::downgrade(&shared));
        }
        shared
    }

    /// Runs `f` with this thread's lane; `None` when the thread is already
    /// inside `f` (a record submitted from a record's own formatting).
    #[inline]
    pub(crate) fn with_lane<R>(&self, f: impl FnOnce(&mut Lane) -> R) -> Option<R> {
        let cell = self
            .lanes
            .get_or(|| CachePadded::new(RefCell::new(self.new_lane())));
        let mut lane = cell.try_borrow_mut().ok()?;
        let me = lane::thread_serial();
        if lane.owner != me && !lane.adopt(me) {
            // The slot of a thread that exited, whose lane still holds that
            // thread's records: the worker writes them and then retires the
            // lane. This thread starts a lane of its own, so it is not shed
            // for the records of another.
            *lane = self.new_lane();
        }
        Some(f(&mut lane))
    }

    #[cold]
    fn new_lane(&self) -> Lane {
        let lane = Lane::new(&self.budget, self.limits.lane(), self.counters.lane());
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        readers.push(lane.shared.clone());
        self.lane_count.fetch_add(1, Release);
        lane
    }

    /// Every lane's reading end, when lanes were made or retired since the
    /// count `known`.
    pub(crate) fn readers_since(&self, known: usize) -> Option<(usize, Vec<Arc<LaneShared>>)> {
        if self.lane_count.load(Acquire) == known {
            return None;
        }
        let readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        Some((self.lane_count.load(Acquire), readers.clone()))
    }

    /// Retires a lane whose thread moved on and which is read dry: its
    /// segment goes back to the budget, its counts into the sink's.
    pub(crate) fn retire(&self, lane: &Arc<LaneShared>) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(at) = readers.iter().position(|r| Arc::ptr_eq(r, lane)) else {
            return;
        };
        readers.swap_remove(at);
        lane.reader().release(&self.budget);
        self.counters.retire(&lane.counters);
        // A change the worker notices (made and retired lanes both count).
        self.lane_count.fetch_add(1, Release);
    }

    /// Every lane's reading end now.
    pub(crate) fn readers(&self) -> Vec<Arc<LaneShared>> {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The renderer of records of `kind`.
    pub(crate) fn renderer(&self, kind: u8) -> Option<Arc<dyn Render>> {
        let r = self.renderers.read().unwrap_or_else(|p| p.into_inner());
        r.get(usize::from(kind).checked_sub(1)?).cloned()
    }

    /// The renderer of the layer that came to this sink last: the format of
    /// the sink's own records (see `report.rs`). A layer that is dropped
    /// stays registered, so the newest is the one most likely still in use.
    pub(crate) fn newest_renderer(&self) -> Option<Arc<dyn Render>> {
        let r = self.renderers.read().unwrap_or_else(|p| p.into_inner());
        r.last().cloned()
    }

    /// Every renderer, with the kind of its records (cold: once per drop
    /// report).
    pub(crate) fn all_renderers(&self) -> Vec<(u8, Arc<dyn Render>)> {
        let r = self.renderers.read().unwrap_or_else(|p| p.into_inner());
        (1..=u8::MAX).zip(r.iter().cloned()).collect()
    }

    /// Wakes the worker if it parked.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.parked.load(Relaxed) {
            self.wake_now();
        }
    }

    /// Runs a worker that has no thread of its own here, unless another
    /// thread is running it: whether it ran.
    #[cold]
    pub(crate) fn run_worker_here(&self) -> bool {
        self.on_demand.get().is_some_and(|d| d.try_run(self))
    }

    #[cold]
    pub(crate) fn wake_now(&self) {
        self.parked.store(false, Relaxed);
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }

    /// Drops what the lanes still hold once nothing reads them, counting it
    /// as `Shutdown`.
    pub(crate) fn drain_closed(&self) {
        let mut scratch = Vec::new();
        for lane in self.readers() {
            let mut reader = lane.reader();
            let mut n = 0;
            loop {
                scratch.clear();
                if reader.pop_into(&self.budget, &mut scratch).is_none() {
                    break;
                }
                self.counters
                    .dropped(DropReason::Shutdown, record_level(&scratch));
                n += 1;
            }
            lane.add_popped(&reader, n);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The spare-segment thread holds the sink weakly: let it see so.
        self.spares.release();
    }
}

/// The level a record's payload starts with.
#[inline]
pub(crate) fn record_level(payload: &[u8]) -> Level {
    match payload.first() {
        Some(0) => Level::TRACE,
        Some(1) => Level::DEBUG,
        Some(2) => Level::INFO,
        Some(3) => Level::WARN,
        _ => Level::ERROR,
    }
}

/// The byte a payload starts with for `level`.
#[inline]
pub(crate) fn level_byte(level: Level) -> u8 {
    level_index(level) as u8
}

/// The producer side of the sink: cheap to clone, shared by every thread.
///
/// Made by [`Sink::builder`], together with the [`FlushGuard`] that owns the
/// worker thread. Callers take a buffer with [`Sink::buffer`], encode one
/// record into it (one line ending in `\n`) and hand it over with
/// [`Sink::submit`]. It also implements `tracing_subscriber`'s `MakeWriter`,
/// so a `fmt` layer can write through it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use layer_safe::Sink;
/// use tracing_core::Level;
///
/// let (sink, guard) = Sink::builder().writer(std::io::sink()).build()?;
/// let producer = sink.clone(); // clones share one sink
/// std::thread::spawn(move || {
///     let mut record = producer.buffer();
///     record.extend_from_slice(b"{\"fields\":{\"message\":\"hello\"}}\n");
///     producer.submit(Level::INFO, record).unwrap();
/// })
/// .join()
/// .unwrap();
/// drop(guard); // drains within the flush deadline
/// let stats = sink.stats();
/// assert_eq!(stats.submitted, stats.written + stats.dropped.total() + stats.in_flight);
/// # Ok::<(), layer_safe::sink::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Sink {
    shared: Arc<Shared>,
}

impl Sink {
    /// Starts configuring a sink; see [`SinkBuilder`] for the settings and
    /// their defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::Sink;
    ///
    /// let (sink, _guard) = Sink::builder()
    ///     .capacity(1024)
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .expect("valid configuration");
    /// assert_eq!(sink.max_record(), 64 * 1024);
    /// ```
    pub fn builder() -> SinkBuilder {
        SinkBuilder::default()
    }

    /// An empty buffer for one record: the one this thread last submitted,
    /// emptied, so the steady state allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let buf = sink.buffer();
    /// assert!(buf.is_empty());
    /// ```
    #[inline]
    pub fn buffer(&self) -> Vec<u8> {
        self.shared
            .with_lane(|lane| std::mem::take(&mut lane.spare))
            .unwrap_or_default()
    }

    /// The largest record the sink takes whole, in bytes (the trailing `\n`
    /// included). Encoders truncate fields to stay under it; a longer record
    /// is cut by the sink with a visible marker.
    ///
    /// # Examples
    ///
    /// ```
    /// # use layer_safe::Sink;
    /// let (sink, _guard) = Sink::builder().max_record(4096).writer(std::io::sink()).build().unwrap();
    /// assert_eq!(sink.max_record(), 4096);
    /// ```
    #[inline]
    pub fn max_record(&self) -> usize {
        self.shared.limits.max_record
    }

    /// A snapshot of the counters this sink shares with its guard (and with a
    /// [`Guarded`](crate::Guarded) subscriber, when they were built together).
    ///
    /// # Examples
    ///
    /// ```
    /// # let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let stats = sink.stats();
    /// assert_eq!(stats.submitted, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        if self.shared.closed.load(Acquire) {
            // A record that slipped in as the guard closed is lost: count it.
            self.shared.drain_closed();
        }
        self.shared.counters.snapshot()
    }

    /// The largest captured record a lane takes whole.
    pub(crate) fn max_capture(&self) -> usize {
        let l = &self.shared.limits;
        (l.lane().max_bytes - lane::HEADER - 1).min(l.max_record.saturating_mul(4))
    }

    /// A handle to this sink's counters, to hand to the
    /// [`Guarded`](crate::Guarded) subscriber that wraps it
    /// ([`Guarded::with_stats`](crate::Guarded::with_stats)), so that the
    /// guard's recursion drops are counted, and reported in-band, with the
    /// sink's.
    ///
    /// # Examples
    ///
    /// ```
    /// # let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let handle = sink.stats_handle();
    /// assert_eq!(handle.snapshot(), sink.stats());
    /// ```
    pub fn stats_handle(&self) -> crate::StatsHandle {
        crate::StatsHandle(self.shared.counters.clone())
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.shared.counters
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Registers the renderer of a layer's records; returns their kind, or
    /// `None` when 255 are registered already.
    pub(crate) fn register(&self, render: Arc<dyn Render>) -> Option<u8> {
        let mut r = self
            .shared
            .renderers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let kind = u8::try_from(r.len() + 1).ok()?;
        r.push(render);
        Some(kind)
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Sink {
        Sink { shared }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("lanes", &self.shared.readers().len())
            .field("budget_used", &self.shared.budget.used())
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buffers_are_reused() {
        let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
        let mut b = sink.buffer();
        b.extend_from_slice(b"x\n");
        let ptr = b.as_ptr();
        sink.submit(Level::INFO, b).unwrap();
        assert!(guard.flush(Duration::from_secs(5)));
        let again = sink.buffer();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the thread's buffer came back");
    }

    #[test]
    fn short_lived_threads_reuse_lanes() {
        let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
        for i in 0..200 {
            let s = sink.clone();
            std::thread::spawn(move || {
                let mut b = s.buffer();
                b.extend_from_slice(format!("{i}\n").as_bytes());
                s.submit(Level::INFO, b).unwrap();
            })
            .join()
            .unwrap();
        }
        assert!(guard.flush(Duration::from_secs(5)));
        // One thread at a time: a lane or two, not 200.
        assert!(sink.shared.readers().len() <= 2);
        assert_eq!(sink.stats().written, 200);
    }
}
