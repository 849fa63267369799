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
        #[cfg(test)]
        if let Some(mock) = MOCK.with(|m| m.borrow().clone()) {
            return Clock(mock);
        }
        // One per process: `quanta::Clock::new` asks the CPU whether its TSC
        // will do (`cpuid`, a trap to the hypervisor on a virtual machine)
        // every time, and a fuzz target builds a sink per input.
        static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
        Clock(CLOCK.get_or_init(quanta::Clock::new).clone())
    }

    /// How many ticks this clock counts per second (its calibration; 10^9
    /// for the OS's monotonic clock and for a mock).
    pub(crate) fn ticks_per_second(&self) -> u64 {
        const PROBE: u64 = 1 << 40;
        match self.0.delta_as_nanos(0, PROBE) {
            0 => 1_000_000_000,
            nanos => {
                let tps = u128::from(PROBE) * 1_000_000_000 / u128::from(nanos);
                u64::try_from(tps).unwrap_or(u64::MAX).max(1)
            }
        }
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

#[cfg(test)]
thread_local! {
    /// The clock sinks made on this thread read instead of the real one.
    static MOCK: std::cell::RefCell<Option<quanta::Clock>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every sink it builds on this thread reading a mock clock
/// (starting at 0 ns), which the test moves by hand.
#[cfg(test)]
pub(crate) fn with_mock<R>(f: impl FnOnce(&quanta::Mock) -> R) -> R {
    let (clock, mock) = quanta::Clock::mock();
    MOCK.with(|m| *m.borrow_mut() = Some(clock));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            MOCK.with(|m| *m.borrow_mut() = None);
        }
    }
    let _reset = Reset;
    f(&mock)
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
