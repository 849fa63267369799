//! The crash handler `init` installs: on SIGABRT, SIGSEGV, SIGBUS, SIGILL
//! and SIGFPE it asks the sink's worker to drain (bounded by the crash
//! timeout) and write one final record, then lets the process die exactly
//! as it would have.
//!
//! SIGABRT, SIGILL and SIGFPE are installed through signal-hook-registry,
//! which chains to the handler that was there before (running it first).
//! SIGSEGV and SIGBUS, where std's stack-overflow handler sits, are
//! installed on top of it instead ([`fault`](super::fault) says why), so the
//! drain runs before it prints "has overflowed its stack" and aborts.
//! What the action does, all async-signal-safe:
//! atomics, 1 ms `nanosleep`s counted up to the timeout, `write(2)`,
//! `sigaction`, `raise`. Best effort, said plainly:
//!
//! - the thread's name comes from the kernel (`prctl`, Linux; 15 bytes);
//! - unparking the worker is an atomic swap and a futex wake on Linux (it
//!   wakes the idle, parked worker at once); elsewhere, or while the worker
//!   pauses after a writer error, it sees the request within its poll
//!   interval;
//! - when the crashing thread is the worker, or the worker cannot finish
//!   (a stalled writer, a lock the crashing thread holds), the handler
//!   gives up after the timeout and says so on fd 2: what was still queued
//!   is lost, and the final record is that stderr line, not a log record.
//!
//! Then: a fault the kernel raised (SEGV, BUS, ILL, FPE with `si_code > 0`)
//! gets the default action back and the handler returns, so the faulting
//! instruction faults again, with the same `siginfo` and the same core
//! dump; anything else is re-raised with the default action (signal-hook's
//! `emulate_default_handler`). The parent sees the same signal either way.

use std::io;
use std::sync::Arc;

use libc::{c_int, siginfo_t};

use super::{sys, CrashDrain};
use crate::path::Origin;

/// The signals a process dies of by a bug.
pub(crate) const SIGNALS: [c_int; 5] = [
    libc::SIGABRT,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// Those installed through signal-hook-registry.
const REGISTRY: [c_int; 3] = [libc::SIGABRT, libc::SIGILL, libc::SIGFPE];

/// Installs the crash handler for each of [`SIGNALS`] not ignored.
pub(crate) fn install(drain: Arc<CrashDrain>) -> io::Result<()> {
    super::fault::install(drain.clone())?;
    for signo in REGISTRY {
        if sys::Disposition::of(signo)?.is_ignored() {
            // Someone chose to ignore it: dying of it now would change that.
            continue;
        }
        let drain = drain.clone();
        // SAFETY: the action is async-signal-safe (see the module docs:
        // atomics, counted `nanosleep`s, `write(2)`, `sigaction`, `raise`;
        // no allocation, no lock) and does not panic. SIGSEGV, SIGILL and
        // SIGFPE are refused by the checked `register`: the action never
        // tries to recover from them, it only lets the process die.
        #[allow(unsafe_code)]
        unsafe {
            signal_hook_registry::register_unchecked(signo, move |info| on_crash(&drain, info))?;
        }
        sys::add_onstack(signo)?;
    }
    Ok(())
}

/// Whether this thread is the sink's worker, which cannot drain for
/// itself. A read of a const thread-local without a destructor.
pub(crate) fn on_worker() -> bool {
    matches!(crate::path::origin(), Origin::Named(name) if name == "sink worker")
}

/// Drains for a crash: the request, the bounded wait, the stderr line when
/// the worker did not finish.
pub(crate) fn drain_for(drain: &CrashDrain, signo: c_int) {
    let mut name = [0u8; 16];
    let len = sys::thread_name(&mut name);
    let seq = drain.request(Some((signo, true)), &name[..len]);
    if on_worker() || !drain.wait(seq) {
        gave_up(signo, &name[..len], drain);
    }
}

/// After the drain: let the process die of `signo` as it would have.
pub(crate) fn die_as_before(signo: c_int, info: &siginfo_t) {
    let fault = matches!(
        signo,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
    );
    if fault && info.si_code > 0 {
        // Return into the faulting instruction, which faults again.
        sys::reset_default(signo);
    } else {
        let _ = signal_hook::low_level::emulate_default_handler(signo);
    }
}

fn on_crash(drain: &CrashDrain, info: &siginfo_t) {
    drain_for(drain, info.si_signo);
    die_as_before(info.si_signo, info);
}

/// The worker did not finish in time: say so on fd 2, the only place left.
fn gave_up(signo: c_int, thread: &[u8], drain: &CrashDrain) {
    let mut line = Line::default();
    line.push(b"layer-safe: fatal signal ");
    line.push(super::signal_name(signo).as_bytes());
    line.push(b" on thread '");
    line.push(if thread.is_empty() {
        b"<unknown>"
    } else {
        thread
    });
    line.push(b"': the log was not drained within ");
    line.number(drain.timeout().as_millis() as u64);
    line.push(b" ms; records still queued are lost\n");
    sys::write_stderr(line.bytes());
}

/// A line built on the stack, without allocating; cut when full.
pub(crate) struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl Line {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    pub(crate) fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_on_the_stack() {
        let mut l = Line::default();
        l.push(b"waited ");
        l.number(500);
        l.push(b" ms, ");
        l.number(0);
        assert_eq!(l.bytes(), b"waited 500 ms, 0");
        l.push(&[b'x'; 300]);
        assert_eq!(l.bytes().len(), 256, "cut, never overflowed");
    }
}
