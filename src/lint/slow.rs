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
/// thread under `Report`, none under `Ignore`). An event whose `f` panics is
/// not timed.
#[inline]
pub(crate) fn timed(meta: &'static Metadata<'static>, f: impl FnOnce()) {
    let timing = local::timing();
    if timing == Timing::Off {
        return f();
    }
    // In a test scope, time spent waiting for a CPU (preempted by other
    // processes) is not the logging path's doing: subtract it, or a loaded CI
    // machine would fail tests at random. Both readings are taken inside
    // the timed span, so only a wait within it is subtracted: a wait read
    // outside it (a preemption as the second reading's file is read) made
    // a 5 ms `Debug` pass a 1 ms budget on a loaded machine.
    let precise = timing == Timing::Precise;
    let start = Instant::now();
    let waited_before = if precise { runqueue_wait() } else { None };
    f();
    let waited = match waited_before {
        Some(before) => runqueue_wait().map(|after| after.saturating_sub(before)),
        None => None,
    };
    check(meta, start.elapsed(), waited);
}

/// Records a slow path if `elapsed`, less `waited` for a CPU within it,
/// is over the budget.
#[inline(never)]
fn check(meta: &'static Metadata<'static>, mut elapsed: Duration, waited: Option<Duration>) {
    let budget = local::slow_path_budget();
    if elapsed <= budget {
        return;
    }
    if let Some(waited) = waited {
        elapsed = elapsed.saturating_sub(waited);
        if elapsed <= budget {
            return;
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
