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
use layer_safe::{in_logging_path, FlushGuard, GuardedExt, JsonLayer, LineFormat, Sink, Timestamp};
use tracing::Span;
use tracing_core::callsite::{DefaultCallsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::{Event, Kind, Level, Metadata};
use tracing_subscriber::prelude::*;

use super::json_support::{self, J};
pub use super::Lvl;
use super::{catch_any, deliberate_panic, install_panic_hook};

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

// ------------------------------------------------------------ call sites

const LONG_NAME: &str = concat!(
    "long_name_",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
);
const WEIRD_TARGET: &str = "tgt\u{2028}\"\\\n\u{0}é😀";
const LONG_TARGET: &str = concat!(
    "fuzz::long::",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
);
const WEIRD_SPAN: &str = "sp\u{2028}\"an\n\u{1b}";

/// Every call site's field set: names the format uses, duplicates,
/// collisions with renamed keys, `log.*` (not shown in events), `r#`
/// (stripped in spans), escapes, and a long name.
pub const NAMES: &[&str] = &[
    "message",
    "message",
    "level",
    "target",
    "fields",
    "span",
    "spans",
    "name",
    "timestamp",
    "threadName",
    "truncated",
    "service",
    "a",
    "a",
    "a.1",
    "r#type",
    "log.target",
    "",
    "\u{0}\n\r\t",
    "\"\\",
    "\u{2028}\u{2029}",
    "é😀\u{7f}",
    "\u{1b}[31mred",
    LONG_NAME,
];

macro_rules! site {
    ($site:ident, $meta:ident, $name:expr, $target:expr, $level:expr, $kind:expr, $file:expr, $line:expr) => {
        static $meta: Metadata<'static> = Metadata::new(
            $name,
            $target,
            $level,
            $file,
            $line,
            Some(module_path!()),
            FieldSet::new(NAMES, Identifier(&$site)),
            $kind,
        );
        static $site: DefaultCallsite = DefaultCallsite::new(&$meta);
    };
}

macro_rules! levels {
    ($name:expr, $target:expr, $kind:expr, $file:expr, $line:expr) => {{
        site!(S0, M0, $name, $target, Level::TRACE, $kind, $file, $line);
        site!(S1, M1, $name, $target, Level::DEBUG, $kind, $file, $line);
        site!(S2, M2, $name, $target, Level::INFO, $kind, $file, $line);
        site!(S3, M3, $name, $target, Level::WARN, $kind, $file, $line);
        site!(S4, M4, $name, $target, Level::ERROR, $kind, $file, $line);
        [&M0, &M1, &M2, &M3, &M4]
    }};
}

type Sites = [[&'static Metadata<'static>; 5]; 3];

static EVENT_SITES: Sites = [
    levels!(
        "event",
        "fuzz::encode",
        Kind::EVENT,
        Some(file!()),
        Some(line!())
    ),
    levels!(
        "event",
        WEIRD_TARGET,
        Kind::EVENT,
        Some(file!()),
        Some(line!())
    ),
    levels!("event", LONG_TARGET, Kind::EVENT, None, None),
];

static SPAN_SITES: Sites = [
    levels!(
        "span",
        "fuzz::encode",
        Kind::SPAN,
        Some(file!()),
        Some(line!())
    ),
    levels!(
        WEIRD_SPAN,
        "fuzz::encode",
        Kind::SPAN,
        Some(file!()),
        Some(line!())
    ),
    levels!("name", LONG_TARGET, Kind::SPAN, None, None),
];

fn site(sites: &Sites, which: u8, level: Lvl) -> &'static Metadata<'static> {
    sites[usize::from(which) % 3][level as usize]
}

// ------------------------------------------------------------- the input

/// One input: the layer's options and a program.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub opts: Opts,
    pub actions: Vec<Action>,
}

#[derive(Arbitrary, Debug, Clone, Default)]
pub struct Opts {
    pub text: bool,
    pub ansi: bool,
    /// RFC 3339, Unix nanoseconds, off (modulo 3).
    pub timestamp: u8,
    pub flatten_event: bool,
    pub flatten_spans: bool,
    pub no_current_span: bool,
    pub no_span_list: bool,
    pub no_target: bool,
    pub file: bool,
    pub line: bool,
    pub thread_names: bool,
    pub thread_ids: bool,
    /// (key, value) picks from [`STATIC_KEYS`] and [`static_value`].
    pub statics: Vec<(u8, u8)>,
    /// A pick from [`MAX_FIELD`].
    pub max_field: u8,
    /// A pick from [`MAX_RECORD`].
    pub max_record: u8,
}

pub const MAX_FIELD: [usize; 11] = [0, 1, 2, 8, 16, 40, 64, 200, 1024, 16 * 1024, 1 << 20];
pub const MAX_RECORD: [usize; 8] = [256, 300, 512, 1024, 2048, 4096, 16 * 1024, 64 * 1024];

const STATIC_KEYS: [&str; 10] = [
    "service",
    "level",
    "fields",
    "timestamp",
    "name",
    "message",
    "a.1",
    "x\u{2028}\n\"",
    "",
    "span",
];

fn static_value(pick: u8) -> serde_json::Value {
    use serde_json::json;
    match pick % 7 {
        0 => json!("checkout"),
        1 => json!("quote\" backslash\\ nl\n ls\u{2028} nul\u{0} é😀"),
        2 => json!(-42),
        3 => json!(1.5),
        4 => json!(true),
        5 => json!(null),
        _ => json!({"team": "payments", "n": [1, 2, {"deep": "x\u{1}"}], "team\n": 0}),
    }
}

