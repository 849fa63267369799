//! Bad values, duplicate keys, truncation, options and the text format.

mod json_support;

use std::error::Error;
use std::fmt;

use json_support::{check_record, Capture, J};
use layer_safe::{GuardedExt, JsonLayer, JsonLayerBuilder, LineFormat, Sink, Timestamp};
use tracing_subscriber::prelude::*;

/// Runs `f` under a guarded registry with one layer built by `build`;
/// returns the records (checked) and the sink.
fn run(
    build: impl FnOnce(JsonLayerBuilder) -> JsonLayerBuilder,
    f: impl FnOnce(),
) -> (Vec<String>, Sink) {
    let out = Capture::default();
    let sink = out.sink();
    let layer = build(JsonLayer::builder(sink.clone())).build();
    let subscriber = tracing_subscriber::registry().with(layer).guarded();
    tracing::subscriber::with_default(subscriber, f);
    (out.lines(), sink)
}

fn json(f: impl FnOnce()) -> Vec<J> {
    run(|b| b, f).0.iter().map(|l| check_record(l)).collect()
}

fn field<'a>(record: &'a J, name: &str) -> &'a J {
    record
        .get("fields")
        .and_then(|f| f.get(name))
        .unwrap_or_else(|| panic!("no field {name} in {record:?}"))
}

struct PanicsInDebug;
impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("debug went wrong")
    }
}

struct FailsInDisplay;
impl fmt::Display for FailsInDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half")?;
        Err(fmt::Error)
    }
}

#[derive(Debug)]
struct Layered(&'static str, Option<Box<Layered>>);
impl fmt::Display for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
impl Error for Layered {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

#[test]
fn non_finite_floats_are_strings() {
    let r = json(|| {
        tracing::info!(
            nan = f64::NAN,
            inf = f64::INFINITY,
            ninf = f64::NEG_INFINITY
        )
    });
    assert_eq!(field(&r[0], "nan"), &J::Str("NaN".into()));
    assert_eq!(field(&r[0], "inf"), &J::Str("inf".into()));
    assert_eq!(field(&r[0], "ninf"), &J::Str("-inf".into()));
}

#[test]
fn wide_integers_are_exact() {
    let r = json(|| {
        tracing::info!(
            umax = u128::MAX,
            imin = i128::MIN,
            small = 5u128,
            neg = -5i128,
            edge = u64::MAX as u128 + 1
        )
    });
    assert_eq!(field(&r[0], "umax"), &J::Str(u128::MAX.to_string()));
    assert_eq!(field(&r[0], "imin"), &J::Str(i128::MIN.to_string()));
    assert_eq!(field(&r[0], "small"), &J::Num("5".into()));
    assert_eq!(field(&r[0], "neg"), &J::Num("-5".into()));
    assert_eq!(field(&r[0], "edge"), &J::Str("18446744073709551616".into()));
}

#[test]
fn control_characters_and_line_separators_round_trip() {
    let nasty = "a\nb\r\u{0}\u{1f}\u{1b}[2J\"\\\u{2028}\u{2029}\u{7f}é😀";
    let (lines, _) = run(|b| b, || tracing::info!(s = nasty, "{nasty}"));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("\\u2028") && lines[0].contains("\\u2029"));
    let r = check_record(&lines[0]);
    assert_eq!(field(&r, "s").str(), nasty);
    assert_eq!(field(&r, "message").str(), nasty);
}

#[test]
fn debug_that_panics_gives_a_marker() {
    let (lines, _) = run(
        |b| b,
        || {
            tracing::info!(bad = ?PanicsInDebug, good = 1u64, "still written");
            // The caller was not unwound, and is out of the logging path.
            assert!(!layer_safe::in_logging_path());
        },
    );
    let r = check_record(&lines[0]);
    assert_eq!(field(&r, "bad").str(), "<Debug panicked: debug went wrong>");
    assert_eq!(field(&r, "good"), &J::Num("1".into()));
    assert_eq!(field(&r, "message").str(), "still written");
}

#[test]
fn display_that_errors_gives_a_marker() {
    let r = json(|| tracing::info!(bad = %FailsInDisplay, "message {}", "ok"));
    assert_eq!(field(&r[0], "bad").str(), "<Debug failed>");
    let r = json(|| tracing::info!("message {}", FailsInDisplay));
    assert_eq!(field(&r[0], "message").str(), "<Debug failed>");
}

#[test]
fn panicking_span_field_and_message() {
    let r = json(|| {
        let _s = tracing::info_span!("s", bad = ?PanicsInDebug).entered();
        tracing::info!("{:?}", PanicsInDebug);
    });
    assert_eq!(
        field(&r[0], "message").str(),
        "<Debug panicked: debug went wrong>"
    );
    assert_eq!(
        r[0].get("span").unwrap().get("bad").unwrap().str(),
        "<Debug panicked: debug went wrong>"
    );
}

#[test]
fn error_with_its_source_chain() {
    let err = Layered(
        "top",
        Some(Box::new(Layered(
            "middle",
            Some(Box::new(Layered("root", None))),
        ))),
    );
    let r = json(|| {
        let _s = tracing::info_span!("s", cause = &err as &dyn Error).entered();
        tracing::error!(error = &err as &dyn Error, "failed");
    });
    let sources = J::Arr(vec![J::Str("middle".into()), J::Str("root".into())]);
    assert_eq!(field(&r[0], "error").str(), "top");
    assert_eq!(field(&r[0], "error.sources"), &sources);
    let span = r[0].get("span").unwrap();
    assert_eq!(span.get("cause").unwrap().str(), "top");
    assert_eq!(span.get("cause.sources").unwrap(), &sources);
}

/// A panic payload whose destructor panics too.
struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's destructor panicked");
        }
    }
}

