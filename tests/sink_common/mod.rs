//! Writers and checks shared by the sink's integration tests.
#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};

use layer_safe::Stats;

#[path = "../common/capture.rs"]
mod capture;
// Not every test binary that includes this module uses it.
#[allow(unused_imports)]
pub use capture::Capture;

/// A writer whose first write blocks until the test opens the gate: the
/// worker is then known to hold exactly the first record, and everything
/// submitted after stays queued.
#[derive(Clone, Default)]
pub struct Gate {
    pub out: Capture,
    entered: Signal,
    open: Signal,
}

impl Gate {
    /// Waits until the worker is blocked in the writer.
    pub fn wait_entered(&self) {
        self.entered.wait();
    }

    pub fn open(&self) {
        self.open.set();
    }
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.entered.set();
        self.open.wait();
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fails (or panics) on its first `n` writes, then works.
#[derive(Clone)]
pub struct Flaky {
    pub out: Capture,
    pub calls: Arc<AtomicUsize>,
    failures: usize,
    panic: bool,
}

impl Flaky {
    pub fn failing(n: usize) -> Flaky {
        Flaky {
            out: Capture::default(),
            calls: Arc::default(),
            failures: n,
            panic: false,
        }
    }
    pub fn panicking(n: usize) -> Flaky {
        Flaky {
            panic: true,
            ..Flaky::failing(n)
        }
    }
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.calls.fetch_add(1, SeqCst) < self.failures {
            if self.panic {
                panic!("writer exploded");
            }
            return Err(io::Error::other("disk full"));
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One JSON record: `{"fields":{"message":"<tag>-<i>"}}`.
pub fn record(buf: &mut Vec<u8>, tag: &str, i: usize) {
    writeln!(buf, "{{\"fields\":{{\"message\":\"{tag}-{i}\"}}}}").unwrap();
}

#[track_caller]
pub fn assert_invariant(s: &Stats) {
    assert_eq!(
        s.submitted,
        s.written + s.dropped.total() + s.in_flight,
        "submitted == written + dropped + in_flight: {s:?}"
    );
    let by_level = s.dropped_by_level;
    let levels = by_level.trace + by_level.debug + by_level.info + by_level.warn + by_level.error;
    // Counted level first, reason second: a snapshot can see the level only.
    assert!(levels >= s.dropped.total(), "{s:?}");
}

/// A flag one thread sets and another waits for, without a clock: the
/// wait ends when the flag is set (a test that never sets it hangs, and the
/// harness's timeout names it).
#[derive(Clone, Default)]
pub struct Signal(Arc<(Mutex<bool>, Condvar)>);

impl Signal {
    pub fn set(&self) {
        let (m, c) = &*self.0;
        *m.lock().unwrap() = true;
        c.notify_all();
    }

    pub fn is_set(&self) -> bool {
        *self.0 .0.lock().unwrap()
    }

    pub fn wait(&self) {
        let (m, c) = &*self.0;
        let mut set = m.lock().unwrap();
        while !*set {
            set = c.wait(set).unwrap();
        }
    }
}
