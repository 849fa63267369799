//! Feature `opentelemetry`, part 2: threads that export telemetry are in the
//! logging path. Their events reach no layer (so they can never be exported
//! again), are counted, and WARN/ERROR are shown on stderr, rate-limited.
//!
//! Each scenario runs in a child process under the global default: the
//! exporter threads are threads of their own, which a scoped default would
//! not reach, and the stderr channel is process-wide.

mod common;

use std::fmt;
use std::time::Duration;

use common::capture::Capture;
use layer_safe::{GuardedExt, JsonLayer, Sink, StatsHandle};
use tracing_subscriber::prelude::*;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);

common::child_entry!(run_scenario);

/// Installs registry + JSON layer (to `out`), guarded, at `debug`.
fn install(out: &Capture) -> (StatsHandle, layer_safe::FlushGuard) {
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(JsonLayer::new(sink.clone()))
        .guarded_with(sink.stats_handle());
    let stats = subscriber.stats_handle();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    (stats, guard)
}

/// What an exporter's HTTP client says while it exports.
fn export_attempts(n: usize) {
    for i in 0..n {
        tracing::debug!(attempt = i, "POST /v1/logs");
        tracing::warn!(attempt = i, "export failed: connection refused");
    }
    tracing::error!("giving up on this batch");
}

fn finish(out: &Capture, stats: StatsHandle, guard: layer_safe::FlushGuard) {
    tracing::info!("app after export");
    drop(guard);
    let s = stats.snapshot();
    let text = out.text();
    // The sink says in-band how many were dropped: the count is visible
    // in the log stream itself, not only in `Stats`.
    let reported: u64 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "events dropped")
        .filter_map(|v| v["fields"]["recursion"].as_u64())
        .sum();
    eprintln!("RESULT reported={reported}");
    let exporters = [
        "POST /v1",
        "refused",
        "giving up",
        "noisy",
        "inside a Debug",
    ];
    let exported = text
        .lines()
        .filter(|l| exporters.iter().any(|e| l.contains(e)))
        .count();
    eprintln!("RESULT exported_lines={exported}");
    eprintln!("RESULT app_lines={}", text.matches("app ").count());
    eprintln!("RESULT recursion={}", s.dropped.recursion);
    eprintln!("RESULT events={}", layer_safe::otel::exporter_events());
    eprintln!("RESULT shown={}", layer_safe::otel::exporter_events_shown());
    let pair = s.recursions.first().map(|p| p.outer.to_string());
    eprintln!("RESULT outer={}", pair.unwrap_or_default());
}

/// A value whose `Debug` logs: on an exporter thread, only counted.
struct Noisy;
impl fmt::Debug for Noisy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::error!("from inside a Debug");
        f.write_str("noisy")
    }
}

fn run_scenario(name: &str) {
    let out = Capture::default();
    let (stats, guard) = install(&out);
    tracing::info!("app before export");
    match name {
        "exporter_thread" => std::thread::spawn(|| {
            layer_safe::otel::exporter_thread();
            layer_safe::otel::exporter_thread(); // twice is once
            export_attempts(5);
            tracing::warn!(value = ?Noisy, "a noisy value");
        })
        .join()
        .unwrap(),
        "suppressed" => std::thread::spawn(|| {
            {
                let _g = opentelemetry::Context::enter_telemetry_suppressed_scope();
                export_attempts(5);
                tracing::warn!(value = ?Noisy, "a noisy value");
            }
            // Out of the scope, the thread is the application's again.
            tracing::info!("app after the suppressed scope");
        })
        .join()
        .unwrap(),
        "named" => std::thread::Builder::new()
            .name(layer_safe::otel::KNOWN_THREADS[0].into())
            .spawn(|| {
                export_attempts(5);
                tracing::warn!(value = ?Noisy, "a noisy value");
                eprintln!("RESULT in_path={}", layer_safe::in_logging_path());
            })
            .unwrap()
            .join()
            .unwrap(),
        other => panic!("unknown scenario {other}"),
    }
    finish(&out, stats, guard);
}

/// 5 debug + 5 warn + 1 error + the noisy warn and the error its `Debug`
/// logs while being shown.
const EXPORTER_EVENTS: u64 = 13;

fn assert_kept_out(c: &common::Child, app_lines: u64) {
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.number("exported_lines"), 0, "{c:#?}");
    assert_eq!(c.number("app_lines"), app_lines, "{c:#?}");
    assert_eq!(c.number("reported"), EXPORTER_EVENTS, "{c:#?}");
    assert_eq!(c.number("events"), EXPORTER_EVENTS, "{c:#?}");
    assert_eq!(c.number("recursion"), EXPORTER_EVENTS, "{c:#?}");
    assert_eq!(
        c.result("outer").as_deref(),
        Some("layer-safe's exporter thread")
    );
    // 5 WARN + 1 ERROR + 1 noisy WARN to show; the limit lets 3 through.
    assert_eq!(c.number("shown"), 3, "{c:#?}");
    let shown: Vec<&str> = c
        .stderr
        .lines()
        .filter(|l| l.starts_with("layer-safe: exporter thread"))
        .collect();
    assert_eq!(shown.len(), 3, "{c:#?}");
    assert!(
        shown[0].contains("WARN")
            && shown[0].contains("export failed: connection refused attempt=0"),
        "{shown:?}"
    );
}

#[test]
fn an_exporter_thread_logs_nothing_to_the_layers_and_warnings_to_stderr() {
    let c = common::run(CHILD, "exporter_thread", TIMEOUT);
    assert_kept_out(&c, 2);
}

#[test]
fn opentelemetry_suppression_keeps_events_out_of_the_layers() {
    let c = common::run(CHILD, "suppressed", TIMEOUT);
    assert_kept_out(&c, 3);
}

#[test]
fn a_thread_named_as_reqwest_names_its_own_is_adopted() {
    let c = common::run(CHILD, "named", TIMEOUT);
    assert_kept_out(&c, 2);
    assert_eq!(c.result("in_path").as_deref(), Some("true"));
}
