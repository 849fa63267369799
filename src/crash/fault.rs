//! SIGSEGV and SIGBUS: the crash handler on top of std's stack-overflow
//! handler, not chained after it.
//!
//! signal-hook-registry runs the handler that was there before first. For
//! SIGSEGV that is std's, which on a stack overflow prints its message and
//! calls `abort()` from inside its own signal frame, on the thread's
//! alternate stack: 8 KiB (`SIGSTKSZ`), where one AVX-512 signal frame takes
//! 3.4 KiB (`AT_MINSIGSTKSZ`). The nested SIGABRT handler then found no
//! stack left and the process died of SIGSEGV, without its last records
//! (measured). So here the handler is installed with `sigaction` on top
//! (on the alternate stack), drains first, sets SIGABRT back to its default
//! so that std's `abort()` kills at once, and only then calls std's
//! handler: the message is printed and the process dies of SIGABRT as
//! before. A fault that is not an overflow gets the default action back
//! and faults again (see [`die_as_before`](super::handler::die_as_before)).

use std::io;
use std::sync::Arc;

use libc::{c_int, c_void, siginfo_t};

use super::handler::{die_as_before, drain_for};
use super::on_top::OnTop;
use super::{sys, CrashDrain};

/// The drain, and what was there before (std's handler, usually).
static HANDLER: OnTop = OnTop::new([libc::SIGSEGV, libc::SIGBUS]);

pub(crate) fn install(drain: Arc<CrashDrain>) -> io::Result<()> {
    HANDLER.install(drain, on_fault)
}

extern "C" fn on_fault(signo: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    if let Some(drain) = HANDLER.drain() {
        drain_for(drain, signo);
    }
    let previous = HANDLER.previous(signo);
    if let Some(previous) = previous.filter(|p| !p.is_default()) {
        // The records are out: an `abort()` from std's handler kills now.
        sys::reset_default(libc::SIGABRT);
        previous.call(signo, info, ctx);
    }
    // SAFETY: the kernel hands an `SA_SIGINFO` handler a valid `siginfo_t`.
    #[allow(unsafe_code)]
    match unsafe { info.as_ref() } {
        Some(info) => die_as_before(signo, info),
        None => {
            let _ = signal_hook::low_level::emulate_default_handler(signo);
        }
    }
}
