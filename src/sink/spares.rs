//! The spare-segment thread: makes each growing lane's next segment, and
//! writes it through once, before the lane needs it.
//!
//! A ring's memory is backed by pages only once written, and the first
//! write to each page is a page fault, a microsecond or more, on whoever
//! writes it. A lane that grows on the caller's path would take one every
//! 4 KiB: a few percent of its calls, all of its p99. So a lane asks for
//! its next segment once its newest is a quarter full (one message per
//! segment), and this thread, not the worker, which may be stuck in a
//! stalled writer, makes it and leaves it in the lane's reader.
//!
//! It holds the sink only weakly: it ends when the sink is gone.

use std::sync::{Arc, Weak};

use crossbeam_channel::{Receiver, Sender};

use super::lane::LaneShared;
use super::reader::Spare;
use super::Shared;
use crate::path::{Entered, Origin};

/// Requests for spares: a few per lane's life, never blocking the caller.
const QUEUE: usize = 1024;

/// The caller's end: asks for a lane's next segment.
#[derive(Debug)]
pub(crate) struct Spares(Sender<Arc<LaneShared>>);

impl Spares {
    /// Starts the thread for `shared`. If it cannot start, asks go
    /// nowhere and lanes grow on the caller's path, page faults and all.
    pub(crate) fn start(shared: Weak<Shared>) -> Spares {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        // Detached: it ends when the sink, and with it the sender, is gone.
        let _ = std::thread::Builder::new()
            .name("layer-safe-spares".into())
            .spawn(move || run(shared, rx));
        Spares(tx)
    }

    /// Asks for `lane`'s next segment; a full queue means one is on its way
    /// for many lanes already, and this one asks again at its next segment.
    #[cold]
    pub(crate) fn ask(&self, lane: &Arc<LaneShared>) {
        // Full or gone: the lane grows on its own, as without this thread.
        let _ = self.0.try_send(lane.clone());
    }
}

fn run(shared: Weak<Shared>, rx: Receiver<Arc<LaneShared>>) {
    // For its whole life: whatever the allocator or the OS does here that
    // logs is dropped and counted, never queued.
    let _path = Entered::enter(Origin::Named("sink spares"));
    for lane in rx {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let max = shared.limits.lane().max_bytes;
        let want = lane.reader().wants_spare(max);
        if let Some(cap) = want {
            prepare(&shared, &lane, cap);
        }
    }
}

/// Makes the lane's next segment: the next size, or what the budget still
/// has (as the lane itself would get).
fn prepare(shared: &Shared, lane: &LaneShared, cap: usize) {
    let Some(cap) = shared.budget.take_up_to(cap, cap / 4) else {
        return;
    };
    let spare = Spare::new(cap);
    let mut reader = lane.reader();
    if reader.spare.is_some() {
        shared.budget.give_back(cap);
    } else {
        reader.spare = Some(spare);
    }
}
