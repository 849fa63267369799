//! The captured record: what the caller keeps of an event, in a compact
//! binary form, and its decoding on the worker.
//!
//! The caller copies what it cannot keep (borrowed strings, the output of
//! `Debug`/`Display`, which run once, on the caller) and the cheap raw
//! parts (the level, the call site's index, the clock's ticks, numbers,
//! the spans' cached JSON); escaping, number and timestamp formatting and
//! key de-duplication wait for the worker.
//!
//! ```text
//! [level u8][site u32][ticks u64][flags u8][flags & CUT: full size u32]
//! [flags & LOG:    target str, file opt-str, line opt-u32]
//! [flags & THREAD: name opt-bytes, id bytes]
//! [fields u8] ([field index u8][tag u8][value])*
//! [spans u16] ([name str][obj bytes][ranges u16, (u32 u32 u32)*][truncated u8])*
//! [flags & OTEL: trace id 16 bytes, span id 8 bytes]  (feature `opentelemetry`)
//! ```
//!
//! Strings and rendered values are kept as a prefix of at most the capture
//! limit plus their full length, which is all the worker's truncation needs
//! to write exactly what it would have written from the whole value.

use std::str;

/// The event came from the `log` crate: its target, file and line follow.
pub(crate) const LOG: u8 = 1;
/// The thread's name and id follow.
pub(crate) const THREAD: u8 = 2;
/// The event was too big to queue whole: only its message was kept, and
/// its full size (a `u32`) follows the flags.
pub(crate) const CUT: u8 = 4;
/// The W3C trace id and span id of the event's span end the record
/// ([`OTEL_LEN`] bytes), after the span section.
#[cfg(feature = "opentelemetry")]
pub(crate) const OTEL: u8 = 8;
/// The length of the trace context part.
#[cfg(feature = "opentelemetry")]
pub(crate) const OTEL_LEN: usize = 24;

const U64: u8 = 0;
const I64: u8 = 1;
const F64: u8 = 2;
const BOOL: u8 = 3;
const U128: u8 = 4;
const I128: u8 = 5;
const STR: u8 = 6;
const BYTES: u8 = 7;
const DEBUG: u8 = 8;
const ERROR: u8 = 9;

const SHOWN_OK: u8 = 0;
const SHOWN_FAILED: u8 = 1;
const SHOWN_PANICKED: u8 = 2;

/// A string cut to a prefix, with the length of the whole.
#[derive(Debug, PartialEq)]
pub(crate) struct Cut<'a, T: ?Sized> {
    pub(crate) prefix: &'a T,
    pub(crate) total: usize,
}

impl<T: ?Sized> Clone for Cut<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Cut<'_, T> {}

/// What running a `Debug` or `Display` gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shown<'a> {
    Ok(Cut<'a, str>),
    Failed,
    Panicked(Cut<'a, str>),
}

/// One field's captured value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    U128(u128),
    I128(i128),
    Str(Cut<'a, str>),
    Bytes(Cut<'a, [u8]>),
    Debug(Shown<'a>),
    /// An error's `Display`, and its sources when it has any.
    Error(Shown<'a>, Option<Sources<'a>>),
}

/// An error's captured sources, outermost first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sources<'a> {
    count: u8,
    /// There were more than the ones listed.
    pub(crate) more: bool,
    bytes: &'a [u8],
}

impl<'a> Sources<'a> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = Shown<'a>> + 'a {
        let mut r = Reader(self.bytes);
        (0..self.count).map_while(move |_| r.shown())
    }
}

// ---------------------------------------------------------------- writing

/// Appends the parts of a record.
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    /// Longest prefix kept of a string or rendered value.
    pub(crate) limit: usize,
}

