//! [`JsonLayer`]: the `Layer` that encodes events and submits them to the
//! sink.
//!
//! Per event, on the caller's thread: take a buffer from the sink, encode
//! the event and its cached span fields into it, hand it to
//! [`Sink::submit`]. Span fields are encoded at `new_span` and `record` and
//! cached in the span's extensions, so an event never re-encodes (or
//! re-parses) them.

use std::fmt;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::contain;
use crate::encode::span_cache::SpanFields;
use crate::encode::time::Now;
use crate::encode::truncate::MARKER_MAX;
use crate::encode::{json, text, value, Budget, Config, LineFormat, Timestamp};
use crate::sink::Sink;

mod builder;

pub use builder::JsonLayerBuilder;

/// A `tracing_subscriber` [`Layer`] that writes each event as one line of
/// JSON (or compact text) to a [`Sink`].
///
/// The default JSON has the keys, order and values of
/// `tracing_subscriber::fmt().json()`, so what parses that parses this:
///
/// ```text
/// {"timestamp":"2026-11-28T22:09:42.123456Z","level":"INFO","fields":{"message":"request handled","user_id":42},"target":"app","span":{"method":"GET","name":"request"},"spans":[{"method":"GET","name":"request"}]}
/// ```
///
/// What it adds: every record is valid, one-line JSON whatever the values
/// (control characters and U+2028/U+2029 escaped; NaN and ±inf as strings;
/// 128-bit integers exact; a `Debug` or `Display` that panics or fails
/// gives a marker such as `"<Debug panicked: msg>"`, and the caller is not
/// unwound); no key appears twice in an object (a later duplicate becomes
/// `key.1`); a value over the field budget is cut with a marker
/// `…[truncated N bytes]`, so the record fits [`Sink::max_record`]. Span
/// fields are encoded once, when the span is created or recorded.
///
/// Build one with [`JsonLayer::new`] (the defaults) or
/// [`JsonLayer::builder`].
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use layer_safe::{GuardedExt, JsonLayer, Sink};
///
/// fn install(sink: Sink) {
///     let subscriber = tracing_subscriber::registry()
///         .with(JsonLayer::new(sink))
///         .guarded();
///     tracing::subscriber::set_global_default(subscriber).ok();
/// }
/// # let _ = install;
/// ```
pub struct JsonLayer {
    cfg: Config,
    sink: Sink,
    id: usize,
}

impl JsonLayer {
    /// A layer with the default options, writing to `sink`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// # fn demo(sink: layer_safe::Sink) {
    /// let subscriber = tracing_subscriber::registry().with(layer_safe::JsonLayer::new(sink));
    /// # drop(subscriber);
    /// # }
    /// ```
    pub fn new(sink: Sink) -> JsonLayer {
        JsonLayer::builder(sink).build()
    }

    /// A builder, starting from the defaults listed on [`JsonLayerBuilder`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(sink: layer_safe::Sink) {
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .flatten_event(true)
    ///     .static_field("service", "checkout")
    ///     .build();
    /// # drop(layer);
    /// # }
    /// ```
    pub fn builder(sink: Sink) -> JsonLayerBuilder {
        JsonLayerBuilder::new(sink)
    }

    /// The sink this layer submits to.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(sink: layer_safe::Sink) {
    /// let layer = layer_safe::JsonLayer::new(sink);
    /// let stats = layer.sink().stats();
    /// assert_eq!(stats.submitted, 0);
    /// # }
    /// ```
    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    fn encode<S>(
        &self,
        buf: &mut Vec<u8>,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        now: Now,
        budget: Budget,
    ) -> value::Acc
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        match self.cfg.format {
            LineFormat::Json => json::encode(&self.cfg, buf, event, ctx, now, budget),
            LineFormat::Text => text::encode(&self.cfg, buf, event, ctx, now, budget),
        }
    }

    fn event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let now = match self.cfg.timestamp {
            Timestamp::Off => Now::ZERO,
            _ => Now::get(),
        };
        let max = self.sink.max_record();
        let mut buf = self.sink.buffer();
        let normal = Budget {
            cap: self.cfg.cap,
            oversize: None,
        };
        let mut acc = self.encode(&mut buf, event, ctx, now, normal);
        if buf.len() > max {
            // Too many long values together: give each string an equal
            // share of what the rest of the record leaves, and try again.
            // (The fields' `Debug` runs again: rare, and cheaper than
            // keeping every value aside on the common path.)
            let full = buf.len();
            let fixed = full - acc.string_bytes;
            let share = max.saturating_sub(fixed) / acc.strings.max(1);
            let cap = share.saturating_sub(2 + MARKER_MAX);
            if cap >= 16 {
                buf.clear();
                acc = self.encode(
                    &mut buf,
                    event,
                    ctx,
                    now,
                    Budget {
                        cap,
                        oversize: None,
                    },
                );
            }
            if buf.len() > max {
                // Still too big (huge span fields, or a great many
                // values): keep the message and say what was left out.
                buf.clear();
                let cut = Budget {
                    cap: (max / 4).saturating_sub(MARKER_MAX),
                    oversize: Some((full, max)),
                };
                acc = self.encode(&mut buf, event, ctx, now, cut);
            }
        }
        if acc.truncated {
            self.sink.counters().truncated();
        }
        // A drop is the sink's to count and report; nothing to do here.
        let _ = self.sink.submit(*event.metadata().level(), buf);
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Last line of defence: whatever happens here, the caller goes on.
        contain::catch(|| {
            let Some(span) = ctx.span(id) else { return };
            if span.extensions().get::<SpanFields>().is_some() {
                return; // another JSON layer of this stack keeps the cache
            }
            // Encode before taking the extensions lock: user `Debug` runs
            // here, and may itself look at this span.
            let collected = SpanFields::collect(|v| attrs.record(v), self.cfg.cap);
            let fields = SpanFields::new(self.id, attrs.metadata().name(), collected);
            let mut ext = span.extensions_mut();
            if ext.get_mut::<SpanFields>().is_none() {
                ext.insert(fields);
            }
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        contain::catch(|| {
            let Some(span) = ctx.span(id) else { return };
            let owner = span.extensions().get::<SpanFields>().map(SpanFields::owner);
            if owner.is_some_and(|o| o != self.id) {
                return;
            }
            let collected = SpanFields::collect(|v| values.record(v), self.cfg.cap);
            let name = span.name();
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(fields) => fields.record(name, collected),
                None => ext.insert(SpanFields::new(self.id, name, collected)),
            }
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        contain::catch(|| self.event(event, &ctx));
    }
}

impl fmt::Debug for JsonLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer")
            .field("config", &self.cfg)
            .finish_non_exhaustive()
    }
}
