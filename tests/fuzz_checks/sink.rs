//! Target `sink`: arbitrary schedules of submits, flushes, stalls and writer
//! failures, from several producer threads, against a sink with tiny
//! bounds.
//!
//! Input: the sink's bounds (capacity 1..=8 records, a byte budget of one
//! to a few records, `max_record` from 64 bytes, any overflow policy and
//! high-water mark, a short flush deadline); a script of what each `write`
//! of the writer does (take everything, take a part, stall a few ms,
//! `Interrupted`, `Ok(0)`, an error, an error whose `Display` panics, a
//! panic with a string or with a payload whose destructor panics) and of
//! what each `flush` does; and phases, each run by 2-3 producer threads at
//! once (submits of any size and level, oversize and unterminated records
//! included, flushes with a short timeout, stats snapshots), optionally
//! with the writer held inside a `write` for the whole phase, optionally
//! followed by a flush; the guard may be dropped while the last phase's
//! producers still submit.
//!
//! Every record carries a unique id (`@N@`), so each output line can be
//! traced to its submit. Checked:
//! - accounting: at every snapshot (producers', and the writer's at every
//!   `write`), `submitted >= written + dropped`, counters never decrease,
//!   and a producer sees its own submits and drops; at the end, once the
//!   worker has exited, `submitted` is the number of submits and
//!   `submitted == written + dropped` (nothing in flight); `written` is the
//!   number of records in the output; each reason's count covers the drops
//!   `submit` returned; the in-band reports never claim more drops than
//!   counted, and once the final flushes succeeded they claim exactly the
//!   drops counted, per reason (each drop is said once);
//! - the byte budget and the capacity: while the writer is held, the
//!   records accepted and not yet handed to the writer (the queue) never
//!   hold more than `byte_budget` bytes, nor one thread's lane more than
//!   `capacity` records;
//! - whole lines: every line of the output is exactly one submitted record,
//!   the sink's truncation record for one (valid JSON, or a marked prefix,
//!   within `max_record`), or a drop report; a line cut short appears only
//!   after the writer failed (it took part of a batch and then kept
//!   failing) and is a prefix of a record or report; no record appears
//!   twice, none whose `submit` returned `Err`, and no line but a report is
//!   longer than `max_record`;
//! - `flush() == true` means every record the caller submitted before it
//!   (and was not told was dropped) is in the output (not checked under
//!   `DropOldest`, whose producers may evict it).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use layer_safe::sink::Overflow;
use layer_safe::{DropReason, FlushGuard, Sink, Stats};
use tracing_core::Level;

/// How many drop reasons a report can name.
const REASONS: usize = DropReason::ALL.len();

pub use super::Lvl;
use super::{deliberate_panic, install_panic_hook};

const MAX_PHASES: usize = 4;
const MAX_THREADS: usize = 3;
const MAX_OPS: usize = 16;
const MAX_SCRIPT: usize = 12;
/// Writer errors and panics per input: three in a row drop a batch. (The
/// worker's back-off after each runs on its virtual clock: it costs
/// nothing, see [`check`].)
const MAX_FAILURES: usize = 8;
/// The harness's own waits (flush timeouts, `Overflow::Block`'s timeout, a
/// stalling writer) are counted in units of this much real time.
const TICK: Duration = Duration::from_micros(100);

fn ticks(n: u8, modulo: u8) -> Duration {
    TICK * u32::from(n % modulo)
}

// ------------------------------------------------------------- the input

