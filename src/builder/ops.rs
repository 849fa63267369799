//! The builder's settings for running in production: filter reloading,
//! storm control per call site, compressed rotation, and the metrics
//! publisher's interval, each next to the feature it belongs to; and
//! opening the output.

use std::io::Write;
use std::path::Path;

use super::{Builder, Output};
use crate::error::InitError;
use crate::sink_core::writers;

impl Builder {
    /// Whether [`set_filter`](crate::set_filter) can replace the filter of
    /// the stack `init` installs (default `false`, as with
    /// `tracing_subscriber`'s `with_filter_reloading`). Reloading puts the
    /// filter behind `tracing-subscriber`'s `reload` lock, which every event
    /// takes three times: atomic operations on a cache line every logging
    /// thread shares (+10 ns per event measured, and two producers no longer
    /// scale), so it is opt-in.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let guard = layer_safe::builder()
    ///     .filter_reloading(true)
    ///     .writer(std::io::sink())
    ///     .try_init()
    ///     .unwrap();
    /// tracing::info!("written");
    /// layer_safe::set_filter("warn").unwrap();
    /// tracing::info!("filtered out");
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// ```
    pub fn filter_reloading(mut self, on: bool) -> Self {
        self.filter_reloading = on;
        self
    }

    /// Storm control: each call site may log `events_per_second` on
    /// average and `burst` at once (off by default). Beyond that, its
    /// events are dropped before they are captured, counted as
    /// [`DropReason::RateLimited`](crate::DropReason::RateLimited), and
    /// summarised in-band once per second per call site:
    /// `{"message":"events suppressed","callsite":"src/db.rs:88","suppressed":123456}`.
    /// Other call sites are not affected. The limit holds per thread (see
    /// [`RateLimit`](crate::RateLimit)). The same as
    /// `configure_layer(|l| l.rate_limit(RateLimit::new(events_per_second, burst)))`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .rate_limit_per_callsite(1, 20)
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     for i in 0..100 {
    ///         tracing::info!(i, "storm"); // a burst of 20 gets through
    ///     }
    /// });
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert!(guard.stats().dropped.rate_limited > 0);
    /// ```
    pub fn rate_limit_per_callsite(self, events_per_second: u32, burst: u32) -> Self {
        let limit = crate::RateLimit::new(events_per_second, burst);
        self.configure_layer(move |layer| layer.rate_limit(limit))
    }

    /// Whether rotated files (rolling by size or by time) are gzipped, on a
    /// thread of their own so the worker never waits (default `false`;
    /// feature `compress`). `keep` then counts the `.gz` files; see
    /// [`RollingBySize`](crate::sink_core::writers::RollingBySize) and
    /// [`RollingByTime`](crate::sink_core::writers::RollingByTime) for the names.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let builder = layer_safe::builder()
    ///     .rolling_by_size(dir.path().join("app.log"), 100 << 20, 10)
    ///     .compress(true);
    /// assert!(builder.build().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "compress")]
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// How often the counters are published through the `metrics` facade
    /// (default 1 s, at least 10 ms; feature `metrics`). The publisher
    /// starts with the sink and publishes a last time when the
    /// [`FlushGuard`](crate::FlushGuard) is dropped; see
    /// [`layer_safe::metrics`](crate::metrics) for the names.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = layer_safe::builder()
    ///     .metrics_interval(Duration::from_secs(15))
    ///     .writer(std::io::sink());
    /// assert!(builder.build().is_ok());
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics_interval(mut self, interval: std::time::Duration) -> Self {
        self.metrics_interval = interval;
        self
    }
}

/// Starts the metrics publisher and ties its life to the guard's. A thread
/// that cannot be started is said on stderr, not an error: the logs matter
/// more than their metrics.
#[cfg(feature = "metrics")]
pub(super) fn publish_metrics(
    mut guard: crate::FlushGuard,
    stats: crate::StatsHandle,
    interval: std::time::Duration,
) -> crate::FlushGuard {
    match crate::metrics::Publisher::spawn(stats, interval) {
        Ok(publisher) => guard.attach(Box::new(publisher)),
        Err(e) => eprintln!("layer-safe: the metrics publisher did not start: {e}"),
    }
    guard
}

/// Opens the output, gzipping rotated files when `compress` is on.
#[cfg_attr(not(feature = "compress"), allow(unused_variables))]
pub(super) fn open(output: Output, compress: bool) -> Result<Box<dyn Write + Send>, InitError> {
    #[cfg(feature = "compress")]
    if compress {
        use crate::sink_core::writers::{RollingBySize, RollingByTime};
        let at = |path: &std::path::Path| {
            let path = path.to_owned();
            move |error| InitError::Writer { path, error }
        };
        match output {
            Output::ByTime {
                dir,
                prefix,
                rotation,
                keep,
            } => {
                let files = RollingByTime::new(&dir, &prefix, rotation, keep).map_err(at(&dir))?;
                return Ok(Box::new(files));
            }
            Output::BySize {
                path,
                max_bytes,
                keep,
            } => {
                let files = RollingBySize::new(&path, max_bytes, keep)
                    .and_then(|w| w.compress(true))
                    .map_err(at(&path))?;
                return Ok(Box::new(files));
            }
            other => return plain(other),
        }
    }
    plain(output)
}

/// Opens an output without compression.
fn plain(output: Output) -> Result<Box<dyn Write + Send>, InitError> {
    let at = |path: &Path| {
        let path = path.to_owned();
        move |error| InitError::Writer { path, error }
    };
    Ok(match output {
        Output::Stdout => Box::new(writers::stdout()),
        Output::Stderr => Box::new(writers::stderr()),
        Output::File(path) => Box::new(writers::append_file(&path).map_err(at(&path))?),
        Output::ByTime {
            dir,
            prefix,
            rotation,
            keep,
        } => Box::new(writers::rolling_by_time(&dir, &prefix, rotation, keep).map_err(at(&dir))?),
        Output::BySize {
            path,
            max_bytes,
            keep,
        } => Box::new(writers::RollingBySize::new(&path, max_bytes, keep).map_err(at(&path))?),
        Output::Custom(w) => w,
    })
}
