//! Counters shared by the guard and the sink, and [`Stats`], their snapshot.
//!
//! One [`Counters`] is shared (behind an `Arc`) by everything one
//! installation owns, so a single snapshot accounts for every event: those
//! the guard dropped as recursion and those the sink wrote, dropped or still
//! holds. The accounting invariant (ARCHITECTURE.md, invariant 1) is
//! `submitted == written + dropped.total() + in_flight`.

use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use tracing_core::Level;

use crate::site::CallSite;

mod recursion;

use recursion::Pairs;
pub use recursion::RecursionPair;

/// Why an event was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue held its maximum number of records.
    QueueFull,
    /// The queued bytes would have exceeded the byte budget.
    ByteBudget,
    /// Shed under pressure: the queue was above its high-water mark and the
    /// event was below `WARN`.
    Shed,
    /// Emitted while its thread was already in the logging path.
    Recursion,
    /// Larger than the maximum record size and could not be truncated.
    Oversize,
    /// The writer failed and the record could not be written.
    WriterError,
    /// Still queued when the flush deadline at shutdown passed.
    Shutdown,
    /// The wrapped subscriber (the registry, a layer, a filter) panicked
    /// while handling the event or span call; the guard contained the
    /// panic. A span whose call panicked is inert from then on.
    InnerPanic,
    /// Beyond its call site's rate limit (`RateLimit`): dropped before it
    /// was captured, and summarised in-band per call site.
    RateLimited,
}

impl DropReason {
    /// How many reasons there are: the length of every per-reason array.
    pub(crate) const COUNT: usize = 9;

    /// Every reason, in the order reports list them.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::QueueFull,
        DropReason::ByteBudget,
        DropReason::Shed,
        DropReason::Recursion,
        DropReason::Oversize,
        DropReason::WriterError,
        DropReason::Shutdown,
        DropReason::InnerPanic,
        DropReason::RateLimited,
    ];

    /// The snake_case name used in reports (`"queue_full"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ByteBudget => "byte_budget",
            DropReason::Shed => "shed",
            DropReason::Recursion => "recursion",
            DropReason::Oversize => "oversize",
            DropReason::WriterError => "writer_error",
            DropReason::Shutdown => "shutdown",
            DropReason::InnerPanic => "inner_panic",
            DropReason::RateLimited => "rate_limited",
        }
    }

    /// The reason's place in [`ALL`](Self::ALL) and in every per-reason
    /// array (checked at compile time below).
    fn index(self) -> usize {
        self as usize
    }
}

// `ALL` lists the reasons in declaration order, so `index` finds each one.
const _: () = {
    let mut i = 0;
    while i < DropReason::COUNT {
        assert!(DropReason::ALL[i] as usize == i);
        i += 1;
    }
};

/// One count per [`DropReason`], indexed by it: drop totals and the
/// increase between two of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PerReason([u64; DropReason::COUNT]);

impl PerReason {
    /// The counts of `f(reason)` for every reason.
    pub(crate) fn from_fn(f: impl FnMut(DropReason) -> u64) -> PerReason {
        PerReason(DropReason::ALL.map(f))
    }

    /// Each reason's increase from `earlier` (never below zero).
    pub(crate) fn since(&self, earlier: &PerReason) -> PerReason {
        PerReason::from_fn(|r| self[r].saturating_sub(earlier[r]))
    }

    /// Whether any reason counts anything.
    pub(crate) fn any(&self) -> bool {
        self.0.iter().any(|&n| n > 0)
    }

    /// Every reason with its count, in [`DropReason::ALL`] order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.into_iter().zip(self.0)
    }
}

impl std::ops::Index<DropReason> for PerReason {
    type Output = u64;
    fn index(&self, reason: DropReason) -> &u64 {
        &self.0[reason.index()]
    }
}

impl std::ops::IndexMut<DropReason> for PerReason {
    fn index_mut(&mut self, reason: DropReason) -> &mut u64 {
        &mut self.0[reason.index()]
    }
}

/// One atomic count per [`DropReason`].
#[derive(Debug, Default)]
pub(crate) struct ReasonCounts([AtomicU64; DropReason::COUNT]);

