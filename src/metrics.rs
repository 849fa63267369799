//! Publishing the counters through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`), for whatever exporter the service installs.
//!
//! A publisher thread reads a [`Stats`] snapshot every interval (set with
//! [`Builder::metrics_interval`](crate::Builder::metrics_interval), default
//! 1 s) and sets the values below; nothing runs on the caller's path. It
//! publishes a last time after the [`FlushGuard`](crate::FlushGuard) has
//! drained the queue, so the shutdown counts reach the recorder too.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `layer_safe_events_submitted_total` | counter | |
//! | `layer_safe_events_written_total` | counter | |
//! | `layer_safe_bytes_written_total` | counter | |
//! | `layer_safe_events_dropped_total` | counter | `reason` ([`DropReason::as_str`]) |
//! | `layer_safe_events_dropped_by_level_total` | counter | `level` (`trace` ... `error`) |
//! | `layer_safe_events_in_flight` | gauge | (queued or in the writer's hands) |
//! | `layer_safe_writer_errors_total` | counter | |
//! | `layer_safe_records_truncated_total` | counter | |
//!
//! Counters are set with `absolute`, from the sink's own totals: nothing is
//! lost between two publications, and a recorder installed late still gets
//! the totals since start-up. Handles are looked up on each publication for
//! the same reason (a handle taken before the recorder is a no-op forever).
//!
//! # Examples
//!
//! ```
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//!
//! // In a service: `metrics_exporter_prometheus::PrometheusBuilder::new().install()`.
//! let recorder = DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! recorder.install().unwrap();
//!
//! let (dispatch, guard) = layer_safe::builder().writer(std::io::sink()).build().unwrap();
//! tracing::dispatcher::with_default(&dispatch, || tracing::info!("hello"));
//! drop(guard); // drains the queue, then publishes a last time
//! let written = snapshotter.snapshot().into_vec().into_iter().any(|(key, _, _, value)| {
//!     key.key().name() == "layer_safe_events_written_total" && matches!(value, DebugValue::Counter(1))
//! });
//! assert!(written);
//! ```

use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, gauge};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tracing_core::Level;

use crate::path::{Entered, Origin};
use crate::{DropReason, Stats, StatsHandle};

/// The default interval between publications.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest interval: below it the thread would spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// How long dropping waits for the last publication: a recorder that blocks
/// must not make the `FlushGuard` hang.
const LAST_GRACE: Duration = Duration::from_secs(1);

/// Owns the publisher thread; dropping it publishes once more and stops it.
pub(crate) struct Publisher {
    /// Dropped to say "stop".
    stop: Option<Sender<()>>,
    /// Disconnects when the thread ends.
    done: Receiver<()>,
    handle: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Starts publishing `stats` every `interval`.
    pub(crate) fn spawn(stats: StatsHandle, interval: Duration) -> io::Result<Publisher> {
        let interval = interval.max(MIN_INTERVAL);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name("layer-safe-metrics".into())
            .spawn(move || {
                // In the logging path for life, as the sink worker is: what a
                // recorder or exporter logs from here is dropped and counted.
                let _path = Entered::enter(Origin::Named("metrics publisher"));
                let _done = done_tx;
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(interval),
                        Err(RecvTimeoutError::Timeout)
                    );
                    publish(&stats.snapshot());
                    if last {
                        break;
                    }
                }
            })?;
        Ok(Publisher {
            stop: Some(stop),
            done,
            handle: Some(handle),
        })
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        drop(self.stop.take());
        let ended = matches!(
            self.done.recv_timeout(LAST_GRACE),
            Err(RecvTimeoutError::Disconnected)
        );
        if let (true, Some(handle)) = (ended, self.handle.take()) {
            // Already finished: joining does not wait.
            let _ = handle.join();
        }
    }
}

/// Sets every metric from one snapshot.
fn publish(s: &Stats) {
    describe();
    counter!("layer_safe_events_submitted_total").absolute(s.submitted);
    counter!("layer_safe_events_written_total").absolute(s.written);
    counter!("layer_safe_bytes_written_total").absolute(s.bytes_written);
    for reason in DropReason::ALL {
        counter!("layer_safe_events_dropped_total", "reason" => reason.as_str())
            .absolute(s.dropped.get(reason));
    }
    for (level, name) in [
        (Level::TRACE, "trace"),
        (Level::DEBUG, "debug"),
        (Level::INFO, "info"),
        (Level::WARN, "warn"),
        (Level::ERROR, "error"),
    ] {
        counter!("layer_safe_events_dropped_by_level_total", "level" => name)
            .absolute(s.dropped_by_level.get(level));
    }
    // Exact below 2^53 records in flight, far past any queue.
    gauge!("layer_safe_events_in_flight").set(s.in_flight as f64);
    counter!("layer_safe_writer_errors_total").absolute(s.writer_errors);
    counter!("layer_safe_records_truncated_total").absolute(s.truncated);
}

/// Descriptions for exporters that show them (Prometheus's `# HELP`); set
/// on each publication, for a recorder installed after start-up.
fn describe() {
    describe_counter!(
        "layer_safe_events_submitted_total",
        "Events that reached the layer-safe sink"
    );
    describe_counter!(
        "layer_safe_events_written_total",
        "Events the writer accepted"
    );
    describe_counter!(
        "layer_safe_bytes_written_total",
        "Bytes the writer accepted"
    );
    describe_counter!(
        "layer_safe_events_dropped_total",
        "Events dropped, by reason"
    );
    describe_counter!(
        "layer_safe_events_dropped_by_level_total",
        "Events dropped, by level"
    );
    describe_gauge!(
        "layer_safe_events_in_flight",
        "Events queued or in the writer's hands"
    );
    describe_counter!(
        "layer_safe_writer_errors_total",
        "Errors the writer returned"
    );
    describe_counter!(
        "layer_safe_records_truncated_total",
        "Records whose fields were cut to the maximum record size"
    );
}