#[derive(Debug)]
struct SourcePanics;
impl fmt::Display for SourcePanics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outer")
    }
}
impl Error for SourcePanics {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        std::panic::panic_any(Bomb)
    }
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_is_contained() {
    // Found by the fuzzer (target `encode`): the payload of a panic in
    // `Error::source` was dropped outside `catch_unwind`; its destructor's
    // panic unwound the encoder, and the event was lost without a count.
    struct DebugPanics;
    impl fmt::Debug for DebugPanics {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            std::panic::panic_any(Bomb)
        }
    }
    let (lines, sink) = run(
        |b| b,
        || {
            let _s = tracing::info_span!("s", cause = &SourcePanics as &dyn Error).entered();
            tracing::error!(error = &SourcePanics as &dyn Error, d = ?DebugPanics, "failed");
        },
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    let r = check_record(&lines[0]);
    assert_eq!(field(&r, "error").str(), "outer");
    assert!(r.get("fields").unwrap().get("error.sources").is_none());
    assert_eq!(field(&r, "d").str(), "<Debug panicked: (no message)>");
    assert_eq!(r.get("span").unwrap().get("cause").unwrap().str(), "outer");
    assert_eq!(sink.stats().written, 1);
}

#[test]
fn duplicate_keys_are_renamed() {
    let r = json(|| tracing::info!(message = "first", a = 1u64, a = 2u64, "second"));
    let fields = r[0].get("fields").unwrap();
    // The macro puts the formatted message first in the field set.
    assert_eq!(fields.keys(), ["message", "message.1", "a", "a.1"]);
    assert_eq!(fields.get("message").unwrap().str(), "second");
    assert_eq!(fields.get("message.1").unwrap().str(), "first");
    assert_eq!(fields.get("a.1"), Some(&J::Num("2".into())));

    // Flattened fields never take the format's keys.
    let (lines, _) = run(
        |b| b.flatten_event(true).static_field("service", "api"),
        || {
            tracing::info!(
                level = "mine",
                target = 1u64,
                service = "x",
                timestamp = 3u64,
                "flat"
            )
        },
    );
    let r = check_record(&lines[0]);
    assert_eq!(
        r.keys(),
        [
            "timestamp",
            "level",
            "service",
            "message",
            "level.1",
            "target.1",
            "service.1",
            "timestamp.1",
            "target"
        ]
    );
    assert_eq!(r.get("level").unwrap().str(), "INFO");
    assert_eq!(r.get("level.1").unwrap().str(), "mine");

    // A span field called `name` does not hide the span's name.
    let r = json(|| {
        let _s = tracing::info_span!("real", name = "field").entered();
        tracing::info!("x");
    });
    let span = r[0].get("span").unwrap();
    assert_eq!(span.get("name").unwrap().str(), "real");
    assert_eq!(span.get("name.1").unwrap().str(), "field");
}

#[test]
fn flattened_span_fields() {
    let (lines, _) = run(
        |b| {
            b.flatten_event(true)
                .flatten_span_fields(true)
                .with_current_span(false)
                .with_span_list(false)
        },
        || {
            let _a = tracing::info_span!("outer", id = 1u64, tenant = "acme").entered();
            let _b = tracing::info_span!("inner", id = 2u64).entered();
            tracing::info!(id = 0u64, "flat");
        },
    );
    let r = check_record(&lines[0]);
    assert_eq!(
        r.keys(),
        [
            "timestamp",
            "level",
            "message",
            "id",
            "id.1",
            "tenant",
            "id.2",
            "target"
        ]
    );
    assert_eq!(r.get("id"), Some(&J::Num("0".into())));
    assert_eq!(r.get("id.1"), Some(&J::Num("1".into())));
    assert_eq!(r.get("id.2"), Some(&J::Num("2".into())));
}

