//! Golden comparison with `tracing_subscriber::fmt().json()`: the same
//! events go through both layers of one subscriber, and the records must
//! have the same keys, in the same order, with the same values (the
//! timestamps aside, which only have to have the same shape).

mod json_support;

use std::fmt;

use json_support::{check_record, parse, Capture, J};
use layer_safe::JsonLayer;
use tracing_subscriber::prelude::*;

/// Runs `events` under a subscriber with our layer (built by `ours`) and
/// `fmt::layer().json()` (configured by `theirs`), and compares every
/// record.
macro_rules! golden {
    (ours: |$b:ident| $ours:expr, theirs: |$l:ident| $theirs:expr, $events:expr) => {{
        let ours_out = Capture::default();
        let theirs_out = Capture::default();
        let $b = JsonLayer::builder(ours_out.sink());
        let $l = tracing_subscriber::fmt::layer().json().with_writer(theirs_out.clone());
        let subscriber = tracing_subscriber::registry().with($ours.build()).with($theirs);
        tracing::subscriber::with_default(subscriber, $events);
        compare(&ours_out.lines(), &theirs_out.lines());
        ours_out.lines()
    }};
    ($events:expr) => {
        golden!(ours: |b| b, theirs: |l| l, $events)
    };
}

fn compare(ours: &[String], theirs: &[String]) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "record counts differ:\n{ours:#?}\n{theirs:#?}"
    );
    assert!(!ours.is_empty());
    for (o, t) in ours.iter().zip(theirs) {
        check_record(o);
        let mut oj = parse(o);
        let mut tj = parse(t);
        // A documented difference: `fmt().json()` repeats a `log` record's
        // target, module, file and line as `log.*` fields (it skips them only
        // when they arrive as `Debug`); we show them once, as the record's own.
        if let J::Obj(members) = &mut tj {
            for (key, value) in members.iter_mut() {
                if let (true, J::Obj(fields)) = (key == "fields", value) {
                    fields.retain(|(k, _)| !k.starts_with("log."));
                }
            }
        }
        let (ot, tt) = (oj.remove("timestamp"), tj.remove("timestamp"));
        match (ot, tt) {
            (Some(J::Str(a)), Some(J::Str(b))) => {
                assert_eq!(a.len(), b.len(), "timestamp shapes: {a} vs {b}");
                assert_eq!(a.len(), 27, "{a}");
                assert!(a.ends_with('Z') && a.as_bytes()[10] == b'T', "{a}");
                assert_eq!(o.find("\"timestamp\""), t.find("\"timestamp\""));
            }
            (None, None) => {}
            other => panic!("timestamps differ: {other:?}"),
        }
        assert_eq!(oj, tj, "\nours:   {o}\ntheirs: {t}");
    }
}

#[derive(Debug)]
#[allow(dead_code)]
struct Point {
    x: i32,
    y: &'static str,
}

struct Shown(&'static str);
impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shown: {}", self.0)
    }
}

