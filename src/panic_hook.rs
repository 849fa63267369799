//! The panic hook `init` installs: a panic becomes an `ERROR` event, the
//! sink is flushed, then the previous hook runs (it usually prints to
//! stderr, and may abort).

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::Location;
use std::time::Duration;

use crate::sink_core::Flusher;

pub(crate) fn install(flusher: Flusher, deadline: Duration) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Inside the logging path (the sink's own thread, or a layer whose
        // panic the guard contains) the event would only be dropped as
        // recursion, and a flush would wait for itself; the guard and the
        // worker count that panic instead. Asking the thread's name there
        // could also abort during thread teardown.
        if !crate::path::in_logging_path() {
            record(info.payload(), info.location());
            flusher.flush(deadline);
        }
        previous(info);
    }));
}

fn record(payload: &(dyn Any + Send), location: Option<&Location<'_>>) {
    let message = crate::contain::panic_message(payload).unwrap_or("Box<dyn Any>");
    let location = location.map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    // `Backtrace::capture` follows RUST_BACKTRACE / RUST_LIB_BACKTRACE.
    let backtrace = Backtrace::capture();
    let backtrace =
        (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string());
    tracing::error!(
        target: "panic",
        location = location.as_deref(),
        thread,
        backtrace = backtrace.as_deref(),
        "thread '{thread}' panicked: {message}"
    );
}
