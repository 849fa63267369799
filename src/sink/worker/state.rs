//! The worker's states, as the module header draws them: how the writer is
//! doing ([`Health`]) and where the worker is in its life ([`Life`]). The
//! two are apart because a writer can fail while the worker drains.

use std::time::{Duration, Instant};

/// Tries per batch before its records are dropped as `WriterError`.
pub(super) const MAX_ATTEMPTS: u32 = 3;
/// First pause after a writer error; doubles up to [`MAX_BACKOFF`].
pub(super) const INITIAL_BACKOFF: Duration = Duration::from_millis(10);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How the writer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Health {
    /// Its last write got everything out.
    Healthy,
    /// Its writes failed `attempts` times on the current batch (none yet
    /// after a batch was dropped), and the next pause is `backoff`.
    Failing { attempts: u32, backoff: Duration },
}

/// What a write's outcome asks of the worker.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// All of the batch is out; `recovered`: after failures, to be said.
    Wrote { recovered: bool },
    /// The write failed: drop the batch when `give_up`, then pause `wait`.
    Failed { give_up: bool, wait: Duration },
}

impl Health {
    /// The transition on a write's outcome (`ok`: the writer took all of
    /// the batch), and what the worker does about it.
    pub(super) fn after_write(self, ok: bool) -> (Health, Step) {
        match (self, ok) {
            (Health::Healthy, true) => (Health::Healthy, Step::Wrote { recovered: false }),
            (Health::Failing { .. }, true) => (Health::Healthy, Step::Wrote { recovered: true }),
            (Health::Healthy, false) => Health::failed(0, INITIAL_BACKOFF),
            (Health::Failing { attempts, backoff }, false) => Health::failed(attempts, backoff),
        }
    }

    fn failed(attempts: u32, backoff: Duration) -> (Health, Step) {
        let attempts = attempts + 1;
        let give_up = attempts >= MAX_ATTEMPTS;
        let next = Health::Failing {
            // A dropped batch's tries are over; the back-off goes on
            // growing while the writer keeps failing.
            attempts: if give_up { 0 } else { attempts },
            backoff: (backoff * 2).min(MAX_BACKOFF),
        };
        (
            next,
            Step::Failed {
                give_up,
                wait: backoff,
            },
        )
    }
}

/// Where the worker is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Life {
    /// Writing as records come.
    Running,
    /// Shutting down: writes what is queued until the lanes are empty or
    /// `deadline` passes, then exits.
    Draining { deadline: Instant },
}

impl Life {
    /// Drains by `deadline`, or by the earlier deadline it drains by already.
    pub(super) fn drain_by(self, deadline: Instant) -> Life {
        let deadline = match self {
            Life::Running => deadline,
            Life::Draining { deadline: d } => d.min(deadline),
        };
        Life::Draining { deadline }
    }

    /// The shutdown deadline, when draining.
    pub(super) fn deadline(self) -> Option<Instant> {
        match self {
            Life::Running => None,
            Life::Draining { deadline } => Some(deadline),
        }
    }

    /// Whether the shutdown deadline passed at `now`.
    pub(super) fn past_deadline(self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    pub(super) fn is_draining(self) -> bool {
        matches!(self, Life::Draining { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_and_give_up_on_the_batch_at_the_third() {
        let (h, s) = Health::Healthy.after_write(false);
        assert_eq!(
            s,
            Step::Failed {
                give_up: false,
                wait: INITIAL_BACKOFF
            }
        );
        let (h, s) = h.after_write(false);
        assert_eq!(
            s,
            Step::Failed {
                give_up: false,
                wait: 2 * INITIAL_BACKOFF
            }
        );
        let (h, s) = h.after_write(false);
        assert_eq!(
            s,
            Step::Failed {
                give_up: true,
                wait: 4 * INITIAL_BACKOFF
            }
        );
        // A new batch: three more tries, the pause still growing.
        assert_eq!(
            h,
            Health::Failing {
                attempts: 0,
                backoff: 8 * INITIAL_BACKOFF
            }
        );
        let (h, s) = h.after_write(true);
        assert_eq!((h, s), (Health::Healthy, Step::Wrote { recovered: true }));
        assert_eq!(h.after_write(true).1, Step::Wrote { recovered: false });
    }

    #[test]
    fn the_back_off_stops_growing_at_its_maximum() {
        let mut h = Health::Healthy;
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            let (next, step) = h.after_write(false);
            let Step::Failed { wait, .. } = step else {
                unreachable!()
            };
            assert!(wait >= last && wait <= MAX_BACKOFF);
            (h, last) = (next, wait);
        }
        assert_eq!(last, MAX_BACKOFF);
    }

    #[test]
    fn the_earlier_deadline_holds() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let life = Life::Running.drain_by(later).drain_by(now);
        assert_eq!(life.deadline(), Some(now));
        assert_eq!(life.drain_by(later).deadline(), Some(now));
        assert!(life.past_deadline(now) && !Life::Running.past_deadline(later));
    }
}
