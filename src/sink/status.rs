//! The status channel: how the sink reports its own troubles.
//!
//! Never through `tracing` (that could feed the very failure it reports):
//! straight to stderr, as Log4j2's StatusLogger does. Rate-limited so a
//! writer failing in a loop cannot flood stderr: the first
//! [`FREE_MESSAGES`] messages are shown, then at most one every
//! [`INTERVAL`], carrying the count of those suppressed meanwhile.
//!
//! One exception: once a failure of the writer was shown, its recovery is
//! always shown too, limit or not, so stderr never ends on "failing" for a
//! writer that works. A recovery from failures that were all suppressed
//! goes through the limit like any message: the last thing shown about the
//! writer is then not a failure, and a writer that fails and recovers in a
//! loop cannot get past the limit this way (at most one failure and one
//! recovery shown per interval).

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Messages shown before rate limiting starts.
pub(crate) const FREE_MESSAGES: u32 = 3;
/// After those, at most one message per interval.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);

/// One rate-limited status channel (the worker owns one; so does the
/// process, for what exporter threads say: `otel::status`).
#[derive(Debug)]
pub(crate) struct Status {
    shown: u32,
    suppressed: u64,
    last: Option<Instant>,
    /// The last message shown about the writer was a failure.
    failure_shown: bool,
}

impl Default for Status {
    fn default() -> Status {
        Status::new()
    }
}

impl Status {
    /// A channel that has shown nothing yet (for a `static`).
    pub(crate) const fn new() -> Status {
        Status {
            shown: 0,
            suppressed: 0,
            last: None,
            failure_shown: false,
        }
    }

    /// Reports `msg` on stderr, unless rate limiting suppresses it.
    pub(crate) fn emit(&mut self, now: Instant, msg: fmt::Arguments<'_>) {
        self.emit_to(now, msg, &mut io::stderr().lock());
    }

    /// Reports a failure of the writer, rate-limited.
    pub(crate) fn failure(&mut self, now: Instant, msg: fmt::Arguments<'_>) {
        self.failure_to(now, msg, &mut io::stderr().lock());
    }

    /// Reports that the writer works again: always shown when its failure
    /// was (see the module's documentation).
    pub(crate) fn recovered(&mut self, now: Instant, msg: fmt::Arguments<'_>) {
        self.recovered_to(now, msg, &mut io::stderr().lock());
    }

    /// At exit: says how many messages were suppressed since the last shown.
    pub(crate) fn finish(&mut self) {
        self.finish_to(&mut io::stderr().lock());
    }

    fn failure_to(&mut self, now: Instant, msg: fmt::Arguments<'_>, out: &mut dyn Write) {
        if self.emit_to(now, msg, out) {
            self.failure_shown = true;
        }
    }

    fn recovered_to(&mut self, now: Instant, msg: fmt::Arguments<'_>, out: &mut dyn Write) {
        if std::mem::take(&mut self.failure_shown) {
            self.show(now, msg, out);
        } else {
            self.emit_to(now, msg, out);
        }
    }

    /// Shows `msg` unless the limit suppresses it; returns whether shown.
    pub(crate) fn emit_to(
        &mut self,
        now: Instant,
        msg: fmt::Arguments<'_>,
        out: &mut dyn Write,
    ) -> bool {
        let due = match self.last {
            _ if self.shown < FREE_MESSAGES => true,
            Some(last) => now.saturating_duration_since(last) >= INTERVAL,
            None => true,
        };
        if !due {
            self.suppressed += 1;
            return false;
        }
        self.show(now, msg, out);
        true
    }

    fn show(&mut self, now: Instant, msg: fmt::Arguments<'_>, out: &mut dyn Write) {
        if self.suppressed > 0 {
            write_line(
                out,
                format_args!("{msg} ({} similar messages suppressed)", self.suppressed),
            );
        } else {
            write_line(out, msg);
        }
        self.shown = self.shown.saturating_add(1);
        self.suppressed = 0;
        self.last = Some(now);
    }

    fn finish_to(&mut self, out: &mut dyn Write) {
        if self.suppressed > 0 {
            write_line(
                out,
                format_args!("{} status messages suppressed", self.suppressed),
            );
            self.suppressed = 0;
        }
    }
}

/// Longest status line written in one piece, its newline included; a
/// longer one is written as it is formatted.
const LINE: usize = 512;

