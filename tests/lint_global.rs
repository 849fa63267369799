//! The process-wide policy and report, with a hand-assembled `Guarded` stack.
//!
//! Each test sets the process-wide policy, so they hold `SERIAL` to run one
//! at a time; nothing else in this binary touches it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use layer_safe::{GuardedExt, Policy, ViolationKind};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A layer that formats every field, as an encoder would, into lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        struct V(String);
        impl tracing_core::field::Visit for V {
            fn record_debug(&mut self, f: &tracing_core::Field, v: &dyn fmt::Debug) {
                self.0 += &format!("{}={v:?} ", f.name());
            }
        }
        let mut v = V(String::new());
        event.record(&mut v);
        self.0.lock().unwrap().push(v.0);
    }
}

struct AsksFlags(&'static str);
impl fmt::Debug for AsksFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = layer_safe::external_call(self.0).is_ok();
        write!(f, "{}", if ok { "live" } else { "cached" })
    }
}

struct Slow;
impl fmt::Debug for Slow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        std::thread::sleep(Duration::from_millis(2));
        f.write_str("slow")
    }
}

fn count(system: &str) -> u64 {
    layer_safe::violations()
        .iter()
        .filter(|v| matches!(v.kind, ViolationKind::ExternalCall { system: s, .. } if s == system))
        .map(|v| v.count)
        .sum()
}

#[test]
fn report_records_in_the_process_report() {
    let _serial = serial();
    layer_safe::set_policy(Policy::Report);
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone()).guarded();
    let before = layer_safe::violations().total;
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(x = ?AsksFlags("flags-report"));
        tracing::info!(x = ?AsksFlags("flags-report"));
    });
    assert_eq!(count("flags-report"), 2);
    assert_eq!(layer_safe::violations().total, before + 2);
    assert_eq!(
        lines.0.lock().unwrap().as_slice(),
        ["x=cached ", "x=cached "]
    );
}

#[test]
fn ignore_records_nothing() {
    let _serial = serial();
    layer_safe::set_policy(Policy::Ignore);
    let subscriber = tracing_subscriber::registry()
        .with(Lines::default())
        .guarded();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(x = ?AsksFlags("flags-ignore"));
        tracing::info!(s = ?Slow);
    });
    assert_eq!(count("flags-ignore"), 0);
}

#[test]
fn panic_leaves_the_path_and_the_stack_consistent() {
    let _serial = serial();
    layer_safe::set_policy(Policy::Panic);
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone()).guarded();
    let stats = subscriber.stats_handle();
    tracing::subscriber::with_default(subscriber, || {
        let r = std::panic::catch_unwind(|| tracing::info!(x = ?AsksFlags("flags-panic")));
        let message = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("external call to `flags-panic`"),
            "{message}"
        );
        assert!(!layer_safe::in_logging_path(), "depth back to 0");
        tracing::info!(n = 1);
    });
    assert_eq!(count("flags-panic"), 1, "recorded before the panic");
    assert_eq!(
        lines.0.lock().unwrap().as_slice(),
        ["n=1 "],
        "next event delivered"
    );
    let s = stats.snapshot();
    assert_eq!(s.submitted, s.written + s.dropped.total() + s.in_flight);
    assert_eq!(s.dropped.recursion, 0);
}

#[test]
fn report_samples_one_event_in_64_per_thread() {
    let _serial = serial();
    layer_safe::set_policy(Policy::Report);
    let slow_paths = || -> u64 {
        layer_safe::violations()
            .iter()
            .filter(|v| v.kind.name() == "slow_path")
            .map(|v| v.count)
            .sum()
    };
    let before = slow_paths();
    // A fresh thread: its sampling counter starts at zero, so of 64 slow
    // events exactly the 64th is timed.
    std::thread::spawn(|| {
        let subscriber = tracing_subscriber::registry()
            .with(Lines::default())
            .guarded();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..64 {
                tracing::info!(s = ?Slow);
            }
        });
    })
    .join()
    .unwrap();
    assert_eq!(slow_paths() - before, 1);
}

#[test]
fn panic_times_every_event_and_never_panics_on_a_slow_path() {
    let _serial = serial();
    layer_safe::set_policy(Policy::Panic);
    let site = |v: &layer_safe::Violation| match v.kind {
        ViolationKind::SlowPath { site, .. } => site.line(),
        _ => None,
    };
    let line = std::thread::spawn(|| {
        let subscriber = tracing_subscriber::registry()
            .with(Lines::default())
            .guarded();
        tracing::subscriber::with_default(subscriber, || {
            let line = line!() + 1;
            tracing::info!(s = ?Slow);
            line
        })
    })
    .join()
    .unwrap();
    let report = layer_safe::violations();
    assert!(
        report.iter().any(|v| site(v) == Some(line)),
        "no slow path at line {line}: {report}"
    );
}