impl Writer<'_> {
    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    #[inline]
    pub(crate) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// Bytes, whole.
    #[inline]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(to32(b.len()));
        self.out.extend_from_slice(b);
    }
    #[inline]
    pub(crate) fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
            None => self.u8(0),
        }
    }

    #[inline]
    pub(crate) fn field(&mut self, index: usize, tag: u8) {
        self.out.push(index as u8);
        self.out.push(tag);
    }

    #[inline]
    pub(crate) fn num_u64(&mut self, index: usize, v: u64) {
        self.field(index, U64);
        self.u64(v);
    }
    #[inline]
    pub(crate) fn num_i64(&mut self, index: usize, v: i64) {
        self.field(index, I64);
        self.u64(v as u64);
    }
    #[inline]
    pub(crate) fn num_f64(&mut self, index: usize, v: f64) {
        self.field(index, F64);
        self.u64(v.to_bits());
    }
    #[inline]
    pub(crate) fn boolean(&mut self, index: usize, v: bool) {
        self.field(index, BOOL);
        self.u8(v.into());
    }
    pub(crate) fn num_u128(&mut self, index: usize, v: u128) {
        self.field(index, U128);
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn num_i128(&mut self, index: usize, v: i128) {
        self.field(index, I128);
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    pub(crate) fn string(&mut self, index: usize, s: &str) {
        self.field(index, STR);
        self.cut_str(s);
    }
    pub(crate) fn raw_bytes(&mut self, index: usize, b: &[u8]) {
        self.field(index, BYTES);
        self.u32(to32(b.len()));
        self.bytes(&b[..b.len().min(self.limit)]);
    }

    /// A string as its prefix of at most `limit` bytes (at a character
    /// boundary) and its whole length.
    #[inline]
    pub(crate) fn cut_str(&mut self, s: &str) {
        self.u32(to32(s.len()));
        self.bytes(prefix(s, self.limit).as_bytes());
    }

    /// Starts a rendered value: call [`Writer::shown_end`] once the text
    /// (at most `limit` bytes of it) is appended, with its whole length.
    #[inline]
    pub(crate) fn shown_start(&mut self) -> usize {
        self.out.push(SHOWN_OK);
        self.out.extend_from_slice(&[0; 8]);
        self.out.len()
    }

    /// Ends a rendered value begun at `at` (see [`Writer::shown_start`]).
    #[inline]
    pub(crate) fn shown_end(&mut self, at: usize, total: usize) {
        let len = self.out.len() - at;
        self.out[at - 8..at - 4].copy_from_slice(&to32(total).to_le_bytes());
        self.out[at - 4..at].copy_from_slice(&to32(len).to_le_bytes());
    }

    /// Replaces the value begun at `at` with a failure marker.
    pub(crate) fn shown_failed(&mut self, at: usize) {
        self.out.truncate(at - 9);
        self.out.push(SHOWN_FAILED);
    }

    /// Replaces the value begun at `at` with a panic and its message.
    pub(crate) fn shown_panicked(&mut self, at: usize, msg: &str) {
        self.out.truncate(at - 9);
        self.out.push(SHOWN_PANICKED);
        self.cut_str(msg);
    }

    /// The tag of a `Debug` value (then a shown value).
    pub(crate) fn debug(&mut self, index: usize) {
        self.field(index, DEBUG);
    }

    /// The tag of an error (then its shown `Display`, then [`sources`]).
    pub(crate) fn error(&mut self, index: usize) {
        self.field(index, ERROR);
    }
}

/// `s` cut to at most `limit` bytes, at a character boundary.
#[inline]
pub(crate) fn prefix(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Lengths over 4 GiB cannot occur (values are capped far below); a
/// saturated one only changes the number a marker shows.
#[inline]
fn to32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------- reading

/// A cursor over a record. Every read is checked: a record this crate did
/// not write (it cannot happen) ends the read, never panics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    #[inline]
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    #[inline]
    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    #[inline]
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u128(&mut self) -> Option<u128> {
        Some(u128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
    #[inline]
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    #[inline]
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        str::from_utf8(self.bytes()?).ok()
    }
    pub(crate) fn opt_bytes(&mut self) -> Option<Option<&'a [u8]>> {
        match self.u8()? {
            0 => Some(None),
            _ => Some(Some(self.bytes()?)),
        }
    }
    #[inline]
    fn cut_str(&mut self) -> Option<Cut<'a, str>> {
        let total = self.u32()? as usize;
        Some(Cut {
            prefix: self.str()?,
            total,
        })
    }
    fn shown(&mut self) -> Option<Shown<'a>> {
        Some(match self.u8()? {
            SHOWN_OK => Shown::Ok(self.cut_str()?),
            SHOWN_FAILED => Shown::Failed,
            _ => Shown::Panicked(self.cut_str()?),
        })
    }

    /// One field: its index in the call site's field set, and its value.
    pub(crate) fn field(&mut self) -> Option<(usize, Value<'a>)> {
        let index = usize::from(self.u8()?);
        let value = match self.u8()? {
            U64 => Value::U64(self.u64()?),
            I64 => Value::I64(self.u64()? as i64),
            F64 => Value::F64(f64::from_bits(self.u64()?)),
            BOOL => Value::Bool(self.u8()? != 0),
            U128 => Value::U128(self.u128()?),
            I128 => Value::I128(self.u128()? as i128),
            STR => Value::Str(self.cut_str()?),
            BYTES => {
                let total = self.u32()? as usize;
                Value::Bytes(Cut {
                    prefix: self.bytes()?,
                    total,
                })
            }
            DEBUG => Value::Debug(self.shown()?),
            ERROR => {
                let display = self.shown()?;
                let sources = match self.u8()? {
                    0 => None,
                    _ => {
                        let count = self.u8()?;
                        let more = self.u8()? != 0;
                        let bytes = self.bytes()?;
                        Some(Sources { count, more, bytes })
                    }
                };
                Value::Error(display, sources)
            }
            _ => return None,
        };
        Some((index, value))
    }
}

