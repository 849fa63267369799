//! The worker's clock and its waits: real time, or (fuzz targets, tests) a
//! virtual clock in which the worker's own sleeps take no time.
//!
//! Every `Instant` the worker compares (back-off, flush interval, report
//! interval, the shutdown deadline) comes from [`Time::now`], and every
//! wait that is not woken by another thread goes through [`Time::sleep`]
//! or [`Time::recv_deadline`]. In real time these are `Instant::now`,
//! `thread::sleep` and `recv_deadline`, behind one predictable branch on
//! the worker (never on a caller). In virtual time the clock runs ahead of
//! the real one by the sum of the sleeps the worker skipped: a back-off of
//! 10 ms, a 500 µs nap, a pause answering requests, all pass at once, and
//! the worker sees the same sequence of times it would have seen. Parking
//! (woken by the next record or request) stays real in both.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

/// Real or virtual time, owned by the worker thread.
#[derive(Debug, Default)]
pub(crate) struct Time {
    /// `None`: real time. `Some(skew)`: virtual, `skew` ahead of real.
    skew: Option<Duration>,
}

impl Time {
    /// A virtual clock, starting at the real time.
    pub(crate) fn virtual_time() -> Time {
        Time {
            skew: Some(Duration::ZERO),
        }
    }

    /// Now, on this clock.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        match self.skew {
            None => now,
            Some(skew) => now.checked_add(skew).unwrap_or(now),
        }
    }

    /// Time on this clock since `earlier`.
    #[inline]
    pub(crate) fn since(&self, earlier: Instant) -> Duration {
        self.now().saturating_duration_since(earlier)
    }

    /// A real instant (a deadline another thread computed) on this clock:
    /// what is left of it from now is the same on both.
    #[inline]
    pub(crate) fn real_to_here(&self, at: Instant) -> Instant {
        match self.skew {
            None => at,
            Some(skew) => at.checked_add(skew).unwrap_or(at),
        }
    }

    /// Sleeps `d`; in virtual time, moves the clock on by `d` and yields.
    pub(crate) fn sleep(&mut self, d: Duration) {
        match &mut self.skew {
            None => std::thread::sleep(d),
            Some(skew) => {
                *skew = skew.saturating_add(d);
                std::thread::yield_now();
            }
        }
    }

    /// The idle worker's nap: sleeps `d`. In virtual time, moves the clock
    /// on by `rest`, the whole of what is left of the nap window (or until
    /// the next report is due), without yielding: the naps in between
    /// would only poll, and on a virtual clock they cost a turn of the
    /// worker's loop each, hundreds per idle spell, on a core the fuzz
    /// harness needs. The next turn parks, and the next record or request
    /// wakes it, as it would a real worker after the window.
    pub(crate) fn nap(&mut self, d: Duration, rest: Duration) {
        match &mut self.skew {
            None => std::thread::sleep(d),
            Some(skew) => *skew = skew.saturating_add(rest.max(d)),
        }
    }

    /// Waits for a message until `until` (on this clock). In virtual time,
    /// takes one if there is one, else moves the clock to `until`.
    pub(crate) fn recv_deadline<T>(
        &mut self,
        rx: &Receiver<T>,
        until: Instant,
    ) -> Result<T, RecvTimeoutError> {
        if self.skew.is_none() {
            return rx.recv_deadline(until);
        }
        match rx.try_recv() {
            Ok(m) => Ok(m),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                let left = until.saturating_duration_since(self.now());
                self.sleep(left);
                Err(RecvTimeoutError::Timeout)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_sleeps_move_the_clock_not_the_thread() {
        let mut t = Time::virtual_time();
        let start = t.now();
        let real = Instant::now();
        t.sleep(Duration::from_secs(3600));
        assert!(t.since(start) >= Duration::from_secs(3600));
        // A deadline an hour of real time away is an hour away on it too.
        let later = real + Duration::from_secs(3600);
        assert!(t.real_to_here(later) >= start + Duration::from_secs(7200));
        let (tx, rx) = crossbeam_channel::bounded::<u8>(1);
        let until = t.now() + Duration::from_secs(60);
        assert!(matches!(
            t.recv_deadline(&rx, until),
            Err(RecvTimeoutError::Timeout)
        ));
        assert!(t.now() >= until);
        tx.send(7).unwrap();
        assert_eq!(t.recv_deadline(&rx, t.now()).unwrap(), 7);
        drop(tx);
        assert!(matches!(
            t.recv_deadline(&rx, t.now()),
            Err(RecvTimeoutError::Disconnected)
        ));
    }

    #[test]
    fn a_virtual_nap_skips_the_rest_of_the_window() {
        let mut t = Time::virtual_time();
        let start = t.now();
        let real = Instant::now();
        t.nap(Duration::from_micros(500), Duration::from_millis(100));
        assert!(t.since(start) >= Duration::from_millis(100));
        assert!(real.elapsed() < Duration::from_millis(100));
        let mut r = Time::default();
        let at = r.now();
        r.nap(Duration::from_millis(2), Duration::from_secs(3600));
        assert!(r.since(at) >= Duration::from_millis(2) && at.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn real_time_is_the_real_clock() {
        let t = Time::default();
        let at = Instant::now();
        assert_eq!(t.real_to_here(at), at);
        assert!(t.now() >= at);
    }
}
