//! The caller's path: size limit, shedding, overflow policies.
//!
//! Every record is counted as submitted first, in its thread's lane, then
//! gets exactly one outcome: queued in the lane (later written or dropped
//! by the worker or the guard), or dropped here with a reason. Nothing here
//! writes a cache line the worker writes: the lane's counters and ring
//! tail are this thread's; the worker's progress is read only when the
//! lane's cached view says it is getting full.

use std::time::{Duration, Instant};

use tracing_core::Level;

use super::lane::{Full, Lane, FRAME};
use super::report::Own;
use super::{level_byte, record_level, Overflow, Shared, Sink, RAW};
use crate::stats::DropReason;

/// How many of its own oldest records one `DropOldest` submit may evict
/// (a 64 KiB record among 100-byte ones needs hundreds).
const MAX_EVICTIONS: usize = 1024;

impl Sink {
    /// Submits one encoded record: one line, ending in `\n` (added when
    /// missing; an empty record writes nothing and counts as written).
    /// Never blocks with the default overflow policy.
    ///
    /// The record is counted as submitted, then as exactly one outcome:
    /// written by the worker, or dropped with a reason. A record longer than
    /// [`max_record`](Self::max_record) is cut with a visible marker (a JSON
    /// record becomes a valid JSON record holding an escaped prefix).
    ///
    /// # Errors
    ///
    /// The [`DropReason`] when the record was dropped here (it is already
    /// counted; the error is for callers that want to react).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_core::Level;
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// let mut record = sink.buffer();
    /// record.extend_from_slice(b"{\"level\":\"ERROR\",\"fields\":{\"message\":\"disk full\"}}");
    /// if let Err(reason) = sink.submit(Level::ERROR, record) {
    ///     eprintln!("dropped: {}", reason.as_str());
    /// }
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// // Written as one line: the missing `\n` was added.
    /// assert_eq!(out.text(), "{\"level\":\"ERROR\",\"fields\":{\"message\":\"disk full\"}}\n");
    /// ```
    #[inline]
    pub fn submit(&self, level: Level, mut record: Vec<u8>) -> Result<(), DropReason> {
        let s = &*self.shared;
        if record.len() > s.limits.max_record || record.last() != Some(&b'\n') {
            if record.is_empty() {
                // Nothing to write: not a blank line, which is no JSON.
                let done = s.with_lane(|lane| {
                    lane.count_submitted();
                    lane.spare = record;
                });
                if done.is_none() {
                    s.counters.submitted();
                }
                s.counters.written(1, 0);
                return Ok(());
            }
            record = match fit(s, level, record) {
                Ok(r) => r,
                Err(reason) => {
                    self.count_lone_drop(level, reason);
                    return Err(reason);
                }
            };
        }
        let outcome = s.with_lane(|lane| {
            // Framed in place: the frame, the level byte, the line.
            let mut head = [0u8; FRAME + 1];
            head[FRAME] = level_byte(level);
            record.splice(0..0, head);
            let r = push(s, lane, RAW, level, &mut record);
            record.clear();
            lane.spare = record;
            r
        });
        outcome.unwrap_or_else(|| {
            // Submitted from inside this thread's own submit.
            self.count_lone_drop(level, DropReason::Recursion);
            Err(DropReason::Recursion)
        })
    }

    /// Queues a captured record of `kind` in this thread's lane: `framed`
    /// is [`FRAME`] bytes for the sink, then the payload, which starts with
    /// its level byte.
    #[inline]
    pub(crate) fn push(&self, kind: u8, level: Level, framed: &mut [u8]) -> Result<(), DropReason> {
        let s = &*self.shared;
        s.with_lane(|lane| push(s, lane, kind, level, framed))
            .unwrap_or_else(|| {
                self.count_lone_drop(level, DropReason::Recursion);
                Err(DropReason::Recursion)
            })
    }

    /// Counts an event a layer dropped before capturing it (its call
    /// site's rate limit): submitted and dropped at once, in this thread's
    /// lane, so no cache line another thread writes is touched.
    #[inline]
    pub(crate) fn count_uncaptured(&self, level: Level, reason: DropReason) {
        let counted = self.shared.with_lane(|lane| {
            lane.count_submitted();
            lane.count_dropped(reason, level);
        });
        if counted.is_none() {
            self.count_lone_drop(level, reason);
        }
    }

    /// Counts a record dropped before it reached a lane.
    #[cold]
    fn count_lone_drop(&self, level: Level, reason: DropReason) {
        let c = &self.shared.counters;
        c.submitted();
        c.dropped(reason, level);
    }
}

