//! [`ConfigError`]: why a sink was not built.

use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

use super::config::{MAX_CAPACITY, MIN_MAX_RECORD};

/// A setting [`SinkBuilder::build`](super::SinkBuilder::build) refused, or the worker thread that could
/// not start.
///
/// # Examples
///
/// ```
/// use layer_safe::{Sink, sink::ConfigError};
///
/// let err = Sink::builder().capacity(0).build().unwrap_err();
/// assert!(matches!(err, ConfigError::Capacity { got: 0 }));
/// assert!(err.to_string().contains("capacity"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The capacity must be between 1 and 16 777 216 records.
    Capacity {
        /// The capacity given.
        got: usize,
    },
    /// The maximum record size must be at least 64 bytes.
    MaxRecord {
        /// The size given.
        got: usize,
    },
    /// The byte budget must hold at least one record of the maximum size.
    ByteBudget {
        /// The budget given.
        got: usize,
        /// The maximum record size it must hold.
        max_record: usize,
    },
    /// The high-water mark is a percentage, from 1 to 100.
    HighWaterMark {
        /// The percentage given.
        got: u8,
    },
    /// The flush interval must be more than zero.
    FlushInterval {
        /// The interval given.
        got: Duration,
    },
    /// The worker thread could not be started.
    Spawn(io::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Capacity { got } => write!(
                f,
                "sink capacity must be between 1 and {MAX_CAPACITY} records, got {got}"
            ),
            ConfigError::MaxRecord { got } => write!(
                f,
                "sink max_record must be at least {MIN_MAX_RECORD} bytes, got {got}"
            ),
            ConfigError::ByteBudget { got, max_record } => write!(
                f,
                "sink byte_budget must hold at least one record of max_record \
                 ({max_record} bytes), got {got}"
            ),
            ConfigError::HighWaterMark { got } => write!(
                f,
                "sink high_water_mark is a percentage from 1 to 100, got {got}"
            ),
            ConfigError::FlushInterval { got } => {
                write!(f, "sink flush_interval must be more than zero, got {got:?}")
            }
            ConfigError::Spawn(e) => write!(f, "could not start the sink worker thread: {e}"),
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConfigError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}
