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
use layer_safe::{in_logging_path, GuardedExt, StatsHandle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, EnteredSpan, Id, Record};
use tracing::{Event, Level, Span, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

pub use super::Lvl;
use super::{catch, harness_panic, resume_unless_deliberate};

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

// ------------------------------------------------------------- the input

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
    super::decode(bytes)
}

/// Decodes and checks one input; bytes that decode to nothing pass.
pub fn run(bytes: &[u8]) -> Option<Totals> {
    decode(bytes).map(|program| check(&program))
}

// ------------------------------------------------------------ bookkeeping

// Global, not thread-local: `OnThread` emits from other threads, all joined
// before a check reads them. One program runs at a time per process (the
// replay test serialises its tests).
static EMITTED_OUTSIDE: AtomicU64 = AtomicU64::new(0);
static EMITTED_INSIDE: AtomicU64 = AtomicU64::new(0);
static FILTERED: AtomicU64 = AtomicU64::new(0);
static RECORDS_INSIDE: AtomicU64 = AtomicU64::new(0);
static DELIVERED: AtomicU64 = AtomicU64::new(0);
static EXTERNAL_ALLOWED: AtomicU64 = AtomicU64::new(0);
static EXTERNAL_REFUSED: AtomicU64 = AtomicU64::new(0);
static STEPS: AtomicU32 = AtomicU32::new(0);
static THREADS: AtomicU32 = AtomicU32::new(0);
static LAYER_LOGS_ON_EVENT: AtomicU32 = AtomicU32::new(0);
static LAYER_LOGS_ON_SPAN: AtomicU32 = AtomicU32::new(0);
static WRITER_LOGS: AtomicU32 = AtomicU32::new(0);
static WRITER_PANICS: AtomicBool = AtomicBool::new(false);
static FILTER_TRACE: AtomicBool = AtomicBool::new(false);
/// Broken invariants seen inside callbacks, reported after the action: a
/// panic there could be swallowed by the program, or abort mid-unwind.
static VIOLATIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    /// The harness's own view of the logging path: how many callbacks of the
    /// subscriber stack (layer callbacks, the writer, field `Debug`s) this
    /// thread is inside. Independent of layer-safe's state, which it checks.
    static CALLBACK_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The thread's live spans, shared by all blocks the thread runs.
    static SPANS: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
}

fn violation(msg: String) {
    let mut v = VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner());
    if v.len() < 16 {
        v.push(msg);
    }
}

fn in_callback() -> bool {
    CALLBACK_DEPTH.with(|d| d.get() > 0)
}

/// Checks that layer-safe agrees with the harness about where we are.
fn check_path_agrees(what: &str) {
    let (crate_says, harness_says) = (in_logging_path(), in_callback());
    if crate_says != harness_says {
        violation(format!(
            "in_logging_path() is {crate_says} in {what}, but the harness is {} a subscriber callback",
            if harness_says { "inside" } else { "outside" }
        ));
    }
}

/// RAII: the thread is inside a callback the subscriber stack made.
struct Callback;

impl Callback {
    fn enter(what: &'static str) -> Callback {
        if !in_logging_path() {
            violation(format!("{what} ran outside the logging path"));
        }
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        Callback
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Counts one event as emitted, inside or outside the logging path in the
/// harness's view (or filtered out); called right before each `event!`.
fn emitted(level: Level) {
    let counter = if in_callback() {
        &EMITTED_INSIDE
    } else if filtered(level) {
        &FILTERED
    } else {
        &EMITTED_OUTSIDE
    };
    counter.fetch_add(1, Relaxed);
}

fn filtered(level: Level) -> bool {
    level == Level::TRACE && FILTER_TRACE.load(Relaxed)
}

fn take_step() -> bool {
    STEPS.fetch_add(1, Relaxed) < MAX_STEPS
}

// ----------------------------------------------------------- the stack

/// The counting layer: counts every event it sees, formats every field of
/// every event and span (so the fields' `Debug` runs inside the logging
/// path), and logs from its callbacks as configured.
struct Probe;

impl<S: Subscriber> Layer<S> for Probe {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // Counted first, so a field that panics below is still "delivered".
        DELIVERED.fetch_add(1, Relaxed);
        let _cb = Callback::enter("Probe::on_event");
        event.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_EVENT, "on_event");
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_new_span");
        attrs.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_new_span");
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_record");
        values.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_record");
    }

    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_enter");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_enter");
    }

    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_exit");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_exit");
    }

    fn on_close(&self, _: Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_close");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_close");
    }
}

fn layer_logs(count: &AtomicU32, from: &'static str) {
    for _ in 0..count.load(Relaxed) {
        emitted(Level::WARN);
        tracing::warn!(target: "fuzz::layer", from, "a layer logged");
    }
}

