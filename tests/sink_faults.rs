//! Writers that fail, panic, or get stuck: contained, counted, reported.

mod sink_common;

use std::io::{self, Write};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use layer_safe::{DropReason, Sink};
use sink_common::{assert_invariant, record, Capture, Flaky, Signal};
use tracing_core::Level;

fn submit_n(sink: &Sink, tag: &str, n: usize) {
    for i in 0..n {
        let mut b = sink.buffer();
        record(&mut b, tag, i);
        assert_eq!(sink.submit(Level::WARN, b), Ok(()));
    }
}

/// Checks a writer that failed its first writes and then recovered.
fn check_recovery(w: Flaky, failures: u64) {
    let out = w.out.clone();
    let (sink, guard) = Sink::builder().writer(w).build().unwrap();
    submit_n(&sink, "before", 20);
    // The first flush may see the failures; the second sees a healthy writer.
    guard.flush(Duration::from_secs(10));
    submit_n(&sink, "after", 20);
    assert!(guard.flush(Duration::from_secs(10)));

    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.writer_errors, failures);
    assert!(s.dropped.writer_error > 0, "a batch was given up: {s:?}");
    assert_eq!(s.written + s.dropped.writer_error, 40, "{s:?}");
    let events = out.events();
    assert_eq!(events.len() as u64, s.written);
    assert!(events.iter().filter(|l| l.contains("after-")).count() == 20);
    // The loss is reported in-band once the writer works again.
    let reported = out.reported();
    assert_eq!(
        reported["writer_error"], s.dropped.writer_error,
        "{reported:?}"
    );
    drop(guard);
}

#[test]
fn a_failing_writer_then_recovery() {
    // Three tries per batch: the first batch is lost, the next one gets
    // through on its second try.
    check_recovery(Flaky::failing(4), 4);
}

#[test]
fn a_panicking_writer_is_contained() {
    check_recovery(Flaky::panicking(4), 4);
}

/// A panic payload, and an error, whose destructors panic.
struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a destructor panicked");
        }
    }
}

#[derive(Debug)]
struct NastyError(#[allow(dead_code)] Bomb);
impl std::fmt::Display for NastyError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("an error's Display panicked")
    }
}
impl std::error::Error for NastyError {}

impl std::fmt::Debug for Bomb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bomb")
    }
}

/// Fails its first `n` writes at its worst: panics with a payload whose
/// destructor panics, or returns an error whose `Display` and destructor
/// panic.
#[derive(Clone)]
struct Nasty {
    out: Capture,
    calls: Arc<std::sync::atomic::AtomicUsize>,
    n: usize,
}

impl Write for Nasty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let call = self.calls.fetch_add(1, SeqCst);
        if call < self.n {
            if call % 2 == 0 {
                std::panic::panic_any(Bomb);
            }
            return Err(io::Error::other(NastyError(Bomb)));
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_whose_failures_panic_again_is_contained() {
    // Found by the fuzz target sink: these unwound the worker past its
    // error handling (the failure went uncounted, the batch was lost as
    // if the worker had panicked), and the fourth stopped the worker for
    // good: nothing was written again.
    let w = Nasty {
        out: Capture::default(),
        calls: Arc::default(),
        n: 6,
    };
    let out = w.out.clone();
    let (sink, guard) = Sink::builder().writer(w).build().unwrap();
    for round in 0..2 {
        // A batch fails three times and is given up.
        submit_n(&sink, &format!("lost{round}"), 10);
        guard.flush(Duration::from_secs(10));
    }
    submit_n(&sink, "after", 10);
    assert!(guard.flush(Duration::from_secs(10)), "the worker is alive");
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!(s.writer_errors, 6, "{s:?}");
    assert!(s.dropped.writer_error > 0, "a batch was given up: {s:?}");
    assert_eq!(s.written + s.dropped.writer_error, 30, "{s:?}");
    let events = out.events();
    assert_eq!(events.len() as u64, s.written);
    assert_eq!(events.iter().filter(|l| l.contains("after-")).count(), 10);
    drop(guard);
}

/// A partial write, then failures: the cut line is ended before the next
/// record, so every later record starts a line.
#[test]
fn a_partial_write_then_failure_keeps_lines_whole() {
    struct Partial {
        out: Capture,
        calls: usize,
    }
    impl Write for Partial {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            match self.calls {
                1 => self.out.write(&buf[..buf.len().min(5)]),
                2..=4 => Err(io::Error::new(io::ErrorKind::BrokenPipe, "EPIPE")),
                _ => self.out.write(buf),
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let out = Capture::default();
    let (sink, guard) = Sink::builder()
        .writer(Partial {
            out: out.clone(),
            calls: 0,
        })
        .build()
        .unwrap();
    submit_n(&sink, "lost", 1);
    guard.flush(Duration::from_secs(10));
    submit_n(&sink, "kept", 3);
    assert!(guard.flush(Duration::from_secs(10)));
    let lines = out.lines();
    assert_eq!(lines[0], "{\"fie", "the cut line, ended");
    let s = sink.stats();
    assert_eq!((s.written, s.dropped.writer_error), (3, 1));
    for l in &lines[1..] {
        serde_json::from_str::<serde_json::Value>(l).expect("whole JSON lines after the cut");
    }
}

#[test]
fn a_stuck_writer_does_not_hang_shutdown() {
    /// Never returns from its first write.
    struct Stuck(Signal);
    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0.set();
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let entered = Signal::default();
    let deadline = Duration::from_millis(200);
    let (sink, guard) = Sink::builder()
        .writer(Stuck(entered.clone()))
        .flush_deadline(deadline)
        .build()
        .unwrap();
    submit_n(&sink, "held", 1);
    entered.wait();
    submit_n(&sink, "queued", 99);
    assert!(
        !guard.flush(Duration::from_millis(50)),
        "a stuck writer cannot flush"
    );

    let start = Instant::now();
    drop(guard);
    let took = start.elapsed();
    assert!(
        took < deadline + Duration::from_secs(2),
        "shutdown took {took:?}"
    );

    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!(s.written, 0);
    // What the worker holds stays in flight; what was queued is lost.
    assert_eq!((s.dropped.shutdown, s.in_flight), (99, 1), "{s:?}");
    // After shutdown, records are dropped at once.
    let mut b = sink.buffer();
    record(&mut b, "late", 0);
    assert_eq!(sink.submit(Level::ERROR, b), Err(DropReason::Shutdown));
    let after = sink.stats();
    assert_eq!((after.dropped.shutdown, after.in_flight), (100, 1));
}

#[test]
fn a_slow_writer_at_shutdown_loses_only_what_the_deadline_cuts() {
    struct Slow(Capture);
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_millis(20));
            // One record per write, so the deadline falls between records.
            let n = buf
                .iter()
                .position(|b| *b == b'\n')
                .map_or(buf.len(), |i| i + 1);
            self.0.write(&buf[..n])
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let out = Capture::default();
    let deadline = Duration::from_millis(300);
    let (sink, guard) = Sink::builder()
        .writer(Slow(out.clone()))
        .flush_deadline(deadline)
        .build()
        .unwrap();
    submit_n(&sink, "slow", 100);
    // 100 writes of 20 ms do not fit in the deadline: the drop returns
    // with some written and the rest counted as shutdown (which of them is
    // up to the clock; that both happen is not).
    drop(guard);
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!(
        s.in_flight, 0,
        "the worker exited: everything is accounted for"
    );
    assert!(s.written > 0 && s.dropped.shutdown > 0, "{s:?}");
    assert_eq!(s.written + s.dropped.shutdown, 100);
    assert_eq!(out.events().len() as u64, s.written);
}
