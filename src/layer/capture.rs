//! The caller's path of the layer: one event into one captured record,
//! pushed to this thread's sink lane.

use tracing_core::{Event, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::stack::Thread;
use super::JsonLayer;
use crate::encode::capture::Capture;
use crate::encode::record::{self, Writer, CUT, LOG, THREAD};
use crate::encode::{from_root, thread, with_fields, Timestamp};
use crate::sink_core::{level_byte, FRAME};

impl JsonLayer {
    pub(super) fn event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let cell = self.threads.get_or(Default::default);
        // Busy only if this thread is inside its own capture (a field's
        // `Debug` that logs gets here only past the guard); then skip.
        let Ok(mut t) = cell.try_borrow_mut() else {
            return;
        };
        let t = &mut *t;
        let meta = event.metadata();
        let level = *meta.level();
        let site = self.site(t, meta);
        // One clock reading, for the timestamp and the rate limit.
        let ticks = match (self.cfg().timestamp, &self.storm) {
            (Timestamp::Off, None) => 0,
            _ => self.sink.clock().raw(),
        };
        if let Some(limit) = &self.storm {
            if !t.buckets.admit(site, ticks, limit) {
                self.suppress(site, level);
                return;
            }
        }
        let mut buf = std::mem::take(&mut t.record);
        buf.clear();
        buf.extend_from_slice(&[0; FRAME]);
        let mut pass = Pass {
            site,
            ticks,
            limit: self.limit(),
            cut_down: None,
        };
        self.capture(t, &mut buf, event, ctx, pass);
        if buf.len() - FRAME > self.max_capture() {
            // Too big to queue whole: keep the message, and say how big
            // the event was, as the worker does for a line too long.
            pass.cut_down = Some(buf.len() - FRAME);
            pass.limit = self.sink.max_record() / 4;
            buf.truncate(FRAME);
            self.capture(t, &mut buf, event, ctx, pass);
        }
        if self.eager {
            self.format_here(level, &buf[FRAME..]);
        } else {
            // A drop is the sink's to count and report.
            let _ = self.sink.push(self.kind, level, &mut buf);
        }
        t.record = buf;
    }

    /// The eager oracle: formats the record here, as the worker would, and
    /// submits the line (which the sink cuts, as the worker does, if the
    /// format's own fields leave it too long).
    #[cold]
    fn format_here(&self, level: tracing_core::Level, payload: &[u8]) {
        use crate::sink_core::Render;
        let mut line = self.sink.buffer();
        let wall = self.sink.clock().wall();
        if self
            .format
            .render(payload, &wall, self.sink.max_record(), &mut line)
        {
            self.sink.counters().truncated();
        }
        let _ = self.sink.submit(level, line);
    }

    /// The index of the event's call site in this layer's table: from the
    /// thread's cache, or interned.
    #[inline]
    fn site(&self, t: &mut Thread, meta: &'static Metadata<'static>) -> u32 {
        let addr = meta as *const _ as usize;
        match t.sites.get(addr) {
            Some(i) => i,
            None => {
                let i = self.format.intern(meta);
                t.sites.put(addr, i);
                i
            }
        }
    }

    /// Drops an event over its call site's rate limit, uncaptured: counted
    /// for its site's summary first, then in the sink's lane.
    #[inline(never)]
    fn suppress(&self, site: u32, level: tracing_core::Level) {
        if let Some(storm) = &self.format.storm {
            storm.count(site);
        }
        self.sink
            .count_uncaptured(level, crate::stats::DropReason::RateLimited);
    }

    /// The longest prefix of a value kept: enough for every budget the
    /// worker may cut it to (see `encode::event::render`).
    fn limit(&self) -> usize {
        self.cfg().cap.max(self.sink.max_record() / 4)
    }

    /// The largest captured record queued whole.
    fn max_capture(&self) -> usize {
        self.sink.max_capture()
    }

    fn capture<S>(
        &self,
        t: &mut Thread,
        buf: &mut Vec<u8>,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        pass: Pass,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Pass {
            site,
            ticks,
            limit,
            cut_down,
        } = pass;
        let cfg = self.cfg();
        let meta = event.metadata();
        // Records bridged from `log` come from tracing-log's call sites,
        // whose target is `log`: only those are worth its exact check.
        let normalized = if meta.target() == "log" {
            event.normalized_metadata()
        } else {
            None
        };
        let threads = cfg.thread_name || cfg.thread_id;
        let mut w = Writer { out: buf, limit };
        w.u8(level_byte(*meta.level()));
        w.u32(site);
        w.u64(ticks);
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        #[cfg(feature = "opentelemetry")]
        let flags_at = w.out.len();
        w.u8(flag(normalized.is_some(), LOG)
            | flag(threads, THREAD)
            | flag(cut_down.is_some(), CUT));
        if let Some(full) = cut_down {
            w.u32(u32::try_from(full).unwrap_or(u32::MAX));
        }
        if let Some(m) = &normalized {
            log_origin(&mut w, m);
        }
        if threads {
            thread::with(|info| {
                w.opt_bytes(info.name.as_deref());
                w.bytes(&info.id);
            });
        }
        // The count and the length of the fields, filled in after: the
        // worker finds the span section without reading every field twice.
        let count_at = w.out.len();
        w.u8(0);
        w.u32(0);
        let mut c = Capture {
            w,
            count: 0,
            only_message: cut_down.is_some(),
        };
        event.record(&mut c);
        let count = c.count;
        let buf = c.w.out;
        buf[count_at] = count;
        let len = (buf.len() - count_at - 5) as u32;
        buf[count_at + 1..count_at + 5].copy_from_slice(&len.to_le_bytes());
        if cfg.wants_spans() && cut_down.is_none() {
            self.spans(t, buf, event, ctx);
        } else {
            buf.push(0);
        }
        #[cfg(feature = "opentelemetry")]
        if cfg.trace_keys.is_some() {
            if let Some(ids) = self.trace_ids(t, event, ctx) {
                buf.extend_from_slice(&ids);
                buf[flags_at] |= record::OTEL;
            }
        }
    }

    /// The trace context of the event's span: looked up once per enter of
    /// this thread's current span, or each time for an explicit parent.
    #[cfg(feature = "opentelemetry")]
    fn trace_ids<S>(
        &self,
        t: &mut Thread,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
    ) -> Option<crate::otel::Ids>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if !event.is_contextual() || self.eager {
            let leaf = ctx.event_span(event)?;
            return self.otel.ids(&leaf.id());
        }
        let frame = t.stack.current()?;
        *frame
            .ids
            .get_or_insert_with(|| self.otel.ids(&tracing_core::span::Id::from_u64(frame.id)))
    }

    /// The event's span chain: this thread's current span, as captured at
    /// its enter (again only when a span was recorded since), or an
    /// explicit parent's, looked up.
    fn spans<S>(&self, t: &mut Thread, buf: &mut Vec<u8>, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // The eager oracle asks the registry every time, cache or not.
        if !event.is_contextual() || self.eager {
            match ctx.event_span(event) {
                Some(leaf) => {
                    buf.push(1);
                    chain(buf, &leaf);
                }
                None => buf.push(0),
            }
            return;
        }
        let Some(frame) = t.stack.current() else {
            buf.push(0);
            return;
        };
        let gen = self.span_gen.load(std::sync::atomic::Ordering::Acquire);
        if frame.gen != gen {
            frame.chain.clear();
            match ctx.span(&tracing_core::span::Id::from_u64(frame.id)) {
                Some(leaf) => chain(&mut frame.chain, &leaf),
                None => frame.chain.clear(),
            }
            frame.gen = gen;
        }
        if frame.chain.is_empty() {
            buf.push(0);
        } else {
            buf.push(1);
            buf.extend_from_slice(&frame.chain);
        }
    }
}

