//! A writer that stalls while the caller emits 1 000 000 events: the
//! caller finishes while the writer is still held (were it to block, the
//! test would never get to release it).

mod sink_common;

use std::io::{self, Write};
use std::time::Duration;

use layer_safe::Sink;
use sink_common::{assert_invariant, record, Capture, Signal};
use tracing_core::Level;

/// Holds its first write until the test releases it, then works.
struct Stall {
    out: Capture,
    entered: Signal,
    release: Signal,
}

impl Write for Stall {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.entered.is_set() {
            self.entered.set();
            self.release.wait();
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stalled_writer_never_blocks_the_caller() {
    const EVENTS: usize = 1_000_000;
    const AFTER: usize = 1_000;
    let out = Capture::default();
    let (entered, release) = (Signal::default(), Signal::default());
    let writer = Stall {
        out: out.clone(),
        entered: entered.clone(),
        release: release.clone(),
    };
    let (sink, guard) = Sink::builder().writer(writer).build().unwrap();

    let mut b = sink.buffer();
    record(&mut b, "first", 0);
    sink.submit(Level::INFO, b).unwrap();
    entered.wait();

    let start = std::time::Instant::now();
    for _ in 0..EVENTS {
        let mut b = sink.buffer();
        b.extend_from_slice(b"{\"fields\":{\"message\":\"during the stall\"}}\n");
        let _ = sink.submit(Level::INFO, b);
    }
    eprintln!("{EVENTS} events submitted in {:?}", start.elapsed());
    let during = sink.stats();
    assert_invariant(&during);
    assert!(during.dropped.total() > 0, "{during:?}");
    assert_eq!(during.submitted, EVENTS as u64 + 1);

    // The caller is done, the writer still held: now end the stall.
    release.set();
    assert!(guard.flush(Duration::from_secs(30)));
    for i in 0..AFTER {
        let mut b = sink.buffer();
        record(&mut b, "after", i);
        assert_eq!(sink.submit(Level::INFO, b), Ok(()));
    }
    assert!(guard.flush(Duration::from_secs(30)));

    let s = guard.stats();
    assert_invariant(&s);
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.submitted, (EVENTS + AFTER + 1) as u64);
    assert_eq!(
        s.dropped.total(),
        during.dropped.total(),
        "nothing dropped after the stall"
    );
    let events = out.events();
    assert_eq!(events.len() as u64, s.written);
    let after: std::collections::HashSet<&str> = events
        .iter()
        .filter(|l| l.contains("after-"))
        .map(String::as_str)
        .collect();
    for i in 0..AFTER {
        let line = format!("{{\"fields\":{{\"message\":\"after-{i}\"}}}}");
        assert!(after.contains(line.as_str()), "after-{i} was written");
    }
    // The drop report is in the output and accounts for every drop.
    assert_eq!(
        out.reported_total(),
        s.dropped.total(),
        "{:?}",
        out.reported()
    );
    drop(guard);
}