impl ReasonCounts {
    #[inline]
    pub(crate) fn get(&self, reason: DropReason) -> &AtomicU64 {
        &self.0[reason.index()]
    }
}

/// One atomic count per level, `TRACE` to `ERROR`.
#[derive(Debug, Default)]
pub(crate) struct LevelCounts([AtomicU64; 5]);

impl LevelCounts {
    #[inline]
    pub(crate) fn get(&self, level: Level) -> &AtomicU64 {
        &self.0[level_index(level)]
    }
}

/// The counts of one sink lane, written by that lane's thread alone: a
/// load and a store each, no read-modify-write, on lines no other thread
/// writes. Summed at snapshot.
#[derive(Debug, Default)]
pub(crate) struct LaneCounters {
    inner: CachePadded<LaneInner>,
}

#[derive(Debug, Default)]
struct LaneInner {
    submitted: AtomicU64,
    dropped: ReasonCounts,
    dropped_by_level: LevelCounts,
}

/// One writer per counter (see [`LaneCounters`]).
#[inline]
fn bump(a: &AtomicU64) {
    a.store(a.load(Relaxed) + 1, Release);
}

impl LaneCounters {
    #[inline]
    pub(crate) fn submitted(&self) {
        bump(&self.inner.submitted);
    }

    /// Counts one drop of an event this lane counted as submitted.
    #[inline]
    pub(crate) fn dropped(&self, reason: DropReason, level: Level) {
        bump(self.inner.dropped_by_level.get(level));
        bump(self.inner.dropped.get(reason));
    }
}

/// Dropped events, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dropped {
    /// See [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// See [`DropReason::ByteBudget`].
    pub byte_budget: u64,
    /// See [`DropReason::Shed`].
    pub shed: u64,
    /// See [`DropReason::Recursion`].
    pub recursion: u64,
    /// See [`DropReason::Oversize`].
    pub oversize: u64,
    /// See [`DropReason::WriterError`].
    pub writer_error: u64,
    /// See [`DropReason::Shutdown`].
    pub shutdown: u64,
    /// See [`DropReason::InnerPanic`].
    pub inner_panic: u64,
    /// See [`DropReason::RateLimited`].
    pub rate_limited: u64,
}

impl Dropped {
    /// All dropped events, whatever the reason.
    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.get(*r)).sum()
    }

    /// The count for one reason.
    ///
    /// ```
    /// use layer_safe::{DropReason, Dropped};
    ///
    /// let dropped = Dropped::default();
    /// assert_eq!(dropped.get(DropReason::InnerPanic), dropped.inner_panic);
    /// ```
    pub fn get(&self, reason: DropReason) -> u64 {
        let mut copy = *self;
        *copy.slot(reason)
    }

    /// The counts of a snapshot.
    pub(crate) fn from_counts(counts: PerReason) -> Dropped {
        let mut dropped = Dropped::default();
        for (r, n) in counts.iter() {
            *dropped.slot(r) = n;
        }
        dropped
    }

    /// The field that counts `reason`: the one place a reason is mapped to
    /// its field, so adding a reason adds one arm here.
    fn slot(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::ByteBudget => &mut self.byte_budget,
            DropReason::Shed => &mut self.shed,
            DropReason::Recursion => &mut self.recursion,
            DropReason::Oversize => &mut self.oversize,
            DropReason::WriterError => &mut self.writer_error,
            DropReason::Shutdown => &mut self.shutdown,
            DropReason::InnerPanic => &mut self.inner_panic,
            DropReason::RateLimited => &mut self.rate_limited,
        }
    }
}

/// Counts by level, `TRACE` to `ERROR`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ByLevel {
    /// `TRACE` events.
    pub trace: u64,
    /// `DEBUG` events.
    pub debug: u64,
    /// `INFO` events.
    pub info: u64,
    /// `WARN` events.
    pub warn: u64,
    /// `ERROR` events.
    pub error: u64,
}

impl ByLevel {
    /// The count for one level.
    pub fn get(&self, level: Level) -> u64 {
        match level {
            Level::TRACE => self.trace,
            Level::DEBUG => self.debug,
            Level::INFO => self.info,
            Level::WARN => self.warn,
            _ => self.error,
        }
    }
}

