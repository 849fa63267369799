//! [`RollingBySize`]: files rolled by size, keeping a fixed number.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

use super::file::{open_lines, Lines};

/// A log file rolled by size: `app.log` is written until the next batch of
/// lines would take it past `max_bytes`; it then becomes `app.log.1`, the
/// older files shift (`.1` to `.2`, ...), and only `keep` of them are kept.
///
/// Files are cut between lines, never inside one, so every file holds whole
/// records. A single line longer than `max_bytes` gets a file of its own.
/// Like [`AppendFile`](super::AppendFile), a write a full disk cuts short
/// is cut back to the last whole line.
///
/// Written here rather than taken from a crate: `file-rotate` 0.8 (the
/// well-known one) cuts `ContentLimit::Bytes` files mid-line, `assert!`s on
/// the state of the file system (a panic in the writer), and when it cannot
/// open the file it drops writes while reporting success, which would make
/// the sink count lost records as written; it also brings `chrono` and
/// `flate2`. This is under 150 lines and tested.
///
/// With `compress(true)` (feature `compress`), the rotated
/// files are `app.log.1.gz` (newest) to `app.log.<keep>.gz`, gzipped on a
/// thread of their own: at rotation `app.log` is renamed to
/// `app.log.pending.<n>` and a new `app.log` created, as without compression,
/// so a reader following the name loses nothing, and the writer goes on at
/// once. Files left pending by a crash are compressed at the next start.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use layer_safe::sink::writers::RollingBySize;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// // app.log plus at most 5 rotated files of about 10 MiB each.
/// let files = RollingBySize::new(&path, 10 << 20, 5)?;
/// # drop(files);
/// // With 64 bytes, a second 40-byte line starts a new file.
/// let mut small = RollingBySize::new(&path, 64, 5)?;
/// small.write_all(format!("{}\n", "a".repeat(39)).as_bytes())?;
/// small.write_all(format!("{}\n", "b".repeat(39)).as_bytes())?;
/// small.flush()?;
/// assert!(std::fs::read_to_string(dir.path().join("app.log.1"))?.starts_with('a'));
/// assert!(std::fs::read_to_string(&path)?.starts_with('b'));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RollingBySize {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    /// `None` after a failed rotation: the next write opens it again.
    file: Option<Lines<File>>,
    size: u64,
    #[cfg(feature = "compress")]
    gzip: Option<Gzip>,
}

/// The compressor and the number of the next pending file.
#[cfg(feature = "compress")]
#[derive(Debug)]
struct Gzip {
    compressor: super::compress::Compressor,
    next: u64,
}

impl RollingBySize {
    /// Opens (creating) `path` for appending, so a bad path fails at start-up
    /// rather than at the first record. `keep` is the number of rotated
    /// files kept besides `path`.
    ///
    /// # Errors
    ///
    /// The error from opening the file (its directory must exist), or
    /// `InvalidInput` for a `max_bytes` of 0, which would keep no record.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use layer_safe::sink::writers::RollingBySize;
    /// let files = RollingBySize::new(dir.path().join("a.log"), 1 << 20, 3)?;
    /// assert!(dir.path().join("a.log").exists()); // opened at once
    /// # drop(files);
    ///
    /// let zero = RollingBySize::new(dir.path().join("b.log"), 0, 3).unwrap_err();
    /// assert_eq!(zero.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64, keep: usize) -> io::Result<Self> {
        if max_bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_bytes is 0: every record would roll the file and only `keep` records survive",
            ));
        }
        let mut this = RollingBySize {
            path: path.into(),
            max_bytes,
            keep,
            file: None,
            size: 0,
            #[cfg(feature = "compress")]
            gzip: None,
        };
        this.open()?;
        Ok(this)
    }

    fn open(&mut self) -> io::Result<&mut Lines<File>> {
        if self.file.is_none() {
            let file = open_lines(&self.path)?;
            self.size = file.len();
            self.file = Some(file);
        }
        // Just set when it was missing.
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// `path.n`.
    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        #[cfg(feature = "compress")]
        if self.keep > 0 && self.gzip.is_some() {
            return self.rotate_compressed();
        }
        let gone_ok = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if self.keep == 0 {
            gone_ok(fs::remove_file(&self.path))?;
        } else {
            gone_ok(fs::remove_file(self.rotated(self.keep)))?;
            for n in (1..self.keep).rev() {
                gone_ok(fs::rename(self.rotated(n), self.rotated(n + 1)))?;
            }
            fs::rename(&self.path, self.rotated(1))?;
        }
        self.open()?;
        Ok(())
    }
}

