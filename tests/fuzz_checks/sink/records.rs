//! Target `sink`: the records producers submit, each carrying its id
//! (`@N@`), and how the ids are found again in the output.

use super::*;

/// Builds the record of submit `id`, about `len` bytes long.
pub(super) fn record(id: u32, len: usize, shape: Shape) -> Vec<u8> {
    let (head, tail, pad): (String, &[u8], &[&[u8]]) = match shape {
        Shape::Json => (format!("{{\"k\":\"@{id}@"), b"\"}\n", &[b"x"]),
        Shape::JsonUnicode => (
            format!("{{\"k\":\"@{id}@"),
            b"\"}\n",
            &[
                "é".as_bytes(),
                "😀".as_bytes(),
                b"\\\"",
                "\u{2028}".as_bytes(),
                b"\t",
                b"\x01",
            ],
        ),
        Shape::Text => (format!("@{id}@ "), b"\n", &[b"y"]),
        Shape::TextBinary => (
            format!("@{id}@ "),
            b"\n",
            &[b"\xff", b"\xc3", "é".as_bytes(), b"z"],
        ),
        Shape::Unterminated => (format!("@{id}@ "), b"", &[b"u"]),
        Shape::Empty => return Vec::new(),
    };
    let filler = if head.starts_with('{') { b'x' } else { b'y' };
    let mut r = head.into_bytes();
    let target = len.max(r.len() + tail.len());
    let mut i = 0;
    while r.len() + tail.len() < target {
        let p = pad[i % pad.len()];
        i += 1;
        if r.len() + p.len() + tail.len() <= target {
            r.extend_from_slice(p);
        } else {
            r.push(filler);
        }
    }
    r.extend_from_slice(tail);
    r
}

/// The ids (`@N@`) in `bytes`, with where each starts.
pub(super) fn markers(bytes: &[u8]) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - start < 9 {
                j += 1;
            }
            if j > start && j < bytes.len() && bytes[j] == b'@' {
                if let Ok(id) = std::str::from_utf8(&bytes[start..j]).unwrap_or("").parse() {
                    out.push((i, id));
                }
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}
