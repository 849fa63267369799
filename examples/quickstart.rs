//! The one-line switch from `tracing_subscriber::fmt::init()`.
//!
//! ```text
//! cargo run --example quickstart
//! RUST_LOG=debug cargo run --example quickstart
//! ```

use tracing::{debug, info, info_span, warn};

fn main() {
    // Keep the guard until the end of `main`: dropping it flushes the queue
    // (within a deadline, 1 s by default).
    let guard = layer_safe::init();

    let span = info_span!("request", method = "GET", path = "/api/v1/items");
    let _entered = span.enter();
    info!(
        user_id = 42u64,
        latency_ms = 3.5,
        ok = true,
        "request handled"
    );
    debug!(cache = "hit", "only with RUST_LOG=debug");
    warn!(retries = 3, "upstream was slow");
    // Records from crates that use `log` arrive as JSON too.
    log::info!("hello from the log crate");

    drop(_entered);
    let stats = guard.stats();
    eprintln!(
        "written {} records, dropped {}",
        stats.written + stats.in_flight,
        stats.dropped.total()
    );
}
