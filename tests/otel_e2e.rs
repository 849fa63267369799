//! Feature `opentelemetry`, part 3: OTLP/HTTP end to end, against a
//! receiver on 127.0.0.1 that the test starts itself.
//!
//! Traces go through `tracing-opentelemetry`, logs through
//! `opentelemetry-appender-tracing`, both with `opentelemetry-otlp`'s
//! HTTP/protobuf exporter and batch processors (50 ms delay), the filter at
//! `debug`. The exporter's HTTP client logs as `reqwest::blocking` does, on
//! a thread of its own (`otel_support::client`).
//!
//! - plain stack: once the application stops, the client's records keep
//!   being exported (each export logs, which makes the next export): the
//!   loop of open-telemetry/opentelemetry-rust#2877, counted over a
//!   bounded window, then the child exits;
//! - layer-safe: exactly the application's records are exported, the
//!   client's events are counted and none exported, every JSON line on
//!   stdout carries the ids of the exported span it was logged in;
//! - a receiver that refuses connections: the failure shows on stderr,
//!   rate-limited, and the exporter does not loop.
//!
//! Each runs in a child process: the subscriber and the OTel providers are
//! global. Every wait is bounded and asserts counts, never durations.

mod common;
mod otel_support;

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{
    LogExporter, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

use layer_safe::GuardedExt;
use otel_support::client::ThreadClient;
use otel_support::receiver::Receiver;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);
/// The batch processors' delay: short, so a loop shows in a short window.
const DELAY: Duration = Duration::from_millis(50);
/// The application's requests; each logs one INFO and one DEBUG record.
const REQUESTS: usize = 3;
const APP_RECORDS: usize = 2 * REQUESTS;
/// What the client says (`POST …`, `response …`, `export failed …`).
const CLIENT: [&str; 3] = ["POST http", "response '", "export failed"];

#[test]
#[ignore = "a child process's entry point, run by this file's tests"]
fn child() {
    if let Some(name) = common::scenario() {
        match name.as_str() {
            "plain" => plain(),
            "guarded" => guarded(false),
            "refused" => guarded(true),
            other => panic!("unknown scenario {other}"),
        }
    }
}

struct Pipeline {
    tracer: SdkTracerProvider,
    logger: SdkLoggerProvider,
    client: ThreadClient,
}

/// OTLP/HTTP protobuf exporters for logs and traces to `port`, through
/// one client whose thread runs `start` first.
fn pipeline(port: u16, start: fn()) -> Pipeline {
    let client = ThreadClient::spawn(start);
    let url = |signal: &str| format!("http://127.0.0.1:{port}/v1/{signal}");
    let logs = LogExporter::builder()
        .with_http()
        .with_http_client(client.clone())
        .with_retry_policy(RetryPolicy::disabled())
        .with_endpoint(url("logs"))
        .build()
        .unwrap();
    let spans = SpanExporter::builder()
        .with_http()
        .with_http_client(client.clone())
        .with_retry_policy(RetryPolicy::disabled())
        .with_endpoint(url("traces"))
        .build()
        .unwrap();
    let log_batch = opentelemetry_sdk::logs::BatchConfigBuilder::default()
        .with_scheduled_delay(DELAY)
        .build();
    let span_batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_scheduled_delay(DELAY)
        .build();
    let logger = SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(logs)
                .with_batch_config(log_batch)
                .build(),
        )
        .build();
    let tracer = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(spans)
                .with_batch_config(span_batch)
                .build(),
        )
        .build();
    Pipeline {
        tracer,
        logger,
        client,
    }
}

/// The application: a few requests, each in a span, each logging twice.
/// Returns the `trace:span` ids of its spans.
fn app() -> Vec<String> {
    (0..REQUESTS)
        .map(|i| {
            let span = tracing::info_span!("request", i);
            let _e = span.enter();
            tracing::info!("app: handling request {i}");
            tracing::debug!("app: request {i} details");
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            format!("{}:{}", sc.trace_id(), sc.span_id())
        })
        .collect()
}

fn client_records(r: &Receiver) -> usize {
    CLIENT.iter().map(|c| r.logs_with(c)).sum()
}

/// The plain stack: registry, filter, the two OTel layers.
fn plain() {
    let receiver = Receiver::start();
    let p = pipeline(receiver.port, || {});
    tracing_subscriber::registry()
        .with(EnvFilter::new("debug"))
        .with(tracing_opentelemetry::layer().with_tracer(p.tracer.tracer("app")))
        .with(OpenTelemetryTracingBridge::new(&p.logger))
        .init();
    app();
    receiver.wait_until(|got| got.logs_with("app:") >= APP_RECORDS);
    assert_eq!(receiver.logs_with("app:"), APP_RECORDS);
    // The application is done. Count what the exporter exports of itself,
    // over 20 batch delays.
    let at_stop = client_records(&receiver);
    std::thread::sleep(20 * DELAY);
    let after = client_records(&receiver);
    eprintln!("RESULT app={}", receiver.logs_with("app:"));
    eprintln!("RESULT looped={}", after - at_stop);
    eprintln!("RESULT attempts={}", p.client.attempts.load(Relaxed));
    // Stop the loop: the child ends here, its providers never shut down.
    std::process::exit(0);
}

