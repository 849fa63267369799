//! Storm control per call site under the global default, through
//! `builder()...try_init()`, each scenario in a child process.
//!
//! The clock is the real one here, so the counts asserted are the exact
//! relations that hold however fast the child runs (written + suppressed
//! is everything logged, the summaries claim exactly what was counted);
//! the exact numbers for a frozen clock are in `src/layer/storm/tests.rs`.

mod common;

use std::time::Duration;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);
/// One event a second after a burst of five: a run of 1000 events has to
/// take over 16 minutes for its burst to matter.
const RATE: u32 = 1;
const BURST: u32 = 5;

fn storm(n: usize) {
    for i in 0..n {
        tracing::error!(attempt = i, "connection refused");
    }
}

fn print_stats(at: &str) {
    let s = layer_safe::stats().expect("installed");
    eprintln!("RESULT {at}_submitted={}", s.submitted);
    eprintln!("RESULT {at}_written={}", s.written);
    eprintln!("RESULT {at}_dropped={}", s.dropped.total());
    eprintln!("RESULT {at}_rate_limited={}", s.dropped.rate_limited);
    eprintln!("RESULT {at}_in_flight={}", s.in_flight);
}

fn run_scenario(name: &str) {
    let guard = layer_safe::builder()
        .rate_limit_per_callsite(RATE, BURST)
        .try_init()
        .expect("installs");
    match name {
        "one_thread" => {
            storm(1000);
            for i in 0..BURST {
                tracing::warn!(i, "another call site");
            }
        }
        "threads" => {
            // All four alive before any storms: a thread that starts after
            // another exited takes over its slot, buckets included.
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let start = start.clone();
                    std::thread::spawn(move || {
                        tracing::info!("thread started");
                        start.wait();
                        storm(1000);
                    })
                })
                .collect();
            // Snapshots taken while the threads log keep the invariant.
            let mut ok = true;
            while threads.iter().any(|t| !t.is_finished()) {
                let s = layer_safe::stats().expect("installed");
                ok &= s.submitted == s.written + s.dropped.total() + s.in_flight;
            }
            eprintln!("RESULT invariant_held={ok}");
            for t in threads {
                t.join().unwrap();
            }
        }
        other => panic!("unknown scenario {other}"),
    }
    drop(guard);
    print_stats("end");
}

common::child_entry!(run_scenario);

/// What the child wrote: its records, and the sink's own lines.
struct Output {
    records: Vec<serde_json::Value>,
}

impl Output {
    fn of(c: &common::Child) -> Output {
        let records = c
            .stdout
            .lines()
            // The test harness prints "test child ... " before the first record.
            .filter_map(|l| l.find('{').map(|at| &l[at..]))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        Output { records }
    }

    fn messages(&self, message: &str) -> u64 {
        let n = self.records.iter();
        n.filter(|r| r["fields"]["message"] == message).count() as u64
    }

    /// The summaries' suppressed counts, by call site.
    fn suppressed(&self) -> Vec<(String, u64)> {
        let mut by_site: Vec<(String, u64)> = Vec::new();
        for r in &self.records {
            let f = &r["fields"];
            if f["message"] != "events suppressed" {
                continue;
            }
            assert_eq!(
                (&r["level"], &r["target"]),
                (&"WARN".into(), &"layer_safe".into())
            );
            let site = f["callsite"].as_str().unwrap().to_owned();
            let n = f["suppressed"].as_u64().unwrap();
            match by_site.iter_mut().find(|(s, _)| *s == site) {
                Some((_, total)) => *total += n,
                None => by_site.push((site, n)),
            }
        }
        by_site
    }

    /// What the drop reports claim, for one reason.
    fn reported(&self, reason: &str) -> u64 {
        let reports = self
            .records
            .iter()
            .filter(|r| r["fields"]["message"] == "events dropped");
        reports.filter_map(|r| r["fields"][reason].as_u64()).sum()
    }
}

/// The accounting of a clean shutdown, and the reports against it.
fn check_accounting(c: &common::Child, out: &Output) {
    let written = c.number("end_written");
    assert_eq!(
        c.number("end_submitted"),
        written + c.number("end_dropped") + c.number("end_in_flight"),
        "{c:#?}"
    );
    assert_eq!(c.number("end_in_flight"), 0);
    let limited = c.number("end_rate_limited");
    assert_eq!(c.number("end_dropped"), limited, "no other drops");
    assert_eq!(out.reported("rate_limited"), limited, "the drop reports");
    let summarised: u64 = out.suppressed().iter().map(|(_, n)| n).sum();
    assert_eq!(summarised, limited, "the summaries");
    // Everything else is the sink's own (drop reports, summaries, and the
    // lint's slow-path reports on a loaded machine).
    let own = out.records.iter().filter(|r| r["target"] == "layer_safe");
    assert_eq!(
        out.records.len() as u64,
        written + own.count() as u64,
        "{c:#?}"
    );
}

#[test]
fn a_storm_is_cut_to_its_burst_and_summarised_and_others_are_untouched() {
    let c = common::run(CHILD, "one_thread", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    let out = Output::of(&c);
    check_accounting(&c, &out);
    let written = out.messages("connection refused");
    assert!(written >= u64::from(BURST), "{c:#?}");
    let suppressed = out.suppressed();
    assert_eq!(
        suppressed.len(),
        1,
        "one call site suppressed: {suppressed:?}"
    );
    let (site, n) = &suppressed[0];
    assert!(site.starts_with("tests/storm.rs:"), "{site}");
    assert_eq!(written + n, 1000);
    assert!(*n > 0);
    assert_eq!(out.messages("another call site"), u64::from(BURST));
}

#[test]
fn each_thread_has_its_own_bucket_and_the_accounting_holds() {
    let c = common::run(CHILD, "threads", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.result("invariant_held").as_deref(), Some("true"));
    let out = Output::of(&c);
    check_accounting(&c, &out);
    let written = out.messages("connection refused");
    // Four threads, a burst each (the limit holds per thread).
    assert!(written >= 4 * u64::from(BURST), "{c:#?}");
    assert_eq!(out.messages("thread started"), 4);
    let suppressed = out.suppressed();
    assert_eq!(suppressed.len(), 1, "{suppressed:?}");
    assert_eq!(written + suppressed[0].1, 4000);
}
