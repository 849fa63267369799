//! The caller's latency, call by call, with a healthy
//! writer and with a stalled one, and the memory a stall costs.
//!
//! Every call is timed with two `Instant::now()` and recorded in an
//! `hdrhistogram`; the table gives p50, p99, p99.9 and max (the timer's own
//! cost, printed as `timer`, is included in every figure). Each system runs
//! in a child process of its own (this binary, re-run), so its peak RSS is
//! its own.
//!
//! - **healthy**: 200 000 standard events to a file, in batches (1 000; 100
//!   for slog-async) with an untimed wait for the writer between batches (as
//!   in `caller`), after 20 000 unrecorded warm-up events.
//! - **stalled**: the writer blocks on its first write until the run is over
//!   (a gate), and the caller emits 200 000 standard events into it, more
//!   than any queue here holds. Reported besides the latencies: the growth
//!   of the process's peak RSS (`VmHWM` at the end less `VmRSS` before the
//!   first event), the drops the system counted, and for
//!   `fmt_json_lossless` (`non_blocking` with `lossy(false)`), which blocks
//!   the caller once its 128 000 lines are queued, how long the caller was
//!   blocked: a watchdog opens the gate after 3 s so the run ends.
//!
//! Systems: `layer_safe` (the drop-in builder, default bounds: byte budget
//! 64 MiB), `fmt_json` (`fmt().json()` + `non_blocking`, lossy),
//! `fmt_json_lossless` (stalled only), `slog_async` and the `floor`.
//!
//! A plain `harness = false` main, not criterion: the figures are
//! distributions and memory, not a mean time.
//!
//! `cargo bench --bench stall`

mod common;

use std::fs::File;
use std::io::{self, Write};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{Counted, Floor, FmtJson, LayerSafe, Slog, System, DRAIN_TIMEOUT};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

const CHILD_VAR: &str = "LAYER_SAFE_BENCH_STALL";
const EVENTS: u64 = 200_000;
const WARM_UP: u64 = 20_000;
/// The lossless anchor blocks: the watchdog opens the gate after this.
const STALL_CAP: Duration = Duration::from_secs(3);
/// A call that took longer than this counts as "blocked".
const BLOCKED: Duration = Duration::from_millis(10);

/// Closed until opened, then open for good.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            open = self.0 .1.wait(open).unwrap();
        }
    }
}

/// A writer stalled until its gate opens: its first write blocks.
struct Gated<W> {
    inner: W,
    gate: Gate,
    passed: bool,
}

impl<W: Write> Write for Gated<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.passed {
            self.gate.wait();
            self.passed = true;
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn gated(gate: &Gate) -> impl FnOnce(Counted<File>) -> Box<dyn Write + Send> {
    let gate = gate.clone();
    move |w| {
        Box::new(Gated {
            inner: w,
            gate,
            passed: false,
        })
    }
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("histogram bounds")
}

fn summary(h: &Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50_ns": h.value_at_quantile(0.50),
        "p99_ns": h.value_at_quantile(0.99),
        "p999_ns": h.value_at_quantile(0.999),
        "max_ns": h.max(),
        "mean_ns": h.mean(),
    })
}

/// The cost of the timing itself: two `Instant::now()`.
fn timer_overhead() -> u64 {
    let mut h = histogram();
    for _ in 0..100_000 {
        let t0 = Instant::now();
        h.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    h.value_at_quantile(0.5)
}

/// Healthy writer: batches with room in the queue, every call timed.
fn healthy<S: System>(sys: &S) -> Value {
    let mut h = histogram();
    let mut expected = sys.lines().get();
    let batch = sys.batch();
    sys.scope(|| {
        for i in 0..(WARM_UP + EVENTS) / batch {
            for _ in 0..batch {
                let t0 = Instant::now();
                sys.emit();
                let ns = t0.elapsed().as_nanos() as u64;
                if i >= WARM_UP / batch {
                    h.saturating_record(ns);
                }
            }
            expected += batch;
            if !sys.lines().wait_for(expected, DRAIN_TIMEOUT) {
                expected = sys.lines().get();
            }
        }
    });
    let mut v = summary(&h);
    v["dropped"] = json!(sys.dropped());
    v
}

/// Stalled writer: every call timed while the gate is closed.
fn stalled<S: System>(sys: &S, gate: &Gate) -> Value {
    let mut h = histogram();
    let (rss_before, _) = memory();
    let watchdog = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(STALL_CAP);
            gate.open();
        })
    };
    let mut blocked = Duration::ZERO;
    let started = Instant::now();
    sys.scope(|| {
        for _ in 0..EVENTS {
            let t0 = Instant::now();
            sys.emit();
            let d = t0.elapsed();
            if d > BLOCKED {
                blocked += d;
            }
            h.saturating_record(d.as_nanos() as u64);
        }
    });
    let run = started.elapsed();
    let (rss_after, hwm) = memory();
    let mut v = summary(&h);
    v["rss_before_kib"] = json!(rss_before);
    v["rss_after_kib"] = json!(rss_after);
    v["hwm_kib"] = json!(hwm);
    v["growth_kib"] = json!(hwm.saturating_sub(rss_before));
    v["dropped"] = json!(sys.dropped());
    v["blocked_ms"] = json!(blocked.as_secs_f64() * 1e3);
    v["run_ms"] = json!(run.as_secs_f64() * 1e3);
    // The watchdog opened the gate only if the run outlasted the cap.
    v["gate_opened_by_watchdog"] = json!(watchdog.is_finished());
    v
}

