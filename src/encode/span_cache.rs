//! Span fields, encoded once and cached in the span's extensions.
//!
//! `fmt().json()` keeps a span's fields as a JSON string and parses it back
//! on every event (and on every `record`). Here the fields are encoded when
//! the span is created and again only when a value is recorded; an event
//! copies the finished `{...}` bytes. `record` replaces values without
//! parsing: the cache keeps each field's encoded value next to the text.
//!
//! The object matches `fmt().json()`: fields sorted by name, then the
//! span's `"name"`. A field called `name` (or two fields of one name) is
//! renamed (`name.1`), never written twice.

use std::error::Error;
use std::fmt;

use tracing_core::field::{Field, Visit};

use std::sync::LazyLock;

use super::keys::{write_key, KeySet, Reserved};
use super::value::{self, Acc};

/// The key a span object reserves for the span's name.
static NAME_KEY: LazyLock<Reserved> = LazyLock::new(|| {
    let mut r = Reserved::default();
    r.add("name");
    r
});

/// One field's encoded value.
#[derive(Debug)]
struct Entry {
    /// The field's index in its field set: `record` replaces by field.
    idx: usize,
    name: &'static str,
    /// `""`, or `".sources"` for an error's source chain.
    suffix: &'static str,
    value: Box<[u8]>,
    truncated: bool,
}

/// The cached JSON of one span, in its extensions.
#[derive(Debug)]
pub(crate) struct SpanFields {
    /// The layer that created this entry and keeps it up to date (several
    /// JSON layers in one stack share it).
    owner: usize,
    entries: Vec<Entry>,
    /// `{"field":value,...,"name":"span"}`.
    obj: Vec<u8>,
    /// Per field: where its key starts, where it ends (after the quote),
    /// and where its value ends, in `obj`.
    ranges: Vec<(u32, u32, u32)>,
    truncated: bool,
}

impl SpanFields {
    /// Encodes `values` (a span's `Attributes` or a `Record`) into fresh
    /// entries; the caller holds no lock, since user `Debug` runs here.
    pub(crate) fn collect(values: impl FnOnce(&mut dyn Visit), cap: usize) -> Collector {
        let mut c = Collector {
            entries: Vec::new(),
            cap,
        };
        values(&mut c);
        c
    }

    /// The cache for a new span.
    pub(crate) fn new(owner: usize, span_name: &str, collected: Collector) -> SpanFields {
        let mut s = SpanFields {
            owner,
            entries: collected.entries,
            obj: Vec::new(),
            ranges: Vec::new(),
            truncated: false,
        };
        s.rebuild(span_name);
        s
    }

    /// Which layer keeps this cache.
    pub(crate) fn owner(&self) -> usize {
        self.owner
    }

    /// Applies a `record`: each recorded field replaces its earlier value.
    pub(crate) fn record(&mut self, span_name: &str, collected: Collector) {
        let fresh = collected.entries;
        self.entries
            .retain(|old| !fresh.iter().any(|new| new.idx == old.idx));
        self.entries.extend(fresh);
        self.rebuild(span_name);
    }

    /// Appends this span to a captured chain (see `record::write_span`).
    #[inline]
    pub(crate) fn capture(&self, out: &mut Vec<u8>, span_name: &str) {
        super::record::write_span(out, span_name, &self.obj, &self.ranges, self.truncated);
    }

    fn rebuild(&mut self, span_name: &str) {
        // Sorted by name as `fmt().json()` sorts them (a `BTreeMap`); ties
        // in declaration order, so renaming is stable.
        self.entries
            .sort_by(|a, b| (a.name, a.suffix, a.idx).cmp(&(b.name, b.suffix, b.idx)));
        self.obj.clear();
        self.ranges.clear();
        self.obj.push(b'{');
        let mut keys = KeySet::new();
        let to32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        for e in &self.entries {
            if self.obj.len() > 1 {
                self.obj.push(b',');
            }
            let k = self.obj.len();
            write_key(&mut self.obj, &mut keys, &NAME_KEY, e.name, e.suffix);
            let ke = self.obj.len();
            self.obj.push(b':');
            self.obj.extend_from_slice(&e.value);
            self.ranges.push((to32(k), to32(ke), to32(self.obj.len())));
        }
        if self.obj.len() > 1 {
            self.obj.push(b',');
        }
        write_name(&mut self.obj, span_name);
        self.obj.push(b'}');
        self.truncated = self.entries.iter().any(|e| e.truncated);
    }
}

/// Writes `"name":"<span name>"`.
pub(crate) fn write_name(buf: &mut Vec<u8>, span_name: &str) {
    buf.extend_from_slice(b"\"name\":");
    super::escape::quote(buf, span_name);
}

/// The values of one `new_span` or `record`, encoded.
pub(crate) struct Collector {
    entries: Vec<Entry>,
    cap: usize,
}

impl Collector {
    fn push(
        &mut self,
        field: &Field,
        suffix: &'static str,
        write: impl FnOnce(&mut Vec<u8>, &mut Acc),
    ) {
        let mut value = Vec::new();
        let mut acc = Acc::default();
        write(&mut value, &mut acc);
        let name = field.name();
        self.entries.push(Entry {
            idx: field.index(),
            // As `fmt().json()` shows span fields: without a raw-identifier
            // prefix.
            name: name.strip_prefix("r#").unwrap_or(name),
            suffix,
            value: value.into_boxed_slice(),
            truncated: acc.truncated,
        });
    }
}

impl Visit for Collector {
    fn record_f64(&mut self, field: &Field, v: f64) {
        self.push(field, "", |b, _| value::f64(b, v));
    }

    fn record_i64(&mut self, field: &Field, v: i64) {
        self.push(field, "", |b, _| value::i64(b, v));
    }

    fn record_u64(&mut self, field: &Field, v: u64) {
        self.push(field, "", |b, _| value::u64(b, v));
    }

    fn record_i128(&mut self, field: &Field, v: i128) {
        self.push(field, "", |b, _| value::i128(b, v));
    }

    fn record_u128(&mut self, field: &Field, v: u128) {
        self.push(field, "", |b, _| value::u128(b, v));
    }

    fn record_bool(&mut self, field: &Field, v: bool) {
        self.push(field, "", |b, _| value::bool(b, v));
    }

    fn record_str(&mut self, field: &Field, v: &str) {
        let cap = self.cap;
        self.push(field, "", |b, a| value::str(b, v, cap, true, a));
    }

    fn record_bytes(&mut self, field: &Field, v: &[u8]) {
        // `fmt().json()` writes span bytes as an array of numbers.
        let cap = self.cap;
        self.push(field, "", |b, a| value::bytes_array(b, v, cap, a));
    }

    fn record_error(&mut self, field: &Field, v: &(dyn Error + 'static)) {
        let cap = self.cap;
        self.push(field, "", |b, a| value::error(b, v, cap, true, a));
        if value::has_source(v) {
            self.push(field, ".sources", |b, a| value::error_sources(b, v, cap, a));
        }
    }

    fn record_debug(&mut self, field: &Field, v: &dyn fmt::Debug) {
        let cap = self.cap;
        self.push(field, "", |b, a| value::debug(b, v, cap, true, a));
    }
}