/// The same pipeline under layer-safe, the client thread an exporter
/// thread; `refused`: nothing listens on the port.
fn guarded(refused: bool) {
    let receiver = Receiver::start();
    let port = if refused {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port() // closed when `l` drops
    } else {
        receiver.port
    };
    let p = pipeline(port, layer_safe::otel::exporter_thread);
    let (sink, guard) = layer_safe::Sink::builder().build().unwrap(); // stdout
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("debug"))
        .with(tracing_opentelemetry::layer().with_tracer(p.tracer.tracer("app")))
        .with(OpenTelemetryTracingBridge::new(&p.logger))
        .with(layer_safe::JsonLayer::new(sink))
        .guarded();
    let stats = subscriber.stats_handle();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let spans = app();
    if !refused {
        receiver
            .wait_until(|got| got.logs_with("app:") >= APP_RECORDS && got.spans.len() >= REQUESTS);
        assert_eq!(receiver.logs_with("app:"), APP_RECORDS);
        assert_eq!(receiver.got.lock().unwrap().spans.len(), REQUESTS);
    }
    // As long again as the plain stack looped, in two halves: a loop
    // would keep exporting in the second.
    std::thread::sleep(10 * DELAY);
    let settled = p.client.attempts.load(Relaxed);
    std::thread::sleep(10 * DELAY);
    eprintln!(
        "RESULT late_attempts={}",
        p.client.attempts.load(Relaxed) - settled
    );
    let got = receiver.got.lock().unwrap();
    eprintln!(
        "RESULT app={}",
        got.logs.iter().filter(|l| l.body.contains("app:")).count()
    );
    eprintln!("RESULT logs={}", got.logs.len());
    let client = got
        .logs
        .iter()
        .filter(|l| CLIENT.iter().any(|c| l.body.contains(c)));
    eprintln!("RESULT client_exported={}", client.count());
    let exported: HashSet<String> = got
        .spans
        .iter()
        .map(|(t, s, _)| format!("{t}:{s}"))
        .collect();
    let linked = got
        .logs
        .iter()
        .filter(|l| exported.contains(&format!("{}:{}", l.trace_id, l.span_id)))
        .count();
    eprintln!("RESULT logs_in_exported_spans={linked}");
    eprintln!("RESULT spans={}", spans.join(","));
    eprintln!(
        "RESULT spans_exported={}",
        spans.iter().filter(|s| exported.contains(*s)).count()
    );
    drop(got);
    eprintln!(
        "RESULT exporter_events={}",
        layer_safe::otel::exporter_events()
    );
    eprintln!("RESULT attempts={}", p.client.attempts.load(Relaxed));
    drop(guard); // the JSON lines reach stdout
    eprintln!("RESULT recursion={}", stats.snapshot().dropped.recursion);
    std::process::exit(0);
}

// ---------------------------------------------------------------- the tests

#[test]
fn the_plain_stack_exports_its_own_exports_in_a_loop() {
    let c = common::run(CHILD, "plain", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.number("app"), APP_RECORDS as u64, "{c:#?}");
    // After the application stopped, 20 batch delays brought more of the
    // client's own records: every export logged the next one's content.
    let looped = c.number("looped");
    assert!(looped >= 4, "no loop in the plain stack? {c:#?}");
    eprintln!("plain stack: {looped} records of the exporter's own exported after the app stopped");
}

/// The JSON lines of the application on the child's stdout.
fn app_lines(c: &common::Child) -> Vec<serde_json::Value> {
    c.stdout
        .lines()
        // The first may follow libtest's `test child ... ` on its line.
        .filter_map(|l| l.find("{\"timestamp\"").map(|at| &l[at..]))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("app:"))
        })
        .collect()
}

#[test]
fn under_layer_safe_exactly_the_application_is_exported_with_ids_in_every_line() {
    let c = common::run(CHILD, "guarded", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    let n = APP_RECORDS as u64;
    assert_eq!(c.number("app"), n, "{c:#?}");
    assert_eq!(c.number("logs"), n, "only the application's: {c:#?}");
    assert_eq!(c.number("client_exported"), 0, "{c:#?}");
    // Every exported record belongs to a span that was exported too.
    assert_eq!(c.number("logs_in_exported_spans"), n, "{c:#?}");
    assert_eq!(c.number("spans_exported"), REQUESTS as u64, "{c:#?}");
    assert_eq!(c.number("late_attempts"), 0, "{c:#?}");
    // The client's events were counted, not lost silently.
    let counted = c.number("exporter_events");
    assert!(counted >= 2, "{c:#?}");
    assert!(c.number("recursion") >= counted, "{c:#?}");

    let spans: HashSet<String> = c
        .result("spans")
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let lines = app_lines(&c);
    assert_eq!(lines.len(), APP_RECORDS, "{c:#?}");
    for line in &lines {
        let ids = format!(
            "{}:{}",
            line["trace_id"].as_str().expect("trace_id"),
            line["span_id"].as_str().expect("span_id")
        );
        assert!(spans.contains(&ids), "{line} is not in an exported span");
    }
    // No line of the client's own reached stdout either.
    assert!(!CLIENT.iter().any(|m| c.stdout.contains(m)), "{c:#?}");
}

#[test]
fn a_refused_connection_shows_on_stderr_rate_limited_and_does_not_loop() {
    let c = common::run(CHILD, "refused", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.number("logs"), 0, "{c:#?}");
    let status: Vec<&str> = c
        .stderr
        .lines()
        .filter(|l| l.starts_with("layer-safe: exporter thread"))
        .collect();
    assert!(
        status
            .iter()
            .any(|l| l.contains("export failed: Connection refused")),
        "{c:#?}"
    );
    // Three, then one a minute: the window is far shorter than that.
    assert!(status.len() <= 3, "{status:#?}");
    // An export of the logs and of the spans (perhaps in two batches
    // each, retries off), then nothing: a loop would try every 50 ms.
    let attempts = c.number("attempts");
    assert!((2..=4).contains(&attempts), "{c:#?}");
    assert_eq!(c.number("late_attempts"), 0, "{c:#?}");
    assert_eq!(app_lines(&c).len(), APP_RECORDS, "{c:#?}");
    assert!(!c.stdout.contains("refused"), "{c:#?}");
}