/// One step of the program. Span numbers pick one of the live spans
/// (modulo their count).
#[derive(Arbitrary, Debug, Clone)]
pub enum Action {
    Event {
        site: u8,
        level: Lvl,
        parent: Parent,
        fields: Vec<(u8, FVal)>,
    },
    NewSpan {
        site: u8,
        level: Lvl,
        parent: Parent,
        fields: Vec<(u8, FVal)>,
    },
    /// `span.record_all(..)` with these fields of the span's own set.
    Record {
        span: u8,
        fields: Vec<(u8, FVal)>,
    },
    /// Enters a live span (until `Exit` or the end).
    Enter(u8),
    Exit,
    /// Drops the program's handle to a live span.
    Close(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Parent {
    /// The current span (contextual).
    Current,
    /// No parent.
    Root,
    /// A live span, explicitly.
    Span(u8),
}

/// A field value.
#[derive(Arbitrary, Debug, Clone)]
pub enum FVal {
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    /// A pick from [`SPECIAL_FLOATS`].
    F64Special(u8),
    Bool(bool),
    /// `record_str`.
    Str(FStr),
    /// `field::debug(string)`: the string's `Debug`, quoted and escaped.
    DebugStr(FStr),
    /// `field::display(string)`.
    DisplayStr(FStr),
    /// `field::debug(..)` of a value whose `Debug` writes these pieces,
    /// then ends as told.
    Debug(FmtSpec),
    /// `field::display(..)` of the same.
    Display(FmtSpec),
    /// A `dyn Error`.
    Error(ErrSpec),
    /// `record_bytes`.
    Bytes(Vec<u8>),
}

pub const SPECIAL_FLOATS: [f64; 11] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    0.0,
    f64::MIN_POSITIVE,
    5e-324,
    f64::MAX,
    f64::MIN,
    1e21,
    0.1,
];

/// A string.
#[derive(Arbitrary, Debug, Clone)]
pub enum FStr {
    Any(String),
    /// Pieces from [`PALETTE`].
    Palette(Vec<u8>),
    /// A [`PALETTE`] piece, repeated (up to [`MAX_STR`] bytes).
    Repeat {
        piece: u8,
        times: u16,
    },
    /// Any text, repeated (up to [`MAX_STR`] bytes).
    Long {
        unit: String,
        times: u16,
    },
}

pub const PALETTE: [&str; 20] = [
    "\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{1f}",
    "\u{7f}",
    "\u{2028}",
    "\u{2029}",
    "\"",
    "\\",
    "é",
    "😀",
    "…",
    "…[truncated 3 bytes]",
    "a",
    " ",
    "\u{1b}[31m",
    "\u{feff}",
    "\u{fffd}",
    "message",
];

impl FStr {
    pub fn materialize(&self) -> String {
        let mut s = String::new();
        match self {
            FStr::Any(a) => s.push_str(a),
            FStr::Palette(picks) => {
                for p in picks {
                    s.push_str(PALETTE[usize::from(*p) % PALETTE.len()]);
                }
            }
            FStr::Repeat { piece, times } => {
                let piece = PALETTE[usize::from(*piece) % PALETTE.len()];
                let times = usize::from(*times).min(MAX_STR / piece.len());
                s = piece.repeat(times);
            }
            FStr::Long { unit, times } => {
                if !unit.is_empty() {
                    let times = usize::from(*times).min(MAX_STR / unit.len());
                    s = unit.repeat(times);
                }
            }
        }
        if s.len() > MAX_STR {
            let mut cut = MAX_STR;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s
    }
}

/// What a `Debug` or `Display` writes, and how it ends.
#[derive(Arbitrary, Debug, Clone)]
pub struct FmtSpec {
    pub chunks: Vec<FStr>,
    pub end: FmtEnd,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FmtEnd {
    Ok,
    /// Returns `Err(fmt::Error)`.
    Err,
    Panic(PanicKind),
}

/// The payload of a deliberate panic.
#[derive(Arbitrary, Debug, Clone)]
pub enum PanicKind {
    /// A `String` message.
    Message(FStr),
    /// A `&'static str` message.
    Static,
    /// A payload that is no string.
    Opaque,
    /// A payload whose destructor panics too.
    DropPanics,
}

const STATIC_PANIC: &str = "static \"panic\"\nmessage\u{2028}";

/// A `dyn Error`: its `Display`, then its source.
#[derive(Arbitrary, Debug, Clone)]
pub struct ErrSpec {
    pub display: FmtSpec,
    /// `source()` panics.
    pub source_panics: Option<PanicKind>,
    pub next: ErrNext,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum ErrNext {
    None,
    /// `source()` returns the error itself.
    Cycle,
    Chain(Box<ErrSpec>),
}

/// Decodes `bytes` exactly as `fuzz_target!(|input: Input| ..)` does.
pub fn decode(bytes: &[u8]) -> Option<Input> {
    super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8]) -> Option<Summary> {
    decode(bytes).map(|input| check(&input))
}

// ------------------------------------------------------- runtime values

/// A value whose `Debug` and `Display` follow a [`FmtSpec`].
#[derive(Clone)]
struct UserFmt(FmtSpec);

impl UserFmt {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chunks.iter().take(MAX_CHUNKS) {
            f.write_str(&c.materialize())?;
        }
        match &self.0.end {
            FmtEnd::Ok => Ok(()),
            FmtEnd::Err => Err(fmt::Error),
            FmtEnd::Panic(kind) => raise(kind),
        }
    }
}

impl fmt::Debug for UserFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl fmt::Display for UserFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

/// A panic payload whose destructor panics.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            deliberate_panic("a panic payload's destructor panicked");
        }
    }
}

fn raise(kind: &PanicKind) -> ! {
    match kind {
        PanicKind::Message(m) => deliberate_panic(m.materialize()),
        PanicKind::Static => deliberate_panic(STATIC_PANIC),
        PanicKind::Opaque => deliberate_panic(7_u64),
        PanicKind::DropPanics => deliberate_panic(DropBomb),
    }
}

/// A `dyn Error` built from an [`ErrSpec`].
struct FuzzError {
    display: UserFmt,
    source_panics: Option<PanicKind>,
    cycle: bool,
    next: Option<Box<FuzzError>>,
}

impl FuzzError {
    fn new(spec: &ErrSpec, depth: usize) -> FuzzError {
        let next = match &spec.next {
            ErrNext::Chain(n) if depth < MAX_ERROR_CHAIN => {
                Some(Box::new(FuzzError::new(n, depth + 1)))
            }
            _ => None,
        };
        FuzzError {
            display: UserFmt(spec.display.clone()),
            source_panics: spec.source_panics.clone(),
            cycle: matches!(spec.next, ErrNext::Cycle),
            next,
        }
    }
}

impl fmt::Debug for FuzzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FuzzError")
    }
}

impl fmt::Display for FuzzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display.write(f)
    }
}

impl Error for FuzzError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        if let Some(kind) = &self.source_panics {
            raise(kind);
        }
        if self.cycle {
            return Some(self);
        }
        self.next.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

