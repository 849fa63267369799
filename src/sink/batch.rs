//! The worker's batch: records copied into one buffer and written with as
//! few `write` calls as the writer allows, with enough bookkeeping to count
//! exactly which records a partial write got out.
//!
//! Layout: `[prefix][record][record]...`, where the prefix holds what the
//! sink adds itself (a newline ending a line a failed write left cut, and the
//! drop report); it is written, but it is not an event.

use std::time::SystemTime;

use tracing_core::Level;

use super::report;
use crate::stats::DropReason;

/// What one write got out.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Event records now completely written.
    pub(crate) records: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Bytes of the prefix, once it is completely written.
    pub(crate) prefix_bytes: u64,
    /// The drop totals the report covered, once it is completely written.
    pub(crate) report: Option<[u64; DropReason::COUNT]>,
}

#[derive(Debug, Default)]
pub(crate) struct Batch {
    out: Vec<u8>,
    /// End offset and level of each event record in `out`.
    ends: Vec<(usize, Level)>,
    /// `out[..prefix_end]` is the prefix.
    prefix_end: usize,
    /// The drop totals the staged report covers.
    report: Option<[u64; DropReason::COUNT]>,
    /// Bytes of `out` the writer took so far.
    pos: usize,
    /// Index in `ends` of the first record not yet counted.
    next: usize,
    /// Whether the prefix was counted.
    prefix_counted: bool,
    /// The last batch was dropped in the middle of a line: start the next
    /// one with a newline, so its first record starts a line.
    mid_line: bool,
}

impl Batch {
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
    pub(crate) fn begin(
        &mut self,
        report: Option<([u64; DropReason::COUNT], [u64; DropReason::COUNT])>,
        violations: bool,
    ) -> bool {
        debug_assert!(self.is_empty());
        if std::mem::take(&mut self.mid_line) {
            self.out.push(b'\n');
        }
        if let Some((totals, delta)) = report {
            report::drop_report(&mut self.out, SystemTime::now(), &delta);
            self.report = Some(totals);
        }
        if violations && crate::lint::has_unreported() {
            report::violation_reports(&mut self.out, SystemTime::now());
        }
        self.prefix_end = self.out.len();
        !self.out.is_empty()
    }

    /// Appends one event record.
    pub(crate) fn push(&mut self, record: &[u8], level: Level) {
        self.out.extend_from_slice(record);
        self.ends.push((self.out.len(), level));
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
        if !self.prefix_counted && self.pos >= self.prefix_end {
            self.prefix_counted = true;
            p.prefix_bytes = self.prefix_end as u64;
            p.report = self.report.take();
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

    /// Gives up on what is not written: returns the levels of the records
    /// lost (a record cut by a partial write included) and empties the batch.
    pub(crate) fn drop_rest(&mut self) -> impl Iterator<Item = Level> + '_ {
        self.mid_line =
            self.pos > 0 && self.pos < self.out.len() && self.out[self.pos - 1] != b'\n';
        let next = self.next;
        self.reset();
        self.ends.drain(..).skip(next).map(|(_, level)| level)
    }

    /// Empties a batch that was completely written.
    pub(crate) fn clear(&mut self) {
        debug_assert!(self.done() && self.next == self.ends.len());
        self.reset();
        self.ends.clear();
    }

    fn reset(&mut self) {
        self.out.clear();
        self.prefix_end = 0;
        self.report = None;
        self.pos = 0;
        self.next = 0;
        self.prefix_counted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_count_whole_records_only() {
        let mut b = Batch::default();
        assert!(b.begin(
            Some(([1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0])),
            false
        ));
        let prefix = b.len();
        b.push(b"aaaa\n", Level::INFO);
        b.push(b"bb\n", Level::ERROR);
        let p = b.advance(prefix - 1);
        assert_eq!(p, Progress::default());
        let p = b.advance(3);
        assert_eq!(p.prefix_bytes, prefix as u64);
        assert_eq!(p.report, Some([1, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(p.records, 0);
        let p = b.advance(3);
        assert_eq!((p.records, p.bytes), (1, 5));
        assert_eq!(b.unwritten(), b"bb\n");
        assert_eq!(b.advance(1), Progress::default());
        let lost: Vec<_> = b.drop_rest().collect();
        assert_eq!(lost, vec![Level::ERROR]);
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
}
