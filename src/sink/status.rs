//! The status channel: how the sink reports its own troubles.
//!
//! Never through `tracing` (that could feed the very failure it reports):
//! straight to stderr, as Log4j2's StatusLogger does. Rate-limited so a
//! writer failing in a loop cannot flood stderr: the first
//! [`FREE_MESSAGES`] messages are shown, then at most one every
//! [`INTERVAL`], carrying the count of those suppressed meanwhile.

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Messages shown before rate limiting starts.
const FREE_MESSAGES: u32 = 3;
/// After those, at most one message per interval.
const INTERVAL: Duration = Duration::from_secs(60);

/// One rate-limited status channel (the worker owns one).
#[derive(Debug, Default)]
pub(crate) struct Status {
    shown: u32,
    suppressed: u64,
    last: Option<Instant>,
}

impl Status {
    /// Reports `msg` on stderr, unless rate limiting suppresses it.
    pub(crate) fn emit(&mut self, now: Instant, msg: fmt::Arguments<'_>) {
        self.emit_to(now, msg, &mut io::stderr().lock());
    }

    /// At exit: says how many messages were suppressed since the last shown.
    pub(crate) fn finish(&mut self) {
        self.finish_to(&mut io::stderr().lock());
    }

    fn emit_to(&mut self, now: Instant, msg: fmt::Arguments<'_>, out: &mut dyn Write) {
        let due = match self.last {
            _ if self.shown < FREE_MESSAGES => true,
            Some(last) => now.saturating_duration_since(last) >= INTERVAL,
            None => true,
        };
        if !due {
            self.suppressed += 1;
            return;
        }
        // `writeln!` on stderr can fail (closed stderr); never panic over it.
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
    }

    fn finish_to(&mut self, out: &mut dyn Write) {
        if self.suppressed > 0 {
            let _ = writeln!(
                out,
                "layer-safe: {} status messages suppressed",
                self.suppressed
            );
            self.suppressed = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_three_then_one_a_minute_with_a_count() {
        let mut s = Status::default();
        let mut out = Vec::new();
        let t0 = Instant::now();
        for i in 0..10 {
            s.emit_to(t0 + Duration::from_secs(i), format_args!("m{i}"), &mut out);
        }
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text, "layer-safe: m0\nlayer-safe: m1\nlayer-safe: m2\n");
        // Still within the minute after the third message.
        s.emit_to(t0 + Duration::from_secs(61), format_args!("m10"), &mut out);
        assert_eq!(out.len(), text.len());
        s.emit_to(t0 + Duration::from_secs(62), format_args!("m11"), &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.ends_with("layer-safe: m11 (8 similar messages suppressed)\n"),
            "{text}"
        );
        s.emit_to(t0 + Duration::from_secs(63), format_args!("m12"), &mut out);
        let mut tail = Vec::new();
        s.finish_to(&mut tail);
        assert_eq!(tail, b"layer-safe: 1 status messages suppressed\n");
    }
}
