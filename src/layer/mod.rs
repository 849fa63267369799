//! [`JsonLayer`]: the `Layer` that encodes events and submits them to the
//! sink.
//!
//! Per event, on the caller's thread: capture the event (level, call site,
//! clock ticks, field values, the current span chain's cached JSON) into
//! this thread's record buffer and push it to this thread's sink lane. The
//! sink's worker formats it with the [`Render`] this layer registered.
//!
//! Span fields are encoded at `new_span` and `record` and cached in the
//! span's extensions. Each thread also keeps the chain of its current span,
//! captured once per enter (see [`stack`]), so an event asks the registry
//! nothing.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::contain;
use crate::encode::span_cache::SpanFields;
use crate::encode::Config;
use crate::sink_core::Sink;

mod builder;
mod capture;
mod render;
mod stack;
mod storm;

use render::Format;
use stack::Thread;

pub use builder::JsonLayerBuilder;
pub use storm::RateLimit;

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
/// # use layer_safe::testing::Output as Buf;
/// # let out = Buf::default();
///
/// let (sink, guard) = Sink::builder().writer(out.clone()).build()?;
/// let subscriber = tracing_subscriber::registry()
///     .with(JsonLayer::new(sink.clone()))
///     // The sink's counters: recursion is counted and reported with its drops.
///     .guarded_with(sink.stats_handle());
/// tracing::subscriber::set_global_default(subscriber)?;
/// tracing::info!(user_id = 42, "request handled");
/// assert!(guard.flush(std::time::Duration::from_secs(5)));
/// let v: serde_json::Value = serde_json::from_str(out.text().trim_end())?;
/// assert_eq!(v["fields"]["user_id"], 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonLayer {
    format: Arc<Format>,
    sink: Sink,
    /// The kind of this layer's records in the sink.
    kind: u8,
    id: usize,
    /// The rate limit per call site, in this sink's clock ticks.
    storm: Option<storm::Limit>,
    /// Each thread's record buffer, call-site cache, span stack and
    /// rate-limit buckets; padded, as the sink's lanes are.
    threads: ThreadLocal<CachePadded<RefCell<Thread>>>,
    /// Bumped by every `record` on a span: a thread's captured span chain
    /// older than this is captured again.
    span_gen: AtomicU64,
    /// Format on the caller (see `JsonLayerBuilder::eager`).
    eager: bool,
    /// The dispatch this layer is in, to read spans' trace context.
    #[cfg(feature = "opentelemetry")]
    otel: crate::otel::Link,
}

impl JsonLayer {
    /// A layer with the default options, writing to `sink`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
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
    /// let subscriber = tracing_subscriber::registry().with(layer_safe::JsonLayer::new(sink));
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hi"));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// assert!(out.text().contains(r#""fields":{"message":"hi"}"#));
    /// # let _ = run;
    /// ```
    pub fn new(sink: Sink) -> JsonLayer {
        JsonLayer::builder(sink).build()
    }

    /// A builder, starting from the defaults listed on [`JsonLayerBuilder`].
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
    ///     .flatten_event(true)
    ///     .static_field("service", "checkout")
    ///     .build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!((&v["service"], &v["message"]), (&"checkout".into(), &"hi".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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

    pub(crate) fn from_config(
        cfg: Config,
        sink: Sink,
        id: usize,
        rate_limit: Option<RateLimit>,
        eager: bool,
    ) -> JsonLayer {
        let format = Arc::new(Format::new(cfg, rate_limit.is_some()));
        let tps = sink.clock().ticks_per_second();
        let storm = rate_limit.map(|r| storm::Limit::new(r, tps));
        // Past 255 layers on one sink, records are written as raw lines
        // formatted here (kind 0 is the sink's own).
        let kind = sink.register(format.clone()).unwrap_or(0);
        JsonLayer {
            format,
            sink,
            kind,
            id,
            storm,
            threads: ThreadLocal::new(),
            span_gen: AtomicU64::new(0),
            eager,
            #[cfg(feature = "opentelemetry")]
            otel: crate::otel::Link::default(),
        }
    }

    fn cfg(&self) -> &Config {
        &self.format.cfg
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "opentelemetry")]
    fn on_register_dispatch(&self, dispatch: &tracing_core::Dispatch) {
        self.otel.register(dispatch);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Last line of defence: whatever happens here, the caller goes on.
        contain::catch(|| {
            let Some(span) = ctx.span(id) else { return };
            if span.extensions().get::<SpanFields>().is_some() {
                return; // another JSON layer of this stack keeps the cache
            }
            // Encode before taking the extensions lock: user `Debug` runs
            // here, and may itself look at this span.
            let cap = self.cfg().cap;
            let collected = SpanFields::collect(|v| attrs.record(v), cap);
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
            let collected = SpanFields::collect(|v| values.record(v), self.cfg().cap);
            let name = span.name();
            {
                let mut ext = span.extensions_mut();
                match ext.get_mut::<SpanFields>() {
                    Some(fields) => fields.record(name, collected),
                    None => ext.insert(SpanFields::new(self.id, name, collected)),
                }
            }
            // After the cache changed: a chain captured before is stale.
            self.span_gen.fetch_add(1, Release);
        });
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        if let Ok(mut t) = self.threads.get_or(Default::default).try_borrow_mut() {
            t.stack.enter(id);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if let Ok(mut t) = self.threads.get_or(Default::default).try_borrow_mut() {
            t.stack.exit(id);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        contain::catch(|| self.event(event, &ctx));
    }
}

impl fmt::Debug for JsonLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer")
            .field("config", self.cfg())
            .finish_non_exhaustive()
    }
}
