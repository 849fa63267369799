//! Structured logging for `tracing` that cannot take its host down.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod encode;
mod guarded;
mod layer;
mod lint;
mod path;
mod site;
mod stats;

pub use encode::{LineFormat, Timestamp};
pub use guarded::{Guarded, GuardedExt, StatsHandle};
pub use layer::{JsonLayer, JsonLayerBuilder};
pub use path::in_logging_path;
pub use site::CallSite;
pub use stats::{ByLevel, DropReason, Dropped, RecursionPair, Stats};

pub mod sink;
pub use sink::Sink;
