//! The compact text line format, for people at a terminal.
//!
//! ```text
//! 2026-11-28T22:09:42.123456Z  INFO request{method="GET"}: app: request handled user_id=42 path="/api/v1/items"
//! ```
//!
//! Timestamp, level, the span chain from the root with each span's fields,
//! the target, the message, then the other fields as `key=value`. Values
//! are escaped exactly as in JSON, so a line stays one line and a value
//! cannot inject terminal escapes; colours come only from the format, and
//! only when the builder was told the output is a terminal.

use tracing_core::Level;

use super::escape::escape;
use super::event::Event;
use super::keys::{KeySet, Reserved};
use super::time;
use super::value::{self, Acc};
use super::visitor::{EventVisitor, Style};
use super::{level_str, Budget, Config, Timestamp};

const RESET: &[u8] = b"\x1b[0m";
const DIM: &[u8] = b"\x1b[2m";
const BOLD: &[u8] = b"\x1b[1m";

fn level_colour(level: &Level) -> &'static [u8] {
    match *level {
        Level::TRACE => b"\x1b[35m",
        Level::DEBUG => b"\x1b[34m",
        Level::INFO => b"\x1b[32m",
        Level::WARN => b"\x1b[33m",
        _ => b"\x1b[31m",
    }
}

/// Writes `bytes`, wrapped in an ANSI style when colours are on.
#[inline]
fn styled(buf: &mut Vec<u8>, ansi: bool, style: &[u8], bytes: &[u8]) {
    if ansi {
        buf.extend_from_slice(style);
    }
    buf.extend_from_slice(bytes);
    if ansi {
        buf.extend_from_slice(RESET);
    }
}

/// Encodes one event as a text line (ending in `\n`) at the end of `buf`.
pub(crate) fn encode(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, budget: Budget) -> Acc {
    let ansi = cfg.ansi;
    let cap = budget.cap;
    let cut_down = budget.oversize.is_some();
    let mut acc = Acc::default();

    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            if ansi {
                buf.extend_from_slice(DIM);
            }
            time::rfc3339(buf, ev.now);
            if ansi {
                buf.extend_from_slice(RESET);
            }
            buf.push(b' ');
        }
        Timestamp::UnixNanos => {
            time::unix_nanos(buf, ev.now);
            buf.push(b' ');
        }
        Timestamp::Off => {}
    }
    let level = level_str(&ev.level);
    // Right-aligned in five columns, as `fmt` aligns it.
    buf.extend_from_slice(&b"     "[level.len()..]);
    styled(buf, ansi, level_colour(&ev.level), level.as_bytes());
    buf.push(b' ');

    if cfg.thread_name || cfg.thread_id {
        if let Some((name, id)) = ev.thread {
            // The JSON strings, quotes included, read fine here too.
            if let (true, Some(name)) = (cfg.thread_name, name) {
                buf.extend_from_slice(name);
                buf.push(b' ');
            }
            if cfg.thread_id || name.is_none() {
                buf.extend_from_slice(id);
                buf.push(b' ');
            }
        }
    }

    if (cfg.current_span || cfg.span_list) && !cut_down && ev.in_span() {
        for span in ev.spans() {
            if ansi {
                buf.extend_from_slice(BOLD);
            }
            escape(buf, span.name);
            if ansi {
                buf.extend_from_slice(RESET);
            }
            let mut first = true;
            for (k, v) in span.fields() {
                buf.push(if first { b'{' } else { b' ' });
                first = false;
                buf.extend_from_slice(k);
                buf.push(b'=');
                buf.extend_from_slice(v);
            }
            if !first {
                buf.push(b'}');
            }
            acc.truncated |= span.truncated;
            buf.push(b':');
        }
        buf.push(b' ');
    }

    if cfg.target {
        if ansi {
            buf.extend_from_slice(DIM);
        }
        let mut c = super::truncate::Cap::new(cap);
        c.push(buf, ev.target);
        acc.truncated |= c.finish(buf);
        buf.push(b':');
        if ansi {
            buf.extend_from_slice(RESET);
        }
    }
    if let (true, Some(file)) = (cfg.file, ev.file) {
        buf.push(b' ');
        escape(buf, file);
        if let (true, Some(line)) = (cfg.line, ev.line) {
            buf.push(b':');
            value::u64(buf, line.into());
        }
        buf.push(b':');
    }

    // The message first, bare; then the other fields.
    let mut keys = KeySet::new();
    buf.push(b' ');
    let before = buf.len();
    let mut v = EventVisitor {
        buf: &mut *buf,
        keys: &mut keys,
        reserved: &Reserved::NONE,
        style: Style::TextMessage,
        cap,
        first: true,
        only_message: cut_down,
        acc: &mut acc,
    };
    ev.record(&mut v);
    let wrote_message = !v.first;
    if buf.len() == before {
        buf.pop();
    }
    let mut v = EventVisitor {
        buf: &mut *buf,
        keys: &mut keys,
        reserved: &Reserved::NONE,
        style: Style::TextFields { ansi },
        cap,
        first: wrote_message,
        only_message: cut_down,
        acc: &mut acc,
    };
    ev.record(&mut v);

    if let Some((bytes, max)) = budget.oversize {
        buf.extend_from_slice(" …[record of ".as_bytes());
        value::u64(buf, bytes as u64);
        buf.extend_from_slice(b" bytes over the maximum of ");
        value::u64(buf, max as u64);
        buf.extend_from_slice(b": fields and spans left out]");
        acc.truncated = true;
    }
    buf.push(b'\n');
    acc
}
