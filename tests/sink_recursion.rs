//! The worker thread is in the logging path for good: a writer that logs
//! through `tracing` gets its events dropped as recursion, never queued.
//!
//! Its own test binary: the worker thread sees only the global dispatcher,
//! and a recursion test under a scoped one proves nothing.

mod sink_common;

use std::io::{self, Write};
use std::time::Duration;

use layer_safe::{GuardedExt, Sink};
use sink_common::{assert_invariant, Capture};
use tracing_subscriber::prelude::*;

/// Logs an event on every write.
struct Chatty(Capture);

impl Write for Chatty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        tracing::info!(bytes = buf.len(), "writing");
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        tracing::info!("flushing");
        Ok(())
    }
}

#[test]
fn a_writer_that_logs_cannot_feed_itself() {
    let out = Capture::default();
    let (sink, guard) = Sink::builder().writer(Chatty(out.clone())).build().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(sink.clone()),
        )
        .guarded();
    let guard_stats = subscriber.stats_handle();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    for i in 0..10 {
        tracing::info!(i, "hello");
    }
    assert!(guard.flush(Duration::from_secs(10)));
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!((s.submitted, s.written, s.in_flight), (10, 10, 0));
    // The writer's own events were dropped by the guard, not written.
    assert!(guard_stats.snapshot().dropped.recursion > 0);
    assert_eq!(out.events().len(), 10);
    assert!(out.events().iter().all(|l| l.contains("hello")));
}
