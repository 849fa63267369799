//! Target `reentrancy`: an arbitrary program of nested logging actions runs
//! under `Guarded`, installed as the process's GLOBAL default subscriber.
//! (Under `with_default`, tracing-core sends nested events to
//! `Dispatch::none` before the guard sees them, which would prove nothing.)
//!
//! The stack: `registry()` + a dynamic filter (asked per event through
//! `enabled`; optionally rejects TRACE) + [`Probe`] (counts deliveries,
//! formats every field, optionally logs from each of its callbacks) + a
//! `fmt` layer whose writer logs (and optionally panics), all `.guarded()`.
//!
//! Checked after every top-level action of the program:
//! - the process is still alive (a stack overflow or abort is a crash the
//!   fuzzer reports);
//! - `in_logging_path()` is `false` again;
//! - accounting: every event emitted outside the logging path and not
//!   filtered out was delivered (seen by `Probe::on_event`), and every event
//!   emitted inside it (by a layer, a writer or a field's `Debug`; filtered
//!   or not: the guard decides before any filter runs), and every span
//!   `record` made inside it, was dropped and counted as
//!   `dropped.recursion`; so `emitted - filtered + records in the path ==
//!   delivered + dropped.recursion`.
//!
//! Checked at every step: `in_logging_path()` agrees with the harness's own
//! view of where it is: `true` in every layer callback, writer and field
//! `Debug` the stack runs, `false` in application code, on any thread; and
//! `layer_safe::external_call` is refused exactly inside the logging path
//! (the process runs under `Policy::Report`, so a refusal is recorded, not
//! a panic).

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use arbitrary::Arbitrary;
use layer_safe::{in_logging_path, StatsHandle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, EnteredSpan, Id, Record};
use tracing::{Event, Level, Span, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

pub use super::Lvl;
use super::{catch, harness_panic, resume_unless_deliberate};

/// The guarded stack and its counters (`calls.rs`'s `reentrancy_stack`,
/// compiled with coverage).
pub type Stack = fn() -> (tracing_core::Dispatch, StatsHandle);

// Bounds that keep one input fast (thousands of runs a second) whatever its
// bytes say. Exceeding them truncates the program; it is never an error.
const MAX_BLOCKS: usize = 16;
const MAX_ACTIONS: usize = 32;
const MAX_FIELDS: usize = 3;
const MAX_SPANS: usize = 8;
/// Actions run per input, all blocks and threads together: a block may run
/// a later block several times, from several places, so without a budget a
/// 16-block program could run 2^16 times over.
const MAX_STEPS: u32 = 2048;
const MAX_THREADS: u32 = 4;
/// The most events a layer or a writer emits per callback.
const MAX_LOGS: u8 = 3;
/// `LogsDeep(UNBOUNDED)` logs from its `Debug` for ever.
pub const UNBOUNDED: u8 = u8::MAX;

// The check, in the order it runs: the input, the counts, the stack
// under test, the interpreter, and the invariants.
mod check;
mod counts;
mod input;
mod interp;
mod stack;

pub use check::*;
pub use counts::filtered;
use counts::*;
pub use input::*;
use interp::*;
pub use stack::*;
