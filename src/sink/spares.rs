//! The spare-segment thread: makes each growing lane's next segment, and
//! writes it through once, before the lane needs it.
//!
//! A ring's memory is backed by pages only once written, and the first
//! write to each page is a page fault, a microsecond or more, on whoever
//! writes it. A lane that grows on the caller's path would take one every
//! 4 KiB: a few percent of its calls, all of its p99. So a lane asks for
//! its next segment once its newest is a quarter full (once per segment),
//! and this thread, not the worker, which may be stuck in a stalled writer,
//! makes it and leaves it in the lane's reader.
//!
//! It waits with `park`, not on a channel: a blocking channel receive
//! allocates a per-thread context, which a thread still parked at process
//! exit would leave behind. It holds the sink only weakly, and stops when
//! the `FlushGuard` does (joined there) or when the sink is dropped. A sink
//! whose worker runs on demand (fuzz targets) has no such thread: whoever
//! runs the worker makes the spares asked for first ([`Spares::make_asked`]).

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{JoinHandle, Thread};

use super::lane::LaneShared;
use super::reader::Spare;
use super::Shared;
use crate::path::{Entered, Origin};

/// The requests for spares, and the thread that serves them.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    /// Lanes waiting for their next segment: a few per lane's life.
    queue: Mutex<Vec<Arc<LaneShared>>>,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Spares {
    /// Starts the thread for `shared`. If it cannot start, requests wait
    /// forever and lanes grow on the caller's path, page faults and all.
    pub(crate) fn start(&self, shared: Weak<Shared>) {
        let spawned = std::thread::Builder::new()
            .name("layer-safe-spares".into())
            .spawn(move || run(shared));
        if let Ok(handle) = spawned {
            let _ = self.thread.set(handle.thread().clone());
            *self.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    }

    /// Asks for `lane`'s next segment (cold: once per segment).
    #[cold]
    pub(crate) fn ask(&self, lane: &Arc<LaneShared>) {
        if self.stop.load(Relaxed) {
            return;
        }
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(lane.clone());
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Stops the thread and waits for it (it finishes the segment it is
    /// making, a few milliseconds at most).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Release);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Tells the thread the sink is gone (without waiting).
    pub(crate) fn release(&self) {
        self.stop.store(true, Release);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Makes the segments asked for so far, on this thread: the thread's
    /// loop, and (a sink with no such thread) whoever runs the worker.
    pub(crate) fn make_asked(&self, shared: &Shared) {
        make(shared, &mut Vec::new());
    }
}

fn run(shared: Weak<Shared>) {
    // For its whole life: whatever the allocator or the OS does here that
    // logs is dropped and counted, never queued.
    let _path = Entered::enter(Origin::Named("sink spares"));
    let mut jobs = Vec::new();
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.spares.stop.load(Acquire) {
            return;
        }
        if !make(&shared, &mut jobs) {
            // Not holding the sink while parked: dropping it must end us.
            drop(shared);
            std::thread::park();
        }
    }
}

/// Makes the segments asked for, with `jobs` as scratch; `false` when none
/// was.
fn make(shared: &Shared, jobs: &mut Vec<Arc<LaneShared>>) -> bool {
    // Drained, not taken: the queue keeps its room, so a lane's ask (on the
    // caller's path) does not allocate once the queue has grown.
    jobs.extend(
        shared
            .spares
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..),
    );
    if jobs.is_empty() {
        return false;
    }
    let max = shared.limits.lane().max_bytes;
    for lane in jobs.drain(..) {
        let want = lane.reader().wants_spare(max);
        if let Some(cap) = want {
            prepare(shared, &lane, cap);
        }
    }
    true
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
