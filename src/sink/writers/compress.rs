//! [`Compressor`]: gzip of rotated log files on a thread of its own, so the
//! sink's worker never waits for compression.
//!
//! A rotating writer renames the current file out of the way (readers that
//! follow the name see a new file at once), hands the renamed file here, and
//! carries on writing. The compressor writes `<final>.gz.tmp`, syncs it, then
//! renames it to its final name: a crash leaves at most a `.tmp` (removed at
//! the next start) and the uncompressed file (compressed at the next start),
//! never a truncated `.gz` under its final name.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use flate2::write::GzEncoder;

use crate::path::{Entered, Origin};
use crate::sink_core::status::Status;

/// How a compressed file takes its place among the kept ones.
#[derive(Debug)]
pub(crate) enum Place {
    /// Size rolling: `base.1.gz` is the newest; older ones shift up by one
    /// and the one past `keep` is removed.
    Shift { base: PathBuf, keep: usize },
    /// Time rolling: files are named by date; past `keep` (0 keeps all), the
    /// oldest `prefix.*.gz` in `dir` are removed.
    Prune {
        dir: PathBuf,
        prefix: String,
        keep: usize,
    },
}

/// Compress `src` into `dst` (a `.gz` name), then remove `src`.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) src: PathBuf,
    pub(crate) dst: PathBuf,
    pub(crate) place: Place,
}

enum Msg {
    Job(Job),
    /// Test hook: the thread waits on the receiver before the next message.
    #[cfg(test)]
    Hold(Receiver<()>),
}

/// Jobs submitted and not yet finished, to wait for.
#[derive(Default)]
struct Pending {
    count: Mutex<u64>,
    done: Condvar,
}

/// The handle a rotating writer owns. Dropping it lets the thread finish the
/// queued jobs and exit; nothing waits for it.
#[derive(Debug)]
pub(crate) struct Compressor {
    tx: Sender<Msg>,
    pending: Arc<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl Compressor {
    /// Starts the compressor thread.
    pub(crate) fn spawn() -> io::Result<Compressor> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pending = Arc::new(Pending::default());
        let shared = pending.clone();
        std::thread::Builder::new()
            .name("layer-safe-gzip".into())
            .spawn(move || run(rx, &shared))?;
        Ok(Compressor { tx, pending })
    }

    /// Queues `job`; never blocks (one message per rotation, so the queue
    /// stays as short as the number of rotations compression lags behind).
    pub(crate) fn submit(&self, job: Job) {
        *lock(&self.pending.count) += 1;
        if let Err(e) = self.tx.send(Msg::Job(job)) {
            // The thread is gone (it cannot be, while we hold the sender):
            // the file stays uncompressed and is picked up at the next start.
            *lock(&self.pending.count) -= 1;
            drop(e);
        }
    }

