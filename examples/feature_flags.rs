//! The safe pattern for a client of an external system (a feature-flag
//! service here) that the logging path may reach: ask
//! `layer_safe::external_call` first, and serve the cached value when the
//! answer is no.
//!
//! ```text
//! cargo run --example feature_flags
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};

static REMOTE_CALLS: AtomicU64 = AtomicU64::new(0);

/// A flag client with a local cache.
struct Flags {
    cache: RwLock<HashMap<&'static str, bool>>,
}

impl Flags {
    fn is_enabled(&self, flag: &'static str) -> bool {
        let cached = self.cache.read().unwrap().get(flag).copied();
        // Inside the logging path, never call out: serve the cached value
        // (or the default). Outside it, refresh from the service.
        if let Err(forbidden) = layer_safe::external_call("flag-service") {
            let _ = forbidden; // recorded by layer-safe; see the report below
            return cached.unwrap_or(false);
        }
        let fresh = self.fetch(flag);
        self.cache.write().unwrap().insert(flag, fresh);
        fresh
    }

    /// The remote call: it logs, as real clients do.
    fn fetch(&self, flag: &str) -> bool {
        REMOTE_CALLS.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "flags", flag, "fetched flag from the service");
        flag == "verbose_logging"
    }
}

static FLAGS: std::sync::LazyLock<Flags> = std::sync::LazyLock::new(|| Flags {
    cache: RwLock::new(HashMap::new()),
});

/// A layer that consults a flag: it gets the cached value, never a call.
struct SamplingLayer;

impl<S: Subscriber> Layer<S> for SamplingLayer {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        let _verbose = FLAGS.is_enabled("verbose_logging");
    }
}

fn main() {
    let guard = layer_safe::builder()
        .filter("debug")
        .with_layer(SamplingLayer)
        .policy(layer_safe::Policy::Report)
        .init();

    // Outside the logging path the application refreshes the flag...
    let verbose = FLAGS.is_enabled("verbose_logging");
    // ...and inside it, the layer reads the cache.
    for i in 0..100 {
        tracing::info!(request = i, verbose, "request handled");
    }

    guard.flush(std::time::Duration::from_secs(1));
    eprintln!(
        "remote flag calls: {} (one, from the application)",
        REMOTE_CALLS.load(Ordering::Relaxed)
    );
    eprintln!("{}", layer_safe::violations());
}
