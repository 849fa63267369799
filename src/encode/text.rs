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
use super::{level_str, truncate, Budget, Config, Timestamp};

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
    let mut acc = Acc::default();
    head(cfg, buf, ev);
    if (cfg.current_span || cfg.span_list) && budget.oversize.is_none() && ev.in_span() {
        span_chain(cfg.ansi, buf, ev, &mut acc);
    }
    location(cfg, buf, ev, budget.cap, &mut acc);
    fields(cfg.ansi, buf, ev, budget, &mut acc);
    if let Some((bytes, max)) = budget.oversize {
        buf.extend_from_slice(" …[".as_bytes());
        truncate::oversize_note(buf, bytes, max);
        buf.push(b']');
        acc.truncated = true;
    }
    buf.push(b'\n');
    acc
}

/// The timestamp, the level (right-aligned in five columns, as `fmt`
/// aligns it) and the thread, each followed by a space.
#[inline]
fn head(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>) {
    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            if cfg.ansi {
                buf.extend_from_slice(DIM);
            }
            time::rfc3339(buf, ev.now);
            if cfg.ansi {
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
    buf.extend_from_slice(&b"     "[level.len()..]);
    styled(buf, cfg.ansi, level_colour(&ev.level), level.as_bytes());
    buf.push(b' ');
    let Some((name, id)) = ev.thread.filter(|_| cfg.thread_name || cfg.thread_id) else {
        return;
    };
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

/// `root{k=v}:leaf{k=v}: `, root first.
#[inline]
fn span_chain(ansi: bool, buf: &mut Vec<u8>, ev: &Event<'_>, acc: &mut Acc) {
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

/// `target:` and ` file:line:`, as configured.
#[inline]
fn location(cfg: &Config, buf: &mut Vec<u8>, ev: &Event<'_>, cap: usize, acc: &mut Acc) {
    if cfg.target {
        if cfg.ansi {
            buf.extend_from_slice(DIM);
        }
        let mut c = super::truncate::Cap::new(cap);
        c.push(buf, ev.target);
        acc.truncated |= c.finish(buf);
        buf.push(b':');
        if cfg.ansi {
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
}

/// The message first, bare; then the other fields as ` key=value`.
#[inline]
fn fields(ansi: bool, buf: &mut Vec<u8>, ev: &Event<'_>, budget: Budget, acc: &mut Acc) {
    let mut keys = KeySet::new();
    buf.push(b' ');
    let before = buf.len();
    let none = &Reserved::NONE;
    let mut v = EventVisitor::new(buf, &mut keys, none, Style::TextMessage, budget, true, acc);
    ev.record(&mut v);
    let wrote_message = !v.first;
    if buf.len() == before {
        buf.pop();
    }
    let style = Style::TextFields { ansi };
    ev.record(&mut EventVisitor::new(
        buf,
        &mut keys,
        none,
        style,
        budget,
        wrote_message,
        acc,
    ));
}
