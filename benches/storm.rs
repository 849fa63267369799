//! What storm control per call site costs the caller.
//!
//! Cases, each the standard event through `layer_safe::builder()` to a
//! file, inside the standard span, measured as `caller.rs` does (batches of
//! 1 000 timed, then an untimed wait until the writer has all of them):
//! - `off`: no rate limit (the default): the check is a `None` branch;
//! - `on_under_limit`: `rate_limit_per_callsite(u32::MAX, u32::MAX)`, so
//!   every event passes the bucket and is written: `on_under_limit - off`
//!   is the check's cost (budget: 5 ns);
//! - `on_over_limit`: `rate_limit_per_callsite(1, 1)` past its burst:
//!   every event is suppressed before capture, so this is the whole cost
//!   of an event in a storm (check, two per-thread counts, the guard and
//!   the dispatch), with no wait.
//!
//! Then, outside criterion, `storm/paired`: the two first systems in
//! alternating batches, the median of the per-round differences: the
//! figure for the check's cost, since criterion's runs of one after the
//! other differ by more than 5 ns on a shared machine.
//!
//! `cargo bench --bench storm`

mod common;

use std::time::Instant;

use common::{
    in_span, standard_event, timed_batches, Counted, Lines, LogFile, BATCH, DRAIN_TIMEOUT, FILTER,
};
use criterion::{criterion_group, Criterion, Throughput};
use tracing::Dispatch;

fn system(limit: Option<(u32, u32)>) -> (Dispatch, layer_safe::FlushGuard, Lines, LogFile) {
    let file = LogFile::new("storm.log");
    let (w, lines): (Counted<_>, Lines) = file.open();
    let mut b = layer_safe::builder().filter(FILTER).writer(w);
    if let Some((rate, burst)) = limit {
        b = b.rate_limit_per_callsite(rate, burst);
    }
    let (dispatch, guard) = b.build().expect("layer-safe builds");
    (dispatch, guard, lines, file)
}

/// Written events, timed in batches with the queue drained between them.
fn written(c: &mut Criterion, name: &str, limit: Option<(u32, u32)>) {
    let (dispatch, guard, lines, _file) = system(limit);
    let mut g = c.benchmark_group("storm");
    g.throughput(Throughput::Elements(1));
    let mut expected = lines.get();
    in_span(&dispatch, || {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed_batches(&lines, &mut expected, iters, || {
                    standard_event();
                })
            })
        });
    });
    g.finish();
    let s = guard.stats();
    if s.submitted == 0 {
        return; // filtered out on the command line
    }
    println!(
        "storm/{name}: {} written, {} dropped ({} rate limited)",
        s.written,
        s.dropped.total(),
        s.dropped.rate_limited
    );
}

/// Suppressed events: nothing reaches the queue, so no waiting.
fn suppressed(c: &mut Criterion) {
    let (dispatch, guard, _lines, _file) = system(Some((1, 1)));
    let mut g = c.benchmark_group("storm");
    g.throughput(Throughput::Elements(1));
    in_span(&dispatch, || {
        standard_event(); // the burst
        g.bench_function("on_over_limit", |b| b.iter(standard_event));
    });
    g.finish();
    let s = guard.stats();
    if s.written + s.dropped.rate_limited <= 1 {
        return; // filtered out on the command line
    }
    println!(
        "storm/on_over_limit: {} written, {} rate limited",
        s.written, s.dropped.rate_limited
    );
}

/// `on_under_limit - off`, measured apart from criterion: batches of the
/// two systems alternate (each first every other round), so drift (the other core, frequency) falls on
/// both alike; prints the median of the per-round differences.
fn paired() {
    const ROUNDS: usize = 2_000;
    let systems = [system(None), system(Some((u32::MAX, u32::MAX)))];
    let mut expected = [systems[0].2.get(), systems[1].2.get()];
    let mut per_event = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS + 100 {
        // Each goes first every other round.
        for i in [round % 2, 1 - round % 2] {
            let (dispatch, _, lines, _) = &systems[i];
            let t = in_span(dispatch, || {
                let t0 = Instant::now();
                for _ in 0..BATCH {
                    standard_event();
                }
                t0.elapsed()
            });
            expected[i] += BATCH;
            if !lines.wait_for(expected[i], DRAIN_TIMEOUT) {
                expected[i] = lines.get();
            }
            if round >= 100 {
                // After a warm-up.
                per_event[i].push(t.as_secs_f64() * 1e9 / BATCH as f64);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut diff: Vec<f64> = per_event[1]
        .iter()
        .zip(&per_event[0])
        .map(|(on, off)| on - off)
        .collect();
    let d = median(&mut diff);
    let (off, on) = (median(&mut per_event[0]), median(&mut per_event[1]));
    println!(
        "storm/paired: off {off:.1} ns, on_under_limit {on:.1} ns per event (medians of \
         {ROUNDS} alternating batches of {BATCH}); median difference {d:+.1} ns"
    );
}

fn storm(c: &mut Criterion) {
    if common::benchmarking() {
        paired();
    }
    written(c, "off", None);
    written(c, "on_under_limit", Some((u32::MAX, u32::MAX)));
    written(c, "off_again", None);
    suppressed(c);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = storm
}

criterion::criterion_main!(benches);
