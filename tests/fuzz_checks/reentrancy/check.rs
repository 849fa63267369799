//! Target `reentrancy`: the invariants after every top-level action.

use super::*;

/// Counts over one run, for tests that check the harness is not vacuous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events emitted by application code (on any thread).
    pub emitted_outside: u64,
    /// Events emitted by layers, writers and fields' `Debug`.
    pub emitted_inside: u64,
    /// Events emitted by application code that the filter rejected.
    pub filtered: u64,
    /// Span `record`s made inside the logging path.
    pub records_inside: u64,
    /// Events `Probe::on_event` saw.
    pub delivered: u64,
    /// The guard's `dropped.recursion`.
    pub dropped_recursion: u64,
    /// `external_call`s allowed (application code).
    pub external_allowed: u64,
    /// `external_call`s refused (inside the logging path).
    pub external_refused: u64,
}

impl Totals {
    pub(super) fn now(stats: &StatsHandle) -> Totals {
        Totals {
            emitted_outside: EMITTED_OUTSIDE.load(Relaxed),
            emitted_inside: EMITTED_INSIDE.load(Relaxed),
            filtered: FILTERED.load(Relaxed),
            records_inside: RECORDS_INSIDE.load(Relaxed),
            delivered: DELIVERED.load(Relaxed),
            // After every top-level action: the counts alone, not a copy
            // of the recursion pairs (a tenth of the target's time).
            dropped_recursion: stats.dropped().recursion,
            external_allowed: EXTERNAL_ALLOWED.load(Relaxed),
            external_refused: EXTERNAL_REFUSED.load(Relaxed),
        }
    }

    pub(super) fn since(self, before: Totals) -> Totals {
        Totals {
            emitted_outside: self.emitted_outside - before.emitted_outside,
            emitted_inside: self.emitted_inside - before.emitted_inside,
            filtered: self.filtered - before.filtered,
            records_inside: self.records_inside - before.records_inside,
            delivered: self.delivered - before.delivered,
            dropped_recursion: self.dropped_recursion - before.dropped_recursion,
            external_allowed: self.external_allowed - before.external_allowed,
            external_refused: self.external_refused - before.external_refused,
        }
    }
}

/// Checks the invariants since `before`; panics with the program if one is
/// broken. Returns the counts now.
pub(super) fn verify(
    stats: &StatsHandle,
    before: Totals,
    after_what: &dyn Fn() -> String,
    program: &Program,
) -> Totals {
    let now = Totals::now(stats);
    let d = now.since(before);
    let mut problems = std::mem::take(&mut *VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner()));
    if in_logging_path() {
        problems.push("in_logging_path() is still true".into());
    }
    if in_callback() {
        problems.push("harness bug: a callback guard was not dropped".into());
    }
    if d.delivered != d.emitted_outside {
        problems.push(format!(
            "{} events emitted outside the logging path, {} delivered",
            d.emitted_outside, d.delivered
        ));
    }
    if d.dropped_recursion != d.emitted_inside + d.records_inside {
        problems.push(format!(
            "{} events emitted and {} span records made inside the logging path, {} dropped as \
             recursion (if fewer and the guard is right: a scoped dispatcher somewhere in this \
             process sends nested events to Dispatch::none before the guard sees them)",
            d.emitted_inside, d.records_inside, d.dropped_recursion
        ));
    }
    if !problems.is_empty() {
        panic!(
            "reentrancy check failed after {}:\n  - {}\ncounts: {d:?}\nprogram: {program:#?}",
            after_what(),
            problems.join("\n  - ")
        );
    }
    now
}

/// Runs `program` under the guarded global subscriber, checking the
/// invariants after each top-level action and after closing its spans.
pub fn check(program: &Program, stack: Stack) -> Totals {
    let stats = install(stack);
    assert!(
        !in_logging_path() && !in_callback(),
        "a check must start outside the logging path"
    );
    let c = program.config;
    let cap = |n: u8| u32::from(n % (MAX_LOGS + 1));
    LAYER_LOGS_ON_EVENT.store(cap(c.layer_logs_on_event), Relaxed);
    LAYER_LOGS_ON_SPAN.store(cap(c.layer_logs_on_span), Relaxed);
    WRITER_LOGS.store(cap(c.writer_logs), Relaxed);
    WRITER_PANICS.store(c.writer_panics, Relaxed);
    FILTER_TRACE.store(c.filter_trace, Relaxed);
    STEPS.store(0, Relaxed);
    THREADS.store(0, Relaxed);
    VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner()).clear();

    let interp = Interp::new(program);
    let start = Totals::now(stats);
    let mut last = start;
    let mut entered = Vec::new();
    if let Some(main) = interp.blocks.first() {
        for (n, action) in main.iter().enumerate() {
            if !take_step() {
                break;
            }
            // A panic the program raised ends the action, as it would end
            // a request in a server that survives it.
            catch(|| interp.act(action, 0, &mut entered));
            last = verify(
                stats,
                last,
                &|| format!("top-level action #{n} ({action:?})"),
                program,
            );
        }
    }
    // Exiting and closing spans run the layers (which may log) too.
    catch(|| {
        exit_all(&mut entered);
        clear_spans();
    });
    let end = verify(
        stats,
        last,
        &|| "exiting and closing the program's spans".into(),
        program,
    );
    end.since(start)
}
