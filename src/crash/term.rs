//! Flushing on SIGTERM and SIGINT (opt-in: `Builder::flush_on_termination`),
//! then letting the signal take its usual effect.
//!
//! Installed with `sigaction` on top of whatever was there, not through
//! signal-hook-registry, because only a handler on top can tell whether the
//! application handles the signal itself. At the signal:
//!
//! - **We are still on top**, and the disposition before us was the
//!   default: nobody else handles it. Drain (bounded by the crash timeout),
//!   write a final record naming the signal, die of it (default action).
//! - **We are still on top**, and there was a handler before us (an
//!   application's, or signal-hook-registry's for tokio's `ctrl_c`
//!   registered before `init`): drain, then call it. The process lives on
//!   as that handler decides.
//! - **Someone installed over us** and called us as the handler before
//!   theirs (signal-hook-registry does, for tokio's `ctrl_c` registered
//!   after `init`): drain and return to them, calling whatever was before
//!   us. The application decides what the signal does.
//!
//! A signal that was ignored when `init` ran is left ignored.

use std::io;
use std::sync::Arc;

use libc::{c_int, c_void, siginfo_t};

use super::handler::on_worker;
use super::on_top::OnTop;
use super::{sys, CrashDrain};

/// The signals that ask a process to stop.
pub(crate) const SIGNALS: [c_int; 2] = [libc::SIGTERM, libc::SIGINT];

/// The drain, and what was installed before us.
static HANDLER: OnTop = OnTop::new(SIGNALS);

/// Installs the handler for SIGTERM and SIGINT, unless ignored. Only the
/// first call installs anything (only one `init` succeeds).
pub(crate) fn install(drain: Arc<CrashDrain>) -> io::Result<()> {
    HANDLER.install(drain, on_signal)
}

extern "C" fn on_signal(signo: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    let Some(drain) = HANDLER.drain() else { return };
    let previous = HANDLER.previous(signo);
    let on_top = sys::Disposition::of(signo).is_ok_and(|d| d.is(on_signal));
    // Not set yet only in the moment `install` runs: then it was the default.
    let terminate = on_top && previous.map_or(true, sys::Disposition::is_default);
    let mut name = [0u8; 16];
    let len = sys::thread_name(&mut name);
    let seq = drain.request(terminate.then_some((signo, false)), &name[..len]);
    if !on_worker() {
        // A timeout is not reported here: the process may live on.
        drain.wait(seq);
    }
    if terminate {
        let _ = signal_hook::low_level::emulate_default_handler(signo);
    } else if let Some(previous) = previous {
        previous.call(signo, info, ctx);
    }
}
