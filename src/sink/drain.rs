//! The worker's view of the lanes: which exist, how far each was read, and
//! moving their records into the batch, formatted.
//!
//! Fairness: each turn takes at most [`LANE_SHARE`] records from a lane
//! before moving to the next, starting where the last batch stopped, so a
//! thread that logs without pause cannot keep the writer from the others.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::batch::Batch;
use super::lane::{LaneShared, HEADER};
use super::report::Own;
use super::{record_level, Render, Shared, RAW};
use crate::clock::WallClock;
use crate::stats::DropReason;

/// Records taken from one lane per turn.
pub(crate) const LANE_SHARE: usize = 64;

struct Seen {
    shared: Arc<LaneShared>,
    /// Bytes read from this lane so far, headers included.
    consumed: u64,
}

/// A flush request's goal: every lane (by address) read up to where it
/// stood. A lane retired since was read dry.
pub(crate) type Target = Vec<(usize, u64)>;

pub(crate) struct Lanes {
    seen: Vec<Seen>,
    /// `Shared::lane_count` when `seen` was last brought up to date.
    known: usize,
    /// The lane the next turn starts with.
    cursor: usize,
    inbox: Vec<u8>,
    entries: Vec<(u8, Range<usize>)>,
    renderers: Vec<Option<Arc<dyn Render>>>,
    clock: WallClock,
}

impl Lanes {
    pub(crate) fn new(shared: &Shared) -> Lanes {
        Lanes {
            seen: Vec::new(),
            known: 0,
            cursor: 0,
            inbox: Vec::new(),
            entries: Vec::new(),
            renderers: Vec::new(),
            clock: shared.clock.wall(),
        }
    }

    /// Picks up lanes made since the last look.
    fn refresh(&mut self, shared: &Shared) {
        let Some((count, all)) = shared.readers_since(self.known) else {
            return;
        };
        self.known = count;
        // Keep what was read of each lane still there; add the new ones.
        let mut seen = Vec::with_capacity(all.len());
        for lane in all {
            let consumed = self
                .seen
                .iter()
                .find(|s| Arc::ptr_eq(&s.shared, &lane))
                .map_or(0, |s| s.consumed);
            seen.push(Seen {
                shared: lane,
                consumed,
            });
        }
        self.seen = seen;
        if self.cursor >= self.seen.len() {
            self.cursor = 0;
        }
    }

    /// Retires the lanes whose threads moved on and that are read dry.
    fn retire_finished(&mut self, shared: &Shared) {
        let before = self.seen.len();
        self.seen.retain(|s| {
            let done = s.shared.try_reader().is_some_and(|r| s.shared.finished(&r));
            if done {
                shared.retire(&s.shared);
            }
            !done
        });
        if self.seen.len() != before && self.cursor >= self.seen.len() {
            self.cursor = 0;
        }
    }

    /// Moves records into `batch`, formatted, until it holds `max_bytes` or
    /// `max_records`, or every lane is empty. Returns how many it took.
    pub(crate) fn fill(
        &mut self,
        shared: &Shared,
        batch: &mut Batch,
        max_bytes: usize,
        max_records: usize,
    ) -> u64 {
        self.refresh(shared);
        self.clock.refresh();
        let n = self.seen.len();
        let mut taken = 0;
        if n == 0 {
            return 0;
        }
        loop {
            let mut progress = false;
            for _ in 0..n {
                if batch.len() >= max_bytes || batch.records() >= max_records {
                    return taken;
                }
                let i = self.cursor;
                self.cursor = (self.cursor + 1) % n;
                let got = self.take_from(shared, i, batch);
                progress |= got > 0;
                taken += got;
            }
            if !progress {
                self.retire_finished(shared);
                return taken;
            }
        }
    }