/// In the child: runs one system in one mode, prints its figures.
fn child(spec: &str) {
    let (mode, name) = spec.split_once(':').expect("mode:system");
    let gate = Gate::default();
    let stall = mode == "stalled";
    if !stall {
        gate.open();
    }
    let v = match name {
        "layer_safe" => run(&LayerSafe::with_writer(gated(&gate)), stall, &gate),
        "fmt_json" => run(&FmtJson::with_writer(true, gated(&gate)), stall, &gate),
        "fmt_json_lossless" => run(&FmtJson::with_writer(false, gated(&gate)), stall, &gate),
        "slog_async" => run(&Slog::with_writer(gated(&gate)), stall, &gate),
        "floor" => run(&Floor::with_writer(gated(&gate)), stall, &gate),
        other => panic!("unknown system {other}"),
    };
    println!("RESULT {v}");
    // Skip the systems' shutdown: the parent has what it needs.
    let _ = io::stdout().flush();
    std::process::exit(0);
}

fn run<S: System>(sys: &S, stall: bool, gate: &Gate) -> Value {
    if stall {
        let v = stalled(sys, gate);
        gate.open();
        v
    } else {
        healthy(sys)
    }
}

fn spawn(mode: &str, name: &str) -> Option<Value> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_VAR, format!("{mode}:{name}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("RESULT "))?;
    serde_json::from_str(line).ok()
}

fn us(v: &Value, key: &str) -> String {
    let ns = v[key].as_f64().unwrap_or(f64::NAN);
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} µs", ns / 1e3)
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        return child(&spec);
    }
    if !common::benchmarking() {
        println!("stall: skipped (run it with `cargo bench --bench stall`)");
        return;
    }
    let timer = timer_overhead();
    println!("stall: per-call latency, each system in its own process; timer = {timer} ns");
    let mut results = serde_json::Map::new();
    results.insert("timer_ns".into(), json!(timer));
    for mode in ["healthy", "stalled"] {
        println!();
        println!(
            "{mode:8} {:18} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}",
            "system", "p50", "p99", "p99.9", "max", "RSS grew", "dropped", "blocked"
        );
        let mut rows = serde_json::Map::new();
        for name in [
            "layer_safe",
            "fmt_json",
            "fmt_json_lossless",
            "slog_async",
            "floor",
        ] {
            if mode == "healthy" && name == "fmt_json_lossless" {
                continue; // the same as `fmt_json` while the queue has room
            }
            let Some(v) = spawn(mode, name) else {
                println!("{mode:8} {name:18} failed");
                continue;
            };
            let growth = v["growth_kib"]
                .as_u64()
                .map_or("".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
            let dropped = v["dropped"]
                .as_u64()
                .map_or("in-band".into(), |d| d.to_string());
            let blocked = v["blocked_ms"]
                .as_f64()
                .map_or("".into(), |b| format!("{b:.0} ms"));
            println!(
                "{mode:8} {name:18} {:>9} {:>9} {:>9} {:>9} {growth:>10} {dropped:>10} {blocked:>9}",
                us(&v, "p50_ns"),
                us(&v, "p99_ns"),
                us(&v, "p999_ns"),
                us(&v, "max_ns"),
            );
            rows.insert(name.into(), v);
        }
        results.insert(mode.into(), Value::Object(rows));
    }
    common::save("stall", &Value::Object(results));
}
