//! Threads that export telemetry are in the logging path.
//!
//! An exporter's HTTP or gRPC client logs through `tracing` while it
//! exports (connection set up, response received, retry), and through
//! `opentelemetry-appender-tracing` those events are exported again: a
//! loop (open-telemetry/opentelemetry-rust#2877). The SDK's batch threads
//! mark themselves with `Context::enter_telemetry_suppressed_scope`, but
//! the client's own threads (reqwest's blocking runtime, the tokio workers
//! that drive hyper, h2 and tonic) are not marked.
//!
//! Here a thread is an *exporter thread* when any of these holds:
//! - it called [`exporter_thread`] (in a `tokio::runtime::Builder::on_thread_start`
//!   hook, every thread of a runtime does);
//! - its name is one an exporter client gives its own thread
//!   ([`KNOWN_THREADS`]); it is adopted at its first event, for life;
//! - OpenTelemetry's suppression flag is set on it (the SDK's batch threads).
//!
//! The guard asks [`exporting`] before anything else. An exporter thread's
//! event reaches no layer: it is counted (with the guard's recursion
//! counters, the outer call site naming the exporter) and, at WARN and
//! ERROR, shown on stderr through a rate-limited channel ([`super::status`]),
//! so "export failed: connection refused" is seen without being exported.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use opentelemetry::Context;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level};

use crate::path::{Entered, Origin};
use crate::site::CallSite;
use crate::stats::Counters;

/// Names of threads that exporter clients start themselves, which no hook
/// of ours can reach: `reqwest::blocking` (the OTLP exporter's default
/// HTTP client) runs every request on one.
pub const KNOWN_THREADS: &[&str] = &["reqwest-internal-sync-runtime"];

/// How an exporter's event is named in [`Stats::recursions`](crate::Stats::recursions).
const ROLE: &str = "exporter thread";

/// The most bytes of one event shown on stderr.
const MAX_SHOWN: usize = 1024;

const UNKNOWN: u8 = 0;
const APP: u8 = 1;
const EXPORTER: u8 = 2;

thread_local! {
    /// Whether this thread exports: not known yet, no, yes.
    static ROLE_OF_THREAD: Cell<u8> = const { Cell::new(UNKNOWN) };
    /// Rendering an exporter's event for stderr: a `Debug` in it that logs
    /// is only counted.
    static SHOWING: Cell<bool> = const { Cell::new(false) };
}

static EVENTS: AtomicU64 = AtomicU64::new(0);
static SHOWN: AtomicU64 = AtomicU64::new(0);

/// Puts the current thread in the logging path for the rest of its life,
/// as an exporter thread: nothing it logs reaches a layer, so nothing it
/// logs is exported; each event is counted ([`exporter_events`]), and
/// WARN and ERROR are shown on stderr, rate-limited. OpenTelemetry's own
/// suppression flag is set on the thread too, so the SDK's components on
/// it emit nothing either. Calling it again does nothing more.
///
/// Call it first thing on a thread that runs an exporter's client, or make
/// it every thread's start hook of a runtime dedicated to exporting:
/// `tokio::runtime::Builder::new_multi_thread().on_thread_start(layer_safe::otel::exporter_thread)`.
/// There is no way back for the thread (the guard it enters is leaked on
/// purpose), so do not call it on a thread that also runs the application.
///
/// # Examples
///
/// ```
/// std::thread::spawn(|| {
///     layer_safe::otel::exporter_thread();
///     assert!(layer_safe::in_logging_path());
///     assert!(layer_safe::otel::is_exporter_thread());
///     // The shape `on_thread_start` takes.
///     let _hook: fn() = layer_safe::otel::exporter_thread;
/// })
/// .join()
/// .unwrap();
/// assert!(!layer_safe::in_logging_path());
/// ```
pub fn exporter_thread() {
    match ROLE_OF_THREAD.try_with(|r| r.replace(EXPORTER)) {
        // Already one, or the thread is being torn down.
        Ok(EXPORTER) | Err(_) => {}
        Ok(_) => adopt(),
    }
}

