//! The checks' calls into layer-safe's generic and `#[inline]` code: the
//! sink's submit, and the subscriber stacks, whose `Subscriber` and `Layer`
//! methods are compiled where the stack becomes a `Dispatch`. Each
//! target's `check` takes its own (the others are not compiled into it).
//!
//! Not part of `fuzz_checks`' module tree: each fuzz target includes this
//! file (`#[path]`), so that this code is compiled into the target, with
//! coverage instrumentation, while the checks' own crate is compiled
//! without it (`fuzz/coverage-scope`). The stable replay includes it too.
//! Code inlined into a crate is compiled with that crate's flags: called
//! from the checks' crate, `Sink::submit` would be compiled there, and the
//! fuzzer would not see its branches.

use layer_safe::{DropReason, GuardedExt, JsonLayer, Sink, StatsHandle};
use tracing_core::{Dispatch, Level};
use tracing_subscriber::prelude::*;

use crate::fuzz_checks::reentrancy::{self, Brief, LenientFields, LoggingWriter, Probe};

/// `sink`'s submit: `Sink::buffer`, filled with the record, then
/// `Sink::submit`.
pub fn submit(sink: &Sink, level: Level, bytes: &[u8]) -> Result<(), DropReason> {
    let mut record = sink.buffer();
    record.extend_from_slice(bytes);
    sink.submit(level, record)
}

/// `encode`'s stack: the layer under test and its eager oracle.
pub fn encode_stack(deferred: JsonLayer, eager: JsonLayer, stats: StatsHandle) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(deferred)
            .with(eager)
            .guarded_with(stats),
    )
}

/// `reentrancy`'s stack: a dynamic filter (so the guard's `enabled` runs
/// for every event), the counting layer, and a `fmt` layer whose writer
/// logs. `Probe` is inside the fmt layer, so its `on_event` runs first: a
/// delivery is counted even if the writer then panics.
pub fn reentrancy_stack() -> (Dispatch, StatsHandle) {
    let fmt = tracing_subscriber::fmt::layer()
        .event_format(Brief)
        .fmt_fields(LenientFields)
        .with_writer(|| LoggingWriter)
        .with_ansi(false)
        .log_internal_errors(false);
    let filter = tracing_subscriber::filter::dynamic_filter_fn(|meta, _| {
        !reentrancy::filtered(*meta.level())
    });
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(Probe)
        .with(fmt)
        .guarded();
    let stats = subscriber.stats_handle();
    (Dispatch::new(subscriber), stats)
}
