//! The writer side.
//!
//! **`worker` (criterion): lines per second to a file.** One producer hands
//! 50 000 pre-rendered 242-byte lines to a system's worker, and the time is
//! from the first hand-over until the file has all 50 000 (counted by the
//! writer wrapper, so nothing waits on a guard's timeout). 50 000 is below
//! every queue here, so no line is dropped or shed and the producer never
//! waits: what is measured is how fast the worker empties its queue into
//! the file. The producer's side is the same for all: copy the line into a
//! `Vec<u8>` and hand it over.
//! - `layer_safe_events`: the standard event through the drop-in stack:
//!   the caller captures it, the worker formats the JSON line and writes it
//!   (the caller is faster, so this is the worker's rate, formatting
//!   included).
//! - `layer_safe`: `Sink::submit` (default bounds); the worker batches
//!   records into writes of up to 64 KiB.
//! - `tracing_appender`: `NonBlocking` with `lossy(false)`, written through
//!   its `io::Write` (one `Vec` per line); its worker writes each line with
//!   its own `write_all`.
//! - `floor`: `crossbeam_channel::try_send` to a thread that writes each
//!   line with one `write(2)`.
//!
//! Each iteration sets up a fresh system and file (untimed) and tears it
//! down after (untimed).
//!
//! **`burst` (one shot, printed and saved for the table): a burst of 220 000
//! standard events from one thread at full speed, default bounds.** Lines
//! lost are counted from the system's own drop count and from the event
//! lines in the file: layer-safe (the drop-in builder), the floor (queue of
//! 65 536, layer-safe's default capacity, one `write(2)` per line) and
//! `fmt().json()` + `non_blocking` (lossy, 128 000 lines).
//!
//! `cargo bench --bench worker`

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Floor, FmtJson, LayerSafe, LogFile, System, LINE};
use criterion::{criterion_group, Criterion, Throughput};
use tracing_appender::non_blocking::NonBlockingBuilder;

const LINES: u64 = 50_000;
const BURST: u64 = 220_000;
const WAIT: Duration = Duration::from_secs(30);

/// Times `LINES` hand-overs through `submit` until the file has them all.
fn timed(lines: &common::Lines, mut submit: impl FnMut()) -> Duration {
    let t0 = Instant::now();
    for _ in 0..LINES {
        submit();
    }
    assert!(lines.wait_for(LINES, WAIT), "lines lost");
    t0.elapsed()
}

fn worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker");
    g.throughput(Throughput::Elements(LINES));
    g.sample_size(10);
    // The standard event through the whole stack: the caller captures, the
    // worker formats the JSON and writes it. The caller is faster than the
    // worker, so this is the worker's rate.
    g.bench_function("layer_safe_events", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let ls = LayerSafe::new();
                    ls.scope(|| timed(ls.lines(), || ls.emit()))
                })
                .sum()
        })
    });
    g.bench_function("layer_safe", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let file = LogFile::new("ls.log");
                    let (w, lines) = file.open();
                    let (sink, guard) = layer_safe::Sink::builder().writer(w).build().unwrap();
                    let t = timed(&lines, || {
                        let mut buf = sink.buffer();
                        buf.extend_from_slice(LINE);
                        let _ = sink.submit(tracing::Level::INFO, buf);
                    });
                    assert_eq!(sink.stats().dropped.total(), 0);
                    drop(guard);
                    t
                })
                .sum()
        })
    });
    g.bench_function("tracing_appender", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let file = LogFile::new("ta.log");
                    let (w, lines) = file.open();
                    let (mut nb, guard) = NonBlockingBuilder::default().lossy(false).finish(w);
                    let t = timed(&lines, || {
                        let _ = nb.write_all(LINE);
                    });
                    drop(guard);
                    t
                })
                .sum()
        })
    });
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let floor = Floor::new();
                    let t = timed(floor.lines(), || floor.send(LINE));
                    assert_eq!(floor.dropped(), Some(0));
                    t
                })
                .sum()
        })
    });
    g.finish();
}

/// The burst: how many of 220 000 events at full speed are lost.
fn burst() {
    println!("burst: {BURST} standard events from one thread at full speed, default bounds");
    let mut results = serde_json::Map::new();
    let mut report = |name: &str, emitted: u64, dropped: u64, in_file: u64, elapsed: Duration| {
        let lost = emitted - in_file;
        println!(
            "burst/{name}: {in_file} of {emitted} event lines in the file, {lost} lost ({:.1}%); \
             the system counted {dropped} dropped; emitted in {elapsed:.2?}",
            100.0 * lost as f64 / emitted as f64
        );
        results.insert(
            name.to_owned(),
            serde_json::json!({
                "emitted": emitted, "in_file": in_file, "lost": lost,
                "dropped_counted": dropped, "emit_secs": elapsed.as_secs_f64(),
            }),
        );
    };

    // layer-safe: the drop-in builder, every default bound.
    let ls = LayerSafe::new();
    let t = ls.scope(|| {
        let t0 = Instant::now();
        for _ in 0..BURST {
            ls.emit();
        }
        t0.elapsed()
    });
    let LayerSafe { guard, file, .. } = ls;
    let _ = guard.flush(WAIT);
    let dropped = guard.stats().dropped.total();
    drop(guard);
    report(
        "layer_safe",
        BURST,
        dropped,
        file.count("request handled"),
        t,
    );

    // The floor: one write(2) per line.
    let mut floor = Floor::new();
    let t0 = Instant::now();
    for _ in 0..BURST {
        floor.send(LINE);
    }
    let t = t0.elapsed();
    floor.shut_down();
    let dropped = floor.dropped().unwrap_or(0);
    report(
        "floor",
        BURST,
        dropped,
        floor.file().count("request handled"),
        t,
    );

    // fmt().json() + non_blocking (lossy, 128 000 lines).
    let mut fj = FmtJson::new(true);
    let t = fj.scope(|| {
        let t0 = Instant::now();
        for _ in 0..BURST {
            fj.emit();
        }
        t0.elapsed()
    });
    fj.lines().wait_for(BURST - fj.dropped().unwrap_or(0), WAIT);
    fj.shut_down();
    let dropped = fj.dropped().unwrap_or(0);
    report("fmt_json", BURST, dropped, fj.lines().get(), t);

    common::save("burst", &serde_json::Value::Object(results));
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = worker
}

fn main() {
    if common::benchmarking() {
        burst();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
