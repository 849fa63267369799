//! The bounded async sink (issue 3). THIS IS A SYNCHRONOUS STAND-IN with the
//! final signatures, so the encoder can be built against it; the sink work
//! replaces the whole module.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_core::Level;

use crate::stats::{Counters, DropReason, Stats};

/// The producer side of the sink: cheap to clone, shared by every thread.
#[derive(Clone)]
pub struct Sink {
    counters: Arc<Counters>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Sink {
    /// A stand-in sink writing synchronously to `w`.
    pub fn stand_in(w: impl Write + Send + 'static) -> Sink {
        Sink {
            counters: Arc::default(),
            writer: Arc::new(Mutex::new(Box::new(w))),
        }
    }

    /// An empty buffer for one record, from the pool when one is there.
    #[inline]
    pub fn buffer(&self) -> Vec<u8> {
        Vec::with_capacity(256)
    }

    /// Submits one encoded record: exactly one line, ending in `\n`.
    /// Never blocks in the default configuration.
    #[inline]
    pub fn submit(&self, level: Level, record: Vec<u8>) -> Result<(), DropReason> {
        let _ = level;
        self.counters.submitted();
        let mut w = self.writer.lock().unwrap();
        w.write_all(&record).unwrap();
        w.flush().unwrap();
        self.counters.written(1, record.len() as u64);
        Ok(())
    }

    /// The largest record the sink takes whole, in bytes.
    pub fn max_record(&self) -> usize {
        64 * 1024
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}