/// Writes `layer-safe: {msg}\n` to `out`, in one `write` where it fits in
/// [`LINE`] bytes: stderr is unbuffered, so `writeln!` would hand it over
/// piece by piece, a system call each, and another process's output could
/// land inside the line. Formatted on the stack, without allocating.
/// Never panics over the output: an I/O error (a closed stderr) is
/// ignored, and a `Display` in `msg` that fails ends the line where it
/// failed (`writeln!` would panic then). A `Display` that panics still
/// panics, as it would in `writeln!`.
pub(crate) fn write_line(out: &mut dyn Write, msg: fmt::Arguments<'_>) {
    /// The line so far; `full` once a piece did not fit.
    struct Line {
        buf: [u8; LINE],
        len: usize,
        full: bool,
    }
    impl fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            // Room is kept for the newline.
            let Some(room) = self.buf[..LINE - 1].get_mut(self.len..end) else {
                self.full = true;
                return Err(fmt::Error);
            };
            room.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    /// Straight through to `out`, for a line too long for [`Line`].
    struct Through<'a>(&'a mut dyn Write);
    impl fmt::Write for Through<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.write_all(s.as_bytes()).map_err(|_| fmt::Error)
        }
    }
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
        full: false,
    };
    let text = format_args!("layer-safe: {msg}");
    // An error here is a `Display` that failed, or a line too long.
    let _ = fmt::write(&mut line, text);
    if line.full {
        let _ = fmt::write(&mut Through(out), text);
        let _ = out.write_all(b"\n");
    } else {
        line.buf[line.len] = b'\n';
        let _ = out.write_all(&line.buf[..=line.len]);
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

    /// Counts the `write` calls it is handed.
    #[derive(Default)]
    struct Calls {
        out: Vec<u8>,
        calls: usize,
    }

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_one_write_and_a_long_one_is_written_whole() {
        let mut out = Calls::default();
        write_line(
            &mut out,
            format_args!("writing {} failed: {}", "the log", 7),
        );
        assert_eq!(out.out, b"layer-safe: writing the log failed: 7\n");
        assert_eq!(out.calls, 1);
        // The longest line that fits, newline included, is one write.
        let most = "y".repeat(LINE - "layer-safe: \n".len());
        let mut out = Calls::default();
        write_line(&mut out, format_args!("{most}"));
        assert_eq!((out.out.len(), out.calls), (LINE, 1));
        let long = "x".repeat(2 * LINE);
        let mut out = Calls::default();
        write_line(&mut out, format_args!("{long}"));
        assert_eq!(out.out, format!("layer-safe: {long}\n").as_bytes());
    }

    /// Writes `ok` and then fails, as a buggy `Display` may.
    struct Fails;

    impl fmt::Display for Fails {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("ok")?;
            Err(fmt::Error)
        }
    }

    #[test]
    fn a_display_that_fails_ends_the_line_without_a_panic() {
        let mut out = Calls::default();
        write_line(&mut out, format_args!("error: {} then", Fails));
        assert_eq!(out.out, b"layer-safe: error: ok\n");
        assert_eq!(out.calls, 1);
        let long = "x".repeat(2 * LINE);
        let mut out = Calls::default();
        write_line(&mut out, format_args!("{long}{}", Fails));
        assert_eq!(out.out, format!("layer-safe: {long}ok\n").as_bytes());
    }

    fn text(out: &[u8]) -> Vec<&str> {
        std::str::from_utf8(out).unwrap().lines().collect()
    }

    #[test]
    fn a_recovery_after_a_shown_failure_is_shown_past_the_limit() {
        let mut s = Status::default();
        let mut out = Vec::new();
        let t0 = Instant::now();
        s.failure_to(t0, format_args!("failing"), &mut out);
        for i in 0..5 {
            s.failure_to(t0, format_args!("failing {i}"), &mut out);
        }
        assert_eq!(text(&out).len(), FREE_MESSAGES as usize);
        s.recovered_to(t0, format_args!("recovered"), &mut out);
        assert_eq!(
            text(&out).last(),
            Some(&"layer-safe: recovered (3 similar messages suppressed)")
        );
        // Said once: a second recovery with no failure shown between is
        // limited like any message.
        s.recovered_to(t0, format_args!("recovered again"), &mut out);
        assert_eq!(text(&out).len(), FREE_MESSAGES as usize + 1);
    }

    #[test]
    fn a_flapping_writer_cannot_get_past_the_limit() {
        let mut s = Status::default();
        let mut out = Vec::new();
        let t0 = Instant::now();
        for i in 0..3 {
            s.emit_to(t0, format_args!("m{i}"), &mut out);
        }
        let t = |ms: u64| t0 + Duration::from_millis(ms);
        for i in 0..1000 {
            s.failure_to(t(20 * i), format_args!("failing"), &mut out);
            s.recovered_to(t(20 * i + 10), format_args!("recovered"), &mut out);
        }
        // 20 s: every failure and recovery suppressed.
        assert_eq!(text(&out).len(), 3);
        for i in 0..10 {
            let at = 61_000 + 20 * i;
            s.failure_to(t(at), format_args!("failing"), &mut out);
            s.recovered_to(t(at + 10), format_args!("recovered"), &mut out);
        }
        // A minute on: one failure, then its recovery, and nothing more.
        let lines = text(&out);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[3].starts_with("layer-safe: failing ("), "{lines:?}");
        assert_eq!(lines[4], "layer-safe: recovered");
    }
}
