//! [`Lines`] over a disk that fills up and frees space again, alone and
//! under a sink; a real full file system is in `tests/sink_full_disk.rs`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing_core::Level;

use super::*;
use crate::{DropReason, Sink};

#[derive(Debug, Default)]
struct Disk {
    data: Vec<u8>,
    /// Bytes it holds at most: a write past them is short, the next fails.
    room: usize,
    /// Cutting the file back fails this many more times.
    truncate_fails: u32,
}

/// A file on a [`Disk`], shared with the test.
#[derive(Clone, Debug, Default)]
struct Fake(Arc<Mutex<Disk>>);

impl Fake {
    fn new(room: usize) -> Fake {
        let f = Fake::default();
        f.disk().room = room;
        f
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn text(&self) -> String {
        String::from_utf8(self.disk().data.clone()).unwrap()
    }
}

impl Write for Fake {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut d = self.disk();
        let n = buf.len().min(d.room.saturating_sub(d.data.len()));
        if n == 0 {
            return Err(io::Error::other("no space left on device"));
        }
        d.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Truncate for Fake {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut d = self.disk();
        if d.truncate_fails > 0 {
            d.truncate_fails -= 1;
            return Err(io::Error::other("I/O error"));
        }
        d.data.truncate(len as usize);
        Ok(())
    }
}

#[test]
fn a_write_cut_short_is_cut_back_to_the_last_whole_line() {
    let disk = Fake::new(12);
    let mut w = Lines::new(disk.clone(), 0, true);
    // 12 bytes fit: two lines and "cc", which is taken back.
    assert_eq!(w.write(b"aaaa\nbbbb\ncccc\n").unwrap(), 10);
    assert_eq!(disk.text(), "aaaa\nbbbb\n");
    // The rest: "cc" fits again, and is taken back again.
    assert!(w.write(b"cccc\n").is_err());
    assert_eq!((disk.text().as_str(), w.len()), ("aaaa\nbbbb\n", 10));
    // Room again: the retry starts its own line.
    disk.disk().room = 100;
    w.write_all(b"cccc\ndd\n").unwrap();
    assert_eq!(disk.text(), "aaaa\nbbbb\ncccc\ndd\n");
}

#[test]
fn a_failed_cut_is_done_before_anything_else_is_written() {
    let disk = Fake::new(7);
    disk.disk().truncate_fails = 2;
    let mut w = Lines::new(disk.clone(), 0, true);
    assert_eq!(w.write(b"aaaa\nbbbb\n").unwrap(), 5);
    assert_eq!(disk.text(), "aaaa\nbb", "the cut failed");
    disk.disk().room = 100;
    // Still failing: nothing is written after the cut line.
    assert!(w.write(b"bbbb\n").is_err());
    assert_eq!(disk.text(), "aaaa\nbb");
    w.write_all(b"bbbb\n").unwrap();
    assert_eq!(disk.text(), "aaaa\nbbbb\n");
}

#[test]
fn a_file_left_cut_gets_a_newline_first() {
    let disk = Fake::new(100);
    disk.disk().data.extend_from_slice(b"{\"cut");
    let mut w = Lines::new(disk.clone(), 5, false);
    w.write_all(b"{}\n").unwrap();
    w.write_all(b"{}\n").unwrap();
    assert_eq!(disk.text(), "{\"cut\n{}\n{}\n");
}

#[test]
fn open_lines_sees_whether_the_file_ends_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, "whole\n").unwrap();
    let mut w = open_lines(&path).unwrap();
    assert_eq!(w.len(), 6);
    w.write_all(b"x").unwrap();
    drop(w);
    let mut w = open_lines(&path).unwrap();
    w.write_all(b"y\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole\nx\ny\n");
}

/// A sink writing to a disk that fills up in the middle of a
/// record, then has room again. The file holds only whole lines, each one
/// record or report; the loss report parses, and the reports say each drop
/// once.
#[test]
fn under_a_sink_a_full_disk_leaves_only_whole_lines() {
    let disk = Fake::new(700);
    let (sink, guard) = Sink::builder()
        .writer(Lines::new(disk.clone(), 0, true))
        .capacity(1000)
        .byte_budget(1 << 20)
        .build()
        .unwrap();
    let submit = |i: usize| {
        let record = format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 50));
        assert_eq!(sink.submit(Level::WARN, record.into_bytes()), Ok(()));
    };
    (0..40).for_each(submit);
    // (The worker may still be retrying: the file is read at the end.)
    assert!(!guard.flush(Duration::from_secs(10)), "the disk is full");
    disk.disk().room = 1 << 20;
    (40..50).for_each(submit);
    assert!(guard.flush(Duration::from_secs(10)));
    drop(guard);

    let stats = sink.stats();
    assert!(stats.dropped.writer_error > 0, "{stats:?}");
    assert_eq!(stats.written + stats.dropped.total(), 50);
    let text = disk.text();
    let (mut records, mut reported) = (0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        if v.get("n").is_some() {
            records += 1;
        } else {
            assert_eq!(v["fields"]["message"], "events dropped", "{line}");
            reported += v["fields"][DropReason::WriterError.as_str()]
                .as_u64()
                .unwrap();
        }
    }
    assert_eq!(records, stats.written, "{text}");
    assert_eq!(reported, stats.dropped.writer_error, "{text}");
    assert_eq!(stats.bytes_written, text.len() as u64);
}