/// Formats every field with `{:?}`, ignoring `Err`.
struct FormatAll;

impl Visit for FormatAll {
    fn record_debug(&mut self, _: &Field, value: &dyn fmt::Debug) {
        let mut s = String::new();
        let _ = fmt::write(&mut s, format_args!("{value:?}"));
    }
}

/// The `fmt` layer's writer: logs, may panic, discards the bytes.
struct LoggingWriter;

impl io::Write for LoggingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _cb = Callback::enter("the fmt layer's writer");
        for _ in 0..WRITER_LOGS.load(Relaxed) {
            emitted(Level::ERROR);
            tracing::error!(target: "fuzz::writer", bytes = buf.len(), "a writer logged");
        }
        if WRITER_PANICS.load(Relaxed) {
            harness_panic();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `fmt` layer's field formatter, which shrugs off a `Debug` that
/// returns `Err`. With the default one, `fmt::Layer::on_new_span` reports
/// that error with `eprintln!("{:?}", attrs)`, which formats the failing
/// value again, so `eprintln!` panics ("a formatting trait implementation
/// returned an error") inside the subscriber, holding the span's extensions
/// lock (poisoning it: every later event in that span panics too). That hazard is tracing-subscriber's, not the guard's, and
/// layer-safe's own encoder has its own target; it is kept out of this one.
struct LenientFields;

impl<'w> FormatFields<'w> for LenientFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        struct V<'a, 'w>(&'a mut Writer<'w>);
        impl Visit for V<'_, '_> {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                let _ = write!(self.0, "{}={:?} ", field.name(), value);
            }
        }
        fields.record(&mut V(&mut writer));
        Ok(())
    }
}

static STATS: OnceLock<StatsHandle> = OnceLock::new();

/// Installs the guarded stack as the global default, once per process, and
/// returns its counters.
pub fn install() -> &'static StatsHandle {
    STATS.get_or_init(|| {
        super::install_panic_hook();
        // A refused `external_call` is recorded, never a panic (the default
        // policy under debug assertions is `Panic`).
        layer_safe::set_policy(layer_safe::Policy::Report);
        let fmt = tracing_subscriber::fmt::layer()
            .fmt_fields(LenientFields)
            .with_writer(|| LoggingWriter)
            .with_ansi(false)
            .without_time()
            .log_internal_errors(false);
        // Dynamic (it takes a context), so every callsite's interest is
        // "sometimes" and the guard's `enabled` runs for every event.
        let filter =
            tracing_subscriber::filter::dynamic_filter_fn(|meta, _| !filtered(*meta.level()));
        // `Probe` is inside the fmt layer, so its `on_event` runs first: a
        // delivery is counted even if the writer then panics.
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(Probe)
            .with(fmt)
            .guarded();
        let stats = subscriber.stats_handle();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the reentrancy check must own the process's global default subscriber");
        stats
    })
}

// ------------------------------------------------------- the interpreter

struct Interp<'p> {
    program: &'p Program,
    blocks: Vec<&'p [Action]>,
    /// A copy of the program, made for the first `OnThread`.
    owned: OnceCell<Arc<Program>>,
}

/// A field value as the program passes it to `event!`/`span!`.
struct Val<'a> {
    interp: &'a Interp<'a>,
    /// The block the value appears in: `Runs(b)` runs a block after it.
    block: usize,
    value: &'a Value,
}

impl fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a visitor of the subscriber stack formats a field.
        let _cb = Callback::enter("a field's Debug");
        self.render(f)
    }
}

/// The same value formatted by application code (`Action::Format`).
struct Direct<'a>(Val<'a>);

impl fmt::Debug for Direct<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f)
    }
}

impl Val<'_> {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::LogsDeep(k) => {
                let k = if *k == UNBOUNDED {
                    u32::MAX
                } else {
                    u32::from(*k)
                };
                Deep(k).log();
                f.write_str("LogsDeep")
            }
            Value::Panics => harness_panic(),
            Value::Errors => Err(fmt::Error),
            Value::Runs(b) => {
                if let Some(callee) = self.interp.callee(self.block, *b) {
                    self.interp.run_block(callee);
                }
                f.write_str("Runs")
            }
        }
    }
}

/// A value whose `Debug` logs an event carrying `Deep(k - 1)`, for ever at
/// `u32::MAX`. Not charged to the step budget: were the guard to let the
/// nested events through, this would overflow the stack, as it does
/// without the guard.
struct Deep(u32);

impl Deep {
    fn log(&self) {
        if self.0 == 0 {
            return;
        }
        let next = if self.0 == u32::MAX {
            u32::MAX
        } else {
            self.0 - 1
        };
        emitted(Level::INFO);
        tracing::info!(target: "fuzz::deep", deep = ?Deep(next), "logged from Debug");
    }
}

