//! Target `sink`: the input (bounds, the writer's script, phases of
//! producers' operations) and how it decodes.

use super::*;

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
    /// Waits up to `n % 4` ticks (100 µs each).
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
    /// Sleeps `1 + n % 3` ticks (100 µs each), then takes everything.
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
    /// Then a flush waiting up to `n % 20` ticks (100 µs each).
    pub flush_after: Option<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    Submit {
        len: u16,
        level: Lvl,
        shape: Shape,
    },
    /// `FlushGuard::flush` waiting up to `n % 4` ticks (100 µs each).
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
    super::super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8], submit: Submit) -> Option<Summary> {
    decode(bytes).map(|input| check(&input, submit))
}
