//! Storm control per call site: a token bucket per call site
//! and thread, checked before the layer captures anything.
//!
//! **Per thread, not global.** Each thread keeps, in its own state in the
//! layer (`stack::Thread`), one bucket per call site, indexed by the site's
//! index in the layer's table (`Format::intern`): a bounds check, a
//! subtraction, a compare and two stores on memory only this thread
//! touches, timed by the clock reading the event takes anyway. A global
//! bucket per site would be an atomic read-modify-write on a line every
//! thread logging from that site writes — contended exactly during a storm,
//! tens of nanoseconds, and the cache-line ping-pong the caller's path was
//! designed to avoid. The price: `n` threads logging from one call site
//! together get `n` times the rate. Buckets live in the thread's slot of a
//! `ThreadLocal`, which a new thread inherits when an old one exited, so a
//! thread per request does not get a fresh burst per request: the number
//! of buckets per site is the number of threads alive at once.
//!
//! **Counted and summarised.** A suppressed event is counted as submitted
//! and dropped as [`DropReason::RateLimited`](crate::DropReason) in the
//! thread's sink lane, and once per call site in this thread's table of
//! suppressed counts ([`Suppressed`]): plain stores by the one thread that
//! owns the table, read by the sink's worker when it writes a drop report,
//! which then writes one `events suppressed` record per call site with
//! suppressed events since its last one (`sink/summary.rs`). The site's
//! count is stored before the lane's, so a report that counts a drop finds
//! its site's count too.

use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::OnceLock;

use thread_local::ThreadLocal;

/// A limit on how many events one call site may log: `events_per_second`
/// on average, up to `burst` at once. Beyond it, the call site's events
/// are dropped before they are captured, counted as
/// [`DropReason::RateLimited`](crate::DropReason::RateLimited), and
/// summarised in-band once per report interval (a second) as
/// `{"message":"events suppressed","callsite":"src/db.rs:88","suppressed":123456}`.
/// Other call sites are not affected.
///
/// The limit holds per thread: each thread has a bucket of its own per
/// call site, so checking it writes nothing another thread writes (a few
/// nanoseconds per event); `n` threads logging from one call site get up to
/// `n` times the rate between them. Both numbers are at least 1. Used with
/// [`JsonLayerBuilder::rate_limit`](crate::JsonLayerBuilder::rate_limit)
/// or [`Builder::rate_limit_per_callsite`](crate::Builder::rate_limit_per_callsite).
///
/// # Examples
///
/// ```
/// use layer_safe::RateLimit;
///
/// let limit = RateLimit::new(100, 20);
/// assert_eq!((limit.events_per_second(), limit.burst()), (100, 20));
/// assert_eq!(RateLimit::new(0, 0).burst(), 1, "at least one event");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    per_second: u32,
    burst: u32,
}

impl RateLimit {
    /// `events_per_second` per call site on average, `burst` at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = layer_safe::RateLimit::new(10, 5);
    /// assert_eq!(limit.events_per_second(), 10);
    /// ```
    pub fn new(events_per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: events_per_second.max(1),
            burst: burst.max(1),
        }
    }

    /// The average rate allowed, per call site and second.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(layer_safe::RateLimit::new(10, 5).events_per_second(), 10);
    /// ```
    pub fn events_per_second(&self) -> u32 {
        self.per_second
    }

    /// How many events a call site may log at once after a quiet spell.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(layer_safe::RateLimit::new(10, 5).burst(), 5);
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// A [`RateLimit`] in clock ticks, settled when the layer is built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    /// Ticks per event: the credit one event takes.
    per_event: u64,
    /// The credit of a full bucket: `burst` events.
    cap: u64,
}

impl Limit {
    pub(crate) fn new(limit: RateLimit, ticks_per_second: u64) -> Limit {
        let per_event = (ticks_per_second / u64::from(limit.per_second)).max(1);
        Limit {
            per_event,
            cap: per_event.saturating_mul(u64::from(limit.burst)),
        }
    }
}

/// Call sites past this index are not limited (a table of suppressed
/// counts per thread has room for this many).
const MAX_SITES: usize = CHUNKS * CHUNK;
const CHUNK: usize = 64;
const CHUNKS: usize = 256;

/// One thread's buckets, by call-site index.
#[derive(Debug, Default)]
pub(crate) struct Buckets(Vec<Bucket>);

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Credit in ticks, at most `Limit::cap`.
    credit: u64,
    /// The tick count the credit was last brought up to.
    last: u64,
}

/// A bucket not used yet: full at its first event.
const FULL: Bucket = Bucket {
    credit: u64::MAX,
    last: 0,
};

impl Buckets {
    /// Whether call site `site` may log an event at tick count `now`; takes
    /// its credit when it may.
    #[inline]
    pub(crate) fn admit(&mut self, site: u32, now: u64, limit: &Limit) -> bool {
        match self.0.get_mut(site as usize) {
            Some(b) => b.take(now, limit),
            None => self.admit_new(site, now, limit),
        }
    }

    #[cold]
    fn admit_new(&mut self, site: u32, now: u64, limit: &Limit) -> bool {
        let at = site as usize;
        if at >= MAX_SITES {
            return true;
        }
        self.0.resize(at + 1, FULL);
        self.0[at].take(now, limit)
    }
}

impl Bucket {
    #[inline]
    fn take(&mut self, now: u64, limit: &Limit) -> bool {
        // A reading behind the last one (another core's counter) adds
        // nothing, and does not move the bucket back.
        let credit = self
            .credit
            .saturating_add(now.saturating_sub(self.last))
            .min(limit.cap);
        self.last = self.last.max(now);
        let ok = credit >= limit.per_event;
        self.credit = credit - if ok { limit.per_event } else { 0 };
        ok
    }
}

/// Events suppressed so far, per thread and call site: what the worker
/// summarises.
#[derive(Default)]
pub(crate) struct Suppressed {
    threads: ThreadLocal<Counts>,
}

/// One thread's counts, by call-site index, in chunks made on first use.
/// Only that thread writes them.
struct Counts {
    chunks: [OnceLock<Box<[AtomicU64; CHUNK]>>; CHUNKS],
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            chunks: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

impl Suppressed {
    /// Counts one suppressed event of `site` (below [`MAX_SITES`]).
    #[inline]
    pub(crate) fn count(&self, site: u32) {
        let site = site as usize;
        let counts = self.threads.get_or(Counts::default);
        let Some(chunk) = counts.chunks.get(site / CHUNK) else {
            return;
        };
        let chunk = chunk.get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
        let n = &chunk[site % CHUNK];
        // One writer: a load and a store, Release so a reader that sees
        // the lane's count (stored after) sees this one.
        n.store(n.load(Relaxed) + 1, Release);
    }

    /// `each(site, total)` for every call site with suppressed events, the
    /// totals of every thread so far.
    pub(crate) fn totals(&self, mut each: impl FnMut(u32, u64)) {
        let mut sums: Vec<u64> = Vec::new();
        for t in self.threads.iter() {
            for (c, chunk) in t.chunks.iter().enumerate() {
                let Some(chunk) = chunk.get() else { continue };
                if sums.len() < (c + 1) * CHUNK {
                    sums.resize((c + 1) * CHUNK, 0);
                }
                for (i, n) in chunk.iter().enumerate() {
                    sums[c * CHUNK + i] += n.load(Acquire);
                }
            }
        }
        for (site, n) in sums.into_iter().enumerate() {
            if n > 0 {
                each(site as u32, n);
            }
        }
    }
}

#[cfg(test)]
mod tests;
