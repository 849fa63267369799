//! The sink's global byte budget: what every lane's ring segments may take
//! in all, whatever the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering::*};

use crossbeam_utils::CachePadded;

use super::lane::INITIAL_SEGMENT;

/// The sink's global byte budget: what every lane's segments may take in
/// all, whatever the number of threads.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: CachePadded<AtomicUsize>,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Budget {
        Budget {
            limit,
            used: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Takes up to `want` bytes (in whole pages) for a lane's segment, at
    /// least `at_least`: how much it took, or `None`. A lane growing when
    /// the budget is nearly spent gets the room there is, not nothing.
    /// Segments beyond a lane's first may use three quarters of the budget:
    /// the rest stays for the first segments of other threads, so a few
    /// bursting threads cannot starve the others of any room.
    pub(crate) fn take_up_to(&self, want: usize, at_least: usize) -> Option<usize> {
        const PAGE: usize = 4096;
        let limit = if want > INITIAL_SEGMENT {
            self.limit / 4 * 3
        } else {
            self.limit
        };
        let mut took = 0;
        self.used
            .fetch_update(AcqRel, Relaxed, |u| {
                let free = limit.checked_sub(u)?;
                let n = if want <= free {
                    want
                } else {
                    free / PAGE * PAGE
                };
                took = n;
                (n >= at_least && n > 0).then_some(u + n)
            })
            .ok()?;
        Some(took)
    }

    pub(crate) fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, AcqRel);
    }

    /// Whether segments hold more than half the budget.
    pub(crate) fn pressed(&self) -> bool {
        self.used() > self.limit / 2
    }

    /// Bytes taken by segments now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }
}
