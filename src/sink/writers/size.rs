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
/// # Examples
///
/// ```
/// use layer_safe::sink::writers::RollingBySize;
///
/// let dir = tempfile::tempdir()?;
/// // app.log plus at most 5 rotated files of about 10 MiB each.
/// let files = RollingBySize::new(dir.path().join("app.log"), 10 << 20, 5)?;
/// let (sink, _guard) = layer_safe::Sink::builder().writer(files).build().unwrap();
/// # drop(sink);
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
    /// let files = layer_safe::sink::writers::RollingBySize::new(dir.path().join("a.log"), 1 << 20, 3)?;
    /// # drop(files);
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
}
