//! One thread's lane: a bounded byte ring that only its thread writes and
//! only the worker reads, so on the common path no cache line is written by
//! both a producer and the worker.
//!
//! - **The ring** is an `rtrb` SPSC ring of bytes holding
//!   `[len: u32][kind: u8][payload]` records, each copied in with one
//!   `push_entire_slice` (a record is visible whole or not at all). It
//!   starts small and doubles when full, up to the lane's maximum, each
//!   segment paid for out of the sink's global byte [`Budget`]; the worker
//!   frees a segment, and gives its bytes back, once it has read it empty.
//!   A lane found empty with a grown ring while segments hold over half
//!   the budget goes back to the small size, so a thread that burst once
//!   does not keep room that others need.
//! - **Counters** (submitted, dropped by reason and level) are written by
//!   the lane's thread alone, with plain stores, and summed at snapshot.
//! - **The reader** (the consumer end and segments waiting their turn) sits
//!   behind a mutex the worker takes once per pass over the lane; a producer
//!   takes it only to hand over a new segment or, under
//!   `Overflow::DropOldest`, to evict its own oldest records.
//!
//! `thread_local::ThreadLocal` keeps one lane per thread and sink. It hands
//! the slot of a thread that exited to the next new thread; that thread
//! takes the lane over if it is read empty, or else starts a lane of its
//! own (see `thread_serial`), and the worker retires the old one once it is
//! read dry, so 10 000 short-lived threads cost as many lanes as ever ran
//! at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;
use rtrb::{Producer, RingBuffer};
use tracing_core::Level;

pub(crate) use super::budget::Budget;
pub(crate) use super::reader::Reader;
use crate::stats::{DropReason, LaneCounters};

/// Bytes before each record's kind: its length.
pub(crate) const HEADER: usize = 4;
/// Bytes before each record's payload: its length and kind.
pub(crate) const FRAME: usize = HEADER + 1;
/// The first segment of a lane (some 60 events); doubled as needed. Small,
/// so threads that come and go cost little of the budget.
pub(crate) const INITIAL_SEGMENT: usize = 8 * 1024;
/// A lane checks the worker's progress at least this often, to notice an
/// empty grown ring (and shrink it) and to refresh its record count.
const REFRESH_EVERY: u32 = 1024;

/// What the worker and the snapshot share with one lane.
#[derive(Debug)]
pub(crate) struct LaneShared {
    /// Records the worker has taken out so far (written once per pass).
    popped: CachePadded<AtomicU64>,
    reader: Mutex<Reader>,
    /// The lane's counts, folded into the sink's when the lane retires.
    pub(crate) counters: Arc<LaneCounters>,
    /// The lane's thread is done with it (its `Lane` was dropped).
    gone: AtomicBool,
}

impl LaneShared {
    /// The reader, whoever last panicked holding it.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reader, unless a producer holds it right now.
    pub(crate) fn try_reader(&self) -> Option<MutexGuard<'_, Reader>> {
        match self.reader.try_lock() {
            Ok(r) => Some(r),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Adds to the records taken out. Only under the reader's lock (the
    /// worker and an evicting producer both take records out).
    /// Whether the lane's thread is done with it and the worker has read
    /// it dry: nothing will ever be written to it again.
    pub(crate) fn finished(&self, reader: &Reader) -> bool {
        self.gone.load(Acquire) && reader.drained()
    }

    pub(crate) fn add_popped(&self, _held: &MutexGuard<'_, Reader>, n: u64) {
        self.popped.store(self.popped.load(Relaxed) + n, Release);
    }
}

/// A number for the current thread, never reused (a `ThreadLocal` slot
/// is: a new thread gets the slot, and so the lane, of one that exited).
#[inline]
pub(crate) fn thread_serial() -> u64 {
    use std::cell::Cell;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static SERIAL: Cell<u64> = const { Cell::new(0) };
    }
    SERIAL
        .try_with(|s| match s.get() {
            0 => {
                let n = NEXT.fetch_add(1, Relaxed);
                s.set(n);
                n
            }
            n => n,
        })
        // Thread teardown: a number of its own, once.
        .unwrap_or_else(|_| NEXT.fetch_add(1, Relaxed))
}

/// Why a push did not go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The lane holds its maximum of records.
    Queue,
    /// The lane holds its maximum of bytes, or the global byte budget could
    /// not pay for more room.
    Budget,
}

