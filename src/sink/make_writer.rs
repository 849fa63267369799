//! `MakeWriter`: a `tracing_subscriber::fmt` layer writing through the sink.

use std::fmt;
use std::io::{self, Write};

use tracing_core::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use super::Sink;

/// The writer a [`Sink`] makes for one event: it collects the event's bytes
/// in a pooled buffer and submits them as one record when dropped.
///
/// Bytes past the maximum record size are not kept (the record is cut with a
/// marker on submit), so a runaway event cannot grow the buffer without
/// bound.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use tracing_subscriber::fmt::MakeWriter;
///
/// let (sink, guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
/// let mut w = sink.make_writer();
/// w.write_all(b"one line\n").unwrap();
/// drop(w); // submitted here
/// guard.flush(std::time::Duration::from_secs(1));
/// assert_eq!(sink.stats().written, 1);
/// ```
pub struct SinkWriter<'a> {
    sink: &'a Sink,
    level: Level,
    buf: Vec<u8>,
}

impl<'a> SinkWriter<'a> {
    fn new(sink: &'a Sink, level: Level) -> Self {
        SinkWriter {
            sink,
            level,
            buf: sink.buffer(),
        }
    }
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // One byte past the limit is enough for `submit` to see the record
        // is too long and cut it.
        let room = (self.sink.max_record() + 1).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SinkWriter<'_> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if !buf.is_empty() {
            // Counted either way; the caller of a writer has no use for it.
            let _ = self.sink.submit(self.level, buf);
        }
    }
}

impl fmt::Debug for SinkWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkWriter")
            .field("level", &self.level)
            .field("len", &self.buf.len())
            .finish()
    }
}

/// `fmt::layer().with_writer(sink)`: each event becomes one record, at the
/// event's level (so shedding applies to it).
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let (sink, guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().with_writer(sink.clone()));
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// drop(guard);
/// assert_eq!(sink.stats().written, 1);
/// ```
impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter<'a>;

    /// A writer for a record of unknown level: taken as `INFO`.
    fn make_writer(&'a self) -> SinkWriter<'a> {
        SinkWriter::new(self, Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SinkWriter<'a> {
        SinkWriter::new(self, *meta.level())
    }
}
