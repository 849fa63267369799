//! What an enabled event costs the thread that logs it.
//!
//! Systems (each writing to its own temporary file):
//! - `layer_safe`: `layer_safe::builder().filter("info").writer(file)`;
//! - `fmt_json`: `tracing_subscriber::fmt().json()` + `EnvFilter("info")` +
//!   `tracing_appender::non_blocking` (lossy, 128 000 lines);
//! - `slog_async`: `slog` + `slog-json` + `slog-async` (`DropAndReport`, 128);
//! - `floor`: a pre-rendered 242-byte line copied into a `Vec<u8>` and handed
//!   over with `crossbeam_channel::Sender::try_send` to a writer thread.
//!
//! Method: `iter_custom`. Events are emitted in batches of 1 000 (100 for
//! slog-async, whose queue holds 128; the others hold 64 Ki or more); only
//! the batch is timed, then the bench waits, untimed, until the writer has
//! written all of it. So every
//! system is measured with room in its queue: the figure is the cost of
//! logging, not of dropping. After each system the bench prints the events
//! it emitted, the lines that reached the file and the drops, to check that.
//! Per-call percentiles (p50, p99, p99.9) are in the `stall` bench.
//!
//! `cargo bench --bench caller`

mod common;

use std::time::{Duration, Instant};

use common::{Floor, FmtJson, LayerSafe, Slog, System, DRAIN_TIMEOUT};
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};

fn measure<S: System>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, sys: &S) {
    let start = sys.lines().get();
    let mut expected = start;
    let mut emitted = 0u64;
    let mut late = 0u64;
    sys.scope(|| {
        g.bench_function(sys.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(sys.batch());
                    let t0 = Instant::now();
                    for _ in 0..n {
                        sys.emit();
                    }
                    total += t0.elapsed();
                    left -= n;
                    emitted += n;
                    expected += n;
                    if !sys.lines().wait_for(expected, DRAIN_TIMEOUT) {
                        // Lines lost: go on from what the writer has.
                        let got = sys.lines().get();
                        late += expected - got;
                        expected = got;
                    }
                }
                total
            })
        });
    });
    if emitted == 0 {
        return; // filtered out on the command line
    }
    let written = sys.lines().get() - start;
    let dropped = sys
        .dropped()
        .map_or("not counted".to_owned(), |d| d.to_string());
    println!(
        "caller/{}: {emitted} events, {written} lines written, dropped: {dropped}, \
         missing after {DRAIN_TIMEOUT:?}: {late}",
        sys.name()
    );
}

fn caller(c: &mut Criterion) {
    let mut g = c.benchmark_group("caller");
    g.throughput(Throughput::Elements(1));
    measure(&mut g, &LayerSafe::new());
    measure(&mut g, &FmtJson::new(true));
    measure(&mut g, &Slog::new());
    measure(&mut g, &Floor::new());
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = caller
}
criterion::criterion_main!(benches);
