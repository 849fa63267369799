//! The `Visit` implementation that writes an event's fields.
//!
//! One visitor serves both formats: JSON members (`"key":value`, keys made
//! unique) and the text format's `key=value` pairs and bare message.

use std::error::Error;
use std::fmt;

use tracing_core::field::{Field, Visit};

use super::escape::escape;
use super::keys::{write_key, KeySet, Reserved};
use super::value::{self, Acc};

/// What the visitor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// JSON object members.
    Json,
    /// Only the `message` field's value, unquoted (text format).
    TextMessage,
    /// Every field but `message`, as ` key=value` (text format).
    TextFields {
        /// Dim the keys with ANSI escapes.
        ansi: bool,
    },
}

/// Writes the fields of one event into a record.
pub(crate) struct EventVisitor<'a> {
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) keys: &'a mut KeySet,
    pub(crate) reserved: &'a Reserved,
    pub(crate) style: Style,
    /// The budget of each string value, in escaped bytes.
    pub(crate) cap: usize,
    /// No member written yet (no comma needed). In `TextFields`: the
    /// message, already written up front, is still to be skipped.
    pub(crate) first: bool,
    /// Only the `message` field (a record cut down to fit).
    pub(crate) only_message: bool,
    pub(crate) acc: &'a mut Acc,
}

impl EventVisitor<'_> {
    /// Writes the key for a field; `false` when the field is not wanted.
    #[inline]
    fn key(&mut self, name: &str, suffix: &str) -> bool {
        // `log.target`, `log.file`...: the `log` bridge's metadata, already
        // shown as the record's own target, file and line; `fmt().json()`
        // leaves them out too.
        if name.starts_with("log.") {
            return false;
        }
        let is_message = name == "message" && suffix.is_empty();
        if self.only_message && !is_message {
            return false;
        }
        match self.style {
            Style::Json => {
                if !self.first {
                    self.buf.push(b',');
                }
                self.first = false;
                write_key(self.buf, self.keys, self.reserved, name, suffix);
                self.buf.push(b':');
                true
            }
            Style::TextMessage => {
                // A second `message` field is shown with the others.
                let wanted = is_message && self.first;
                self.first &= !wanted;
                wanted
            }
            Style::TextFields { ansi } => {
                // Here `first` means "the message written up front is
                // still to be skipped".
                if is_message && self.first {
                    self.first = false;
                    return false;
                }
                self.buf.push(b' ');
                if ansi {
                    self.buf.extend_from_slice(b"\x1b[3m");
                }
                escape(self.buf, name);
                escape(self.buf, suffix);
                if ansi {
                    self.buf.extend_from_slice(b"\x1b[0m");
                }
                self.buf.push(b'=');
                true
            }
        }
    }

    #[inline]
    fn quoted(&self) -> bool {
        self.style != Style::TextMessage
    }
}

impl Visit for EventVisitor<'_> {
    fn record_f64(&mut self, field: &Field, v: f64) {
        if self.key(field.name(), "") {
            value::f64(self.buf, v);
        }
    }

    fn record_i64(&mut self, field: &Field, v: i64) {
        if self.key(field.name(), "") {
            value::i64(self.buf, v);
        }
    }

    fn record_u64(&mut self, field: &Field, v: u64) {
        if self.key(field.name(), "") {
            value::u64(self.buf, v);
        }
    }

    fn record_i128(&mut self, field: &Field, v: i128) {
        if self.key(field.name(), "") {
            value::i128(self.buf, v);
        }
    }

    fn record_u128(&mut self, field: &Field, v: u128) {
        if self.key(field.name(), "") {
            value::u128(self.buf, v);
        }
    }

    fn record_bool(&mut self, field: &Field, v: bool) {
        if self.key(field.name(), "") {
            value::bool(self.buf, v);
        }
    }

    fn record_str(&mut self, field: &Field, v: &str) {
        if self.key(field.name(), "") {
            let quoted = self.quoted();
            value::str(self.buf, v, self.cap, quoted, self.acc);
        }
    }

    fn record_bytes(&mut self, field: &Field, v: &[u8]) {
        if self.key(field.name(), "") {
            let quoted = self.quoted();
            value::hex_bytes(self.buf, v, self.cap, quoted, self.acc);
        }
    }

    fn record_error(&mut self, field: &Field, v: &(dyn Error + 'static)) {
        if self.key(field.name(), "") {
            let quoted = self.quoted();
            value::error(self.buf, v, self.cap, quoted, self.acc);
        }
        // The chain goes in a sibling member, so the error's own value stays
        // what `fmt().json()` writes.
        if value::has_source(v) && self.key(field.name(), ".sources") {
            value::error_sources(self.buf, v, self.cap, self.acc);
        }
    }

    fn record_debug(&mut self, field: &Field, v: &dyn fmt::Debug) {
        if self.key(field.name(), "") {
            let quoted = self.quoted();
            value::debug(self.buf, v, self.cap, quoted, self.acc);
        }
    }
}
