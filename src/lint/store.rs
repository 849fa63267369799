//! The process-wide store of violations, and the hook that reports each
//! distinct one once in the log stream.

use std::sync::atomic::{AtomicBool, Ordering::AcqRel, Ordering::Acquire, Ordering::Release};
use std::sync::{Mutex, MutexGuard};

use super::violation::{Violation, ViolationKind, ViolationSet, Violations};

static STORE: Mutex<ViolationSet> = Mutex::new(ViolationSet::new());

/// Set when a new distinct violation is stored; cleared by
/// [`take_unreported`]. Lets the sink's worker check for news with one
/// atomic load.
static UNREPORTED: AtomicBool = AtomicBool::new(false);

fn lock() -> MutexGuard<'static, ViolationSet> {
    // A poisoned lock only means a thread panicked while holding it; the set
    // is updated in one step and stays consistent.
    STORE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one violation in the process-wide store.
pub(crate) fn record(kind: ViolationKind) {
    let new = lock().add(kind);
    if new {
        UNREPORTED.store(true, Release);
    }
}

/// The process-wide report: the first 64 distinct violations with their
/// counts, and the total.
///
/// Violations recorded inside a [`testing`](crate::testing) scope are not
/// here: they belong to that scope.
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # std::env::remove_var(layer_safe::Policy::ENV_VAR); // it would override Report
/// # let guard = layer_safe::builder().policy(layer_safe::Policy::Report).writer(std::io::sink()).try_init().unwrap();
/// struct Flag; // a `Display` that calls out while logging
/// impl std::fmt::Display for Flag {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         let on = layer_safe::external_call("flags").is_ok();
///         f.write_str(if on { "on" } else { "off" })
///     }
/// }
/// tracing::info!(flag = %Flag);
/// # assert!(guard.flush(Duration::from_secs(5)));
/// let report = layer_safe::violations();
/// if !report.is_empty() {
///     eprintln!("{report}");
/// }
/// assert_eq!(report.total, 1);
/// ```
pub fn violations() -> Violations {
    lock().snapshot()
}

/// `true` when [`take_unreported`] has something to return. One atomic load:
/// cheap enough to ask after every batch.
#[inline]
pub(crate) fn has_unreported() -> bool {
    UNREPORTED.load(Acquire)
}

/// **The in-band reporting hook.** Returns each distinct violation that has
/// not been returned before (with its count so far), and marks it reported.
///
/// The sink's worker calls this between batches and writes one record per
/// violation into the log stream (level `WARN`, target `layer_safe`, message
/// the violation's `Display`, plus `violation = kind.name()` and its count),
/// so each distinct violation shows up once where operators look. It returns
/// an empty `Vec` without locking when there is nothing new, and it must not
/// go through `tracing` (invariant 5): the worker is in the logging path.
pub(crate) fn take_unreported() -> Vec<Violation> {
    if !UNREPORTED.load(Acquire) || !UNREPORTED.swap(false, AcqRel) {
        return Vec::new();
    }
    lock().take_unreported()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::CallSite;

    fn mine(v: &Violation) -> bool {
        matches!(
            v.kind,
            ViolationKind::ExternalCall {
                system: "store-test",
                ..
            }
        )
    }

    #[test]
    fn each_distinct_violation_is_handed_to_the_sink_once() {
        let kind = ViolationKind::ExternalCall {
            system: "store-test",
            call: CallSite::internal("call"),
            logging: CallSite::internal("logging"),
        };
        record(kind.clone());
        record(kind.clone());
        assert!(has_unreported());
        // Other tests in this binary may record too: look for ours only.
        let first = take_unreported();
        assert_eq!(first.iter().filter(|v| mine(v)).count(), 1);
        assert_eq!(first.iter().find(|v| mine(v)).map(|v| v.count), Some(2));
        record(kind);
        assert!(!take_unreported().iter().any(mine), "reported once");
        let report = violations();
        assert_eq!(report.iter().find(|v| mine(v)).map(|v| v.count), Some(3));
    }
}
