//! What [`init`](crate::init) installed, reachable from anywhere in the
//! process: [`set_filter`] replaces the filter directives while running,
//! [`stats`] reads the counters, [`flush`] writes what is queued.
//!
//! The builder owns the state: `try_init` hands it here once, after the
//! global default is set. A stack made with `build()` is not reachable from
//! here (it may be one of many, scoped); its `FlushGuard` has the stats.

use std::error::Error;
use std::fmt;
use std::sync::OnceLock;

use tracing_subscriber::filter::{EnvFilter, LevelFilter, ParseError};

use crate::sink_core::Flusher;
use crate::{Stats, StatsHandle};

/// Swaps the filter inside the installed stack's `reload::Layer`; erased so
/// the stack's long type stays in the builder.
pub(crate) type SwapFilter =
    Box<dyn Fn(EnvFilter) -> Result<(), tracing_subscriber::reload::Error> + Send + Sync>;

/// The parts of the installed stack that outlive `try_init`.
pub(crate) struct Installed {
    pub(crate) flusher: Flusher,
    pub(crate) stats: StatsHandle,
    /// `None` when the builder was told `filter_reloading(false)`.
    pub(crate) swap: Option<SwapFilter>,
    /// Whether our `log` bridge is installed, so its max level is ours to set.
    pub(crate) log_bridge: bool,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Called by `try_init` once the global default is set (which succeeds at
/// most once per process, so this does too).
pub(crate) fn install(installed: Installed) {
    let _ = INSTALLED.set(installed);
}

/// A snapshot of the counters of the stack [`init`](crate::init) or
/// [`try_init`](crate::try_init) installed, or `None` when nothing was
/// installed: for a `/metrics` endpoint or a health check, anywhere in the
/// process, without the [`FlushGuard`](crate::FlushGuard) that `main` holds.
///
/// It reads the same atomics as the guard: a few loads, no lock, no I/O.
///
/// # Examples
///
/// ```
/// // In a process where nothing was installed:
/// assert!(layer_safe::stats().is_none());
/// ```
pub fn stats() -> Option<Stats> {
    INSTALLED.get().map(|i| i.stats.snapshot())
}

/// Writes what is queued in the sink that [`init`](crate::init) or
/// [`try_init`](crate::try_init) installed, waiting at most `timeout`.
/// Returns `true` when everything logged so far reached the writer; `false`
/// on a timeout, a writer error, or when nothing was installed.
/// `std::process::exit` no longer needs it (the exit hook flushes), but a
/// flush reports whether everything got out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // Nothing installed in this process: nothing to flush.
/// assert!(!layer_safe::flush(Duration::from_millis(10)));
/// ```
///
/// ```no_run
/// use std::time::Duration;
///
/// let _guard = layer_safe::init();
/// tracing::error!("fatal: config file missing");
/// layer_safe::flush(Duration::from_secs(1));
/// std::process::exit(1);
/// ```
pub fn flush(timeout: std::time::Duration) -> bool {
    INSTALLED.get().is_some_and(|i| i.flusher.flush(timeout))
}

/// Replaces the filter of the stack [`init`](crate::init) installed with
/// `directives` (`RUST_LOG` syntax, `"info,my_crate=debug"`), while running.
///
/// Levels newly enabled take effect at once, on call sites already
/// registered too (their cached interest is rebuilt), and the `log` bridge's
/// maximum level follows, so `log::debug!` starts flowing when `debug` is
/// enabled. Directives that do not parse are an error and the filter in
/// force stays. A directive without a target sets the default level, which
/// is `info` when none is given, as at start-up.
///
/// Rebuilding the interest cache visits every call site: it is meant for an
/// operator's request (an admin endpoint, a signal), not for every request.
///
/// # Errors
///
/// A [`FilterError`]: the directives do not parse, nothing was installed,
/// the builder was not told `filter_reloading(true)`, or the call came from inside the
/// logging path (a `Debug` impl or a layer), where rebuilding interest would
/// re-enter the subscriber.
///
/// # Examples
///
/// ```no_run
/// let _guard = layer_safe::builder().filter_reloading(true).init();
/// layer_safe::set_filter("info,my_app::db=debug")?;
///
/// let err = layer_safe::set_filter("my_app=loud").unwrap_err();
/// assert!(err.is_invalid());
/// assert_eq!(err.directives(), "my_app=loud");
/// # Ok::<(), layer_safe::FilterError>(())
/// ```
pub fn set_filter(directives: &str) -> Result<(), FilterError> {
    let err = |why| FilterError {
        directives: directives.to_owned(),
        why,
        from: None,
    };
    if crate::in_logging_path() {
        return Err(err(Why::InLoggingPath));
    }
    // Parsed first, so a bad directive is reported as such in any process.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives)
        .map_err(|e| err(Why::Invalid(e)))?;
    let installed = INSTALLED.get().ok_or_else(|| err(Why::NotInstalled))?;
    let swap = installed
        .swap
        .as_ref()
        .ok_or_else(|| err(Why::NotReloadable))?;
    // `reload` rebuilds the interest cache, which recomputes the global max
    // level from every dispatcher's hint: read it after.
    swap(filter).map_err(|_| err(Why::Gone))?;
    if installed.log_bridge {
        log::set_max_level(log_level(LevelFilter::current()));
    }
    Ok(())
}

/// Why [`set_filter`] left the filter as it was.
///
/// Its message names the directives and says what to change; the
/// accessors tell the cases apart for code that must.
///
/// # Examples
///
/// ```
/// // Nothing installed in this process:
/// let err = layer_safe::set_filter("debug").unwrap_err();
/// assert!(err.is_not_installed());
/// assert!(!err.is_invalid());
/// assert!(err.to_string().contains("layer_safe::init"));
/// ```
#[derive(Debug)]
pub struct FilterError {
    directives: String,
    why: Why,
    /// Where directives refused at build came from: `RUST_LOG` or the
    /// builder; `None` for [`set_filter`].
    from: Option<&'static str>,
}

#[derive(Debug)]
enum Why {
    Invalid(ParseError),
    NotInstalled,
    NotReloadable,
    InLoggingPath,
    /// The subscriber holding the filter was dropped (not the case for a
    /// global default, which lives as long as the process).
    Gone,
}

impl FilterError {
    /// Directives from `from` (`RUST_LOG` or the builder) that do not parse.
    pub(crate) fn invalid(directives: &str, from: &'static str, e: ParseError) -> FilterError {
        FilterError {
            directives: directives.to_owned(),
            why: Why::Invalid(e),
            from: Some(from),
        }
    }

    /// The directives that were given.
    ///
    /// ```
    /// let err = layer_safe::set_filter("warn").unwrap_err();
    /// assert_eq!(err.directives(), "warn");
    /// ```
    pub fn directives(&self) -> &str {
        &self.directives
    }

    /// Whether the directives do not parse (as opposed to there being no
    /// filter to replace).
    ///
    /// ```
    /// let err = layer_safe::set_filter("app=[").unwrap_err();
    /// assert!(err.is_invalid());
    /// assert!(err.to_string().contains("the filter in force stays"));
    /// ```
    pub fn is_invalid(&self) -> bool {
        matches!(self.why, Why::Invalid(_))
    }

    /// Whether no layer-safe stack with a reloadable filter is installed as
    /// the global default (no `init`, or `filter_reloading(false)`).
    ///
    /// ```
    /// assert!(layer_safe::set_filter("info").unwrap_err().is_not_installed());
    /// ```
    pub fn is_not_installed(&self) -> bool {
        matches!(self.why, Why::NotInstalled | Why::NotReloadable)
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.directives;
        match &self.why {
            Why::Invalid(e) => match self.from {
                Some(from) => write!(f, "invalid filter directives {d:?} from {from}: {e}"),
                None => write!(
                    f,
                    "invalid filter directives {d:?}: {e}; the filter in force stays"
                ),
            },
            Why::NotInstalled => write!(
                f,
                "cannot set the filter to {d:?}: nothing is installed (call \
                 `layer_safe::init` or `Builder::try_init` first; a stack from `build()` \
                 is not reachable process-wide)"
            ),
            Why::NotReloadable => write!(
                f,
                "cannot set the filter to {d:?}: the builder was not told \
                 `filter_reloading(true)`"
            ),
            Why::InLoggingPath => write!(
                f,
                "cannot set the filter to {d:?} from inside the logging path (a `Debug` \
                 impl, a layer or a writer): rebuilding call-site interest would re-enter \
                 the subscriber; call it from ordinary code"
            ),
            Why::Gone => write!(
                f,
                "cannot set the filter to {d:?}: the subscriber holding it was dropped"
            ),
        }
    }
}

impl Error for FilterError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.why {
            Why::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// The `log` crate's level for a `tracing` one (the `log` bridge's max).
pub(crate) fn log_level(level: LevelFilter) -> log::LevelFilter {
    match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_the_logging_path_is_refused_before_anything_else() {
        let _path = crate::path::Entered::enter(crate::path::Origin::Named("test"));
        let err = set_filter("debug").unwrap_err();
        assert!(err.to_string().contains("inside the logging path"), "{err}");
        assert!(!err.is_invalid() && !err.is_not_installed());
    }
}
