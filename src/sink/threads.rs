//! How the sink starts its two threads, the worker and the spare-segment
//! thread: each a thread of its own, or (fuzz targets, through the hidden
//! [`SinkBuilder::spawn_with`](super::SinkBuilder::spawn_with)) a job on a
//! thread the caller keeps across sinks. A fuzz target builds a sink per
//! input, and starting two threads (and, at the end, unmapping their
//! stacks on every core) cost it more than the rest of the input.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};

use crossbeam_channel::Receiver;

/// Runs a thread's body somewhere and says on which thread.
pub(crate) type Spawn = Arc<dyn Fn(Box<dyn FnOnce() + Send>) -> io::Result<Thread> + Send + Sync>;

/// A started thread's body.
pub(crate) enum Handle {
    /// On a thread of its own.
    Own(JoinHandle<()>),
    /// On a lent thread: `ended` disconnects when the body has returned.
    Lent { thread: Thread, ended: Receiver<()> },
}

impl Handle {
    /// The thread the body runs on (to unpark it).
    pub(crate) fn thread(&self) -> &Thread {
        match self {
            Handle::Own(h) => h.thread(),
            Handle::Lent { thread, .. } => thread,
        }
    }

    /// Waits for the body to return.
    pub(crate) fn join(self) {
        match self {
            Handle::Own(h) => {
                let _ = h.join();
            }
            Handle::Lent { ended, .. } => {
                let _ = ended.recv();
            }
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(match self {
            Handle::Own(_) => "Own",
            Handle::Lent { .. } => "Lent",
        })
        .field(self.thread())
        .finish()
    }
}

/// Starts `body`: on a new thread named `name`, or through `lend`.
pub(crate) fn spawn(
    lend: Option<&Spawn>,
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> io::Result<Handle> {
    let Some(lend) = lend else {
        return std::thread::Builder::new()
            .name(name.into())
            .spawn(body)
            .map(Handle::Own);
    };
    let (end, ended) = crossbeam_channel::bounded::<()>(0);
    let thread = lend(Box::new(move || {
        // Dropped when the body returns or unwinds.
        let _end = end;
        body();
    }))?;
    Ok(Handle::Lent { thread, ended })
}
