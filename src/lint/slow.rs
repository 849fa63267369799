//! Slow paths: one event that spent longer than the budget in the logging
//! path. Timed around the whole inner stack by [`Guarded`](crate::Guarded).

use std::time::{Duration, Instant};

use tracing_core::Metadata;

use super::local::{self, Timing};
use super::violation::ViolationKind;
use crate::site::CallSite;

/// Runs `f` (the whole stack's work for one event) and records a
/// [`SlowPath`](ViolationKind::SlowPath) violation if it took longer than the
/// budget.
///
/// Cost: one thread-local read per event; `Instant::now()` twice only on
/// timed events (every event under `Panic` or in a test scope, one in 64 per
/// thread under `Report`, none under `Ignore`); in a test scope, one read of
/// the thread's run-queue wait too, and a second only for an event over the
/// budget. An event whose `f` panics is not timed.
#[inline]
pub(crate) fn timed(meta: &'static Metadata<'static>, f: impl FnOnce()) {
    let timing = local::timing();
    if timing == Timing::Off {
        return f();
    }
    // In a test scope, time spent waiting for a CPU (preempted by other
    // processes) is not the logging path's doing: subtract it, or a loaded CI
    // machine would fail tests at random. Both readings are taken inside
    // the timed span, so only a wait within it is subtracted: a preemption
    // read outside it (the second reading was taken after the span ended)
    // made a 5 ms `Debug` pass a 1 ms budget on a loaded machine.
    let start = Instant::now();
    let waited_before = match timing {
        Timing::Precise => runqueue_wait(),
        _ => None,
    };
    f();
    check(meta, start, waited_before);
}

/// Records a slow path if the span from `start`, less the time the thread
/// waited for a CPU within it, is over the budget. The second reading of
/// that wait is taken only for a span over the budget, before the span's
/// end is read.
#[inline(never)]
fn check(meta: &'static Metadata<'static>, start: Instant, waited_before: Option<Duration>) {
    let budget = local::slow_path_budget();
    let mut elapsed = start.elapsed();
    if elapsed <= budget {
        return;
    }
    if let Some(before) = waited_before {
        if let Some(after) = runqueue_wait() {
            elapsed = start.elapsed().saturating_sub(after.saturating_sub(before));
            if elapsed <= budget {
                return;
            }
        }
    }
    super::raise::violation(
        ViolationKind::SlowPath {
            site: CallSite::from_metadata(meta),
            elapsed,
            budget,
        },
        false,
    );
}

/// How long this thread has waited, runnable, for a CPU since it started
/// (Linux: the second field of `/proc/thread-self/schedstat`). `None` where
/// that is not available. Sleeping and blocking on I/O are not included,
/// which is what makes it safe to subtract.
#[cfg(target_os = "linux")]
fn runqueue_wait() -> Option<Duration> {
    use std::cell::RefCell;
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    thread_local! {
        // Opened once per thread and re-read in place: one syscall a read.
        static SCHEDSTAT: RefCell<Option<Option<File>>> = const { RefCell::new(None) };
    }
    SCHEDSTAT
        .try_with(|cell| {
            let mut cell = cell.try_borrow_mut().ok()?;
            let file = cell
                .get_or_insert_with(|| File::open("/proc/thread-self/schedstat").ok())
                .as_ref()?;
            let mut buf = [0u8; 96];
            let n = file.read_at(&mut buf, 0).ok()?;
            let text = std::str::from_utf8(&buf[..n]).ok()?;
            let nanos: u64 = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
            Some(Duration::from_nanos(nanos))
        })
        .ok()
        .flatten()
}

#[cfg(not(target_os = "linux"))]
fn runqueue_wait() -> Option<Duration> {
    None
}
