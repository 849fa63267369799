//! Encoding events as one line each: JSON (the default) or compact text.
//!
//! Split in two. On the caller's thread, inside the logging path,
//! [`capture`] copies what an event cannot keep into a compact
//! [`record`] (span fields are encoded once, at `new_span` and `record`,
//! by [`span_cache`]). On the sink's worker, [`event`] decodes the record
//! and [`json`] or [`text`] write the line: escaping, numbers, the
//! timestamp and unique keys cost the caller nothing.
//!
//! - [`capture`], [`record`]: the caller's copy of an event, and its format.
//! - [`event`]: the decoded event, and fitting it to the record size.
//! - [`escape`]: RFC 8259 string escaping, budgeted.
//! - [`truncate`]: cutting a value to its budget, with a visible marker.
//! - [`keys`]: unique keys in every object.
//! - [`value`]: one value of each type `tracing` records, bad ones included.
//! - [`visitor`]: writing an event's captured fields.
//! - [`span_cache`]: span fields encoded once, at `new_span` and `record`.
//! - [`time`], [`thread`]: per-thread caches for the timestamp and thread.
//! - [`json`], [`text`]: the two line formats.

pub(crate) mod capture;
pub(crate) mod escape;
pub(crate) mod event;
pub(crate) mod json;
pub(crate) mod keys;
pub(crate) mod record;
pub(crate) mod site;
pub(crate) mod span_cache;
pub(crate) mod text;
pub(crate) mod thread;
pub(crate) mod time;
pub(crate) mod truncate;
pub(crate) mod value;
pub(crate) mod visitor;

use tracing_subscriber::registry::{LookupSpan, SpanRef};

use span_cache::SpanFields;

/// How the `timestamp` of each record is written.
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
///     .timestamp(Timestamp::UnixNanos) // "timestamp":1795903782123456789
///     .build();
/// let line = run(layer, &|| tracing::info!("hi"));
/// let v: serde_json::Value = serde_json::from_str(&line)?;
/// assert!(v["timestamp"].is_u64());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timestamp {
    /// RFC 3339 in UTC with microseconds, `"2026-11-28T22:09:42.123456Z"`,
    /// as `tracing_subscriber::fmt().json()` writes it. The default.
    #[default]
    Rfc3339Micros,
    /// Nanoseconds since the Unix epoch, as a JSON number.
    UnixNanos,
    /// No timestamp.
    Off,
}

/// The shape of each line.
///
/// # Examples
///
/// ```
/// use std::io::IsTerminal;
/// use layer_safe::{JsonLayer, LineFormat};
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
///     .format(LineFormat::Text)
///     .ansi(std::io::stderr().is_terminal())
///     .build();
/// let line = run(layer, &|| tracing::info!("hi"));
/// assert!(line.contains("hi") && !line.contains('{'));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineFormat {
    /// One JSON object per line, shaped as `tracing_subscriber::fmt().json()`
    /// shapes it. The default.
    #[default]
    Json,
    /// A compact human-readable line:
    /// `2026-11-28T22:09:42.123456Z  INFO request{method="GET"}: app: request handled user_id=42`.
    Text,
}

/// The settled options of one layer.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) format: LineFormat,
    pub(crate) ansi: bool,
    pub(crate) timestamp: Timestamp,
    pub(crate) flatten_event: bool,
    pub(crate) flatten_spans: bool,
    pub(crate) current_span: bool,
    pub(crate) span_list: bool,
    pub(crate) target: bool,
    pub(crate) file: bool,
    pub(crate) line: bool,
    pub(crate) thread_name: bool,
    pub(crate) thread_id: bool,
    /// The static fields, encoded: `"service":"api","version":"1.2.0"`.
    pub(crate) statics: Vec<u8>,
    /// Keys of the root object that no flattened field may take.
    pub(crate) root_reserved: keys::Reserved,
    /// The budget of one string value, in escaped bytes.
    pub(crate) cap: usize,
    /// The trace context's members, when they are written.
    #[cfg(feature = "opentelemetry")]
    pub(crate) trace_keys: Option<TraceKeys>,
}

/// The trace context's members as they open: `,"trace_id":"` and
/// `","span_id":"` (keys escaped and made unique at build).
#[cfg(feature = "opentelemetry")]
#[derive(Clone, Debug)]
pub(crate) struct TraceKeys {
    pub(crate) trace: Box<str>,
    pub(crate) span: Box<str>,
}

impl Config {
    /// The defaults (the shape of `fmt().json()`): where `JsonLayerBuilder`
    /// starts, and how a sink that no layer of this crate writes to formats
    /// its own records.
    pub(crate) fn plain(max_record: usize) -> Config {
        Config {
            format: LineFormat::Json,
            ansi: false,
            timestamp: Timestamp::Rfc3339Micros,
            flatten_event: false,
            flatten_spans: false,
            current_span: true,
            span_list: true,
            target: true,
            file: false,
            line: false,
            thread_name: false,
            thread_id: false,
            statics: Vec::new(),
            root_reserved: keys::Reserved::NONE,
            // One value may take the whole record: the sink's stand-in for
            // a long record is one long value.
            cap: max_record,
            #[cfg(feature = "opentelemetry")]
            trace_keys: None,
        }
    }

    /// Whether records show anything of the event's spans.
    #[inline]
    pub(crate) fn wants_spans(&self) -> bool {
        self.current_span || self.span_list || self.flatten_spans
    }
}

/// How an event is encoded this time: the normal pass, or a second one to
/// fit an oversized record into the sink's maximum.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// The budget of each string value, in escaped bytes.
    pub(crate) cap: usize,
    /// `Some((bytes, max))`: the full record took `bytes`, over `max`; keep
    /// only the message and say so.
    pub(crate) oversize: Option<(usize, usize)>,
}

/// How many ancestors of a span are shown at most; deeper ones (a runaway
/// recursion of spans) are left out rather than risk the stack.
const MAX_SPAN_DEPTH: usize = 256;

/// Calls `f` for each span from the root down to `leaf`.
pub(crate) fn from_root<'a, S, F>(leaf: &SpanRef<'a, S>, f: &mut F)
where
    S: for<'l> LookupSpan<'l>,
    F: FnMut(&SpanRef<'a, S>),
{
    fn go<'a, S, F>(span: &SpanRef<'a, S>, f: &mut F, depth: usize)
    where
        S: for<'l> LookupSpan<'l>,
        F: FnMut(&SpanRef<'a, S>),
    {
        // Recursion instead of collecting the scope: no allocation, and
        // the depth is the nesting of spans, which is bounded above.
        if depth < MAX_SPAN_DEPTH {
            if let Some(parent) = span.parent() {
                go(&parent, f, depth + 1);
            }
        }
        f(span);
    }
    go(leaf, f, 0);
}

/// Runs `f` with a span's cached fields (`None` when the span was created
/// before this layer saw it).
#[inline]
pub(crate) fn with_fields<S, R>(
    span: &SpanRef<'_, S>,
    f: impl FnOnce(Option<&SpanFields>) -> R,
) -> R
where
    S: for<'l> LookupSpan<'l>,
{
    let ext = span.extensions();
    f(ext.get::<SpanFields>())
}

/// The level as `fmt().json()` writes it.
#[inline]
pub(crate) fn level_str(level: &tracing_core::Level) -> &'static str {
    level.as_str()
}
