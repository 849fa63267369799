//! The incident, as tests: a logging path that logs, under the GLOBAL default
//! subscriber, in a child process. Plain `tracing-subscriber` dies (or
//! deadlocks); the same stack under the guard exits 0 with the recursion
//! counted and located.

mod common;

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use layer_safe::{GuardedExt, StatsHandle};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- the app

static INNER_LINE: AtomicU32 = AtomicU32::new(0);
static OUTER_LINE: AtomicU32 = AtomicU32::new(0);

/// A cache backend that is down: every call fails.
fn cache_get(_key: &str) -> io::Result<bool> {
    Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "memcached: connection refused",
    ))
}

/// A feature-flag client that logs its backend's errors, as real ones do.
fn flag_enabled(flag: &str) -> bool {
    match cache_get(flag) {
        Ok(v) => v,
        Err(e) => {
            INNER_LINE.store(line!() + 1, Ordering::Relaxed);
            tracing::error!(target: "app::flags", flag, error = %e, "flag lookup failed");
            false
        }
    }
}

/// The layer violation: a layer that checks a feature flag on every event.
struct FlagCheckingLayer;

impl<S: Subscriber> Layer<S> for FlagCheckingLayer {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let _verbose = flag_enabled("verbose_logging");
    }
}

/// A value whose `Debug` logs: once (`depth` 1) or for ever (`u32::MAX`).
struct LogsInDebug(u32);

impl fmt::Debug for LogsInDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            let next = if self.0 == u32::MAX {
                u32::MAX
            } else {
                self.0 - 1
            };
            INNER_LINE.store(line!() + 1, Ordering::Relaxed);
            tracing::info!(target: "app::debug", nested = ?LogsInDebug(next), "logged from Debug");
        }
        f.write_str("LogsInDebug")
    }
}

/// A writer that logs every write it makes.
#[derive(Clone, Copy)]
struct LoggingWriter;

impl Write for LoggingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        INNER_LINE.store(line!() + 1, Ordering::Relaxed);
        tracing::warn!(target: "app::writer", bytes = buf.len(), "slow write");
        io::stdout().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// One callsite, reached first from inside the logging path, then outside.
fn shared_callsite() {
    tracing::info!(target: "app::shared", "shared callsite");
}

struct CallsShared;

impl fmt::Debug for CallsShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        shared_callsite();
        f.write_str("CallsShared")
    }
}

/// A value whose `Debug` panics.
struct PanicsInDebug;

impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug exploded")
    }
}

fn handle_request() {
    OUTER_LINE.store(line!() + 1, Ordering::Relaxed);
    tracing::info!(target: "app::handler", user_id = 42u64, "request handled");
}

// ---------------------------------------------------------------- the child

fn json_stdout<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_writer(io::stdout)
}

/// Installs `subscriber` globally (or scoped) and runs `work` under it.
fn install<S>(subscriber: S, scoped: bool, work: impl FnOnce())
where
    S: Subscriber + Send + Sync + 'static,
{
    if scoped {
        tracing::subscriber::with_default(subscriber, work);
    } else {
        tracing::subscriber::set_global_default(subscriber).unwrap();
        work();
    }
}

fn report(stats: &StatsHandle) {
    let s = stats.snapshot();
    eprintln!("RESULT recursion={}", s.dropped.recursion);
    eprintln!("RESULT inner_panic={}", s.dropped.inner_panic);
    eprintln!("RESULT pairs={}", s.recursions.len());
    for p in &s.recursions {
        eprintln!("RESULT pair={p}");
    }
    eprintln!(
        "RESULT inner=incident.rs:{}",
        INNER_LINE.load(Ordering::Relaxed)
    );
    eprintln!(
        "RESULT outer=incident.rs:{}",
        OUTER_LINE.load(Ordering::Relaxed)
    );
    eprintln!("RESULT in_path={}", layer_safe::in_logging_path());
}

