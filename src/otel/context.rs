//! The trace context of a span, read on the caller's thread.
//!
//! `tracing-opentelemetry` keeps each span's OpenTelemetry data in the span's
//! extensions, behind a type of its own; the one way in is
//! [`tracing_opentelemetry::get_otel_context`], which needs the `Dispatch`
//! the span lives in. The layer learns it once, in `on_register_dispatch`,
//! and keeps it weak (the dispatch owns the layer). The lookup costs an
//! extensions read and a lock; the layer makes it once per entered span and
//! keeps the answer with that span's cached chain (`layer::stack`).

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use tracing_core::dispatcher::WeakDispatch;
use tracing_core::span::Id;
use tracing_core::Dispatch;

/// A span's W3C trace id (16 bytes) then its span id (8 bytes), as the
/// record carries them (`encode::record::OTEL`).
pub(crate) type Ids = [u8; 24];

/// The dispatch a layer was registered in.
#[derive(Debug, Default)]
pub(crate) struct Link {
    dispatch: OnceLock<WeakDispatch>,
}

impl Link {
    /// Remembers the layer's dispatch (the first one: a layer lives in one).
    pub(crate) fn register(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    /// The trace and span ids of span `id`, when `tracing-opentelemetry`
    /// knows it and its context is valid.
    pub(crate) fn ids(&self, id: &Id) -> Option<Ids> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let mut ids = [0; 24];
        ids[..16].copy_from_slice(&sc.trace_id().to_bytes());
        ids[16..].copy_from_slice(&sc.span_id().to_bytes());
        Some(ids)
    }
}
