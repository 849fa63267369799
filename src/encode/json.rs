//! The JSON line format.
//!
//! By default the same keys, in the same order, with the same values as
//! `tracing_subscriber::fmt().json()`:
//!
//! ```text
//! {"timestamp":"...","level":"INFO","fields":{"message":"...",...},"target":"app",
//!  "filename":"src/main.rs","line_number":12,"span":{...,"name":"request"},
//!  "spans":[{...,"name":"request"}],"threadName":"main","threadId":"ThreadId(1)"}
//! ```
//!
//! (`filename`, `line_number`, `threadName` and `threadId` are off by
//! default, as there.) Static fields follow `level`; flattened span fields
//! follow the event's fields. Where this differs from `fmt().json()`, it
//! is deliberate: NaN and ±inf are strings, not `null`; 128-bit integers
//! that fit in 64 bits are numbers; an error's source chain is listed in a
//! sibling `<field>.sources` member; duplicate keys are renamed; and an
//! event with an explicit parent lists that parent's spans.

use super::event::Event;
use super::keys::{write_escaped_key, write_key, KeySet, Reserved};
use super::record::SpanView;
use super::time;
use super::value::{self, Acc};
use super::visitor::{EventVisitor, Style};
use super::{level_str, truncate, Budget, Config, Timestamp};

/// Encodes one event as a JSON line (ending in `\n`) at the end of `buf`.
pub(crate) fn encode(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, budget: Budget) -> Acc {
    let mut acc = Acc::default();
    buf.push(b'{');
    head(cfg, buf, ev);
    let mut keys = KeySet::new();
    fields(cfg, buf, ev, budget, &mut keys, &mut acc);
    let spans = cfg.wants_spans() && budget.oversize.is_none() && ev.in_span();
    if spans && cfg.flatten_spans {
        for span in ev.spans() {
            for (k, v) in span.fields() {
                buf.push(b',');
                write_escaped_key(buf, &mut keys, &cfg.root_reserved, k, "");
                buf.push(b':');
                buf.extend_from_slice(v);
            }
            acc.truncated |= span.truncated;
        }
    }
    location(cfg, buf, ev, budget.cap, &mut acc);
    if spans {
        span_members(cfg, buf, ev, &mut acc);
    }
    thread(cfg, buf, ev);
    buf.extend_from_slice(b"}\n");
    acc
}

/// `"timestamp":…,"level":"…"`, the static fields, the trace context.
#[inline]
fn head(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>) {
    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            buf.extend_from_slice(b"\"timestamp\":\"");
            time::rfc3339(buf, ev.now);
            buf.extend_from_slice(b"\",");
        }
        Timestamp::UnixNanos => {
            buf.extend_from_slice(b"\"timestamp\":");
            time::unix_nanos(buf, ev.now);
            buf.push(b',');
        }
        Timestamp::Off => {}
    }
    buf.extend_from_slice(b"\"level\":\"");
    buf.extend_from_slice(level_str(&ev.level).as_bytes());
    buf.push(b'"');
    if !cfg.statics.is_empty() {
        buf.push(b',');
        buf.extend_from_slice(&cfg.statics);
    }
    #[cfg(feature = "opentelemetry")]
    if let (Some(keys), Some(ids)) = (&cfg.trace_keys, ev.trace) {
        trace_context(buf, keys, ids);
    }
}

/// The event's fields (in `"fields":{…}`, or flattened into the record),
/// then the note of a record cut down to its message. Leaves in `keys` the
/// root keys taken.
#[inline]
fn fields(
    cfg: &Config,
    buf: &mut Vec<u8>,
    ev: &Event<'_>,
    budget: Budget,
    keys: &mut KeySet,
    acc: &mut Acc,
) {
    let (reserved, first) = if cfg.flatten_event {
        (&cfg.root_reserved, false)
    } else {
        buf.extend_from_slice(b",\"fields\":{");
        (&Reserved::NONE, true)
    };
    ev.record(&mut EventVisitor::new(
        buf,
        keys,
        reserved,
        Style::Json,
        budget,
        first,
        acc,
    ));
    if !cfg.flatten_event {
        buf.push(b'}');
        keys.clear();
    }
    if let Some((bytes, max)) = budget.oversize {
        buf.push(b',');
        write_key(buf, keys, &cfg.root_reserved, "truncated", "");
        buf.extend_from_slice(b":\"");
        truncate::oversize_note(buf, bytes, max);
        buf.push(b'"');
        acc.truncated = true;
    }
}

/// `"target"`, `"filename"` and `"line_number"`, as configured.
#[inline]
fn location(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, cap: usize, acc: &mut Acc) {
    if cfg.target {
        buf.extend_from_slice(b",\"target\":");
        value::str(buf, ev.target, cap, true, acc);
    }
    if let (true, Some(file)) = (cfg.file, ev.file) {
        buf.extend_from_slice(b",\"filename\":");
        value::str(buf, file, cap, true, acc);
    }
    if let (true, Some(line)) = (cfg.line, ev.line) {
        buf.extend_from_slice(b",\"line_number\":");
        value::u64(buf, line.into());
    }
}

/// `"span"` (the event's own) and `"spans"` (root first), as configured.
#[inline]
fn span_members(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, acc: &mut Acc) {
    if cfg.current_span {
        buf.extend_from_slice(b",\"span\":");
        if let Some(leaf) = ev.spans().last() {
            span_obj(buf, &leaf, acc);
        }
    }
    if cfg.span_list {
        buf.extend_from_slice(b",\"spans\":[");
        for (i, span) in ev.spans().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            span_obj(buf, &span, acc);
        }
        buf.push(b']');
    }
}

/// `"threadName"` and `"threadId"`, as configured and captured.
#[inline]
fn thread(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>) {
    let Some((name, id)) = ev.thread.filter(|_| cfg.thread_name || cfg.thread_id) else {
        return;
    };
    match (name, cfg.thread_name) {
        (Some(name), true) => {
            buf.extend_from_slice(b",\"threadName\":");
            buf.extend_from_slice(name);
        }
        // As `fmt().json()`: an unnamed thread shows its id as its name,
        // unless the id has a member of its own.
        (None, true) if !cfg.thread_id => {
            buf.extend_from_slice(b",\"threadName\":");
            buf.extend_from_slice(id);
        }
        _ => {}
    }
    if cfg.thread_id {
        buf.extend_from_slice(b",\"threadId\":");
        buf.extend_from_slice(id);
    }
}

/// Copies a span's cached object.
#[inline]
fn span_obj(buf: &mut Vec<u8>, span: &SpanView<'_>, acc: &mut Acc) {
    buf.extend_from_slice(span.obj);
    acc.truncated |= span.truncated;
}

/// `,"trace_id":"<32 hex>","span_id":"<16 hex>"`.
#[cfg(feature = "opentelemetry")]
fn trace_context(buf: &mut Vec<u8>, keys: &super::TraceKeys, ids: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (trace, span) = ids.split_at(16.min(ids.len()));
    let hex = |buf: &mut Vec<u8>, bytes: &[u8]| {
        for b in bytes {
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 15)]);
        }
    };
    buf.extend_from_slice(keys.trace.as_bytes());
    hex(buf, trace);
    buf.extend_from_slice(keys.span.as_bytes());
    hex(buf, span);
    buf.push(b'"');
}
