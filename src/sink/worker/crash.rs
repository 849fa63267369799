//! The worker's side of the last words (issue 12): answering the drain
//! requests of the crash and termination handlers ([`CrashDrain`]).
//!
//! At the top of every turn of its loop, the worker looks for a request.
//! For one, it writes what the lanes held at that moment (every lane read
//! as far as [`Lanes::target`](super::super::drain::Lanes::target) says),
//! then the final record naming the signal, flushes the writer and tells
//! the handler. Bounded: every round writes a batch or stops, and a writer
//! that fails stops the drain (the handler's timeout covers the rest). The
//! idle worker parks at most [`CrashDrain::poll_interval`]; a handler also
//! unparks it, as best effort.

use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use crate::crash::{CrashDrain, Request};

/// Rounds in a row that took nothing from lanes not yet read far enough
/// (a producer holds a lane's reader while it grows or evicts, or the
/// crashing thread does, for good) before the drain stops waiting for them.
const BUSY_ROUNDS: u32 = 64;

impl Worker {
    /// Answers `drain`'s requests (see [`check_crash`](Self::check_crash)).
    pub(crate) fn with_crash_drain(mut self, drain: Option<Arc<CrashDrain>>) -> Worker {
        self.crash = drain;
        self
    }

    /// Whether a handler waits for a drain (the request is not taken).
    #[inline]
    pub(super) fn crash_pending(&self) -> bool {
        self.crash.as_ref().is_some_and(|c| c.is_pending())
    }

    /// `wait`, cut to the poll interval when a handler may ask for a drain.
    pub(super) fn crash_poll(&self, wait: Duration) -> Duration {
        self.crash
            .as_ref()
            .map_or(wait, |c| wait.min(c.poll_interval()))
    }

    /// A handler asked for a drain: write what was queued at the request,
    /// then the final record, flush, and tell it. No-op without a request.
    pub(super) fn check_crash(&mut self) {
        let Some(request) = self.crash.as_ref().and_then(|c| c.pending()) else {
            return;
        };
        self.drain_for_crash();
        self.write_final_record(&request);
        self.flush_writer();
        if let Some(c) = &self.crash {
            c.complete(&request);
        }
    }

    /// Writes the batch in progress and what the lanes held now; stops at a
    /// writer that fails (its batch stays for the main loop to retry).
    fn drain_for_crash(&mut self) {
        let target = self.lanes.target(&self.shared);
        let mut busy = 0;
        loop {
            if self.batch.is_empty() {
                if self.lanes.reached(&target) {
                    return;
                }
                let taken = self.taken;
                self.begin_batch(false);
                self.fill();
                if self.taken > taken {
                    busy = 0;
                }
                if self.batch.is_empty() {
                    busy += 1;
                    if busy > BUSY_ROUNDS {
                        return;
                    }
                    std::thread::yield_now();
                    continue;
                }
            }
            self.write_batch();
            if !self.batch.is_empty() {
                return;
            }
        }
    }

    /// The final record, in a batch of its own after the owed newline and
    /// the drop report: a line of the sink's own, counted as report bytes.
    /// Left out when a failing writer left a batch unwritten (its line may
    /// be cut: the record would not start a line of its own).
    fn write_final_record(&mut self, request: &Request) {
        if !self.batch.is_empty() {
            return;
        }
        let mut line = Vec::new();
        request.final_record(&mut line);
        if line.is_empty() {
            return;
        }
        self.begin_batch(true);
        self.batch.push_own_line(&line);
        self.write_batch();
    }
}
