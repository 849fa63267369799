//! Writing one value of every type `tracing` records, as JSON.
//!
//! - Integers are exact: a JSON number when they fit in 64 bits, a string
//!   of digits otherwise (a parser reading numbers as `f64` or `i64` would
//!   silently change them).
//! - NaN and ±infinity are the strings `"NaN"`, `"inf"`, `"-inf"`: JSON has
//!   no such numbers, and `null` would lose what the value was.
//! - Finite floats print as `serde_json` prints them (shortest round-trip).
//! - `Debug` and `Display` run inside `catch_unwind` and write through an
//!   escaping, budgeted writer: one that panics or returns `fmt::Error`
//!   gives a marker string, and the caller is never unwound.

use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::capture::PANIC_MESSAGE_MAX;
use super::escape::quote;
use super::record::{Cut, Shown, Sources};
use super::truncate::{Cap, CapWriter};
use crate::contain;

/// The most sources of one error that are listed.
const MAX_SOURCES: usize = 16;

/// What writing the values of one record saw, for the truncation count and
/// for fitting an oversized record into the sink's maximum.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Acc {
    /// A value was cut.
    pub(crate) truncated: bool,
    /// String values written.
    pub(crate) strings: usize,
    /// Bytes those string values took, quotes and markers included.
    pub(crate) string_bytes: usize,
}

#[inline]
pub(crate) fn u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub(crate) fn i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub(crate) fn u128(buf: &mut Vec<u8>, v: u128) {
    match u64::try_from(v) {
        Ok(v) => u64(buf, v),
        Err(_) => {
            buf.push(b'"');
            buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            buf.push(b'"');
        }
    }
}

#[inline]
pub(crate) fn i128(buf: &mut Vec<u8>, v: i128) {
    match i64::try_from(v) {
        Ok(v) => i64(buf, v),
        Err(_) => {
            buf.push(b'"');
            buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            buf.push(b'"');
        }
    }
}

#[inline]
pub(crate) fn f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        buf.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else if v.is_nan() {
        buf.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        buf.extend_from_slice(b"\"inf\"");
    } else {
        buf.extend_from_slice(b"\"-inf\"");
    }
}

#[inline]
pub(crate) fn bool(buf: &mut Vec<u8>, v: bool) {
    buf.extend_from_slice(if v { b"true" } else { b"false" });
}

