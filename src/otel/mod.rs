//! OpenTelemetry (feature `opentelemetry`): trace context in every line,
//! and exporters that cannot loop.
//!
//! - **Ids in every line.** With `tracing-opentelemetry`'s layer in the
//!   stack, each JSON line of an event in a span carries that span's W3C
//!   `trace_id` and `span_id` at the top level, so a log line joins its
//!   trace ([`JsonLayerBuilder::with_trace_ids`](crate::JsonLayerBuilder::with_trace_ids),
//!   [`trace_id_keys`](crate::JsonLayerBuilder::trace_id_keys)).
//! - **Exporters in the logging path.** An exporter's own events (its HTTP
//!   client's, the SDK's) never reach a layer, so they are never exported
//!   again: [`exporter_thread`] puts a thread (or, as a start hook, every
//!   thread of a runtime) in the path for life, threads named as exporter
//!   clients name theirs ([`KNOWN_THREADS`]) are adopted by name, and the
//!   guard honours OpenTelemetry's `Context::is_current_telemetry_suppressed()`.
//!   Those events are counted ([`exporter_events`]), and WARN and ERROR are
//!   shown on stderr, rate-limited (three, then one a minute with the count
//!   of those held back): an export that fails is seen, and cannot loop.
//!
//! Nothing here is on the default build's path: without the feature the
//! record, the JSON line and the guard compile as before.
//!
//! # Examples
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::prelude::*;
//! use layer_safe::{GuardedExt, JsonLayer, Sink};
//!
//! #[derive(Clone, Default)]
//! struct Lines(Arc<Mutex<Vec<u8>>>);
//! impl std::io::Write for Lines {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
//!         self.0.lock().unwrap().extend_from_slice(b);
//!         Ok(b.len())
//!     }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let lines = Lines::default();
//! let (sink, guard) = Sink::builder().writer(lines.clone()).build().unwrap();
//! // In a service: an `SdkTracerProvider` with an OTLP exporter.
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("app")))
//!     .with(JsonLayer::new(sink.clone()))
//!     .guarded_with(sink.stats_handle());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("request").in_scope(|| tracing::info!("handled"));
//! });
//! drop(guard); // drains the queue
//! let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
//! assert!(text.contains(r#""trace_id":""#) && text.contains(r#""span_id":""#), "{text}");
//! //! ```

mod context;
mod exporter;
mod keys;
mod status;

pub(crate) use context::{Ids, Link};
pub(crate) use exporter::{dropped, exporting};
pub use exporter::{
    exporter_events, exporter_events_shown, exporter_thread, is_exporter_thread, KNOWN_THREADS,
};
pub(crate) use keys::{members, settle, SPAN_ID, TRACE_ID};