/// Whether the current thread was made an exporter thread (by
/// [`exporter_thread`], or by its name, [`KNOWN_THREADS`]).
///
/// # Examples
///
/// ```
/// assert!(!layer_safe::otel::is_exporter_thread());
/// let named = std::thread::Builder::new()
///     .name(layer_safe::otel::KNOWN_THREADS[0].into())
///     .spawn(layer_safe::otel::is_exporter_thread)
///     .unwrap();
/// assert!(named.join().unwrap());
/// ```
pub fn is_exporter_thread() -> bool {
    role() == EXPORTER
}

/// How many events exporter threads (and threads under OpenTelemetry's
/// suppression flag) emitted since the process started, every one of them
/// kept from the layers. Also counted in [`Stats`](crate::Stats) as
/// recursion drops, under a pair whose outer site is layer-safe's
/// "exporter thread".
///
/// # Examples
///
/// ```
/// let before = layer_safe::otel::exporter_events();
/// assert!(layer_safe::otel::exporter_events() >= before);
/// ```
pub fn exporter_events() -> u64 {
    EVENTS.load(Relaxed)
}

/// How many of those were shown on stderr (WARN and ERROR, within the
/// rate limit).
///
/// # Examples
///
/// ```
/// assert!(layer_safe::otel::exporter_events_shown() <= layer_safe::otel::exporter_events());
/// ```
pub fn exporter_events_shown() -> u64 {
    SHOWN.load(Relaxed)
}

/// Enters the logging path and OpenTelemetry's suppressed scope, for good.
fn adopt() {
    std::mem::forget(Entered::enter(Origin::Named(ROLE)));
    std::mem::forget(Context::enter_telemetry_suppressed_scope());
}

/// This thread's role, learnt from its name at the first ask.
#[inline]
fn role() -> u8 {
    ROLE_OF_THREAD
        .try_with(|r| match r.get() {
            UNKNOWN => {
                let known = std::thread::current()
                    .name()
                    .is_some_and(|n| KNOWN_THREADS.contains(&n));
                r.set(if known { EXPORTER } else { APP });
                if known {
                    adopt();
                }
                r.get()
            }
            role => role,
        })
        .unwrap_or(APP)
}

/// Whether the current thread's events are an exporter's.
#[inline]
pub(crate) fn exporting() -> bool {
    // OpenTelemetry's context is a thread-local that panics when read
    // during thread teardown, and a panic while another unwinds aborts the
    // process: ask only a thread that is not unwinding, and contain it.
    role() == EXPORTER
        || (!std::thread::panicking()
            && crate::contain::catch(Context::is_current_telemetry_suppressed).unwrap_or(false))
}

/// Counts an exporter thread's event, and shows it when WARN or ERROR.
#[cold]
#[inline(never)]
pub(crate) fn dropped(counters: &Counters, event: &Event<'_>) {
    let meta = event.metadata();
    EVENTS.fetch_add(1, Relaxed);
    counters.recursion(
        CallSite::internal(ROLE),
        CallSite::from_metadata(meta),
        *meta.level(),
    );
    if *meta.level() > Level::WARN || SHOWING.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    SHOWING.with(|s| s.set(true));
    // Field values' `Debug` runs here: in the path (an event it emits is
    // counted above), and a panic in it is contained.
    let _path = Entered::enter(Origin::Named(ROLE));
    let line = crate::contain::catch(|| render(event)).unwrap_or_default();
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("unnamed");
    if super::status::emit(format_args!(
        "exporter thread '{name}': {} {}: {line}",
        meta.level(),
        meta.target()
    )) {
        SHOWN.fetch_add(1, Relaxed);
    }
    SHOWING.with(|s| s.set(false));
}

/// The event's message then its other fields, as one line of at most
/// [`MAX_SHOWN`] bytes.
fn render(event: &Event<'_>) -> String {
    let mut v = Line(Bounded(String::new()));
    event.record(&mut v);
    v.0 .0
}

struct Line(Bounded);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let out = &mut self.0;
        let name = field.name();
        if name.starts_with("log.") {
            return; // the `log` bridge's metadata
        }
        if name == "message" {
            if !out.0.is_empty() {
                let _ = out.write_str(" ");
            }
            let _ = write!(out, "{value:?}");
        } else {
            let _ = write!(out, " {name}={value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// A string that keeps at most [`MAX_SHOWN`] bytes and no line breaks.
struct Bounded(String);

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.len() + c.len_utf8() > MAX_SHOWN {
                return Err(fmt::Error);
            }
            match c {
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                c if c.is_control() => self.0.push(' '),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}
