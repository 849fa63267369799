//! JSON lines on stdout with the trace context in each, plus OTLP/HTTP
//! (protobuf) traces and logs to `OTEL_EXPORTER_OTLP_ENDPOINT` (default
//! `http://127.0.0.1:4318`), with the exporter's own client kept out of
//! what is exported.
//!
//! ```text
//! cargo run --example otel --features opentelemetry
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 cargo run --example otel --features opentelemetry
//! ```
//!
//! With no collector listening, the refused connections show on stderr
//! (three, then one a minute) and nothing loops. In a service, the client is
//! usually `reqwest::blocking` (the OTLP exporter's default, whose thread
//! layer-safe recognises by name) or hyper on a runtime of its own, built
//! with `.on_thread_start(layer_safe::otel::exporter_thread)`; this example uses
//! the test suite's small client on a thread of its own, to keep the
//! dependency tree small.

#[path = "../tests/otel_support/client.rs"]
mod client;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::prelude::*;

use layer_safe::{GuardedExt, JsonLayer, Sink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:4318".into());
    let base = base.trim_end_matches('/');
    // Every request the exporters make runs on this thread, in the
    // logging path for life: what the client logs is counted, not exported.
    let http = client::ThreadClient::spawn(layer_safe::otel::exporter_thread);

    let spans = SpanExporter::builder()
        .with_http()
        .with_http_client(http.clone())
        .with_endpoint(format!("{base}/v1/traces"))
        .build()?;
    let logs = LogExporter::builder()
        .with_http()
        .with_http_client(http.clone())
        .with_endpoint(format!("{base}/v1/logs"))
        .build()?;
    let tracer = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .build();
    let logger = SdkLoggerProvider::builder()
        .with_batch_exporter(logs)
        .build();

    let (sink, guard) = Sink::builder().build()?; // stdout
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("debug"))
        .with(tracing_opentelemetry::layer().with_tracer(tracer.tracer("example")))
        .with(OpenTelemetryTracingBridge::new(&logger))
        .with(JsonLayer::builder(sink.clone()).flatten_event(true).build())
        .guarded_with(sink.stats_handle());
    tracing::subscriber::set_global_default(subscriber)?;

    for order in 0..3u64 {
        let span = tracing::info_span!("checkout", order);
        let _entered = span.enter();
        // {"timestamp":"…","level":"INFO","trace_id":"…","span_id":"…","message":"order placed",…}
        tracing::info!(items = 2 + order, "order placed");
    }

    // Export what is batched, then stop; a refused export is said on stderr.
    let _ = tracer.shutdown();
    let _ = logger.shutdown();
    drop(guard);
    eprintln!(
        "exporter events kept out of the export: {}",
        layer_safe::otel::exporter_events()
    );
    Ok(())
}
