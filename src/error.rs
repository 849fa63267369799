//! [`InitError`]: why layer-safe could not be installed.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::installed::FilterError;
use crate::lint::PolicyError;
use crate::sink_core::ConfigError;

/// Why [`try_init`](crate::try_init) or [`Builder::build`](crate::Builder::build)
/// failed. Each variant says what was wrong and what to change; nothing was
/// installed when one is returned.
///
/// # Examples
///
/// ```
/// let err = layer_safe::builder().filter("app=verbose").build().unwrap_err();
/// let layer_safe::InitError::Filter(filter) = &err else { panic!("{err}") };
/// assert_eq!(filter.directives(), "app=verbose");
/// assert!(err.to_string().contains("app=verbose"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A global default subscriber was already set (by an earlier `init`,
    /// or another logging crate).
    AlreadySet,
    /// The `log` crate already has a logger, so records from crates that use
    /// `log` cannot be bridged. Turn the bridge off with
    /// [`Builder::log_bridge(false)`](crate::Builder::log_bridge), or remove
    /// the other logger.
    LogAlreadySet,
    /// The filter directives (from `RUST_LOG` or the builder) do not parse:
    /// [`FilterError::directives`] are the ones given, and its
    /// [`source`](Error::source) is the parser's error.
    Filter(FilterError),
    /// `LAYER_SAFE_POLICY` holds an unknown value.
    Policy(PolicyError),
    /// The log file could not be opened for appending.
    Writer {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
    /// A bound of the sink is not valid (a zero capacity, say).
    Sink(ConfigError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadySet => f.write_str(
                "layer-safe was not installed: a global default tracing subscriber is already \
                 set (only one can be set per process; use `Builder::build` and \
                 `tracing::dispatcher::with_default` to scope one instead)",
            ),
            InitError::LogAlreadySet => f.write_str(
                "layer-safe was not installed: the `log` crate already has a logger, so `log` \
                 records cannot be bridged (call `.log_bridge(false)` on the builder to skip \
                 the bridge)",
            ),
            InitError::Filter(e) => e.fmt(f),
            InitError::Policy(e) => e.fmt(f),
            InitError::Writer { path, error } => write!(
                f,
                "cannot open the log file {} for appending: {error}",
                path.display()
            ),
            InitError::Sink(e) => write!(f, "invalid sink configuration: {e}"),
        }
    }
}

impl Error for InitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            InitError::Filter(e) => e.source(),
            InitError::Policy(e) => Some(e),
            InitError::Writer { error, .. } => Some(error),
            InitError::Sink(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PolicyError> for InitError {
    fn from(e: PolicyError) -> Self {
        InitError::Policy(e)
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Sink(e)
    }
}
