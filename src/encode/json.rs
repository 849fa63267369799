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

use tracing_core::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::keys::{write_escaped_key, write_key, KeySet, Reserved};
use super::span_cache::write_name;
use super::time::{self, Now};
use super::value::{self, Acc};
use super::visitor::{EventVisitor, Style};
use super::{from_root, level_str, thread, with_fields, Budget, Config, Timestamp};

/// Encodes one event as a JSON line (ending in `\n`) at the end of `buf`.
pub(crate) fn encode<S>(
    cfg: &Config,
    buf: &mut Vec<u8>,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    now: Now,
    budget: Budget,
) -> Acc
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // Events from the `log` crate carry their real target, file and line
    // in fields; `fmt().json()` shows those, so do we.
    let normalized = event.normalized_metadata();
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let mut acc = Acc::default();
    let cap = budget.cap;
    let cut_down = budget.oversize.is_some();

    buf.push(b'{');
    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            buf.extend_from_slice(b"\"timestamp\":\"");
            time::rfc3339(buf, now);
            buf.extend_from_slice(b"\",");
        }
        Timestamp::UnixNanos => {
            buf.extend_from_slice(b"\"timestamp\":");
            time::unix_nanos(buf, now);
            buf.push(b',');
        }
        Timestamp::Off => {}
    }
    buf.extend_from_slice(b"\"level\":\"");
    buf.extend_from_slice(level_str(meta.level()).as_bytes());
    buf.push(b'"');
    if !cfg.statics.is_empty() {
        buf.push(b',');
        buf.extend_from_slice(&cfg.statics);
    }

    let leaf = if cfg.wants_spans() && !cut_down {
        ctx.event_span(event)
    } else {
        None
    };

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
        event.record(&mut v);
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
        event.record(&mut v);
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

    if let (true, Some(leaf)) = (cfg.flatten_spans, &leaf) {
        from_root(leaf, &mut |span: &SpanRef<'_, S>| {
            with_fields(span, |fields| {
                let Some(fields) = fields else { return };
                for (k, v) in fields.fields() {
                    buf.push(b',');
                    write_escaped_key(buf, &mut keys, &cfg.root_reserved, k);
                    buf.push(b':');
                    buf.extend_from_slice(v);
                }
                acc.truncated |= fields.truncated();
            })
        });
    }

    if cfg.target {
        buf.extend_from_slice(b",\"target\":");
        value::str(buf, meta.target(), cap, true, &mut acc);
    }
    if let (true, Some(file)) = (cfg.file, meta.file()) {
        buf.extend_from_slice(b",\"filename\":");
        value::str(buf, file, cap, true, &mut acc);
    }
    if let (true, Some(line)) = (cfg.line, meta.line()) {
        buf.extend_from_slice(b",\"line_number\":");
        value::u64(buf, line.into());
    }

    if let Some(leaf) = &leaf {
        let mut leaf_at = None;
        if cfg.current_span {
            buf.extend_from_slice(b",\"span\":");
            let start = buf.len();
            span_obj(buf, leaf, &mut acc);
            leaf_at = Some(start..buf.len());
        }
        if cfg.span_list {
            buf.extend_from_slice(b",\"spans\":[");
            if let Some(parent) = leaf.parent() {
                let mut first = true;
                from_root(&parent, &mut |span: &SpanRef<'_, S>| {
                    if !first {
                        buf.push(b',');
                    }
                    first = false;
                    span_obj(buf, span, &mut acc);
                });
                buf.push(b',');
            }
            // The leaf was just written as "span": copy it rather than
            // look its extensions up again.
            match leaf_at {
                Some(range) => buf.extend_from_within(range),
                None => span_obj(buf, leaf, &mut acc),
            }
            buf.push(b']');
        }
    }

    if cfg.thread_name || cfg.thread_id {
        thread::with(|t| {
            match (&t.name, cfg.thread_name) {
                (Some(name), true) => {
                    buf.extend_from_slice(b",\"threadName\":");
                    buf.extend_from_slice(name);
                }
                // As `fmt().json()`: an unnamed thread shows its id as its
                // name, unless the id has a member of its own.
                (None, true) if !cfg.thread_id => {
                    buf.extend_from_slice(b",\"threadName\":");
                    buf.extend_from_slice(&t.id);
                }
                _ => {}
            }
            if cfg.thread_id {
                buf.extend_from_slice(b",\"threadId\":");
                buf.extend_from_slice(&t.id);
            }
        });
    }

    buf.extend_from_slice(b"}\n");
    acc
}

/// Copies a span's cached object.
#[inline]
fn span_obj<S>(buf: &mut Vec<u8>, span: &SpanRef<'_, S>, acc: &mut Acc)
where
    S: for<'a> LookupSpan<'a>,
{
    with_fields(span, |fields| match fields {
        Some(fields) => {
            buf.extend_from_slice(fields.obj());
            acc.truncated |= fields.truncated();
        }
        // Created before this layer was there: the name is all we know.
        None => {
            buf.push(b'{');
            write_name(buf, span.name());
            buf.push(b'}');
        }
    });
}
