//! Target `reentrancy`: the input (the layers' behaviour and blocks of
//! actions) and how it decodes.

use super::*;

/// An arbitrary program: a configuration of the installed layers, and
/// blocks of actions. Block 0 is the main program; a block can run only
/// blocks after it, so every program terminates.
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct Program {
    pub config: Config,
    pub blocks: Vec<Vec<Action>>,
}

/// What the installed layers do, for this input (counts are taken modulo
/// `MAX_LOGS + 1`).
#[derive(Arbitrary, Debug, Clone, Copy, Default)]
pub struct Config {
    /// Events `Probe` emits from each `on_event`: a layer that logs.
    pub layer_logs_on_event: u8,
    /// Events `Probe` emits from each span callback (new, record, enter,
    /// exit, close).
    pub layer_logs_on_span: u8,
    /// Events the `fmt` layer's writer emits per write: a writer that logs.
    pub writer_logs: u8,
    /// The writer panics after logging: a sink that explodes.
    pub writer_panics: bool,
    /// The filter rejects TRACE events and spans.
    pub filter_trace: bool,
}

/// One step of a program. Span numbers pick one of the thread's live spans
/// (modulo their count); block numbers pick one of the blocks after the
/// current one (none: the action does nothing).
#[derive(Arbitrary, Debug, Clone)]
pub enum Action {
    /// `event!` with up to three fields.
    Event { level: Lvl, fields: Vec<Value> },
    /// `span!` with up to three fields (and an empty `r` to record later);
    /// the span joins the thread's live spans.
    NewSpan { level: Lvl, fields: Vec<Value> },
    /// Enters a live span until `Exit` or the end of the block.
    Enter(u8),
    /// Exits the span entered last in this block.
    Exit,
    /// Drops the thread's handle to a live span (closing it if it was the
    /// last one).
    Close(u8),
    /// `span.record("r", ?value)`.
    Record { span: u8, value: Value },
    /// Runs a block inside `span.in_scope`.
    InSpan { span: u8, block: u8 },
    /// Runs a block.
    Run(u8),
    /// Runs a block under `catch_unwind`, as an application that survives
    /// its own panics does.
    CatchUnwind(u8),
    /// Panics (application code). Caught by the nearest `CatchUnwind`, or
    /// by the driver around each top-level action.
    Panic,
    /// Formats a value with `{:?}` in application code.
    Format(Value),
    /// Runs a block on another thread and waits for it (a pooled thread,
    /// kept across inputs: see `pool::run_elsewhere`).
    OnThread(u8),
    /// `layer_safe::external_call("fuzz")`: must be refused (`Err`) exactly
    /// when the harness is inside a subscriber callback.
    ExternalCall,
}

/// A field value, formatted by whatever visits the field.
#[derive(Arbitrary, Debug, Clone)]
pub enum Value {
    Int(i64),
    Str(String),
    /// Its `Debug` logs an event carrying `LogsDeep(k - 1)`: `k` levels of
    /// logging from `Debug`; [`UNBOUNDED`] logs for ever.
    LogsDeep(u8),
    /// Its `Debug` panics.
    Panics,
    /// Its `Debug` returns `Err(fmt::Error)`.
    Errors,
    /// Its `Debug` runs a block of the program.
    Runs(u8),
}

/// Decodes `bytes` exactly as `fuzz_target!(|program: Program| ..)` does.
pub fn decode(bytes: &[u8]) -> Option<Program> {
    super::super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8], stack: Stack) -> Option<Totals> {
    decode(bytes).map(|program| check(&program, stack))
}