/// The producer end of a lane, owned by its thread.
pub(crate) struct Lane {
    ring: Option<Producer<u8>>,
    /// Capacity of `ring`.
    cap: usize,
    pub(crate) shared: Arc<LaneShared>,
    counters: Arc<LaneCounters>,
    /// The thread this lane belongs to (see `thread_serial`).
    pub(crate) owner: u64,
    /// Records pushed so far.
    pushed: u64,
    /// The worker's `popped` when last read.
    popped: u64,
    since_refresh: u32,
    /// This lane asked for a spare for its newest segment already.
    spare_asked: bool,
    /// The buffer [`Sink::buffer`](super::Sink::buffer) hands out next.
    pub(crate) spare: Vec<u8>,
}

/// The size limits of every lane of one sink.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LaneLimits {
    /// Records one lane holds at most.
    pub(crate) records: u64,
    /// Bytes one lane's ring may grow to.
    pub(crate) max_bytes: usize,
}

impl Lane {
    /// A lane with its first segment, if the budget pays for one.
    pub(crate) fn new(budget: &Budget, limits: LaneLimits, counters: Arc<LaneCounters>) -> Lane {
        let shared = Arc::new(LaneShared {
            popped: CachePadded::default(),
            reader: Mutex::new(Reader {
                current: None,
                next: VecDeque::new(),
                spare: None,
            }),
            counters: counters.clone(),
            gone: AtomicBool::new(false),
        });
        let mut lane = Lane {
            ring: None,
            cap: 0,
            shared,
            counters,
            owner: thread_serial(),
            pushed: 0,
            popped: 0,
            since_refresh: 0,
            spare_asked: false,
            spare: Vec::new(),
        };
        let first = INITIAL_SEGMENT.min(limits.max_bytes);
        lane.grow(budget, first, first);
        lane
    }

    #[inline]
    pub(crate) fn count_submitted(&self) {
        self.counters.submitted();
    }

    /// Counts one drop (after its submission, see `Counters::snapshot`).
    #[inline]
    pub(crate) fn count_dropped(&self, reason: DropReason, level: Level) {
        self.counters.dropped(reason, level);
    }

    /// Whether to ask for the next segment now: once per segment, when the
    /// newest is over a quarter full (as last seen).
    #[inline]
    pub(crate) fn wants_spare(&mut self) -> bool {
        if self.spare_asked {
            return false;
        }
        let (free, cap) = self.room();
        let ask = cap - free > cap / 4;
        self.spare_asked = ask;
        ask
    }

    /// Takes over the lane of a thread that exited, if the worker has read
    /// it empty: its segment, already paid for, serves thread `owner` now.
    #[cold]
    pub(crate) fn adopt(&mut self, owner: u64) -> bool {
        self.popped = self.shared.popped.load(Acquire);
        let empty = self.queued_records() == 0;
        if empty {
            self.owner = owner;
        }
        empty
    }

    /// Records queued in this lane, as last seen (an upper bound).
    #[inline]
    pub(crate) fn queued_records(&self) -> u64 {
        self.pushed - self.popped
    }

    /// Free bytes in the ring as last seen (a lower bound), and its capacity.
    #[inline]
    pub(crate) fn room(&self) -> (usize, usize) {
        (self.ring.as_ref().map_or(0, |r| r.cached_slots()), self.cap)
    }

    /// Reads the worker's progress: what is queued, and the ring's room.
    /// One read of each line the worker writes: done only when the cached
    /// view says the lane is getting full, or every [`REFRESH_EVERY`].
    pub(crate) fn refresh(&mut self, budget: &Budget, limits: LaneLimits) {
        self.since_refresh = 0;
        self.popped = self.shared.popped.load(Acquire);
        let Some(ring) = &self.ring else { return };
        if ring.slots() == self.cap && self.cap > INITIAL_SEGMENT && budget.pressed() {
            // Empty and grown while others may need the room: go back to
            // the small size. (Not otherwise: a lane that bursts now and
            // then would allocate a new ring for every burst.)
            let small = INITIAL_SEGMENT.min(limits.max_bytes);
            self.grow(budget, small, small);
        }
    }

