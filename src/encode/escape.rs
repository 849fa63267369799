//! JSON string escaping (RFC 8259), with an output budget.
//!
//! Every control character is escaped, so a record is always one line and
//! no value can forge a second record. U+2028 and U+2029 are escaped too:
//! they are valid JSON but end lines in JavaScript and in some log viewers.
//! Plain bytes are copied in runs, so ASCII text costs one table lookup per
//! byte and one `memcpy` per run.

/// Bytes that need a look: control characters, `"`, `\`, and 0xE2, the lead
/// byte of U+2028/U+2029 (most 0xE2 sequences are copied as they are).
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0xE2] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The escape sequence for a special ASCII byte, in a fixed buffer.
#[inline]
fn ascii_escape(b: u8) -> ([u8; 6], usize) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0C => b'f',
        _ => 0,
    };
    if short != 0 {
        ([b'\\', short, 0, 0, 0, 0], 2)
    } else {
        (
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ],
            6,
        )
    }
}

/// Is `bytes[i..]` U+2028 or U+2029 (`E2 80 A8` / `E2 80 A9`)?
#[inline]
fn line_separator(bytes: &[u8], i: usize) -> Option<&'static [u8; 6]> {
    match bytes.get(i + 1..i + 3) {
        Some([0x80, 0xA8]) => Some(b"\\u2028"),
        Some([0x80, 0xA9]) => Some(b"\\u2029"),
        _ => None,
    }
}

/// Appends `s` as a JSON string: quoted, escaped (see [`escape`]).
#[inline]
pub(crate) fn quote(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    escape(buf, s);
    buf.push(b'"');
}

/// Appends `s` escaped (without quotes).
#[inline]
pub(crate) fn escape(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Keys and most values are plain: one scan, one copy.
    if next_special(bytes, 0, bytes.len()) == bytes.len() {
        buf.extend_from_slice(bytes);
    } else {
        let mut room = usize::MAX;
        escape_slow(buf, s, &mut room);
    }
}

/// Whether any byte of `w` may need escaping (exact: no false positives,
/// no false negatives).
#[inline]
fn word_has_special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // `x - ONES & !x & HIGH` is non-zero exactly when `x` has a zero byte;
    // with `ONES * n` (n <= 0x80), when it has a byte below n.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below_space
        | zero(w ^ (ONES * u64::from(b'"')))
        | zero(w ^ (ONES * u64::from(b'\\')))
        | zero(w ^ (ONES * 0xE2)))
        != 0
}

#[inline]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The bytes of a slice shorter than 8 in one word, padded with a plain
/// byte: every byte of `b` is in it (some twice), so one check covers all.
#[inline]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(lo) | u64::from(hi) << 32
    } else if n > 0 {
        u64::from_le_bytes([b[0], b[n / 2], b[n - 1], b'a', b'a', b'a', b'a', b'a'])
    } else {
        u64::from_le_bytes([b'a'; 8])
    }
}

/// Finds the first byte in `bytes[from..to]` that may need escaping, or
/// `to`. Eight bytes at a time: plain text is skipped a word per step, and
/// a short key or value is checked in one step.
#[inline]
fn next_special(bytes: &[u8], from: usize, to: usize) -> usize {
    let mut i = from;
    while i + 8 <= to {
        if word_has_special(word(bytes, i)) {
            return scan(bytes, i, to);
        }
        i += 8;
    }
    if i == to {
        return to;
    }
    // The tail: an overlapping last word when there is one, else the
    // short slice packed into a word.
    let tail = if to - from >= 8 {
        word(bytes, to - 8)
    } else {
        short_word(&bytes[i..to])
    };
    if word_has_special(tail) {
        scan(bytes, i, to)
    } else {
        to
    }
}