/// The caller's path for one record, in its thread's lane.
#[inline]
fn push(
    s: &Shared,
    lane: &mut Lane,
    kind: u8,
    level: Level,
    framed: &mut [u8],
) -> Result<(), DropReason> {
    // Before any outcome (see `Counters::snapshot`).
    lane.count_submitted();
    if s.closed.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(closed(s, lane, level));
    }
    if level > Level::WARN && above_high_water(s, lane) {
        lane.count_dropped(DropReason::Shed, level);
        return Err(DropReason::Shed);
    }
    let limits = s.limits.lane();
    let pushed = match lane.push(kind, framed, &s.budget, limits) {
        Ok(()) => Ok(()),
        Err(full) => match s.limits.overflow {
            Overflow::DropNewest => Err(full),
            Overflow::DropOldest => drop_oldest(s, lane, kind, framed, full),
            Overflow::Block { timeout } => block(s, lane, kind, framed, timeout),
        },
    };
    match pushed {
        Ok(()) => {
            s.wake();
            if lane.wants_spare() {
                s.spares.ask(&lane.shared);
            }
            Ok(())
        }
        Err(full) => {
            let reason = match full {
                Full::Queue => DropReason::QueueFull,
                Full::Budget => DropReason::ByteBudget,
            };
            lane.count_dropped(reason, level);
            Err(reason)
        }
    }
}

/// Whether this lane is above its high-water mark, in records or bytes.
/// Decided on the lane's cached view, looked at again only when that says
/// yes (the worker may have taken records since).
#[inline]
fn above_high_water(s: &Shared, lane: &mut Lane) -> bool {
    let over = |lane: &Lane| {
        let (free, cap) = lane.room();
        lane.queued_records() >= s.limits.high_water_records as u64
            || cap.saturating_sub(free) > s.limits.high_water_bytes
    };
    if !over(lane) {
        return false;
    }
    lane.refresh(&s.budget, s.limits.lane());
    over(lane)
}

/// Makes room by evicting this lane's oldest records, then pushes.
fn drop_oldest(
    s: &Shared,
    lane: &mut Lane,
    kind: u8,
    framed: &mut [u8],
    full: Full,
) -> Result<(), Full> {
    let counters = &s.counters;
    let reason = match full {
        Full::Queue => DropReason::QueueFull,
        Full::Budget => DropReason::ByteBudget,
    };
    // The evicted records were queued: their drops are the worker side's
    // kind of outcome, counted in the shared counters.
    lane.evict(
        framed.len() - FRAME,
        &s.budget,
        s.limits.lane(),
        MAX_EVICTIONS,
        |old| {
            counters.dropped(reason, record_level(old));
        },
    );
    lane.push(kind, framed, &s.budget, s.limits.lane())
}

/// Waits up to `timeout` for room (opt-in, for audit logs).
fn block(
    s: &Shared,
    lane: &mut Lane,
    kind: u8,
    framed: &mut [u8],
    timeout: Duration,
) -> Result<(), Full> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_micros(50);
    loop {
        s.wake_now();
        let now = Instant::now();
        if now >= deadline {
            return lane.push(kind, framed, &s.budget, s.limits.lane());
        }
        // A worker with no thread of its own makes the room here.
        if s.run_worker_here() {
            lane.refresh(&s.budget, s.limits.lane());
            if lane.push(kind, framed, &s.budget, s.limits.lane()).is_ok() {
                return Ok(());
            }
        }
        std::thread::sleep(backoff.min(deadline - now));
        backoff = (backoff * 2).min(Duration::from_millis(5));
        lane.refresh(&s.budget, s.limits.lane());
        match lane.push(kind, framed, &s.budget, s.limits.lane()) {
            Ok(()) => return Ok(()),
            Err(_) => continue,
        }
    }
}

/// The guard is gone: nothing reads the lanes. Drops this record, and what
/// this lane still holds, as `Shutdown`.
#[cold]
fn closed(s: &Shared, lane: &mut Lane, level: Level) -> DropReason {
    lane.count_dropped(DropReason::Shutdown, level);
    s.drain_closed();
    warn_closed(s);
    DropReason::Shutdown
}

/// Makes an oversize or unterminated record fit: cold.
#[cold]
fn fit(s: &Shared, level: Level, mut record: Vec<u8>) -> Result<Vec<u8>, DropReason> {
    if record.last() != Some(&b'\n') {
        record.push(b'\n');
    }
    if record.len() <= s.limits.max_record {
        return Ok(record);
    }
    let mut out = Vec::with_capacity(s.limits.max_record);
    if Own::PLAIN.truncate(&record, level, s.limits.max_record, &mut out) {
        s.counters.truncated();
        Ok(out)
    } else {
        Err(DropReason::Oversize)
    }
}

/// Says once, on stderr, why nothing is written any more: the usual cause
/// is `let _ = layer_safe::init();`, which drops the guard at once.
#[cold]
fn warn_closed(s: &Shared) {
    if !s
        .warned_closed
        .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        eprintln!(
            "layer-safe: an event was logged after the sink's FlushGuard was dropped; \
             it and later ones are not written. Keep the guard alive for as long as \
             you log: `let _guard = layer_safe::init();` in main (not `let _ = ...`); \
             in a test binary, keep one guard for all tests (in a static)."
        );
    }
}
