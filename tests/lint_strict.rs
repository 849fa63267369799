//! Strict mode through the real encoder. Its own binary: it uses
//! `with_default`, which would hide recursion from the capture tests.

mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use layer_safe::testing::Check;
use layer_safe::Policy;

/// A flag client that asks before calling out.
struct AsksFlags;
impl fmt::Debug for AsksFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answer = layer_safe::external_call("flags");
        f.write_str(if answer.is_ok() { "live" } else { "cached" })
    }
}

struct PanicsInDebug;
impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("an ordinary bug")
    }
}

/// Under `Panic`, a violation inside a field's `Debug` fails the code that
/// logged, through the JSON encoder's panic containment; an ordinary
/// panicking `Debug` right after is still contained as a marker value.
#[test]
fn strict_panics_escape_the_encoder_and_ordinary_ones_do_not() {
    let out = common::capture::Capture::default();
    let (dispatch, guard) = layer_safe::builder().writer(out.clone()).build().unwrap();
    Check::new().policy(Policy::Panic).capture(|| {
        tracing::dispatcher::with_default(&dispatch, || {
            let r = catch_unwind(AssertUnwindSafe(
                || tracing::info!(x = ?AsksFlags, "strict"),
            ));
            let message = *r.unwrap_err().downcast::<String>().unwrap();
            assert!(message.contains("external call to `flags`"), "{message}");
            assert!(!layer_safe::in_logging_path());
            tracing::info!(v = ?PanicsInDebug, "contained");
        });
    });
    assert!(guard.flush(Duration::from_secs(5)));
    let text = out.text();
    assert!(!text.contains(r#""message":"strict""#), "{text}");
    assert!(text.contains("<Debug panicked: an ordinary bug>"), "{text}");
}