fn to_value(v: &FVal) -> Box<dyn Value> {
    use tracing::field::{debug, display};
    match v {
        FVal::U64(x) => Box::new(*x),
        FVal::I64(x) => Box::new(*x),
        FVal::U128(x) => Box::new(*x),
        FVal::I128(x) => Box::new(*x),
        FVal::F64(x) => Box::new(*x),
        FVal::F64Special(k) => Box::new(special_float(*k)),
        FVal::Bool(x) => Box::new(*x),
        FVal::Str(s) => Box::new(s.materialize()),
        FVal::DebugStr(s) => Box::new(debug(s.materialize())),
        FVal::DisplayStr(s) => Box::new(display(s.materialize())),
        FVal::Debug(spec) => Box::new(debug(UserFmt(spec.clone()))),
        FVal::Display(spec) => Box::new(display(UserFmt(spec.clone()))),
        FVal::Error(spec) => {
            let e: Box<dyn Error + 'static> = Box::new(FuzzError::new(spec, 0));
            Box::new(e)
        }
        FVal::Bytes(b) => Box::new(b.clone().into_boxed_slice()),
    }
}

fn special_float(k: u8) -> f64 {
    SPECIAL_FLOATS[usize::from(k) % SPECIAL_FLOATS.len()]
}

/// The fields an action gives: (index in [`NAMES`], value), at most
/// [`MAX_FIELDS`].
fn picks(fields: &[(u8, FVal)]) -> Vec<(usize, FVal)> {
    fields
        .iter()
        .take(MAX_FIELDS)
        .map(|(i, v)| (usize::from(*i) % NAMES.len(), v.clone()))
        .collect()
}

/// Calls `f` with a `ValueSet` of `meta`'s fields holding `fields`, in that
/// order (repeats included).
fn with_values<R>(
    meta: &'static Metadata<'static>,
    fields: &[(usize, FVal)],
    f: impl FnOnce(&tracing_core::field::ValueSet<'_>) -> R,
) -> R {
    let set = meta.fields();
    let all: Vec<_> = set.iter().collect();
    let values: Vec<Box<dyn Value>> = fields.iter().map(|(_, v)| to_value(v)).collect();
    let mut arr: [(&tracing_core::field::Field, Option<&dyn Value>); MAX_FIELDS] =
        std::array::from_fn(|_| (&all[0], None));
    for (slot, ((i, _), v)) in arr.iter_mut().zip(fields.iter().zip(&values)) {
        *slot = (&all[*i], Some(&**v));
    }
    f(&set.value_set(&arr))
}

// ------------------------------------------------------------- the model

/// What the harness knows of a span.
#[derive(Clone, Debug)]
struct SpanModel {
    meta: &'static Metadata<'static>,
    parent: Option<usize>,
    /// (field index, value), as the layer keeps them: a `record` replaces
    /// every entry of each field it records.
    entries: Vec<(usize, FVal)>,
}

/// An event as emitted, for checking its line.
struct Emitted {
    meta: &'static Metadata<'static>,
    fields: Vec<(usize, FVal)>,
    /// The event's spans, root first, as they were when it was emitted.
    spans: Vec<SpanModel>,
}

struct Program {
    models: Vec<SpanModel>,
    /// Live handles: (model, span).
    live: Vec<(usize, Span)>,
    entered: Vec<tracing::span::EnteredSpan>,
    /// Span id -> model, for the current span.
    by_id: std::collections::HashMap<u64, usize>,
    emitted: Vec<Emitted>,
    problems: Vec<String>,
}

impl Program {
    fn live(&self, n: u8) -> Option<(usize, Span)> {
        (!self.live.is_empty()).then(|| self.live[usize::from(n) % self.live.len()].clone())
    }

    fn current(&self) -> Option<usize> {
        let id = Span::current().id()?;
        self.by_id.get(&id.into_u64()).copied()
    }

    fn chain(&self, leaf: Option<usize>) -> Vec<SpanModel> {
        let mut chain = Vec::new();
        let mut at = leaf;
        while let Some(i) = at {
            chain.push(self.models[i].clone());
            at = self.models[i].parent;
        }
        chain.reverse();
        chain
    }

    fn act(&mut self, action: &Action) {
        match action {
            Action::Event {
                site: s,
                level,
                parent,
                fields,
            } => {
                let meta = site(&EVENT_SITES, *s, *level);
                let fields = picks(fields);
                let (leaf, explicit) = self.parent(*parent);
                let spans = self.chain(leaf);
                let outcome = catch_any(|| {
                    with_values(meta, &fields, |values| match explicit {
                        Some(p) => Event::child_of(p, meta, values),
                        None => Event::dispatch(meta, values),
                    })
                });
                if let Err(msg) = outcome {
                    self.problems
                        .push(format!("an event unwound its caller: {msg}"));
                }
                self.emitted.push(Emitted {
                    meta,
                    fields,
                    spans,
                });
            }
            Action::NewSpan {
                site: s,
                level,
                parent,
                fields,
            } => {
                if self.live.len() >= MAX_SPANS {
                    return;
                }
                let meta = site(&SPAN_SITES, *s, *level);
                let fields = picks(fields);
                let (parent, explicit) = self.parent(*parent);
                let span = catch_any(|| {
                    with_values(meta, &fields, |values| match explicit {
                        Some(p) => Span::child_of(p, meta, values),
                        None => Span::new(meta, values),
                    })
                });
                match span {
                    Ok(span) => {
                        let Some(id) = span.id() else {
                            self.problems.push("a new span is disabled".into());
                            return;
                        };
                        self.models.push(SpanModel {
                            meta,
                            parent,
                            entries: fields,
                        });
                        let m = self.models.len() - 1;
                        self.by_id.insert(id.into_u64(), m);
                        self.live.push((m, span));
                    }
                    Err(msg) => self
                        .problems
                        .push(format!("a new span unwound its caller: {msg}")),
                }
            }
            Action::Record { span, fields } => {
                let Some((m, span)) = self.live(*span) else {
                    return;
                };
                let fields = picks(fields);
                let meta = self.models[m].meta;
                if let Err(msg) = catch_any(|| {
                    with_values(meta, &fields, |v| {
                        span.record_all(v);
                    })
                }) {
                    self.problems
                        .push(format!("a span record unwound its caller: {msg}"));
                }
                let model = &mut self.models[m];
                model
                    .entries
                    .retain(|(i, _)| !fields.iter().any(|(j, _)| i == j));
                model.entries.extend(fields);
            }
            Action::Enter(n) => {
                if let Some((_, span)) = self.live(*n) {
                    match catch_any(|| span.entered()) {
                        Ok(e) => self.entered.push(e),
                        Err(msg) => self
                            .problems
                            .push(format!("entering a span unwound: {msg}")),
                    }
                }
            }
            Action::Exit => {
                if let Some(e) = self.entered.pop() {
                    if let Err(msg) = catch_any(|| drop(e)) {
                        self.problems.push(format!("exiting a span unwound: {msg}"));
                    }
                }
            }
            Action::Close(n) => {
                if !self.live.is_empty() {
                    let i = usize::from(*n) % self.live.len();
                    let (_, span) = self.live.remove(i);
                    if let Err(msg) = catch_any(|| drop(span)) {
                        self.problems.push(format!("closing a span unwound: {msg}"));
                    }
                }
            }
        }
        if in_logging_path() {
            self.problems
                .push(format!("in_logging_path() is true after {action:?}"));
        }
    }

    /// The parent an event or span gets: (its model, the explicit parent to
    /// pass, if any).
    fn parent(&self, p: Parent) -> (Option<usize>, Option<Option<tracing_core::span::Id>>) {
        match p {
            Parent::Current => (self.current(), None),
            Parent::Root => (None, Some(None)),
            Parent::Span(n) => match self.live(n) {
                Some((m, span)) => (Some(m), Some(span.id())),
                None => (self.current(), None),
            },
        }
    }
}

// ---------------------------------------------------------- the checks

/// Counts over one run, for tests that check the harness is not vacuous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub events: usize,
    pub json: usize,
    /// Records the layer cut down to their message.
    pub cut_down: usize,
    /// Values cut with a marker.
    pub truncated_values: usize,
    /// Markers for a `Debug`/`Display` that failed or panicked.
    pub fmt_markers: usize,
    /// Members checked against an expected value.
    pub values_checked: usize,
    /// Records the sink truncated: the layer could not cut them to fit.
    pub sink_truncated: usize,
}

