//! The lint seen through `layer_safe::testing`: each policy forced on the
//! test's own thread, report contents, slow paths, recursion, isolation.
//!
//! No test in this binary uses `with_default`, so the capture's process-wide
//! subscriber sees recursion as production would.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use layer_safe::testing::{self, Check};
use layer_safe::{Policy, ViolationKind};

/// Asks for the `flags` system while being formatted, and shows the answer.
struct AsksFlags;
const ASK_LINE: u32 = line!() + 3;
impl fmt::Debug for AsksFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answer = layer_safe::external_call("flags");
        f.write_str(if answer.is_ok() { "live" } else { "cached" })
    }
}

/// Reaches a code path that must never run while logging.
struct ReachesMemcached;
const ASSERT_LINE: u32 = line!() + 3;
impl fmt::Debug for ReachesMemcached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        layer_safe::assert_not_in_logging_path!("memcached");
        f.write_str("m")
    }
}

/// Logs while being formatted.
struct Chatty;
const CHATTY_LINE: u32 = line!() + 3;
impl fmt::Debug for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::debug!("formatting Chatty");
        f.write_str("Chatty")
    }
}

/// Sleeps while being formatted.
struct Slow(u64);
impl fmt::Debug for Slow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        std::thread::sleep(Duration::from_millis(self.0));
        f.write_str("slow")
    }
}

fn here(line: u32) -> String {
    format!("{}:{line}", file!())
}

#[test]
fn report_names_the_system_and_both_call_sites() {
    let mut event_line = 0;
    let captured = testing::capture(|| {
        event_line = line!() + 1;
        tracing::info!(x = ?AsksFlags, "with flags");
    });
    // The client was refused and served its local value.
    assert_eq!(captured.records.len(), 1);
    assert_eq!(captured.records[0].field("x"), Some("cached"));
    assert_eq!(captured.violations.total, 1);
    let v = &captured.violations.distinct[0];
    assert_eq!(v.count, 1);
    match &v.kind {
        ViolationKind::ExternalCall {
            system,
            call,
            logging,
        } => {
            assert_eq!(*system, "flags");
            assert_eq!((call.file(), call.line()), (Some(file!()), Some(ASK_LINE)));
            assert_eq!(
                (logging.file(), logging.line()),
                (Some(file!()), Some(event_line))
            );
            assert_eq!(logging.target(), module_path!());
        }
        other => panic!("unexpected violation {other}"),
    }
    let text = v.to_string();
    assert!(text.contains("external call to `flags`"), "{text}");
    assert!(text.contains(&here(ASK_LINE)), "{text}");
    assert!(text.contains(&here(event_line)), "{text}");
}

#[test]
fn no_false_positive_outside_the_logging_path() {
    assert!(layer_safe::external_call("flags").is_ok());
    layer_safe::assert_not_in_logging_path!();
    let captured = testing::capture(|| {
        // Flags read, and the cache reached, before logging: fine.
        assert!(layer_safe::external_call("flags").is_ok());
        layer_safe::assert_not_in_logging_path!("memcached");
        let _span = tracing::info_span!("request", id = 1).entered();
        tracing::info!(n = 3, s = "str", "ordinary");
    });
    assert!(captured.violations.is_empty(), "{}", captured.violations);
    assert_eq!(captured.records[0].message, "ordinary");
    assert_eq!(captured.records[0].field("s"), Some("str"));
}

#[test]
fn repeats_are_counted_once_per_distinct_violation() {
    let captured = testing::capture(|| {
        for _ in 0..3 {
            tracing::info!(x = ?AsksFlags);
        }
        tracing::warn!(x = ?AsksFlags); // another call site: another violation
    });
    assert_eq!(captured.violations.total, 4);
    let counts: Vec<u64> = captured.violations.iter().map(|v| v.count).collect();
    assert_eq!(counts, [3, 1]);
    assert!(captured.violations.distinct[0]
        .to_string()
        .ends_with("(3 times)"));
}

#[test]
fn assertion_reports_under_report() {
    let mut event_line = 0;
    let captured = testing::capture(|| {
        event_line = line!() + 1;
        tracing::info!(m = ?ReachesMemcached);
    });
    assert_eq!(captured.records.len(), 1, "the event is still delivered");
    let v = &captured.violations.distinct[0];
    match &v.kind {
        ViolationKind::Assertion {
            system,
            call,
            logging,
        } => {
            assert_eq!(*system, Some("memcached"));
            assert_eq!(call.line(), Some(ASSERT_LINE));
            assert_eq!(logging.line(), Some(event_line));
        }
        other => panic!("unexpected violation {other}"),
    }
    let text = v.to_string();
    assert!(text.starts_with("assert_not_in_logging_path!(\"memcached\") failed: "));
    assert!(text.contains(&here(ASSERT_LINE)) && text.contains(&here(event_line)));
}

#[test]
fn ignore_refuses_but_records_nothing() {
    let captured = Check::new().policy(Policy::Ignore).capture(|| {
        tracing::info!(x = ?AsksFlags, m = ?ReachesMemcached, s = ?Slow(3));
    });
    assert_eq!(captured.records[0].field("x"), Some("cached"));
    assert!(captured.violations.is_empty());
}

