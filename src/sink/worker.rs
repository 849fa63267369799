//! The worker thread: takes records off the queue, writes them in batches,
//! and owns everything that can go wrong with the writer.
//!
//! A small state machine, like `tracing-appender`'s worker, with what that
//! one leaves as TODO done: I/O errors and panics are counted, reported on
//! the status channel and retried with back-off; shutdown has a deadline.
//!
//! ```text
//!            ┌──────── record / tick ────────┐
//!            ▼                               │
//!   Idle ──record──▶ Batching ──write ok──▶ (queue empty? flush, answer flushes) ─▶ Idle
//!                        │  ▲
//!                 error  │  │ back-off elapsed (retry the rest; after 3 tries drop it)
//!                        ▼  │
//!                      Failing
//!   any state ──Shutdown──▶ Draining ──queue empty / deadline──▶ exit
//!   top of every turn ──crash request──▶ drain for it (`crash.rs`) ──▶ on
//! ```
//!
//! The states are `state.rs`'s two enums: the writer's [`Health`]
//! (Failing, with its tries and back-off, or not) moves on in one match,
//! [`Health::after_write`]; the worker's [`Life`] (Running or Draining by a
//! deadline) on the guard's requests. Idle and Batching are whether the
//! batch holds anything.
//!
//! The thread is in the logging path for its whole life, so anything it or
//! the writer emits through `tracing` is dropped and counted as recursion
//! by the guard, never queued again.

use std::any::Any;
use std::fmt;
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::batch::{Batch, Progress};
use super::drain::{Lanes, Target, LANE_SHARE};
use super::status::Status;
use super::summary::Summaries;
use super::Shared;
use crate::contain;
use crate::crash::CrashDrain;
use crate::path::{Entered, Origin};
use crate::stats::{DropReason, PerReason};
use state::{Health, Life, Step};
use time::Time;

/// A batch is written once it holds this many bytes...
const BATCH_BYTES: usize = 64 * 1024;
/// ...or this many records, or when the queue is empty.
const BATCH_RECORDS: usize = 1024;
/// While drops go on, at most one in-band report per interval.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// When idle, wake this often to report drops counted elsewhere (the
/// recursion guard counts drops without queueing anything).
const IDLE_TICK: Duration = Duration::from_secs(1);
/// A worker that panics (a bug in the sink) is restarted this many times.
const MAX_RESTARTS: u32 = 3;
/// With an empty queue, a worker that wrote within [`NAP_WINDOW`] naps this
/// long and polls, rather than blocking on the queue. A blocked worker must
/// be woken by the next submit, and the caller pays for that wake (a futex
/// syscall: microseconds, the whole of the caller's p99); a napping worker
/// is never woken, so while logging goes on the caller makes no syscall.
/// The cost: up to 2 000 short wake-ups a second on the worker while busy,
/// and records wait up to this long to be written. (Quill's backend and the
/// LMAX Disruptor's `SleepingWaitStrategy` do the same.)
const NAP: Duration = Duration::from_micros(500);
/// After this long without records the worker blocks again, so an idle
/// process has no wake-ups but the tick.
const NAP_WINDOW: Duration = Duration::from_millis(100);
/// The longest an idle, parked worker sleeps before looking at the lanes
/// again: bounds how late a record that raced the park is written.
const IDLE_PARK: Duration = Duration::from_millis(100);

/// How a run of the worker's turns ended.
enum Stop {
    /// Nothing to do until a record, a request or a tick, as of this time.
    Wait(Instant),
    /// Shut down (or given up after too many panics of its own).
    Exit,
}

/// Requests from the [`FlushGuard`](super::FlushGuard).
pub(crate) enum Control {
    /// Write what is queued now, flush the writer, answer whether all of it
    /// got out.
    Flush(Sender<bool>),
    /// Drain the queue until it is empty or `deadline` (real time) passes,
    /// then exit.
    Shutdown { deadline: Instant },
}

/// A flush request waiting for its answer.
struct Waiter {
    reply: Sender<bool>,
    /// Answered once every lane was read as far as it stood when the
    /// request came, or when the lanes are empty.
    target: Target,
    /// No write or flush failed since the request.
    ok: bool,
    /// What the sink owes the output (a cut line's newline, the drop
    /// report) was written, or tried, since the request came.
    attempted: bool,
}

