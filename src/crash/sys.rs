//! The few raw calls the handlers need that no crate wraps, each
//! async-signal-safe (POSIX lists `sigaction`, `write`, `getpid`; `prctl`
//! and `gettid` are plain system calls). Every `unsafe` of the crash
//! handlers is here.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::ptr;

use libc::{c_int, c_void, siginfo_t};

/// A handler in the `SA_SIGINFO` form.
pub(crate) type SigAction = extern "C" fn(c_int, *mut siginfo_t, *mut c_void);

/// A disposition as `sigaction` reports it.
#[derive(Clone, Copy)]
pub(crate) struct Disposition(libc::sigaction);

impl Disposition {
    /// The current disposition of `signo`.
    pub(crate) fn of(signo: c_int) -> io::Result<Disposition> {
        let mut old = MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: a null new action only reads the current one into `old`,
        // which is valid for writes.
        if unsafe { libc::sigaction(signo, ptr::null(), old.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `sigaction` succeeded and filled it (zeroed before anyway).
        Ok(Disposition(unsafe { old.assume_init() }))
    }

    pub(crate) fn is_ignored(&self) -> bool {
        self.0.sa_sigaction == libc::SIG_IGN
    }

    pub(crate) fn is_default(&self) -> bool {
        self.0.sa_sigaction == libc::SIG_DFL
    }

    /// Whether this is `handler`.
    pub(crate) fn is(&self, handler: SigAction) -> bool {
        self.0.sa_sigaction == handler as usize
    }

    /// Calls the handler this disposition names, if it is one (not
    /// `SIG_DFL` or `SIG_IGN`), in the form its flags say: what
    /// signal-hook-registry does to chain to a previous handler.
    pub(crate) fn call(&self, signo: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
        let f = self.0.sa_sigaction;
        if f == libc::SIG_DFL || f == libc::SIG_IGN || f == 0 {
            return;
        }
        if self.0.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the kernel would call this address in this form: it
            // was installed as an `SA_SIGINFO` handler.
            let f: SigAction = unsafe { std::mem::transmute(f as *const ()) };
            f(signo, info, ctx);
        } else {
            // SAFETY: installed without `SA_SIGINFO`: a one-argument handler.
            let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(f as *const ()) };
            f(signo);
        }
    }
}

/// Installs `handler` for `signo` on the alternate stack, returning what
/// was there before.
pub(crate) fn install(signo: c_int, handler: SigAction) -> io::Result<Disposition> {
    // SAFETY: a zeroed `sigaction` is valid (empty mask, no flags).
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as usize;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: both pointers are valid; `handler` is a plain function that
    // lives for the whole program.
    if unsafe { libc::sigaction(signo, &new, old.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: filled by the successful call.
    Ok(Disposition(unsafe { old.assume_init() }))
}

/// Adds `SA_ONSTACK` to the handler installed for `signo`.
///
/// signal-hook-registry installs without it, and a `SIGSEGV` from a stack
/// overflow can only be handled on the alternate stack std sets up for
/// every thread: without it the kernel cannot push the handler's frame and
/// kills the process before Rust's "has overflowed its stack" is printed.
pub(crate) fn add_onstack(signo: c_int) -> io::Result<()> {
    let Disposition(mut current) = Disposition::of(signo)?;
    current.sa_flags |= libc::SA_ONSTACK;
    // SAFETY: writes back the action just read, one flag added.
    if unsafe { libc::sigaction(signo, &current, ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets `signo` back to its default action (`SIG_DFL`).
pub(crate) fn reset_default(signo: c_int) {
    // SAFETY: a zeroed `sigaction` with `SIG_DFL` (0) is the default action.
    let action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; the old action is not asked for.
    unsafe { libc::sigaction(signo, &action, ptr::null_mut()) };
}

/// Writes all of `bytes` to fd 2 (retrying short writes and `EINTR`),
/// without std's stderr lock, which the crashing thread may hold.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe `bytes`.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return;
        }
    }
}

/// The calling thread's name, as the kernel keeps it (15 bytes at most;
/// std gives spawned threads their Rust names), `main` for the main
/// thread; into `out`, returning its length (0 where unknown).
pub(crate) fn thread_name(out: &mut [u8; 16]) -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: plain system calls without arguments.
        let (tid, pid) = unsafe { (libc::gettid(), libc::getpid()) };
        if tid == pid {
            out[..4].copy_from_slice(b"main");
            return 4;
        }
        // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into
        // the buffer, which has 16.
        if unsafe { libc::prctl(libc::PR_GET_NAME, out.as_mut_ptr()) } != 0 {
            return 0;
        }
        out.iter().position(|b| *b == 0).unwrap_or(out.len())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = out;
        0
    }
}

/// Blocks the crash and termination signals on this thread until dropped;
/// a thread spawned meanwhile inherits the mask.
pub(crate) struct Blocked(libc::sigset_t);

impl Blocked {
    pub(crate) fn now(signals: &[c_int]) -> Blocked {
        // SAFETY: `sigemptyset` and `sigaddset` initialise a set we own;
        // `pthread_sigmask` reads it and writes the old mask into `old`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            Blocked(old)
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask `now` read.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
    }
}
