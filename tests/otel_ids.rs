//! Feature `opentelemetry`, part 1: the trace context of the event's span in
//! every JSON line, read from `tracing-opentelemetry`.

mod common;

use common::capture::Capture;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

use layer_safe::{GuardedExt, JsonLayer, JsonLayerBuilder, Sink};

/// Runs `f` under registry + tracing-opentelemetry + a JSON layer built by
/// `build`; returns the lines, parsed.
fn lines(build: impl FnOnce(JsonLayerBuilder) -> JsonLayerBuilder, f: impl FnOnce()) -> Vec<Value> {
    let out = Capture::default();
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(build(JsonLayer::builder(sink)).build())
        .guarded();
    tracing::subscriber::with_default(subscriber, f);
    drop(guard);
    out.text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The (trace id, span id) of a `tracing` span, as W3C hex.
fn ids(span: &tracing::Span) -> (String, String) {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

fn get<'a>(line: &'a Value, key: &str) -> Option<&'a str> {
    line.get(key).and_then(Value::as_str)
}

#[test]
fn every_line_carries_the_ids_of_its_span() {
    let mut want = Vec::new();
    let lines = lines(
        |b| b,
        || {
            tracing::info!("outside");
            let outer = tracing::info_span!("outer");
            let _o = outer.enter();
            tracing::info!("in outer");
            tracing::info!("in outer again"); // from the cached frame
            want.push(ids(&outer));
            let inner = tracing::info_span!("inner", user = 7);
            {
                let _i = inner.enter();
                tracing::info!("in inner");
            }
            want.push(ids(&inner));
            tracing::info!("back in outer");
            // An explicit parent is looked up, not the current span.
            tracing::info!(parent: &inner, "explicit parent");
        },
    );
    assert_eq!(lines.len(), 6);
    assert_eq!(get(&lines[0], "trace_id"), None);
    assert_eq!(get(&lines[0], "span_id"), None);
    let (outer, inner) = (&want[0], &want[1]);
    let at = |i: usize| {
        (
            get(&lines[i], "trace_id").unwrap().to_owned(),
            get(&lines[i], "span_id").unwrap().to_owned(),
        )
    };
    for i in [1, 2, 4] {
        assert_eq!(&at(i), outer, "{}", lines[i]);
    }
    assert_eq!(&at(3), inner);
    assert_eq!(&at(5), inner);
    // One trace, two spans; W3C hex, 32 and 16 digits.
    assert_eq!(outer.0, inner.0);
    assert_ne!(outer.1, inner.1);
    assert_eq!((outer.0.len(), outer.1.len()), (32, 16));
    assert!(outer
        .0
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn keys_are_configurable_reserved_and_can_be_turned_off() {
    let lines_custom = lines(
        |b| b.trace_id_keys("traceId", "spanId").flatten_event(true),
        || {
            let _s = tracing::info_span!("s").entered();
            tracing::info!(traceId = "user's", trace_id = 1, "x");
        },
    );
    let line = &lines_custom[0];
    assert_eq!(get(line, "traceId").map(str::len), Some(32), "{line}");
    assert_eq!(get(line, "spanId").map(str::len), Some(16), "{line}");
    // The user's field is renamed, never a second `traceId`.
    assert_eq!(get(line, "traceId.1"), Some("user's"), "{line}");
    assert_eq!(line.get("trace_id"), Some(&Value::from(1)), "{line}");

    let reserved = lines(
        |b| b.flatten_event(true).static_field("span_id", "static"),
        || {
            let _s = tracing::info_span!("s").entered();
            tracing::info!(trace_id = "field", "x");
        },
    );
    let line = &reserved[0];
    assert_eq!(get(line, "trace_id").map(str::len), Some(32), "{line}");
    assert_eq!(get(line, "trace_id.1"), Some("field"), "{line}");
    assert_eq!(get(line, "span_id").map(str::len), Some(16), "{line}");
    assert_eq!(get(line, "span_id.1"), Some("static"), "{line}");

    let off = lines(
        |b| b.with_trace_ids(false),
        || {
            let _s = tracing::info_span!("s").entered();
            tracing::info!("x");
        },
    );
    assert_eq!(get(&off[0], "trace_id"), None);
    assert_eq!(get(&off[0], "span_id"), None);
}

#[test]
fn ids_without_span_output_and_nothing_without_the_otel_layer() {
    let lines_bare = lines(
        |b| b.with_current_span(false).with_span_list(false),
        || {
            let _s = tracing::info_span!("s").entered();
            tracing::info!("x");
        },
    );
    assert_eq!(get(&lines_bare[0], "span"), None);
    assert_eq!(get(&lines_bare[0], "trace_id").map(str::len), Some(32));

    // No tracing-opentelemetry layer: no context, no member.
    let out = Capture::default();
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(JsonLayer::new(sink))
        .guarded();
    tracing::subscriber::with_default(subscriber, || {
        let _s = tracing::info_span!("s").entered();
        tracing::info!("x");
    });
    drop(guard);
    let text = out.text();
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains("trace_id"), "{text}");
}
