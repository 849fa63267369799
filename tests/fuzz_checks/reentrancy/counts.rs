//! Target `reentrancy`: the harness's own counts and its view of the
//! logging path (which callback of the stack a thread is in).

use super::*;

// Global, not thread-local: `OnThread` emits from other threads, all joined
// before a check reads them. One program runs at a time per process (the
// replay test serialises its tests).
pub(super) static EMITTED_OUTSIDE: AtomicU64 = AtomicU64::new(0);
pub(super) static EMITTED_INSIDE: AtomicU64 = AtomicU64::new(0);
pub(super) static FILTERED: AtomicU64 = AtomicU64::new(0);
pub(super) static RECORDS_INSIDE: AtomicU64 = AtomicU64::new(0);
pub(super) static DELIVERED: AtomicU64 = AtomicU64::new(0);
pub(super) static EXTERNAL_ALLOWED: AtomicU64 = AtomicU64::new(0);
pub(super) static EXTERNAL_REFUSED: AtomicU64 = AtomicU64::new(0);
pub(super) static STEPS: AtomicU32 = AtomicU32::new(0);
pub(super) static THREADS: AtomicU32 = AtomicU32::new(0);
pub(super) static LAYER_LOGS_ON_EVENT: AtomicU32 = AtomicU32::new(0);
pub(super) static LAYER_LOGS_ON_SPAN: AtomicU32 = AtomicU32::new(0);
pub(super) static WRITER_LOGS: AtomicU32 = AtomicU32::new(0);
pub(super) static WRITER_PANICS: AtomicBool = AtomicBool::new(false);
pub(super) static FILTER_TRACE: AtomicBool = AtomicBool::new(false);
/// Broken invariants seen inside callbacks, reported after the action: a
/// panic there could be swallowed by the program, or abort mid-unwind.
pub(super) static VIOLATIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    /// The harness's own view of the logging path: how many callbacks of the
    /// subscriber stack (layer callbacks, the writer, field `Debug`s) this
    /// thread is inside. Independent of layer-safe's state, which it checks.
    pub(super) static CALLBACK_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The thread's live spans, shared by all blocks the thread runs.
    pub(super) static SPANS: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn violation(msg: String) {
    let mut v = VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner());
    if v.len() < 16 {
        v.push(msg);
    }
}

pub(super) fn in_callback() -> bool {
    CALLBACK_DEPTH.with(|d| d.get() > 0)
}

/// Checks that layer-safe agrees with the harness about where we are.
pub(super) fn check_path_agrees(what: &str) {
    let (crate_says, harness_says) = (in_logging_path(), in_callback());
    if crate_says != harness_says {
        violation(format!(
            "in_logging_path() is {crate_says} in {what}, but the harness is {} a subscriber callback",
            if harness_says { "inside" } else { "outside" }
        ));
    }
}

/// RAII: the thread is inside a callback the subscriber stack made.
pub(super) struct Callback;

impl Callback {
    pub(super) fn enter(what: &'static str) -> Callback {
        if !in_logging_path() {
            violation(format!("{what} ran outside the logging path"));
        }
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        Callback
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Counts one event as emitted, inside or outside the logging path in the
/// harness's view (or filtered out); called right before each `event!`.
pub(super) fn emitted(level: Level) {
    let counter = if in_callback() {
        &EMITTED_INSIDE
    } else if filtered(level) {
        &FILTERED
    } else {
        &EMITTED_OUTSIDE
    };
    counter.fetch_add(1, Relaxed);
}

/// Whether the stack's filter rejects `level` in this input.
pub fn filtered(level: Level) -> bool {
    level == Level::TRACE && FILTER_TRACE.load(Relaxed)
}

pub(super) fn take_step() -> bool {
    STEPS.fetch_add(1, Relaxed) < MAX_STEPS
}
