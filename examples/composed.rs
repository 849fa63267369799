//! Your own stack under the guard: `EnvFilter` + the JSON layer + a layer of
//! your own (a metrics counter here; OpenTelemetry works the same way).
//!
//! ```text
//! cargo run --example composed
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use layer_safe::{GuardedExt, JsonLayer, Sink};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

/// Counts warnings and errors, as a metrics layer would.
#[derive(Clone, Default)]
struct ErrorCounter(Arc<AtomicU64>);

impl<S: Subscriber> Layer<S> for ErrorCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn main() {
    let (sink, guard) = Sink::builder()
        .writer(layer_safe::sink::writers::stdout())
        .capacity(16 * 1024)
        .build()
        .expect("valid sink settings");
    let errors = ErrorCounter::default();

    // The whole stack runs inside the logging path: whatever any of these
    // layers logs is dropped and counted, never recursed into.
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(errors.clone())
        .with(
            JsonLayer::builder(sink.clone())
                .with_thread_names(true)
                .static_field("service", "composed-example")
                .build(),
        )
        // The sink's counters, so the guard's recursion drops are counted,
        // and reported in-band, with the sink's.
        .guarded_with(sink.stats_handle());
    let stats = sink.stats_handle();
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");

    tracing::info!(user_id = 42u64, "request handled");
    tracing::warn!(upstream = "payments", "slow upstream");
    tracing::error!(code = 503, "upstream failed");

    guard.flush(Duration::from_secs(1));
    eprintln!(
        "errors and warnings counted by the user layer: {}",
        errors.0.load(Ordering::Relaxed)
    );
    eprintln!("stats: {:?}", stats.snapshot());
}