/// The layer's settled options, as the checks need them.
struct Cfg {
    text: bool,
    timestamp: Timestamp,
    flatten_event: bool,
    flatten_spans: bool,
    current_span: bool,
    span_list: bool,
    target: bool,
    file: bool,
    line: bool,
    thread_names: bool,
    thread_ids: bool,
    /// Static fields as set (a key set again replaces its value in place).
    statics: Vec<(&'static str, serde_json::Value)>,
    max_record: usize,
}

impl Cfg {
    fn from(o: &Opts) -> Cfg {
        let mut statics: Vec<(&'static str, serde_json::Value)> = Vec::new();
        for (k, v) in o.statics.iter().take(MAX_STATICS) {
            let key = STATIC_KEYS[usize::from(*k) % STATIC_KEYS.len()];
            let value = static_value(*v);
            match statics.iter_mut().find(|(sk, _)| *sk == key) {
                Some(slot) => slot.1 = value,
                None => statics.push((key, value)),
            }
        }
        Cfg {
            text: o.text,
            timestamp: match o.timestamp % 3 {
                0 => Timestamp::Rfc3339Micros,
                1 => Timestamp::UnixNanos,
                _ => Timestamp::Off,
            },
            flatten_event: o.flatten_event,
            flatten_spans: o.flatten_spans,
            current_span: !o.no_current_span,
            span_list: !o.no_span_list,
            target: !o.no_target,
            file: o.file,
            line: o.line,
            thread_names: o.thread_names,
            thread_ids: o.thread_ids,
            statics,
            max_record: MAX_RECORD[usize::from(o.max_record) % MAX_RECORD.len()],
        }
    }
}

/// A writer that keeps every byte.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<u8>>>);

impl io::Write for Keep {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink kept across inputs (one per `max_record`): starting one (its
/// worker thread) and shutting it down was most of an input's cost. Idle
/// and flushed between inputs, so what its writer holds after an input's
/// flush is that input's lines; its counters are compared before and after.
struct Kept {
    max_record: usize,
    sink: Sink,
    guard: FlushGuard,
    out: Keep,
    /// Layers registered with it (a sink takes at most 255).
    layers: u32,
}

/// A sink serves this many inputs, then a new one is started.
const SINK_INPUTS: u32 = 200;

static SINKS: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn kept_sink(max_record: usize) -> Kept {
    let mut sinks = SINKS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = sinks.iter().position(|k| k.max_record == max_record) {
        let k = sinks.swap_remove(i);
        if k.layers < SINK_INPUTS {
            return k;
        }
    }
    drop(sinks);
    let out = Keep::default();
    let (sink, guard) = Sink::builder()
        .writer(out.clone())
        .capacity(64)
        .max_record(max_record)
        // Room for every event of an input: a caller that blocks sleeps.
        .byte_budget(max_record * 2 * (MAX_ACTIONS + 8))
        // Nothing may be dropped: every event must give its line.
        .overflow(Overflow::Block {
            timeout: Duration::from_secs(30),
        })
        .high_water_mark(100)
        // Its naps cost nothing: a flush is answered at once.
        .virtual_time(true)
        .build()
        .expect("a valid sink configuration");
    Kept {
        max_record,
        sink,
        guard,
        out,
        layers: 0,
    }
}

/// Runs `input` and checks every line; panics with the input if an
/// invariant is broken.
pub fn check(input: &Input) -> Summary {
    install_panic_hook();
    let o = &input.opts;
    let cfg = Cfg::from(o);
    let mut kept = kept_sink(cfg.max_record);
    kept.layers += 1;
    let sink = kept.sink.clone();
    let out = kept.out.clone();
    out.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let before = sink.stats();
    // The oracle: the same options, formatting on the caller with spans
    // looked up fresh, as before formatting moved to the worker. Its lines
    // must be the deferred path's, byte for byte.
    let mut eager_kept = kept_sink(cfg.max_record);
    eager_kept.layers += 1;
    let eager_out = eager_kept.out.clone();
    eager_out
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    let subscriber = tracing_subscriber::registry()
        .with(layer(o, &cfg, sink.clone()).build())
        .with(layer(o, &cfg, eager_kept.sink.clone()).eager(true).build())
        .guarded();

    let mut program = Program {
        models: Vec::new(),
        live: Vec::new(),
        entered: Vec::new(),
        by_id: Default::default(),
        emitted: Vec::new(),
        problems: Vec::new(),
    };
    tracing::subscriber::with_default(subscriber, || {
        for action in input.actions.iter().take(MAX_ACTIONS) {
            program.act(action);
        }
        // Exit and close inside the scope: closing runs the layer too.
        while let Some(e) = program.entered.pop() {
            if let Err(msg) = catch_any(|| drop(e)) {
                program
                    .problems
                    .push(format!("exiting a span unwound: {msg}"));
            }
        }
        for (_, span) in std::mem::take(&mut program.live) {
            if let Err(msg) = catch_any(|| drop(span)) {
                program
                    .problems
                    .push(format!("closing a span unwound: {msg}"));
            }
        }
    });
    let flushed = kept.guard.flush(Duration::from_secs(30))
        && eager_kept.guard.flush(Duration::from_secs(30));
    let after = sink.stats();
    let bytes = std::mem::take(&mut *out.0.lock().unwrap_or_else(|e| e.into_inner()));
    let eager = std::mem::take(&mut *eager_out.0.lock().unwrap_or_else(|e| e.into_inner()));
    let eager_settled = eager_kept.sink.stats().in_flight == 0;
    // Back for the next input, unless this one left them unsettled.
    if flushed && after.in_flight == 0 && eager_settled {
        let mut sinks = SINKS.lock().unwrap_or_else(|e| e.into_inner());
        sinks.push(kept);
        sinks.push(eager_kept);
    }
    let dropped = after.dropped.total() - before.dropped.total();
    let submitted = after.submitted - before.submitted;

    let mut problems = program.problems;
    let mut summary = Summary {
        events: program.emitted.len(),
        ..Summary::default()
    };
    if !flushed {
        problems.push("the sink did not flush".into());
    }
    if dropped != 0 || submitted != program.emitted.len() as u64 {
        problems.push(format!(
            "{} events, but the sink says {submitted} submitted, {dropped} dropped: {after:?}",
            program.emitted.len()
        ));
    }
    match std::str::from_utf8(&bytes) {
        Err(e) => problems.push(format!("the output is not UTF-8: {e}")),
        Ok(text) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.len() != program.emitted.len() {
                problems.push(format!(
                    "{} events gave {} lines",
                    program.emitted.len(),
                    lines.len()
                ));
            }
            for (n, (line, ev)) in lines.iter().zip(&program.emitted).enumerate() {
                if let Err(e) = check_line(&cfg, line, ev, &mut summary) {
                    problems.push(format!("event #{n}: {e}\n    line: {line:?}"));
                }
            }
            let eager = String::from_utf8_lossy(&eager);
            for (n, (d, e)) in lines.iter().zip(eager.split_inclusive('\n')).enumerate() {
                if untimed(d) != untimed(e) {
                    problems.push(format!(
                        "event #{n}: deferred and eager differ\n    deferred: {d:?}\n    eager:    {e:?}"
                    ));
                }
            }
            if eager.split_inclusive('\n').count() != lines.len() {
                problems.push("deferred and eager wrote different numbers of lines".into());
            }
        }
    }
    if !problems.is_empty() {
        panic!(
            "encode check failed:\n  - {}\ninput: {input:#?}",
            problems.join("\n  - ")
        );
    }
    summary
}

/// The line without its timestamps: the eager path reads the clock on the
/// caller, the deferred one converts the caller's ticks on the worker (and
/// a cut record quotes the timestamp of the line it cut).
fn untimed(line: &str) -> String {
    // Unix nanos: the text line's first word, or a number after a
    // `timestamp` key, quoted or escaped (a cut record quotes the line it cut).
    let number = |t: &str| t.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    let mut line = match line.split_once(' ') {
        Some((first, rest)) if number(first) => format!("<t> {rest}"),
        _ => line.to_owned(),
    };
    let mut from = 0;
    while let Some(at) = line[from..]
        .find("timestamp")
        .map(|i| from + i + "timestamp".len())
    {
        let after = line[at..].trim_start_matches(['"', '\\']);
        let start = line.len() - after.len();
        from = start;
        if let Some(value) = after.strip_prefix(':') {
            let digits = value.len()
                - value
                    .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
                    .len();
            if digits > 0 {
                line.replace_range(start + 1..start + 1 + digits, "<t>");
            }
        }
    }
    // RFC 3339: `dddd-dd-ddTdd:dd:dd.ddddddZ`, wherever it stands.
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        let fits = b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            });
        if fits {
            out.push_str("<t>");
            i += SHAPE.len();
        } else {
            let ch = line[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The layer under test, with the input's options.
fn layer(o: &Opts, cfg: &Cfg, sink: Sink) -> layer_safe::JsonLayerBuilder {
    let mut b = JsonLayer::builder(sink)
        .format(if cfg.text {
            LineFormat::Text
        } else {
            LineFormat::Json
        })
        .ansi(o.ansi)
        .timestamp(cfg.timestamp)
        .flatten_event(cfg.flatten_event)
        .flatten_span_fields(cfg.flatten_spans)
        .with_current_span(cfg.current_span)
        .with_span_list(cfg.span_list)
        .with_target(cfg.target)
        .with_file(cfg.file)
        .with_line_number(cfg.line)
        .with_thread_names(cfg.thread_names)
        .with_thread_ids(cfg.thread_ids)
        .max_field_bytes(MAX_FIELD[usize::from(o.max_field) % MAX_FIELD.len()]);
    for (k, v) in o.statics.iter().take(MAX_STATICS) {
        b = b.static_field(
            STATIC_KEYS[usize::from(*k) % STATIC_KEYS.len()],
            static_value(*v),
        );
    }
    b
}

fn check_line(cfg: &Cfg, line: &str, ev: &Emitted, sum: &mut Summary) -> Result<(), String> {
    if !line.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    if line.len() > cfg.max_record {
        return Err(format!(
            "{} bytes, over max_record ({})",
            line.len(),
            cfg.max_record
        ));
    }
    let body = &line[..line.len() - 1];
    if let Some(c) = body
        .chars()
        .find(|c| matches!(c, '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}') && *c != '\u{1b}')
    {
        return Err(format!("raw {c:?} in a record"));
    }
    let level = ev.meta.level().as_str();
    if cfg.text {
        if !body.contains(level) {
            return Err(format!("the text line does not show the level {level}"));
        }
        return Ok(());
    }
    if body.contains('\u{1b}') {
        return Err("raw ESC in a JSON record".into());
    }
    serde_json::from_str::<serde_json::Value>(body).map_err(|e| format!("serde_json: {e}"))?;
    let j = catch_any(|| json_support::parse(body)).map_err(|e| format!("strict parser: {e}"))?;
    if !j.keys_unique() {
        return Err("a duplicate key".into());
    }
    sum.json += 1;
    if let Some(J::Obj(f)) = j.get("fields") {
        if f.iter()
            .any(|(k, v)| k == "message" && *v == J::Str("record truncated".into()))
            && j.get("target") == Some(&J::Str("layer_safe".into()))
        {
            // The sink's stand-in for a record over max_record: the layer
            // cuts every value to fit, and keeps only the message when even
            // that is too long; only what it cannot cut (timestamp, level,
            // static fields, several messages, target, file, thread) may
            // leave a record too long for it.
            let bound = cut_down_bound(cfg, ev);
            if bound <= cfg.max_record {
                return Err(format!(
                    "the layer's record did not fit max_record ({}), though cut down to its \
                     message it takes at most {bound} bytes: the sink truncated it",
                    cfg.max_record
                ));
            }
            sum.sink_truncated += 1;
            return Ok(());
        }
    }
    let mut local = Summary::default();
    match check_json(cfg, &j, ev, false, &mut local) {
        Ok(()) => {}
        Err(normal) => {
            // A record cut down to its message says so in `truncated`.
            local = Summary::default();
            let cut = j
                .keys()
                .iter()
                .any(|k| base_is(k, "truncated"))
                .then(|| check_json(cfg, &j, ev, true, &mut local));
            match cut {
                Some(Ok(())) => local.cut_down += 1,
                Some(Err(e)) => {
                    return Err(format!("{normal} (or, read as cut down: {e})"));
                }
                None => return Err(normal),
            }
        }
    }
    sum.cut_down += local.cut_down;
    sum.truncated_values += local.truncated_values;
    sum.fmt_markers += local.fmt_markers;
    sum.values_checked += local.values_checked;
    Ok(())
}

/// `key` is `base`, or `base` renamed: `base.N`, or `base.N.M` (a span's
/// `a.1`, itself a rename, renamed again when flattened).
fn base_is(key: &str, base: &str) -> bool {
    key.strip_prefix(base).is_some_and(|rest| {
        rest.is_empty()
            || rest.strip_prefix('.').is_some_and(|r| {
                r.split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    })
}

/// Walks the root object member by member.
struct Members<'a> {
    m: &'a [(String, J)],
    at: usize,
}

impl<'a> Members<'a> {
    fn next(&mut self, what: &str) -> Result<&'a (String, J), String> {
        let m = self
            .m
            .get(self.at)
            .ok_or_else(|| format!("the record ends where {what} should be"))?;
        self.at += 1;
        Ok(m)
    }

    fn expect(&mut self, base: &str, what: &str) -> Result<&'a J, String> {
        let (k, v) = self.next(what)?;
        if !base_is(k, base) {
            return Err(format!("{what}: key {k:?}, expected {base:?}"));
        }
        Ok(v)
    }
}

fn check_json(
    cfg: &Cfg,
    j: &J,
    ev: &Emitted,
    cut_down: bool,
    sum: &mut Summary,
) -> Result<(), String> {
    let J::Obj(root) = j else {
        return Err("not an object".into());
    };
    let mut m = Members { m: root, at: 0 };
    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            let ts = m.expect("timestamp", "timestamp")?;
            if !matches!(ts, J::Str(s) if rfc3339(s)) {
                return Err(format!("timestamp {ts:?}"));
            }
        }
        Timestamp::UnixNanos => {
            let ts = m.expect("timestamp", "timestamp")?;
            if !matches!(ts, J::Num(n) if n.parse::<u64>().is_ok()) {
                return Err(format!("timestamp {ts:?}"));
            }
        }
        _ => {}
    }
    let level = m.expect("level", "level")?;
    if *level != J::Str(ev.meta.level().as_str().into()) {
        return Err(format!("level {level:?}"));
    }
    for (key, value) in &cfg.statics {
        let got = m.expect(key, "a static field")?;
        if to_serde(got) != *value {
            return Err(format!("static field {key:?}: {got:?}, expected {value}"));
        }
    }
    let expected = event_members(ev, cut_down);
    if cfg.flatten_event {
        check_members(&mut m, &expected, Style::Event, sum)?;
    } else {
        let fields = m.expect("fields", "fields")?;
        let J::Obj(f) = fields else {
            return Err(format!("fields is {fields:?}"));
        };
        let mut fm = Members { m: f, at: 0 };
        check_members(&mut fm, &expected, Style::Event, sum)?;
        if fm.at != f.len() {
            return Err(format!("extra members in fields: {:?}", &f[fm.at..]));
        }
    }
    if cut_down {
        let t = m.expect("truncated", "the cut-down note")?;
        let ok = matches!(t, J::Str(s) if s.starts_with("record of ")
            && s.ends_with(&format!(" bytes over the maximum of {}: fields and spans left out", cfg.max_record)));
        if !ok {
            return Err(format!("truncated: {t:?}"));
        }
    }
    let spans = if cut_down { &[][..] } else { &ev.spans[..] };
    if cfg.flatten_spans {
        for span in spans {
            check_members(&mut m, &span_members(span), Style::Span, sum)?;
        }
    }
    if cfg.target {
        let t = m.expect("target", "target")?;
        check_str(t, ev.meta.target(), sum).map_err(|e| format!("target: {e}"))?;
    }
    if let (true, Some(file)) = (cfg.file, ev.meta.file()) {
        let f = m.expect("filename", "filename")?;
        check_str(f, file, sum).map_err(|e| format!("filename: {e}"))?;
    }
    if let (true, Some(line)) = (cfg.line, ev.meta.line()) {
        let l = m.expect("line_number", "line_number")?;
        if *l != J::Num(line.to_string()) {
            return Err(format!("line_number {l:?}"));
        }
    }
    if let Some(leaf) = spans.last() {
        if cfg.current_span {
            let s = m.expect("span", "span")?;
            check_span_obj(s, leaf, sum).map_err(|e| format!("span: {e}"))?;
        }
        if cfg.span_list {
            let l = m.expect("spans", "spans")?;
            let J::Arr(items) = l else {
                return Err(format!("spans is {l:?}"));
            };
            if items.len() != spans.len() {
                return Err(format!(
                    "{} spans listed, {} expected",
                    items.len(),
                    spans.len()
                ));
            }
            for (got, span) in items.iter().zip(spans) {
                check_span_obj(got, span, sum).map_err(|e| format!("spans: {e}"))?;
            }
        }
    }
    if cfg.thread_names {
        let named = std::thread::current().name().is_some();
        if named || !cfg.thread_ids {
            let t = m.expect("threadName", "threadName")?;
            if !matches!(t, J::Str(_)) {
                return Err(format!("threadName {t:?}"));
            }
        }
    }
    if cfg.thread_ids {
        let t = m.expect("threadId", "threadId")?;
        if !matches!(t, J::Str(s) if s.starts_with("ThreadId(")) {
            return Err(format!("threadId {t:?}"));
        }
    }
    if m.at != root.len() {
        return Err(format!("unexpected members: {:?}", &root[m.at..]));
    }
    Ok(())
}

/// The escaped length of `s` in a JSON string, without quotes.
fn esc_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}' => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// The longest a string value within `cap` can be: quotes, the kept
/// prefix and the marker.
fn capped_len(s: &str, cap: usize) -> usize {
    let e = esc_len(s);
    2 + if e <= cap { e } else { cap + MARKER_MAX }
}

