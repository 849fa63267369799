//! [`RollingByTime`]: files rolled by time whose finished files are gzipped.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::compress::{gone_ok, matching, with_suffix, Compressor, Job, Place};
use super::rotation::Period;
use super::AppendFile;
use super::Rotation;

/// Files rolled by time, as `tracing-appender`'s `RollingFileAppender`
/// names them
/// (`dir/prefix.YYYY-MM-DD`, `-HH` or `-HH-MM` for shorter periods, UTC),
/// where each finished file is gzipped to `prefix.DATE.gz` on a thread of
/// its own and `keep` counts the `.gz` files (0 keeps all).
///
/// Ours rather than a wrapper around the appender, which does not say when it
/// rolls: detecting the change (comparing the open file's inode per batch,
/// then scanning the directory for the previous name) would add a system call
/// per batch, and the appender's own pruning counts every file starting with
/// the prefix, `.gz` included, so two prunings would fight over `keep`. Here
/// the roll is one branch on the clock per batch, and the compressor prunes
/// alone. A dated file is never renamed: at a roll the next one is created,
/// and readers that follow a glob (Vector, Fluent Bit, the filelog receiver)
/// pick it up; the finished file is removed only after its `.gz` is complete,
/// and one still open by a reader stays readable to its end.
///
/// Files a crash left uncompressed are compressed at the next start.
///
/// # Examples
///
/// ```
/// use layer_safe::sink::writers::{RollingByTime, Rotation};
///
/// let dir = tempfile::tempdir()?;
/// let daily = RollingByTime::new(dir.path(), "app.log", Rotation::DAILY, 7)?;
/// assert!(daily.current().starts_with(dir.path()));
/// let (sink, _guard) = layer_safe::Sink::builder().writer(daily).build().unwrap();
/// # drop(sink);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RollingByTime {
    dir: PathBuf,
    prefix: String,
    period: Period,
    keep: usize,
    current: PathBuf,
    /// `None` after a failed roll: the next write opens it again. In whole
    /// lines, as the append file is: a full disk leaves no cut record.
    file: Option<AppendFile>,
    /// Unix seconds at which the current file's period ends.
    ends: u64,
    gzip: Compressor,
}

