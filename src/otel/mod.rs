//! OpenTelemetry (feature `opentelemetry`): trace context in every line,
//! and exporters that cannot loop.
//!
//! - **Ids in every line.** With `tracing-opentelemetry`'s layer in the
//!   stack, each JSON line of an event in a span carries that span's W3C
//!   `trace_id` and `span_id` at the top level, so a log line joins its
//!   trace ([`JsonLayerBuilder::with_trace_ids`](crate::JsonLayerBuilder::with_trace_ids),
//!   [`trace_id_keys`](crate::JsonLayerBuilder::trace_id_keys)).
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
//!     .with(JsonLayer::new(sink))
//!     .guarded();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("request").in_scope(|| tracing::info!("handled"));
//! });
//! drop(guard); // drains the queue
//! let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
//! assert!(text.contains(r#""trace_id":""#) && text.contains(r#""span_id":""#), "{text}");
//! //! ```

mod context;
mod keys;

pub(crate) use context::{Ids, Link};
pub(crate) use keys::{members, settle, SPAN_ID, TRACE_ID};
