//! [`Guarded`]: the whole-stack recursion guard.
//!
//! A wrapper around a complete `Subscriber` (a `Registry` and its layers), so
//! it brackets every layer's work, not only its own: in `Layered`, a guard
//! *layer* would see `on_event` only after the layers beneath it had run.
//!
//! Each event is decided on its own, never through cached callsite interest:
//! `register_callsite` is forwarded untouched, so a callsite first reached
//! during a recursion is not switched off for good.
//!
//! Every call into the inner stack runs under `catch_unwind` (free on the
//! path that does not panic): a panic there is contained, counted as
//! [`DropReason::InnerPanic`], and the span it happened on becomes inert.

use std::any::TypeId;
use std::sync::Arc;

use tracing_core::field::{Field, Value};
use tracing_core::span::{Attributes, Current, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{Dispatch, Event, Level, LevelFilter, Metadata};
use tracing_subscriber::registry::LookupSpan;

use crate::contain;
use crate::inert::{InertSpans, NO_SPAN};
use crate::path::{self, Entered, Origin};
use crate::site::CallSite;
use crate::stats::{Counters, DropReason, Dropped, Stats};

/// A `Subscriber` that runs a whole subscriber stack inside the logging path
/// and drops, and counts, every event its thread emits while already there.
///
/// Wrap a stack with [`GuardedExt::guarded`]. What it does:
///
/// - **Events.** If the thread is already in the logging path (a field's
///   `Debug`, a layer, a writer, a feature-flag client called from any of
///   them, or the sink's worker thread), the event reaches no layer: it is
///   dropped and counted as [`DropReason::Recursion`](crate::DropReason), and
///   the first occurrence of each (outer, inner) pair of call sites is kept
///   in [`Stats::recursions`]. Otherwise the whole inner dispatch runs
///   inside the logging path, entered once per event: `event_enabled` only
///   checks the thread's depth and says yes, and `event` runs the inner
///   stack's `event_enabled` and then its `event`, in the order
///   `Dispatch::event` would have.
/// - **Spans.** `new_span`, `record`, `record_follows_from`, `enter`, `exit`
///   and `try_close` run inside the logging path too. A span created while
///   already in it gets a real id from the inner subscriber, but without its
///   field values (their `Debug` would run inside the path); a `record`
///   made from inside the path is dropped and counted like an event.
/// - **Panics of the inner stack.** A panic in the registry, a layer or a
///   filter (`new_span`, `enter`, `exit`, `record`, `event`, `clone_span`,
///   `try_close`, ...) is caught, counted as
///   [`DropReason::InnerPanic`](crate::DropReason) and the host keeps
///   running. The span it happened on becomes inert: `enter`, `exit` and
///   `record` for it skip the inner stack (its clones and closes still reach
///   it, so the registry frees its slot); a span whose `new_span` panicked
///   gets an id with nothing behind it. A `Panic`-policy violation of the
///   lints is not contained: it fails the code that logged, as before.
/// - **Everything else** (`register_callsite`, `max_level_hint`,
///   `current_span`, `clone_span`, `downcast_raw`, `on_register_dispatch`)
///   is forwarded unchanged, so `EnvFilter`, `reload`, per-layer filters and
///   span lookups behave as they do without the guard.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use layer_safe::GuardedExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
///     .guarded();
/// let stats = subscriber.stats_handle();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("hello");
/// });
/// assert_eq!(stats.snapshot().dropped.recursion, 0);
/// ```
pub struct Guarded<S> {
    inner: S,
    counters: Arc<Counters>,
    inert: InertSpans,
}

/// A cloneable handle to the counters of a [`Guarded`] subscriber (and of the
/// sink it shares them with), to read [`Stats`] after the subscriber has been
/// installed.
///
/// # Examples
///
/// ```
/// use layer_safe::GuardedExt;
///
/// let subscriber = tracing_subscriber::registry().guarded();
/// let handle = subscriber.stats_handle();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hi"));
/// assert_eq!(handle.snapshot().in_flight, 0);
/// ```
#[derive(Clone)]
pub struct StatsHandle(pub(crate) Arc<Counters>);

impl StatsHandle {
    /// Takes a snapshot of the counters.
    pub fn snapshot(&self) -> Stats {
        self.0.snapshot()
    }

    /// The drop counts alone, as in [`snapshot`](Self::snapshot)'s
    /// `dropped`, without the rest: no copy of the recursion pairs, no
    /// allocation. For a check that runs often, such as a health probe
    /// that alerts on drops, or a test that asserts none after every step.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::GuardedExt;
    ///
    /// let subscriber = tracing_subscriber::registry().guarded();
    /// let handle = subscriber.stats_handle();
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hi"));
    /// assert_eq!(handle.dropped(), handle.snapshot().dropped);
    /// assert_eq!(handle.dropped().total(), 0);
    /// ```
    pub fn dropped(&self) -> Dropped {
        self.0.dropped_snapshot()
    }
}

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StatsHandle")
            .field(&self.snapshot())
            .finish()
    }
}

