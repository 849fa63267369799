//! The bounded async sink: callers hand over encoded records, one background
//! thread writes them.
//!
//! # Guarantees
//!
//! - **The caller never blocks** (with the default [`Overflow::DropNewest`]):
//!   [`Sink::submit`] takes no lock, makes no syscall and, with buffers from
//!   [`Sink::buffer`], allocates nothing in the steady state.
//! - **Memory is bounded** three ways: a record count ([`SinkBuilder::capacity`]),
//!   a budget for the bytes queued ([`SinkBuilder::byte_budget`]) and a maximum
//!   record size ([`SinkBuilder::max_record`]). A record count alone is no
//!   bound: 128 000 records of 1 MiB each are 125 GiB.
//! - **Every record is accounted for**: it is written, dropped with a
//!   [`DropReason`], or still in flight, and
//!   `submitted == written + dropped.total() + in_flight` holds at every
//!   [`Stats`] snapshot.
//! - **Drops are reported in the log itself**: after drops, the worker writes
//!   one record such as
//!   `{"timestamp":"…","level":"WARN","fields":{"message":"events dropped","queue_full":1234,"shed":56},"target":"layer_safe"}`
//!   as soon as it can (at most one a second while drops go on).
//! - **Writer failures stay contained**: errors and panics are counted,
//!   reported on stderr (rate-limited), retried with back-off; the host never
//!   sees them.
//! - **Shutdown never hangs**: [`FlushGuard`] drains within its deadline and
//!   says on stderr how many records it could not write.
//!
//! # Code map
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Sink`], the producer handle, and the state it shares with the worker |
//! | `config.rs` | [`SinkBuilder`], [`Overflow`], [`ConfigError`], the defaults |
//! | `submit.rs` | the caller's path: size limit, shedding, byte budget, overflow policies |
//! | `worker.rs` | the worker thread, a small state machine: batch, write, retry, report, shut down |
//! | `flush_guard.rs` | [`FlushGuard`]: flush on demand, drain on drop within a deadline |
//! | `status.rs` | the rate-limited stderr status channel for internal errors |
//! | `report.rs` | the in-band drop report and the truncation record |
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

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::CachePadded;
use tracing_core::Level;

use crate::stats::{Counters, DropReason, Stats};

mod batch;
mod config;
mod flush_guard;
mod make_writer;
mod report;
mod status;
mod submit;
mod worker;
pub mod writers;

pub use config::{ConfigError, Overflow, SinkBuilder};
pub use flush_guard::FlushGuard;
pub(crate) use flush_guard::Flusher;
pub use make_writer::SinkWriter;

/// Initial capacity of a buffer made when the pool is empty: most records
/// fit, so a buffer rarely grows more than once in its life.
const NEW_BUFFER_CAPACITY: usize = 512;
/// Buffers that grew beyond this are freed rather than pooled, so the pool
/// holds at most `POOL_MAX_BUFFERS * POOL_MAX_BUFFER_CAPACITY` (8 MiB) idle.
const POOL_MAX_BUFFER_CAPACITY: usize = 8 * 1024;
/// At most this many idle buffers are kept.
const POOL_MAX_BUFFERS: usize = 1024;

/// One encoded record in the queue.
pub(crate) struct Record {
    pub(crate) level: Level,
    pub(crate) buf: Vec<u8>,
}

/// Configuration after validation, shared read-only.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) capacity: usize,
    pub(crate) byte_budget: usize,
    pub(crate) max_record: usize,
    pub(crate) overflow: Overflow,
    /// Records queued at or above which events below `WARN` are shed.
    pub(crate) high_water_records: usize,
    /// Bytes queued above which events below `WARN` are shed.
    pub(crate) high_water_bytes: usize,
    /// Whether this sink writes the process's lint violations in-band. The
    /// store is process-wide, so only the sink `init` installs does; a sink
    /// built for a test must not carry another test's violations.
    pub(crate) report_violations: bool,
}

/// Everything the producers, the worker and the guard share.
///
/// One `Arc` for all of it: cloning a [`Sink`] is one reference count, and the
/// channel ends live as long as anyone needs them (the worker never sees the
/// queue disconnect; it stops when the guard tells it to).
pub(crate) struct Shared {
    pub(crate) tx: Sender<Record>,
    /// The consuming end. Also held by producers: [`Overflow::DropOldest`]
    /// steals from it, and a submit racing with shutdown drains it.
    pub(crate) rx: Receiver<Record>,
    /// Emptied buffers, handed back by the worker (and by rejected submits).
    pub(crate) pool_tx: Sender<Vec<u8>>,
    pub(crate) pool_rx: Receiver<Vec<u8>>,
    pub(crate) counters: Arc<Counters>,
    /// Bytes of the records now in the queue. Every producer and the worker
    /// change it: its own cache line.
    pub(crate) queued_bytes: CachePadded<AtomicUsize>,
    /// Set once the guard has finished shutting down: nothing will read the
    /// queue any more, so what is submitted after is dropped as `Shutdown`.
    pub(crate) closed: AtomicBool,
    /// The one stderr line about events logged after the guard was dropped
    /// has been printed.
    pub(crate) warned_closed: AtomicBool,
    pub(crate) limits: Limits,
}

impl Shared {
    /// Drops a record taken back out of the queue (stolen by `DropOldest`,
    /// or drained at shutdown): its bytes leave the budget, it is counted.
    pub(crate) fn discard(&self, r: Record, reason: DropReason) {
        self.queued_bytes.fetch_sub(r.buf.len(), Relaxed);
        self.counters.dropped(reason, r.level);
        self.recycle(r.buf);
    }

    /// Hands an emptied buffer back to the pool, or frees it when the pool is
    /// full or the buffer grew too big to keep.
    #[inline]
    pub(crate) fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() <= POOL_MAX_BUFFER_CAPACITY {
            buf.clear();
            let _ = self.pool_tx.try_send(buf);
        }
    }
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
/// let producer = sink.clone(); // clones share one queue
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

    /// An empty buffer for one record: one the worker handed back when there
    /// is one, so the steady state allocates nothing; a new one otherwise.
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
        match self.shared.pool_rx.try_recv() {
            Ok(buf) => buf,
            Err(_) => Vec::with_capacity(NEW_BUFFER_CAPACITY),
        }
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
        self.shared.counters.snapshot()
    }

    #[allow(dead_code)] // used by the layer and the drop-in builder
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.shared.counters
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Sink {
        Sink { shared }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("queued", &self.shared.tx.len())
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pool_reuses_buffers() {
        let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
        let mut b = sink.buffer();
        b.extend_from_slice(b"x\n");
        let ptr = b.as_ptr();
        sink.submit(Level::INFO, b).unwrap();
        assert!(guard.flush(Duration::from_secs(5)));
        let again = sink.buffer();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the worker handed the buffer back");
    }

    #[test]
    fn big_buffers_are_not_pooled() {
        let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
        let mut b = Vec::with_capacity(POOL_MAX_BUFFER_CAPACITY * 2);
        b.extend_from_slice(b"x\n");
        sink.submit(Level::INFO, b).unwrap();
        assert!(guard.flush(Duration::from_secs(5)));
        assert_eq!(sink.buffer().capacity(), NEW_BUFFER_CAPACITY);
        assert_eq!(sink.stats().dropped.get(DropReason::QueueFull), 0);
    }
}
