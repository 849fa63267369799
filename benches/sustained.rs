//! The caller's latency under sustained load, the way a service loads a
//! logger: the standard event back to back, with the writer running the
//! whole time, every system installed as the global default.
//!
//! Each system runs in a child process of its own (this binary, re-run):
//! 20 000 warm-up calls, then 200 000 timed calls per producer, each call
//! timed with two `Instant::now()` into an `hdrhistogram` (p50, p99, p99.9
//! and the mean; the timer's own cost, printed as `timer`, is in every
//! figure). Nothing waits for the writer: a system that cannot keep up
//! drops (the `dropped` column), and a caller that shares cache lines with
//! its writer pays for it on every call. With `producers = 2`, two threads
//! log at once; `events/s` is what they got through together.
//!
//! Systems: `layer_safe` (the drop-in builder, defaults), `fmt_json`
//! (`fmt().json()` + `tracing_appender::non_blocking`, lossy),
//! `slog_async` and the `floor` (a rendered line copied into a `Vec` and
//! `try_send` to a writer thread), each writing to a file.
//!
//! `cargo bench --bench sustained`

mod common;

use std::io::{self, Write};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{Floor, FmtJson, LayerSafe, Slog, System};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

const CHILD_VAR: &str = "LAYER_SAFE_BENCH_SUSTAINED";
const EVENTS: u64 = 200_000;
const WARM_UP: u64 = 20_000;
const SYSTEMS: [&str; 4] = ["floor", "layer_safe", "slog_async", "fmt_json"];

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// One producer: warm up, then time every call.
fn produce<S: System>(sys: &S) -> (Histogram<u64>, Duration) {
    let mut h = histogram();
    let mut run = || {
        for _ in 0..WARM_UP {
            sys.emit();
        }
        let start = Instant::now();
        for _ in 0..EVENTS {
            let t0 = Instant::now();
            sys.emit();
            h.saturating_record(t0.elapsed().as_nanos() as u64);
        }
        start.elapsed()
    };
    let took = if sys.dispatch().is_some() {
        // The standard span, entered under the global default.
        let span = tracing::info_span!("request", method = "GET");
        let _entered = span.enter();
        run()
    } else {
        run()
    };
    (h, took)
}

fn measure<S: System>(sys: &S, producers: usize) -> Value {
    if let Some(d) = sys.dispatch() {
        tracing::dispatcher::set_global_default(d.clone()).expect("first global default");
    }
    let start = Barrier::new(producers);
    let results: Vec<(Histogram<u64>, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    produce(sys)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = histogram();
    let mut slowest = Duration::ZERO;
    for (h, took) in &results {
        all.add(h).expect("same bounds");
        slowest = slowest.max(*took);
    }
    let events = EVENTS * producers as u64;
    json!({
        "p50": all.value_at_quantile(0.5),
        "p99": all.value_at_quantile(0.99),
        "p999": all.value_at_quantile(0.999),
        "mean": all.mean(),
        "events_per_s": events as f64 / slowest.as_secs_f64(),
        "dropped": sys.dropped(),
    })
}

fn timer_overhead() -> u64 {
    let mut h = histogram();
    for _ in 0..100_000 {
        let t0 = Instant::now();
        h.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    h.value_at_quantile(0.5)
}

/// In the child: one system, `producers` threads; prints its figures.
fn child(spec: &str) {
    let (name, producers) = spec.split_once(':').expect("system:producers");
    let producers: usize = producers.parse().expect("a number of producers");
    let v = match name {
        "layer_safe" => measure(&LayerSafe::new(), producers),
        "fmt_json" => measure(&FmtJson::new(true), producers),
        "slog_async" => measure(&Slog::new(), producers),
        "floor" => measure(&Floor::new(), producers),
        other => panic!("unknown system {other}"),
    };
    println!("RESULT {v}");
    let _ = io::stdout().flush();
    // Skip the systems' shutdown: the parent has what it needs.
    std::process::exit(0);
}

fn spawn(name: &str, producers: usize) -> Option<Value> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_VAR, format!("{name}:{producers}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("RESULT "))?;
    serde_json::from_str(line).ok()
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        return child(&spec);
    }
    if !common::benchmarking() {
        println!("sustained: skipped (run it with `cargo bench --bench sustained`)");
        return;
    }
    println!(
        "timer: {} ns per Instant pair (p50), in every figure",
        timer_overhead()
    );
    let mut saved = serde_json::Map::new();
    for producers in [1, 2] {
        println!("\nproducers = {producers}");
        println!(
            "{:<12} {:>8} {:>8} {:>9} {:>8} {:>12} {:>10} {:>8} {:>8}",
            "system", "p50", "p99", "p99.9", "mean", "events/s", "dropped", "p50/fl", "mean/fl"
        );
        let mut floor: Option<Value> = None;
        for name in SYSTEMS {
            let Some(v) = spawn(name, producers) else {
                println!("{name:<12} (failed)");
                continue;
            };
            let f = floor.get_or_insert_with(|| v.clone()).clone();
            let ratio =
                |k: &str| v[k].as_f64().unwrap_or(f64::NAN) / f[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:<12} {:>6} ns {:>6} ns {:>7} ns {:>6.0} ns {:>12.0} {:>10} {:>7.2}x {:>7.2}x",
                name,
                v["p50"],
                v["p99"],
                v["p999"],
                v["mean"].as_f64().unwrap_or(f64::NAN),
                v["events_per_s"].as_f64().unwrap_or(f64::NAN),
                v["dropped"],
                ratio("p50"),
                ratio("mean"),
            );
            saved.insert(format!("{name}/{producers}"), v);
        }
    }
    common::save("sustained", &Value::Object(saved));
}