/// What one capture of an event is given: its call site and clock reading
/// (taken once per event), and how much of each value it keeps.
#[derive(Clone, Copy)]
struct Pass {
    site: u32,
    ticks: u64,
    /// The longest prefix of a value kept.
    limit: usize,
    /// The event's full size, when this is the cut-down second capture.
    cut_down: Option<usize>,
}

/// Captures the chain from the root down to `leaf`.
fn chain<S>(out: &mut Vec<u8>, leaf: &SpanRef<'_, S>)
where
    S: for<'a> LookupSpan<'a>,
{
    from_root(leaf, &mut |span: &SpanRef<'_, S>| {
        with_fields(span, |fields| match fields {
            Some(f) => f.capture(out, span.name()),
            // Created before this layer was there: the name is all we know.
            None => {
                let mut obj = Vec::with_capacity(span.name().len() + 12);
                obj.push(b'{');
                crate::encode::span_cache::write_name(&mut obj, span.name());
                obj.push(b'}');
                record::write_span(out, span.name(), &obj, &[], false);
            }
        })
    });
}

/// A `log` record's own target, file and line (its call site is
/// tracing-log's, shared by every record). Apart to keep `capture` short.
#[inline(never)]
fn log_origin(w: &mut Writer<'_>, m: &Metadata<'_>) {
    w.bytes(m.target().as_bytes());
    w.opt_bytes(m.file().map(str::as_bytes));
    match m.line() {
        Some(line) => {
            w.u8(1);
            w.u32(line);
        }
        None => w.u8(0),
    }
}
