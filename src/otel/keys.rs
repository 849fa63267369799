//! The keys of the trace context in JSON lines, on [`JsonLayerBuilder`].

use crate::encode::keys::{write_key, KeySet, Reserved};
use crate::encode::TraceKeys;
use crate::JsonLayerBuilder;

/// The default key of the trace id.
pub(crate) const TRACE_ID: &str = "trace_id";
/// The default key of the span id.
pub(crate) const SPAN_ID: &str = "span_id";

/// Feature `opentelemetry`: the trace context in every line.
impl JsonLayerBuilder {
    /// Writes the W3C trace id and span id of the event's span (32 and 16
    /// lowercase hex digits), when `tracing-opentelemetry` knows it and its
    /// context is valid, as top-level members of the JSON line, right after
    /// `level` and the static fields: `"trace_id":"4bf9…4736","span_id":"00f0…02b7"`.
    /// On by default with the feature; nothing is written for an event in
    /// no span, or in a span with no valid context. The text format does
    /// not show them.
    ///
    /// The ids are read once per entered span, on the caller, and kept with
    /// the span chain this layer caches per thread: an event pays for them
    /// only with its record's 24 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let layer = layer_safe::JsonLayer::builder(sink).with_trace_ids(false).build();
    /// assert!(format!("{layer:?}").contains("trace_keys: None"));
    /// ```
    pub fn with_trace_ids(mut self, on: bool) -> Self {
        self.trace_keys = match (on, self.trace_keys.take()) {
            (false, _) => None,
            (true, Some(keys)) => Some(keys),
            (true, None) => Some((TRACE_ID.into(), SPAN_ID.into())),
        };
        self
    }

    /// The keys of the trace id and the span id (`"trace_id"` and
    /// `"span_id"` by default, as the OpenTelemetry log data model names
    /// them); turns the ids on. No field takes them: an event's or span's
    /// field of that name is renamed (`trace_id.1`), as is a static field.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .trace_id_keys("traceId", "spanId")
    ///     .build();
    /// assert!(format!("{layer:?}").contains("traceId"));
    /// ```
    pub fn trace_id_keys(
        mut self,
        trace_id: impl Into<String>,
        span_id: impl Into<String>,
    ) -> Self {
        self.trace_keys = Some((trace_id.into(), span_id.into()));
        self
    }
}

/// The trace context's keys, quoted, escaped and apart from the format's
/// own (a clash is renamed, `level.1`); reserved in `format_keys` so no
/// static field takes them.
pub(crate) fn settle(
    keys: Option<&(String, String)>,
    format_keys: &mut Reserved,
) -> Option<[Box<[u8]>; 2]> {
    let (trace, span) = keys?;
    let mut seen = KeySet::new();
    let mut quote = |name: &str, reserved: &Reserved| {
        let mut b = Vec::new();
        write_key(&mut b, &mut seen, reserved, name, "");
        b.into_boxed_slice()
    };
    let trace = quote(trace, format_keys);
    let span = quote(span, format_keys);
    format_keys.add_quoted(trace.clone());
    format_keys.add_quoted(span.clone());
    Some([trace, span])
}

/// What the JSON line writes: `,"trace_id":"` and `","span_id":"`.
pub(crate) fn members(quoted: Option<&[Box<[u8]>; 2]>) -> Option<TraceKeys> {
    let [trace, span] = quoted?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(TraceKeys {
        trace: format!(",{}:\"", text(trace)).into(),
        span: format!("\",{}:\"", text(span)).into(),
    })
}