/// The longest truncation marker.
const MARKER_MAX: usize = "…[truncated ".len() + 20 + " bytes]".len();

/// An upper bound of the length of `ev`'s record cut down to its message
/// (the layer's last resort): what the layer cannot shorten.
fn cut_down_bound(cfg: &Cfg, ev: &Emitted) -> usize {
    let cap = (cfg.max_record / 4).saturating_sub(MARKER_MAX);
    let mut n = 1 + match cfg.timestamp {
        Timestamp::Rfc3339Micros => 42,
        Timestamp::UnixNanos => 33,
        _ => 0,
    };
    n += 16; // "level":"ERROR"
    for (k, v) in &cfg.statics {
        let value = serde_json::to_string(v).unwrap_or_default();
        let seps = value.matches(['\u{2028}', '\u{2029}']).count();
        n += 1 + esc_len(k) + 2 + 4 + 1 + value.len() + 3 * seps;
    }
    n += 12; // "fields":{}
    for (i, v) in &ev.fields {
        if NAMES[*i] != "message" {
            continue;
        }
        // The key (renamed at worst `message.N`), and the longest value of
        // any type within the cap: a panic marker with its message.
        n += 1 + 14 + 1 + cap + 2 + 17 + MARKER_MAX + 1;
        if let FVal::Error(_) = v {
            n += 20;
        }
    }
    n += 128; // "truncated":"record of N bytes over the maximum of M: ..."
    if cfg.target {
        n += 10 + capped_len(ev.meta.target(), cap);
    }
    if let (true, Some(file)) = (cfg.file, ev.meta.file()) {
        n += 12 + capped_len(file, cap);
    }
    if cfg.line {
        n += 25;
    }
    if cfg.thread_names {
        n += 16 + std::thread::current().name().map_or(30, esc_len);
    }
    if cfg.thread_ids {
        n += 40;
    }
    n + 2
}

fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn to_serde(j: &J) -> serde_json::Value {
    use serde_json::Value as V;
    match j {
        J::Null => V::Null,
        J::Bool(b) => V::Bool(*b),
        J::Num(n) => serde_json::from_str(n).unwrap_or(V::Null),
        J::Str(s) => V::String(s.clone()),
        J::Arr(a) => V::Array(a.iter().map(to_serde).collect()),
        J::Obj(m) => V::Object(m.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Event,
    Span,
}

/// An expected member: (key base, the field's value, whether it is an
/// error's `.sources`).
type Expected = (String, FVal, bool);

fn has_source(v: &FVal) -> bool {
    matches!(v, FVal::Error(e) if e.source_panics.is_none() && !matches!(e.next, ErrNext::None))
}

/// The event's members, in order: `log.*` fields are not shown; a record
/// cut down keeps only `message`.
fn event_members(ev: &Emitted, cut_down: bool) -> Vec<Expected> {
    let mut out = Vec::new();
    for (i, v) in &ev.fields {
        let name = NAMES[*i];
        if name.starts_with("log.") || (cut_down && name != "message") {
            continue;
        }
        out.push((name.to_owned(), v.clone(), false));
        if has_source(v) && !cut_down {
            out.push((format!("{name}.sources"), v.clone(), true));
        }
    }
    out
}

/// A span's members as the layer caches them: sorted by (name without
/// `r#`, suffix, field index), ties in the order recorded.
fn span_members(span: &SpanModel) -> Vec<Expected> {
    let mut entries: Vec<(&str, &str, usize, &FVal)> = Vec::new();
    for (i, v) in &span.entries {
        let name = NAMES[*i];
        let name = name.strip_prefix("r#").unwrap_or(name);
        entries.push((name, "", *i, v));
        if has_source(v) {
            entries.push((name, ".sources", *i, v));
        }
    }
    entries.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    entries
        .into_iter()
        .map(|(name, suffix, _, v)| (format!("{name}{suffix}"), v.clone(), !suffix.is_empty()))
        .collect()
}

fn check_span_obj(got: &J, span: &SpanModel, sum: &mut Summary) -> Result<(), String> {
    let J::Obj(members) = got else {
        return Err(format!("not an object: {got:?}"));
    };
    let mut m = Members { m: members, at: 0 };
    check_members(&mut m, &span_members(span), Style::Span, sum)?;
    let name = m.expect("name", "the span's name")?;
    if *name != J::Str(span.meta.name().into()) {
        return Err(format!("span name {name:?}"));
    }
    if m.at != members.len() {
        return Err(format!("extra span members: {:?}", &members[m.at..]));
    }
    Ok(())
}

fn check_members(
    m: &mut Members<'_>,
    expected: &[Expected],
    style: Style,
    sum: &mut Summary,
) -> Result<(), String> {
    for (base, v, sources) in expected {
        let got = m.expect(base, "a field")?;
        let r = if *sources {
            check_sources(got, v, sum)
        } else {
            check_value(got, v, style, sum)
        };
        r.map_err(|e| format!("field {base:?} = {v:?}: {e}"))?;
        sum.values_checked += 1;
    }
    Ok(())
}

fn check_value(got: &J, v: &FVal, style: Style, sum: &mut Summary) -> Result<(), String> {
    let num = |want: String| {
        if *got == J::Num(want.clone()) {
            Ok(())
        } else {
            Err(format!("got {got:?}, expected {want}"))
        }
    };
    let digits = |want: String, fits: bool| {
        let ok = if fits {
            *got == J::Num(want.clone())
        } else {
            *got == J::Str(want.clone())
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "got {got:?}, expected {want} as a {}",
                if fits { "number" } else { "string" }
            ))
        }
    };
    match v {
        FVal::U64(x) => num(x.to_string()),
        FVal::I64(x) => num(x.to_string()),
        FVal::U128(x) => digits(x.to_string(), u64::try_from(*x).is_ok()),
        FVal::I128(x) => digits(x.to_string(), i64::try_from(*x).is_ok()),
        FVal::F64(x) => check_f64(got, *x),
        FVal::F64Special(k) => check_f64(got, special_float(*k)),
        FVal::Bool(b) => {
            if *got == J::Bool(*b) {
                Ok(())
            } else {
                Err(format!("got {got:?}"))
            }
        }
        FVal::Str(s) | FVal::DisplayStr(s) => check_str(got, &s.materialize(), sum),
        FVal::DebugStr(s) => check_str(got, &format!("{:?}", s.materialize()), sum),
        FVal::Debug(spec) | FVal::Display(spec) => check_fmt(got, spec, "Debug", sum),
        FVal::Error(spec) => check_fmt(got, &spec.display, "Display", sum),
        FVal::Bytes(b) => match style {
            Style::Event => check_hex(got, b, sum),
            Style::Span => check_byte_array(got, b, sum),
        },
    }
}

