//! The builder's output: where the lines go (the writers) and what they
//! look like (JSON or text, colours).

use std::io::Write;
use std::path::Path;

use super::{Builder, Output};
use crate::encode::LineFormat;
use crate::sink_core::writers::Rotation;

impl Builder {
    /// Writes to standard output (the default), buffered by the worker.
    ///
    /// ```
    /// assert!(layer_safe::builder().stdout().build().is_ok());
    /// ```
    pub fn stdout(mut self) -> Self {
        self.output = Output::Stdout;
        self
    }

    /// Writes to standard error.
    ///
    /// ```
    /// assert!(layer_safe::builder().stderr().build().is_ok());
    /// ```
    pub fn stderr(mut self) -> Self {
        self.output = Output::Stderr;
        self
    }

    /// Appends to `path`, creating it (not its directory) if needed; a
    /// missing directory is an [`InitError::Writer`](crate::InitError::Writer).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let (dispatch, guard) = layer_safe::builder().file(&path).build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("to the file"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert!(std::fs::read_to_string(&path)?.contains("to the file"));
    ///
    /// let missing = layer_safe::builder().file(dir.path().join("no/such/app.log")).build();
    /// assert!(matches!(missing, Err(layer_safe::InitError::Writer { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.output = Output::File(path.as_ref().to_owned());
        self
    }

    /// Rolls files in `dir` named `prefix.DATE` by time (minutely, hourly,
    /// daily), keeping the newest `keep` (`tracing-appender`'s rolling).
    ///
    /// ```
    /// use layer_safe::sink::writers::Rotation;
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .rolling_by_time(dir.path(), "app.log", Rotation::DAILY, 7)
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("rolled"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let file = std::fs::read_dir(dir.path())?.next().unwrap()?.file_name();
    /// assert!(file.to_string_lossy().starts_with("app.log.")); // app.log.2026-12-02
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rolling_by_time(
        mut self,
        dir: impl AsRef<Path>,
        prefix: &str,
        rotation: Rotation,
        keep: usize,
    ) -> Self {
        self.output = Output::ByTime {
            dir: dir.as_ref().to_owned(),
            prefix: prefix.to_owned(),
            rotation,
            keep,
        };
        self
    }

    /// Rolls `path` when it would exceed `max_bytes`, keeping `keep` older
    /// files (`path.1` newest); see [`RollingBySize`](crate::sink_core::writers::RollingBySize).
    /// The directory must exist; a missing one, or a `max_bytes` of 0, is an
    /// [`InitError::Writer`](crate::InitError::Writer).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let (dispatch, guard) = layer_safe::builder().rolling_by_size(&path, 64 << 20, 5).build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("sized"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert!(std::fs::read_to_string(&path)?.contains("sized"));
    ///
    /// let zero = layer_safe::builder().rolling_by_size(&path, 0, 5).build();
    /// assert!(matches!(zero, Err(layer_safe::InitError::Writer { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rolling_by_size(mut self, path: impl AsRef<Path>, max_bytes: u64, keep: usize) -> Self {
        self.output = Output::BySize {
            path: path.as_ref().to_owned(),
            max_bytes,
            keep,
        };
        self
    }

    /// Writes to any `io::Write`; the worker thread owns it.
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// let out = Buf::default(); // an `Arc<Mutex<Vec<u8>>>` that implements `io::Write`
    /// let (dispatch, guard) = layer_safe::builder().writer(out.clone()).build().unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("kept"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert!(out.text().contains("kept"));
    /// ```
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.output = Output::Custom(Box::new(writer));
        self
    }

    /// One JSON object per line (the default), shaped as
    /// `tracing_subscriber::fmt().json()` shapes it.
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (dispatch, guard) = layer_safe::builder().json().writer(out.clone()).build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!(user_id = 42, "hi"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let line: serde_json::Value = serde_json::from_str(out.text().trim_end())?;
    /// assert_eq!(line["level"], "INFO");
    /// assert_eq!(line["fields"]["message"], "hi");
    /// assert_eq!(line["fields"]["user_id"], 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn json(mut self) -> Self {
        self.format = LineFormat::Json;
        self
    }

    /// Compact human-readable lines, in colour when writing to a terminal.
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (dispatch, guard) = layer_safe::builder().text().writer(out.clone()).build().unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!(user_id = 42, "hi"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let line = out.text();
    /// assert!(line.contains("hi") && line.contains("user_id=42"));
    /// assert!(!line.contains('{'));
    /// ```
    pub fn text(mut self) -> Self {
        self.format = LineFormat::Text;
        self
    }

    /// Colours in the text format: on or off, instead of "when stdout or
    /// stderr is a terminal".
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// for ansi in [true, false] {
    ///     let out = Buf::default();
    ///     let (dispatch, guard) = layer_safe::builder().text().ansi(ansi).writer(out.clone()).build().unwrap();
    ///     tracing::dispatcher::with_default(&dispatch, || tracing::info!("hi"));
    ///     assert!(guard.flush(Duration::from_secs(5)));
    ///     assert_eq!(out.text().contains('\x1b'), ansi); // escape codes only when on
    /// }
    /// ```
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.ansi = Some(ansi);
        self
    }
}