/// Wraps any `Subscriber` in a [`Guarded`].
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use layer_safe::GuardedExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::EnvFilter::new("info"))
///     .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
///     .guarded();
/// let stats = subscriber.stats_handle();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("inside the guard"));
/// assert!(stats.snapshot().is_clean());
/// ```
pub trait GuardedExt: Subscriber + Sized + 'static {
    /// Wraps `self` so that the whole stack runs inside the logging path.
    fn guarded(self) -> Guarded<Self> {
        Guarded::new(self)
    }

    /// Wraps `self` like [`guarded`](GuardedExt::guarded), counting into
    /// `stats` (see [`Guarded::with_stats`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use layer_safe::GuardedExt;
    ///
    /// let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let stats = sink.stats_handle();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(layer_safe::JsonLayer::new(sink.clone()))
    ///     .guarded_with(stats);
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// assert_eq!(sink.stats().submitted, 1);
    /// ```
    fn guarded_with(self, stats: StatsHandle) -> Guarded<Self> {
        Guarded::with_stats(self, stats)
    }
}

impl<S: Subscriber + 'static> GuardedExt for S {}

impl<S: Subscriber + 'static> Guarded<S> {
    /// Wraps `inner`, with counters of its own. To account for recursion in
    /// a sink's [`Stats`] and in-band reports too, hand it the sink's
    /// counters with [`Guarded::with_stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// let subscriber = layer_safe::Guarded::new(tracing_subscriber::registry());
    /// assert_eq!(subscriber.stats_handle().snapshot().submitted, 0);
    /// ```
    pub fn new(inner: S) -> Self {
        Self::with_stats(inner, StatsHandle(Arc::default()))
    }

    /// Wraps `inner` and counts into `stats`: pass a sink's
    /// [`Sink::stats_handle`](crate::Sink::stats_handle), and one [`Stats`]
    /// snapshot (from here, from the sink or from its `FlushGuard`) accounts
    /// for every event, written, dropped by the sink or dropped as recursion,
    /// and the sink's in-band reports count the recursion too.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let stats = sink.stats_handle();
    /// let layer = layer_safe::JsonLayer::new(sink.clone());
    /// let subscriber = layer_safe::Guarded::with_stats(tracing_subscriber::registry().with(layer), stats);
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("counted once"));
    /// assert_eq!(sink.stats().submitted, 1);
    /// ```
    pub fn with_stats(inner: S, stats: StatsHandle) -> Self {
        Guarded {
            inner,
            counters: stats.0,
            inert: InertSpans::default(),
        }
    }
}

