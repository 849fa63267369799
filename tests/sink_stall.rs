//! A writer that stalls for 5 s while the caller emits 1 000 000 events.

mod sink_common;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use layer_safe::Sink;
use sink_common::{assert_invariant, record, wait_for, Capture};
use tracing_core::Level;

/// Sleeps 5 s in its first write, then works.
struct Stall {
    out: Capture,
    entered: Arc<AtomicBool>,
    over: Arc<AtomicBool>,
}

impl Write for Stall {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.entered.swap(true, SeqCst) {
            std::thread::sleep(Duration::from_secs(5));
            self.over.store(true, SeqCst);
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
    let entered = Arc::new(AtomicBool::new(false));
    let over = Arc::new(AtomicBool::new(false));
    let writer = Stall {
        out: out.clone(),
        entered: entered.clone(),
        over: over.clone(),
    };
    let (sink, guard) = Sink::builder().writer(writer).build().unwrap();

    let mut b = sink.buffer();
    record(&mut b, "first", 0);
    sink.submit(Level::INFO, b).unwrap();
    wait_for("the writer to stall", || entered.load(SeqCst));

    let start = std::time::Instant::now();
    for _ in 0..EVENTS {
        let mut b = sink.buffer();
        b.extend_from_slice(b"{\"fields\":{\"message\":\"during the stall\"}}\n");
        let _ = sink.submit(Level::INFO, b);
    }
    assert!(
        !over.load(SeqCst),
        "the caller finished its {EVENTS} events before the stall ended"
    );
    eprintln!("{EVENTS} events submitted in {:?}", start.elapsed());
    let during = sink.stats();
    assert_invariant(&during);
    assert!(during.dropped.total() > 0, "{during:?}");
    assert_eq!(during.submitted, EVENTS as u64 + 1);

    wait_for("the stall to end", || over.load(SeqCst));
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