#[cfg(feature = "compress")]
impl RollingBySize {
    /// Whether rotated files are gzip-compressed (off by default); see the
    /// type's documentation for the names. Turning it on starts the
    /// compressor thread and queues what a crash left pending; `keep` counts
    /// the `.gz` files.
    ///
    /// # Errors
    ///
    /// The thread cannot be started, or the directory cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use layer_safe::sink::writers::RollingBySize;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut files = RollingBySize::new(dir.path().join("app.log"), 10, 3)?.compress(true)?;
    /// files.write_all(b"one line\nanother line\n")?;
    /// assert!(files.wait_compressed(Duration::from_secs(60)));
    /// assert!(dir.path().join("app.log.1.gz").exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn compress(mut self, on: bool) -> io::Result<Self> {
        if !on {
            self.gzip = None;
            return Ok(self);
        }
        let compressor = super::compress::Compressor::spawn()?;
        let mut gzip = Gzip {
            compressor,
            next: 0,
        };
        self.recover(&mut gzip)?;
        self.gzip = Some(gzip);
        Ok(self)
    }

    /// Waits at most `timeout` until every rotated file so far is
    /// compressed; `true` when it is (also when compression is off).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let files = layer_safe::sink::writers::RollingBySize::new(dir.path().join("a.log"), 1 << 20, 3)?;
    /// assert!(files.wait_compressed(std::time::Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_compressed(&self, timeout: std::time::Duration) -> bool {
        self.gzip
            .as_ref()
            .map_or(true, |g| g.compressor.wait(timeout))
    }

    /// Queues, oldest first, the files a crash left pending, and removes
    /// half-written `.tmp` files.
    fn recover(&self, gzip: &mut Gzip) -> io::Result<()> {
        use super::compress::{gone_ok, matching};
        let (dir, name) = self.dir_and_name();
        let mut pending: Vec<(u64, PathBuf)> = matching(&dir, &name, |_| true)?
            .into_iter()
            .filter_map(|p| {
                let rest = p.file_name()?.to_str()?.strip_prefix(&name)?;
                let n = rest.strip_prefix(".pending.")?.parse().ok()?;
                Some((n, p))
            })
            .collect();
        pending.sort();
        // Before the jobs: the compressor writes its own `.gz.tmp` files,
        // and removing one it has begun loses that file's compression.
        for tmp in matching(&dir, &name, |rest| rest.ends_with(".gz.tmp"))? {
            gone_ok(fs::remove_file(tmp))?;
        }
        for (n, src) in pending {
            gzip.next = n + 1;
            gzip.compressor.submit(self.job(src));
        }
        Ok(())
    }

    fn dir_and_name(&self) -> (PathBuf, String) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        (dir, name)
    }

    fn job(&self, src: PathBuf) -> super::compress::Job {
        use super::compress::{with_suffix, Job, Place};
        Job {
            src,
            dst: with_suffix(&self.path, ".1.gz"),
            place: Place::Shift {
                base: self.path.clone(),
                keep: self.keep,
            },
        }
    }

    /// Rename and create, as without compression; the compressor does the
    /// rest on its own thread.
    fn rotate_compressed(&mut self) -> io::Result<()> {
        let gzip = self.gzip.as_mut().expect("checked by the caller");
        let pending = super::compress::with_suffix(&self.path, &format!(".pending.{}", gzip.next));
        fs::rename(&self.path, &pending)?;
        gzip.next += 1;
        self.open()?;
        let job = self.job(pending);
        if let Some(g) = &self.gzip {
            g.compressor.submit(job);
        }
        Ok(())
    }
}