impl<S> Guarded<S> {
    /// A snapshot of the counters: the old way of
    /// `stats_handle().snapshot()`, which also reads them once `self` is
    /// installed.
    ///
    /// # Examples
    ///
    /// ```
    /// let subscriber = layer_safe::Guarded::new(tracing_subscriber::registry());
    /// #[allow(deprecated)]
    /// let stats = subscriber.stats();
    /// assert!(stats.recursions.is_empty());
    /// ```
    #[deprecated(since = "0.2.0", note = "use `stats_handle().snapshot()`")]
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// A handle that reads the counters after `self` has been installed.
    ///
    /// # Examples
    ///
    /// ```
    /// let subscriber = layer_safe::Guarded::new(tracing_subscriber::registry());
    /// let handle = subscriber.stats_handle();
    /// assert_eq!(handle.snapshot(), layer_safe::Stats::default());
    /// ```
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.counters.clone())
    }

    /// The wrapped subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing::Subscriber as _;
    /// use tracing_subscriber::prelude::*;
    /// let filtered = tracing_subscriber::registry().with(tracing_subscriber::EnvFilter::new("warn"));
    /// let subscriber = layer_safe::Guarded::new(filtered);
    /// let hint = subscriber.inner().max_level_hint();
    /// assert_eq!(hint, Some(tracing::level_filters::LevelFilter::WARN));
    /// ```
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Counts an event emitted from inside the logging path.
    #[cold]
    #[inline(never)]
    fn recursive_event(&self, event: &Event<'_>) {
        // An exporter thread, in the path for life: its own kind of count,
        // and its warnings shown on stderr.
        #[cfg(feature = "opentelemetry")]
        if crate::otel::exporting() {
            return crate::otel::dropped(&self.counters, event);
        }
        self.recursion(event.metadata())
    }

    /// Counts a recursive event (or span record) and remembers where it was.
    #[cold]
    #[inline(never)]
    fn recursion(&self, meta: &'static Metadata<'static>) {
        let outer = CallSite::from_origin(path::origin());
        let inner = CallSite::from_metadata(meta);
        self.counters.recursion(outer, inner, *meta.level());
        crate::lint::recursion(outer, inner);
    }
}

impl<S: Subscriber + 'static> Guarded<S> {
    /// Counts a contained panic of the inner stack as one dropped call.
    #[cold]
    #[inline(never)]
    fn panicked(&self, level: Level) {
        self.counters.submitted();
        self.counters.dropped(DropReason::InnerPanic, level);
    }

    /// Runs an event's call into the inner stack with its panic contained:
    /// counted as [`DropReason::InnerPanic`], `fallback` returned. A
    /// `Panic`-policy violation still unwinds (`contain::catch`). All the
    /// event path's containment: a `catch_unwind`, free unless it panics.
    #[inline(always)]
    fn contained<R>(&self, meta: &Metadata<'_>, fallback: R, f: impl FnOnce() -> R) -> R {
        match contain::catch(f) {
            Some(r) => r,
            None => {
                self.panicked(*meta.level());
                fallback
            }
        }
    }

    /// A call for span `id` panicked: count it, make the span inert.
    #[cold]
    #[inline(never)]
    fn span_panicked(&self, id: &Id) {
        self.inert.insert(id);
        // The registry may be what is broken: asking it may panic again.
        let meta = contain::catch(|| self.span_metadata(id)).flatten();
        self.panicked(meta.map_or(Level::ERROR, |m| *m.level()));
    }

    /// Runs a call for span `id` on the inner stack, contained; skipped when
    /// the span is inert.
    #[inline]
    fn span_call(&self, id: &Id, f: impl FnOnce()) {
        if !self.inert.contains(id) && contain::catch(f).is_none() {
            self.span_panicked(id);
        }
    }

    /// `new_span` from inside the path: a real id, without field values.
    fn new_span_in_path(&self, attrs: &Attributes<'_>) -> Option<Id> {
        let meta = attrs.metadata();
        let values: [(&Field, Option<&dyn Value>); 0] = [];
        let values = meta.fields().value_set(&values);
        let attrs = if attrs.is_root() {
            Attributes::new_root(meta, &values)
        } else if let Some(parent) = attrs.parent() {
            Attributes::child_of(parent.clone(), meta, &values)
        } else {
            Attributes::new(meta, &values)
        };
        contain::catch(|| self.inner.new_span(&attrs))
    }
}