fn check_f64(got: &J, x: f64) -> Result<(), String> {
    let ok = if x.is_nan() {
        *got == J::Str("NaN".into())
    } else if x.is_infinite() {
        *got == J::Str(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        matches!(got, J::Num(n) if n.parse::<f64>().is_ok_and(|y| y.to_bits() == x.to_bits()))
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {got:?} for {x:?}"))
    }
}

/// Splits `…[truncated N bytes]` off the end.
fn strip_marker(s: &str) -> Option<(&str, usize)> {
    let at = s.rfind("…[truncated ")?;
    let rest = s[at + "…[truncated ".len()..].strip_suffix(" bytes]")?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&s[..at], rest.parse().ok()?))
}

/// `got` is the string `full`, or a prefix of it cut with a marker naming
/// the bytes left out.
fn check_str(got: &J, full: &str, sum: &mut Summary) -> Result<(), String> {
    let J::Str(s) = got else {
        return Err(format!("not a string: {got:?}"));
    };
    if s == full {
        return Ok(());
    }
    match strip_marker(s) {
        Some((prefix, n))
            if full.starts_with(prefix) && n > 0 && n == full.len() - prefix.len() =>
        {
            sum.truncated_values += 1;
            Ok(())
        }
        _ => Err(format!(
            "the string does not round-trip: got {} bytes {:?}, expected {} bytes {:?}",
            s.len(),
            clip(s),
            full.len(),
            clip(full)
        )),
    }
}

