//! The writers, and the sink as a `MakeWriter` for `tracing_subscriber::fmt`.

mod sink_common;

use std::fs;
use std::time::Duration;

use layer_safe::sink::writers::{append_file, rolling_by_time, RollingBySize, Rotation};
use layer_safe::Sink;
use sink_common::{assert_invariant, record, Capture, Gate};
use tracing_core::Level;
use tracing_subscriber::prelude::*;

#[test]
fn make_writer_with_a_fmt_layer() {
    let out = Capture::default();
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(sink.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(user = 42, "request handled");
        tracing::error!("it broke");
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["fields"]["message"], "request handled");
    assert_eq!(v["fields"]["user"], 42);
    assert_eq!(sink.stats().written, 2);
}

#[test]
fn make_writer_uses_the_event_level() {
    // The worker holds one record; a queue of 2 with the mark at 1 sheds
    // INFO from then on, never ERROR.
    let gate = Gate::default();
    let (sink, guard) = Sink::builder()
        .capacity(2)
        .high_water_mark(50)
        .writer(gate.clone())
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(sink.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!("held by the worker");
        gate.wait_entered();
        tracing::warn!("queued");
        tracing::info!("shed");
        tracing::error!("kept");
    });
    gate.open();
    assert!(guard.flush(Duration::from_secs(10)));
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!((s.dropped.shed, s.dropped_by_level.info), (1, 1));
    let events = gate.out.events();
    assert_eq!(events.len(), 3);
    assert!(events[2].contains("ERROR") && events[2].contains("kept"));
}

#[test]
fn rolling_by_size_through_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let files = RollingBySize::new(&path, 1000, 2).unwrap();
    let (sink, guard) = Sink::builder().writer(files).build().unwrap();
    for i in 0..300 {
        let mut b = sink.buffer();
        record(&mut b, "roll", i);
        sink.submit(Level::WARN, b).unwrap();
    }
    assert!(guard.flush(Duration::from_secs(10)));
    drop(guard);
    let rotated = |n: usize| dir.path().join(format!("app.log.{n}"));
    assert!(!rotated(3).exists(), "only 2 rotated files are kept");
    let mut kept = String::new();
    for p in [rotated(2), rotated(1), path] {
        let text = fs::read_to_string(&p).unwrap();
        assert!(
            text.len() <= 1000 && text.ends_with('\n'),
            "{p:?}: {} bytes",
            text.len()
        );
        kept.push_str(&text);
    }
    let lines: Vec<&str> = kept.lines().collect();
    assert!(lines.len() > 60);
    // The newest records, in order, each line whole.
    let first = 300 - lines.len();
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            format!("{{\"fields\":{{\"message\":\"roll-{}\"}}}}", first + k)
        );
    }
}

#[test]
fn rolling_by_time_and_append_file() {
    let dir = tempfile::tempdir().unwrap();
    let daily = rolling_by_time(dir.path(), "app.log", Rotation::NEVER, 0).unwrap();
    let (sink, guard) = Sink::builder().writer(daily).build().unwrap();
    let mut b = sink.buffer();
    record(&mut b, "timed", 0);
    sink.submit(Level::INFO, b).unwrap();
    drop(guard);
    let text = fs::read_to_string(dir.path().join("app.log")).unwrap();
    assert_eq!(text, "{\"fields\":{\"message\":\"timed-0\"}}\n");

    let path = dir.path().join("appended.log");
    fs::write(&path, "existing\n").unwrap();
    let (sink, guard) = Sink::builder()
        .writer(append_file(&path).unwrap())
        .build()
        .unwrap();
    let mut b = sink.buffer();
    record(&mut b, "appended", 0);
    sink.submit(Level::INFO, b).unwrap();
    drop(guard);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "existing\n{\"fields\":{\"message\":\"appended-0\"}}\n"
    );
}
