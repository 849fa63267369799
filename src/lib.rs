//! Structured logging for `tracing` that cannot take its host down.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod builder;
mod contain;
mod encode;
mod error;
mod guarded;
mod layer;
mod lint;
mod panic_hook;
mod path;
mod site;
mod stats;

pub use builder::Builder;
pub use encode::{LineFormat, Timestamp};
pub use error::InitError;
pub use guarded::{Guarded, GuardedExt, StatsHandle};
pub use layer::{JsonLayer, JsonLayerBuilder};
#[doc(hidden)]
pub use lint::assertion_failed as __assertion_failed;
pub use lint::{
    external_call, policy, set_policy, set_slow_path_budget, slow_path_budget, violations,
    Forbidden, Policy, PolicyError, Violation, ViolationKind, Violations,
};
pub use path::in_logging_path;
pub use site::CallSite;
pub use stats::{ByLevel, DropReason, Dropped, RecursionPair, Stats};

pub mod sink;
pub mod testing;
pub use sink::{FlushGuard, Sink};

/// Installs layer-safe as the global default with every default: JSON lines
/// to stdout through the bounded sink, `RUST_LOG` (default `info`), the
/// `log` bridge and the panic hook, all under the recursion guard. Panics if
/// a global subscriber is already set, as `tracing_subscriber::fmt::init`
/// does; [`try_init`] returns the error instead.
///
/// Keep the returned guard alive until the end of `main`: dropping it
/// flushes what is queued (within a deadline).
///
/// # Examples
///
/// ```no_run
/// let _guard = layer_safe::init();
/// tracing::info!(user_id = 42, "request handled");
/// ```
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
/// ```
pub fn try_init() -> Result<FlushGuard, InitError> {
    builder().try_init()
}

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
/// # drop(guard);
/// ```
pub fn builder() -> Builder {
    Builder::default()
}