#[test]
fn standard_event() {
    let lines = golden!(|| {
        let _s = tracing::info_span!("request", method = "GET").entered();
        tracing::info!(
            user_id = 42u64,
            path = "/api/v1/items",
            latency_ms = 3.5f64,
            ok = true,
            "request handled"
        );
    });
    assert!(
        lines[0].contains(r#""fields":{"message":"request handled","user_id":42"#),
        "{}",
        lines[0]
    );
}

#[test]
fn every_level_and_no_span() {
    golden!(|| {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!("i");
        tracing::warn!("w");
        tracing::error!("e");
        tracing::info!(only = 1, "");
        tracing::info!(no_message = true);
        tracing::info!(target: "custom::target", "with a target");
    });
}

#[test]
fn every_value_type() {
    let err = std::io::Error::other("disk on fire");
    let lines = golden!(|| {
        tracing::info!(
            u = 7u64,
            umax = u64::MAX,
            i = -7i64,
            imin = i64::MIN,
            f = 3.5f64,
            whole = 1.0f64,
            neg_zero = -0.0f64,
            big = 1e300f64,
            tiny = 1e-7f64,
            third = 1.0f64 / 3.0,
            t = true,
            no = false,
            s = "text",
            empty = "",
            bytes = &b"\x00ab\xff"[..],
            debug = ?Point { x: 1, y: "two" },
            display = %Shown("x"),
            error = &err as &dyn std::error::Error,
            u128_big = u128::MAX,
            i128_big = i128::MIN,
            "all the types"
        );
    });
    println!("{}", lines[0]);
}

#[test]
fn strings_that_need_escaping() {
    golden!(|| {
        tracing::info!(
            quote = "say \"hi\"",
            backslash = "C:\\path",
            controls = "a\nb\rc\td\u{0}e\u{1b}[31m\u{7f}",
            unicode = "日本語 ✓ 𝄞",
            separators = "a\u{2028}b\u{2029}c",
            "line one\nline two"
        );
        tracing::info!(key = ?"debug of a str has quotes");
    });
}

#[test]
fn nested_spans() {
    golden!(|| {
        let outer = tracing::info_span!("outer", tenant = "acme", id = 1u64);
        let _o = outer.enter();
        let mid = tracing::debug_span!("mid");
        let _m = mid.enter();
        let inner = tracing::warn_span!("inner", zeta = true, alpha = -1i64, Middle = "sorted");
        let _i = inner.enter();
        tracing::info!("deep");
        drop(_i);
        tracing::info!("back in mid");
    });
}

#[test]
fn span_record() {
    golden!(|| {
        let span = tracing::info_span!("job", id = 9u64, status = tracing::field::Empty, z = 1u64);
        let _g = span.enter();
        tracing::info!("before");
        span.record("status", "running");
        tracing::info!("after one record");
        span.record("status", "done");
        span.record("id", 10u64);
        tracing::info!("after more records");
    });
}

#[test]
fn span_with_fields_recorded_as_debug_and_display() {
    golden!(|| {
        let span =
            tracing::info_span!("s", p = ?Point { x: 3, y: "y" }, d = %Shown("s"), f = 0.5f64);
        let _g = span.enter();
        tracing::info!("in span");
    });
}

#[test]
fn explicit_parent_equal_to_current() {
    golden!(|| {
        let span = tracing::info_span!("parent", k = 1u64);
        let _g = span.enter();
        tracing::info!(parent: &span, "explicit");
    });
}

#[test]
fn flatten_event() {
    golden!(
        ours: |b| b.flatten_event(true),
        theirs: |l| l.flatten_event(true),
        || {
            let _s = tracing::info_span!("request", method = "GET").entered();
            tracing::info!(user_id = 42u64, ok = true, "flat");
        }
    );
}

#[test]
fn spans_off() {
    golden!(
        ours: |b| b.with_current_span(false).with_span_list(false),
        theirs: |l| l.with_current_span(false).with_span_list(false),
        || {
            let _s = tracing::info_span!("request", method = "GET").entered();
            tracing::info!("no spans shown");
        }
    );
    golden!(
        ours: |b| b.with_current_span(false),
        theirs: |l| l.with_current_span(false),
        || {
            let _s = tracing::info_span!("request", method = "GET").entered();
            tracing::info!("list only");
        }
    );
    golden!(
        ours: |b| b.with_span_list(false),
        theirs: |l| l.with_span_list(false),
        || {
            let _s = tracing::info_span!("request", method = "GET").entered();
            tracing::info!("current only");
        }
    );
}

#[test]
fn file_line_target_threads() {
    golden!(
        ours: |b| b.with_file(true).with_line_number(true).with_thread_names(true).with_thread_ids(true).with_target(false),
        theirs: |l| l.with_file(true).with_line_number(true).with_thread_names(true).with_thread_ids(true).with_target(false),
        || {
            tracing::info!("where");
        }
    );
    // Thread names alone: a named thread, and an unnamed one (whose id
    // stands in for the name).
    golden!(
        ours: |b| b.with_thread_names(true),
        theirs: |l| l.with_thread_names(true),
        || {
            tracing::info!("named test thread");
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            std::thread::Builder::new()
                .spawn(move || tracing::dispatcher::with_default(&dispatch, || tracing::info!("unnamed")))
                .unwrap()
                .join()
                .unwrap();
        }
    );
}

#[test]
fn events_from_the_log_crate() {
    // `fmt().json()` shows a `log` record's own target; so must we.
    let _ = tracing_log::LogTracer::init();
    let lines = golden!(|| {
        log::warn!(target: "legacy::module", "from log {}", 42);
    });
    assert!(
        lines[0].contains(r#""target":"legacy::module""#),
        "{}",
        lines[0]
    );
}
