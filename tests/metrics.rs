//! The `metrics` feature: the sink's counters reach the installed recorder,
//! read off the caller's path by a publisher thread. One recorder per
//! process, so the tests take turns.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The debugging recorder, noting whether it was ever called from outside
/// the logging path, and the last value published for written events.
struct Watched {
    inner: DebuggingRecorder,
    outside_path: AtomicBool,
    written: &'static Published,
}

impl Watched {
    fn note(&self) {
        if !layer_safe::in_logging_path() {
            self.outside_path.store(true, Ordering::SeqCst);
        }
    }
}

/// The last value set on a counter, for a test to wait on.
#[derive(Default)]
struct Published(Mutex<Option<u64>>, Condvar);

impl Published {
    /// Waits until the counter is published as `value`. No bound: a test
    /// that never publishes hangs until the runner's timeout, rather than
    /// fail on a loaded machine's clock.
    fn wait_for(&self, value: u64) {
        let mut last = self.0.lock().unwrap();
        while *last != Some(value) {
            last = self.1.wait(last).unwrap();
        }
    }
}

/// A counter that also tells `Published` each value set on it.
struct Tee(Counter, &'static Published);

impl CounterFn for Tee {
    fn increment(&self, value: u64) {
        self.0.increment(value);
    }
    fn absolute(&self, value: u64) {
        self.0.absolute(value);
        *self.1 .0.lock().unwrap() = Some(value);
        self.1 .1.notify_all();
    }
}

impl Recorder for Watched {
    fn describe_counter(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.inner.describe_counter(k, u, d)
    }
    fn describe_gauge(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.inner.describe_gauge(k, u, d)
    }
    fn describe_histogram(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.inner.describe_histogram(k, u, d)
    }
    fn register_counter(&self, k: &Key, m: &Metadata<'_>) -> Counter {
        self.note();
        let counter = self.inner.register_counter(k, m);
        if k.name() == "layer_safe_events_written_total" {
            return Counter::from_arc(Arc::new(Tee(counter, self.written)));
        }
        counter
    }
    fn register_gauge(&self, k: &Key, m: &Metadata<'_>) -> Gauge {
        self.note();
        self.inner.register_gauge(k, m)
    }
    fn register_histogram(&self, k: &Key, m: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(k, m)
    }
}

struct Installed {
    snapshotter: Snapshotter,
    recorder: &'static Watched,
    turn: Mutex<()>,
}

/// The recorder, reset, and this test's turn to use it.
fn recorder() -> (&'static Installed, MutexGuard<'static, ()>) {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let inner = DebuggingRecorder::new();
        let snapshotter = inner.snapshotter();
        let recorder: &'static Watched = Box::leak(Box::new(Watched {
            inner,
            outside_path: AtomicBool::new(false),
            written: Box::leak(Box::default()),
        }));
        metrics::set_global_recorder(recorder).expect("the only recorder");
        Installed {
            snapshotter,
            recorder,
            turn: Mutex::new(()),
        }
    });
    let turn = installed.turn.lock().unwrap_or_else(|p| p.into_inner());
    // Reading resets the values, so the previous test's do not show.
    let _ = installed.snapshotter.snapshot();
    *installed.recorder.written.0.lock().unwrap() = None;
    (installed, turn)
}

/// `name{label=value}` -> value, counters and gauges.
fn values(s: &Snapshotter) -> HashMap<String, f64> {
    s.snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = if labels.is_empty() {
                key.name().to_owned()
            } else {
                format!("{}{{{}}}", key.name(), labels.join(","))
            };
            match value {
                DebugValue::Counter(v) => Some((name, v as f64)),
                DebugValue::Gauge(v) => Some((name, v.into_inner())),
                DebugValue::Histogram(_) => None,
            }
        })
        .collect()
}

#[test]
fn the_last_publication_has_the_final_counts() {
    let (installed, _turn) = recorder();
    let (dispatch, guard) = layer_safe::builder()
        .writer(io::sink())
        .filter("info")
        .max_record(300)
        .metrics_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..3 {
            tracing::info!("request handled");
        }
        tracing::warn!(body = "x".repeat(1000), "too long");
        tracing::debug!("filtered out: never submitted");
    });
    drop(guard);
    let v = values(&installed.snapshotter);
    assert_eq!(v["layer_safe_events_submitted_total"], 4.0, "{v:?}");
    assert_eq!(v["layer_safe_events_written_total"], 4.0, "{v:?}");
    assert_eq!(v["layer_safe_records_truncated_total"], 1.0, "{v:?}");
    assert_eq!(v["layer_safe_events_in_flight"], 0.0, "{v:?}");
    assert_eq!(v["layer_safe_writer_errors_total"], 0.0, "{v:?}");
    for reason in layer_safe::DropReason::ALL {
        let key = format!(
            "layer_safe_events_dropped_total{{reason={}}}",
            reason.as_str()
        );
        assert_eq!(v[&key], 0.0, "{key}");
    }
    assert_eq!(
        v["layer_safe_events_dropped_by_level_total{level=info}"],
        0.0
    );
    // Three short lines and one cut to the 300-byte maximum.
    assert!(v["layer_safe_bytes_written_total"] > 300.0, "{v:?}");
    assert!(!installed.recorder.outside_path.load(Ordering::SeqCst));
}

/// Fails every write: each record is dropped as `writer_error`.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk gone"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn drops_are_published_by_reason_and_by_level() {
    let (installed, _turn) = recorder();
    let (dispatch, guard) = layer_safe::builder()
        .writer(Broken)
        .metrics_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("one");
        tracing::error!("two");
    });
    drop(guard);
    let v = values(&installed.snapshotter);
    let by_reason: f64 = layer_safe::DropReason::ALL
        .iter()
        .map(|r| v[&format!("layer_safe_events_dropped_total{{reason={}}}", r.as_str())])
        .sum();
    let by_level: f64 = ["trace", "debug", "info", "warn", "error"]
        .iter()
        .map(|l| v[&format!("layer_safe_events_dropped_by_level_total{{level={l}}}")])
        .sum();
    assert_eq!(v["layer_safe_events_submitted_total"], 2.0, "{v:?}");
    assert_eq!(v["layer_safe_events_written_total"], 0.0, "{v:?}");
    assert_eq!(by_reason, 2.0, "{v:?}");
    assert_eq!(by_level, 2.0, "{v:?}");
    assert_eq!(
        v["layer_safe_events_dropped_total{reason=writer_error}"],
        2.0
    );
    assert_eq!(
        v["layer_safe_events_dropped_by_level_total{level=error}"],
        1.0
    );
    assert!(v["layer_safe_writer_errors_total"] >= 1.0, "{v:?}");
}

#[test]
fn counters_are_published_while_running() {
    let (installed, _turn) = recorder();
    let (dispatch, guard) = layer_safe::builder()
        .writer(io::sink())
        .metrics_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..3 {
            tracing::info!("request handled");
        }
    });
    assert!(guard.flush(Duration::from_secs(60)));
    // The guard is alive: only the timer publishes.
    installed.recorder.written.wait_for(3);
    let v = values(&installed.snapshotter);
    assert_eq!(
        v.get("layer_safe_events_written_total"),
        Some(&3.0),
        "{v:?}"
    );
    drop(guard);
}
