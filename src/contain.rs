//! Containing user code that panics.
//!
//! A panic's payload is user code too: its destructor may panic again.
//! `let _ = catch_unwind(..)` drops the payload outside the catch, so such a
//! destructor unwinds into whoever called; everything that catches user
//! code's panics drops the payload here instead.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a panic payload: a `&str` or a `String` (what `panic!`
/// makes); `None` for any other payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Runs `f`; `None` if it panicked (the payload dropped safely).
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            drop_payload(resume_if_strict(payload));
            None
        }
    }
}

/// Lets a `Panic`-policy violation unwind on: it is meant to fail the
/// code that logged, as `debug_assert!` would. Any other panic comes back.
#[inline]
pub(crate) fn resume_if_strict(payload: Box<dyn Any + Send>) -> Box<dyn Any + Send> {
    if crate::path::strict_unwind() {
        std::panic::resume_unwind(payload);
    }
    payload
}

/// Drops a panic payload. A destructor that panics is contained, and so
/// is the payload of that panic, a few times over; a payload whose every
/// destructor panics is leaked rather than let out.
#[cold]
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    let mut payload = payload;
    for _ in 0..4 {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(again) => payload = again,
        }
    }
    std::mem::forget(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("the payload's destructor panicked");
            }
        }
    }

    #[test]
    fn a_payload_whose_destructor_panics_is_contained() {
        assert_eq!(catch(|| 1), Some(1));
        let r: Option<()> = catch(|| std::panic::panic_any(Bomb));
        assert_eq!(r, None);
    }
}
