//! [`JsonLayerBuilder`]: the options of a [`JsonLayer`], settled once.
//!
//! Everything that can be decided before the first event is decided here:
//! static fields are encoded, keys the format owns are reserved, the value
//! budget is fitted to the sink's maximum record.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::{JsonLayer, RateLimit};
use crate::encode::keys::{write_key, KeySet, Reserved};
use crate::encode::{value, Config, LineFormat, Timestamp};
use crate::sink_core::Sink;

mod members;

/// The default budget of one field value: 16 KiB.
const DEFAULT_MAX_FIELD: usize = 16 * 1024;

/// The keys the JSON format writes itself; a static field never takes one.
const FORMAT_KEYS: [&str; 10] = [
    "timestamp",
    "level",
    "fields",
    "target",
    "filename",
    "line_number",
    "span",
    "spans",
    "threadName",
    "threadId",
];

/// Tells apart the layers of one stack that share span caches.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Options of a [`JsonLayer`], from [`JsonLayer::builder`].
///
/// | option | default |
/// | --- | --- |
/// | [`format`](Self::format) | [`LineFormat::Json`] |
/// | [`ansi`](Self::ansi) (text only) | `false` |
/// | [`timestamp`](Self::timestamp) | [`Timestamp::Rfc3339Micros`] |
/// | [`flatten_event`](Self::flatten_event) | `false` |
/// | [`flatten_span_fields`](Self::flatten_span_fields) | `false` |
/// | [`with_current_span`](Self::with_current_span) | `true` |
/// | [`with_span_list`](Self::with_span_list) | `true` |
/// | [`with_target`](Self::with_target) | `true` |
/// | [`with_file`](Self::with_file), [`with_line_number`](Self::with_line_number) | `false` |
/// | [`with_thread_names`](Self::with_thread_names), [`with_thread_ids`](Self::with_thread_ids) | `false` |
/// | [`static_field`](Self::static_field) | none |
/// | [`max_field_bytes`](Self::max_field_bytes) | 16 KiB |
/// | [`rate_limit`](Self::rate_limit) | none |
///
/// These match `tracing_subscriber::fmt().json()`'s defaults.
///
/// # Examples
///
/// ```
/// use layer_safe::{JsonLayer, Timestamp};
/// # use tracing_subscriber::prelude::*;
/// # use layer_safe::GuardedExt as _;
/// # use layer_safe::testing::Output as Buf;
/// # let out = Buf::default();
/// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
/// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
/// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
/// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
/// #     out.text()
/// # };
/// let layer = JsonLayer::builder(sink)
///     .flatten_event(true)
///     .with_span_list(false)
///     .with_thread_names(true)
///     .static_field("service", "checkout")
///     .static_field("version", env!("CARGO_PKG_VERSION"))
///     .timestamp(Timestamp::UnixNanos)
///     .build();
/// let line = run(layer, &|| tracing::info!(user_id = 42, "hi"));
/// let v: serde_json::Value = serde_json::from_str(&line)?;
/// assert_eq!((&v["message"], &v["user_id"]), (&"hi".into(), &42.into()));
/// assert_eq!(v["service"], "checkout");
/// assert_eq!(v["threadName"], "main");
/// assert!(v["timestamp"].is_u64() && v.get("spans").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct JsonLayerBuilder {
    sink: Sink,
    /// The format's switches; `build` settles the rest (the static
    /// fields, the reserved keys, the value cap).
    cfg: Config,
    statics: Vec<(String, serde_json::Value)>,
    max_field: usize,
    eager: bool,
    rate_limit: Option<RateLimit>,
    /// The keys of the trace context (`layer_safe::otel`), or `None`.
    #[cfg(feature = "opentelemetry")]
    pub(crate) trace_keys: Option<(String, String)>,
}

impl JsonLayerBuilder {
    pub(super) fn new(sink: Sink) -> JsonLayerBuilder {
        JsonLayerBuilder {
            sink,
            eager: false,
            cfg: Config::plain(0),
            statics: Vec::new(),
            max_field: DEFAULT_MAX_FIELD,
            rate_limit: None,
            #[cfg(feature = "opentelemetry")]
            trace_keys: Some((crate::otel::TRACE_ID.into(), crate::otel::SPAN_ID.into())),
        }
    }

    /// JSON (the default) or compact text lines.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .format(layer_safe::LineFormat::Text)
    ///     .build();
    /// let line = run(layer, &|| tracing::info!(user_id = 42, "hi"));
    /// assert!(line.contains("hi") && line.contains("user_id=42"));
    /// assert!(!line.contains('{'));
    /// ```
    pub fn format(mut self, format: LineFormat) -> Self {
        self.cfg.format = format;
        self
    }