#[test]
fn panic_names_both_sites_and_leaves_the_path_consistent() {
    let mut event_line = 0;
    let captured = Check::new().policy(Policy::Panic).capture(|| {
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            event_line = line!() + 1;
            tracing::info!(x = ?AsksFlags, "first");
        }));
        let message = *panicked.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("external call to `flags`"), "{message}");
        assert!(message.contains(&here(ASK_LINE)), "{message}");
        assert!(message.contains(&here(event_line)), "{message}");
        // Out of the path, and the next event goes through.
        assert!(!layer_safe::in_logging_path());
        assert!(layer_safe::external_call("flags").is_ok());
        tracing::info!("second");
    });
    let messages: Vec<_> = captured
        .records
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(messages, ["second"]);
    // Recorded before it panicked.
    assert_eq!(captured.violations.total, 1);
}

#[test]
fn panic_on_a_failed_assertion() {
    let result = catch_unwind(|| {
        Check::new()
            .policy(Policy::Panic)
            .capture(|| tracing::info!(m = ?ReachesMemcached));
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("assert_not_in_logging_path!(\"memcached\")"));
    assert!(message.contains(&here(ASSERT_LINE)));
    assert!(!layer_safe::in_logging_path());
    // The thread's policy is its own again.
    assert_eq!(testing::capture(|| tracing::info!("x")).records.len(), 1);
}

#[test]
fn recursion_is_a_violation_and_never_panics() {
    let mut event_line = 0;
    let captured = Check::new().policy(Policy::Panic).capture(|| {
        event_line = line!() + 1;
        tracing::info!(c = ?Chatty, "outer");
    });
    assert_eq!(captured.records.len(), 1, "only the outer event");
    assert_eq!(captured.records[0].field("c"), Some("Chatty"));
    match &captured.violations.distinct[0].kind {
        ViolationKind::Recursion { outer, inner } => {
            assert_eq!(outer.line(), Some(event_line));
            assert_eq!(inner.line(), Some(CHATTY_LINE));
        }
        other => panic!("unexpected violation {other}"),
    }
}

#[test]
fn slow_debug_is_a_slow_path() {
    let mut event_line = 0;
    let captured = Check::new()
        .slow_path_budget(Duration::from_millis(1))
        .capture(|| {
            event_line = line!() + 1;
            tracing::info!(s = ?Slow(5));
            tracing::info!("fast");
        });
    assert_eq!(captured.violations.total, 1, "{}", captured.violations);
    match &captured.violations.distinct[0].kind {
        ViolationKind::SlowPath {
            site,
            elapsed,
            budget,
        } => {
            assert_eq!(site.line(), Some(event_line));
            assert!(*elapsed >= Duration::from_millis(5));
            assert_eq!(*budget, Duration::from_millis(1));
        }
        other => panic!("unexpected violation {other}"),
    }
    // A larger budget lets it pass, and so does the default: no check.
    Check::new()
        .slow_path_budget(Duration::from_secs(5))
        .assert_layer_safe(|| tracing::info!(s = ?Slow(5)));
    testing::assert_layer_safe(|| tracing::info!(s = ?Slow(5)));
}

#[test]
fn assert_layer_safe_lists_every_violation() {
    let result = catch_unwind(|| {
        Check::new()
            .slow_path_budget(Duration::from_millis(1))
            .assert_layer_safe(|| {
                tracing::info!(x = ?AsksFlags, c = ?Chatty, s = ?Slow(3));
            })
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(message.starts_with("code under test is not layer-safe: 3 layer-safe violations"));
    for needle in [
        "1. external call to `flags`",
        "2. recursion: event at ",
        "3. slow path: logging event at ",
        &here(ASK_LINE),
        &here(CHATTY_LINE),
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    assert_eq!(testing::assert_layer_safe(|| 7), 7);
}

#[test]
fn threads_are_isolated() {
    // Overlap two captures, one clean and one violating.
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |violate: bool| {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            testing::capture(|| {
                barrier.wait();
                for _ in 0..20 {
                    if violate {
                        tracing::info!(x = ?AsksFlags);
                    } else {
                        tracing::info!("clean");
                    }
                }
                barrier.wait();
            })
        })
    };
    let (dirty, clean) = (spawn(true), spawn(false));
    let (dirty, clean) = (dirty.join().unwrap(), clean.join().unwrap());
    assert_eq!(dirty.violations.total, 20);
    assert_eq!(dirty.records.len(), 20);
    assert!(clean.violations.is_empty());
    assert_eq!(clean.records.len(), 20);

    // A thread spawned inside a capture is outside it.
    let captured = testing::capture(|| {
        std::thread::spawn(|| tracing::info!(x = ?AsksFlags))
            .join()
            .unwrap();
    });
    assert!(captured.records.is_empty() && captured.violations.is_empty());
}

#[test]
fn captured_violations_stay_out_of_the_process_report() {
    struct Unique;
    impl fmt::Debug for Unique {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let _ = layer_safe::external_call("capture-only");
            f.write_str("u")
        }
    }
    let captured = testing::capture(|| tracing::info!(u = ?Unique));
    assert_eq!(captured.violations.total, 1);
    let global = layer_safe::violations();
    assert!(!global.to_string().contains("capture-only"));
}

#[test]
fn a_debug_returning_an_error_is_marked_not_fatal() {
    struct Fails;
    impl fmt::Debug for Fails {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }
    let captured = testing::capture(|| tracing::info!(f = ?Fails));
    assert_eq!(captured.records[0].field("f"), Some("<fmt::Error>"));
}
