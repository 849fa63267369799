//! Records the sink writes itself, never through `tracing`: the in-band drop
//! report, and the record that stands in for a JSON record too long to keep.
//!
//! Both follow the shape of the encoder's records
//! (`timestamp`, `level`, `fields`, `target`), so one parser reads the whole
//! log.

use std::io::Write;
use std::time::SystemTime;

use tracing_core::Level;

use crate::encode::escape::{escape, escape_within};
use crate::encode::time::Now;
use crate::stats::PerReason;

/// Appended to a text record cut to the maximum size.
pub(crate) const TEXT_MARKER: &[u8] = "…[truncated]".as_bytes();

/// A truncated JSON record keeps at least this many bytes of the original, or
/// it is dropped as `Oversize` (a marker with nothing in it helps nobody).
const MIN_PREFIX: usize = 16;

/// Appends the drop report for `delta` (drops by reason since the last
/// report, in [`DropReason::ALL`] order): one JSON line naming only the
/// reasons that are not zero.
pub(crate) fn drop_report(out: &mut Vec<u8>, now: SystemTime, delta: &PerReason) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, now);
    out.extend_from_slice(b"\",\"level\":\"WARN\",\"fields\":{\"message\":\"events dropped\"");
    for (reason, n) in delta.iter() {
        if n > 0 {
            // Writing to a Vec cannot fail.
            let _ = write!(out, ",\"{}\":{n}", reason.as_str());
        }
    }
    out.extend_from_slice(b"},\"target\":\"layer_safe\"}\n");
}

/// Writes into `out` a record of at most `max` bytes standing in for
/// `record`, which is longer. A JSON object becomes a valid JSON record
/// holding an escaped prefix of the original; anything else is cut at a
/// character boundary and marked. Returns `false` when `max` leaves no room
/// for a useful prefix.
pub(crate) fn truncate(record: &[u8], level: Level, max: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    if record.first() == Some(&b'{') {
        truncate_json(record, level, max, out)
    } else {
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
}

fn truncate_json(record: &[u8], level: Level, max: usize, out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, SystemTime::now());
    let _ = write!(
        out,
        "\",\"level\":\"{}\",\"fields\":{{\"message\":\"record truncated\",\"max_record\":{max},\"record_len\":{},\"record_prefix\":\"",
        level.as_str(),
        record.len()
    );
    const TAIL: &[u8] = b"\"},\"target\":\"layer_safe\"}\n";
    let Some(limit) = max.checked_sub(TAIL.len()) else {
        return false;
    };
    if out.len() + MIN_PREFIX > limit {
        return false;
    }
    // Cold path: the lossy conversion may allocate; that is fine here.
    let source = String::from_utf8_lossy(&record[..record.len().min(max)]);
    let mut room = limit - out.len();
    escape_within(out, &source, &mut room);
    out.extend_from_slice(TAIL);
    true
}

/// RFC 3339, UTC, microseconds, as the encoder writes it:
/// `2024-05-01T12:34:56.123456Z`.
pub(crate) fn timestamp(out: &mut Vec<u8>, t: SystemTime) {
    crate::encode::time::rfc3339(out, Now::from_system_time(t));
}

/// One record per violation of the lint policy not reported yet: each
/// distinct violation appears once in the log stream, where operators look.
pub(crate) fn violation_reports(out: &mut Vec<u8>, now: SystemTime) {
    for v in crate::lint::take_unreported() {
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(out, now);
        out.extend_from_slice(b"\",\"level\":\"WARN\",\"fields\":{\"message\":\"");
        escape(out, &v.to_string());
        out.extend_from_slice(b"\",\"violation\":\"");
        escape(out, v.kind.name());
        let _ = writeln!(
            out,
            "\",\"count\":{}}},\"target\":\"layer_safe\"}}",
            v.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps() {
        let mut out = Vec::new();
        timestamp(&mut out, UNIX_EPOCH);
        assert_eq!(out, b"1970-01-01T00:00:00.000000Z");
        out.clear();
        // 2024-02-29T23:59:59.5Z, a leap day.
        timestamp(
            &mut out,
            UNIX_EPOCH + Duration::from_millis(1_709_251_199_500),
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "2024-02-29T23:59:59.500000Z"
        );
        out.clear();
        timestamp(&mut out, UNIX_EPOCH + Duration::from_secs(951_782_400)); // 2000-02-29
        assert_eq!(&out[..10], b"2000-02-29");
    }

    #[test]
    fn report_names_nonzero_reasons_only() {
        let mut out = Vec::new();
        let mut delta = PerReason::default();
        delta[crate::stats::DropReason::QueueFull] = 1234;
        delta[crate::stats::DropReason::Shed] = 56;
        drop_report(&mut out, UNIX_EPOCH, &delta);
        let line = std::str::from_utf8(&out).unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "layer_safe");
        assert_eq!(v["fields"]["message"], "events dropped");
        assert_eq!(v["fields"]["queue_full"], 1234);
        assert_eq!(v["fields"]["shed"], 56);
        assert!(v["fields"].get("byte_budget").is_none());
    }

    #[test]
    fn json_truncation_stays_valid_json() {
        let mut record = b"{\"fields\":{\"message\":\"".to_vec();
        for i in 0..500 {
            record.extend_from_slice(format!("\"q\"\\\u{1}é{i} ").as_bytes());
        }
        record.extend_from_slice(b"\"}}\n");
        let mut out = Vec::new();
        assert!(truncate(&record, Level::INFO, 300, &mut out));
        assert!(out.len() <= 300, "{}", out.len());
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["fields"]["message"], "record truncated");
        assert_eq!(v["fields"]["record_len"], record.len());
        let prefix = v["fields"]["record_prefix"].as_str().unwrap();
        assert!(prefix.len() >= MIN_PREFIX);
        assert!(std::str::from_utf8(&record).unwrap().starts_with(prefix));
        assert_eq!(v["level"], "INFO");
    }

    #[test]
    fn json_truncation_needs_room() {
        let record = [b'{'; 1000];
        assert!(!truncate(&record, Level::INFO, 100, &mut Vec::new()));
    }

    #[test]
    fn text_truncation_cuts_at_a_char_boundary() {
        let record = "é".repeat(100).into_bytes();
        let mut out = Vec::new();
        assert!(truncate(&record, Level::INFO, 64, &mut out));
        assert!(out.len() <= 64);
        let s = std::str::from_utf8(&out).unwrap();
        assert!(s.ends_with("…[truncated]\n"), "{s}");
    }
}