impl fmt::Debug for Deep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _cb = Callback::enter("a field's Debug");
        self.log();
        f.write_str("Deep")
    }
}

// `event!` and `span!` need their level and field names at compile time:
// one call site per level and number of fields.
macro_rules! event_at {
    ($lvl:expr, $f:expr) => {
        match $f {
            [] => tracing::event!(target: "fuzz::program", $lvl, "event"),
            [a] => tracing::event!(target: "fuzz::program", $lvl, a = ?a, "event"),
            [a, b] => tracing::event!(target: "fuzz::program", $lvl, a = ?a, b = ?b, "event"),
            [a, b, c, ..] => {
                tracing::event!(target: "fuzz::program", $lvl, a = ?a, b = ?b, c = ?c, "event")
            }
        }
    };
}

macro_rules! span_at {
    ($lvl:expr, $f:expr) => {
        match $f {
            [] => tracing::span!(target: "fuzz::program", $lvl, "span", r = tracing::field::Empty),
            [a] => tracing::span!(target: "fuzz::program", $lvl, "span", a = ?a, r = tracing::field::Empty),
            [a, b] => tracing::span!(
                target: "fuzz::program", $lvl, "span", a = ?a, b = ?b, r = tracing::field::Empty
            ),
            [a, b, c, ..] => tracing::span!(
                target: "fuzz::program", $lvl, "span", a = ?a, b = ?b, c = ?c, r = tracing::field::Empty
            ),
        }
    };
}