/// Why a write did not get everything out.
enum Failure {
    /// The writer's error, rendered (see [`Failure::io`]).
    Io(String),
    Panic(String),
    /// Not a failure of the writer: the shutdown deadline passed between
    /// two writes of one batch.
    Deadline,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(msg) => f.write_str(msg),
            Failure::Panic(msg) => write!(f, "the writer panicked: {msg}"),
            Failure::Deadline => write!(f, "the shutdown deadline passed"),
        }
    }
}

impl Failure {
    /// The writer's error: its `Display` and its destructor are the
    /// writer's code, so they run contained, here, and never in the
    /// worker's own paths (a panic there would restart the worker, and
    /// enough of them stop it for good).
    fn io(e: io::Error) -> Failure {
        let msg = contain::catch(|| e.to_string())
            .unwrap_or_else(|| "an I/O error (its Display panicked)".to_owned());
        contain::catch(move || drop(e));
        Failure::Io(msg)
    }

    /// The writer panicked: keep the message, drop the payload contained.
    fn panic(payload: Box<dyn Any + Send>) -> Failure {
        let msg = panic_message(&*payload);
        contain::drop_payload(payload);
        Failure::Panic(msg)
    }
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    /// `None` once the guard's end is gone.
    ctrl: Option<Receiver<Control>>,
    health: Health,
    life: Life,
    writer: Box<dyn Write + Send>,
    flush_interval: Duration,
    flush_deadline: Duration,
    batch: Batch,
    lanes: Lanes,
    /// Records taken off the lanes so far.
    taken: u64,
    /// Drop totals by reason already reported in-band.
    reported: PerReason,
    last_report: Option<Instant>,
    /// What the per-call-site summaries of suppressed events claimed.
    summaries: Summaries,
    /// Bytes written since the last flush.
    dirty: bool,
    last_flush: Instant,
    /// When the worker last wrote records (see [`NAP`]).
    last_busy: Instant,
    waiters: Vec<Waiter>,
    /// What the sink owed the output was tried for the shutdown (see
    /// [`Worker::take_unattempted`]).
    drain_attempted: bool,
    status: Status,
    /// Drain requests of the crash and termination handlers.
    crash: Option<Arc<CrashDrain>>,
    /// Real time, or virtual (see [`time`]).
    time: Time,
    /// Panics of the sink's own code so far (see [`MAX_RESTARTS`]).
    panics: u32,
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        ctrl: Receiver<Control>,
        writer: Box<dyn Write + Send>,
        flush_interval: Duration,
        flush_deadline: Duration,
    ) -> Worker {
        let lanes = Lanes::new(&shared);
        let batch = batch_room(&shared.limits);
        Worker {
            shared,
            ctrl: Some(ctrl),
            health: Health::Healthy,
            life: Life::Running,
            writer,
            flush_interval,
            flush_deadline,
            batch,
            lanes,
            taken: 0,
            reported: PerReason::default(),
            last_report: None,
            summaries: Summaries::default(),
            dirty: false,
            last_flush: Instant::now(),
            last_busy: Instant::now(),
            waiters: Vec::new(),
            drain_attempted: false,
            status: Status::default(),
            crash: None,
            time: Time::default(),
            panics: 0,
        }
    }

    /// Runs on a virtual clock (see [`time`]): for the fuzz targets.
    pub(crate) fn with_virtual_time(mut self, on: bool) -> Worker {
        if on {
            self.time = Time::virtual_time();
        }
        self
    }

    /// The thread's body.
    pub(crate) fn run(mut self) {
        // For the whole life of the thread, never left.
        let _path = Entered::enter(Origin::Named("sink worker"));
        // A writer that calls out is recorded, never allowed to panic the
        // thread that writes the log, whatever the process-wide policy.
        crate::lint::set_thread_policy(Some(crate::lint::Policy::Report));
        while let Stop::Wait(now) = self.turns() {
            self.wait(now);
        }
        self.finish();
    }

    /// Runs the worker on the calling thread until it would wait (see
    /// [`OnDemand`](super::on_demand::OnDemand)): in the logging path and
    /// under the `Report` policy while it does, as its own thread is.
    /// Returns whether it has exited.
    pub(crate) fn drive(&mut self) -> bool {
        let _path = Entered::enter(Origin::Named("sink worker"));
        let policy = crate::lint::set_thread_policy(Some(crate::lint::Policy::Report));
        let stop = self.turns();
        crate::lint::set_thread_policy(policy);
        match stop {
            Stop::Wait(_) => false,
            Stop::Exit => {
                self.finish();
                true
            }
        }
    }

    /// Runs the loop's turns until it would wait or must exit. A panic of
    /// the sink itself is contained like a writer's, and the loop goes on,
    /// [`MAX_RESTARTS`] times.
    fn turns(&mut self) -> Stop {
        loop {
            let payload = match catch_unwind(AssertUnwindSafe(|| self.run_until_wait())) {
                Ok(stop) => return stop,
                Err(payload) => payload,
            };
            self.panics += 1;
            let giving_up = self.panics > MAX_RESTARTS;
            let lost = self.drop_batch(DropReason::WriterError);
            let msg = panic_message(&*payload);
            contain::drop_payload(payload);
            self.status.emit(
                self.time.now(),
                format_args!(
                    "the sink worker panicked ({msg}); {lost} records lost; {}",
                    if giving_up {
                        "giving up"
                    } else {
                        "restarting it"
                    }
                ),
            );
            if giving_up {
                return Stop::Exit;
            }
        }
    }

    /// On the way out: the flushes still waiting get `false`.
    fn finish(&mut self) {
        for w in self.waiters.drain(..) {
            let _ = w.reply.try_send(false);
        }
        self.status.finish();
    }

    fn run_until_wait(&mut self) -> Stop {
        loop {
            self.poll_control();
            // Top of the loop: after every write, and after every wait.
            self.check_crash();
            let now = self.time.now();
            if self.life.past_deadline(now) {
                self.give_up();
                return Stop::Exit;
            }
            if self.batch.is_empty() {
                let empty = self.lanes.is_empty(&self.shared);
                if self.quiescing(empty) {
                    // A flush or the shutdown is owed an answer: the pending
                    // drop report goes out first, then the writer is flushed.
                    if self.take_unattempted(empty) && self.begin_batch(true) {
                        self.write_batch();
                        continue;
                    }
                    self.flush_writer();
                    self.answer_waiters(empty);
                    if empty && self.life.is_draining() {
                        return Stop::Exit;
                    }
                    continue;
                }
                if empty {
                    self.flush_writer();
                    if !self.begin_batch(false) {
                        return Stop::Wait(now);
                    }
                } else {
                    self.begin_batch(false);
                }
            }
            self.fill();
            if !self.batch.is_empty() {
                self.last_busy = now;
                self.write_batch();
            }
        }
    }

    /// Whether a request is owed the try at writing what the sink owes the
    /// output first (a cut line's newline, the drop report), marking it
    /// tried: once per flush request, once for the shutdown. A request
    /// taken while an earlier one's try was being written (or backing off)
    /// gets a try of its own, so it is not answered `true` with the
    /// newline of a line cut since still owed.
    fn take_unattempted(&mut self, empty: bool) -> bool {
        let mut owed = false;
        for w in &mut self.waiters {
            owed |= !std::mem::replace(&mut w.attempted, true);
        }
        if empty && self.life.is_draining() {
            owed |= !std::mem::replace(&mut self.drain_attempted, true);
        }
        owed
    }

    /// Whether a flush request can be answered, or the shutdown finished.
    fn quiescing(&self, empty: bool) -> bool {
        (empty && self.life.is_draining())
            || self
                .waiters
                .iter()
                .any(|w| empty || self.lanes.reached(&w.target))
    }

    /// Naps (see [`NAP`]), or parks until a record, a request or the next
    /// tick.
    fn wait(&mut self, now: Instant) {
        let timeout = match (self.unreported(), self.last_report) {
            (Some(_), Some(last)) => (last + REPORT_INTERVAL).saturating_duration_since(now),
            _ => IDLE_TICK,
        };
        // A handler's unpark is best effort (see `crash`): poll as well.
        let timeout = self.crash_poll(timeout);
        let busy = now.saturating_duration_since(self.last_busy);
        if busy < NAP_WINDOW {
            // The main loop polls the lanes and the requests after the nap.
            let rest = (NAP_WINDOW - busy).min(timeout);
            self.time.nap(NAP.min(timeout), rest);
            return;
        }
        // The next record wakes a parked worker (`Shared::wake`). The caller
        // checks the flag without a fence, so a record pushed just as the
        // worker parks can miss it: `IDLE_PARK` bounds how long it waits.
        self.shared.parked.store(true, SeqCst);
        let no_control = self.ctrl.as_ref().map_or(true, Receiver::is_empty);
        if self.lanes.is_empty(&self.shared) && no_control && !self.crash_pending() {
            std::thread::park_timeout(timeout.min(IDLE_PARK));
        }
        self.shared.parked.store(false, Relaxed);
    }

    /// Takes what the lanes hold into the batch, formatted, up to its limits.
    fn fill(&mut self) {
        self.taken += self
            .lanes
            .fill(&self.shared, &mut self.batch, BATCH_BYTES, BATCH_RECORDS);
    }

    /// Starts a batch, with the drop report when drops are unreported and a
    /// report is due (`force`: a flush or the shutdown is waiting for it).
    fn begin_batch(&mut self, force: bool) -> bool {
        let report = self.unreported().filter(|_| {
            force
                || self
                    .last_report
                    .map_or(true, |t| self.time.since(t) >= REPORT_INTERVAL)
        });
        // With the drop report, the summaries of suppressed events.
        self.summaries.begin(&mut self.batch, &self.shared, report)
    }

    /// Drop totals by reason and their increase since the last report, when
    /// anything was dropped since.
    fn unreported(&self) -> Option<(PerReason, PerReason)> {
        let totals = self.shared.counters.dropped_counts();
        let delta = totals.since(&self.reported);
        delta.any().then_some((totals, delta))
    }

    /// Writes the batch; on failure, counts, reports and backs off. The
    /// writer's health moves on in one place, [`Health::after_write`].
    fn write_batch(&mut self) {
        let failure = match self.write_out() {
            Ok(()) => None,
            // The main loop gives up on the rest.
            Err(Failure::Deadline) => return,
            Err(failure) => Some(failure),
        };
        let (health, step) = self.health.after_write(failure.is_none());
        self.health = health;
        match (step, failure) {
            (Step::Wrote { recovered }, _) => {
                self.batch.clear();
                self.dirty = true;
                if recovered {
                    let lost = self.shared.counters.dropped_count(DropReason::WriterError);
                    // Said once, past the rate limit when its failure was shown.
                    self.status.recovered(
                        self.time.now(),
                        format_args!(
                            "the log writer recovered ({lost} records lost to writer errors so far)"
                        ),
                    );
                }
                if self.time.since(self.last_flush) >= self.flush_interval {
                    self.flush_writer();
                }
            }
            (Step::Failed { give_up, wait }, Some(failure)) => {
                self.shared.counters.writer_error();
                if give_up {
                    self.drop_batch(DropReason::WriterError);
                }
                let lost = self.shared.counters.dropped_count(DropReason::WriterError);
                self.status.failure(
                    self.time.now(),
                    format_args!(
                        "writing the log failed: {failure} ({lost} records lost to writer \
                         errors so far); retrying in {wait:?}"
                    ),
                );
                self.pause(wait);
            }
            // `after_write` fails a write exactly when there is a failure.
            (Step::Failed { .. }, None) => {}
        }
    }

    /// Hands the batch to the writer until it took everything or fails.
    fn write_out(&mut self) -> Result<(), Failure> {
        let mut interruptions = 0;
        while !self.batch.done() {
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.writer.write(self.batch.unwritten())
            }));
            match result {
                Ok(Ok(0)) => return Err(Failure::io(io::ErrorKind::WriteZero.into())),
                Ok(Ok(n)) => {
                    self.advance(n);
                    if !self.batch.done() {
                        // A writer taking a batch piecemeal: do not let it
                        // run past the shutdown deadline.
                        self.poll_control();
                        if self.life.past_deadline(self.time.now()) {
                            return Err(Failure::Deadline);
                        }
                    }
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted && interruptions < 16 => {
                    interruptions += 1;
                    contain::catch(move || drop(e));
                }
                Ok(Err(e)) => return Err(Failure::io(e)),
                Err(payload) => return Err(Failure::panic(payload)),
            }
        }
        Ok(())
    }

    /// Counts what a write got out.
    fn advance(&mut self, n: usize) {
        let p = self.batch.advance(n);
        self.count_out(p);
    }

    /// Counts records written, the sink's own bytes, and the drops a
    /// report that is out covers (so the next report says only newer ones).
    fn count_out(&mut self, p: Progress) {
        let c = &self.shared.counters;
        if p.records > 0 {
            c.written(p.records, p.bytes);
        }
        if p.prefix_bytes > 0 {
            c.report_bytes(p.prefix_bytes);
        }
        if p.summaries > 0 {
            self.summaries.commit(p.summaries);
        }
        if let Some(totals) = p.report {
            self.reported = totals;
            self.last_report = Some(self.time.now());
        }
    }

    /// Drops what the batch holds unwritten; returns how many records.
    fn drop_batch(&mut self, reason: DropReason) -> u64 {
        let c = &self.shared.counters;
        let mut lost = 0;
        let (out, rest) = self.batch.drop_rest();
        for level in rest {
            c.dropped(reason, level);
            lost += 1;
        }
        // A line the writer took all of but its newline is out: the next
        // batch starts with that newline.
        self.count_out(out);
        for w in &mut self.waiters {
            w.ok = false;
        }
        lost
    }

    /// Flushes the writer if anything was written since the last flush.
    fn flush_writer(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        self.last_flush = self.time.now();
        let failure = match catch_unwind(AssertUnwindSafe(|| self.writer.flush())) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Failure::io(e),
            Err(payload) => Failure::panic(payload),
        };
        self.shared.counters.writer_error();
        for w in &mut self.waiters {
            w.ok = false;
        }
        self.status.failure(
            self.time.now(),
            format_args!("flushing the log writer failed: {failure}"),
        );
    }

    /// Sleeps after a writer error, still answering requests.
    fn pause(&mut self, wait: Duration) {
        let end = self.time.now() + wait;
        loop {
            let end = self.life.deadline().map_or(end, |d| d.min(end));
            let now = self.time.now();
            // A crash handler's request: the main loop's next turn drains.
            if now >= end || self.crash_pending() {
                return;
            }
            let until = now + self.crash_poll(end - now);
            let Some(ctrl) = &self.ctrl else {
                self.time.sleep(until - now);
                continue;
            };
            match self.time.recv_deadline(ctrl, until) {
                Ok(c) => {
                    let shutdown = matches!(c, Control::Shutdown { .. });
                    self.on_control(c);
                    if shutdown {
                        // One more try at once: the deadline now bounds it.
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.on_control_closed(),
            }
        }
    }

    fn poll_control(&mut self) {
        while let Some(ctrl) = &self.ctrl {
            match ctrl.try_recv() {
                Ok(c) => self.on_control(c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.on_control_closed(),
            }
        }
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Flush(reply) => self.waiters.push(Waiter {
                reply,
                target: self.lanes.target(&self.shared),
                ok: true,
                attempted: false,
            }),
            Control::Shutdown { deadline } => {
                self.life = self.life.drain_by(self.time.real_to_here(deadline));
            }
        }
    }

    /// The guard is gone without saying so (it always says so): shut down.
    fn on_control_closed(&mut self) {
        self.ctrl = None;
        if !self.life.is_draining() {
            self.life = self.life.drain_by(self.time.now() + self.flush_deadline);
        }
    }

    /// Answers the flush requests that are satisfied.
    fn answer_waiters(&mut self, empty: bool) {
        let lanes = &self.lanes;
        self.waiters.retain(|w| {
            let done = w.attempted && (empty || lanes.reached(&w.target));
            if done {
                let _ = w.reply.try_send(w.ok);
            }
            !done
        });
    }

    /// The shutdown deadline passed: what is not written is lost. The guard
    /// counts what is still queued.
    fn give_up(&mut self) {
        self.drop_batch(DropReason::Shutdown);
        for w in self.waiters.drain(..) {
            let _ = w.reply.try_send(false);
        }
    }
}

/// The worker's batch, made at its full size so that it never grows (an
/// allocation on the worker) while the sink runs. A batch stops filling
/// once over its bounds, at the end of a lane's turn (up to `LANE_SHARE`
/// records): room for twice the bytes and the records' share more keeps it
/// from growing but for records near `max_record`. A sink whose queue
/// holds less than that (a small byte budget) never fills a batch so far:
/// room for twice what the queue can hold, and a record more, is enough
/// (a 64 KiB budget needs no 128 KiB batch).
fn batch_room(limits: &super::Limits) -> Batch {
    let bytes = (2 * BATCH_BYTES).min(2 * limits.byte_budget + limits.max_record);
    // A queued record takes its frame, its level and at least a newline.
    let queued = limits.byte_budget / (super::FRAME + 2);
    let records = (BATCH_RECORDS + LANE_SHARE).min(2 * queued + 1);
    Batch::with_capacity(bytes, records)
}

/// The message of a panic payload, for the status channel.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    contain::panic_message(payload)
        .unwrap_or("a non-string payload")
        .to_owned()
}

mod crash;
#[cfg(test)]
mod flush_tests;
mod state;
#[cfg(test)]
mod tests;
mod time;
