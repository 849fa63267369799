//! Target `encode`: arbitrary events and spans through `JsonLayer`, under
//! arbitrary layer options, into a sink whose writer keeps the bytes.
//!
//! Input: the layer's options (JSON or text; timestamp; flatten event and
//! span fields; current span, span list, target, file, line, thread name
//! and id; static fields whose keys collide with the format's; a small
//! `max_field_bytes` and `max_record`), and a program of events, spans
//! (new, with a contextual, root or explicit parent; enter, exit, close;
//! `record`) whose fields come from a fixed pool of names (`message`,
//! `level`, `target`, `fields`, `span`, `name`, duplicates, `log.*`,
//! `r#type`, control characters, U+2028, a long one) in any order and any
//! number of times, with values of every type: u64, i64, u128, i128, f64
//! (NaN, ±inf, -0.0, subnormals), bool, strings with any characters (and
//! very long), `Debug`/`Display` that write in pieces and then succeed,
//! fail or panic (with a string, a non-string payload, or a payload whose
//! destructor panics), `dyn Error` with chains of sources (cycles, a
//! `source()` that panics), and bytes.
//!
//! Field names must be `'static`: the events and spans use pre-built call
//! sites whose field set is the whole pool, and a hand-made `ValueSet`
//! picks fields from it in any order, repeats included.
//!
//! Checked for every event:
//! - the caller is never unwound, and `in_logging_path()` is false after
//!   every action;
//! - exactly one line per event, in order, at most `max_record` bytes with
//!   its newline, valid UTF-8, no raw control character or U+2028/U+2029;
//! - JSON: `serde_json` parses it; a strict tokenizer finds no duplicate key
//!   in any object; `level`, the static fields, every event field (in
//!   order), `.sources` of errors, the target, file and line, the current
//!   span, the span list and flattened span fields are where the format
//!   puts them, each key its field's name or `name.N`, each value exactly
//!   what went in (integers exact, floats bit for bit, strings unescaped
//!   back to the same text) unless it is a prefix cut with
//!   `…[truncated N bytes]` and N the bytes left out; a failing or panicking
//!   `Debug`/`Display` gives its marker; a record cut down to its message
//!   says so in `truncated`;
//! - text: one line that shows the level.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbitrary::Arbitrary;
use layer_safe::sink::Overflow;
use layer_safe::{in_logging_path, FlushGuard, JsonLayer, LineFormat, Sink, Timestamp};
use tracing::Span;
use tracing_core::callsite::{DefaultCallsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::{Event, Kind, Level, Metadata};

use super::json_support::{self, J};
pub use super::Lvl;
use super::{catch_any, deliberate_panic, install_panic_hook};

/// The stack: the layer under test and its eager oracle, guarded with the
/// counters (`calls.rs`'s `encode_stack`, compiled with coverage).
pub type Stack = fn(JsonLayer, JsonLayer, layer_safe::StatsHandle) -> tracing_core::Dispatch;

// Bounds that keep one input fast.
const MAX_ACTIONS: usize = 32;
const MAX_FIELDS: usize = 8;
const MAX_SPANS: usize = 8;
const MAX_STATICS: usize = 4;
const MAX_CHUNKS: usize = 8;
/// The longest string a value materialises to (over the default 64 KiB
/// record, so the default budget cuts it too).
const MAX_STR: usize = 70_000;
const MAX_ERROR_CHAIN: usize = 20;

// The check, in the order it runs: call sites and the input, the values
// and the program that logs them, then the lines checked against it.
mod check;
mod input;
mod members;
mod model;
mod oracle;
mod runtime;
mod sites;

pub use check::*;
pub use input::*;
use members::*;
use model::*;
use oracle::*;
use runtime::*;
pub use sites::*;