impl RollingByTime {
    /// Creates `dir` if needed, opens the current period's file, starts the
    /// compressor and queues the finished files a crash left uncompressed.
    ///
    /// # Errors
    ///
    /// The directory cannot be created or read, the file cannot be opened,
    /// or the thread cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::sink::writers::{RollingByTime, Rotation};
    /// # let dir = tempfile::tempdir()?;
    /// let hourly = RollingByTime::new(dir.path(), "app.log", Rotation::HOURLY, 24)?;
    /// assert!(hourly.current().exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(
        dir: impl AsRef<Path>,
        prefix: &str,
        rotation: Rotation,
        keep: usize,
    ) -> io::Result<Self> {
        Self::new_at(dir.as_ref(), prefix, rotation, keep, now())
    }

    fn new_at(
        dir: &Path,
        prefix: &str,
        rotation: Rotation,
        keep: usize,
        now: u64,
    ) -> io::Result<Self> {
        let period = rotation.0;
        fs::create_dir_all(dir)?;
        let mut this = RollingByTime {
            dir: dir.to_owned(),
            prefix: prefix.to_owned(),
            period,
            keep,
            current: PathBuf::new(),
            file: None,
            ends: 0,
            gzip: Compressor::spawn()?,
        };
        this.start_period(now);
        this.open()?;
        this.recover()?;
        Ok(this)
    }

    /// The file being written now.
    ///
    /// ```
    /// use layer_safe::sink::writers::{RollingByTime, Rotation};
    /// # let dir = tempfile::tempdir()?;
    /// let never = RollingByTime::new(dir.path(), "app.log", Rotation::NEVER, 0)?;
    /// assert_eq!(never.current(), dir.path().join("app.log"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current(&self) -> &Path {
        &self.current
    }

    /// Waits at most `timeout` until every finished file so far is
    /// compressed; `true` when it is.
    ///
    /// ```
    /// use layer_safe::sink::writers::{RollingByTime, Rotation};
    /// # let dir = tempfile::tempdir()?;
    /// let daily = RollingByTime::new(dir.path(), "app.log", Rotation::DAILY, 7)?;
    /// assert!(daily.wait_compressed(std::time::Duration::from_secs(60)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_compressed(&self, timeout: Duration) -> bool {
        self.gzip.wait(timeout)
    }

    /// Points `current` and `ends` at the period holding `now`.
    fn start_period(&mut self, now: u64) {
        let name = match self.period.start(now) {
            Some(start) => {
                self.ends = start + self.period.secs();
                format!("{}.{}", self.prefix, self.period.format(start))
            }
            None => {
                self.ends = u64::MAX;
                self.prefix.clone()
            }
        };
        self.current = self.dir.join(name);
    }

    fn open(&mut self) -> io::Result<&mut AppendFile> {
        if self.file.is_none() {
            self.file = Some(AppendFile::open(&self.current)?);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn job(&self, src: PathBuf) -> Job {
        Job {
            dst: with_suffix(&src, ".gz"),
            src,
            place: Place::Prune {
                dir: self.dir.clone(),
                prefix: self.prefix.clone(),
                keep: self.keep,
            },
        }
    }

    /// Queues the dated files other than the current one, oldest first, and
    /// removes half-written `.tmp` files.
    fn recover(&mut self) -> io::Result<()> {
        let width = self.period.format(0).len();
        let dated = |rest: &str| {
            rest.len() == width && rest.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        };
        let mut finished = matching(&self.dir, &self.prefix, dated)?;
        finished.retain(|p| *p != self.current);
        finished.sort();
        // Before the jobs: the compressor writes its own `.gz.tmp` files,
        // and removing one it has begun loses that file's compression.
        for tmp in matching(&self.dir, &self.prefix, |rest| rest.ends_with(".gz.tmp"))? {
            gone_ok(fs::remove_file(tmp))?;
        }
        for src in finished {
            self.gzip.submit(self.job(src));
        }
        Ok(())
    }

    fn write_at(&mut self, now: u64, buf: &[u8]) -> io::Result<usize> {
        if now >= self.ends {
            if let Some(mut file) = self.file.take() {
                file.flush()?;
            }
            let finished = self.current.clone();
            self.start_period(now);
            self.gzip.submit(self.job(finished));
        }
        self.open()?.write(buf)
    }
}

impl Write for RollingByTime {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_at(now(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

const DAY: u64 = 86_400;

impl Period {
    /// The start of the period holding `now` (weeks start on Sunday, as the
    /// appender's do); `None` for a file that never rolls.
    fn start(self, now: u64) -> Option<u64> {
        Some(match self {
            Period::Minute => now - now % 60,
            Period::Hour => now - now % 3600,
            Period::Day => now - now % DAY,
            // 1970-01-01 was a Thursday, 4 days after a Sunday.
            Period::Week => (now / DAY - (now / DAY + 4) % 7) * DAY,
            Period::Never => return None,
        })
    }

    fn secs(self) -> u64 {
        match self {
            Period::Minute => 60,
            Period::Hour => 3600,
            Period::Day => DAY,
            Period::Week => 7 * DAY,
            Period::Never => u64::MAX,
        }
    }

    fn format(self, start: u64) -> String {
        let (y, m, d) = civil_from_days(start / DAY);
        let (hh, mm) = (start % DAY / 3600, start % 3600 / 60);
        match self {
            Period::Minute => format!("{y:04}-{m:02}-{d:02}-{hh:02}-{mm:02}"),
            Period::Hour => format!("{y:04}-{m:02}-{d:02}-{hh:02}"),
            _ => format!("{y:04}-{m:02}-{d:02}"),
        }
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), for the file names without a date crate.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink_core::writers::compress::tests::gunzip;

    const WAIT: Duration = Duration::from_secs(60);
    /// 2024-01-01T00:00:00Z.
    const JAN_1: u64 = 1_704_067_200;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn lines(w: &mut RollingByTime, at: u64, n: usize) {
        for i in 0..n {
            w.write_at(at, format!("line {i}\n").as_bytes()).unwrap();
        }
    }

    #[test]
    fn names_match_the_appenders() {
        assert_eq!(civil_from_days(951_782_400 / DAY), (2000, 2, 29));
        let t = JAN_1 + 13 * 3600 + 7 * 60 + 5;
        assert_eq!(
            Period::Minute.format(Period::Minute.start(t).unwrap()),
            "2024-01-01-13-07"
        );
        assert_eq!(
            Period::Hour.format(Period::Hour.start(t).unwrap()),
            "2024-01-01-13"
        );
        // 2024-01-01 was a Monday: its week started on Sunday 2023-12-31.
        assert_eq!(
            Period::Week.format(Period::Week.start(t).unwrap()),
            "2023-12-31"
        );
    }

    #[test]
    fn finished_days_are_compressed_and_keep_counts_gz_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut w =
            RollingByTime::new_at(dir.path(), "app.log", Rotation::DAILY, 2, JAN_1).unwrap();
        lines(&mut w, JAN_1 + 5, 3);
        lines(&mut w, JAN_1 + DAY, 4);
        lines(&mut w, JAN_1 + 2 * DAY + 86_399, 5);
        lines(&mut w, JAN_1 + 3 * DAY, 6);
        assert!(w.wait_compressed(WAIT));
        assert_eq!(
            names(dir.path()),
            [
                "app.log.2024-01-02.gz",
                "app.log.2024-01-03.gz",
                "app.log.2024-01-04"
            ]
        );
        let gz = |d: &str| gunzip(&dir.path().join(format!("app.log.{d}.gz")));
        assert_eq!(gz("2024-01-02").lines().count(), 4);
        assert_eq!(gz("2024-01-03").lines().count(), 5);
        let current = fs::read_to_string(w.current()).unwrap();
        assert_eq!(current.lines().count(), 6);
    }

    #[test]
    fn files_a_crash_left_are_compressed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        fs::write(p("app.log.2024-01-01-10"), "a\nb\n").unwrap();
        fs::write(p("app.log.2024-01-01-11.gz.tmp"), "half").unwrap();
        fs::write(p("app.log.notes"), "not ours").unwrap();
        let at = JAN_1 + 12 * 3600;
        let w = RollingByTime::new_at(dir.path(), "app.log", Rotation::HOURLY, 0, at).unwrap();
        assert!(w.wait_compressed(WAIT));
        assert_eq!(
            names(dir.path()),
            [
                "app.log.2024-01-01-10.gz",
                "app.log.2024-01-01-12",
                "app.log.notes"
            ]
        );
        assert_eq!(gunzip(&p("app.log.2024-01-01-10.gz")), "a\nb\n");
    }
}