    /// Waits until every job submitted so far is done, at most `timeout`;
    /// `true` when they are.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut count = lock(&self.pending.count);
        while *count > 0 {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            count = match self.pending.done.wait_timeout(count, left) {
                Ok((c, _)) => c,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Test hook: stalls the thread until the returned sender is dropped.
    #[cfg(test)]
    pub(crate) fn hold(&self) -> Sender<()> {
        let (release, wait) = crossbeam_channel::bounded(0);
        let _ = self.tx.send(Msg::Hold(wait));
        release
    }
}

/// A poisoned count is still a count: nothing here panics while holding it.
fn lock(m: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(rx: Receiver<Msg>, pending: &Pending) {
    // In the logging path for life, as the sink worker is: whatever the file
    // system or a panic hook logs from here is dropped and counted.
    let _path = Entered::enter(Origin::Named("log compressor"));
    let mut status = Status::default();
    for msg in rx {
        // Infallible outside tests, where `Hold` is the second variant.
        #[allow(clippy::infallible_destructuring_match)]
        let job = match msg {
            Msg::Job(job) => job,
            #[cfg(test)]
            Msg::Hold(wait) => {
                let _ = wait.recv();
                continue;
            }
        };
        let result = catch_unwind(AssertUnwindSafe(|| compress(&job)));
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the compressor panicked".to_owned()),
        };
        if let Some(why) = failure {
            status.emit(
                Instant::now(),
                format_args!(
                    "cannot compress the rotated log file {}: {why}; it is kept uncompressed",
                    job.src.display()
                ),
            );
        }
        let mut count = lock(&pending.count);
        *count = count.saturating_sub(1);
        pending.done.notify_all();
    }
    status.finish();
}

/// `name` with `suffix` appended (`app.log` + `.gz`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn compress(job: &Job) -> io::Result<()> {
    let tmp = with_suffix(&job.dst, ".tmp");
    gzip(&job.src, &tmp)?;
    if let Place::Shift { base, keep } = &job.place {
        let gz = |n: usize| with_suffix(base, &format!(".{n}.gz"));
        gone_ok(fs::remove_file(gz(*keep)))?;
        for n in (1..*keep).rev() {
            gone_ok(fs::rename(gz(n), gz(n + 1)))?;
        }
    }
    fs::rename(&tmp, &job.dst)?;
    // After the rename: a crash before this compresses `src` again at the
    // next start (a duplicate file), never loses it.
    fs::remove_file(&job.src)?;
    if let Place::Prune { dir, prefix, keep } = &job.place {
        prune(dir, prefix, *keep)?;
    }
    Ok(())
}

fn gzip(src: &Path, tmp: &Path) -> io::Result<()> {
    let mut input = File::open(src)?;
    let out = BufWriter::new(File::create(tmp)?);
    let mut gz = GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut input, &mut gz)?;
    let out = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
    // On disk before the rename makes it final.
    out.sync_all()
}

/// Removes the oldest `prefix.*.gz` in `dir` beyond `keep` (0 keeps all).
/// Dates in the names sort as the files were made.
fn prune(dir: &Path, prefix: &str, keep: usize) -> io::Result<()> {
    if keep == 0 {
        return Ok(());
    }
    let mut gz = matching(dir, prefix, |rest| rest.ends_with(".gz"))?;
    gz.sort();
    let extra = gz.len().saturating_sub(keep);
    for old in &gz[..extra] {
        gone_ok(fs::remove_file(old))?;
    }
    Ok(())
}

/// Files in `dir` named `prefix.<rest>` where `keep(rest)`.
pub(crate) fn matching(
    dir: &Path,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> io::Result<Vec<PathBuf>> {
    let dotted = format!("{prefix}.");
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&dotted)) else {
            continue;
        };
        if keep(rest) && entry.file_type()?.is_file() {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// A file that is already gone is what removing or renaming it wanted.
pub(crate) fn gone_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Read;

    /// The lines of a gzip file.
    pub(crate) fn gunzip(path: &Path) -> String {
        let mut s = String::new();
        flate2::read::GzDecoder::new(File::open(path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn prune_keeps_the_newest_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["2024-01-01", "2024-01-03", "2024-01-02"] {
            fs::write(dir.path().join(format!("app.{d}.gz")), "").unwrap();
        }
        fs::write(dir.path().join("app.2024-01-04"), "").unwrap();
        prune(dir.path(), "app", 2).unwrap();
        let mut left = matching(dir.path(), "app", |_| true).unwrap();
        left.sort();
        let names: Vec<_> = left
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            ["app.2024-01-02.gz", "app.2024-01-03.gz", "app.2024-01-04"]
        );
    }

    #[test]
    fn a_failed_job_keeps_the_source_and_leaves_no_final_gz() {
        let dir = tempfile::tempdir().unwrap();
        let c = Compressor::spawn().unwrap();
        let dst = dir.path().join("missing-dir").join("x.gz");
        let src = dir.path().join("x");
        fs::write(&src, "a line\n").unwrap();
        c.submit(Job {
            src: src.clone(),
            dst: dst.clone(),
            place: Place::Prune {
                dir: dir.path().into(),
                prefix: "x".into(),
                keep: 1,
            },
        });
        assert!(c.wait(Duration::from_secs(60)));
        assert!(src.exists() && !dst.exists());
    }
}
