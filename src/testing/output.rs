//! [`Output`]: an in-memory writer, for tests that read what was logged.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// A writer that keeps in memory everything written to it. Clones share
/// the one buffer: hand a clone to a sink or a builder, and read the lines
/// from the test.
///
/// # Examples
///
/// ```
/// use layer_safe::testing::Output;
/// use std::time::Duration;
///
/// let out = Output::default();
/// let (dispatch, guard) = layer_safe::builder().writer(out.clone()).build()?;
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!(user = 42, "signed in"));
/// assert!(guard.flush(Duration::from_secs(5)));
/// let line: serde_json::Value = serde_json::from_str(&out.lines()[0])?;
/// assert_eq!(line["fields"]["user"], 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = layer_safe::testing::Output::default();
    /// out.write_all(b"one\ntwo\n")?;
    /// assert_eq!(out.text(), "one\ntwo\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf()).into_owned()
    }

    /// Everything written so far, as it was written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = layer_safe::testing::Output::default();
    /// out.write_all(&[0xff, b'\n'])?;
    /// assert_eq!(out.bytes(), [0xff, b'\n']);
    /// assert!(String::from_utf8(out.bytes()).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bytes(&self) -> Vec<u8> {
        self.buf().clone()
    }

    /// Everything written so far, a line each, without the newlines.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = layer_safe::testing::Output::default();
    /// out.write_all(b"one\ntwo\n")?;
    /// assert_eq!(out.lines(), ["one", "two"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// Forgets what was written so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = layer_safe::testing::Output::default();
    /// out.write_all(b"old\n")?;
    /// out.clear();
    /// assert!(out.text().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&self) {
        self.buf().clear();
    }

    /// A panic while a test held the buffer leaves it as it was: still
    /// readable.
    fn buf(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Output {
    type Writer = Output;

    fn make_writer(&'a self) -> Output {
        self.clone()
    }
}
