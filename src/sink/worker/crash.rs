//! The worker's side of the last words: answering the drain
//! requests of the crash and termination handlers ([`CrashDrain`]).
//!
//! At the top of every turn of its loop, the worker looks for a request.
//! For one, it writes what the lanes held at that moment (every lane read
//! as far as [`Lanes::target`](super::super::drain::Lanes::target) says),
//! then the final record naming the signal, flushes the writer and tells
//! the handler. Bounded: every round writes a batch or stops, and a writer
//! that fails stops the drain (the handler's timeout covers the rest). The
//! idle worker parks at most [`CrashDrain::poll_interval`]; a handler also
//! unparks it, as best effort.

use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use crate::crash::{CrashDrain, Request};
use crate::sink_core::report::Own;

/// Rounds in a row that took nothing from lanes not yet read far enough
/// (a producer holds a lane's reader while it grows or evicts, or the
/// crashing thread does, for good) before the drain stops waiting for them.
const BUSY_ROUNDS: u32 = 64;

impl Worker {
    /// Answers `drain`'s requests (see [`check_crash`](Self::check_crash)).
    pub(crate) fn with_crash_drain(mut self, drain: Option<Arc<CrashDrain>>) -> Worker {
        self.crash = drain;
        self
    }

    /// Whether a handler waits for a drain (the request is not taken).
    #[inline]
    pub(super) fn crash_pending(&self) -> bool {
        self.crash.as_ref().is_some_and(|c| c.is_pending())
    }

    /// `wait`, cut to the poll interval when a handler may ask for a drain.
    pub(super) fn crash_poll(&self, wait: Duration) -> Duration {
        self.crash
            .as_ref()
            .map_or(wait, |c| wait.min(c.poll_interval()))
    }

    /// A handler asked for a drain: write what was queued at the request,
    /// then the final record, flush, and tell it. No-op without a request.
    pub(super) fn check_crash(&mut self) {
        let Some(request) = self.crash.as_ref().and_then(|c| c.pending()) else {
            return;
        };
        self.drain_for_crash();
        self.write_final_record(&request);
        self.flush_writer();
        if let Some(c) = &self.crash {
            c.complete(&request);
        }
    }

    /// Writes the batch in progress and what the lanes held now; stops at a
    /// writer that fails (its batch stays for the main loop to retry).
    fn drain_for_crash(&mut self) {
        let target = self.lanes.target(&self.shared);
        let mut busy = 0;
        loop {
            if self.batch.is_empty() {
                if self.lanes.reached(&target) {
                    return;
                }
                let taken = self.taken;
                self.begin_batch(false);
                self.fill();
                if self.taken > taken {
                    busy = 0;
                }
                if self.batch.is_empty() {
                    busy += 1;
                    if busy > BUSY_ROUNDS {
                        return;
                    }
                    std::thread::yield_now();
                    continue;
                }
            }
            self.write_batch();
            if !self.batch.is_empty() {
                return;
            }
        }
    }

    /// The final record, in a batch of its own after the owed newline and
    /// the drop report: a line of the sink's own, counted as report bytes.
    /// Left out when a failing writer left a batch unwritten (its line may
    /// be cut: the record would not start a line of its own).
    fn write_final_record(&mut self, request: &Request) {
        if !self.batch.is_empty() {
            return;
        }
        let Some(record) = request.final_record() else {
            return;
        };
        let newest = self.shared.newest_renderer();
        let mut line = Vec::new();
        Own(newest.as_deref()).final_record(&record, &mut line);
        self.begin_batch(true);
        self.batch.push_own_line(&line);
        self.write_batch();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_core::Level;

    use crate::crash::CrashDrain;
    use crate::Sink;

    /// Takes half of its first write, fails the next `fail` ones, then
    /// takes everything.
    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<(Vec<u8>, u32)>>, u32);

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.1 += 1;
            let n = match s.1 {
                1 if self.1 > 0 => buf.len() / 2,
                k if k <= self.1 + 1 && self.1 > 0 => return Err(io::ErrorKind::Other.into()),
                _ => buf.len(),
            };
            s.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A sink answering `drain`, `n` records submitted, a fatal request
    /// made and answered; returns the output's lines.
    fn crash_after(out: &Out, n: usize, cut_first: bool) -> (crate::Stats, Vec<String>) {
        let drain = CrashDrain::new(Duration::from_secs(60));
        let (sink, guard) = Sink::builder()
            .writer(out.clone())
            .crash_drain(Some(drain.clone()))
            .build()
            .unwrap();
        let submit = |i: usize| {
            let record = format!("{{\"n\":{i}}}\n").into_bytes();
            assert_eq!(sink.submit(Level::INFO, record), Ok(()));
        };
        if cut_first {
            submit(0);
            // Cut in the middle, then given up: the output's line is open.
            assert!(!guard.flush(Duration::from_secs(60)));
        }
        (0..n).for_each(submit);
        let seq = drain.request(Some((6, true)), b"crasher");
        assert!(drain.wait(seq), "the worker answers");
        // A second request drains again, without a second record.
        let seq = drain.request(Some((15, false)), b"main");
        assert!(drain.wait(seq));
        let stats = sink.stats();
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().0.clone()).unwrap();
        assert!(text.ends_with('\n'), "{text}");
        // Every byte out is counted, but those of a record cut and lost.
        let cut = if cut_first {
            text.find('\n').unwrap()
        } else {
            0
        };
        assert_eq!(stats.bytes_written, (text.len() - cut) as u64, "{text}");
        (stats, text.lines().map(str::to_owned).collect())
    }

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[test]
    fn a_request_writes_what_was_queued_then_one_final_record() {
        let out = Out::default();
        let (stats, lines) = crash_after(&out, 100, false);
        assert_eq!((stats.written, stats.in_flight), (100, 0));
        assert_eq!(lines.len(), 101, "{lines:#?}");
        for (i, line) in lines[..100].iter().enumerate() {
            assert_eq!(json(line)["n"], i, "{line}");
        }
        let last = json(&lines[100]);
        assert_eq!(last["fields"]["signal"], "SIGABRT");
        assert_eq!(last["fields"]["thread"], "crasher");
    }

    #[test]
    fn after_a_cut_line_the_final_record_starts_a_line_and_the_loss_is_said() {
        let out = Out(Default::default(), 3);
        let (stats, lines) = crash_after(&out, 5, true);
        assert_eq!(stats.dropped.writer_error, 1);
        assert_eq!((stats.written, stats.in_flight), (5, 0));
        // The cut line, five records, the drop report, the final record.
        assert!(serde_json::from_str::<serde_json::Value>(&lines[0]).is_err());
        let parsed: Vec<_> = lines[1..].iter().map(|l| json(l)).collect();
        assert_eq!(parsed.iter().filter(|v| v.get("n").is_some()).count(), 5);
        let report = parsed
            .iter()
            .find(|v| v["fields"]["message"] == "events dropped");
        assert_eq!(report.expect("a drop report")["fields"]["writer_error"], 1);
        assert_eq!(parsed.last().unwrap()["fields"]["signal"], "SIGABRT");
    }
}
