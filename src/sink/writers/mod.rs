//! Writers for the sink: the console, an append file ([`AppendFile`]),
//! files rolled by time (`tracing-appender`'s) and files rolled by size
//! ([`RollingBySize`]), the last two in whole lines only; with the
//! `compress` feature, rotated files gzipped on a thread of their own
//! (`RollingBySize::compress`, `RollingByTime`).
//!
//! Any `io::Write + Send + 'static` works as a writer. These need no
//! buffering of their own: the worker hands them whole batches of lines, one
//! `write` call per batch when the writer takes it all. The append file,
//! the size-rolled files and `RollingByTime`'s (feature `compress`) are written in whole lines
//! only: a write a full disk cuts short is cut back to the last whole line
//! (`tracing-appender`'s time rolling, without the `compress` feature, is
//! not).

use std::io;
use std::path::Path;

#[cfg(feature = "compress")]
mod compress;
mod console;
mod file;
mod rotation;
mod size;
#[cfg(feature = "compress")]
mod time;

pub use console::{stderr, stdout, Console};
pub use file::AppendFile;
pub use rotation::Rotation;
pub use size::RollingBySize;
#[cfg(feature = "compress")]
pub use time::RollingByTime;

/// Opens `path` for appending, creating it (not its directory) when missing,
/// to be written in whole lines only (see [`AppendFile`]).
///
/// # Errors
///
/// The error from opening the file.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let file = layer_safe::sink::writers::append_file(&path)?;
/// let (sink, guard) = layer_safe::Sink::builder().writer(file).build().unwrap();
/// sink.submit(tracing_core::Level::INFO, b"{\"a\":1}\n".to_vec()).unwrap();
/// assert!(guard.flush(std::time::Duration::from_secs(5)));
/// assert_eq!(std::fs::read_to_string(&path)?, "{\"a\":1}\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn append_file(path: impl AsRef<Path>) -> io::Result<AppendFile> {
    AppendFile::open(path.as_ref())
}

/// Files rolled by time, by `tracing-appender`'s `RollingFileAppender`:
/// `directory/prefix.YYYY-MM-DD` (or `-HH`, `-HH-MM` for shorter periods),
/// keeping the `max_files` newest (0 keeps all). Its type is not named, so
/// that a new release of `tracing-appender` is not a breaking change here.
///
/// # Errors
///
/// The directory cannot be created or read.
///
/// # Examples
///
/// ```
/// use layer_safe::sink::writers::{rolling_by_time, Rotation};
/// # use std::time::Duration;
/// let dir = tempfile::tempdir()?;
/// let daily = rolling_by_time(dir.path(), "app.log", Rotation::DAILY, 7)?;
/// let (sink, guard) = layer_safe::Sink::builder().writer(daily).build().unwrap();
/// sink.submit(tracing_core::Level::INFO, b"{}\n".to_vec()).unwrap();
/// assert!(guard.flush(Duration::from_secs(5)));
/// let file = std::fs::read_dir(dir.path())?.next().unwrap()?.file_name();
/// assert!(file.to_string_lossy().starts_with("app.log.")); // app.log.2026-12-02
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn rolling_by_time(
    directory: impl AsRef<Path>,
    prefix: &str,
    rotation: Rotation,
    max_files: usize,
) -> io::Result<impl io::Write + Send + 'static> {
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(rotation.appender())
        .filename_prefix(prefix)
        .max_log_files(max_files)
        .build(directory)
        .map_err(io::Error::other)
}
