//! A process-wide, rate-limited stderr channel for what exporter threads
//! say at WARN and ERROR.
//!
//! The same rule as the sink's own status channel (`sink::status`): never
//! through `tracing`, straight to stderr; the first [`FREE_MESSAGES`] are
//! shown, then at most one every [`INTERVAL`], carrying the count of those
//! suppressed meanwhile. A failing exporter retries every few seconds, so
//! without the limit its errors would fill stderr; with it, the failure is
//! seen, and so is how often it recurred.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages shown before rate limiting starts.
pub(crate) const FREE_MESSAGES: u32 = 3;
/// After those, at most one message per interval.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    shown: u32,
    suppressed: u64,
    last: Option<Instant>,
}

impl Limiter {
    /// Writes `msg` to `out` unless the limit holds it back; returns
    /// whether it was shown.
    pub(crate) fn emit_to(
        &mut self,
        now: Instant,
        msg: fmt::Arguments<'_>,
        out: &mut dyn Write,
    ) -> bool {
        let due = self.shown < FREE_MESSAGES
            || self
                .last
                .map_or(true, |last| now.saturating_duration_since(last) >= INTERVAL);
        if !due {
            self.suppressed += 1;
            return false;
        }
        // Writing to a closed stderr fails: never panic over it.
        let _ = if self.suppressed > 0 {
            writeln!(
                out,
                "layer-safe: {msg} ({} similar messages suppressed)",
                self.suppressed
            )
        } else {
            writeln!(out, "layer-safe: {msg}")
        };
        self.shown = self.shown.saturating_add(1);
        self.suppressed = 0;
        self.last = Some(now);
        true
    }
}

static STATUS: Mutex<Limiter> = Mutex::new(Limiter {
    shown: 0,
    suppressed: 0,
    last: None,
});

/// Reports `msg` on stderr, rate-limited; returns whether it was shown.
pub(crate) fn emit(msg: fmt::Arguments<'_>) -> bool {
    let mut s = STATUS.lock().unwrap_or_else(|p| p.into_inner());
    s.emit_to(Instant::now(), msg, &mut io::stderr().lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_then_one_per_interval_with_the_count() {
        let mut s = Limiter::default();
        let mut out = Vec::new();
        let t0 = Instant::now();
        let shown: Vec<bool> = (0..10)
            .map(|i| s.emit_to(t0, format_args!("e{i}"), &mut out))
            .collect();
        assert_eq!(shown.iter().filter(|s| **s).count(), 3);
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
