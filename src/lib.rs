//! Structured logging for `tracing` that cannot take its host down.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod guarded;
mod lint;
mod path;
mod site;
mod stats;

pub use guarded::{Guarded, GuardedExt, StatsHandle};
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