#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub config: Config,
    /// What each `write` does, in order; once used up, writes succeed.
    pub writes: Vec<WriteStep>,
    /// What each `flush` of the writer does, in order; then `Ok`.
    pub flushes: Vec<FlushStep>,
    pub phases: Vec<Phase>,
    /// Drop the guard while the last phase's producers run.
    pub drop_guard_early: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Config {
    /// 1..=8 records.
    pub capacity: u8,
    /// 64 + 8 * (n % 64) bytes.
    pub max_record: u8,
    /// `max_record` + `n % (4 * max_record)` bytes.
    pub budget_extra: u16,
    pub overflow: OverflowPick,
    /// 1..=100 %.
    pub high_water: u8,
    /// 5..=36 ms.
    pub flush_deadline: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPick {
    DropNewest,
    DropOldest,
    /// Waits up to `n % 4` ticks (250 µs each).
    Block(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum WriteStep {
    All,
    /// Takes `1 + n % len` bytes.
    Part(u16),
    /// Takes `1 + n % len` bytes, then fails three times: the sink gives up
    /// on the rest of the batch, in the middle of a line.
    PartThenFail(u16),
    /// Sleeps `1 + n % 3` ticks (250 µs each), then takes everything.
    Stall(u8),
    Interrupted,
    /// `Ok(0)`.
    Zero,
    Error(ErrorPick),
    /// Panics with a `String`.
    Panic,
    /// Panics with a payload whose destructor panics too.
    PanicBomb,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ErrorPick {
    BrokenPipe,
    WouldBlock,
    Other,
    /// An `io::Error` whose inner error's `Display` panics.
    DisplayPanics,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FlushStep {
    Ok,
    Error,
    Panic,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Phase {
    /// The writer's next `write` blocks until the phase ends.
    pub hold: bool,
    /// One list of operations per producer thread (2 to 3 threads).
    pub threads: Vec<Vec<Op>>,
    /// Then a flush waiting up to `n % 20` ticks (250 µs each).
    pub flush_after: Option<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    Submit {
        len: u16,
        level: Lvl,
        shape: Shape,
    },
    /// `FlushGuard::flush` waiting up to `n % 4` ticks (250 µs each).
    Flush(u8),
    Snapshot,
    Yield,
}

/// What a record looks like (its length is the submit's).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"k":"@N@xxxx"}`.
    Json,
    /// `@N@ xxxx`.
    Text,
    /// JSON padded with multi-byte characters, escapes and U+2028.
    JsonUnicode,
    /// Text with bytes that are not UTF-8.
    TextBinary,
    /// Text without its final newline (the sink adds it).
    Unterminated,
    /// Nothing at all (written as nothing).
    Empty,
}

/// Decodes `bytes` exactly as `fuzz_target!(|input: Input| ..)` does.
pub fn decode(bytes: &[u8]) -> Option<Input> {
    super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8]) -> Option<Summary> {
    decode(bytes).map(|input| check(&input))
}

// -------------------------------------------------------------- records

/// Builds the record of submit `id`, about `len` bytes long.
fn record(id: u32, len: usize, shape: Shape) -> Vec<u8> {
    let (head, tail, pad): (String, &[u8], &[&[u8]]) = match shape {
        Shape::Json => (format!("{{\"k\":\"@{id}@"), b"\"}\n", &[b"x"]),
        Shape::JsonUnicode => (
            format!("{{\"k\":\"@{id}@"),
            b"\"}\n",
            &[
                "é".as_bytes(),
                "😀".as_bytes(),
                b"\\\"",
                "\u{2028}".as_bytes(),
                b"\t",
                b"\x01",
            ],
        ),
        Shape::Text => (format!("@{id}@ "), b"\n", &[b"y"]),
        Shape::TextBinary => (
            format!("@{id}@ "),
            b"\n",
            &[b"\xff", b"\xc3", "é".as_bytes(), b"z"],
        ),
        Shape::Unterminated => (format!("@{id}@ "), b"", &[b"u"]),
        Shape::Empty => return Vec::new(),
    };
    let filler = if head.starts_with('{') { b'x' } else { b'y' };
    let mut r = head.into_bytes();
    let target = len.max(r.len() + tail.len());
    let mut i = 0;
    while r.len() + tail.len() < target {
        let p = pad[i % pad.len()];
        i += 1;
        if r.len() + p.len() + tail.len() <= target {
            r.extend_from_slice(p);
        } else {
            r.push(filler);
        }
    }
    r.extend_from_slice(tail);
    r
}

/// The ids (`@N@`) in `bytes`, with where each starts.
fn markers(bytes: &[u8]) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - start < 9 {
                j += 1;
            }
            if j > start && j < bytes.len() && bytes[j] == b'@' {
                if let Ok(id) = std::str::from_utf8(&bytes[start..j]).unwrap_or("").parse() {
                    out.push((i, id));
                }
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

// --------------------------------------------------------------- writer

/// What the writer saw, shared with the harness.
#[derive(Default)]
struct WriterState {
    out: Vec<u8>,
    writes: VecDeque<WriteStep>,
    flushes: VecDeque<FlushStep>,
    failures: usize,
    /// `flush` calls that failed (an error or a panic).
    flush_failures: usize,
    /// `write` calls so far.
    calls: u64,
    /// Per id: the call that first handed its record to the writer, and
    /// the record as queued (its whole line).
    offered: HashMap<u32, (u64, Vec<u8>)>,
    /// The next `write` blocks until `release`.
    armed: bool,
    /// A `write` is blocked: the call's number.
    blocked: Option<u64>,
    release: bool,
    /// The writer failed (an error, `Ok(0)`, a panic): lines may be cut.
    failed: bool,
    /// Dropped: the worker thread has ended.
    dropped: bool,
    last: Option<Stats>,
    problems: Vec<String>,
}

struct Shared {
    state: Mutex<WriterState>,
    cv: Condvar,
    sink: OnceLock<Sink>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sink's writer: does what the script says and keeps what it took.
struct Writer(Arc<Shared>);

/// An error whose `Display` panics.
#[derive(Debug)]
struct NastyError;

impl std::fmt::Display for NastyError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        deliberate_panic("an io::Error's Display panicked".to_owned())
    }
}

impl std::error::Error for NastyError {}

/// A panic payload whose destructor panics.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            deliberate_panic("a panic payload's destructor panicked");
        }
    }
}

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let shared = &*self.0;
        let mut s = shared.lock();
        s.calls += 1;
        let call = s.calls;
        if let Some(sink) = shared.sink.get() {
            let stats = sink.stats();
            let st: &mut WriterState = &mut s;
            check_snapshot(&mut st.problems, st.last.as_ref(), &stats, "the writer");
            st.last = Some(stats);
        }
        // Which records this call hands over for the first time: each
        // first appears with its whole line (a later call only gets the
        // rest of a line an earlier one began).
        for (at, id) in markers(buf) {
            if s.offered.contains_key(&id) {
                continue;
            }
            let start = buf[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let end = buf[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(buf.len(), |p| at + p + 1);
            s.offered.insert(id, (call, buf[start..end].to_vec()));
        }
        if std::mem::take(&mut s.armed) {
            s.blocked = Some(call);
            shared.cv.notify_all();
            while !s.release {
                s = shared.cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.release = false;
            s.blocked = None;
        }
        let mut step = s.writes.pop_front().unwrap_or(WriteStep::All);
        if let WriteStep::PartThenFail(n) = step {
            if s.failures + 3 <= MAX_FAILURES {
                for _ in 0..3 {
                    s.writes.push_front(WriteStep::Error(ErrorPick::Other));
                }
            }
            step = WriteStep::Part(n);
        }
        if matches!(
            step,
            WriteStep::Error(_) | WriteStep::Zero | WriteStep::Panic | WriteStep::PanicBomb
        ) {
            if s.failures >= MAX_FAILURES {
                step = WriteStep::All;
            } else {
                s.failures += 1;
                s.failed = true;
            }
        }
        match step {
            WriteStep::All => {
                s.out.extend_from_slice(buf);
                Ok(buf.len())
            }
            WriteStep::Part(n) | WriteStep::PartThenFail(n) => {
                let k = if buf.is_empty() {
                    0
                } else {
                    1 + usize::from(n) % buf.len()
                };
                s.out.extend_from_slice(&buf[..k]);
                Ok(k)
            }
            WriteStep::Stall(ms) => {
                drop(s);
                std::thread::sleep(TICK + ticks(ms, 3));
                shared.lock().out.extend_from_slice(buf);
                Ok(buf.len())
            }
            WriteStep::Interrupted => Err(io::ErrorKind::Interrupted.into()),
            WriteStep::Zero => Ok(0),
            WriteStep::Error(e) => Err(match e {
                ErrorPick::BrokenPipe => io::ErrorKind::BrokenPipe.into(),
                ErrorPick::WouldBlock => io::ErrorKind::WouldBlock.into(),
                ErrorPick::Other => io::Error::other("the disk is on fire"),
                ErrorPick::DisplayPanics => io::Error::other(NastyError),
            }),
            WriteStep::Panic => {
                drop(s);
                deliberate_panic("the writer exploded".to_owned())
            }
            WriteStep::PanicBomb => {
                drop(s);
                deliberate_panic(DropBomb)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let step = {
            let mut s = self.0.lock();
            let step = s.flushes.pop_front().unwrap_or(FlushStep::Ok);
            if !matches!(step, FlushStep::Ok) {
                s.flush_failures += 1;
            }
            step
        };
        match step {
            FlushStep::Ok => Ok(()),
            FlushStep::Error => Err(io::Error::other("flush failed")),
            FlushStep::Panic => deliberate_panic("the writer's flush exploded".to_owned()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.dropped = true;
        self.0.cv.notify_all();
    }
}

/// Checks one stats snapshot, and that no counter went down since `prev`.
fn check_snapshot(problems: &mut Vec<String>, prev: Option<&Stats>, s: &Stats, who: &str) {
    let done = s.written + s.dropped.total();
    if s.submitted < done {
        problems.push(format!(
            "{who}'s snapshot: submitted {} < written {} + dropped {}: {s:?}",
            s.submitted,
            s.written,
            s.dropped.total()
        ));
    }
    if s.in_flight != s.submitted.saturating_sub(done) {
        problems.push(format!(
            "{who}'s snapshot: in_flight is not submitted - done: {s:?}"
        ));
    }
    if let Some(p) = prev {
        let down = p.submitted > s.submitted
            || p.written > s.written
            || p.bytes_written > s.bytes_written
            || DropReason::ALL
                .iter()
                .any(|r| p.dropped.get(*r) > s.dropped.get(*r));
        if down {
            problems.push(format!("{who}'s snapshots went down: {p:?} then {s:?}"));
        }
    }
}

// -------------------------------------------------------------- running

/// One submit, as its producer saw it.
#[derive(Clone, Debug)]
struct Sub {
    id: u32,
    /// The producer that submitted it (0: the harness's thread, `i`: pooled
    /// thread `i - 1`), which is its lane.
    lane: usize,
    level: Level,
    bytes: Vec<u8>,
    result: Result<(), DropReason>,
}

/// A `flush()` that returned `true`: the ids its caller had submitted
/// (and not been told were dropped) before it, the records lost to writer
/// errors by the time it returned (a batch given up as the request goes in
/// may be given up before the worker takes the request: on the virtual
/// clock, three failed tries take microseconds), and the output's length
/// when it returned.
struct Flushed {
    ids: Vec<u32>,
    lost_by: u64,
    out_len: usize,
}

/// Records lost after `submit` accepted them (writer errors, shutdown).
fn lost(sink: &Sink) -> u64 {
    let d = sink.stats().dropped;
    d.writer_error + d.shutdown
}

#[derive(Default)]
struct Outcome {
    subs: Vec<Sub>,
    flushed: Vec<Flushed>,
    problems: Vec<String>,
}

/// Bounds of the queue, checked while the writer was held.
struct HoldPoint {
    /// The blocked `write` call.
    call: u64,
    /// Ids accepted (`Ok`) when the writer was released.
    accepted: Vec<u32>,
}

/// What a producer needs, owned: producers run on pooled threads.
#[derive(Clone)]
struct Run {
    sink: Sink,
    shared: Arc<Shared>,
    next_id: Arc<AtomicU32>,
}

impl Run {
    fn producer(&self, lane: usize, ops: &[Op], guard: Option<&FlushGuard>) -> Outcome {
        let mut o = Outcome::default();
        let mut last: Option<Stats> = None;
        let mut errs = 0u64;
        for op in ops.iter().take(MAX_OPS) {
            match *op {
                Op::Submit { len, level, shape } => {
                    let id = self.next_id.fetch_add(1, Relaxed);
                    let max = self.sink.max_record();
                    let len = usize::from(len) % (2 * max + 64);
                    let bytes = record(id, len, shape);
                    let level = Level::from(level);
                    let mut buf = self.sink.buffer();
                    buf.extend_from_slice(&bytes);
                    let result = self.sink.submit(level, buf);
                    errs += u64::from(result.is_err());
                    o.subs.push(Sub {
                        id,
                        lane,
                        level,
                        bytes,
                        result,
                    });
                }
                Op::Flush(ms) => {
                    if let Some(g) = guard {
                        let ids = ok_ids(&o.subs);
                        if g.flush(ticks(ms, 4)) {
                            let out_len = self.shared.lock().out.len();
                            o.flushed.push(Flushed {
                                ids,
                                lost_by: lost(&self.sink),
                                out_len,
                            });
                        }
                    }
                }
                Op::Snapshot => {
                    let s = self.sink.stats();
                    check_snapshot(&mut o.problems, last.as_ref(), &s, "a producer");
                    if s.submitted < o.subs.len() as u64 || s.dropped.total() < errs {
                        o.problems.push(format!(
                            "a producer made {} submits, {errs} dropped, but sees {s:?}",
                            o.subs.len()
                        ));
                    }
                    last = Some(s);
                }
                Op::Yield => std::thread::yield_now(),
            }
        }
        o
    }
}

/// The records accepted (empty ones write nothing: not those).
fn ok_ids(subs: &[Sub]) -> Vec<u32> {
    subs.iter()
        .filter(|s| s.result.is_ok() && !s.bytes.is_empty())
        .map(|s| s.id)
        .collect()
}

/// Counts over one run, for tests that check the harness is not vacuous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub submits: u64,
    pub written: u64,
    pub dropped: u64,
    /// Lines that are the sink's truncation of a record.
    pub truncated_lines: u64,
    pub reports: u64,
    /// Lines cut short by a failing writer.
    pub cut_lines: u64,
    /// Holds in which the queue's bounds were checked, and the most bytes
    /// seen queued in one.
    pub holds_checked: u64,
    pub max_queued_bytes: usize,
    pub flushes_checked: u64,
    pub writer_failures: u64,
}

/// Runs one schedule and checks it, the worker on a virtual clock (its
/// back-off, naps and pauses take no time); panics with the input if an
/// invariant is broken.
pub fn check(input: &Input) -> Summary {
    check_on(input, true)
}

/// [`check`], the worker on a virtual clock or on real time.
pub fn check_on(input: &Input, virtual_time: bool) -> Summary {
    install_panic_hook();
    let c = input.config;
    let capacity = 1 + usize::from(c.capacity % 8);
    let max_record = 64 + 8 * usize::from(c.max_record % 64);
    let budget = max_record + usize::from(c.budget_extra) % (4 * max_record);
    let overflow = match c.overflow {
        OverflowPick::DropNewest => Overflow::DropNewest,
        OverflowPick::DropOldest => Overflow::DropOldest,
        OverflowPick::Block(ms) => Overflow::Block {
            timeout: ticks(ms, 4),
        },
    };
    let high_water = 1 + c.high_water % 100;
    let deadline = Duration::from_millis(5 + u64::from(c.flush_deadline % 32));

    let shared = Arc::new(Shared {
        state: Mutex::new(WriterState {
            writes: input.writes.iter().take(MAX_SCRIPT).copied().collect(),
            flushes: input.flushes.iter().take(MAX_SCRIPT).copied().collect(),
            ..WriterState::default()
        }),
        cv: Condvar::new(),
        sink: OnceLock::new(),
    });
    let (sink, guard) = Sink::builder()
        .writer(Writer(shared.clone()))
        .capacity(capacity)
        .byte_budget(budget)
        .max_record(max_record)
        .overflow(overflow)
        .high_water_mark(high_water)
        .flush_deadline(deadline)
        .flush_interval(Duration::from_millis(5))
        .virtual_time(virtual_time)
        .build()
        .expect("a valid sink configuration");
    let _ = shared.sink.set(sink.clone());
    let run = Run {
        sink: sink.clone(),
        shared: shared.clone(),
        next_id: Arc::new(AtomicU32::new(0)),
    };

    let mut all = Outcome::default();
    let mut holds = Vec::new();
    // Shared with the producers of a phase, which drop their clones before
    // they report: the last one, the harness's, is dropped where it drops.
    let mut guard = Some(Arc::new(guard));
    let phases: Vec<&Phase> = input.phases.iter().take(MAX_PHASES).collect();
    for (n, phase) in phases.iter().enumerate() {
        let early = input.drop_guard_early && n + 1 == phases.len();
        // Not while the guard goes: a worker held past the guard's deadline
        // is never joined, and its thread (ending whenever) leaves
        // LeakSanitizer a thread-local registration to report.
        let hold = phase.hold && !early;
        if hold {
            shared.lock().armed = true;
        }
        let threads: Vec<Vec<Op>> = phase
            .threads
            .iter()
            .take(MAX_THREADS)
            .map(|t| t.iter().take(MAX_OPS).copied().collect())
            .collect();
        let dropping = if early { guard.take() } else { None };
        let job = |lane: usize, ops: Vec<Op>| {
            let run = run.clone();
            let g = guard.clone();
            Box::new(move || {
                let o = run.producer(lane, &ops, g.as_deref());
                // Before the outcome is sent: the harness may drop the
                // guard as soon as it has them all.
                drop(g);
                o
            }) as Box<dyn FnOnce() -> Outcome + Send>
        };
        // Producer 0 runs on this thread, producer `i` on pooled thread
        // `i - 1`: the same threads, so the same lanes, in every phase and
        // every input. A producer with nothing to do is not started (it
        // would only cost two thread switches). When the guard goes while
        // the producers submit, this thread drops it, and producer 0 runs
        // on a pooled thread of its own, racing the drop like the others.
        let mut threads = threads.into_iter().enumerate();
        let first = threads.next().map(|(_, ops)| ops).unwrap_or_default();
        let mut jobs: Vec<(usize, Box<dyn FnOnce() -> Outcome + Send>)> = threads
            .filter(|(_, ops)| !ops.is_empty())
            .map(|(lane, ops)| (lane - 1, job(lane, ops)))
            .collect();
        let mut here = None;
        if early {
            if !first.is_empty() {
                jobs.insert(0, (MAX_THREADS - 1, job(0, first)));
            }
        } else {
            here = Some(first);
        }
        let mut first_outcome = None;
        let pooled = super::pool::run_all_then(jobs, || {
            drop(dropping);
            if let Some(ops) = here {
                first_outcome = Some(run.producer(0, &ops, guard.as_deref()));
            }
        });
        let outcomes: Vec<Outcome> = first_outcome
            .into_iter()
            .chain(pooled.into_iter().map(|r| {
                r.unwrap_or_else(|_| Outcome {
                    problems: vec!["a producer thread panicked".into()],
                    ..Outcome::default()
                })
            }))
            .collect();
        for o in outcomes {
            all.subs.extend(o.subs);
            all.flushed.extend(o.flushed);
            all.problems.extend(o.problems);
        }
        if hold {
            let mut s = shared.lock();
            s.armed = false;
            if let Some(call) = s.blocked {
                holds.push(HoldPoint {
                    call,
                    accepted: ok_ids(&all.subs),
                });
                s.release = true;
                shared.cv.notify_all();
            }
        }
        if let (Some(ms), Some(g)) = (phase.flush_after, guard.as_ref()) {
            let ids = ok_ids(&all.subs);
            if g.flush(ticks(ms, 20)) {
                let out_len = shared.lock().out.len();
                all.flushed.push(Flushed {
                    ids,
                    lost_by: lost(&sink),
                    out_len,
                });
            }
        }
    }
    // The writer is healthy from now on: a flush gets everything out.
    let mut final_flush = None;
    if let Some(g) = guard.as_ref() {
        {
            let mut s = shared.lock();
            s.writes.clear();
            s.flushes.clear();
        }
        final_flush = Some(g.flush(Duration::from_secs(10)));
        // Once more: the first flush may be answered in the round of an
        // earlier one, whose drop report was staged before the last drops
        // (the worker stages one report per round). This one stages its
        // own, so once it returns every drop so far is said in-band, and
        // nothing is dropped after (the producers are done, the queue is
        // empty, the writer is healthy).
        if final_flush == Some(true) {
            final_flush = Some(g.flush(Duration::from_secs(10)));
        }
    }
    drop(guard);
    // The guard waits for the worker only until its deadline; wait for the
    // thread to end (it drops the writer) before the final count.
    let exited = {
        let until = Instant::now() + Duration::from_secs(10);
        let mut s = shared.lock();
        while !s.dropped && Instant::now() < until {
            s = shared
                .cv
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        s.dropped
    };
    let stats = sink.stats();
    let s = shared.lock();
    let mut problems = std::mem::take(&mut all.problems);
    problems.extend(s.problems.iter().cloned());
    if !exited {
        problems.push("the sink's worker had not ended 10 s after the guard was dropped".into());
    }
    if final_flush == Some(false) {
        problems.push("once the writer was healthy, a flush did not get everything out".into());
    }
    // Every failed `write` and `flush` is counted (an `Interrupted` write is
    // retried, not counted; the script has too few for it to give up).
    let failures = (s.failures + s.flush_failures) as u64;
    if stats.writer_errors != failures {
        problems.push(format!(
            "the writer failed {failures} times, writer_errors = {}",
            stats.writer_errors
        ));
    }
    let cfg = Bounds {
        capacity,
        budget,
        max_record,
        overflow: c.overflow,
        settled: final_flush == Some(true),
    };
    let mut summary = Summary {
        submits: all.subs.len() as u64,
        written: stats.written,
        dropped: stats.dropped.total(),
        writer_failures: s.failures as u64,
        ..Summary::default()
    };
    verify(&cfg, &all, &holds, &s, &stats, &mut summary, &mut problems);
    if !problems.is_empty() {
        panic!(
            "sink check failed:\n  - {}\nbounds: {cfg:?}\nstats: {stats:?}\noutput ({} bytes): {:?}\ninput: {input:#?}",
            problems.join("\n  - "),
            s.out.len(),
            String::from_utf8_lossy(&s.out[..s.out.len().min(4000)]),
        );
    }
    summary
}

#[derive(Debug)]
struct Bounds {
    capacity: usize,
    budget: usize,
    max_record: usize,
    overflow: OverflowPick,
    /// The final flushes returned `true`: every drop is said in-band.
    settled: bool,
}

/// What a line of the output is.
enum Line {
    Record(u32),
    Truncated(u32),
    Report([u64; REASONS]),
    Cut(Option<u32>),
}

fn verify(
    cfg: &Bounds,
    all: &Outcome,
    holds: &[HoldPoint],
    w: &WriterState,
    stats: &Stats,
    sum: &mut Summary,
    problems: &mut Vec<String>,
) {
    let subs: HashMap<u32, &Sub> = all.subs.iter().map(|s| (s.id, s)).collect();

    // Accounting at the end.
    if stats.submitted != all.subs.len() as u64 {
        problems.push(format!(
            "{} submits, {} counted as submitted",
            all.subs.len(),
            stats.submitted
        ));
    }
    if stats.submitted != stats.written + stats.dropped.total() || stats.in_flight != 0 {
        problems.push("after the worker ended, submitted != written + dropped".into());
    }
    let mut errs: HashMap<&'static str, u64> = HashMap::new();
    for s in &all.subs {
        if let Err(r) = s.result {
            *errs.entry(r.as_str()).or_default() += 1;
            if r == DropReason::Shed && s.level <= Level::WARN {
                problems.push(format!("#{} at {} was shed", s.id, s.level));
            }
            let len = s.bytes.len() + usize::from(s.bytes.last() != Some(&b'\n'));
            if r == DropReason::Oversize && len <= cfg.max_record {
                problems.push(format!("#{} ({len} bytes) dropped as oversize", s.id));
            }
        }
    }
    for r in DropReason::ALL {
        let told = errs.get(r.as_str()).copied().unwrap_or(0);
        if stats.dropped.get(r) < told {
            problems.push(format!(
                "{told} submits returned {}, {} counted",
                r.as_str(),
                stats.dropped.get(r)
            ));
        }
    }

    // Every line of the output.
    let may_cut = w.failed || stats.dropped.shutdown > 0;
    let mut lines: Vec<(&[u8], Line)> = Vec::new();
    let mut rest = &w.out[..];
    while !rest.is_empty() {
        let end = rest.iter().position(|b| *b == b'\n');
        let (line, terminated) = match end {
            Some(e) => (&rest[..=e], true),
            None => (rest, false),
        };
        rest = &rest[line.len()..];
        match classify(line, terminated, &subs, cfg, may_cut) {
            Ok(kind) => lines.push((line, kind)),
            Err(e) => problems.push(format!(
                "{e}: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(300)])
            )),
        }
    }
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut whole = 0u64;
    let mut reported = [0u64; REASONS];
    let mut cut_bytes = 0usize;
    for (line, kind) in &lines {
        let id = match kind {
            Line::Record(id) => {
                whole += 1;
                Some(*id)
            }
            Line::Truncated(id) => {
                whole += 1;
                sum.truncated_lines += 1;
                Some(*id)
            }
            Line::Report(r) => {
                sum.reports += 1;
                for i in 0..REASONS {
                    reported[i] += r[i];
                }
                None
            }
            Line::Cut(id) => {
                sum.cut_lines += 1;
                cut_bytes += line.len() - usize::from(line.last() == Some(&b'\n'));
                *id
            }
        };
        if let Some(id) = id {
            *seen.entry(id).or_default() += 1;
            if let Some(s) = subs.get(&id) {
                if let Err(r) = s.result {
                    problems.push(format!(
                        "#{id} is in the output, but its submit returned Err({})",
                        r.as_str()
                    ));
                }
            }
        }
        // The sink's own reports are not held to max_record (nor is what a
        // failing writer took of one).
        if !matches!(kind, Line::Report(_) | Line::Cut(None)) && line.len() > cfg.max_record {
            problems.push(format!(
                "a line of {} bytes, over max_record ({})",
                line.len(),
                cfg.max_record
            ));
        }
    }
    for (id, n) in &seen {
        if *n > 1 {
            problems.push(format!("#{id} appears {n} times"));
        }
    }
    let empty = all
        .subs
        .iter()
        .filter(|s| s.bytes.is_empty() && s.result.is_ok())
        .count() as u64;
    // Exact: a record the writer took all of but its newline before it
    // failed for good is written (the sink's next byte is that newline, or
    // nothing: it is the last line).
    if stats.written != whole + empty {
        problems.push(format!(
            "written = {}, but the output holds {whole} records (and {empty} empty ones were submitted)",
            stats.written
        ));
    }
    if !may_cut && cut_bytes == 0 && stats.bytes_written != w.out.len() as u64 {
        problems.push(format!(
            "bytes_written = {}, but the writer took {} bytes",
            stats.bytes_written,
            w.out.len()
        ));
    }
    if stats.bytes_written > w.out.len() as u64 {
        problems.push(format!(
            "bytes_written = {}, more than the writer took ({})",
            stats.bytes_written,
            w.out.len()
        ));
    }
    // Every drop is said once: a report whose line is in the output is
    // never repeated by the next one, and once the sink settled (the final
    // flushes succeeded) every drop was said.
    for (i, r) in DropReason::ALL.iter().enumerate() {
        let counted = stats.dropped.get(*r);
        if reported[i] > counted || (cfg.settled && reported[i] != counted) {
            problems.push(format!(
                "reports claim {} dropped as {}, {} counted",
                reported[i],
                r.as_str(),
                stats.dropped.get(*r)
            ));
        }
    }

    // The queue while the writer was held: what was accepted and first
    // handed to the writer only after the release was in the queue then.
    // The byte budget bounds them all; the capacity, each thread's lane
    // (producer `i` of every phase is the same pooled thread).
    for h in holds {
        let mut bytes = 0;
        let mut records = [0usize; MAX_THREADS];
        for id in &h.accepted {
            if let (Some((call, line)), Some(s)) = (w.offered.get(id), subs.get(id)) {
                if *call > h.call {
                    bytes += line.len();
                    records[s.lane] += 1;
                }
            }
        }
        sum.holds_checked += 1;
        sum.max_queued_bytes = sum.max_queued_bytes.max(bytes);
        let most = records.iter().copied().max().unwrap_or(0);
        if bytes > cfg.budget || most > cfg.capacity {
            problems.push(format!(
                "while the writer was held, {records:?} records (per lane) of {bytes} bytes \
                 were queued (capacity {} per lane, byte budget {})",
                cfg.capacity, cfg.budget
            ));
        }
    }

    // A flush that returned true got its caller's records out.
    if cfg.overflow != OverflowPick::DropOldest {
        let mut at: HashMap<u32, usize> = HashMap::new();
        let mut pos = 0;
        for (line, kind) in &lines {
            pos += line.len();
            if let Line::Record(id) | Line::Truncated(id) = kind {
                at.insert(*id, pos);
            }
        }
        for f in &all.flushed {
            sum.flushes_checked += 1;
            // Written by the time it returned, or lost before the worker
            // took the request ("records dropped before the call do not
            // make it false"): never written at all, and no more of them
            // than were lost by the time it returned.
            let mut missing = 0;
            for id in &f.ids {
                match at.get(id) {
                    Some(end) if *end <= f.out_len => {}
                    Some(_) => problems.push(format!(
                        "flush() returned true, but #{id}, submitted before it, was written only after"
                    )),
                    None => missing += 1,
                }
            }
            if missing > f.lost_by {
                problems.push(format!(
                    "flush() returned true, but {missing} records submitted before it were never \
                     written, and only {} had been lost when it returned",
                    f.lost_by
                ));
            }
        }
    }
}

/// Says what one line of the output is, or why it is none of them.
/// `may_cut`: the writer failed, or a batch was given up at shutdown, so a
/// line the writer took only part of may be there, ended by the sink's
/// newline (or last, unended).
fn classify(
    line: &[u8],
    terminated: bool,
    subs: &HashMap<u32, &Sub>,
    cfg: &Bounds,
    may_cut: bool,
) -> Result<Line, String> {
    if !terminated && may_cut {
        // The last line, all of it but its newline: whole, and counted so.
        let mut ended = line.to_vec();
        ended.push(b'\n');
        if let Ok(kind @ (Line::Record(_) | Line::Truncated(_) | Line::Report(_))) =
            classify(&ended, true, subs, cfg, may_cut)
        {
            return Ok(kind);
        }
    }
    let ids = markers(line);
    let body = if terminated {
        &line[..line.len() - 1]
    } else {
        line
    };
    let sub = match ids[..] {
        [(_, id)] => subs.get(&id).copied(),
        _ => None,
    };
    if let Some(s) = sub {
        let mut queued = s.bytes.clone();
        if queued.last() != Some(&b'\n') {
            queued.push(b'\n');
        }
        if line == &queued[..] {
            return Ok(Line::Record(s.id));
        }
        if terminated && queued.len() > cfg.max_record {
            if let Some(r) = truncated(line, &queued, s.id, cfg) {
                return r.map(|()| Line::Truncated(s.id));
            }
        }
        if may_cut && is_cut(body, &queued) {
            return Ok(Line::Cut(Some(s.id)));
        }
    }
    if ids.is_empty() && terminated && line.starts_with(b"{\"timestamp\":\"") {
        if let Some(r) = report(line) {
            return Ok(Line::Report(r));
        }
    }
    if may_cut {
        // Cut inside or before its id, or a report or truncation record
        // cut short.
        let start = b"{\"timestamp\":\"";
        let cut = start.starts_with(body)
            || body.starts_with(start)
            || subs.values().any(|s| is_cut(body, &s.bytes));
        if cut {
            return Ok(Line::Cut(sub.map(|s| s.id)));
        }
    }
    Err(if may_cut {
        "a line that is no record, truncation, report or cut record".into()
    } else {
        "a line that is no record, truncation or report (nothing may be cut: the writer never \
         failed, no batch was given up)"
            .into()
    })
}

/// `body` is what a writer that failed took of `queued` (a record, or its
/// text truncation): a strict prefix.
fn is_cut(body: &[u8], queued: &[u8]) -> bool {
    if body.len() < queued.len() && queued.starts_with(body) {
        return true;
    }
    // A cut text truncation: a prefix of the record, then of the marker.
    let marker = "…[truncated]".as_bytes();
    (0..=body.len()).rev().take(marker.len() + 1).any(|k| {
        queued.starts_with(&body[..k])
            && k < queued.len()
            && marker.starts_with(&body[k..])
            && k < body.len()
    })
}

/// The sink's stand-in for a record over `max_record`: `Some(Ok)` when
/// `line` is one for `queued`, `Some(Err)` when it looks like one but is
/// wrong, `None` when it is not one.
fn truncated(line: &[u8], queued: &[u8], id: u32, cfg: &Bounds) -> Option<Result<(), String>> {
    if line.len() > cfg.max_record {
        return Some(Err(format!("#{id}'s truncation is over max_record")));
    }
    if queued.first() == Some(&b'{') {
        let v: serde_json::Value = serde_json::from_slice(line).ok()?;
        let f = &v["fields"];
        if f["message"] != "record truncated" || v["target"] != "layer_safe" {
            return None;
        }
        let prefix = f["record_prefix"].as_str().unwrap_or("");
        let ok = f["record_len"] == queued.len()
            && f["max_record"] == cfg.max_record
            && String::from_utf8_lossy(queued).starts_with(prefix);
        Some(if ok {
            Ok(())
        } else {
            Err(format!("#{id}'s JSON truncation does not match it"))
        })
    } else {
        let marker = "…[truncated]\n".as_bytes();
        let kept = line.strip_suffix(marker)?;
        let boundary = queued.get(kept.len()).map_or(true, |b| b & 0xC0 != 0x80);
        Some(if queued.starts_with(kept) && boundary {
            Ok(())
        } else {
            Err(format!(
                "#{id}'s text truncation is not a prefix cut at a character"
            ))
        })
    }
}

/// A drop report: the count per reason, in `DropReason::ALL` order.
fn report(line: &[u8]) -> Option<[u64; REASONS]> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let f = v["fields"].as_object()?;
    if f.get("message")? != "events dropped" || v["target"] != "layer_safe" || v["level"] != "WARN"
    {
        return None;
    }
    let mut out = [0; REASONS];
    for (k, n) in f {
        if k == "message" {
            continue;
        }
        let i = DropReason::ALL.iter().position(|r| r.as_str() == k)?;
        out[i] = n.as_u64()?;
    }
    Some(out)
}
