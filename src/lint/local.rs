//! Per-thread lint state: a policy and budget a scope may force, the slow-path
//! sampling counter, and the capture of a [`testing`](crate::testing) scope.
//!
//! Tests run in parallel threads of one process, so anything a test changes
//! lives here, not in the process-wide settings: two tests never race.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use super::policy::{self, Policy};
use super::violation::{ViolationKind, ViolationSet, Violations};

/// One in this many events is timed under `Report`.
pub(crate) const SAMPLE_EVERY: u32 = 64;

/// The state read on the hot path: `Copy` cells only, so the thread-local
/// needs no destructor and each access is one TLS read.
struct Fast {
    policy: Cell<Option<Policy>>,
    budget: Cell<Option<Duration>>,
    /// Time every event, whatever the policy (a capture scope).
    always_time: Cell<bool>,
    tick: Cell<u32>,
}

thread_local! {
    static FAST: Fast = const {
        Fast {
            policy: Cell::new(None),
            budget: Cell::new(None),
            always_time: Cell::new(false),
            tick: Cell::new(0),
        }
    };
    /// Touched only when a violation happens or a scope starts or ends.
    static CAPTURE: RefCell<Option<ViolationSet>> = const { RefCell::new(None) };
}

impl Fast {
    /// This thread's policy: its override, else the process's (the one
    /// place that rule is written).
    #[inline]
    fn policy(&self) -> Policy {
        self.policy.get().unwrap_or_else(policy::global)
    }

    /// This thread's slow-path budget, by the same rule.
    fn budget(&self) -> Duration {
        self.budget.get().unwrap_or_else(policy::global_budget)
    }
}

/// The policy in force: the one last [`set_policy`](crate::set_policy), or else
/// `LAYER_SAFE_POLICY` when it holds a valid name, or else
/// [`Policy::default`].
///
/// A thread inside a [`testing`](crate::testing) scope follows the scope's
/// policy instead; this returns that one on such a thread.
///
/// # Examples
///
/// ```
/// # use layer_safe::Policy;
/// # if std::env::var_os(Policy::ENV_VAR).is_none() {
/// // Nothing set: the default for this build.
/// assert_eq!(layer_safe::policy(), Policy::default());
/// # }
/// ```
pub fn policy() -> Policy {
    FAST.try_with(Fast::policy)
        .unwrap_or_else(|_| policy::global())
}

/// The slow-path budget in force on this thread (a
/// [`testing`](crate::testing) scope may set its own).
///
/// # Examples
///
/// ```
/// assert!(layer_safe::slow_path_budget() > std::time::Duration::ZERO);
/// ```
pub fn slow_path_budget() -> Duration {
    FAST.try_with(Fast::budget)
        .unwrap_or_else(|_| policy::global_budget())
}

/// Forces `policy` on the current thread (`None`: follow the process
/// again) and returns the one it replaces. For layer-safe's own threads:
/// the sink's worker calls `set_thread_policy(Some(Policy::Report))` when it
/// starts, so a writer that calls out is recorded instead of panicking the
/// thread that writes the log.
pub(crate) fn set_thread_policy(policy: Option<Policy>) -> Option<Policy> {
    FAST.try_with(|f| f.policy.replace(policy)).ok().flatten()
}

/// Whether, and how, to time the event about to be logged on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timing {
    Off,
    /// Wall-clock time.
    On,
    /// Wall-clock time less the time spent waiting for a CPU (test scopes).
    Precise,
}

#[inline]
pub(crate) fn timing() -> Timing {
    FAST.try_with(|f| {
        if f.always_time.get() {
            return Timing::Precise;
        }
        match f.policy() {
            Policy::Panic => Timing::On,
            Policy::Ignore => Timing::Off,
            Policy::Report => {
                let n = f.tick.get().wrapping_add(1);
                f.tick.set(n);
                if n % SAMPLE_EVERY == 0 {
                    Timing::On
                } else {
                    Timing::Off
                }
            }
        }
    })
    .unwrap_or(Timing::Off)
}

/// Records `kind` in this thread's capture scope, if one is open; gives it
/// back otherwise.
pub(crate) fn capture(kind: ViolationKind) -> Option<ViolationKind> {
    let mut kind = Some(kind);
    let _ = CAPTURE.try_with(|c| {
        // `try_borrow_mut`: never panic here, even if a violation were
        // recorded while the capture is being read.
        if let Ok(mut c) = c.try_borrow_mut() {
            if let Some(set) = c.as_mut() {
                if let Some(k) = kind.take() {
                    set.add(k);
                }
            }
        }
    });
    kind
}

/// A capture scope on this thread: forces a policy and a budget, times every
/// event, and collects violations apart from the process-wide store. Dropping
/// it (unwinding included) restores what the thread had before, so scopes
/// nest.
pub(crate) struct Scope {
    saved: Option<Saved>,
    // Not Send: it must be closed on the thread that opened it.
    _not_send: std::marker::PhantomData<*const ()>,
}

struct Saved {
    policy: Option<Policy>,
    budget: Option<Duration>,
    always_time: bool,
    capture: Option<ViolationSet>,
}

impl Scope {
    /// Forces `policy` on this thread; with a `budget`, times every event
    /// against it, and without one checks no slow path at all.
    pub(crate) fn enter(policy: Policy, budget: Option<Duration>) -> Scope {
        let (p, b, t) = FAST
            .try_with(|f| {
                (
                    f.policy.replace(Some(policy)),
                    f.budget.replace(Some(budget.unwrap_or(Duration::MAX))),
                    f.always_time.replace(budget.is_some()),
                )
            })
            .unwrap_or_default();
        let capture = CAPTURE
            .try_with(|c| c.replace(Some(ViolationSet::new())))
            .ok()
            .flatten();
        Scope {
            saved: Some(Saved {
                policy: p,
                budget: b,
                always_time: t,
                capture,
            }),
            _not_send: std::marker::PhantomData,
        }
    }

    /// Closes the scope and returns what it collected.
    pub(crate) fn finish(mut self) -> Violations {
        self.restore().map(|set| set.snapshot()).unwrap_or_default()
    }

    fn restore(&mut self) -> Option<ViolationSet> {
        let saved = self.saved.take()?;
        let _ = FAST.try_with(|f| {
            f.policy.set(saved.policy);
            f.budget.set(saved.budget);
            f.always_time.set(saved.always_time);
        });
        CAPTURE
            .try_with(|c| c.replace(saved.capture))
            .ok()
            .flatten()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_policy_is_the_threads_own() {
        std::thread::spawn(|| {
            set_thread_policy(Some(Policy::Ignore));
            assert_eq!(super::policy(), Policy::Ignore);
            assert_eq!(timing(), Timing::Off);
            set_thread_policy(None);
            assert_eq!(super::policy(), policy::global());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn report_times_one_event_in_64() {
        std::thread::spawn(|| {
            set_thread_policy(Some(Policy::Report));
            let timed = (0..SAMPLE_EVERY * 3)
                .filter(|_| timing() == Timing::On)
                .count();
            assert_eq!(timed, 3);
        })
        .join()
        .unwrap();
    }
}
