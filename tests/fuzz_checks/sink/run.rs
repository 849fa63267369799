//! Target `sink`: running one input (the sink, the phases and their
//! producers, holds, flushes, the guard) and the accounting at the end.

use super::*;

/// One submit, as its producer saw it.
#[derive(Clone, Debug)]
pub(super) struct Sub {
    pub(super) id: u32,
    /// The producer that submitted it (0: the harness's thread, `i`: pooled
    /// thread `i - 1`), which is its lane.
    pub(super) lane: usize,
    pub(super) level: Level,
    pub(super) bytes: Vec<u8>,
    pub(super) result: Result<(), DropReason>,
}

/// A `flush()` that returned `true`: the ids its caller had submitted
/// (and not been told were dropped) before it, the records lost to writer
/// errors by the time it returned (a batch given up as the request goes in
/// may be given up before the worker takes the request: on the virtual
/// clock, three failed tries take microseconds), and the output's length
/// when it returned.
pub(super) struct Flushed {
    pub(super) ids: Vec<u32>,
    pub(super) lost_by: u64,
    pub(super) out_len: usize,
}

/// Records lost after `submit` accepted them (writer errors, shutdown).
pub(super) fn lost(sink: &Sink) -> u64 {
    let d = sink.stats().dropped;
    d.writer_error + d.shutdown
}

#[derive(Default)]
pub(super) struct Outcome {
    pub(super) subs: Vec<Sub>,
    pub(super) flushed: Vec<Flushed>,
    pub(super) problems: Vec<String>,
}

/// Bounds of the queue, checked while the writer was held.
pub(super) struct HoldPoint {
    /// The blocked `write` call.
    pub(super) call: u64,
    /// Ids accepted (`Ok`) when the writer was released.
    pub(super) accepted: Vec<u32>,
}

/// What a producer needs, owned: producers run on pooled threads.
#[derive(Clone)]
pub(super) struct Run {
    pub(super) sink: Sink,
    pub(super) submit: Submit,
    pub(super) shared: Arc<Shared>,
    pub(super) next_id: Arc<AtomicU32>,
}

impl Run {
    /// Runs one producer's operations; `flush`: its flushes run (not in a
    /// held phase of a worker that runs on demand, where a flush would run
    /// the worker the phase holds).
    pub(super) fn producer(
        &self,
        lane: usize,
        ops: &[Op],
        guard: Option<&FlushGuard>,
        flush: bool,
    ) -> Outcome {
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
                    let result = (self.submit)(&self.sink, level, &bytes);
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
                    if let Some(g) = guard.filter(|_| flush) {
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
pub(super) fn ok_ids(subs: &[Sub]) -> Vec<u32> {
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

/// Where the sink's worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// On whichever thread waits for it (`SinkBuilder::on_demand`), on a
    /// virtual clock (its back-off and pauses take no time): the sink
    /// starts no thread, and records wait in the queue until a flush, the
    /// guard's drop or a blocked submit runs the worker. The fuzz target's.
    OnDemand,
    /// On its own thread, on real time, as in production.
    Threads,
}

/// Runs one schedule and checks it, the worker on demand
/// ([`Mode::OnDemand`]); panics with the input if an invariant is broken.
pub fn check(input: &Input, submit: Submit) -> Summary {
    check_on(input, Mode::OnDemand, submit)
}

/// [`check`], the worker where `mode` says.
///
/// A held phase ([`Phase::hold`]): with threads, the writer blocks in its
/// next `write` until the phase ends, while the producers fill the queue;
/// on demand, the phase's flushes do not run (nothing runs the worker but
/// a blocked submit). With threads the queue is checked against its bounds
/// at the release; on demand, at the end of every phase, where nothing
/// runs the worker.
pub fn check_on(input: &Input, mode: Mode, submit: Submit) -> Summary {
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
        .virtual_time(mode == Mode::OnDemand)
        .on_demand(mode == Mode::OnDemand)
        .build()
        .expect("a valid sink configuration");
    let _ = shared.sink.set(sink.clone());
    let run = Run {
        sink: sink.clone(),
        submit,
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
        if hold && mode == Mode::Threads {
            shared.lock().armed = true;
        }
        let flush = !(hold && mode == Mode::OnDemand);
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
                let o = run.producer(lane, &ops, g.as_deref(), flush);
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
        let pooled = super::super::pool::run_all_then(jobs, || {
            drop(dropping);
            if let Some(ops) = here {
                first_outcome = Some(run.producer(0, &ops, guard.as_deref(), flush));
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
        if mode == Mode::OnDemand && !early {
            // What the queue holds now is what was accepted and not yet
            // handed to the writer (no call after this one has been made).
            let call = shared.lock().calls;
            holds.push(HoldPoint {
                call,
                accepted: ok_ids(&all.subs),
            });
        } else if hold {
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
