//! What a disabled event costs.
//!
//! Three cases, each under three stacks that share one filter:
//! - `below_level`: a `debug!` under `info`;
//! - `target_off`: an `info!` to target `noisy`, turned off by the
//!   `noisy=off` directive;
//! - `dynamic`: a `debug!` inside span `request{method="GET"}` under a span
//!   directive `[request{method="POST"}]=debug`, which `EnvFilter` can only
//!   decide per event (interest "sometimes"), so every layer's `enabled`
//!   runs, the recursion guard's included.
//!
//! Stacks: `layer_safe` (the drop-in builder), `tracing_filter` (a
//! `Registry` + the same `EnvFilter`, no output) and `tracing_fmt` (a
//! `Registry` + the same `EnvFilter` + a `fmt` layer to `io::sink`).
//! All the stacks of one case are alive together and use the same filter,
//! so `tracing`'s cached callsite interest is the same for each.
//!
//! Method: `Bencher::iter`, the dispatcher set for the whole run.
//!
//! `cargo bench --bench disabled`

mod common;

use criterion::{criterion_group, Criterion};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

fn stacks(filter: &str) -> Vec<(&'static str, Dispatch, Option<layer_safe::FlushGuard>)> {
    let (ls, guard) = layer_safe::builder()
        .filter(filter)
        .writer(std::io::sink())
        .build()
        .expect("layer-safe builds");
    let plain = tracing_subscriber::registry().with(EnvFilter::new(filter));
    let fmt = tracing_subscriber::registry()
        .with(EnvFilter::new(filter))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::sink),
        );
    vec![
        ("layer_safe", ls, Some(guard)),
        ("tracing_filter", Dispatch::new(plain), None),
        ("tracing_fmt", Dispatch::new(fmt), None),
    ]
}

fn case(c: &mut Criterion, name: &str, filter: &str, event: fn()) {
    let mut g = c.benchmark_group(format!("disabled_{name}"));
    for (id, dispatch, _guard) in stacks(filter) {
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("request", method = "GET");
            let _entered = span.enter();
            g.bench_function(id, |b| b.iter(event));
        });
    }
    g.finish();
}

fn disabled(c: &mut Criterion) {
    case(c, "below_level", "info,noisy=off", || {
        tracing::debug!(user_id = 42u64, path = "/api/v1/items", "request handled")
    });
    case(
        c,
        "target_off",
        "info,noisy=off",
        || tracing::info!(target: "noisy", user_id = 42u64, path = "/api/v1/items", "request handled"),
    );
    case(c, "dynamic", "info,[request{method=POST}]=debug", || {
        tracing::debug!(user_id = 42u64, path = "/api/v1/items", "request handled")
    });
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = disabled
}
criterion::criterion_main!(benches);
