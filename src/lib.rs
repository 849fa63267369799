//! Structured logging for [`tracing`] that cannot take its host down.
//!
//! A logger is part of every code path of a service, so a logger that can
//! recurse, block or grow without bound is a way for any one of them to take
//! the whole process down. layer-safe makes those failures impossible by
//! construction:
//!
//! - **Recursion is contained.** [`Guarded`] wraps the whole subscriber stack:
//!   an event emitted while its thread is already logging (from a field's
//!   `Debug`, a layer, a writer, a feature-flag client, the sink's own
//!   thread) is dropped and counted, never recursed into, and the loop's two
//!   call sites are remembered ([`Stats::recursions`]).
//! - **The logging path makes no external calls.** Clients of flags, caches
//!   and networks ask [`external_call`] first and serve a local value when
//!   refused; [`assert_not_in_logging_path!`] marks code that must never run
//!   while logging. Violations follow the [`Policy`] and are reported with
//!   both call sites.
//! - **The caller never blocks and memory never grows.** The caller copies
//!   what it cannot keep of an event into its own thread's bounded lane
//!   ([`Sink`]), which only it writes; a background worker formats the
//!   JSON ([`JsonLayer`]) and writes it. All lanes together stay within one
//!   byte budget; when full, events are dropped, counted by reason and
//!   reported in the log stream itself.
//!
//! # Quick start
//!
//! One line replaces `tracing_subscriber::fmt::init()`:
//!
//! ```no_run
//! let _guard = layer_safe::init(); // JSON to stdout, RUST_LOG, log bridge, panic hook
//! tracing::info!(user_id = 42u64, "request handled");
//! ```
//!
//! [`builder()`] configures the writer (files, rolling by time or size, any
//! `io::Write`), the format, the filter, the sink's bounds and the policy,
//! and composes your own layers under the same guard. To keep your own
//! stack, wrap it: `tracing_subscriber::registry().with(..).guarded()`
//! ([`GuardedExt`]), or, with layer-safe's own sink in it,
//! `.guarded_with(sink.stats_handle())`, so the recursion the guard drops
//! is counted and reported in-band with the sink's drops.
//!
//! # What it promises
//!
//! Every event that reaches the sink is written, dropped with a reason, or
//! still in flight: `submitted == written + dropped.total() + in_flight` in
//! every [`Stats`] snapshot. Every record is one line of valid JSON. The
//! logging-path state is restored on every exit, panics included. See
//! `ARCHITECTURE.md` for the invariants and where each is enforced.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod builder;
mod clock;
mod contain;
mod crash;
mod encode;
mod error;
#[cfg(unix)]
mod exit_hook;
mod guarded;
mod inert;
mod installed;
mod layer;
mod lint;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod panic_hook;
mod path;
mod site;
mod stats;

pub use builder::Builder;
pub use encode::{LineFormat, Timestamp};
pub use error::InitError;
pub use guarded::{Guarded, GuardedExt, StatsHandle};
pub use installed::{flush, set_filter, stats, FilterError};
pub use layer::{JsonLayer, JsonLayerBuilder, RateLimit};
#[doc(hidden)]
pub use lint::assertion_failed as __assertion_failed;
pub use lint::{
    external_call, policy, set_policy, set_slow_path_budget, slow_path_budget, violations,
    Forbidden, Policy, PolicyError, Violation, ViolationKind, Violations,
};

/// Marks the calling thread as an OpenTelemetry exporter's: the old path of
/// [`otel::exporter_thread`], which has its siblings beside it.
///
/// # Examples
///
/// ```
/// #[allow(deprecated)]
/// layer_safe::exporter_thread();
/// assert!(layer_safe::otel::is_exporter_thread());
/// ```
#[cfg(feature = "opentelemetry")]
#[deprecated(since = "0.2.0", note = "use `layer_safe::otel::exporter_thread`")]
pub fn exporter_thread() {
    otel::exporter_thread()
}
pub use path::in_logging_path;
pub use site::CallSite;
pub use stats::{ByLevel, DropReason, Dropped, RecursionPair, Stats};

#[path = "sink_api.rs"]
pub mod sink;
#[path = "sink/mod.rs"]
mod sink_core;
pub mod testing;
pub use sink_core::{FlushGuard, Sink};

/// Installs layer-safe as the global default with every default: JSON lines
/// to stdout through the bounded sink, `RUST_LOG` (default `info`), the
/// `log` bridge and the panic hook, all under the recursion guard.
///
/// Panics with the [`InitError`] if a global subscriber is already set, as
/// `tracing_subscriber::fmt::init` does, and also if `RUST_LOG` or
/// `LAYER_SAFE_POLICY` holds a value that does not parse: a typo is caught at
/// start-up rather than silently ignored. [`try_init`] returns the error
/// instead, for a service that must start whatever its environment says.
///
/// Keep the returned guard alive until the end of `main`: dropping it
/// flushes what is queued (within a deadline). Records are written by a
/// background thread; what is queued still reaches the writer when the
/// process ends otherwise: `std::process::exit` or a leaked guard (an exit
/// hook flushes, within the flush deadline), a crash (the crash handler
/// drains, then the process dies of the same signal), and SIGTERM/SIGINT
/// when [`Builder::flush_on_termination`] is on. See the README's table of
/// what survives what.
///
/// # Examples
///
/// ```no_run
/// let _guard = layer_safe::init();
/// tracing::info!(user_id = 42, "request handled");
/// ```
#[track_caller]
pub fn init() -> FlushGuard {
    builder().init()
}

/// Like [`init`], but returns an [`InitError`] instead of panicking.
///
/// # Examples
///
/// ```
/// match layer_safe::try_init() {
///     Ok(guard) => drop(guard),
///     Err(e) => eprintln!("logging not set up: {e}"),
/// }
/// // Only one global subscriber: a second call says so.
/// assert!(matches!(layer_safe::try_init(), Err(layer_safe::InitError::AlreadySet)));
/// ```
pub fn try_init() -> Result<FlushGuard, InitError> {
    builder().try_init()
}

/// The README's examples, compiled as doc tests (with the features they
/// name, under `--all-features`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// A [`Builder`] to configure the writer, format, filter, bounds and policy.
///
/// # Examples
///
/// ```
/// let (dispatch, guard) = layer_safe::builder()
///     .text()
///     .filter("debug")
///     .writer(std::io::sink())
///     .build()
///     .unwrap();
/// tracing::dispatcher::with_default(&dispatch, || tracing::debug!("hello"));
/// assert!(guard.flush(std::time::Duration::from_secs(5)));
/// assert_eq!(guard.stats().written, 1);
/// ```
pub fn builder() -> Builder {
    Builder::default()
}
