//! The exit hook `init` installs: `std::process::exit`, and a
//! return from `main` with the [`FlushGuard`](crate::FlushGuard) leaked
//! (`mem::forget`, a guard in a `static`), run no destructors, but the C
//! runtime's `exit` runs `atexit` hooks, on the exiting thread, while the
//! sink's worker still runs. The hook asks it for a flush, bounded by the
//! flush deadline, so what was logged before the exit reaches the writer.
//!
//! When the guard was dropped already, the worker is gone and the flush
//! returns at once. When the exiting thread is the worker itself (a writer
//! that calls `exit`), the hook does nothing: the flush would wait for
//! itself.

use std::sync::OnceLock;

/// What the hook runs: set once, by the first successful `init`.
static HOOK: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

/// Registers `hook` to run at process exit. Only the first call registers
/// anything (only one `init` can succeed); returns whether this one did.
pub(crate) fn install(hook: Box<dyn Fn() + Send + Sync>) -> bool {
    if HOOK.set(hook).is_err() {
        return false;
    }
    // SAFETY: `atexit` only stores the pointer to `run`, a plain function
    // that lives for the whole program; it is called once, at exit, on the
    // exiting thread, where ordinary Rust code may run.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::atexit(run) };
    rc == 0
}

extern "C" fn run() {
    if crate::path::in_logging_path() {
        return;
    }
    if let Some(hook) = HOOK.get() {
        // Unwinding out of an `extern "C"` function aborts: contain it.
        crate::contain::catch(hook);
    }
}
