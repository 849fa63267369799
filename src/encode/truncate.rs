//! Cutting values to a budget, with a visible marker.
//!
//! A value longer than its budget keeps its first bytes (cut at a character
//! boundary, never inside an escape sequence) followed by
//! `…[truncated N bytes]`, where N counts the bytes of the original value
//! that were left out. The reader sees that, and how much, was cut; the
//! record still fits the sink's maximum (invariant 3).

use std::fmt;

use super::escape::escape_within;

/// The marker's fixed parts; the longest marker is their length plus 20
/// digits.
const MARKER_HEAD: &[u8] = "…[truncated ".as_bytes();
const MARKER_TAIL: &[u8] = b" bytes]";

/// The most bytes a marker can take.
pub(crate) const MARKER_MAX: usize = MARKER_HEAD.len() + 20 + MARKER_TAIL.len();

/// The output budget of one string value.
#[derive(Debug)]
pub(crate) struct Cap {
    room: usize,
    cut: usize,
}

impl Cap {
    /// A budget of `limit` escaped bytes.
    #[inline]
    pub(crate) fn new(limit: usize) -> Cap {
        Cap {
            room: limit,
            cut: 0,
        }
    }

    /// Appends `s`, escaped, as far as the budget goes; counts the rest.
    #[inline]
    pub(crate) fn push(&mut self, buf: &mut Vec<u8>, s: &str) {
        if self.cut > 0 {
            // Once cut, stay cut: the value keeps a prefix, not pieces.
            self.cut += s.len();
            return;
        }
        let used = escape_within(buf, s, &mut self.room);
        self.cut += s.len() - used;
    }

    /// Counts `n` more bytes of the value as cut: the part a captured
    /// prefix left behind.
    #[inline]
    pub(crate) fn skip(&mut self, n: usize) {
        self.cut += n;
    }

    /// Appends the marker if anything was cut; returns whether it was.
    #[inline]
    pub(crate) fn finish(self, buf: &mut Vec<u8>) -> bool {
        if self.cut == 0 {
            return false;
        }
        marker(buf, self.cut);
        true
    }
}

/// Appends `…[truncated N bytes]`.
pub(crate) fn marker(buf: &mut Vec<u8>, cut: usize) {
    buf.extend_from_slice(MARKER_HEAD);
    buf.extend_from_slice(itoa::Buffer::new().format(cut).as_bytes());
    buf.extend_from_slice(MARKER_TAIL);
}

/// Appends what a record cut down to its message says of itself: `record
/// of N bytes over the maximum of M: fields and spans left out`.
pub(crate) fn oversize_note(buf: &mut Vec<u8>, bytes: usize, max: usize) {
    buf.extend_from_slice(b"record of ");
    buf.extend_from_slice(itoa::Buffer::new().format(bytes).as_bytes());
    buf.extend_from_slice(b" bytes over the maximum of ");
    buf.extend_from_slice(itoa::Buffer::new().format(max).as_bytes());
    buf.extend_from_slice(b": fields and spans left out");
}

/// A `fmt::Write` that escapes into a buffer within a [`Cap`]: what a
/// `Debug` or `Display` writes is escaped as it arrives, with no
/// intermediate `String`.
pub(crate) struct CapWriter<'a> {
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) cap: Cap,
}

impl fmt::Write for CapWriter<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Never an error: an error here would look like the value's own
        // `fmt::Error` and replace the whole value with a marker.
        self.cap.push(self.buf, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn cut_with_marker() {
        let mut buf = Vec::new();
        let mut cap = Cap::new(5);
        cap.push(&mut buf, "hello world");
        assert!(cap.finish(&mut buf));
        assert_eq!(String::from_utf8(buf).unwrap(), "hello…[truncated 6 bytes]");
    }

    #[test]
    fn pieces_stay_a_prefix() {
        let mut buf = Vec::new();
        let mut w = CapWriter {
            buf: &mut buf,
            cap: Cap::new(4),
        };
        w.write_str("abc").unwrap();
        w.write_str("日").unwrap(); // 3 bytes: does not fit in the 1 left
        w.write_str("d").unwrap(); // would fit, but the value is already cut
        let cap = w.cap;
        assert!(cap.finish(&mut buf));
        assert_eq!(String::from_utf8(buf).unwrap(), "abc…[truncated 4 bytes]");
    }

    #[test]
    fn fits_exactly() {
        let mut buf = Vec::new();
        let mut cap = Cap::new(3);
        cap.push(&mut buf, "abc");
        cap.push(&mut buf, "");
        assert!(!cap.finish(&mut buf));
        assert_eq!(buf, b"abc");
    }

    #[test]
    fn marker_max_is_an_upper_bound() {
        let mut buf = Vec::new();
        marker(&mut buf, usize::MAX);
        assert!(buf.len() <= MARKER_MAX);
    }
}
