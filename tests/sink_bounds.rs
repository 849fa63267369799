//! The bounds: overflow policies, shedding, the byte budget, the record size.

mod sink_common;

use std::time::{Duration, Instant};

use layer_safe::sink::{Overflow, SinkBuilder};
use layer_safe::{DropReason, Sink};
use sink_common::{assert_invariant, record, Gate};
use tracing_core::Level;

fn submit(sink: &Sink, level: Level, tag: &str, i: usize) -> Result<(), DropReason> {
    let mut b = sink.buffer();
    record(&mut b, tag, i);
    sink.submit(level, b)
}

/// A sink whose worker holds record `r-0` in a blocked writer, so that what
/// is submitted next stays queued until the gate opens.
fn gated(builder: SinkBuilder) -> (Sink, layer_safe::FlushGuard, Gate) {
    let gate = Gate::default();
    let (sink, guard) = builder.writer(gate.clone()).build().unwrap();
    submit(&sink, Level::WARN, "r", 0).unwrap();
    gate.wait_entered();
    (sink, guard, gate)
}

fn finish(sink: &Sink, guard: layer_safe::FlushGuard, gate: &Gate) -> Vec<String> {
    gate.open();
    assert!(guard.flush(Duration::from_secs(10)));
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!(s.in_flight, 0);
    gate.out.events()
}

fn tags(range: impl Iterator<Item = usize>) -> Vec<String> {
    range
        .map(|i| format!("{{\"fields\":{{\"message\":\"r-{i}\"}}}}"))
        .collect()
}

#[test]
fn drop_newest_keeps_the_oldest() {
    let (sink, guard, gate) = gated(Sink::builder().capacity(4));
    for i in 1..=10 {
        let expect = if i <= 4 {
            Ok(())
        } else {
            Err(DropReason::QueueFull)
        };
        assert_eq!(submit(&sink, Level::WARN, "r", i), expect, "r-{i}");
    }
    assert_eq!(sink.stats().dropped.queue_full, 6);
    assert_eq!(finish(&sink, guard, &gate), tags(0..=4));
    assert_eq!(gate.out.reported()["queue_full"], 6);
}

#[test]
fn drop_oldest_keeps_the_newest() {
    let (sink, guard, gate) = gated(Sink::builder().capacity(4).overflow(Overflow::DropOldest));
    for i in 1..=10 {
        assert_eq!(submit(&sink, Level::WARN, "r", i), Ok(()));
    }
    let s = sink.stats();
    assert_eq!((s.dropped.queue_full, s.dropped_by_level.warn), (6, 6));
    assert_eq!(
        finish(&sink, guard, &gate),
        tags([0, 7, 8, 9, 10].into_iter())
    );
}

#[test]
fn block_waits_then_drops() {
    let timeout = Duration::from_millis(30);
    let (sink, guard, gate) = gated(
        Sink::builder()
            .capacity(2)
            .overflow(Overflow::Block { timeout }),
    );
    submit(&sink, Level::WARN, "r", 1).unwrap();
    submit(&sink, Level::WARN, "r", 2).unwrap();
    let start = Instant::now();
    assert_eq!(
        submit(&sink, Level::WARN, "r", 3),
        Err(DropReason::QueueFull)
    );
    assert!(start.elapsed() >= timeout, "it waited");
    assert_eq!(finish(&sink, guard, &gate), tags(0..=2));
}

#[test]
fn block_gets_in_once_there_is_room() {
    let timeout = Duration::from_secs(30);
    let (sink, guard, gate) = gated(
        Sink::builder()
            .capacity(1)
            .overflow(Overflow::Block { timeout }),
    );
    submit(&sink, Level::WARN, "r", 1).unwrap();
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            gate.open();
        })
    };
    assert_eq!(submit(&sink, Level::WARN, "r", 2), Ok(()));
    opener.join().unwrap();
    assert_eq!(finish(&sink, guard, &gate), tags(0..=2));
}

#[test]
fn shedding_drops_below_warn_above_the_high_water_mark() {
    let (sink, guard, gate) = gated(Sink::builder().capacity(10).high_water_mark(50));
    for i in 1..=4 {
        submit(&sink, Level::INFO, "r", i).unwrap();
    }
    // Five queued is the mark: INFO and DEBUG are shed, WARN and ERROR not.
    submit(&sink, Level::WARN, "r", 5).unwrap();
    assert_eq!(submit(&sink, Level::INFO, "r", 6), Err(DropReason::Shed));
    assert_eq!(submit(&sink, Level::DEBUG, "r", 7), Err(DropReason::Shed));
    assert_eq!(submit(&sink, Level::ERROR, "r", 8), Ok(()));
    assert_eq!(submit(&sink, Level::WARN, "r", 9), Ok(()));
    let s = sink.stats();
    assert_eq!(s.dropped.shed, 2);
    assert_eq!((s.dropped_by_level.info, s.dropped_by_level.debug), (1, 1));
    let expect = tags([0, 1, 2, 3, 4, 5, 8, 9].into_iter());
    assert_eq!(finish(&sink, guard, &gate), expect);
    assert_eq!(gate.out.reported()["shed"], 2);
}