fn emit_event(level: Lvl, fields: &[Val<'_>]) {
    emitted(level.into());
    match level {
        Lvl::Trace => event_at!(Level::TRACE, fields),
        Lvl::Debug => event_at!(Level::DEBUG, fields),
        Lvl::Info => event_at!(Level::INFO, fields),
        Lvl::Warn => event_at!(Level::WARN, fields),
        Lvl::Error => event_at!(Level::ERROR, fields),
    }
}

fn new_span(level: Lvl, fields: &[Val<'_>]) -> Span {
    match level {
        Lvl::Trace => span_at!(Level::TRACE, fields),
        Lvl::Debug => span_at!(Level::DEBUG, fields),
        Lvl::Info => span_at!(Level::INFO, fields),
        Lvl::Warn => span_at!(Level::WARN, fields),
        Lvl::Error => span_at!(Level::ERROR, fields),
    }
}

// Spans are dropped outside the `SPANS` borrow: closing one runs the layers,
// and through them, possibly, more of the program.
fn push_span(span: Span) {
    let evicted = SPANS.with(|t| {
        let mut t = t.borrow_mut();
        t.push(span);
        (t.len() > MAX_SPANS).then(|| t.remove(0))
    });
    drop(evicted);
}

fn live_span(n: u8) -> Option<Span> {
    SPANS.with(|t| {
        let t = t.borrow();
        (!t.is_empty()).then(|| t[usize::from(n) % t.len()].clone())
    })
}

fn take_span(n: u8) -> Option<Span> {
    SPANS.with(|t| {
        let mut t = t.borrow_mut();
        (!t.is_empty()).then(|| {
            let i = usize::from(n) % t.len();
            t.remove(i)
        })
    })
}

fn clear_spans() {
    let all = SPANS.with(|t| std::mem::take(&mut *t.borrow_mut()));
    drop(all);
}

/// Exits entered spans, last entered first.
fn exit_all(entered: &mut Vec<EnteredSpan>) {
    while let Some(span) = entered.pop() {
        drop(span);
    }
}

impl<'p> Interp<'p> {
    fn new(program: &'p Program) -> Interp<'p> {
        let blocks = program
            .blocks
            .iter()
            .take(MAX_BLOCKS)
            .map(|b| &b[..b.len().min(MAX_ACTIONS)])
            .collect();
        Interp {
            program,
            blocks,
            owned: OnceCell::new(),
        }
    }

    /// The program, owned, for another thread.
    fn owned(&self) -> Arc<Program> {
        self.owned
            .get_or_init(|| Arc::new(self.program.clone()))
            .clone()
    }

    /// The block `b` names from block `from`: one after it, or none.
    fn callee(&self, from: usize, b: u8) -> Option<usize> {
        let after = self.blocks.len().checked_sub(from + 1)?;
        (after > 0).then(|| from + 1 + usize::from(b) % after)
    }

    fn vals<'a>(&'a self, block: usize, values: &'a [Value]) -> Vec<Val<'a>> {
        values
            .iter()
            .take(MAX_FIELDS)
            .map(|value| Val {
                interp: self,
                block,
                value,
            })
            .collect()
    }

    fn run_block(&self, block: usize) {
        let mut entered = Vec::new();
        for action in self.blocks[block] {
            if !take_step() {
                break;
            }
            self.act(action, block, &mut entered);
        }
        exit_all(&mut entered);
    }

    fn act(&self, action: &Action, block: usize, entered: &mut Vec<EnteredSpan>) {
        check_path_agrees("application code");
        match action {
            Action::Event { level, fields } => emit_event(*level, &self.vals(block, fields)),
            Action::NewSpan { level, fields } => {
                push_span(new_span(*level, &self.vals(block, fields)))
            }
            Action::Enter(n) => {
                if let Some(span) = live_span(*n) {
                    entered.push(span.entered());
                }
            }
            Action::Exit => drop(entered.pop()),
            Action::Close(n) => drop(take_span(*n)),
            Action::Record { span, value } => {
                if let Some(span) = live_span(*span) {
                    // A span whose creation panicked in the stack has an id
                    // with nothing behind it (`u64::MAX`, counted as
                    // `inner_panic`): a record on it is no record at all.
                    let real = span.id().is_some_and(|id| id.into_u64() != u64::MAX);
                    if in_callback() && real {
                        // The guard drops (and counts) a record made inside
                        // the path: its values' `Debug` would run there.
                        RECORDS_INSIDE.fetch_add(1, Relaxed);
                    }
                    let value = Val {
                        interp: self,
                        block,
                        value,
                    };
                    span.record("r", tracing::field::debug(value));
                }
            }
            Action::InSpan { span, block: b } => {
                if let (Some(span), Some(callee)) = (live_span(*span), self.callee(block, *b)) {
                    span.in_scope(|| self.run_block(callee));
                }
            }
            Action::Run(b) => {
                if let Some(callee) = self.callee(block, *b) {
                    self.run_block(callee);
                }
            }
            Action::CatchUnwind(b) => {
                if let Some(callee) = self.callee(block, *b) {
                    catch(|| self.run_block(callee));
                }
            }
            Action::Panic => harness_panic(),
            Action::Format(value) => {
                let value = Direct(Val {
                    interp: self,
                    block,
                    value,
                });
                let mut s = String::new();
                let _ = fmt::write(&mut s, format_args!("{value:?}"));
            }
            Action::OnThread(b) => {
                let Some(callee) = self.callee(block, *b) else {
                    return;
                };
                if THREADS.fetch_add(1, Relaxed) >= MAX_THREADS {
                    return;
                }
                // On a pooled thread (a new one only when none is idle):
                // starting one per `OnThread` cost more than the rest of
                // an input. It owns what it runs: a copy of the program.
                let program = self.owned();
                let ran = super::pool::run_elsewhere(move || {
                    // Close this thread's spans before the job ends: closing
                    // logs, and the next job on this thread starts with none.
                    struct ClearSpans;
                    impl Drop for ClearSpans {
                        fn drop(&mut self) {
                            clear_spans();
                        }
                    }
                    let _clear = ClearSpans;
                    check_path_agrees("another thread");
                    Interp::new(&program).run_block(callee);
                });
                if let Err(payload) = ran {
                    resume_unless_deliberate(payload);
                }
            }
            Action::ExternalCall => {
                // Refused (`Err`) exactly inside the logging path, allowed
                // outside; under the `Report` policy `install` sets, a
                // refusal is recorded, never a panic.
                check_path_agrees("an external call");
                let inside = in_callback();
                match (layer_safe::external_call("fuzz"), inside) {
                    (Ok(()), false) => {
                        EXTERNAL_ALLOWED.fetch_add(1, Relaxed);
                    }
                    (Err(refused), true) => {
                        EXTERNAL_REFUSED.fetch_add(1, Relaxed);
                        if refused.system() != "fuzz" {
                            violation(format!(
                                "external_call(\"fuzz\") refused naming {:?}",
                                refused.system()
                            ));
                        }
                    }
                    (Ok(()), true) => violation(
                        "external_call allowed inside the logging path (in a subscriber callback)"
                            .into(),
                    ),
                    (Err(refused), false) => violation(format!(
                        "external_call refused in application code: {refused}"
                    )),
                }
            }
        }
    }
}

// --------------------------------------------------------------- checking

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
    fn now(stats: &StatsHandle) -> Totals {
        Totals {
            emitted_outside: EMITTED_OUTSIDE.load(Relaxed),
            emitted_inside: EMITTED_INSIDE.load(Relaxed),
            filtered: FILTERED.load(Relaxed),
            records_inside: RECORDS_INSIDE.load(Relaxed),
            delivered: DELIVERED.load(Relaxed),
            dropped_recursion: stats.snapshot().dropped.recursion,
            external_allowed: EXTERNAL_ALLOWED.load(Relaxed),
            external_refused: EXTERNAL_REFUSED.load(Relaxed),
        }
    }

    fn since(self, before: Totals) -> Totals {
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
fn verify(
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
pub fn check(program: &Program) -> Totals {
    let stats = install();
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