/// A string value, within `cap` escaped bytes. Unquoted for the text
/// format's message.
#[inline]
pub(crate) fn str(buf: &mut Vec<u8>, s: &str, cap: usize, quoted: bool, acc: &mut Acc) {
    let start = buf.len();
    if quoted {
        buf.push(b'"');
    }
    let mut c = Cap::new(cap);
    c.push(buf, s);
    acc.truncated |= c.finish(buf);
    if quoted {
        buf.push(b'"');
    }
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// A captured string: its prefix, cut to `cap` as the whole would have
/// been (the prefix is at least `cap` bytes long when the whole was).
#[inline]
pub(crate) fn str_cut(buf: &mut Vec<u8>, s: Cut<'_, str>, cap: usize, quoted: bool, acc: &mut Acc) {
    let start = buf.len();
    if quoted {
        buf.push(b'"');
    }
    let mut c = Cap::new(cap);
    c.push(buf, s.prefix);
    c.skip(s.total.saturating_sub(s.prefix.len()));
    acc.truncated |= c.finish(buf);
    if quoted {
        buf.push(b'"');
    }
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// A captured `Debug` or `Display` (`what`): its text, or the marker of
/// its failure or panic.
pub(crate) fn shown(
    buf: &mut Vec<u8>,
    v: Shown<'_>,
    what: &str,
    cap: usize,
    quoted: bool,
    acc: &mut Acc,
) {
    let start = buf.len();
    match v {
        Shown::Ok(text) => {
            str_cut(buf, text, cap, quoted, acc);
            return;
        }
        Shown::Failed => {
            if quoted {
                buf.push(b'"');
            }
            buf.push(b'<');
            buf.extend_from_slice(what.as_bytes());
            buf.extend_from_slice(b" failed>");
        }
        Shown::Panicked(msg) => {
            if quoted {
                buf.push(b'"');
            }
            buf.push(b'<');
            buf.extend_from_slice(what.as_bytes());
            buf.extend_from_slice(b" panicked: ");
            let mut c = Cap::new(PANIC_MESSAGE_MAX.min(cap));
            c.push(buf, msg.prefix);
            c.skip(msg.total.saturating_sub(msg.prefix.len()));
            c.finish(buf);
            buf.push(b'>');
        }
    }
    if quoted {
        buf.push(b'"');
    }
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// A captured error's sources, as a JSON array.
pub(crate) fn sources(buf: &mut Vec<u8>, s: Sources<'_>, cap: usize, acc: &mut Acc) {
    buf.push(b'[');
    for (i, source) in s.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        shown(buf, source, "Display", cap, true, acc);
    }
    if s.more {
        // A chain this long is a bug (or a cycle); say so and stop.
        buf.extend_from_slice(b",\"...[more sources]\"");
        acc.truncated = true;
    }
    buf.push(b']');
}

/// A value's `Debug`, as a string.
#[inline]
pub(crate) fn debug(
    buf: &mut Vec<u8>,
    v: &dyn fmt::Debug,
    cap: usize,
    quoted: bool,
    acc: &mut Acc,
) {
    formatted(buf, cap, quoted, acc, "Debug", |w| {
        fmt::write(w, format_args!("{v:?}"))
    });
}

/// An error's `Display`, as a string.
#[inline]
pub(crate) fn error(
    buf: &mut Vec<u8>,
    e: &(dyn Error + 'static),
    cap: usize,
    quoted: bool,
    acc: &mut Acc,
) {
    formatted(buf, cap, quoted, acc, "Display", |w| {
        fmt::write(w, format_args!("{e}"))
    });
}

/// Whether `e` has a source, asked without letting a panic out.
pub(crate) fn has_source(e: &(dyn Error + 'static)) -> bool {
    contain::catch(|| e.source().is_some()).unwrap_or(false)
}

/// The `Display` of each source of `e`, outermost first, as a JSON array.
pub(crate) fn error_sources(
    buf: &mut Vec<u8>,
    e: &(dyn Error + 'static),
    cap: usize,
    acc: &mut Acc,
) {
    buf.push(b'[');
    let mut next = contain::catch(|| e.source()).flatten();
    let mut listed = 0;
    while let Some(source) = next {
        if listed == MAX_SOURCES {
            // A chain this long is a bug (or a cycle); say so and stop.
            buf.extend_from_slice(b",\"...[more sources]\"");
            acc.truncated = true;
            break;
        }
        if listed > 0 {
            buf.push(b',');
        }
        error(buf, source, cap, true, acc);
        listed += 1;
        next = contain::catch(|| source.source()).flatten();
    }
    buf.push(b']');
}

/// Bytes as `tracing`'s `HexBytes` shows them: `"[61 62 63]"`.
pub(crate) fn hex_bytes_cut(
    buf: &mut Vec<u8>,
    b: Cut<'_, [u8]>,
    cap: usize,
    quoted: bool,
    acc: &mut Acc,
) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let start = buf.len();
    if quoted {
        buf.push(b'"');
    }
    buf.push(b'[');
    // Each byte takes at most three characters.
    let shown = b.total.min(cap / 3).min(b.prefix.len());
    for (i, &byte) in b.prefix[..shown].iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(&[HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]]);
    }
    buf.push(b']');
    if shown < b.total {
        super::truncate::marker(buf, b.total - shown);
        acc.truncated = true;
    }
    if quoted {
        buf.push(b'"');
    }
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// Bytes as an array of numbers, as `fmt().json()` shows them in spans.
pub(crate) fn bytes_array(buf: &mut Vec<u8>, b: &[u8], cap: usize, acc: &mut Acc) {
    let start = buf.len();
    buf.push(b'[');
    // Each byte takes at most four characters.
    let shown = b.len().min(cap / 4);
    for (i, &byte) in b[..shown].iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        u64(buf, byte.into());
    }
    if shown < b.len() {
        if shown > 0 {
            buf.push(b',');
        }
        buf.push(b'"');
        super::truncate::marker(buf, b.len() - shown);
        buf.push(b'"');
        acc.truncated = true;
    }
    buf.push(b']');
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// Runs user formatting into the buffer, escaped and within `cap`. A
/// `fmt::Error` or a panic replaces whatever it wrote with a marker.
#[inline]
fn formatted(
    buf: &mut Vec<u8>,
    cap: usize,
    quoted: bool,
    acc: &mut Acc,
    what: &str,
    f: impl FnOnce(&mut CapWriter<'_>) -> fmt::Result,
) {
    let start = buf.len();
    if quoted {
        buf.push(b'"');
    }
    let content = buf.len();
    let mut w = CapWriter {
        buf: &mut *buf,
        cap: Cap::new(cap),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut w)));
    let cap_state = w.cap;
    match outcome {
        Ok(Ok(())) => acc.truncated |= cap_state.finish(buf),
        Ok(Err(fmt::Error)) => {
            buf.truncate(content);
            buf.push(b'<');
            buf.extend_from_slice(what.as_bytes());
            buf.extend_from_slice(b" failed>");
        }
        Err(payload) => {
            let payload = contain::resume_if_strict(payload);
            buf.truncate(content);
            buf.push(b'<');
            buf.extend_from_slice(what.as_bytes());
            buf.extend_from_slice(b" panicked: ");
            let msg = contain::panic_message(&*payload).unwrap_or("(no message)");
            let mut c = Cap::new(PANIC_MESSAGE_MAX.min(cap));
            c.push(buf, msg);
            c.finish(buf);
            buf.push(b'>');
            // The payload's own destructor is user code too.
            contain::drop_payload(payload);
        }
    }
    if quoted {
        buf.push(b'"');
    }
    acc.strings += 1;
    acc.string_bytes += buf.len() - start;
}

/// A JSON value given by the configuration (static fields), written once at
/// build time.
pub(crate) fn json_value(buf: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(b) => bool(buf, *b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u64(buf, u);
            } else if let Some(i) = n.as_i64() {
                i64(buf, i);
            } else {
                f64(buf, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => quote(buf, s),
        Value::Array(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                json_value(buf, item);
            }
            buf.push(b']');
        }
        Value::Object(map) => {
            // A `serde_json::Map` has unique keys already.
            buf.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                quote(buf, k);
                buf.push(b':');
                json_value(buf, item);
            }
            buf.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(f: impl FnOnce(&mut Vec<u8>, &mut Acc)) -> (String, Acc) {
        let mut buf = Vec::new();
        let mut acc = Acc::default();
        f(&mut buf, &mut acc);
        (String::from_utf8(buf).unwrap(), acc)
    }

    #[test]
    fn numbers() {
        assert_eq!(
            out(|b, _| u128(b, u128::MAX)).0,
            format!("\"{}\"", u128::MAX)
        );
        assert_eq!(out(|b, _| u128(b, 7)).0, "7");
        assert_eq!(
            out(|b, _| i128(b, i128::MIN)).0,
            format!("\"{}\"", i128::MIN)
        );
        assert_eq!(out(|b, _| i128(b, -7)).0, "-7");
        assert_eq!(out(|b, _| f64(b, f64::NAN)).0, "\"NaN\"");
        assert_eq!(out(|b, _| f64(b, f64::INFINITY)).0, "\"inf\"");
        assert_eq!(out(|b, _| f64(b, f64::NEG_INFINITY)).0, "\"-inf\"");
        assert_eq!(
            out(|b, _| f64(b, 1.0)).0,
            serde_json::to_string(&1.0f64).unwrap()
        );
        assert_eq!(
            out(|b, _| f64(b, 1e300)).0,
            serde_json::to_string(&1e300f64).unwrap()
        );
    }

    struct Panics;
    impl fmt::Debug for Panics {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("partial")?;
            panic!("boom \"quoted\"")
        }
    }

    struct Fails;
    impl fmt::Debug for Fails {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("partial")?;
            Err(fmt::Error)
        }
    }

    #[test]
    fn bad_debug() {
        let (s, _) = out(|b, a| debug(b, &Panics, 100, true, a));
        assert_eq!(s, r#""<Debug panicked: boom \"quoted\">""#);
        let (s, _) = out(|b, a| debug(b, &Fails, 100, true, a));
        assert_eq!(s, r#""<Debug failed>""#);
    }

    #[test]
    fn bytes() {
        assert_eq!(
            out(|b, a| hex_bytes_cut(
                b,
                Cut {
                    prefix: &b"abc"[..],
                    total: 3
                },
                100,
                true,
                a
            ))
            .0,
            "\"[61 62 63]\""
        );
        assert_eq!(out(|b, a| bytes_array(b, b"abc", 100, a)).0, "[97,98,99]");
        let (s, acc) = out(|b, a| bytes_array(b, b"abc", 4, a));
        assert_eq!(s, "[97,\"…[truncated 2 bytes]\"]");
        assert!(acc.truncated);
    }
}