fn clip(s: &str) -> String {
    if s.len() <= 200 {
        return s.to_owned();
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The `Debug`/`Display` of a [`FmtSpec`], or its failure marker.
fn check_fmt(got: &J, spec: &FmtSpec, what: &str, sum: &mut Summary) -> Result<(), String> {
    let full: String = spec
        .chunks
        .iter()
        .take(MAX_CHUNKS)
        .map(FStr::materialize)
        .collect();
    match &spec.end {
        FmtEnd::Ok => check_str(got, &full, sum),
        FmtEnd::Err => {
            sum.fmt_markers += 1;
            let want = format!("<{what} failed>");
            if *got == J::Str(want.clone()) {
                Ok(())
            } else {
                Err(format!("got {got:?}, expected {want:?}"))
            }
        }
        FmtEnd::Panic(kind) => {
            sum.fmt_markers += 1;
            let msg = match kind {
                PanicKind::Message(m) => m.materialize(),
                PanicKind::Static => STATIC_PANIC.to_owned(),
                PanicKind::Opaque | PanicKind::DropPanics => "(no message)".to_owned(),
            };
            let head = format!("<{what} panicked: ");
            let inner = match got {
                J::Str(s) => s.strip_prefix(&head).and_then(|s| s.strip_suffix('>')),
                _ => None,
            };
            let Some(inner) = inner else {
                return Err(format!("got {got:?}, expected {head}{msg:?}>"));
            };
            check_str(&J::Str(inner.to_owned()), &msg, sum)
                .map_err(|e| format!("panic message: {e}"))
        }
    }
}

/// An error's `.sources`: the `Display` of each source, outermost first,
/// at most 16, then `"...[more sources]"`.
fn check_sources(got: &J, v: &FVal, sum: &mut Summary) -> Result<(), String> {
    let FVal::Error(top) = v else {
        return Err("not an error".into());
    };
    let J::Arr(items) = got else {
        return Err(format!("sources is {got:?}"));
    };
    let mut want: Vec<&ErrSpec> = Vec::new();
    let mut more = false;
    let mut depth = 0;
    let mut at = top;
    loop {
        // `at`'s source, as `FuzzError::source` gives it.
        if at.source_panics.is_some() {
            break;
        }
        let next = match &at.next {
            ErrNext::None => break,
            ErrNext::Cycle => at,
            ErrNext::Chain(n) if depth < MAX_ERROR_CHAIN => n,
            ErrNext::Chain(_) => break,
        };
        depth += 1;
        if want.len() == 16 {
            more = true;
            break;
        }
        want.push(next);
        at = next;
    }
    let n = want.len() + usize::from(more);
    if items.len() != n {
        return Err(format!(
            "{} sources listed, {n} expected: {items:?}",
            items.len()
        ));
    }
    for (item, spec) in items.iter().zip(&want) {
        check_fmt(item, &spec.display, "Display", sum)?;
    }
    if more && items.last() != Some(&J::Str("...[more sources]".into())) {
        return Err(format!("no more-sources marker: {items:?}"));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Event bytes: `"[61 62]"`, or a prefix and a marker after the `]`.
fn check_hex(got: &J, b: &[u8], sum: &mut Summary) -> Result<(), String> {
    let J::Str(s) = got else {
        return Err(format!("not a string: {got:?}"));
    };
    let shown = s
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(h, _)| if h.is_empty() { 0 } else { h.len().div_ceil(3) });
    let Some(k) = shown.filter(|k| *k <= b.len()) else {
        return Err(format!("not hex bytes: {s:?}"));
    };
    let mut want = format!("[{}]", hex(&b[..k]));
    if k < b.len() {
        want.push_str(&format!("…[truncated {} bytes]", b.len() - k));
        sum.truncated_values += 1;
    }
    if *s == want {
        Ok(())
    } else {
        Err(format!("got {s:?}, expected {want:?}"))
    }
}

/// Span bytes: an array of numbers, a marker string last if cut.
fn check_byte_array(got: &J, b: &[u8], sum: &mut Summary) -> Result<(), String> {
    let J::Arr(items) = got else {
        return Err(format!("not an array: {got:?}"));
    };
    let cut = matches!(items.last(), Some(J::Str(_)));
    let k = items.len() - usize::from(cut);
    let mut want: Vec<J> = b.iter().take(k).map(|x| J::Num(x.to_string())).collect();
    if k < b.len() {
        want.push(J::Str(format!("…[truncated {} bytes]", b.len() - k)));
        sum.truncated_values += 1;
    }
    if *items == want {
        Ok(())
    } else {
        Err(format!("got {items:?}, expected {want:?}"))
    }
}
