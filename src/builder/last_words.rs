//! The builder's switches for a dying process's last words: the
//! crash handler, the exit hook and flushing on termination, and their
//! installation by `init`. `build()` installs none of them.

use std::sync::Arc;
use std::time::Duration;

use super::Builder;
use crate::crash::CrashDrain;
use crate::sink_core::FlushGuard;

/// The settings, with their defaults.
#[derive(Clone)]
pub(super) struct LastWords {
    crash_handler: bool,
    crash_timeout: Duration,
    on_termination: bool,
}

impl Default for LastWords {
    fn default() -> Self {
        LastWords {
            crash_handler: true,
            crash_timeout: crate::crash::DEFAULT_TIMEOUT,
            on_termination: false,
        }
    }
}

impl LastWords {
    /// The drain request `init` hands the sink's worker, when a handler
    /// will make use of it.
    pub(super) fn drain(&self) -> Option<Arc<CrashDrain>> {
        (cfg!(unix) && (self.crash_handler || self.on_termination))
            .then(|| CrashDrain::new(self.crash_timeout))
    }

    /// Installs the exit hook, and the handlers that are on, once `init`
    /// has installed the subscriber. A handler that cannot be installed
    /// (`sigaction` failing) is said on stderr: logging works without it.
    pub(super) fn install(&self, guard: &FlushGuard, drain: Option<Arc<CrashDrain>>) {
        #[cfg(unix)]
        {
            let (flusher, deadline) = (guard.flusher(), guard.deadline());
            crate::exit_hook::install(Box::new(move || {
                flusher.flush(deadline);
            }));
            let Some(drain) = drain else { return };
            let warn = |what: &str, e: std::io::Error| {
                eprintln!("layer-safe: the {what} could not be installed: {e}");
            };
            if self.crash_handler {
                if let Err(e) = crate::crash::handler::install(drain.clone()) {
                    warn("crash handler", e);
                }
            }
            if self.on_termination {
                if let Err(e) = crate::crash::term::install(drain) {
                    warn("SIGTERM/SIGINT handler", e);
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (guard, drain);
    }
}

impl Builder {
    /// Whether `init` installs the crash handler (default `true`; Unix). On
    /// SIGABRT, SIGSEGV, SIGBUS, SIGILL and SIGFPE it has the sink write what
    /// is queued and one final `ERROR` record naming the signal and the
    /// thread, waiting at most the [`crash_timeout`](Self::crash_timeout),
    /// then lets the process die of the same signal. Handlers installed
    /// before it run first (Rust's stack-overflow message still prints).
    ///
    /// ```
    /// // `build()` installs no handler either way; `init()` would.
    /// let (_dispatch, guard) = layer_safe::builder()
    ///     .crash_handler(false)
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// assert!(guard.stats().is_clean());
    /// ```
    pub fn crash_handler(mut self, on: bool) -> Self {
        self.last_words.crash_handler = on;
        self
    }

    /// How long the crash handler (and the termination handler) waits for
    /// the sink to drain before the process dies anyway (default 500 ms).
    /// A stalled writer costs this much, never more.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_dispatch, guard) = layer_safe::builder()
    ///     .crash_timeout(Duration::from_millis(200))
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// assert!(guard.stats().is_clean());
    /// ```
    pub fn crash_timeout(mut self, timeout: Duration) -> Self {
        self.last_words.crash_timeout = timeout;
        self
    }

    /// Whether `init` flushes on SIGTERM and SIGINT (default `false`; Unix).
    /// When on, the sink drains (within the
    /// [`crash_timeout`](Self::crash_timeout)) and the signal then takes its
    /// usual effect: with no handler of the application's own the process
    /// dies of it, after a final `WARN` record naming it; a handler of the
    /// application's (installed before or after `init`, by hand or through
    /// signal-hook, as tokio's `ctrl_c` is) runs as before and decides.
    /// Off by default: see the README for why.
    ///
    /// ```
    /// let (_dispatch, guard) = layer_safe::builder()
    ///     .flush_on_termination(true)
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// assert!(guard.stats().is_clean());
    /// ```
    pub fn flush_on_termination(mut self, on: bool) -> Self {
        self.last_words.on_termination = on;
        self
    }
}
