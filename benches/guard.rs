//! What the recursion guard (`.guarded()`) adds to an
//! enabled event.
//!
//! - `noop`: `Registry` + a layer that does nothing, bare and guarded: the
//!   guard's own cost, isolated (TLS reads and writes of the logging-path
//!   depth, the sampled slow-path timer).
//! - `json`: `Registry` + `JsonLayer` to a `Sink` writing to `io::sink()`,
//!   bare and guarded: the same, in the real stack. Batches of 1 000 events
//!   with an untimed wait for the worker between batches (see
//!   `benches/common/mod.rs`), so the queue never fills.
//!
//! Both run the standard event inside the standard span.
//!
//! `cargo bench --bench guard`

mod common;

use common::{in_span, standard_event, timed_batches, Counted};
use criterion::{criterion_group, Criterion};
use layer_safe::{GuardedExt, JsonLayer, Sink};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Layer, SubscriberExt};

/// A layer that does nothing: the cheapest enabled stack.
struct Noop;

impl<S: Subscriber> Layer<S> for Noop {}

fn noop(c: &mut Criterion) {
    let mut g = c.benchmark_group("guard_noop");
    let bare = Dispatch::new(tracing_subscriber::registry().with(Noop));
    let guarded = Dispatch::new(tracing_subscriber::registry().with(Noop).guarded());
    for (id, d) in [("unguarded", &bare), ("guarded", &guarded)] {
        in_span(d, || g.bench_function(id, |b| b.iter(standard_event)));
    }
    g.finish();
}

fn json(c: &mut Criterion) {
    let mut g = c.benchmark_group("guard_json");
    for guarded in [false, true] {
        let (w, lines) = Counted::new(std::io::sink());
        let (sink, _guard) = Sink::builder().writer(w).build().expect("sink");
        let stack = tracing_subscriber::registry().with(JsonLayer::new(sink.clone()));
        let dispatch = if guarded {
            Dispatch::new(stack.guarded())
        } else {
            Dispatch::new(stack)
        };
        let id = if guarded { "guarded" } else { "unguarded" };
        let mut expected = 0;
        in_span(&dispatch, || {
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    timed_batches(&lines, &mut expected, iters, || {
                        standard_event();
                    })
                })
            })
        });
        let s = sink.stats();
        println!(
            "guard_json/{id}: {} submitted, {} written, {} dropped",
            s.submitted,
            s.written,
            s.dropped.total()
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = noop, json
}
criterion::criterion_main!(benches);