    /// Pushes one record, framed in place: `framed` is [`FRAME`] bytes this
    /// fills in (the length and `kind`), then the payload. One copy, into
    /// the ring; never blocks.
    #[inline]
    pub(crate) fn push(
        &mut self,
        kind: u8,
        framed: &mut [u8],
        budget: &Budget,
        limits: LaneLimits,
    ) -> Result<(), Full> {
        let need = framed.len();
        self.since_refresh += 1;
        if self.since_refresh >= REFRESH_EVERY || self.queued_records() >= limits.records {
            self.refresh(budget, limits);
            if self.queued_records() >= limits.records {
                return Err(Full::Queue);
            }
        }
        if self.room().0 < need {
            self.make_room(need, budget, limits)?;
        }
        let ring = self.ring.as_mut().ok_or(Full::Budget)?;
        let len = u32::try_from(need - HEADER).map_err(|_| Full::Budget)?;
        framed[..HEADER].copy_from_slice(&len.to_le_bytes());
        framed[HEADER] = kind;
        ring.push_entire_slice(framed).map_err(|_| Full::Queue)?;
        self.pushed += 1;
        Ok(())
    }

    /// The ring looks too full for `need` bytes: look again, then grow.
    #[cold]
    fn make_room(&mut self, need: usize, budget: &Budget, limits: LaneLimits) -> Result<(), Full> {
        if let Some(ring) = &self.ring {
            if ring.slots() >= need {
                return Ok(());
            }
        }
        if need > limits.max_bytes {
            return Err(Full::Budget);
        }
        let mut cap = (self.cap * 2).max(INITIAL_SEGMENT.min(limits.max_bytes));
        while cap < need {
            cap *= 2;
        }
        let cap = cap.min(limits.max_bytes);
        if cap <= self.cap && self.ring.is_some() {
            // At the lane's byte limit.
            return Err(Full::Budget);
        }
        // The next size, or what the budget still has, if that holds the
        // record and is worth a segment.
        if self.grow(budget, cap, need.max(INITIAL_SEGMENT.min(limits.max_bytes))) {
            Ok(())
        } else {
            Err(Full::Budget)
        }
    }

    /// Moves on to a new segment of `cap` bytes, paid for out of the
    /// budget; the worker frees the old one once it has read it empty.
    fn grow(&mut self, budget: &Budget, cap: usize, at_least: usize) -> bool {
        let mut reader = self.shared.reader();
        // The worker's spare, when it is at least the size wanted (a grown
        // ring never shrinks but under pressure): paid for and already
        // backed by pages.
        let (producer, consumer, cap) = match reader.spare.take() {
            Some(s) if s.cap >= at_least => (s.producer, s.consumer, s.cap),
            other => {
                if let Some(s) = other {
                    budget.give_back(s.cap);
                }
                drop(reader);
                let Some(cap) = budget.take_up_to(cap, at_least) else {
                    return false;
                };
                let (p, c) = RingBuffer::new(cap);
                reader = self.shared.reader();
                (p, c, cap)
            }
        };
        // Hand over under the reader's lock, after the last write to the
        // old segment (see `Reader::pop_into`).
        if reader.current.is_none() {
            reader.current = Some((consumer, cap));
        } else {
            reader.next.push_back((consumer, cap));
        }
        drop(reader);
        self.ring = Some(producer);
        self.cap = cap;
        self.spare_asked = false;
        true
    }

    /// Under `DropOldest`: takes this lane's oldest records out until a
    /// payload of `need` bytes fits in bytes and records (or `max` were
    /// taken), calling `dropped` with the payload of each.
    pub(crate) fn evict(
        &mut self,
        need: usize,
        budget: &Budget,
        limits: LaneLimits,
        max: usize,
        mut dropped: impl FnMut(&[u8]),
    ) {
        let mut scratch = Vec::new();
        let mut reader = self.shared.reader();
        let popped = self.shared.popped.load(Acquire);
        let mut taken = 0u64;
        while taken < max as u64 {
            let room = self
                .ring
                .as_ref()
                .is_some_and(|r| r.slots() >= HEADER + 1 + need);
            if room && self.pushed - popped - taken < limits.records {
                break;
            }
            scratch.clear();
            if reader.pop_into(budget, &mut scratch).is_none() {
                break;
            }
            dropped(&scratch);
            taken += 1;
        }
        self.shared.add_popped(&reader, taken);
        drop(reader);
        self.popped = popped + taken;
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // The last write to the ring happened before: the worker reads it
        // dry, then retires the lane.
        self.shared.gone.store(true, Release);
    }
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("cap", &self.cap)
            .field("pushed", &self.pushed)
            .finish_non_exhaustive()
    }
}