fn run_scenario(name: &str) {
    let scoped = name.ends_with("_scoped");
    let base = name.trim_end_matches("_scoped");
    match base {
        "flag_plain" => install(
            tracing_subscriber::registry()
                .with(FlagCheckingLayer)
                .with(json_stdout()),
            false,
            handle_request,
        ),
        "flag_guarded" => {
            let s = tracing_subscriber::registry()
                .with(FlagCheckingLayer)
                .with(json_stdout())
                .guarded();
            let stats = s.stats_handle();
            install(s, scoped, || {
                handle_request();
                handle_request();
            });
            report(&stats);
        }
        "debug_unbounded_plain" => install(
            tracing_subscriber::registry().with(json_stdout()),
            false,
            || tracing::info!(value = ?LogsInDebug(u32::MAX), "request handled"),
        ),
        "debug_once_guarded" | "debug_unbounded_guarded" => {
            let depth = if base == "debug_once_guarded" {
                1
            } else {
                u32::MAX
            };
            let s = tracing_subscriber::registry().with(json_stdout()).guarded();
            let stats = s.stats_handle();
            install(s, scoped, || {
                OUTER_LINE.store(line!() + 1, Ordering::Relaxed);
                tracing::info!(value = ?LogsInDebug(depth), "request handled");
            });
            report(&stats);
        }
        "writer_plain" => install(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(|| LoggingWriter),
            ),
            false,
            handle_request,
        ),
        "writer_guarded" => {
            let s = tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(|| LoggingWriter),
                )
                .guarded();
            let stats = s.stats_handle();
            install(s, scoped, handle_request);
            report(&stats);
        }
        "span_record_plain" => install(
            tracing_subscriber::registry().with(json_stdout()),
            false,
            || {
                let span = tracing::info_span!("request", value = tracing::field::Empty);
                let _entered = span.enter();
                // The nested event reads the span's fields while `record`
                // holds them for writing.
                span.record("value", tracing::field::debug(LogsInDebug(1)));
                tracing::info!("request handled");
            },
        ),
        "span_guarded" => {
            let s = tracing_subscriber::registry().with(json_stdout()).guarded();
            let stats = s.stats_handle();
            install(s, scoped, || {
                OUTER_LINE.store(line!() + 1, Ordering::Relaxed);
                let span = tracing::info_span!("request", created = ?LogsInDebug(1), value = tracing::field::Empty);
                let _entered = span.enter();
                span.record("value", tracing::field::debug(LogsInDebug(1)));
                tracing::info!("request handled");
            });
            report(&stats);
        }
        "panic_guarded" => {
            let s = tracing_subscriber::registry().with(json_stdout()).guarded();
            let stats = s.stats_handle();
            install(s, scoped, || {
                let r = std::panic::catch_unwind(|| {
                    tracing::info!(value = ?PanicsInDebug, "this one panics");
                });
                eprintln!("RESULT panicked={}", r.is_err());
                eprintln!(
                    "RESULT in_path_after_panic={}",
                    layer_safe::in_logging_path()
                );
                handle_request();
            });
            report(&stats);
        }
        "callsite_first_in_path" => {
            let s = tracing_subscriber::registry().with(json_stdout()).guarded();
            let stats = s.stats_handle();
            install(s, scoped, || {
                tracing::info!(value = ?CallsShared, "request handled");
                shared_callsite();
                shared_callsite();
            });
            report(&stats);
        }
        other => panic!("unknown scenario {other}"),
    }
    let _ = io::stdout().flush();
}

// The entry point of every child: a no-op when run as a normal test.
common::child_entry!(run_scenario);

fn run(scenario: &str) -> common::Child {
    common::run(CHILD, scenario, TIMEOUT)
}

// ---------------------------------------------------------------- the tests

fn assert_contained(c: &common::Child, outer_events: usize) {
    assert!(c.succeeded(), "guarded child did not exit 0: {c:#?}");
    assert_eq!(c.lines_with("request handled"), outer_events, "{c:#?}");
    assert!(c.number("recursion") >= 1, "{c:#?}");
    assert_eq!(c.result("in_path").as_deref(), Some("false"));
    let pair = c.result("pair").expect("a remembered pair");
    let inner = c.result("inner").unwrap();
    let outer = c.result("outer").unwrap();
    assert!(
        pair.contains(&inner),
        "pair {pair:?} does not name the inner site {inner}"
    );
    assert!(
        pair.contains(&outer),
        "pair {pair:?} does not name the outer site {outer}"
    );
}

