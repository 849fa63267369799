//! The logging path: per-thread state that says "this thread is logging".
//!
//! Everything layer-safe guarantees rests on one question asked per event:
//! is this thread already inside the logging path? The answer lives in a
//! const-initialised thread-local, so asking costs one TLS read, and it is
//! changed only through [`Entered`], an RAII value, so it is restored on every
//! exit from the path, unwinding included (invariant 4 in ARCHITECTURE.md).

use std::cell::Cell;
use std::fmt;

use tracing_core::Metadata;

/// What the thread was doing when it entered the logging path: the call site
/// of the event or span being logged, or a named part of layer-safe (such as
/// the sink's worker thread) that stays in the path for good.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin {
    /// Not in the logging path, or in it without a known cause.
    Unknown,
    /// Logging this event or span.
    Callsite(&'static Metadata<'static>),
    /// A thread of layer-safe's own, named.
    Named(&'static str),
}

/// One thread-local for both, so entering the path costs one TLS lookup.
struct State {
    depth: Cell<u32>,
    origin: Cell<Origin>,
    /// A `Panic`-policy violation is unwinding out of the path: the
    /// encoder's panic containment lets it through. Reset when the thread
    /// next enters the path from outside, so a strict panic the application
    /// caught itself never leaks into a later event.
    strict_unwind: Cell<bool>,
}

thread_local! {
    static STATE: State = const {
        State {
            depth: Cell::new(0),
            origin: Cell::new(Origin::Unknown),
            strict_unwind: Cell::new(false),
        }
    };
}

/// Returns `true` while the current thread is inside the logging path.
///
/// The logging path is everything a subscriber wrapped by
/// [`Guarded`](crate::Guarded) runs for an event or span: every layer, every
/// field's `Debug` or `Display`, the writer, and the sink's worker thread for
/// its whole life. Code that calls out to an external system (a feature-flag
/// service, a cache, the network) asks this first, and serves a local value
/// instead when the answer is `true`; see [`external_call`](crate::external_call)
/// for the form that also reports the violation.
///
/// # Examples
///
/// ```
/// // Outside any logging, the answer is `false`.
/// assert!(!layer_safe::in_logging_path());
/// ```
#[inline]
pub fn in_logging_path() -> bool {
    // During thread teardown the TLS may be gone: treat that as "in the path"
    // so nothing logged from a destructor can start a recursion.
    STATE.try_with(|s| s.depth.get() > 0).unwrap_or(true)
}

/// How deep the current thread is in the logging path (0 outside it).
#[inline]
pub(crate) fn depth() -> u32 {
    STATE.try_with(|s| s.depth.get()).unwrap_or(u32::MAX)
}

/// What the current thread is logging, if it is in the logging path.
#[inline]
pub(crate) fn origin() -> Origin {
    STATE
        .try_with(|s| s.origin.get())
        .unwrap_or(Origin::Unknown)
}

/// Marks the panic about to start as a `Panic`-policy violation, which the
/// encoder's containment must let through (strict mode fails loudly).
pub(crate) fn arm_strict_unwind() {
    let _ = STATE.try_with(|s| s.strict_unwind.set(true));
}

/// Whether the panic being contained is a `Panic`-policy violation.
pub(crate) fn strict_unwind() -> bool {
    STATE.try_with(|s| s.strict_unwind.get()).unwrap_or(false)
}

/// RAII proof that the current thread is in the logging path.
///
/// Created by [`Entered::enter`]; dropping it (normally or while unwinding)
/// restores the depth and origin the thread had before.
#[must_use = "the thread leaves the logging path when this is dropped"]
pub(crate) struct Entered {
    prev: Origin,
    // Not Send: the value must be dropped on the thread that made it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Entered {
    /// Enters the logging path on this thread, logging `origin`.
    #[inline]
    pub(crate) fn enter(origin: Origin) -> Entered {
        let prev = STATE
            .try_with(|s| {
                let depth = s.depth.get();
                if depth == 0 {
                    s.strict_unwind.set(false);
                }
                s.depth.set(depth.saturating_add(1));
                s.origin.replace(origin)
            })
            .unwrap_or(Origin::Unknown);
        Entered {
            prev,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Entered {
    /// Enters the logging path on this thread unless it is there already:
    /// the check and the entry in one thread-local access (the guard's per
    /// event path). `None` when the thread is in the path, or tearing down.
    #[inline]
    pub(crate) fn try_enter(origin: Origin) -> Option<Entered> {
        let prev = STATE
            .try_with(|s| {
                if s.depth.get() > 0 {
                    return None;
                }
                s.strict_unwind.set(false);
                s.depth.set(1);
                s.origin.set(origin);
                // Outside the path the origin is always `Unknown` (every
                // exit restores what its entry found): no need to read it.
                Some(Origin::Unknown)
            })
            .ok()
            .flatten()?;
        Some(Entered {
            prev,
            _not_send: std::marker::PhantomData,
        })
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        let _ = STATE.try_with(|s| {
            s.depth.set(s.depth.get().saturating_sub(1));
            s.origin.set(self.prev);
        });
    }
}

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").field("depth", &depth()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_and_restore() {
        assert!(!in_logging_path());
        {
            let _a = Entered::enter(Origin::Named("a"));
            assert_eq!(depth(), 1);
            {
                let _b = Entered::enter(Origin::Named("b"));
                assert_eq!(depth(), 2);
                assert!(matches!(origin(), Origin::Named("b")));
            }
            assert!(matches!(origin(), Origin::Named("a")));
        }
        assert_eq!(depth(), 0);
        assert!(!in_logging_path());
    }

    #[test]
    fn unwinding_restores() {
        let r = std::panic::catch_unwind(|| {
            let _a = Entered::enter(Origin::Named("a"));
            panic!("boom");
        });
        assert!(r.is_err());
        assert_eq!(depth(), 0);
        assert!(matches!(origin(), Origin::Unknown));
    }

    #[test]
    fn try_enter_refuses_inside_the_path() {
        let outer = Entered::try_enter(Origin::Named("outer")).expect("outside the path");
        assert_eq!(depth(), 1);
        assert!(Entered::try_enter(Origin::Named("inner")).is_none());
        assert!(matches!(origin(), Origin::Named("outer")));
        drop(outer);
        assert_eq!(depth(), 0);
        assert!(!in_logging_path());
    }

    #[test]
    fn threads_are_isolated() {
        let _a = Entered::enter(Origin::Named("a"));
        assert!(in_logging_path());
        std::thread::spawn(|| assert!(!in_logging_path()))
            .join()
            .unwrap();
    }
}
