//! A counting global allocator for the allocation tests. A test binary
//! installs it with
//!
//! ```ignore
//! #[path = "common/alloc.rs"]
//! mod alloc;
//! #[global_allocator]
//! static GLOBAL: alloc::Counting = alloc::Counting;
//! ```
//!
//! and counts either what one thread allocates ([`on_this_thread`]), which
//! other tests running beside it cannot disturb, or what every thread does
//! ([`anywhere`]), which needs a binary of one test.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

pub struct Counting;

thread_local! {
    static THIS_THREAD: Cell<bool> = const { Cell::new(false) };
    static THREAD_COUNT: Cell<u64> = const { Cell::new(0) };
}
static ANYWHERE: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);

fn note() {
    if ANYWHERE.load(Relaxed) {
        COUNT.fetch_add(1, Relaxed);
    }
    if THIS_THREAD.try_with(Cell::get).unwrap_or(false) {
        let _ = THREAD_COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches a
// const-initialised thread-local and two atomics, none of which allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations `f` makes on this thread (other threads' are not counted;
/// one thread's counts do not overlap, so tests may run side by side).
pub fn on_this_thread(f: impl FnOnce()) -> u64 {
    let before = THREAD_COUNT.with(Cell::get);
    THIS_THREAD.with(|c| c.set(true));
    f();
    THIS_THREAD.with(|c| c.set(false));
    THREAD_COUNT.with(Cell::get) - before
}

/// Allocations made on any thread while `f` runs: only meaningful in a
/// binary whose one test is the only thing running.
pub fn anywhere(f: impl FnOnce()) -> u64 {
    let before = COUNT.load(SeqCst);
    ANYWHERE.store(true, SeqCst);
    f();
    ANYWHERE.store(false, SeqCst);
    COUNT.load(SeqCst) - before
}
