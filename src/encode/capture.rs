//! The caller's half of encoding: the `Visit` that copies an event's
//! fields into a captured record ([`record`](super::record)).
//!
//! Numbers and bools are copied raw. Strings and bytes are copied up to the
//! capture limit. `Debug` and `Display` run here, once, inside
//! `catch_unwind`, writing raw text up to the limit while counting all of
//! it; a panic or `fmt::Error` is kept as such, and the worker writes the
//! same marker the eager encoder wrote.

use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use tracing_core::field::{Field, Visit};

use super::record::Writer;
use crate::contain;

/// The longest panic message kept (the marker shows at most this much).
pub(crate) const PANIC_MESSAGE_MAX: usize = 256;
/// The most sources of one error that are listed.
pub(crate) const MAX_SOURCES: usize = 16;

/// Copies an event's fields into a record.
pub(crate) struct Capture<'a> {
    pub(crate) w: Writer<'a>,
    /// Fields written so far (at most 32 in a field set).
    pub(crate) count: u8,
    /// Only the `message` field (an event too big to queue whole).
    pub(crate) only_message: bool,
}

impl Capture<'_> {
    /// Whether the field is kept: the `log` bridge's `log.*` fields are
    /// shown as the record's own target, file and line.
    #[inline]
    fn keep(&mut self, field: &Field) -> bool {
        if field.name().starts_with("log.") || (self.only_message && field.name() != "message") {
            return false;
        }
        self.count = self.count.saturating_add(1);
        true
    }

    /// Runs user formatting, keeping what it wrote (or how it failed).
    fn shown(&mut self, f: impl FnOnce(&mut RawCap<'_>) -> fmt::Result) {
        let at = self.w.shown_start();
        let limit = self.w.limit;
        let mut raw = RawCap {
            out: &mut *self.w.out,
            room: limit,
            total: 0,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut raw)));
        let total = raw.total;
        match outcome {
            Ok(Ok(())) => self.w.shown_end(at, total),
            Ok(Err(fmt::Error)) => self.w.shown_failed(at),
            Err(payload) => {
                let payload = contain::resume_if_strict(payload);
                let msg = contain::panic_message(&*payload).unwrap_or("(no message)");
                let limit = std::mem::replace(&mut self.w.limit, PANIC_MESSAGE_MAX);
                self.w.shown_panicked(at, msg);
                self.w.limit = limit;
                // The payload's own destructor is user code too.
                contain::drop_payload(payload);
            }
        }
    }

    /// An error's sources, as a count, a "more" flag and their texts.
    fn sources(&mut self, e: &(dyn Error + 'static)) {
        let first = contain::catch(|| e.source()).flatten();
        let Some(first) = first else {
            self.w.u8(0);
            return;
        };
        self.w.u8(1);
        let head = self.w.out.len();
        self.w.u8(0); // count
        self.w.u8(0); // more
        self.w.u32(0); // bytes
        let start = self.w.out.len();
        let mut next = Some(first);
        let mut listed = 0u8;
        while let Some(source) = next {
            if usize::from(listed) == MAX_SOURCES {
                self.w.out[head + 1] = 1;
                break;
            }
            self.shown(|w| fmt::write(w, format_args!("{source}")));
            listed += 1;
            next = contain::catch(|| source.source()).flatten();
        }
        let len = (self.w.out.len() - start) as u32;
        self.w.out[head] = listed;
        self.w.out[head + 2..head + 6].copy_from_slice(&len.to_le_bytes());
    }
}

/// A `fmt::Write` that keeps the first `room` bytes (at character
/// boundaries) and counts them all.
pub(crate) struct RawCap<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
    total: usize,
}

impl fmt::Write for RawCap<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        if self.room > 0 {
            let kept = super::record::prefix(s, self.room);
            self.out.extend_from_slice(kept.as_bytes());
            // Once a piece is cut, stay cut: the value keeps a prefix.
            self.room = if kept.len() == s.len() {
                self.room - kept.len()
            } else {
                0
            };
        }
        Ok(())
    }
}

impl Visit for Capture<'_> {
    fn record_f64(&mut self, field: &Field, v: f64) {
        if self.keep(field) {
            self.w.num_f64(field.index(), v);
        }
    }

    fn record_i64(&mut self, field: &Field, v: i64) {
        if self.keep(field) {
            self.w.num_i64(field.index(), v);
        }
    }

    fn record_u64(&mut self, field: &Field, v: u64) {
        if self.keep(field) {
            self.w.num_u64(field.index(), v);
        }
    }

    fn record_i128(&mut self, field: &Field, v: i128) {
        if self.keep(field) {
            self.w.num_i128(field.index(), v);
        }
    }

    fn record_u128(&mut self, field: &Field, v: u128) {
        if self.keep(field) {
            self.w.num_u128(field.index(), v);
        }
    }

    fn record_bool(&mut self, field: &Field, v: bool) {
        if self.keep(field) {
            self.w.boolean(field.index(), v);
        }
    }

    fn record_str(&mut self, field: &Field, v: &str) {
        if self.keep(field) {
            self.w.string(field.index(), v);
        }
    }

    fn record_bytes(&mut self, field: &Field, v: &[u8]) {
        if self.keep(field) {
            self.w.raw_bytes(field.index(), v);
        }
    }

    fn record_error(&mut self, field: &Field, v: &(dyn Error + 'static)) {
        if self.keep(field) {
            self.w.error(field.index());
            self.shown(|w| fmt::write(w, format_args!("{v}")));
            self.sources(v);
        }
    }

    fn record_debug(&mut self, field: &Field, v: &dyn fmt::Debug) {
        if self.keep(field) {
            self.w.debug(field.index());
            self.shown(|w| fmt::write(w, format_args!("{v:?}")));
        }
    }
}
