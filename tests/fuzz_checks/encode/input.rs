//! Target `encode`: the input (layer options and a program of events
//! and spans with fields of every type) and how it decodes.

use super::*;

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

pub(super) const STATIC_KEYS: [&str; 10] = [
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

pub(super) fn static_value(pick: u8) -> serde_json::Value {
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

pub(super) const STATIC_PANIC: &str = "static \"panic\"\nmessage\u{2028}";

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

impl Input {
    /// This input with no string longer than it takes to be cut at every
    /// limit its options set: the record's, and so every field's (a value
    /// is never cut at more than `max_record` bytes, however long). Longer
    /// strings take the same paths with a larger count in the cut marker,
    /// at the cost of formatting them in full (`str`'s `Debug` escapes
    /// char by char), three times: in the layer, the oracle, the check.
    /// Under the 64 KiB record they still run past it, to [`MAX_STR`].
    pub fn bounded(&self) -> Input {
        let max_record = MAX_RECORD[usize::from(self.opts.max_record) % MAX_RECORD.len()];
        let max = MAX_STR.min(2 * max_record + 64);
        let mut input = self.clone();
        for action in &mut input.actions {
            match action {
                Action::Event { fields, .. }
                | Action::NewSpan { fields, .. }
                | Action::Record { fields, .. } => {
                    for (_, v) in fields {
                        v.bound(max);
                    }
                }
                Action::Enter(_) | Action::Exit | Action::Close(_) => {}
            }
        }
        input
    }
}

impl FVal {
    fn bound(&mut self, max: usize) {
        match self {
            FVal::Str(s) | FVal::DebugStr(s) | FVal::DisplayStr(s) => s.bound(max),
            FVal::Debug(f) | FVal::Display(f) => f.bound(max),
            FVal::Error(e) => e.bound(max),
            _ => {}
        }
    }
}

impl FStr {
    /// At most `max` bytes once materialised (or one unit, if longer).
    fn bound(&mut self, max: usize) {
        match self {
            FStr::Repeat { piece, times } => {
                let piece = PALETTE[usize::from(*piece) % PALETTE.len()];
                *times = (*times).min(u16::try_from(max / piece.len()).unwrap_or(u16::MAX));
            }
            FStr::Long { unit, times } if !unit.is_empty() => {
                let fit = (max / unit.len()).max(1);
                *times = (*times).min(u16::try_from(fit).unwrap_or(u16::MAX));
            }
            FStr::Any(_) | FStr::Palette(_) | FStr::Long { .. } => {}
        }
    }
}

impl FmtSpec {
    fn bound(&mut self, max: usize) {
        for c in &mut self.chunks {
            c.bound(max);
        }
        if let FmtEnd::Panic(p) = &mut self.end {
            p.bound(max);
        }
    }
}

impl PanicKind {
    fn bound(&mut self, max: usize) {
        if let PanicKind::Message(m) = self {
            m.bound(max);
        }
    }
}

impl ErrSpec {
    fn bound(&mut self, max: usize) {
        self.display.bound(max);
        if let Some(p) = &mut self.source_panics {
            p.bound(max);
        }
        if let ErrNext::Chain(next) = &mut self.next {
            next.bound(max);
        }
    }
}

/// Decodes `bytes` exactly as `fuzz_target!(|input: Input| ..)` does.
pub fn decode(bytes: &[u8]) -> Option<Input> {
    super::super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8], stack: Stack) -> Option<Summary> {
    decode(bytes).map(|input| check(&input, stack))
}