/// A snapshot of what happened to every event so far.
///
/// Cheap to take (a few atomic loads; the recursion table is copied only when
/// it is not empty). The accounting invariant holds at every snapshot:
/// `submitted == written + dropped.total() + in_flight`.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use layer_safe::GuardedExt;
///
/// let subscriber = tracing_subscriber::registry().guarded();
/// let stats = subscriber.stats_handle().snapshot();
/// assert_eq!(stats.submitted, stats.written + stats.dropped.total() + stats.in_flight);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events offered to the sink, plus events (and span calls) the guard
    /// dropped itself: as recursion, or because the inner stack panicked.
    pub submitted: u64,
    /// Records written to the writer.
    pub written: u64,
    /// Bytes written to the writer (in-band reports included).
    pub bytes_written: u64,
    /// Records accepted and not yet written or dropped.
    pub in_flight: u64,
    /// Dropped events, by reason.
    pub dropped: Dropped,
    /// Dropped events, by level.
    pub dropped_by_level: ByLevel,
    /// Records cut to the maximum record size (and written).
    pub truncated: u64,
    /// Errors returned (or panics raised) by the writer.
    pub writer_errors: u64,
    /// The first recursion of each distinct (outer, inner) pair.
    pub recursions: Vec<RecursionPair>,
}

impl Stats {
    /// `true` when nothing was dropped and nothing is in flight.
    pub fn is_clean(&self) -> bool {
        self.dropped.total() == 0 && self.in_flight == 0
    }
}

/// The shared, lock-free counters behind [`Stats`].
///
/// Two kinds: the callers' counts, per sink lane ([`LaneCounters`], one
/// writer each), and these shared atomics, bumped off the common path (the
/// worker's outcomes, the guard's recursion drops).
#[derive(Default)]
pub(crate) struct Counters {
    submitted: CachePadded<AtomicU64>,
    written: CachePadded<AtomicU64>,
    bytes_written: AtomicU64,
    truncated: AtomicU64,
    writer_errors: AtomicU64,
    dropped: ReasonCounts,
    dropped_by_level: LevelCounts,
    recursions: Mutex<Pairs>,
    lanes: Mutex<Vec<Arc<LaneCounters>>>,
}

const LEVELS: [Level; 5] = [
    Level::TRACE,
    Level::DEBUG,
    Level::INFO,
    Level::WARN,
    Level::ERROR,
];

pub(crate) fn level_index(level: Level) -> usize {
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        _ => 4,
    }
}

impl Counters {
    #[inline]
    pub(crate) fn submitted(&self) {
        self.submitted.fetch_add(1, Relaxed);
    }

    /// Counters for a new sink lane, summed into every snapshot from now on.
    pub(crate) fn lane(&self) -> Arc<LaneCounters> {
        let lane = Arc::new(LaneCounters::default());
        self.lanes().push(lane.clone());
        lane
    }