/// Runs `f` inside the logging path, entering it only if not already there.
#[inline]
fn in_path<R>(origin: Origin, f: impl FnOnce() -> R) -> R {
    let _entered = (!path::in_logging_path()).then(|| Entered::enter(origin));
    f()
}

impl<S: Subscriber + 'static> Subscriber for Guarded<S> {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber)
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // Forwarded as is: interest is cached, recursion is decided per event.
        in_path(Origin::Callsite(meta), || {
            self.inner.register_callsite(meta)
        })
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        // The check and the entry in one thread-local access: this runs per
        // event where a filter decides per event (span-field directives).
        match Entered::try_enter(Origin::Unknown) {
            Some(entered) => {
                let enabled = self.inner.enabled(meta);
                drop(entered);
                enabled
            }
            // Let an event reach `event_enabled`, where it is counted and
            // dropped: asking the inner filters here could run a layer's
            // own code, which may log again, unboundedly.
            None if meta.is_event() => true,
            None => self.inner.enabled(meta),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let meta = attrs.metadata();
        let id = if path::in_logging_path() {
            // Already logging: the span still gets a real id, but without its
            // field values, whose `Debug` would run inside the path.
            self.new_span_in_path(attrs)
        } else {
            let _entered = Entered::enter(Origin::Callsite(meta));
            contain::catch(|| self.inner.new_span(attrs))
        };
        id.unwrap_or_else(|| {
            // tokio-rs/tracing#2856: the registry's slab panics for a span
            // made during thread teardown. Hand out an id with nothing behind.
            self.panicked(*meta.level());
            Id::from_u64(NO_SPAN)
        })
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if path::in_logging_path() {
            // The values' `Debug` would run inside the path: drop the
            // record, counted, an inert span's too (fuzz: `reentrancy`).
            if let Some(meta) = self.span_metadata(span) {
                self.recursion(meta);
            }
            return;
        }
        if self.inert.contains(span) {
            return;
        }
        let origin = self
            .span_metadata(span)
            .map_or(Origin::Unknown, Origin::Callsite);
        let _entered = Entered::enter(origin);
        self.span_call(span, || self.inner.record(span, values))
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if self.inert.contains(follows) {
            return;
        }
        in_path(Origin::Unknown, || {
            self.span_call(span, || self.inner.record_follows_from(span, follows))
        })
    }

    /// Says no to an event from inside the logging path (counted here), and
    /// asks the inner stack nothing: its `event_enabled` runs in
    /// [`event`](Self::event), right before its `event`, as
    /// `Dispatch::event` would have run them, so the logging path is
    /// entered once per event, not twice. Nothing else may run here: it is
    /// outside the path (a panic hook that logs would not know it is inside).
    #[inline]
    fn event_enabled(&self, event: &Event<'_>) -> bool {
        if path::in_logging_path() {
            self.recursive_event(event);
            return false;
        }
        true
    }

    #[inline]
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let Some(_entered) = Entered::try_enter(Origin::Callsite(meta)) else {
            self.recursive_event(event);
            return;
        };
        // A thread OpenTelemetry suppressed (an SDK exporter's): counted,
        // WARN/ERROR shown on stderr, never given to a layer, so never
        // exported again.
        #[cfg(feature = "opentelemetry")]
        if crate::otel::exporting() {
            crate::otel::dropped(&self.counters, event);
            return;
        }
        // Time the whole stack's work for this event (sampled under
        // `Report`), so a slow `Debug`, filter, layer or writer is reported.
        self.contained(meta, (), || {
            crate::lint::timed(meta, || {
                if self.inner.event_enabled(event) {
                    self.inner.event(event)
                }
            })
        })
    }

    fn enter(&self, span: &Id) {
        in_path(Origin::Unknown, || {
            self.span_call(span, || self.inner.enter(span))
        })
    }

    fn exit(&self, span: &Id) {
        in_path(Origin::Unknown, || {
            self.span_call(span, || self.inner.exit(span))
        })
    }

    fn clone_span(&self, id: &Id) -> Id {
        // Inert spans are cloned too: every clone is closed later, and the
        // registry's reference count must match.
        if id.into_u64() == NO_SPAN {
            return id.clone();
        }
        contain::catch(|| self.inner.clone_span(id)).unwrap_or_else(|| {
            self.span_panicked(id);
            id.clone()
        })
    }

    #[allow(deprecated)]
    fn drop_span(&self, id: Id) {
        if id.into_u64() != NO_SPAN {
            in_path(Origin::Unknown, || {
                if contain::catch(|| self.inner.drop_span(id.clone())).is_none() {
                    self.span_panicked(&id);
                }
            })
        }
    }

    fn try_close(&self, id: Id) -> bool {
        if id.into_u64() == NO_SPAN {
            return false;
        }
        // Forwarded for inert spans too, so the registry frees the slot.
        let closed = in_path(Origin::Unknown, || {
            contain::catch(|| self.inner.try_close(id.clone()))
        });
        match closed {
            Some(closed) => {
                if closed {
                    // The registry may hand the id to a new span now.
                    self.inert.remove(&id);
                }
                closed
            }
            None => {
                // Not made inert: the span may be gone and its id reused.
                let meta = contain::catch(|| self.span_metadata(&id)).flatten();
                self.panicked(meta.map_or(Level::ERROR, |m| *m.level()));
                false
            }
        }
    }

    fn current_span(&self) -> Current {
        self.inner.current_span()
    }

    // The one `unsafe` in the crate: `downcast_raw` is an `unsafe fn` in the
    // `Subscriber` trait, and forwarding it is what keeps per-layer filters,
    // `reload` and `Dispatch::downcast_ref` working through the guard.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: the inner subscriber's `downcast_raw` upholds the trait's
        // contract for itself; the pointer it returns points into `self.inner`,
        // which lives as long as `self`.
        unsafe { self.inner.downcast_raw(id) }
    }
}