#[test]
fn flag_client_in_a_layer_kills_plain_tracing_subscriber() {
    let c = run("flag_plain");
    assert!(
        c.died(),
        "plain tracing-subscriber should die of the recursion: {c:#?}"
    );
}

#[test]
fn flag_client_in_a_layer_is_contained_by_the_guard() {
    let c = run("flag_guarded");
    assert_contained(&c, 2);
    // One nested error per outer event, none delivered.
    assert_eq!(c.number("recursion"), 2);
    assert_eq!(c.lines_with("flag lookup failed"), 0);
    assert_eq!(c.number("pairs"), 1);
    let pair = c.result("pair").unwrap();
    assert!(pair.contains("target app::flags"), "{pair}");
    assert!(pair.contains("target app::handler"), "{pair}");
}

#[test]
fn unbounded_debug_kills_plain_tracing_subscriber() {
    let c = run("debug_unbounded_plain");
    assert!(c.died(), "{c:#?}");
}

#[test]
fn debug_that_logs_is_contained() {
    for scenario in ["debug_once_guarded", "debug_unbounded_guarded"] {
        let c = run(scenario);
        assert_contained(&c, 1);
        assert_eq!(c.number("recursion"), 1, "{scenario}");
        assert_eq!(c.lines_with("logged from Debug"), 0, "{scenario}");
    }
}

#[test]
fn writer_that_logs_kills_plain_tracing_subscriber() {
    let c = run("writer_plain");
    assert!(c.died(), "{c:#?}");
}

#[test]
fn writer_that_logs_is_contained() {
    let c = run("writer_guarded");
    assert_contained(&c, 1);
    assert_eq!(c.lines_with("slow write"), 0);
}

#[test]
fn span_record_with_logging_debug_deadlocks_plain_json() {
    let c = common::run(CHILD, "span_record_plain", Duration::from_secs(5));
    assert!(
        !c.succeeded(),
        "plain fmt().json() is expected to deadlock or die: {c:#?}"
    );
}

#[test]
fn span_fields_that_log_are_contained() {
    let c = run("span_guarded");
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.lines_with("request handled"), 1, "{c:#?}");
    // One from the field at creation, one from `Span::record`.
    assert_eq!(c.number("recursion"), 2, "{c:#?}");
    assert_eq!(c.lines_with("logged from Debug"), 0);
    let pairs: Vec<_> = c
        .stderr
        .lines()
        .filter(|l| l.starts_with("RESULT pair="))
        .collect();
    assert!(
        pairs.iter().all(|p| p.contains("span `request`")),
        "{pairs:?}"
    );
}

/// The fmt layer panics on the panicking `Debug`: the guard contains it,
/// counts it, and leaves the path as it found it.
#[test]
fn panic_in_the_logging_path_restores_the_state() {
    let c = run("panic_guarded");
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.result("panicked").as_deref(), Some("false"));
    assert_eq!(c.number("inner_panic"), 1, "{c:#?}");
    assert_eq!(c.result("in_path_after_panic").as_deref(), Some("false"));
    assert_eq!(c.lines_with("request handled"), 1, "{c:#?}");
    assert_eq!(c.number("recursion"), 0);
}

/// Under `with_default`, tracing-core itself hands nested events to
/// `Dispatch::none` before any subscriber sees them: the guard cannot count
/// them there, but the outcome is the same: no crash, the outer event once.
#[test]
fn scoped_default_behaves_the_same() {
    for scenario in [
        "flag_guarded_scoped",
        "debug_unbounded_guarded_scoped",
        "writer_guarded_scoped",
        "span_guarded_scoped",
    ] {
        let c = run(scenario);
        assert!(c.succeeded(), "{scenario}: {c:#?}");
        let expected = if scenario.starts_with("flag") { 2 } else { 1 };
        assert_eq!(
            c.lines_with("request handled"),
            expected,
            "{scenario}: {c:#?}"
        );
        assert_eq!(c.result("in_path").as_deref(), Some("false"));
    }
}

#[test]
fn a_callsite_first_reached_in_recursion_is_not_switched_off() {
    let c = run("callsite_first_in_path");
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.number("recursion"), 1);
    assert_eq!(c.lines_with("shared callsite"), 2, "{c:#?}");
}