impl Write for RollingBySize {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.open()?;
        let room = usize::try_from(self.max_bytes.saturating_sub(self.size)).unwrap_or(usize::MAX);
        let take = if buf.len() <= room {
            buf.len()
        } else if let Some(i) = buf[..room].iter().rposition(|b| *b == b'\n') {
            // The whole lines that fit.
            i + 1
        } else if self.size == 0 {
            // One line longer than a file: it gets a file to itself.
            buf.iter()
                .position(|b| *b == b'\n')
                .map_or(buf.len(), |i| i + 1)
        } else {
            self.rotate()?;
            return self.write(buf);
        };
        let file = self.open()?;
        let n = file.write(&buf[..take]);
        // What is in the file, whether the write got all of it out or not.
        self.size = file.len();
        n
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: PathBuf) -> String {
        fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn rotates_between_lines_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut w = RollingBySize::new(&path, 100, 2).unwrap();
        let mut all = String::new();
        for i in 0..40 {
            let line = format!("line {i:03} {}\n", "x".repeat(i % 7 * 3));
            all.push_str(&line);
            w.write_all(line.as_bytes()).unwrap();
        }
        w.flush().unwrap();
        let (cur, one, two) = (read(path.clone()), read(w.rotated(1)), read(w.rotated(2)));
        assert!(!w.rotated(3).exists(), "only 2 rotated files are kept");
        for f in [&cur, &one, &two] {
            assert!(f.len() <= 100 && f.ends_with('\n'), "{f:?}");
        }
        // Oldest to newest, the kept files are the tail of what was written.
        let kept = format!("{two}{one}{cur}");
        assert!(all.ends_with(&kept));
        assert!(kept.len() > 200);
    }

    #[test]
    fn a_batch_is_split_at_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut w = RollingBySize::new(&path, 10, 1).unwrap();
        w.write_all(b"aaaa\nbbbb\ncccc\n").unwrap();
        assert_eq!(read(w.rotated(1)), "aaaa\nbbbb\n");
        assert_eq!(read(path), "cccc\n");
    }

    #[test]
    fn a_long_line_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut w = RollingBySize::new(&path, 4, 3).unwrap();
        w.write_all(b"ab\nlonger line\ncd\n").unwrap();
        assert_eq!(read(w.rotated(2)), "ab\n");
        assert_eq!(read(w.rotated(1)), "longer line\n");
        assert_eq!(read(path), "cd\n");
    }

    #[test]
    fn existing_size_counts_and_keep_zero_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        fs::write(&path, "12345678\n").unwrap();
        let mut w = RollingBySize::new(&path, 10, 0).unwrap();
        w.write_all(b"next\n").unwrap();
        assert_eq!(read(path), "next\n");
        assert!(!w.rotated(1).exists());
    }

    #[cfg(feature = "compress")]
    mod gzip {
        use super::*;
        use crate::sink_core::writers::compress::tests::gunzip;
        use std::time::Duration;

        const WAIT: Duration = Duration::from_secs(60);

        fn names(dir: &std::path::Path) -> Vec<String> {
            let mut v: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        }

        fn write_lines(w: &mut RollingBySize, n: usize) -> String {
            let mut all = String::new();
            for i in 0..n {
                let line = format!("line {i:04}\n");
                all.push_str(&line);
                w.write_all(line.as_bytes()).unwrap();
            }
            all
        }

        /// The kept files, oldest first, decompressed, then the current one.
        fn kept(w: &RollingBySize, keep: usize) -> String {
            let mut s = String::new();
            for n in (1..=keep).rev() {
                let gz = w.rotated(n).with_extension(format!("{n}.gz"));
                if gz.exists() {
                    s.push_str(&gunzip(&gz));
                }
            }
            s + &read(w.path.clone())
        }

        #[test]
        fn every_line_survives_compressed_rotation_in_order() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.log");
            // 10-byte lines, 5 to a file: 200 lines make 39 rotated files.
            let mut w = RollingBySize::new(&path, 50, 100)
                .unwrap()
                .compress(true)
                .unwrap();
            let all = write_lines(&mut w, 200);
            assert!(w.wait_compressed(WAIT));
            let names = names(dir.path());
            assert_eq!(names.iter().filter(|n| n.ends_with(".gz")).count(), 39);
            assert!(names
                .iter()
                .all(|n| !n.contains("pending") && !n.ends_with(".tmp")));
            let kept = kept(&w, 100);
            assert_eq!(kept.lines().count(), 200);
            assert_eq!(kept, all);
        }

        #[test]
        fn keep_counts_the_gz_files() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.log");
            let mut w = RollingBySize::new(&path, 50, 2)
                .unwrap()
                .compress(true)
                .unwrap();
            let all = write_lines(&mut w, 100);
            assert!(w.wait_compressed(WAIT));
            assert_eq!(
                names(dir.path()),
                ["app.log", "app.log.1.gz", "app.log.2.gz"]
            );
            let kept = kept(&w, 2);
            assert_eq!(kept.lines().count(), 15);
            assert!(all.ends_with(&kept));
        }

        #[test]
        fn the_writer_never_waits_for_the_compressor() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.log");
            let mut w = RollingBySize::new(&path, 50, 10)
                .unwrap()
                .compress(true)
                .unwrap();
            // Stalled until `release` drops: a writer that waited would hang.
            let release = w.gzip.as_ref().unwrap().compressor.hold();
            let all = write_lines(&mut w, 30);
            let pending = names(dir.path())
                .iter()
                .filter(|n| n.contains(".pending."))
                .count();
            assert_eq!(pending, 5, "{:?}", names(dir.path()));
            assert!(!names(dir.path()).iter().any(|n| n.ends_with(".gz")));
            assert_eq!(read(path.clone()).lines().count(), 5);
            drop(release);
            assert!(w.wait_compressed(WAIT));
            assert_eq!(kept(&w, 10), all);
        }

        #[test]
        fn files_a_crash_left_are_compressed_at_start() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.log");
            let p = |rest: &str| dir.path().join(format!("app.log{rest}"));
            fs::write(p(".pending.3"), "a\nb\n").unwrap();
            fs::write(p(".pending.4"), "c\n").unwrap();
            fs::write(p(".1.gz.tmp"), "half a gzip").unwrap();
            let mut w = RollingBySize::new(&path, 2, 5)
                .unwrap()
                .compress(true)
                .unwrap();
            assert!(w.wait_compressed(WAIT));
            assert_eq!(gunzip(&p(".2.gz")), "a\nb\n");
            assert_eq!(gunzip(&p(".1.gz")), "c\n");
            // New pending files are numbered after the recovered ones.
            let release = w.gzip.as_ref().unwrap().compressor.hold();
            w.write_all(b"d\ne\n").unwrap();
            assert!(p(".pending.5").exists());
            drop(release);
            assert!(w.wait_compressed(WAIT));
            assert_eq!(
                names(dir.path()),
                ["app.log", "app.log.1.gz", "app.log.2.gz", "app.log.3.gz"]
            );
            assert_eq!(gunzip(&p(".1.gz")), "d\n");
            assert_eq!(read(path), "e\n");
        }
    }
}