    /// One turn at lane `i`: copy its oldest records out under its lock,
    /// then format them into the batch without it.
    fn take_from(&mut self, shared: &Shared, i: usize, batch: &mut Batch) -> u64 {
        let seen = &mut self.seen[i];
        let Some(mut reader) = seen.shared.try_reader() else {
            return 0; // a producer is evicting or growing: next turn
        };
        self.inbox.clear();
        self.entries.clear();
        while self.entries.len() < LANE_SHARE {
            let start = self.inbox.len();
            match reader.pop_into(&shared.budget, &mut self.inbox) {
                Some(kind) => self.entries.push((kind, start..self.inbox.len())),
                None => break,
            }
        }
        let got = self.entries.len() as u64;
        seen.shared.add_popped(&reader, got);
        drop(reader);
        seen.consumed += (self.inbox.len() + self.entries.len() * (HEADER + 1)) as u64;
        for i in 0..self.entries.len() {
            let (kind, range) = self.entries[i].clone();
            if kind != RAW {
                self.cache_renderer(shared, kind);
            }
            // Borrowed, not cloned: an `Arc` clone per record would write
            // the count on the line the callers read the format from.
            let render = (kind != RAW).then(|| self.renderers[usize::from(kind)].as_deref());
            let payload = &self.inbox[range];
            format(shared, render, &self.clock, payload, batch);
        }
        got
    }

    fn cache_renderer(&mut self, shared: &Shared, kind: u8) {
        let k = usize::from(kind);
        if self.renderers.get(k).map_or(true, Option::is_none) {
            self.renderers.resize(self.renderers.len().max(k + 1), None);
            self.renderers[k] = shared.renderer(kind);
        }
    }

    /// Where each lane stands now: a flush is done once every lane has been
    /// read this far.
    pub(crate) fn target(&mut self, shared: &Shared) -> Target {
        self.refresh(shared);
        self.seen
            .iter()
            .map(|s| {
                // Never block on a lane's lock here: the crash drain asks
                // for a target, and the crashing thread may hold its own
                // lane's lock (growing its ring) for good. A producer holds
                // it for microseconds otherwise: try a while, then do not
                // wait for that lane.
                let queued = (0..1000)
                    .find_map(|_| {
                        let r = s.shared.try_reader().map(|r| r.available());
                        if r.is_none() {
                            std::thread::yield_now();
                        }
                        r
                    })
                    .unwrap_or(0);
                (Arc::as_ptr(&s.shared) as usize, s.consumed + queued as u64)
            })
            .collect()
    }

    /// Whether every lane was read as far as `target`.
    pub(crate) fn reached(&self, target: &Target) -> bool {
        target.iter().all(|&(lane, at)| {
            self.seen
                .iter()
                .find(|s| Arc::as_ptr(&s.shared) as usize == lane)
                .map_or(true, |s| s.consumed >= at)
        })
    }

    /// Whether every lane is empty now.
    pub(crate) fn is_empty(&mut self, shared: &Shared) -> bool {
        self.refresh(shared);
        self.seen
            .iter()
            .all(|s| s.shared.try_reader().is_some_and(|r| r.available() == 0))
    }
}

/// Formats one record into the batch: a raw line as it is, a captured one
/// through its renderer.
fn format(
    shared: &Shared,
    render: Option<Option<&dyn Render>>,
    clock: &WallClock,
    payload: &[u8],
    batch: &mut Batch,
) {
    let level = record_level(payload);
    let Some(render) = render else {
        batch.push(&payload[1..], level);
        return;
    };
    let Some(render) = render else {
        // Cannot happen: a kind is registered before it is used.
        shared.counters.dropped(DropReason::Oversize, level);
        return;
    };
    let max = shared.limits.max_record;
    // Our own code, but a bug in it must not cost the batch.
    let fitted = catch_unwind(AssertUnwindSafe(|| {
        batch.push_with(level, |out| {
            let start = out.len();
            let cut = render.render(payload, clock, max, out);
            if out.len() - start <= max {
                return Some(cut);
            }
            // The format's own fields (static ones, the target) leave no
            // room: cut the line as the sink cuts any record too long.
            let line = out.split_off(start);
            // `truncate` starts from an empty buffer: not the batch, which
            // holds the prefix and the records before this one (fuzz:
            // `encode`, regressions/encode/deferred-truncation-clears-batch).
            let mut cut = Vec::new();
            // In `fmt().json()`'s plain shape: the layer's own fields are
            // what left no room.
            let fits = Own::PLAIN.truncate(&line, level, max, &mut cut);
            out.extend_from_slice(&cut);
            fits.then_some(true)
        })
    }));
    match fitted {
        Ok(Some(true)) => shared.counters.truncated(),
        Ok(Some(false)) => {}
        Ok(None) => {
            batch.abandon_last();
            shared.counters.dropped(DropReason::Oversize, level);
        }
        Err(panic) => {
            crate::contain::drop_payload(panic);
            batch.abandon_partial();
            shared.counters.dropped(DropReason::Oversize, level);
        }
    }
}
