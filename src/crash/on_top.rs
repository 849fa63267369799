//! A handler installed with `sigaction` on top of whatever two signals had
//! (see `fault.rs` and `term.rs` for why not through signal-hook-registry):
//! the drain it serves and what each signal had before, kept in statics
//! for the `extern "C"` handler, which gets no context.

use std::io;
use std::sync::{Arc, OnceLock};

use libc::c_int;

use super::sys::{self, Disposition, SigAction};
use super::CrashDrain;

pub(crate) struct OnTop {
    signals: [c_int; 2],
    /// Set once, before any handler is installed.
    drain: OnceLock<Arc<CrashDrain>>,
    /// What was installed before us, per signal in `signals` order.
    previous: [OnceLock<Disposition>; 2],
}

impl OnTop {
    pub(crate) const fn new(signals: [c_int; 2]) -> OnTop {
        OnTop {
            signals,
            drain: OnceLock::new(),
            previous: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// Installs `handler` for each signal that is not ignored. Only the
    /// first call installs anything (only one `init` succeeds).
    pub(crate) fn install(&self, drain: Arc<CrashDrain>, handler: SigAction) -> io::Result<()> {
        if self.drain.set(drain).is_err() {
            return Ok(());
        }
        for (signo, previous) in self.signals.iter().zip(&self.previous) {
            if Disposition::of(*signo)?.is_ignored() {
                continue;
            }
            let before = sys::install(*signo, handler)?;
            let _ = previous.set(before);
        }
        Ok(())
    }

    /// The drain, once installed.
    pub(crate) fn drain(&self) -> Option<&Arc<CrashDrain>> {
        self.drain.get()
    }

    /// What `signo` had before us; `None` when not installed (yet).
    pub(crate) fn previous(&self, signo: c_int) -> Option<&Disposition> {
        let i = self.signals.iter().position(|s| *s == signo)?;
        self.previous[i].get()
    }
}
