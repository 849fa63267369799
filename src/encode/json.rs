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
use super::{level_str, Budget, Config, Timestamp};

/// Encodes one event as a JSON line (ending in `\n`) at the end of `buf`.
pub(crate) fn encode(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, budget: Budget) -> Acc {
    let mut acc = Acc::default();
    let cap = budget.cap;
    let cut_down = budget.oversize.is_some();

    buf.push(b'{');
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

    let spans = cfg.wants_spans() && !cut_down && ev.in_span();

    let mut keys = KeySet::new();
    if cfg.flatten_event {
        let mut v = EventVisitor {
            buf: &mut *buf,
            keys: &mut keys,
            reserved: &cfg.root_reserved,
            style: Style::Json,
            cap,
            first: false,
            only_message: cut_down,
            acc: &mut acc,
        };
        ev.record(&mut v);
    } else {
        buf.extend_from_slice(b",\"fields\":{");
        let mut v = EventVisitor {
            buf: &mut *buf,
            keys: &mut keys,
            reserved: &Reserved::NONE,
            style: Style::Json,
            cap,
            first: true,
            only_message: cut_down,
            acc: &mut acc,
        };
        ev.record(&mut v);
        buf.push(b'}');
        keys.clear();
    }

    if let Some((bytes, max)) = budget.oversize {
        buf.push(b',');
        write_key(buf, &mut keys, &cfg.root_reserved, "truncated", "");
        buf.extend_from_slice(b":\"record of ");
        value::u64(buf, bytes as u64);
        buf.extend_from_slice(b" bytes over the maximum of ");
        value::u64(buf, max as u64);
        buf.extend_from_slice(b": fields and spans left out\"");
        acc.truncated = true;
    }

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

    if cfg.target {
        buf.extend_from_slice(b",\"target\":");
        value::str(buf, ev.target, cap, true, &mut acc);
    }
    if let (true, Some(file)) = (cfg.file, ev.file) {
        buf.extend_from_slice(b",\"filename\":");
        value::str(buf, file, cap, true, &mut acc);
    }
    if let (true, Some(line)) = (cfg.line, ev.line) {
        buf.extend_from_slice(b",\"line_number\":");
        value::u64(buf, line.into());
    }

    if spans {
        if cfg.current_span {
            buf.extend_from_slice(b",\"span\":");
            if let Some(leaf) = ev.spans().last() {
                span_obj(buf, &leaf, &mut acc);
            }
        }
        if cfg.span_list {
            buf.extend_from_slice(b",\"spans\":[");
            for (i, span) in ev.spans().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                span_obj(buf, &span, &mut acc);
            }
            buf.push(b']');
        }
    }

    if cfg.thread_name || cfg.thread_id {
        if let Some((name, id)) = ev.thread {
            match (name, cfg.thread_name) {
                (Some(name), true) => {
                    buf.extend_from_slice(b",\"threadName\":");
                    buf.extend_from_slice(name);
                }
                // As `fmt().json()`: an unnamed thread shows its id as its
                // name, unless the id has a member of its own.
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
    }

    buf.extend_from_slice(b"}\n");
    acc
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
