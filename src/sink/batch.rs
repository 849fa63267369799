//! The worker's batch: records copied into one buffer and written with as
//! few `write` calls as the writer allows, with enough bookkeeping to count
//! exactly which records a partial write got out.
//!
//! Layout: `[prefix][record][record]...`, where the prefix holds what the
//! sink adds itself: the newline owed to a line a dropped batch left cut,
//! then the drop report, then the per-call-site summaries of suppressed
//! events (`summary.rs`), then the violation reports. It is written, but
//! it is not an event. Each summary line is counted as out on its own, so a
//! summary is claimed once however its batch ends.
//!
//! A line counts as out once all of it is, or once all of it but its
//! newline is and the batch is given up: the sink then owes that newline,
//! and it is the first byte of the next batch, before anything else can be
//! written. So a drop report whose line reaches the output is counted as
//! reported exactly once, however the rest of its batch fails (its drops
//! are not said again by the next report), and a record whose line reaches
//! the output is counted as written.

use tracing_core::Level;

use super::report::Own;
use crate::stats::PerReason;

/// What one write got out.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Event records now completely written.
    pub(crate) records: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Bytes of the prefix now written, counted part by part (the owed
    /// newline, the drop report, the violation reports) as each is whole.
    pub(crate) prefix_bytes: u64,
    /// The drop totals the report covers, once its line is out.
    pub(crate) report: Option<PerReason>,
    /// Summary lines now out (after those already counted), in order.
    pub(crate) summaries: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Batch {
    out: Vec<u8>,
    /// End offset and level of each event record in `out`.
    ends: Vec<(usize, Level)>,
    /// `out[..newline_end]` is the newline owed to a cut line (0 or 1 byte).
    newline_end: usize,
    /// `out[newline_end..report_end]` is the drop report (maybe empty).
    report_end: usize,
    /// End offset of each summary line, after `report_end`.
    summary_ends: Vec<usize>,
    /// Summary lines counted as out so far.
    summaries_out: usize,
    /// `out[..prefix_end]` is the prefix; the violation reports end it.
    prefix_end: usize,
    /// The drop totals the staged report covers, until they are counted.
    report: Option<PerReason>,
    /// Bytes of `out` the writer took so far.
    pos: usize,
    /// Index in `ends` of the first record not yet counted.
    next: usize,
    /// Bytes of the prefix counted so far.
    prefix_counted: usize,
    /// The output's last line is not ended (a batch was dropped in the
    /// middle of a line, or before the newline owed to one got out): the
    /// next batch starts with a newline, so its first record starts a line.
    mid_line: bool,
}

impl Batch {
    /// A batch with room for `bytes` and `records` from the start, so that
    /// its buffers do not grow (allocate) while the worker runs.
    pub(crate) fn with_capacity(bytes: usize, records: usize) -> Batch {
        Batch {
            out: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(records),
            ..Batch::default()
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn records(&self) -> usize {
        self.ends.len()
    }

    /// Starts an empty batch: the newline owed by a cut line, then the drop
    /// report when `report` is given as `(totals, delta)`. Returns whether
    /// anything was staged.
    #[cfg(test)]
    pub(crate) fn begin(
        &mut self,
        report: Option<(PerReason, PerReason)>,
        violations: bool,
    ) -> bool {
        self.begin_with(Own::PLAIN, report, |_, _| {}, violations)
    }

    /// [`begin`](Self::begin), with the summary lines `summaries` appends
    /// after the drop report (pushing each line's end offset), and the
    /// sink's records in the format `own`.
    pub(crate) fn begin_with(
        &mut self,
        own: Own<'_>,
        report: Option<(PerReason, PerReason)>,
        summaries: impl FnOnce(&mut Vec<u8>, &mut Vec<usize>),
        violations: bool,
    ) -> bool {
        debug_assert!(self.is_empty());
        if std::mem::take(&mut self.mid_line) {
            self.out.push(b'\n');
        }
        self.newline_end = self.out.len();
        if let Some((totals, delta)) = report {
            own.drop_report(&delta, &mut self.out);
            self.report = Some(totals);
        }
        self.report_end = self.out.len();
        summaries(&mut self.out, &mut self.summary_ends);
        if violations {
            own.violations(&mut self.out);
        }
        self.prefix_end = self.out.len();
        !self.out.is_empty()
    }

    /// Appends a line of the sink's own to the prefix (the crash handler's
    /// final record): written, but not an event. Only right after
    /// [`begin`](Self::begin), before any record.
    pub(crate) fn push_own_line(&mut self, line: &[u8]) {
        debug_assert!(self.ends.is_empty() && self.pos == 0);
        self.out.extend_from_slice(line);
        self.prefix_end = self.out.len();
    }

    /// Appends one event record.
    pub(crate) fn push(&mut self, record: &[u8], level: Level) {
        self.out.extend_from_slice(record);
        self.ends.push((self.out.len(), level));
    }

    /// Appends one event record that `write` formats in place; returns what
    /// `write` returns.
    pub(crate) fn push_with<R>(
        &mut self,
        level: Level,
        write: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> R {
        let r = write(&mut self.out);
        self.ends.push((self.out.len(), level));
        r
    }

    /// Takes back the record just pushed (it could not be made to fit).
    pub(crate) fn abandon_last(&mut self) {
        self.ends.pop();
        self.abandon_partial();
    }

    /// Removes what a `push_with` that panicked left half-written.
    pub(crate) fn abandon_partial(&mut self) {
        let end = self.ends.last().map_or(self.prefix_end, |e| e.0);
        self.out.truncate(end);
    }

    /// What the writer has not taken yet.
    pub(crate) fn unwritten(&self) -> &[u8] {
        &self.out[self.pos..]
    }

    /// Whether the writer took everything.
    pub(crate) fn done(&self) -> bool {
        self.pos == self.out.len()
    }

    /// Records that the writer took `n` more bytes.
    pub(crate) fn advance(&mut self, n: usize) -> Progress {
        let mut p = Progress::default();
        self.pos = (self.pos + n).min(self.out.len());
        let (pos, mut counted) = (self.pos, self.prefix_counted);
        let mut count = |end: usize| {
            if end > counted && pos >= end {
                p.prefix_bytes += (end - counted) as u64;
                counted = end;
            }
        };
        count(self.newline_end);
        count(self.report_end);
        self.summary_ends.iter().for_each(|e| count(*e));
        count(self.prefix_end);
        self.prefix_counted = counted;
        if self.pos >= self.report_end {
            p.report = self.report.take();
        }
        while self
            .summary_ends
            .get(self.summaries_out)
            .is_some_and(|e| pos >= *e)
        {
            p.summaries += 1;
            self.summaries_out += 1;
        }
        let mut start = match self.next {
            0 => self.prefix_end,
            i => self.ends[i - 1].0,
        };
        while let Some(&(end, _)) = self.ends.get(self.next) {
            if end > self.pos {
                break;
            }
            p.records += 1;
            p.bytes += (end - start) as u64;
            start = end;
            self.next += 1;
        }
        p
    }

    /// Gives up on what is not written and empties the batch. Returns what
    /// now counts as out (the line the writer took all of but its newline,
    /// which the newline the next batch starts with completes) and the
    /// levels of the records lost (a record cut by a partial write
    /// included).
    pub(crate) fn drop_rest(&mut self) -> (Progress, impl Iterator<Item = Level> + '_) {
        let mut done = Progress::default();
        if !self.out.is_empty() {
            let pos = self.pos;
            let cut = pos > 0 && pos < self.out.len() && self.out[pos - 1] != b'\n';
            // The newline owed to an earlier cut line is still owed if it
            // did not get out: a whole batch dropped changes nothing.
            self.mid_line = cut || pos < self.newline_end;
            if cut && self.out[pos] == b'\n' {
                // Counted as if written; the owed newline is counted when
                // the next batch writes it.
                done = self.advance(1);
                if done.records > 0 {
                    done.bytes -= 1;
                } else if done.prefix_bytes > 0 {
                    done.prefix_bytes -= 1;
                }
            }
        }
        let next = self.next;
        self.reset();
        (done, self.ends.drain(..).skip(next).map(|(_, level)| level))
    }

    /// Empties a batch that was completely written.
    pub(crate) fn clear(&mut self) {
        debug_assert!(self.done() && self.next == self.ends.len());
        self.reset();
        self.ends.clear();
    }

    fn reset(&mut self) {
        self.out.clear();
        self.newline_end = 0;
        self.report_end = 0;
        self.summary_ends.clear();
        self.summaries_out = 0;
        self.prefix_end = 0;
        self.report = None;
        self.pos = 0;
        self.next = 0;
        self.prefix_counted = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::DropReason;

    /// Drops of one reason, `n` of them.
    fn one(reason: DropReason, n: u64) -> PerReason {
        let mut p = PerReason::default();
        p[reason] = n;
        p
    }

    /// The drop totals the tests' reports cover.
    fn t() -> PerReason {
        let mut p = one(DropReason::QueueFull, 1);
        p[DropReason::Shed] = 2;
        p
    }

    /// A batch holding a drop report for `T` and then `records`; returns
    /// the report's length.
    fn staged(b: &mut Batch, records: &[&[u8]]) -> usize {
        assert!(b.begin(Some((t(), t())), false));
        let report = b.len();
        for r in records {
            b.push(r, Level::INFO);
        }
        report
    }

    fn lost(b: &mut Batch) -> (Progress, Vec<Level>) {
        let (p, lost) = b.drop_rest();
        let lost = lost.collect();
        (p, lost)
    }

    #[test]
    fn partial_writes_count_whole_records_only() {
        let mut b = Batch::default();
        assert!(b.begin(
            Some((one(DropReason::QueueFull, 1), one(DropReason::QueueFull, 1))),
            false
        ));
        let prefix = b.len();
        b.push(b"aaaa\n", Level::INFO);
        b.push(b"bb\n", Level::ERROR);
        let p = b.advance(prefix - 1);
        assert_eq!(p, Progress::default());
        let p = b.advance(3);
        assert_eq!(p.prefix_bytes, prefix as u64);
        assert_eq!(p.report, Some(one(DropReason::QueueFull, 1)));
        assert_eq!(p.records, 0);
        let p = b.advance(3);
        assert_eq!((p.records, p.bytes), (1, 5));
        assert_eq!(b.unwritten(), b"bb\n");
        assert_eq!(b.advance(1), Progress::default());
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::ERROR]));
        assert!(b.is_empty());
        // The cut line is ended before the next batch.
        assert!(b.begin(None, false));
        b.push(b"c\n", Level::INFO);
        let p = b.advance(3);
        assert_eq!((p.records, p.bytes, p.prefix_bytes), (1, 2, 1));
        assert!(b.done());
        b.clear();
        assert!(!b.begin(None, false));
    }

    #[test]
    fn a_report_written_then_a_failure_is_counted_once() {
        // The report whole, then the write fails inside the first record.
        let mut b = Batch::default();
        let report = staged(&mut b, &[b"aaaa\n", b"bb\n"]);
        let p = b.advance(report + 2);
        assert_eq!((p.report, p.prefix_bytes), (Some(t()), report as u64));
        // Given up: the report is not counted again, both records are lost.
        assert_eq!(
            lost(&mut b),
            (Progress::default(), vec![Level::INFO, Level::INFO])
        );
        // The report whole and nothing else, then given up.
        let report = staged(&mut b, &[b"aaaa\n"]);
        assert_eq!(b.unwritten()[0], b'\n', "the cut line is ended first");
        let p = b.advance(report);
        assert_eq!((p.report, p.prefix_bytes), (Some(t()), report as u64));
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::INFO]));
        assert!(!b.begin(None, false), "no line was left cut");
    }

    #[test]
    fn a_report_written_but_its_newline_is_counted_when_given_up() {
        // The case a long fuzz run found: the writer took the report
        // but its newline and failed for good. The newline the next batch
        // starts with completes the line: its drops are out, and must not
        // be said again.
        let mut b = Batch::default();
        let report = staged(&mut b, &[b"aaaa\n"]);
        assert_eq!(b.advance(report - 1), Progress::default());
        let (p, levels) = lost(&mut b);
        assert_eq!(p.report, Some(t()));
        assert_eq!(p.prefix_bytes, report as u64 - 1);
        assert_eq!((p.records, levels), (0, vec![Level::INFO]));
        assert!(b.begin(None, false));
        assert_eq!(b.unwritten(), b"\n");
        let p = b.advance(1);
        assert_eq!((p.prefix_bytes, p.report), (1, None));
    }

    #[test]
    fn a_report_cut_short_is_not_counted() {
        let mut b = Batch::default();
        let report = staged(&mut b, &[b"aaaa\n"]);
        assert_eq!(b.advance(report / 2), Progress::default());
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::INFO]));
        // Said again, whole, by a later report; the cut line is ended first.
        staged(&mut b, &[]);
        assert_eq!(b.unwritten()[0], b'\n');
    }

    #[test]
    fn a_report_written_then_cut_in_the_violations_is_counted() {
        let mut b = Batch::default();
        let report = staged(&mut b, &[]);
        // What `begin` stages when the lint store has violations (it is
        // process-wide, so not filled from a unit test).
        b.out.extend_from_slice(b"{\"violation\":1}\n");
        b.prefix_end = b.out.len();
        b.push(b"aaaa\n", Level::WARN);
        let p = b.advance(report + 3);
        assert_eq!((p.report, p.prefix_bytes), (Some(t()), report as u64));
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::WARN]));
        assert!(b.begin(None, false), "the cut violation line is ended");
    }

    #[test]
    fn summary_lines_are_counted_out_one_by_one() {
        let mut b = Batch::default();
        let lines: [&[u8]; 2] = [b"{\"s\":1}\n", b"{\"s\":2}\n"];
        assert!(b.begin_with(
            Own::PLAIN,
            Some((t(), t())),
            |out, ends| {
                for l in lines {
                    out.extend_from_slice(l);
                    ends.push(out.len());
                }
            },
            false,
        ));
        let report = b.len() - lines[0].len() - lines[1].len();
        b.push(b"aaaa\n", Level::INFO);
        // The report and the first summary out, the second cut: given up.
        let p = b.advance(report + lines[0].len() + 2);
        assert_eq!((p.report, p.summaries), (Some(t()), 1));
        assert_eq!(p.prefix_bytes, (report + lines[0].len()) as u64);
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::INFO]));
        // The second summary whole but its newline, then given up: out.
        assert!(b.begin_with(
            Own::PLAIN,
            None,
            |out, ends| {
                out.extend_from_slice(lines[1]);
                ends.push(out.len());
            },
            false,
        ));
        assert_eq!(
            b.advance(1),
            Progress {
                prefix_bytes: 1,
                ..Progress::default()
            }
        );
        b.advance(lines[1].len() - 1);
        let (p, levels) = lost(&mut b);
        // Its bytes but the newline the next batch owes.
        assert_eq!((p.summaries, p.prefix_bytes, levels.len()), (1, 7, 0));
    }

    #[test]
    fn a_record_written_but_its_newline_is_written_when_given_up() {
        let mut b = Batch::default();
        assert!(!b.begin(None, false));
        b.push(b"aaaa\n", Level::INFO);
        b.push(b"bb\n", Level::ERROR);
        assert_eq!(b.advance(4), Progress::default());
        let (p, levels) = lost(&mut b);
        assert_eq!((p.records, p.bytes, p.report), (1, 4, None));
        assert_eq!(levels, vec![Level::ERROR]);
        assert!(b.begin(None, false));
        b.push(b"c\n", Level::INFO);
        let p = b.advance(3);
        assert_eq!((p.records, p.bytes, p.prefix_bytes), (1, 2, 1));
    }

    #[test]
    fn the_owed_newline_survives_a_whole_batch_dropped() {
        let mut b = Batch::default();
        b.begin(None, false);
        b.push(b"aaaa\n", Level::INFO);
        b.advance(2);
        assert_eq!(lost(&mut b).1.len(), 1);
        // The next batch gets nothing out at all, twice over...
        let report = staged(&mut b, &[b"bb\n"]);
        assert_eq!(b.unwritten()[0], b'\n');
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::INFO]));
        // ...and an empty batch is given up too (the worker's panic path).
        assert_eq!(lost(&mut b), (Progress::default(), vec![]));
        // The newline is still owed: the next record starts a line.
        assert_eq!(staged(&mut b, &[b"cc\n"]), report);
        assert_eq!(b.unwritten()[0], b'\n');
        // The newline out, the report cut: a new line is owed again.
        b.advance(1 + 5);
        assert_eq!(lost(&mut b), (Progress::default(), vec![Level::INFO]));
        assert!(b.begin(None, false));
        assert_eq!(b.unwritten(), b"\n");
    }
}