    /// Colours in the text format. Off by default; the caller knows where
    /// the sink writes, so it decides, typically with
    /// [`std::io::IsTerminal`]. JSON never has colours.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .format(layer_safe::LineFormat::Text)
    ///     .ansi(true) // typically `std::io::stderr().is_terminal()`
    ///     .build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// assert!(line.contains("\x1b[")); // colour codes, though no terminal
    /// ```
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.cfg.ansi = ansi;
        self
    }

    /// How the timestamp is written (RFC 3339 with microseconds by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .timestamp(layer_safe::Timestamp::UnixNanos)
    ///     .build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v["timestamp"].is_u64()); // "timestamp":1795903782123456789
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.cfg.timestamp = timestamp;
        self
    }

    /// A member written in every JSON record, right after `"level"`: the
    /// service, its version, the host. Encoded once, here. Setting a key
    /// again replaces its value; a key the format uses itself (`level`,
    /// `target`, ...) is renamed (`level.1`). Not shown in the text format.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .static_field("service", "checkout")
    ///     .static_field("version", env!("CARGO_PKG_VERSION"))
    ///     .static_field("pid", std::process::id())
    ///     .static_field("labels", serde_json::json!({"team": "payments"}))
    ///     .build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!((&v["service"], &v["pid"]), (&"checkout".into(), &std::process::id().into()));
    /// assert_eq!(v["labels"]["team"], "payments");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn static_field(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        let key = key.into();
        let value = value.into();
        match self.statics.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.statics.push((key, value)),
        }
        self
    }

    /// The most bytes one value takes in a record (escaped, before its
    /// truncation marker); longer values are cut at a character boundary
    /// with `…[truncated N bytes]`. 16 KiB by default, and never more than
    /// half the sink's [`max_record`](Sink::max_record).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).max_field_bytes(4096).build();
    /// let big = "x".repeat(10_000);
    /// let line = run(layer, &|| tracing::info!(%big));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// let kept = v["fields"]["big"].as_str().unwrap();
    /// assert!(kept.len() < 4200 && kept.ends_with("[truncated 5904 bytes]"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field = bytes;
        self
    }

    /// Formats each event on the caller's thread, with its spans looked up
    /// in the registry, and hands the finished line to the sink: how the
    /// layer worked before formatting moved to the worker. For tests that
    /// prove the two give the same bytes (the `encode` fuzz target); slower
    /// on the caller, and not otherwise useful.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).eager(true).build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!(v["fields"]["message"], "hi"); // the same bytes, made on the caller
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(hidden)]
    pub fn eager(mut self, on: bool) -> Self {
        self.eager = on;
        self
    }

    /// Limits how many events each call site may log (none by default):
    /// beyond the limit, a call site's events are dropped before they are
    /// captured, counted as
    /// [`DropReason::RateLimited`](crate::DropReason::RateLimited), and
    /// summarised in-band once per report interval per call site. See
    /// [`RateLimit`] for what the limit means with several threads.
    ///
    /// Without a limit the check costs nothing but a `None` branch; with
    /// one, a few nanoseconds per event (`benches/storm.rs`).
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::{JsonLayer, RateLimit, Sink};
    ///
    /// let (sink, guard) = Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let layer = JsonLayer::builder(sink.clone())
    ///     .rate_limit(RateLimit::new(1, 10))
    ///     .build();
    /// tracing::subscriber::with_default(
    ///     tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer),
    ///     || {
    ///         for _ in 0..1000 {
    ///             tracing::error!("connection refused"); // one call site
    ///         }
    ///     },
    /// );
    /// drop(guard);
    /// let stats = sink.stats();
    /// assert!(stats.dropped.rate_limited >= 900, "{stats:?}");
    /// assert_eq!(stats.written + stats.dropped.rate_limited, 1000);
    /// ```
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The layer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!((&v["level"], &v["fields"]["message"]), (&"INFO".into(), &"hi".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> JsonLayer {
        let mut format_keys = Reserved::default();
        for k in FORMAT_KEYS {
            format_keys.add(k);
        }
        #[cfg(feature = "opentelemetry")]
        let trace_keys = crate::otel::settle(self.trace_keys.as_ref(), &mut format_keys);

        // Static fields: encoded once; keys unique among themselves and
        // apart from the format's own.
        let mut statics = Vec::new();
        let mut static_keys = Vec::new();
        let mut keys = KeySet::new();
        for (k, v) in &self.statics {
            if !statics.is_empty() {
                statics.push(b',');
            }
            let start = statics.len();
            write_key(&mut statics, &mut keys, &format_keys, k, "");
            static_keys.push(statics[start..].to_vec().into_boxed_slice());
            statics.push(b':');
            value::json_value(&mut statics, v);
        }

        let mut root_reserved = Reserved::default();
        let mut reserve = |on: bool, key: &str| {
            if on {
                root_reserved.add(key);
            }
        };
        reserve(self.cfg.timestamp != Timestamp::Off, "timestamp");
        reserve(true, "level");
        reserve(!self.cfg.flatten_event, "fields");
        reserve(self.cfg.target, "target");
        reserve(self.cfg.file, "filename");
        reserve(self.cfg.line, "line_number");
        reserve(self.cfg.current_span, "span");
        reserve(self.cfg.span_list, "spans");
        reserve(self.cfg.thread_name, "threadName");
        reserve(self.cfg.thread_id, "threadId");
        for key in static_keys {
            root_reserved.add_quoted(key);
        }
        #[cfg(feature = "opentelemetry")]
        for key in trace_keys.iter().flatten() {
            root_reserved.add_quoted(key.clone());
        }

        let cap = self.max_field.min(self.sink.max_record() / 2);
        let cfg = Config {
            statics,
            root_reserved,
            cap,
            #[cfg(feature = "opentelemetry")]
            trace_keys: crate::otel::members(trace_keys.as_ref()),
            ..self.cfg
        };
        let id = NEXT_ID.fetch_add(1, Relaxed);
        JsonLayer::from_config(cfg, self.sink, id, self.rate_limit, self.eager)
    }
}

impl fmt::Debug for JsonLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayerBuilder")
            .field("format", &self.cfg.format)
            .field("ansi", &self.cfg.ansi)
            .field("timestamp", &self.cfg.timestamp)
            .field("flatten_event", &self.cfg.flatten_event)
            .field("flatten_span_fields", &self.cfg.flatten_spans)
            .field("current_span", &self.cfg.current_span)
            .field("span_list", &self.cfg.span_list)
            .field("target", &self.cfg.target)
            .field("file", &self.cfg.file)
            .field("line_number", &self.cfg.line)
            .field("thread_names", &self.cfg.thread_name)
            .field("thread_ids", &self.cfg.thread_id)
            .field("static_fields", &self.statics)
            .field("max_field_bytes", &self.max_field)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}
