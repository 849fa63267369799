//! A process-wide, rate-limited stderr channel for what exporter threads
//! say at WARN and ERROR.
//!
//! The sink's own status channel (`sink::status`), one for the process: never
//! through `tracing`, straight to stderr; the first three are
//! shown, then at most one a minute, carrying the count of those
//! suppressed meanwhile. A failing exporter retries every few seconds, so
//! without the limit its errors would fill stderr; with it, the failure is
//! seen, and so is how often it recurred.

use std::fmt;
use std::io;
use std::sync::Mutex;
use std::time::Instant;

use crate::sink_core::status::Status;

static STATUS: Mutex<Status> = Mutex::new(Status::new());

/// Reports `msg` on stderr, rate-limited; returns whether it was shown.
pub(crate) fn emit(msg: fmt::Arguments<'_>) -> bool {
    let mut s = STATUS.lock().unwrap_or_else(|p| p.into_inner());
    s.emit_to(Instant::now(), msg, &mut io::stderr().lock())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink_core::status::{FREE_MESSAGES, INTERVAL};

    #[test]
    fn three_then_one_per_interval_with_the_count() {
        let mut s = Status::new();
        let mut out = Vec::new();
        let t0 = Instant::now();
        let shown: Vec<bool> = (0..10)
            .map(|i| s.emit_to(t0, format_args!("e{i}"), &mut out))
            .collect();
        assert_eq!(shown.iter().filter(|s| **s).count(), FREE_MESSAGES as usize);
        assert!(s.emit_to(t0 + INTERVAL, format_args!("later"), &mut out));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "layer-safe: e0");
        assert_eq!(
            lines[3],
            "layer-safe: later (7 similar messages suppressed)"
        );
    }
}
