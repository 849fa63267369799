//! The in-band summary of events suppressed per call site (a layer's rate
//! limit, `layer::storm`): one record per call site that suppressed
//! events since its last summary, written with the drop report, so at most
//! once per report interval:
//!
//! ```text
//! {"timestamp":"…","level":"WARN","fields":{"message":"events suppressed","callsite":"src/db.rs:88","suppressed":123456},"target":"layer_safe"}
//! ```
//!
//! The counts come from the layers (`Render::suppressed`), as totals since
//! the start; this keeps what each call site's last summary that got out
//! claimed, so each line says only what is new, and a line that did not
//! get out is said again by the next one (the batch counts each line out
//! on its own, `Progress::summaries`).

use std::collections::HashMap;

use super::batch::Batch;
use super::report::Own;
use super::Shared;
use crate::stats::PerReason;

/// A call site of one layer: the kind of its records, its index there.
type Key = (u8, u32);

/// The worker's memory of what the summaries claimed.
#[derive(Debug, Default)]
pub(crate) struct Summaries {
    /// Suppressed events already summarised (totals), by call site.
    reported: HashMap<Key, u64>,
    /// The lines of the batch being written, in order: call site, total.
    staged: Vec<(Key, u64)>,
    /// How many of `staged` are out.
    out: usize,
}

impl Summaries {
    /// Appends a summary line per call site with suppressed events not
    /// summarised yet, and each line's end offset to `ends`.
    pub(crate) fn stage(
        &mut self,
        shared: &Shared,
        own: Own<'_>,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) {
        self.staged.clear();
        self.out = 0;
        for (kind, render) in shared.all_renderers() {
            render.suppressed(&mut |site, meta, total| {
                let key = (kind, site);
                let before = self.reported.get(&key).copied().unwrap_or(0);
                if total > before {
                    own.summary(meta, total - before, out);
                    ends.push(out.len());
                    self.staged.push((key, total));
                }
            });
        }
    }

    /// Starts `batch` (see [`Batch::begin`]) with the drop report and,
    /// when there is one (rate-limited drops are among its counts), the
    /// summaries after it.
    pub(crate) fn begin(
        &mut self,
        batch: &mut Batch,
        shared: &Shared,
        report: Option<(PerReason, PerReason)>,
    ) -> bool {
        let summarise = report.is_some();
        // Asked once: a violation recorded between two asks would be
        // written in a format not looked up for it.
        let violations = shared.limits.report_violations && crate::lint::has_unreported();
        // Most batches carry no record of the sink's own: look up its
        // format only for those that do.
        let newest = if summarise || violations {
            shared.newest_renderer()
        } else {
            None
        };
        let own = Own(newest.as_deref());
        let stage = |out: &mut Vec<u8>, ends: &mut Vec<usize>| {
            if summarise {
                self.stage(shared, own, out, ends);
            }
        };
        batch.begin_with(own, report, stage, violations)
    }

    /// The next `lines` staged lines are out: their counts are claimed.
    pub(crate) fn commit(&mut self, lines: usize) {
        let end = (self.out + lines).min(self.staged.len());
        for &(key, total) in &self.staged[self.out..end] {
            self.reported.insert(key, total);
        }
        self.out = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::Metadata;

    struct Site;
    static SITE: Site = Site;
    static META: Metadata<'static> = Metadata::new(
        "event",
        "app::db",
        tracing_core::Level::ERROR,
        None,
        None,
        None,
        tracing_core::field::FieldSet::new(&[], tracing_core::identify_callsite!(&SITE)),
        tracing_core::metadata::Kind::EVENT,
    );
    impl tracing_core::Callsite for Site {
        fn set_interest(&self, _: tracing_core::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &META
        }
    }

    #[test]
    fn a_summary_is_one_json_line() {
        let mut out = Vec::new();
        Own::PLAIN.summary(&META, 123_456, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "layer_safe");
        assert_eq!(v["fields"]["message"], "events suppressed");
        assert_eq!(v["fields"]["callsite"], "app::db", "no file: the target");
        assert_eq!(v["fields"]["suppressed"], 123_456);
    }

    #[test]
    fn only_lines_out_are_claimed() {
        let mut s = Summaries {
            staged: vec![((1, 0), 10), ((1, 1), 20)],
            ..Summaries::default()
        };
        s.commit(1);
        assert_eq!(s.reported.get(&(1, 0)), Some(&10));
        assert_eq!(s.reported.get(&(1, 1)), None);
        s.commit(5);
        assert_eq!(s.reported.get(&(1, 1)), Some(&20));
        assert_eq!(s.out, 2);
    }
}
