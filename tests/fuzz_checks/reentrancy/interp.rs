//! Target `reentrancy`: the interpreter of a program's actions, and the
//! values whose `Debug` logs, panics, fails or runs more of the program.

use super::*;

pub(super) struct Interp<'p> {
    pub(super) program: &'p Program,
    pub(super) blocks: Vec<&'p [Action]>,
    /// A copy of the program, made for the first `OnThread`.
    pub(super) owned: OnceCell<Arc<Program>>,
}

/// A field value as the program passes it to `event!`/`span!`.
pub(super) struct Val<'a> {
    pub(super) interp: &'a Interp<'a>,
    /// The block the value appears in: `Runs(b)` runs a block after it.
    pub(super) block: usize,
    pub(super) value: &'a Value,
}

impl fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a visitor of the subscriber stack formats a field.
        let _cb = Callback::enter("a field's Debug");
        self.render(f)
    }
}

/// The same value formatted by application code (`Action::Format`).
pub(super) struct Direct<'a>(pub(super) Val<'a>);

impl fmt::Debug for Direct<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f)
    }
}

impl Val<'_> {
    pub(super) fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
pub(super) struct Deep(pub(super) u32);

impl Deep {
    pub(super) fn log(&self) {
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

pub(super) fn emit_event(level: Lvl, fields: &[Val<'_>]) {
    emitted(level.into());
    match level {
        Lvl::Trace => event_at!(Level::TRACE, fields),
        Lvl::Debug => event_at!(Level::DEBUG, fields),
        Lvl::Info => event_at!(Level::INFO, fields),
        Lvl::Warn => event_at!(Level::WARN, fields),
        Lvl::Error => event_at!(Level::ERROR, fields),
    }
}

pub(super) fn new_span(level: Lvl, fields: &[Val<'_>]) -> Span {
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
pub(super) fn push_span(span: Span) {
    let evicted = SPANS.with(|t| {
        let mut t = t.borrow_mut();
        t.push(span);
        (t.len() > MAX_SPANS).then(|| t.remove(0))
    });
    drop(evicted);
}

pub(super) fn live_span(n: u8) -> Option<Span> {
    SPANS.with(|t| {
        let t = t.borrow();
        (!t.is_empty()).then(|| t[usize::from(n) % t.len()].clone())
    })
}

pub(super) fn take_span(n: u8) -> Option<Span> {
    SPANS.with(|t| {
        let mut t = t.borrow_mut();
        (!t.is_empty()).then(|| {
            let i = usize::from(n) % t.len();
            t.remove(i)
        })
    })
}

pub(super) fn clear_spans() {
    let all = SPANS.with(|t| std::mem::take(&mut *t.borrow_mut()));
    drop(all);
}

/// Exits entered spans, last entered first.
pub(super) fn exit_all(entered: &mut Vec<EnteredSpan>) {
    while let Some(span) = entered.pop() {
        drop(span);
    }
}

impl<'p> Interp<'p> {
    pub(super) fn new(program: &'p Program) -> Interp<'p> {
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
    pub(super) fn owned(&self) -> Arc<Program> {
        self.owned
            .get_or_init(|| Arc::new(self.program.clone()))
            .clone()
    }

    /// The block `b` names from block `from`: one after it, or none.
    pub(super) fn callee(&self, from: usize, b: u8) -> Option<usize> {
        let after = self.blocks.len().checked_sub(from + 1)?;
        (after > 0).then(|| from + 1 + usize::from(b) % after)
    }

    /// Calls `f` with up to [`MAX_FIELDS`] of `values` as `block`'s fields
    /// (on the stack: an event's fields are no allocation).
    pub(super) fn with_vals<R>(
        &self,
        block: usize,
        values: &[Value],
        f: impl FnOnce(&[Val<'_>]) -> R,
    ) -> R {
        let val = |value| Val {
            interp: self,
            block,
            value,
        };
        match values {
            [] => f(&[]),
            [a] => f(&[val(a)]),
            [a, b] => f(&[val(a), val(b)]),
            [a, b, c, ..] => f(&[val(a), val(b), val(c)]),
        }
    }

    pub(super) fn run_block(&self, block: usize) {
        let mut entered = Vec::new();
        for action in self.blocks[block] {
            if !take_step() {
                break;
            }
            self.act(action, block, &mut entered);
        }
        exit_all(&mut entered);
    }

    pub(super) fn act(&self, action: &Action, block: usize, entered: &mut Vec<EnteredSpan>) {
        check_path_agrees("application code");
        match action {
            Action::Event { level, fields } => {
                self.with_vals(block, fields, |f| emit_event(*level, f))
            }
            Action::NewSpan { level, fields } => {
                push_span(self.with_vals(block, fields, |f| new_span(*level, f)))
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
                let _ = fmt::write(&mut Discard, format_args!("{value:?}"));
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
                let ran = super::super::pool::run_elsewhere(move || {
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
