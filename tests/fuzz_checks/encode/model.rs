//! Target `encode`: the program's interpreter, and its model of every
//! span and event it emitted (what each line must say).

use super::*;

/// What the harness knows of a span.
#[derive(Clone, Debug)]
pub(super) struct SpanModel {
    pub(super) meta: &'static Metadata<'static>,
    pub(super) parent: Option<usize>,
    /// (field index, value), as the layer keeps them: a `record` replaces
    /// every entry of each field it records.
    pub(super) entries: Vec<(usize, FVal)>,
}

/// An event as emitted, for checking its line.
pub(super) struct Emitted {
    pub(super) meta: &'static Metadata<'static>,
    pub(super) fields: Vec<(usize, FVal)>,
    /// The event's spans, root first, as they were when it was emitted.
    pub(super) spans: Vec<SpanModel>,
}

pub(super) struct Program {
    pub(super) models: Vec<SpanModel>,
    /// Live handles: (model, span).
    pub(super) live: Vec<(usize, Span)>,
    pub(super) entered: Vec<tracing::span::EnteredSpan>,
    /// Span id -> model, for the current span.
    pub(super) by_id: std::collections::HashMap<u64, usize>,
    pub(super) emitted: Vec<Emitted>,
    pub(super) problems: Vec<String>,
}

impl Program {
    pub(super) fn live(&self, n: u8) -> Option<(usize, Span)> {
        (!self.live.is_empty()).then(|| self.live[usize::from(n) % self.live.len()].clone())
    }

    pub(super) fn current(&self) -> Option<usize> {
        let id = Span::current().id()?;
        self.by_id.get(&id.into_u64()).copied()
    }

    pub(super) fn chain(&self, leaf: Option<usize>) -> Vec<SpanModel> {
        let mut chain = Vec::new();
        let mut at = leaf;
        while let Some(i) = at {
            chain.push(self.models[i].clone());
            at = self.models[i].parent;
        }
        chain.reverse();
        chain
    }

    pub(super) fn act(&mut self, action: &Action) {
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
    pub(super) fn parent(
        &self,
        p: Parent,
    ) -> (Option<usize>, Option<Option<tracing_core::span::Id>>) {
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
