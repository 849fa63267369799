//! No heap allocation per event in the steady state.
//!
//! A counting global allocator, counting only on the thread under test:
//! with a warm buffer pool, the encoder, the span cache reads, the clock,
//! the layer, the guard and the sink's submit add nothing.

#[path = "common/alloc.rs"]
mod alloc;
#[path = "common/standard.rs"]
mod standard;

use layer_safe::{GuardedExt, JsonLayer, JsonLayerBuilder, LineFormat, Sink};
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

fn check(build: impl FnOnce(JsonLayerBuilder) -> JsonLayerBuilder) {
    // A preempted event on a loaded machine is a slow path, and recording
    // the first one allocates: not what this test measures.
    layer_safe::set_slow_path_budget(std::time::Duration::from_secs(3600));
    let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
    let flush = || assert!(guard.flush(std::time::Duration::from_secs(10)));
    let layer = build(JsonLayer::builder(sink.clone())).build();
    let subscriber = tracing_subscriber::registry().with(layer).guarded();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", method = "GET");
        let _g = span.enter();
        let event = standard::event;
        for _ in 0..100 {
            event(); // warm up: thread-local caches, the span stack
        }
        // Buffers come back to the pool once the worker has taken them: on a
        // loaded 2-core machine the worker may not have run between two
        // events, so flush (outside the count) after each one. What is
        // measured is the caller's own path with a warm pool.
        flush();
        const N: u64 = 1000;
        let mut n = 0;
        for _ in 0..N {
            n += alloc::on_this_thread(event);
            flush();
        }
        assert_eq!(n, 0, "{} allocations per event", n as f64 / N as f64);
    });
    flush();
    assert_eq!(sink.stats().written, 1100);
}

#[test]
fn default_json() {
    check(|b| b);
}

#[test]
fn every_option_on() {
    check(|b| {
        b.flatten_event(true)
            .flatten_span_fields(true)
            .with_thread_names(true)
            .with_thread_ids(true)
            .with_file(true)
            .with_line_number(true)
            .static_field("service", "svc")
            .timestamp(layer_safe::Timestamp::UnixNanos)
    });
}

#[test]
fn text() {
    check(|b| b.format(LineFormat::Text).ansi(true));
}