    /// Folds a retired lane's counts into the shared ones, under the lock
    /// every snapshot holds, so no snapshot sees them twice or not at all.
    pub(crate) fn retire(&self, lane: &Arc<LaneCounters>) {
        let mut lanes = self.lanes();
        let Some(at) = lanes.iter().position(|l| Arc::ptr_eq(l, lane)) else {
            return;
        };
        let l = lanes.swap_remove(at);
        let take = |a: &AtomicU64| a.load(Acquire);
        self.submitted.fetch_add(take(&l.inner.submitted), Release);
        for r in DropReason::ALL {
            self.dropped
                .get(r)
                .fetch_add(take(l.inner.dropped.get(r)), Release);
        }
        for lv in LEVELS {
            self.dropped_by_level
                .get(lv)
                .fetch_add(take(l.inner.dropped_by_level.get(lv)), Release);
        }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, Vec<Arc<LaneCounters>>> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[inline]
    pub(crate) fn written(&self, records: u64, bytes: u64) {
        self.bytes_written.fetch_add(bytes, Relaxed);
        // Release: a snapshot that sees this outcome sees its submission.
        self.written.fetch_add(records, Release);
    }

    /// Bytes of in-band reports: written, but not events.
    pub(crate) fn report_bytes(&self, bytes: u64) {
        self.bytes_written.fetch_add(bytes, Relaxed);
    }

    #[inline]
    pub(crate) fn truncated(&self) {
        self.truncated.fetch_add(1, Relaxed);
    }

    pub(crate) fn writer_error(&self) {
        self.writer_errors.fetch_add(1, Relaxed);
    }

    /// Counts one dropped event (that was counted as submitted).
    #[inline]
    pub(crate) fn dropped(&self, reason: DropReason, level: Level) {
        self.dropped_by_level.get(level).fetch_add(1, Relaxed);
        self.dropped.get(reason).fetch_add(1, Release);
    }

    /// The count of drops for one reason so far, every lane's included.
    pub(crate) fn dropped_count(&self, reason: DropReason) -> u64 {
        let lanes: u64 = self
            .lanes()
            .iter()
            .map(|l| l.inner.dropped.get(reason).load(Relaxed))
            .sum();
        self.dropped.get(reason).load(Relaxed) + lanes
    }

    /// Every reason's count, as [`dropped_count`](Self::dropped_count).
    pub(crate) fn dropped_counts(&self) -> PerReason {
        self.sum_dropped(&self.lanes())
    }

    /// [`dropped_counts`](Self::dropped_counts), as a snapshot shows them.
    pub(crate) fn dropped_snapshot(&self) -> Dropped {
        Dropped::from_counts(self.dropped_counts())
    }

    /// Every reason's count: the shared one plus every lane's (Acquire).
    fn sum_dropped(&self, lanes: &[Arc<LaneCounters>]) -> PerReason {
        PerReason::from_fn(|r| {
            let load = |a: &AtomicU64| a.load(Acquire);
            load(self.dropped.get(r))
                + lanes
                    .iter()
                    .map(|l| load(l.inner.dropped.get(r)))
                    .sum::<u64>()
        })
    }

    /// Counts a recursive event and remembers its (outer, inner) pair.
    pub(crate) fn recursion(&self, outer: CallSite, inner: CallSite, level: Level) {
        self.submitted();
        self.dropped(DropReason::Recursion, level);
        // Cold path (a recursion is a bug being contained); a poisoned lock
        // only means another thread panicked while holding it.
        let mut pairs = match self.recursions.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        pairs.count(outer, inner);
    }

    /// A snapshot in which the accounting invariant holds.
    pub(crate) fn snapshot(&self) -> Stats {
        // Read the outcomes (Acquire) before `submitted`: every event is
        // counted as submitted before its outcome (Release), so whatever
        // outcome this sees, it also sees the submission: `in_flight` is
        // never negative.
        let written = self.written.load(Acquire);
        let load = |a: &AtomicU64| a.load(Acquire);
        let lanes = self.lanes();
        let dropped = Dropped::from_counts(self.sum_dropped(&lanes));
        let levels = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ];
        let l = levels.map(|lv| {
            load(self.dropped_by_level.get(lv))
                + lanes
                    .iter()
                    .map(|x| load(x.inner.dropped_by_level.get(lv)))
                    .sum::<u64>()
        });
        let dropped_by_level = ByLevel {
            trace: l[0],
            debug: l[1],
            info: l[2],
            warn: l[3],
            error: l[4],
        };
        // Submissions last: each is counted before its outcome.
        let lane_submitted: u64 = lanes.iter().map(|x| load(&x.inner.submitted)).sum();
        // Still under the lanes' lock: a lane retiring moves its counts
        // into the shared ones, never between two reads of a snapshot.
        let submitted = self.submitted.load(Acquire) + lane_submitted;
        drop(lanes);
        let done = written + dropped.total();
        debug_assert!(
            submitted >= done,
            "an outcome was counted without its submission"
        );
        let recursions = match self.recursions.lock() {
            Ok(p) => p.list.clone(),
            Err(poisoned) => poisoned.into_inner().list.clone(),
        };
        Stats {
            submitted,
            written,
            bytes_written: load(&self.bytes_written),
            in_flight: submitted.saturating_sub(done),
            dropped,
            dropped_by_level,
            truncated: load(&self.truncated),
            writer_errors: load(&self.writer_errors),
            recursions,
        }
    }
}
