//! What the trace context costs an event (feature `opentelemetry`).
//!
//! One stack per case, each writing to a line-counting `io::sink()`:
//! registry + `tracing-opentelemetry` (an `SdkTracerProvider` with no
//! exporter) + `JsonLayer`, the standard event in the standard span:
//! - `ids_off`: `with_trace_ids(false)`, the OTel layer still there;
//! - `ids_on`: the default, the span entered once (the ids come from the
//!   thread's cached frame);
//! - `ids_on_enter_each`: the span entered and left around every event,
//!   so every event looks the ids up (`get_otel_context`);
//! - `no_otel_layer`: `JsonLayer` alone, the feature compiled in.
//!
//! Method as in `caller`: batches of 1 000 timed, then an untimed wait until
//! the writer has them all, so the figure is the cost of logging.
//!
//! `cargo bench --features opentelemetry --bench otel`

mod common;

use common::{criterion, standard_event, timed_batches, Counted, Lines};
use criterion::{criterion_group, Criterion, Throughput};
use opentelemetry::trace::TracerProvider as _;
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

use layer_safe::{FlushGuard, GuardedExt, JsonLayer, Sink};

fn stack(otel: bool, ids: bool) -> (Dispatch, Lines, FlushGuard) {
    let (writer, lines) = Counted::new(std::io::sink());
    let (sink, guard) = Sink::builder().writer(writer).build().unwrap();
    let json = JsonLayer::builder(sink).with_trace_ids(ids).build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let otel = otel.then(|| tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(otel)
            .with(json)
            .guarded(),
    );
    (dispatch, lines, guard)
}

fn run(c: &mut Criterion, name: &str, otel: bool, ids: bool, enter_each: bool) {
    let (dispatch, lines, guard) = stack(otel, ids);
    let mut g = c.benchmark_group("otel");
    g.throughput(Throughput::Elements(1));
    let mut expected = 0;
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request", method = "GET");
        let _outer = (!enter_each).then(|| span.enter());
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed_batches(&lines, &mut expected, iters, || {
                    if enter_each {
                        let _e = span.enter();
                        standard_event();
                    } else {
                        standard_event();
                    }
                })
            })
        });
    });
    g.finish();
    drop(guard);
}

fn benches(c: &mut Criterion) {
    run(c, "ids_off", true, false, false);
    run(c, "ids_on", true, true, false);
    run(c, "ids_on_enter_each", true, true, true);
    run(c, "no_otel_layer", false, true, false);
}

criterion_group! {
    name = otel;
    config = criterion();
    targets = benches
}

fn main() {
    otel();
    criterion::Criterion::default().final_summary();
}