#[test]
fn shedding_by_bytes() {
    // One thread's lane may take half the 400-byte budget, and sheds above
    // half of that: records `r-10` and on are 30 bytes (36 queued, with
    // the lane's framing), so the fourth is above 100 bytes.
    let b = Sink::builder()
        .capacity(100)
        .byte_budget(400)
        .max_record(100)
        .high_water_mark(50);
    let (sink, guard, gate) = gated(b);
    let mut accepted = 0;
    while submit(&sink, Level::INFO, "r", 10 + accepted).is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 3);
    assert_eq!(submit(&sink, Level::ERROR, "r", 99), Ok(()));
    finish(&sink, guard, &gate);
}

#[test]
fn queued_bytes_never_exceed_the_budget() {
    let budget = 1000;
    let b = Sink::builder()
        .capacity(1000)
        .byte_budget(budget)
        .max_record(100)
        .high_water_mark(100);
    let (sink, guard, gate) = gated(b);
    let line = [b"x".repeat(99), b"\n".to_vec()].concat();
    let mut queued = 0;
    loop {
        let mut buf = sink.buffer();
        buf.extend_from_slice(&line);
        match sink.submit(Level::ERROR, buf) {
            Ok(()) => queued += line.len(),
            Err(reason) => {
                assert_eq!(reason, DropReason::ByteBudget);
                break;
            }
        }
    }
    // One thread's lane takes at most half the budget: four 106-byte
    // frames (the record and the lane's 6 bytes of framing) of 500.
    assert_eq!(queued, 400, "the lane's share of the budget, no more");
    assert!(queued <= budget);
    assert_eq!(sink.stats().dropped.byte_budget, 1);
    assert_eq!(finish(&sink, guard, &gate).len(), 5);
}

#[test]
fn drop_oldest_makes_room_in_the_byte_budget() {
    let b = Sink::builder()
        .capacity(1000)
        .byte_budget(340)
        .max_record(100)
        .high_water_mark(100)
        .overflow(Overflow::DropOldest);
    let (sink, guard, gate) = gated(b);
    for i in 1..=30 {
        assert_eq!(submit(&sink, Level::WARN, "r", i), Ok(()));
    }
    // `r-10` to `r-30` are 30 bytes each, 36 in the lane: the 4 newest fit
    // in the lane's 170 bytes, half the budget.
    let s = sink.stats();
    assert_eq!(s.dropped.byte_budget, 26);
    assert_eq!(
        finish(&sink, guard, &gate),
        tags([0].into_iter().chain(27..=30))
    );
}

#[test]
fn oversize_records_are_truncated_with_a_marker() {
    let out = sink_common::Capture::default();
    let (sink, guard) = Sink::builder()
        .max_record(200)
        .writer(out.clone())
        .build()
        .unwrap();
    let mut json = sink.buffer();
    json.extend_from_slice(b"{\"fields\":{\"message\":\"");
    json.extend_from_slice(&b"y".repeat(1000));
    json.extend_from_slice(b"\"}}\n");
    sink.submit(Level::ERROR, json).unwrap();
    let mut text = sink.buffer();
    text.extend_from_slice(&b"z".repeat(1000));
    sink.submit(Level::INFO, text).unwrap();
    assert!(guard.flush(Duration::from_secs(10)));
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.len() < 200));
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["fields"]["message"], "record truncated");
    assert_eq!(v["level"], "ERROR");
    assert!(v["fields"]["record_prefix"]
        .as_str()
        .unwrap()
        .starts_with("{\"fields\""));
    assert!(lines[1].starts_with("zzz") && lines[1].ends_with("…[truncated]"));
    let s = sink.stats();
    assert_eq!((s.truncated, s.written, s.dropped.total()), (2, 2, 0));
}

#[test]
fn a_record_too_big_to_mark_is_dropped_as_oversize() {
    let out = sink_common::Capture::default();
    let (sink, guard) = Sink::builder()
        .max_record(64)
        .writer(out.clone())
        .build()
        .unwrap();
    let mut json = sink.buffer();
    json.extend_from_slice(b"{\"fields\":{\"message\":\"");
    json.extend_from_slice(&b"y".repeat(100));
    json.extend_from_slice(b"\"}}\n");
    assert_eq!(sink.submit(Level::INFO, json), Err(DropReason::Oversize));
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(sink.stats().dropped.oversize, 1);
    assert_eq!(out.reported()["oversize"], 1);
}

#[test]
fn a_missing_newline_is_added() {
    let out = sink_common::Capture::default();
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    let mut b = sink.buffer();
    b.extend_from_slice(b"no newline");
    sink.submit(Level::INFO, b).unwrap();
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(out.text(), "no newline\n");
}

#[test]
fn an_empty_record_writes_nothing() {
    let out = sink_common::Capture::default();
    let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
    assert_eq!(sink.submit(Level::INFO, sink.buffer()), Ok(()));
    assert!(guard.flush(Duration::from_secs(10)));
    let s = sink.stats();
    assert_eq!((s.submitted, s.written, s.bytes_written), (1, 1, 0));
    assert_eq!(out.text(), "");
}