/// One span of a captured chain, as its cache holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpanView<'a> {
    pub(crate) name: &'a str,
    /// `{"field":value,...,"name":"span"}`.
    pub(crate) obj: &'a [u8],
    /// `(key start, key end, value end)` in `obj`, 12 bytes each.
    ranges: &'a [u8],
    pub(crate) truncated: bool,
}

impl<'a> SpanView<'a> {
    /// Each field as (escaped key without quotes, JSON value).
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let obj = self.obj;
        self.ranges.chunks_exact(12).filter_map(move |r| {
            let at = |i: usize| Some(u32::from_le_bytes(r[i..i + 4].try_into().ok()?) as usize);
            let (k, ke, ve) = (at(0)?, at(4)?, at(8)?);
            Some((obj.get(k + 1..ke - 1)?, obj.get(ke + 1..ve)?))
        })
    }
}

/// Writes one span of a chain.
pub(crate) fn write_span(
    out: &mut Vec<u8>,
    name: &str,
    obj: &[u8],
    ranges: &[(u32, u32, u32)],
    truncated: bool,
) {
    let mut w = Writer { out, limit: 0 };
    w.bytes(name.as_bytes());
    w.bytes(obj);
    w.u16(ranges.len().min(u16::MAX as usize) as u16);
    for &(k, ke, ve) in ranges.iter().take(u16::MAX as usize) {
        w.u32(k);
        w.u32(ke);
        w.u32(ve);
    }
    w.u8(u8::from(truncated) << 1);
}

/// Reads a chain of `count` spans, root first.
pub(crate) fn spans(chain: &[u8]) -> impl Iterator<Item = SpanView<'_>> + '_ {
    let mut r = Reader(chain);
    std::iter::from_fn(move || {
        let name = r.str()?;
        let obj = r.bytes()?;
        let n = usize::from(r.u16()?);
        let ranges = r.take(n * 12)?;
        let flags = r.u8()?;
        Some(SpanView {
            name,
            obj,
            ranges,
            truncated: flags & 2 != 0,
        })
    })
}
