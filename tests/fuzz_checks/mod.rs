//! The fuzz targets' check logic, shared by two drivers:
//!
//! - the fuzz targets (nightly, libFuzzer): this file is the root of the
//!   fuzz workspace's library `fuzz_checks` (`fuzz/Cargo.toml`), compiled
//!   without coverage instrumentation (`fuzz/coverage-scope`: the fuzzer
//!   follows layer-safe's branches, not the checks'), and each
//!   `fuzz/fuzz_targets/TARGET.rs` calls its `check`;
//! - `tests/fuzz_replay.rs` (stable `cargo test`) includes it as `mod
//!   fuzz_checks;` and replays `fuzz/seeds/TARGET/` and
//!   `fuzz/regressions/TARGET/` through the same functions.
//!
//! It lives under `tests/` because the root crate's tests cannot depend on
//! the fuzz crate (which depends on the root crate, in another workspace).
//! A directory under `tests/` is not a test target of its own.
//!
//! Each target module exposes `decode(&[u8]) -> Option<Input>` (exactly what
//! libFuzzer's `fuzz_target!(|input: Input| ..)` does with the bytes) and
//! `check(&Input, ..)`, which panics when an invariant is broken. It takes
//! the target's calls into layer-safe's generic and `#[inline]` code, made
//! where they are compiled with coverage: `calls.rs`, which each driver
//! includes.

#![allow(dead_code)]

#[path = "../json_support/mod.rs"]
pub mod json_support;

pub mod encode;
pub mod pool;
pub mod reentrancy;
pub mod sink;

use std::any::Any;
use std::cell::Cell;
use std::sync::Once;

use arbitrary::{Arbitrary, Unstructured};

/// The payload of every panic a program raises on purpose (a `Debug` that
/// panics, a writer that explodes). Any other panic is a failure.
pub struct HarnessPanic;

/// Raises a deliberate panic.
pub fn harness_panic() -> ! {
    std::panic::panic_any(HarnessPanic)
}

thread_local! {
    /// Set right before a deliberate panic with a payload of any type (a
    /// message the code under test shows, say); the hook clears it.
    static DELIBERATE: Cell<bool> = const { Cell::new(false) };
}

/// Raises a deliberate panic carrying `payload` (a `String`, a `&str`, or
/// anything else), for code that must catch it and show what it can. Only
/// `catch_unwind` in the code under test (or [`catch_any`]) may stop it;
/// the payload is not [`HarnessPanic`], so [`catch`] resumes it.
pub fn deliberate_panic<P: Any + Send>(payload: P) -> ! {
    DELIBERATE.with(|d| d.set(true));
    std::panic::panic_any(payload)
}

/// Runs `f`; `Err(message)` if it unwound, whatever the payload (whose own
/// destructor may panic: it is dropped under `catch_unwind` too).
pub fn catch_any<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".into());
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        msg
    })
}

/// Lets deliberate panics through quietly and leaves every other panic to
/// the hook that was there: libFuzzer's (print, then abort, so the input is
/// saved as a crash) or the test harness's.
pub fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let deliberate = DELIBERATE.try_with(|d| d.replace(false)).unwrap_or(false);
            if !deliberate && !info.payload().is::<HarnessPanic>() {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, swallowing a deliberate panic and resuming any other, so a
/// broken invariant (an `assert!` inside the program) is never mistaken for
/// the program's own panic.
pub fn catch(f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        resume_unless_deliberate(payload);
    }
}

/// Swallows a deliberate panic's payload, resumes any other.
pub fn resume_unless_deliberate(payload: Box<dyn Any + Send>) {
    if !payload.is::<HarnessPanic>() {
        std::panic::resume_unwind(payload);
    }
}

/// A `tracing` level, as the targets' inputs pick it.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lvl {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<Lvl> for tracing::Level {
    fn from(l: Lvl) -> tracing::Level {
        match l {
            Lvl::Trace => tracing::Level::TRACE,
            Lvl::Debug => tracing::Level::DEBUG,
            Lvl::Info => tracing::Level::INFO,
            Lvl::Warn => tracing::Level::WARN,
            Lvl::Error => tracing::Level::ERROR,
        }
    }
}

/// Decodes `bytes` exactly as `fuzz_target!(|input: T| ..)` does, so the
/// stable replay sees the inputs the fuzzer saw.
pub fn decode<T: for<'a> Arbitrary<'a>>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < T::size_hint(0).0 {
        return None;
    }
    T::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}
