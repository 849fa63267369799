//! A full file system: a 64 KiB tmpfs the log fills.
//! The file writers must leave only whole JSON lines, whether the disk
//! stays full or has room again; after it has, the loss is reported in-band
//! (the report parses, and the reports say each drop once) and no line
//! holds two records.
//!
//! Mounting needs root (or `CAP_SYS_ADMIN`): where a tmpfs cannot be
//! mounted, each test says so on stderr and passes without checking.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use layer_safe::sink::writers::{append_file, RollingBySize};
use layer_safe::{DropReason, Sink, Stats};
use tracing_core::Level;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr);
                eprintln!("{test}: SKIPPED, cannot mount a tmpfs here: {}", why.trim());
                None
            }
            Err(e) => {
                eprintln!("{test}: SKIPPED, cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// A writer that says when the worker dropped it (the worker has exited).
struct Dropped<W> {
    inner: W,
    gone: Arc<(Mutex<bool>, Condvar)>,
}

impl<W: Write> Write for Dropped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> Drop for Dropped<W> {
    fn drop(&mut self) {
        *self.gone.0.lock().unwrap() = true;
        self.gone.1.notify_all();
    }
}

/// A sink writing to `writer`, run by `script`; returns the stats once the
/// worker has exited (nothing is being written any more).
fn run<W: Write + Send + 'static>(writer: W, script: impl FnOnce(&Log)) -> Stats {
    let gone = Arc::new((Mutex::new(false), Condvar::new()));
    let (sink, guard) = Sink::builder()
        .writer(Dropped {
            inner: writer,
            gone: gone.clone(),
        })
        .build()
        .unwrap();
    let log = Log {
        sink: sink.clone(),
        guard,
        next: Default::default(),
    };
    script(&log);
    drop(log);
    let done = gone.0.lock().unwrap();
    let (done, _) = gone
        .1
        .wait_timeout_while(done, Duration::from_secs(30), |d| !*d)
        .unwrap();
    assert!(*done, "the worker did not exit");
    let stats = sink.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.submitted, stats.written + stats.dropped.total());
    stats
}

struct Log {
    sink: Sink,
    guard: layer_safe::FlushGuard,
    next: std::cell::Cell<u64>,
}

impl Log {
    /// Submits `n` records of about 200 bytes; flushes; returns whether the
    /// flush got them out.
    fn records(&self, n: usize) -> bool {
        for _ in 0..n {
            let i = self.next.get();
            self.next.set(i + 1);
            let record = format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(180));
            assert_eq!(self.sink.submit(Level::INFO, record.into_bytes()), Ok(()));
        }
        self.guard.flush(Duration::from_secs(30))
    }

    /// Logs until the disk is full.
    fn fill(&self) {
        for _ in 0..100 {
            if !self.records(20) && self.sink.stats().dropped.writer_error > 0 {
                return;
            }
        }
        panic!("64 KiB held 400 KB of records");
    }
}

/// Reads `files`: only whole JSON lines, each a record or a drop report.
/// Returns the records and what the reports claim, per reason.
fn whole_lines(files: &[PathBuf]) -> (u64, [u64; DropReason::ALL.len()]) {
    let (mut records, mut claimed) = (0, [0; DropReason::ALL.len()]);
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{f:?} ends cut");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{f:?}: not a whole JSON line ({e}): {line:?}"));
            if v.get("n").is_some() {
                assert_eq!(line.matches("\"n\":").count(), 1, "{line}");
                records += 1;
                continue;
            }
            let fields = &v["fields"];
            assert_eq!(fields["message"], "events dropped", "{line}");
            for (i, r) in DropReason::ALL.iter().enumerate() {
                claimed[i] += fields[r.as_str()].as_u64().unwrap_or(0);
            }
        }
    }
    (records, claimed)
}

/// Both phases for one kind of file writer: `open(path)` opens one log,
/// `files(path)` lists the files it writes.
fn full_disk<W: Write + Send + 'static>(
    test: &str,
    open: impl Fn(&Path) -> W,
    files: impl Fn(&Path) -> Vec<PathBuf>,
) {
    let Some(fs) = Tmpfs::mount(test) else {
        return;
    };
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![b'.'; 16 << 10]).unwrap();

    // The disk fills up and stays full.
    let first = fs.path().join("first.log");
    let stats = run(open(&first), Log::fill);
    assert!(stats.dropped.writer_error > 0, "{stats:?}");
    let (records, claimed) = whole_lines(&files(&first));
    assert_eq!(records, stats.written, "{stats:?}");
    for (i, r) in DropReason::ALL.iter().enumerate() {
        assert!(claimed[i] <= stats.dropped.get(*r), "{claimed:?} {stats:?}");
    }

    // Full from the start; then it has room again.
    let second = fs.path().join("second.log");
    let stats = run(open(&second), |log| {
        assert!(!log.records(20));
        std::fs::remove_file(&filler).unwrap();
        log.records(20);
        assert!(log.records(20), "the disk has room again");
        assert!(log.records(0));
    });
    assert!(stats.dropped.writer_error > 0, "{stats:?}");
    assert!(stats.written >= 40, "{stats:?}");
    let (records, claimed) = whole_lines(&files(&second));
    assert_eq!(records, stats.written, "{stats:?}");
    for (i, r) in DropReason::ALL.iter().enumerate() {
        assert_eq!(claimed[i], stats.dropped.get(*r), "{claimed:?} {stats:?}");
    }
}

#[test]
fn append_file_on_a_full_disk_holds_only_whole_lines() {
    full_disk(
        "append_file_on_a_full_disk_holds_only_whole_lines",
        |p| append_file(p).unwrap(),
        |p| vec![p.to_owned()],
    );
}

#[test]
fn rolling_by_size_on_a_full_disk_holds_only_whole_lines() {
    const KEEP: usize = 40;
    full_disk(
        "rolling_by_size_on_a_full_disk_holds_only_whole_lines",
        |p| RollingBySize::new(p, 4 << 10, KEEP).unwrap(),
        |p| {
            let mut all = vec![p.to_owned()];
            for n in 1..=KEEP {
                let mut name = p.as_os_str().to_owned();
                name.push(format!(".{n}"));
                all.push(name.into());
            }
            all.retain(|f| f.exists());
            all
        },
    );
}
