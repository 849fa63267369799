//! Unique keys in every JSON object.
//!
//! Two fields with one name (`message` twice, a flattened field named
//! `level`, two spans with an `id` flattened together) would give an object
//! with a duplicate key, which parsers resolve differently (most keep the
//! last, silently). Instead a later duplicate is renamed visibly:
//! `message`, then `message.1`, `message.2`, ...
//!
//! Keys are compared as the escaped bytes already written to the record
//! (escaping is one-to-one), so checking needs no second copy of any key.
//! Keys the format writes itself (`level`, `target`, a span's `name`, the
//! static fields, ...) are *reserved*: a field never takes them, whatever
//! the order the object is written in.

use super::escape::escape;

/// How many keys one object tracks without touching the heap. A `tracing`
/// field set holds at most 32 fields.
const INLINE: usize = 32;

/// A one-bit summary of a quoted key (its length and two bytes): when a
/// key's bit is not yet set, the key is certainly new, and the common case
/// costs no comparison at all.
#[inline]
fn bit(key: &[u8]) -> u64 {
    let n = key.len();
    let first = u32::from(key.get(1).copied().unwrap_or(0));
    let last = u32::from(key.get(n.saturating_sub(2)).copied().unwrap_or(0));
    let h = (n as u32)
        .wrapping_mul(7)
        .wrapping_add(first)
        .wrapping_add(last.wrapping_mul(3));
    1 << (h & 63)
}

/// Keys an object keeps for the format's own members, with their summary.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reserved {
    keys: Vec<Box<[u8]>>,
    mask: u64,
}

impl Reserved {
    /// No reserved keys.
    pub(crate) const NONE: Reserved = Reserved {
        keys: Vec::new(),
        mask: 0,
    };

    /// Reserves `name`.
    pub(crate) fn add(&mut self, name: &str) {
        let key = quoted(name);
        self.mask |= bit(&key);
        self.keys.push(key);
    }

    /// Reserves a key given quoted and escaped.
    pub(crate) fn add_quoted(&mut self, key: Box<[u8]>) {
        self.mask |= bit(&key);
        self.keys.push(key);
    }

    #[inline]
    fn contains(&self, key: &[u8]) -> bool {
        self.keys.iter().any(|r| **r == *key)
    }
}

/// The keys written so far in one object, as ranges of the record.
pub(crate) struct KeySet {
    inline: [(u32, u32); INLINE],
    len: usize,
    spill: Vec<(u32, u32)>,
    mask: u64,
}

impl KeySet {
    /// An empty set; no heap allocation until it holds more than 32 keys.
    #[inline]
    pub(crate) fn new() -> KeySet {
        KeySet {
            inline: [(0, 0); INLINE],
            len: 0,
            spill: Vec::new(),
            mask: 0,
        }
    }

    /// Forgets every key (a new object begins).
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
        self.mask = 0;
    }

    #[inline]
    fn push(&mut self, range: (u32, u32)) {
        if self.len < INLINE {
            self.inline[self.len] = range;
            self.len += 1;
        } else {
            self.spill.push(range);
        }
    }

    #[inline]
    fn contains(&self, buf: &[u8], key: &[u8]) -> bool {
        self.inline[..self.len]
            .iter()
            .chain(self.spill.iter())
            .any(|&(s, e)| buf.get(s as usize..e as usize) == Some(key))
    }
}

/// Writes `"name<suffix>"` (escaped) and, when that key is already in the
/// object or reserved, renames it to `"name<suffix>.N"` with the first free
/// N. Records the key in `keys`. Does not write the `:`.
#[inline]
pub(crate) fn write_key(
    buf: &mut Vec<u8>,
    keys: &mut KeySet,
    reserved: &Reserved,
    name: &str,
    suffix: &str,
) {
    let start = buf.len();
    buf.push(b'"');
    escape(buf, name);
    if !suffix.is_empty() {
        escape(buf, suffix);
    }
    buf.push(b'"');
    dedupe(buf, start, keys, reserved);
}

/// Like [`write_key`], for a key whose escaped text (without quotes) is at
/// hand, as in a span's cached fields.
#[inline]
pub(crate) fn write_escaped_key(
    buf: &mut Vec<u8>,
    keys: &mut KeySet,
    reserved: &Reserved,
    escaped: &[u8],
    suffix: &str,
) {
    let start = buf.len();
    buf.push(b'"');
    buf.extend_from_slice(escaped);
    if !suffix.is_empty() {
        escape(buf, suffix);
    }
    buf.push(b'"');
    dedupe(buf, start, keys, reserved);
}

/// Renames the quoted key at `buf[start..]` until it is unique, then
/// records it.
#[inline]
fn dedupe(buf: &mut Vec<u8>, start: usize, keys: &mut KeySet, reserved: &Reserved) {
    let base_end = buf.len() - 1; // before the closing quote
    let mut n: u32 = 0;
    let mut b;
    loop {
        let key = &buf[start..];
        b = bit(key);
        let maybe_taken = (keys.mask | reserved.mask) & b != 0;
        if !maybe_taken || !(reserved.contains(key) || keys.contains(buf, key)) {
            break;
        }
        n += 1;
        buf.truncate(base_end);
        buf.push(b'.');
        buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        buf.push(b'"');
    }
    // Records beyond 4 GiB cannot occur (values are capped far below), and
    // a key past it would only be missed as a duplicate.
    let to32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    keys.push((to32(start), to32(buf.len())));
    keys.mask |= b;
}

/// A key quoted and escaped.
pub(crate) fn quoted(name: &str) -> Box<[u8]> {
    let mut b = Vec::with_capacity(name.len() + 2);
    super::escape::quote(&mut b, name);
    b.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_renamed() {
        let mut buf = Vec::new();
        let mut keys = KeySet::new();
        let mut reserved = Reserved::default();
        reserved.add("level");
        for name in ["message", "message", "message.1", "level", "x"] {
            if !buf.is_empty() {
                buf.push(b',');
            }
            write_key(&mut buf, &mut keys, &reserved, name, "");
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#""message","message.1","message.1.1","level.1","x""#
        );
    }

    #[test]
    fn many_keys_spill() {
        let mut buf = Vec::new();
        let mut keys = KeySet::new();
        for _ in 0..40 {
            write_key(&mut buf, &mut keys, &Reserved::NONE, "k", "");
        }
        let text = String::from_utf8(buf).unwrap();
        assert!(text.ends_with(r#""k.39""#), "{text}");
    }
}
