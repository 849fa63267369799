//! Records the sink writes itself, never through `tracing`: the in-band
//! drop report, the per-call-site summaries (`summary.rs`), the violation
//! reports, the crash handler's final record, and the record that stands
//! in for a JSON record too long to keep.
//!
//! They are events with `target` `layer_safe`, written by the encoder
//! (`encode::event::render_own`). Reports and the final record are in the
//! format of the layer that writes to the sink (the newest, when several
//! do), so one parser reads the whole log and a `.text()` sink writes text
//! reports; a sink no layer of this crate writes to (a `MakeWriter` for
//! `fmt()`, say) writes them in `fmt().json()`'s shape. The stand-in for a
//! record too long is always in that plain shape: the layer's own fields
//! are what left the record no room. Reports are never cut to
//! `max_record`: one lost for want of room would leave its drops unsaid.

use std::time::SystemTime;

use tracing_core::{Level, Metadata};

use super::Render;
use crate::crash::FinalRecord;
use crate::encode::escape::escape_within;
use crate::encode::event::render_own;
use crate::encode::record::{Cut, Value};
use crate::encode::Config;
use crate::stats::PerReason;

/// Appended to a text record cut to the maximum size.
pub(crate) const TEXT_MARKER: &[u8] = "…[truncated]".as_bytes();

/// A truncated JSON record keeps at least this many bytes of the original,
/// or it is dropped as `Oversize` (a marker with nothing in it helps
/// nobody).
const MIN_PREFIX: usize = 16;

/// No report is cut to the maximum record size: a report lost for want of
/// room would leave its drops unsaid.
const UNBOUNDED: usize = usize::MAX / 4;

/// A string field of one of the sink's records.
pub(crate) fn str(s: &str) -> Value<'_> {
    Value::Str(Cut {
        prefix: s,
        total: s.len(),
    })
}

/// How the sink writes its own records: in a layer's format (reports:
/// the newest layer that writes to the sink), or `fmt().json()`'s shape
/// (`Own::PLAIN`) when no layer of this crate writes to it.
#[derive(Clone, Copy)]
pub(crate) struct Own<'a>(pub(crate) Option<&'a dyn Render>);

