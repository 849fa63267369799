//! [`AppendFile`], and what it shares with [`RollingBySize`]: a file
//! written in whole lines only.
//!
//! A full disk takes part of a write and then fails: the file ends in the
//! middle of a record. The sink gives that batch up after its tries, and
//! when the disk has room again, the next record would be glued onto the
//! cut one: one line, two records, no JSON. So a write cut short
//! is taken back: the file is cut back to the end of its last whole line
//! (`set_len`), and the writer reports only whole lines as written. The
//! file holds whole lines whatever fails, and the sink's counts match it.
//!
//! [`RollingBySize`]: super::RollingBySize

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Writes cut short by `Interrupted` this many times in one call fail.
const MAX_INTERRUPTS: u32 = 16;

/// What [`Lines`] needs of a file: writes that append, and cutting it back.
pub(crate) trait Truncate: Write {
    /// Sets the file's length to `len` (never more than it is).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl Truncate for File {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// A file appended to in whole lines. Its bookkeeping assumes it is the
/// file's only writer (two writers appending to one log interleave lines
/// anyway).
#[derive(Debug)]
pub(crate) struct Lines<F> {
    file: F,
    /// The file's length.
    len: u64,
    /// The file's length at the end of its last whole line.
    whole: u64,
    /// Cutting the file back to `whole` failed: done before the next write.
    cut_owed: bool,
    /// The file did not end a line when opened (another process was cut
    /// off mid-write): the first write starts with a newline, so that what
    /// this one writes starts a line.
    newline_owed: bool,
}

impl<F: Truncate> Lines<F> {
    /// `file`, `len` bytes long, whose last byte is a newline (or nothing)
    /// when `ends_line`.
    pub(crate) fn new(file: F, len: u64, ends_line: bool) -> Self {
        Lines {
            file,
            len,
            whole: len,
            cut_owed: false,
            newline_owed: !ends_line,
        }
    }

    /// The file's length, as far as this writer knows.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Writes `buf` whole, or returns how much of it ends a whole line
    /// (none: the error); what a failed write left past the last whole line
    /// is cut off the file.
    fn write_lines(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.cut_owed {
            // Nothing is written after a cut line.
            self.file.truncate(self.whole)?;
            self.len = self.whole;
            self.cut_owed = false;
        }
        if self.newline_owed {
            self.append(b"\n").map_err(|(_, e)| e)?;
            self.whole = self.len;
            self.newline_owed = false;
        }
        let start = self.len;
        let result = self.append(buf);
        let done = match &result {
            Ok(()) => buf.len(),
            Err((done, _)) => *done,
        };
        if let Some(i) = buf[..done].iter().rposition(|b| *b == b'\n') {
            self.whole = start + i as u64 + 1;
        }
        let Err((_, e)) = result else {
            return Ok(buf.len());
        };
        if self.len > self.whole {
            match self.file.truncate(self.whole) {
                Ok(()) => self.len = self.whole,
                Err(_) => self.cut_owed = true,
            }
        }
        match self.whole.saturating_sub(start) {
            0 => Err(e),
            // Whole lines: the caller retries the rest (and sees the error).
            kept => Ok(kept as usize),
        }
    }

    /// Writes all of `buf`, or fails with how much of it got out.
    fn append(&mut self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
        let (mut done, mut interrupts) = (0, 0);
        while done < buf.len() {
            match self.file.write(&buf[done..]) {
                Ok(0) => return Err((done, io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    done += n;
                    self.len += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => {
                    interrupts += 1;
                }
                Err(e) => return Err((done, e)),
            }
        }
        Ok(())
    }
}

impl<F: Truncate> Write for Lines<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_lines(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Opens `path` for appending in whole lines, creating it (not its
/// directory) when missing.
pub(crate) fn open_lines(path: &Path) -> io::Result<Lines<File>> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    let (mut file, readable) = match opts.clone().read(true).open(path) {
        Ok(f) => (f, true),
        // A file we may append to but not read: assume it ends a line.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => (opts.open(path)?, false),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut ends_line = true;
    if readable && len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        ends_line = last[0] == b'\n';
    }
    Ok(Lines::new(file, len, ends_line))
}

/// A log file opened for appending, written in whole lines only; see
/// [`append_file`](super::append_file).
///
/// A write the file system cuts short (a full disk: part of it, then
/// errors) is taken back to the end of the last whole line, and only whole
/// lines are reported written, so the file never holds a cut record, and
/// the first record written once the disk has room again starts a line of
/// its own. A file that did not end a line when opened (a process killed
/// mid-write) gets a newline before the first record. It must be the
/// file's only writer.
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// std::fs::write(&path, "{\"cut\":")?; // left cut by an earlier process
/// let mut file = layer_safe::sink::writers::append_file(&path)?;
/// file.write_all(b"{\"a\":1}\n")?;
/// assert_eq!(std::fs::read_to_string(&path)?, "{\"cut\":\n{\"a\":1}\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AppendFile {
    lines: Lines<File>,
}

impl AppendFile {
    pub(crate) fn open(path: &Path) -> io::Result<AppendFile> {
        Ok(AppendFile {
            lines: open_lines(path)?,
        })
    }
}

impl Write for AppendFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lines.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lines.flush()
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
