//! No heap allocation per event in the steady state on the worker's side
//! either: decoding, formatting (JSON and text) and writing a record reuse
//! the worker's buffers.
//!
//! The counting allocator counts on every thread while it is on, so this
//! binary holds one test: nothing else runs beside the caller, the worker
//! and the sink's spare-segment thread.

#[path = "common/alloc.rs"]
mod alloc;
#[path = "common/standard.rs"]
mod standard;

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;

use layer_safe::{GuardedExt, JsonLayer, LineFormat, Sink};
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Counts the lines written; keeps nothing.
#[derive(Clone, Default)]
struct Lines(Arc<AtomicU64>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.iter().filter(|&&b| b == b'\n').count();
        self.0.fetch_add(n as u64, Release);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// Waits (without allocating) until `n` lines were written.
    fn wait_for(&self, n: u64) {
        while self.0.load(Acquire) < n {
            std::thread::yield_now();
        }
    }
}

/// Logs `n` standard events in batches of `batch`, each written before
/// the next.
fn log(lines: &Lines, written: &mut u64, n: u64, batch: u64) {
    for _ in 0..n / batch {
        for _ in 0..batch {
            standard::event();
        }
        *written += batch;
        lines.wait_for(*written);
    }
}

#[test]
fn the_worker_allocates_nothing_per_event_in_json_or_text() {
    // A preempted event is a slow path, and recording it allocates.
    layer_safe::set_slow_path_budget(std::time::Duration::from_secs(3600));
    for format in [LineFormat::Json, LineFormat::Text] {
        let lines = Lines::default();
        let (sink, guard) = Sink::builder().writer(lines.clone()).build().unwrap();
        let layer = JsonLayer::builder(sink.clone()).format(format).build();
        let subscriber = tracing_subscriber::registry().with(layer).guarded();
        let (mut written, mut n) = (0, 0);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", method = "GET");
            let _g = span.enter();
            // Warm up with bursts four times those measured: the lane grows
            // to a segment that holds them, and has its spare (asked for
            // once a segment is a quarter full), the worker's batch and
            // formatting buffers grow to theirs.
            log(&lines, &mut written, 48_000, 4_000);
            n = alloc::anywhere(|| log(&lines, &mut written, 20_000, 1_000));
        });
        assert_eq!(n, 0, "{format:?}: allocations in 20 000 events");
        assert!(guard.flush(std::time::Duration::from_secs(10)));
        assert_eq!(sink.stats().written, 68_000);
    }
}