#[test]
fn static_fields() {
    let (lines, _) = run(
        |b| {
            b.static_field("service", "checkout")
                .static_field("version", "1.2.3")
                .static_field("pid", 42)
                .static_field(
                    "labels",
                    serde_json::json!({"team": "payments", "tier": [1, 2]}),
                )
                .static_field("level", "clash")
                .static_field("service", "replaced")
        },
        || tracing::info!("x"),
    );
    let r = check_record(&lines[0]);
    assert_eq!(
        r.keys(),
        [
            "timestamp",
            "level",
            "service",
            "version",
            "pid",
            "labels",
            "level.1",
            "fields",
            "target"
        ]
    );
    assert_eq!(r.get("service").unwrap().str(), "replaced");
    assert_eq!(r.get("pid"), Some(&J::Num("42".into())));
}

#[test]
fn timestamp_options() {
    let (lines, _) = run(
        |b| b.timestamp(Timestamp::UnixNanos),
        || tracing::info!("x"),
    );
    let r = check_record(&lines[0]);
    let J::Num(n) = r.get("timestamp").unwrap() else {
        panic!()
    };
    let nanos: u128 = n.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    assert!(now - nanos < 60_000_000_000, "{nanos} vs {now}");

    let (lines, _) = run(|b| b.timestamp(Timestamp::Off), || tracing::info!("x"));
    assert!(lines[0].starts_with(r#"{"level":"INFO","#), "{}", lines[0]);
}

#[test]
fn huge_string_is_cut_to_fit() {
    let huge = "x".repeat(100 << 20);
    let (lines, sink) = run(|b| b, || tracing::info!(huge = huge.as_str(), "big"));
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].len() < sink.max_record(),
        "{} bytes",
        lines[0].len()
    );
    let r = check_record(&lines[0]);
    let v = field(&r, "huge").str();
    let cut = 100 << 20usize;
    let kept = v.find('…').unwrap();
    assert_eq!(&v[kept..], format!("…[truncated {} bytes]", cut - kept));
    assert_eq!(sink.stats().truncated, 1);
}

#[test]
fn huge_debug_and_multibyte_cut_at_a_boundary() {
    let huge = "日".repeat(50_000);
    let (lines, sink) = run(
        |b| b.max_field_bytes(1000),
        || tracing::info!(d = ?huge, s = huge.as_str()),
    );
    let r = check_record(&lines[0]);
    let s = field(&r, "s").str();
    let kept = s.find('…').unwrap();
    assert!(kept <= 1000 && kept % 3 == 0);
    assert!(field(&r, "d").str().starts_with("\"日日"));
    assert_eq!(sink.stats().truncated, 1);
}

#[test]
fn many_long_fields_are_squeezed_to_fit() {
    let long = "y".repeat(20_000);
    let l = long.as_str();
    let (lines, sink) = run(
        |b| b,
        || {
            tracing::info!(
                a = l,
                b = l,
                c = l,
                d = l,
                e = l,
                f = l,
                g = l,
                h = l,
                "many"
            )
        },
    );
    assert!(
        lines[0].len() <= sink.max_record(),
        "{} bytes",
        lines[0].len()
    );
    let r = check_record(&lines[0]);
    for k in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        assert!(field(&r, k).str().contains("…[truncated "), "{k}");
    }
    assert_eq!(field(&r, "message").str(), "many");
    assert_eq!(sink.stats().truncated, 1);
}

#[test]
fn oversized_spans_leave_the_message_and_a_note() {
    let long = "z".repeat(40_000);
    let l = long.as_str();
    let (lines, sink) = run(
        |b| b,
        || {
            let _a = tracing::info_span!("a", v = l).entered();
            let _b = tracing::info_span!("b", v = l).entered();
            let _c = tracing::info_span!("c", v = l).entered();
            tracing::info!(x = 1u64, "survives");
        },
    );
    assert!(
        lines[0].len() <= sink.max_record(),
        "{} bytes",
        lines[0].len()
    );
    let r = check_record(&lines[0]);
    assert_eq!(field(&r, "message").str(), "survives");
    assert!(r
        .get("truncated")
        .unwrap()
        .str()
        .contains("fields and spans left out"));
    assert!(r.get("spans").is_none());
    assert_eq!(sink.stats().truncated, 1);
}