/// Byte by byte, once a word has shown something to look at.
#[inline]
fn scan(bytes: &[u8], mut i: usize, to: usize) -> usize {
    while i < to && !SPECIAL[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Appends as much of `s`, escaped, as fits in `room` output bytes, cut at
/// a character boundary (never inside an escape sequence), and returns how
/// many bytes of `s` were consumed. `room` is decreased by what was written.
///
/// Scans at most `room` bytes past the last escape, so a 100 MB value with
/// a 16 KiB budget costs 16 KiB of work, not 100 MB.
#[inline]
pub(crate) fn escape_within(buf: &mut Vec<u8>, s: &str, room: &mut usize) -> usize {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n <= *room && next_special(bytes, 0, n) == n {
        buf.extend_from_slice(bytes);
        *room -= n;
        return n;
    }
    escape_slow(buf, s, room)
}

/// [`escape_within`] for text that needs escapes or may not fit.
#[inline(never)]
fn escape_slow(buf: &mut Vec<u8>, s: &str, room: &mut usize) -> usize {
    let bytes = s.as_bytes();
    let n = bytes.len();
    // The pending run of plain bytes is bytes[start..i]; it never grows
    // longer than `room`, since each raw byte costs at least one output byte.
    let mut start: usize = 0;
    let mut i = 0;
    loop {
        let limit = n.min(start.saturating_add(*room));
        i = next_special(bytes, i, limit);
        if i == limit {
            break;
        }
        let b = bytes[i];
        let (seq, seq_len, raw_len) = if b == 0xE2 {
            match line_separator(bytes, i) {
                Some(seq) => (*seq, 6, 3),
                None => {
                    i += 1;
                    continue;
                }
            }
        } else {
            let (seq, len) = ascii_escape(b);
            (seq, len, 1)
        };
        buf.extend_from_slice(&bytes[start..i]);
        *room -= i - start;
        if seq_len > *room {
            // `i` is at a special byte: ASCII or a lead byte, a boundary.
            return i;
        }
        buf.extend_from_slice(&seq[..seq_len]);
        *room -= seq_len;
        i += raw_len;
        start = i;
    }
    let end = if i == n {
        n
    } else {
        // Out of room inside a run: back off to a character boundary.
        let mut cut = i;
        while cut > start && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        cut
    };
    buf.extend_from_slice(&bytes[start..end]);
    *room -= end - start;
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut b = Vec::new();
        escape(&mut b, s);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn plain_and_special() {
        assert_eq!(esc("hello"), "hello");
        assert_eq!(esc("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(esc("\n\r\t\u{8}\u{c}"), "\\n\\r\\t\\b\\f");
        assert_eq!(esc("\u{0}\u{1f}"), "\\u0000\\u001f");
        assert_eq!(esc("\u{1b}[31m"), "\\u001b[31m");
        assert_eq!(esc("a\u{2028}b\u{2029}c"), "a\\u2028b\\u2029c");
        // Other characters with the same lead byte pass through.
        assert_eq!(esc("…→"), "…→");
        assert_eq!(esc("日本"), "日本");
    }

    #[test]
    fn budget_cuts_at_boundaries() {
        let mut b = Vec::new();
        let mut room = 4;
        assert_eq!(escape_within(&mut b, "ab日本", &mut room), 2);
        assert_eq!(b, b"ab");
        assert_eq!(room, 2);

        let mut b = Vec::new();
        let mut room = 3;
        assert_eq!(escape_within(&mut b, "a\nb", &mut room), 2);
        assert_eq!(b, b"a\\n");

        let mut b = Vec::new();
        let mut room = 2;
        assert_eq!(escape_within(&mut b, "a\nb", &mut room), 1);
        assert_eq!(b, b"a");

        let mut b = Vec::new();
        let mut room = 7;
        assert_eq!(escape_within(&mut b, "\u{2028}\u{2028}", &mut room), 3);
        assert_eq!(b, b"\\u2028");
    }

    #[test]
    fn word_scan_finds_every_special() {
        // Each special byte at each offset of a long plain string.
        for special in ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{2028}"] {
            for at in 0..20 {
                let s = format!("{}{}{}", "a".repeat(at), special, "b".repeat(20 - at));
                let got = esc(&s);
                let want = serde_json::to_string(&s).unwrap();
                let want = want[1..want.len() - 1].replace('\u{2028}', "\\u2028");
                assert_eq!(got, want, "{s:?}");
            }
        }
        // Short strings, each length, each position.
        for n in 0..12 {
            for at in 0..n {
                for special in ['"', '\\', '\n', '\u{2028}'] {
                    let mut s: String = "x".repeat(n);
                    s.replace_range(at..at + 1, special.encode_utf8(&mut [0; 4]));
                    let want = serde_json::to_string(&s).unwrap();
                    let want = want[1..want.len() - 1].replace('\u{2028}', "\\u2028");
                    assert_eq!(esc(&s), want, "{s:?}");
                }
            }
        }
        // Bytes just around the special ranges pass through.
        assert_eq!(esc(" !#[]~\u{7f}\u{80}é…"), " !#[]~\u{7f}\u{80}é…");
    }

    #[test]
    fn budget_exact_fit() {
        let mut b = Vec::new();
        let mut room = 5;
        assert_eq!(escape_within(&mut b, "hello", &mut room), 5);
        assert_eq!(room, 0);
        let mut room = 0;
        assert_eq!(escape_within(&mut b, "x", &mut room), 0);
    }
}
