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
//! held (see [`check_on`]), optionally followed by a flush; the guard may
//! be dropped while the last phase's producers still submit.
//!
//! The worker runs on demand ([`Mode::OnDemand`]): the sink starts no
//! thread, and whichever thread waits for the worker runs it, a flush (a
//! producer's, or the harness's between phases), the guard's drop, or a
//! submit blocked on a full queue, concurrently with the other producers'
//! submits. What the queue holds between those is the input's to decide.
//! The stable replay also runs every input with the worker on a thread of
//! its own, on real time ([`Mode::Threads`]).
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
//! - the byte budget and the capacity: at the end of every phase (on
//!   demand; with threads, while the writer is held), the records accepted
//!   and not yet handed to the writer (the queue) never hold more than
//!   `byte_budget` bytes, nor one thread's lane more than `capacity`
//!   records;
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

/// How a producer submits: `Sink::buffer` filled with the record, then
/// `Sink::submit` (`calls.rs`'s `submit`, compiled with coverage).
pub type Submit = fn(&Sink, Level, &[u8]) -> Result<(), DropReason>;

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

// The check, in the order it runs: the input, the records, the writer
// that takes them, the run, and the verdict on what came out.
mod input;
mod records;
mod run;
mod verify;
mod writer;

pub use input::*;
use records::*;
pub use run::*;
use verify::*;
use writer::*;