#[test]
fn explicit_parent_lists_its_own_scope() {
    // Deliberately unlike `fmt().json()`, which lists the *current* spans
    // even when the event names another parent.
    let r = json(|| {
        let parent = tracing::info_span!("parent", p = 1u64);
        let _other = tracing::info_span!("other").entered();
        tracing::info!(parent: &parent, "child of parent");
        tracing::info!(parent: None, "root event");
    });
    assert_eq!(
        r[0].get("span").unwrap().get("name").unwrap().str(),
        "parent"
    );
    let J::Arr(spans) = r[0].get("spans").unwrap() else {
        panic!()
    };
    assert_eq!(spans.len(), 1);
    assert!(r[1].get("span").is_none() && r[1].get("spans").is_none());
}

#[test]
fn text_format() {
    let (lines, _) = run(
        |b| b.format(LineFormat::Text),
        || {
            let _s = tracing::info_span!("request", method = "GET").entered();
            tracing::info!(
                user_id = 42u64,
                path = "/api/v1/items",
                latency_ms = 3.5f64,
                ok = true,
                "request handled"
            );
            tracing::warn!(evil = "a\nb\u{1b}[31m", "two\nlines");
            tracing::debug!(only = 1u64);
        },
    );
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let rest = &lines[0][28..]; // after the timestamp and a space
    assert_eq!(
        rest,
        r#" INFO request{method="GET"}: json_values: request handled user_id=42 path="/api/v1/items" latency_ms=3.5 ok=true"#
    );
    assert!(
        lines[1].ends_with(r#"json_values: two\nlines evil="a\nb\u001b[31m""#),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with("json_values: only=1"), "{}", lines[2]);
    assert!(lines.iter().all(|l| !l.contains('\u{1b}')));

    let (lines, _) = run(
        |b| b.format(LineFormat::Text).ansi(true),
        || tracing::error!("red"),
    );
    assert!(
        lines[0].contains("\u{1b}[31mERROR\u{1b}[0m"),
        "{:?}",
        lines[0]
    );
}

#[test]
fn two_layers_share_span_caches() {
    let json_out = Capture::default();
    let text_out = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(JsonLayer::new(json_out.sink()))
        .with(
            JsonLayer::builder(text_out.sink())
                .format(LineFormat::Text)
                .build(),
        )
        .guarded();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("s", k = 1u64, later = tracing::field::Empty);
        let _g = span.enter();
        span.record("later", "set");
        tracing::info!("both");
    });
    let r = check_record(&json_out.lines()[0]);
    assert_eq!(r.get("span").unwrap().get("later").unwrap().str(), "set");
    assert!(
        text_out.text().contains(r#"s{k=1 later="set"}: "#),
        "{}",
        text_out.text()
    );
}

#[test]
fn a_debug_that_logs_leaves_the_record_whole() {
    // (Whether the nested event is counted as a recursion is the guard's
    // business, tested under a global dispatcher; here the record must
    // simply come out whole.)
    struct Logs;
    impl fmt::Debug for Logs {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            tracing::warn!("logged from inside Debug");
            f.write_str("logs")
        }
    }
    let r = json(|| {
        let _s = tracing::info_span!("s", v = ?Logs).entered();
        tracing::info!(v = ?Logs, "outer");
    });
    assert_eq!(r.len(), 1);
    assert_eq!(field(&r[0], "v").str(), "logs");
    assert_eq!(r[0].get("span").unwrap().get("v").unwrap().str(), "logs");
}

#[test]
fn a_text_sink_writes_its_own_reports_as_text() {
    let out = Capture::default();
    let (sink, guard) = Sink::builder()
        .writer(out.clone())
        .max_record(180)
        .build()
        .unwrap();
    let layer = JsonLayer::builder(sink.clone())
        .format(LineFormat::Text)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .guarded_with(sink.stats_handle());
    tracing::subscriber::with_default(subscriber, || {
        // A raw JSON record too big for 180 bytes to hold its stand-in
        // and a useful prefix: dropped as oversize.
        let mut record = sink.buffer();
        record.extend_from_slice(&[b'{'; 4096]);
        assert_eq!(
            sink.submit(tracing::Level::INFO, record),
            Err(layer_safe::DropReason::Oversize)
        );
        tracing::info!("after the drop");
    });
    assert!(guard.flush(std::time::Duration::from_secs(5)));
    let text = out.text();
    let report = text
        .lines()
        .find(|l| l.contains("events dropped"))
        .unwrap_or_else(|| panic!("no report in {text}"));
    assert!(!report.contains('{'), "{report}");
    assert!(
        report.ends_with(" WARN layer_safe: events dropped oversize=1"),
        "{report}"
    );
    assert!(text.contains("after the drop"), "{text}");
}