impl Own<'_> {
    /// `fmt().json()`'s shape.
    pub(crate) const PLAIN: Own<'static> = Own(None);

    /// Appends one record of at most `max` bytes; `false` (and nothing
    /// appended) when it cannot be made to fit.
    pub(crate) fn write(
        &self,
        level: Level,
        fields: &[(&str, Value<'_>)],
        max: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        let now = SystemTime::now();
        match self.0 {
            Some(render) => render.own_record(level, now, fields, max, out),
            None => render_own(&Config::plain(max), level, now, fields, max, out),
        }
    }

    /// Appends a report, which no bound cuts: a report lost for want of room
    /// would leave what it says unsaid, and the batch counts it out as
    /// written.
    fn write_whole(&self, level: Level, fields: &[(&str, Value<'_>)], out: &mut Vec<u8>) {
        let wrote = self.write(level, fields, UNBOUNDED, out);
        debug_assert!(wrote, "an unbounded record always fits");
    }

    /// Appends the drop report for `delta` (drops by reason since the last
    /// report): one record naming only the reasons that are not zero.
    pub(crate) fn drop_report(&self, delta: &PerReason, out: &mut Vec<u8>) {
        let mut fields = [("", Value::U64(0)); 1 + crate::stats::DropReason::ALL.len()];
        fields[0] = ("message", str("events dropped"));
        let mut n = 1;
        for (reason, count) in delta.iter().filter(|(_, count)| *count > 0) {
            fields[n] = (reason.as_str(), Value::U64(count));
            n += 1;
        }
        self.write_whole(Level::WARN, &fields[..n], out);
    }

    /// Appends the summary of `n` events of `meta`'s call site suppressed.
    pub(crate) fn summary(&self, meta: &Metadata<'_>, n: u64, out: &mut Vec<u8>) {
        let callsite = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.to_owned(),
            // No file (a `log` record's adapter site, say): its target.
            (None, _) => meta.target().to_owned(),
        };
        let fields = [
            ("message", str("events suppressed")),
            ("callsite", str(&callsite)),
            ("suppressed", Value::U64(n)),
        ];
        self.write_whole(Level::WARN, &fields, out);
    }

    /// One record per violation of the lint policy not reported yet: each
    /// distinct violation appears once in the log stream, where operators
    /// look.
    pub(crate) fn violations(&self, out: &mut Vec<u8>) {
        for v in crate::lint::take_unreported() {
            let message = v.to_string();
            let fields = [
                ("message", str(&message)),
                ("violation", str(v.kind.name())),
                ("count", Value::U64(v.count)),
            ];
            self.write_whole(Level::WARN, &fields, out);
        }
    }

    /// Appends the crash handler's final record: the signal, and the thread
    /// it hit.
    pub(crate) fn final_record(&self, record: &FinalRecord, out: &mut Vec<u8>) {
        let message = record.message();
        let level = if record.fatal {
            Level::ERROR
        } else {
            Level::WARN
        };
        let fields = [
            ("message", str(&message)),
            ("signal", str(record.signal)),
            ("signo", Value::I64(record.signo.into())),
            ("thread", str(&record.thread)),
        ];
        self.write_whole(level, &fields, out);
    }

    /// Writes into `out` a record of at most `max` bytes standing in for
    /// `record`, which is longer. A JSON object becomes a record holding an
    /// escaped prefix of the original; anything else is cut at a character
    /// boundary and marked. Returns `false` when `max` leaves no room for a
    /// useful prefix, and the record is dropped as `Oversize`.
    pub(crate) fn truncate(
        &self,
        record: &[u8],
        level: Level,
        max: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        if record.first() != Some(&b'{') {
            return cut_text(record, max, out);
        }
        // Cold path: the lossy conversion may allocate; that is fine here.
        let source = String::from_utf8_lossy(&record[..record.len().min(max)]);
        let stand_in = |prefix: &str, out: &mut Vec<u8>, limit: usize| {
            let fields = [
                ("message", str("record truncated")),
                ("max_record", Value::U64(max as u64)),
                ("record_len", Value::U64(record.len() as u64)),
                // Whole, not cut: the value is a prefix, with no marker
                // (`record_len` says how long the record was).
                ("record_prefix", str(prefix)),
            ];
            self.write(level, &fields, limit, out)
        };
        // The record without its prefix says how much room the prefix has;
        // it gets all of it, escaped.
        stand_in("", out, UNBOUNDED);
        let room = max.checked_sub(out.len()).filter(|&r| r >= MIN_PREFIX);
        out.clear();
        let Some(mut room) = room else {
            return false;
        };
        let kept = escape_within(&mut Vec::with_capacity(room), &source, &mut room);
        stand_in(&source[..kept], out, max)
    }
}

/// Cuts a text record at a character boundary to fit `max` with the marker.
fn cut_text(record: &[u8], max: usize, out: &mut Vec<u8>) -> bool {
    let Some(mut keep) = max.checked_sub(TEXT_MARKER.len() + 1) else {
        return false;
    };
    // Back up to the start of a UTF-8 character.
    while keep > 0 && record.get(keep).is_some_and(|b| b & 0xC0 == 0x80) {
        keep -= 1;
    }
    out.extend_from_slice(&record[..keep.min(record.len())]);
    out.extend_from_slice(TEXT_MARKER);
    out.push(b'\n');
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_nonzero_reasons_only() {
        let mut out = Vec::new();
        let mut delta = PerReason::default();
        delta[crate::stats::DropReason::QueueFull] = 1234;
        delta[crate::stats::DropReason::Shed] = 56;
        Own::PLAIN.drop_report(&delta, &mut out);
        let line = std::str::from_utf8(&out).unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "layer_safe");
        assert_eq!(v["fields"]["message"], "events dropped");
        assert_eq!(v["fields"]["queue_full"], 1234);
        assert_eq!(v["fields"]["shed"], 56);
        assert!(v["fields"].get("byte_budget").is_none());
        assert_eq!(v.as_object().unwrap().len(), 4, "{line}");
    }

    #[test]
    fn the_final_record_names_the_signal_and_the_thread() {
        let record = FinalRecord {
            fatal: true,
            signal: "SIGABRT",
            signo: 6,
            thread: "worker-7".into(),
        };
        let mut out = Vec::new();
        Own::PLAIN.final_record(&record, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["fields"]["message"],
            "fatal signal SIGABRT on thread 'worker-7'"
        );
        assert_eq!(v["fields"]["signal"], "SIGABRT");
        assert_eq!(v["fields"]["signo"], 6);
        assert_eq!(v["fields"]["thread"], "worker-7");
        assert_eq!(
            (v["level"].as_str(), v["target"].as_str()),
            (Some("ERROR"), Some("layer_safe"))
        );
    }

    #[test]
    fn json_truncation_stays_valid_json() {
        let mut record = b"{\"fields\":{\"message\":\"".to_vec();
        for i in 0..500 {
            record.extend_from_slice(format!("\"q\"\\\u{1}é{i} ").as_bytes());
        }
        record.extend_from_slice(b"\"}}\n");
        let mut out = Vec::new();
        assert!(Own::PLAIN.truncate(&record, Level::INFO, 300, &mut out));
        assert!(out.len() <= 300, "{}", out.len());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["fields"]["message"], "record truncated");
        assert_eq!(v["fields"]["record_len"], record.len());
        let prefix = v["fields"]["record_prefix"].as_str().unwrap();
        assert!(prefix.len() >= MIN_PREFIX, "{prefix:?}");
        assert!(std::str::from_utf8(&record).unwrap().starts_with(prefix));
        assert_eq!(v["level"], "INFO");
    }

    #[test]
    fn json_truncation_needs_room() {
        let record = [b'{'; 1000];
        assert!(!Own::PLAIN.truncate(&record, Level::INFO, 100, &mut Vec::new()));
    }

    #[test]
    fn text_truncation_cuts_at_a_char_boundary() {
        let record = "é".repeat(100).into_bytes();
        let mut out = Vec::new();
        assert!(Own::PLAIN.truncate(&record, Level::INFO, 64, &mut out));
        assert!(out.len() <= 64);
        let s = std::str::from_utf8(&out).unwrap();
        assert!(s.ends_with("…[truncated]\n"), "{s}");
    }
}
