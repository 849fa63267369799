//! The event clock: a raw tick count read on the caller, turned into wall
//! time on the worker.
//!
//! `SystemTime::now()` is a vDSO call of 25–50 ns on the caller's path; the
//! TSC read behind [`quanta::Clock::raw`] is a few nanoseconds, and
//! `quanta` falls back to the OS's monotonic clock where the TSC is not
//! invariant. The worker keeps an anchor (a wall time and the tick count
//! read at the same moment), re-taken every second so a stepped system
//! clock (NTP) shows up in the log within a second, and converts each
//! record's ticks against it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the worker re-reads the wall clock for its anchor.
const REANCHOR: Duration = Duration::from_secs(1);

/// The caller's side: a cheap raw tick count.
#[derive(Clone, Debug)]
pub(crate) struct Clock(quanta::Clock);

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock(quanta::Clock::new())
    }

    /// The current tick count: only meaningful to a [`WallClock`] made from
    /// this clock.
    #[inline]
    pub(crate) fn raw(&self) -> u64 {
        self.0.raw()
    }

    /// A wall clock that converts this clock's ticks.
    pub(crate) fn wall(&self) -> WallClock {
        let mut w = WallClock {
            clock: self.0.clone(),
            raw: 0,
            unix_nanos: 0,
            taken: Instant::now(),
        };
        w.anchor();
        w
    }
}

/// The worker's side: converts tick counts to nanoseconds since the epoch.
#[derive(Debug)]
pub(crate) struct WallClock {
    clock: quanta::Clock,
    raw: u64,
    unix_nanos: i128,
    taken: Instant,
}

impl WallClock {
    fn anchor(&mut self) {
        self.raw = self.clock.raw();
        self.unix_nanos = unix_nanos(SystemTime::now());
        self.taken = Instant::now();
    }

    /// Re-anchors when the anchor is older than a second.
    pub(crate) fn refresh(&mut self) {
        if self.taken.elapsed() >= REANCHOR {
            self.anchor();
        }
    }

    /// Nanoseconds since the Unix epoch at tick count `raw`.
    #[inline]
    pub(crate) fn unix_nanos(&self, raw: u64) -> i128 {
        if raw >= self.raw {
            self.unix_nanos + i128::from(self.clock.delta_as_nanos(self.raw, raw))
        } else {
            self.unix_nanos - i128::from(self.clock.delta_as_nanos(raw, self.raw))
        }
    }
}

/// `t` as signed nanoseconds since the epoch (a clock set before 1970 is
/// negative).
pub(crate) fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_about_now() {
        let clock = Clock::new();
        let wall = clock.wall();
        let before = unix_nanos(SystemTime::now());
        let t = wall.unix_nanos(clock.raw());
        let after = unix_nanos(SystemTime::now());
        // Ordered against the system clock, give or take the calibration.
        let slack = 5_000_000;
        assert!(
            t >= before - slack && t <= after + slack,
            "{before} {t} {after}"
        );
        // Ticks read before the anchor convert to earlier times.
        assert!(wall.unix_nanos(0) < t);
    }
}