impl<S: Subscriber + 'static> Guarded<S> {
    /// The metadata of a span, when the inner stack has a `Registry` to ask.
    /// Without one the origin is unknown, which only makes reports vaguer.
    fn span_metadata(&self, id: &Id) -> Option<&'static Metadata<'static>> {
        use tracing_subscriber::registry::SpanData;
        let registry =
            (&self.inner as &dyn Subscriber).downcast_ref::<tracing_subscriber::Registry>()?;
        registry.span_data(id).map(|data| data.metadata())
    }
}

impl<'a, S> LookupSpan<'a> for Guarded<S>
where
    S: Subscriber + LookupSpan<'a>,
{
    type Data = S::Data;

    fn span_data(&'a self, id: &Id) -> Option<Self::Data> {
        self.inner.span_data(id)
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .field("stats", &self.counters.snapshot())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_events_pass() {
        let s = tracing_subscriber::registry().guarded();
        let h = s.stats_handle();
        tracing::subscriber::with_default(s, || {
            tracing::info!("a");
            let _g = tracing::info_span!("s", x = 1).entered();
            tracing::info!("b");
        });
        assert_eq!(h.snapshot().dropped.recursion, 0);
    }

    #[test]
    fn span_in_path_gets_a_real_id() {
        let s = tracing_subscriber::registry().guarded();
        let h = s.stats_handle();
        tracing::subscriber::with_default(s, || {
            let _e = Entered::enter(Origin::Named("test"));
            let span = tracing::info_span!("inside", field = 3);
            assert!(span.id().is_some());
            span.in_scope(|| tracing::info!("dropped"));
        });
        assert_eq!(h.snapshot().dropped.recursion, 1);
    }
}
