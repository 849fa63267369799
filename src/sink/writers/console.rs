//! stdout and stderr.

use std::io::{self, Write};

/// stdout or stderr, locked for each batch the worker writes.
///
/// The worker already writes whole batches of lines, so there is no second
/// buffer here: one batch is one `write` (std's line buffering of stdout
/// passes complete lines straight through).
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// let (sink, guard) = layer_safe::Sink::builder()
///     .writer(layer_safe::sink::writers::stderr())
///     .build()
///     .unwrap();
/// sink.submit(tracing_core::Level::INFO, b"{\"message\":\"to stderr\"}\n".to_vec()).unwrap();
/// assert!(guard.flush(Duration::from_secs(5)));
/// assert_eq!(guard.stats().written, 1);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Console {
    stderr: bool,
}

/// The process's standard output (the sink's default writer).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let mut out = layer_safe::sink::writers::stdout();
/// assert!(out.write_all(b"one line\n").is_ok());
/// assert!(out.flush().is_ok());
/// ```
pub fn stdout() -> Console {
    Console { stderr: false }
}

/// The process's standard error.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let mut err = layer_safe::sink::writers::stderr();
/// assert!(err.write_all(b"one line\n").is_ok());
/// assert!(err.flush().is_ok());
/// ```
pub fn stderr() -> Console {
    Console { stderr: true }
}

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stderr {
            io::stderr().lock().write(buf)
        } else {
            io::stdout().lock().write(buf)
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.stderr {
            io::stderr().lock().write_all(buf)
        } else {
            io::stdout().lock().write_all(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.stderr {
            io::stderr().lock().flush()
        } else {
            io::stdout().lock().flush()
        }
    }
}
