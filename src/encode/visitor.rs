//! Writing an event's captured fields.
//!
//! One visitor serves both formats: JSON members (`"key":value`, keys made
//! unique) and the text format's `key=value` pairs and bare message.

use super::escape::escape;
use super::keys::{write_escaped_key, KeySet, Reserved};
use super::record::Value;
use super::value::{self, Acc};
use super::Budget;

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

impl<'a> EventVisitor<'a> {
    /// A visitor for one pass of `budget`: cut down to the message when the
    /// record is oversize. `first`: no member written yet.
    #[inline]
    pub(crate) fn new(
        buf: &'a mut Vec<u8>,
        keys: &'a mut KeySet,
        reserved: &'a Reserved,
        style: Style,
        budget: Budget,
        first: bool,
        acc: &'a mut Acc,
    ) -> EventVisitor<'a> {
        EventVisitor {
            buf,
            keys,
            reserved,
            style,
            cap: budget.cap,
            first,
            only_message: budget.oversize.is_some(),
            acc,
        }
    }

    /// Writes the key for a field; `false` when the field is not wanted.
    #[inline]
    /// `name` is escaped already (the call site's names are, once).
    fn key(&mut self, name: &[u8], suffix: &str) -> bool {
        let is_message = name == b"message" && suffix.is_empty();
        if self.only_message && !is_message {
            return false;
        }
        match self.style {
            Style::Json => {
                if !self.first {
                    self.buf.push(b',');
                }
                self.first = false;
                write_escaped_key(self.buf, self.keys, self.reserved, name, suffix);
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
                self.buf.extend_from_slice(name);
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

impl EventVisitor<'_> {
    /// Writes one captured field, as the eager encoder wrote the live one.
    pub(crate) fn field(&mut self, name: &[u8], v: Value<'_>) {
        if !self.key(name, "") {
            return;
        }
        let quoted = self.quoted();
        let (buf, cap, acc) = (&mut *self.buf, self.cap, &mut *self.acc);
        match v {
            Value::U64(v) => value::u64(buf, v),
            Value::I64(v) => value::i64(buf, v),
            Value::F64(v) => value::f64(buf, v),
            Value::Bool(v) => value::bool(buf, v),
            Value::U128(v) => value::u128(buf, v),
            Value::I128(v) => value::i128(buf, v),
            Value::Str(s) => value::str_cut(buf, s, cap, quoted, acc),
            Value::Bytes(b) => value::hex_bytes_cut(buf, b, cap, quoted, acc),
            Value::Debug(shown) => value::shown(buf, shown, "Debug", cap, quoted, acc),
            Value::Error(display, sources) => {
                value::shown(buf, display, "Display", cap, quoted, acc);
                // The chain goes in a sibling member, so the error's own
                // value stays what `fmt().json()` writes.
                if let Some(sources) = sources {
                    if self.key(name, ".sources") {
                        value::sources(self.buf, sources, self.cap, self.acc);
                    }
                }
            }
        }
    }
}
