//! The worker's write, failure and report paths, end to end: a sink whose
//! writer follows a script. Each case ends with a healthy writer and two
//! flushes, and then the in-band reports must say every drop exactly once,
//! per reason, `written` must be the records in the output, and
//! every record must start a line of its own.
//!
//! When the worker first writes is not scripted (it may write the drop
//! report alone, or with the records), so the checks hold either way.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing_core::Level;

use crate::stats::PerReason;
use crate::{DropReason, Sink, Stats};

/// What one `write` does.
#[derive(Clone, Copy, Debug)]
enum W {
    /// Takes everything.
    All,
    /// Takes the first line, newline included.
    Line,
    /// Takes the first line but its newline.
    LineButNewline,
    /// Takes half.
    Half,
    /// Takes nothing: an error.
    Fail,
    /// Takes nothing: a panic.
    Panic,
}

/// What one `flush` does.
#[derive(Clone, Copy, Debug)]
enum F {
    Fail,
    Panic,
}

#[derive(Default)]
struct Script {
    writes: VecDeque<W>,
    flushes: VecDeque<F>,
    out: Vec<u8>,
}

#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.lock();
        let line = buf.iter().position(|b| *b == b'\n');
        let n = match s.writes.pop_front().unwrap_or(W::All) {
            W::All => buf.len(),
            W::Line => line.map_or(buf.len(), |i| i + 1),
            W::LineButNewline => line.map_or(buf.len(), |i| i.max(1)),
            W::Half => (buf.len() / 2).max(1),
            W::Fail => return Err(io::Error::other("disk full")),
            W::Panic => {
                drop(s);
                panic!("the writer exploded (a deliberate test panic)");
            }
        };
        s.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let step = self.lock().flushes.pop_front();
        match step {
            None => Ok(()),
            Some(F::Fail) => Err(io::Error::other("flush failed")),
            Some(F::Panic) => panic!("the flush exploded (a deliberate test panic)"),
        }
    }
}

/// Two drops (oversize) and three records, the scripted failures (a record
/// more per flush until the script ran out), then three more records once
/// the writer is healthy; returns the final stats and the output.
fn run(writes: &[W], flushes: &[F]) -> (Stats, Vec<u8>) {
    let w = Scripted::default();
    {
        let mut s = w.lock();
        s.writes.extend(writes);
        s.flushes.extend(flushes);
    }
    let (sink, guard) = Sink::builder()
        .writer(w.clone())
        .max_record(64)
        .build()
        .unwrap();
    let submit = |i: usize| {
        let record = format!("{{\"n\":{i}}}\n").into_bytes();
        assert_eq!(sink.submit(Level::INFO, record), Ok(()));
    };
    for _ in 0..2 {
        // JSON too long to stand in for with a truncation record.
        let mut record = vec![b'{'; 1000];
        record.push(b'\n');
        assert_eq!(sink.submit(Level::INFO, record), Err(DropReason::Oversize));
    }
    (0..3).for_each(submit);
    // These see the failures (their answers depend on when they come); a
    // flush reaches the writer only after a write, so one more record each.
    let mut n = 3;
    while !(w.lock().writes.is_empty() && w.lock().flushes.is_empty()) {
        assert!(n < 20, "the script did not run out");
        guard.flush(Duration::from_secs(10));
        submit(n);
        n += 1;
    }
    (n..n + 3).for_each(submit);
    assert!(guard.flush(Duration::from_secs(10)));
    assert!(guard.flush(Duration::from_secs(10)));
    drop(guard);
    let out = w.lock().out.clone();
    (sink.stats(), out)
}

/// Checks the output of [`run`]; returns the lines that are not JSON (a
/// line cut by a failing writer, ended by the sink).
fn check(stats: &Stats, out: &[u8]) -> Vec<String> {
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let mut claimed = PerReason::default();
    let (mut records, mut cut) = (0, Vec::new());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            cut.push(line.to_owned());
            continue;
        };
        if v.get("n").is_some() {
            records += 1;
            continue;
        }
        let fields = v["fields"].as_object().unwrap();
        assert_eq!(fields["message"], "events dropped", "{line}");
        for r in DropReason::ALL {
            claimed[r] += fields.get(r.as_str()).map_or(0, |n| n.as_u64().unwrap());
        }
    }
    for (r, n) in claimed.iter() {
        assert_eq!(
            n,
            stats.dropped.get(r),
            "reports claim {n} dropped as {}: {stats:?}\n{text}",
            r.as_str()
        );
    }
    assert_eq!(stats.dropped.oversize, 2);
    assert_eq!(records, stats.written, "{stats:?}\n{text}");
    assert_eq!(stats.submitted, stats.written + stats.dropped.total());
    assert_eq!(stats.in_flight, 0);
    // A cut line is what the writer took of one record or report: it
    // holds no other.
    for line in &cut {
        assert!(
            line.matches('{').count() <= 2,
            "two records on a line: {line}"
        );
    }
    cut
}

#[test]
fn a_report_out_but_its_newline_then_failures_is_said_once() {
    // What a long fuzz run found.
    let (stats, out) = run(&[W::LineButNewline, W::Fail, W::Fail, W::Fail], &[F::Panic]);
    assert_eq!(check(&stats, &out), Vec::<String>::new());
    assert_eq!(stats.writer_errors, 4);
}

#[test]
fn a_report_out_then_failures_and_failing_flushes_is_said_once() {
    let (stats, out) = run(&[W::Line, W::Fail, W::Fail, W::Fail], &[F::Panic, F::Fail]);
    assert_eq!(check(&stats, &out), Vec::<String>::new());
    assert_eq!(stats.writer_errors, 5);
}

#[test]
fn a_report_out_then_panics_in_the_same_batch_is_said_once() {
    let (stats, out) = run(&[W::Line, W::Panic, W::Panic, W::Panic], &[]);
    assert_eq!(check(&stats, &out), Vec::<String>::new());
    assert_eq!(stats.writer_errors, 3);
}

#[test]
fn a_report_out_then_a_failing_flush_is_said_once() {
    let (stats, out) = run(&[W::All], &[F::Fail, F::Panic]);
    assert_eq!(check(&stats, &out), Vec::<String>::new());
    assert_eq!((stats.writer_errors, stats.dropped.writer_error), (2, 0));
}

#[test]
fn a_record_out_but_its_newline_then_failures_is_written() {
    let w = [W::Line, W::LineButNewline, W::Fail, W::Fail, W::Fail];
    let (stats, out) = run(&w, &[]);
    assert_eq!(check(&stats, &out), Vec::<String>::new());
    assert!(stats.written >= 4, "{stats:?}");
}

#[test]
fn a_report_cut_short_is_said_again_whole() {
    let (stats, out) = run(&[W::Half, W::Fail, W::Fail, W::Fail], &[]);
    let cut = check(&stats, &out);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert!(cut[0].starts_with("{\"timestamp\":"), "{cut:?}");
}

#[test]
fn after_a_cut_every_record_starts_a_line_even_if_a_whole_batch_is_dropped() {
    // A batch cut and given up, then the next one given up with nothing
    // out at all: the newline owed to the cut line is still owed.
    let mut w = vec![W::Half, W::Fail, W::Fail, W::Fail];
    w.extend([W::Fail; 3]);
    let (stats, out) = run(&w, &[]);
    assert_eq!(check(&stats, &out).len(), 1);
    assert_eq!(stats.writer_errors, 6);
}
