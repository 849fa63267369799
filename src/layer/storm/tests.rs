//! The rate limit end to end, on a mock clock: exact counts, no timing.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::{JsonLayer, Sink};

/// The output, and a gate the writer waits at while it is closed: a test
/// holds the worker inside a write while it logs, so what the worker
/// stages next does not depend on how fast the test runs.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>, Arc<(Mutex<Gate>, Condvar)>);

#[derive(Default)]
struct Gate {
    closed: bool,
    /// Writes that found the gate closed.
    held: u64,
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (gate, cv) = &*self.1;
        let mut g = gate.lock().unwrap();
        if g.closed {
            g.held += 1;
            cv.notify_all();
            while g.closed {
                g = cv.wait(g).unwrap();
            }
        }
        drop(g);
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Closes the gate, logs a record, and returns once the worker waits
    /// at the gate with it.
    fn hold_worker(&self) {
        let (gate, cv) = &*self.1;
        let mut g = gate.lock().unwrap();
        g.closed = true;
        let held = g.held;
        drop(g);
        tracing::warn!("hold");
        let mut g = gate.lock().unwrap();
        while g.held == held {
            g = cv.wait(g).unwrap();
        }
    }

    fn release_worker(&self) {
        let (gate, cv) = &*self.1;
        gate.lock().unwrap().closed = false;
        cv.notify_all();
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        let out = self.0.lock().unwrap();
        std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn messages(lines: &[serde_json::Value], message: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["fields"]["message"] == message)
        .count()
}

fn summaries(lines: &[serde_json::Value]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter(|l| l["fields"]["message"] == "events suppressed")
        .map(|l| {
            let f = &l["fields"];
            (
                f["callsite"].as_str().unwrap().to_owned(),
                f["suppressed"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_bucket_refills_at_the_rate_up_to_the_burst() {
    let limit = Limit::new(RateLimit::new(10, 5), 1_000_000_000);
    let mut b = Buckets::default();
    let allowed = |b: &mut Buckets, now| (0..100).filter(|_| b.admit(0, now, &limit)).count();
    assert_eq!(allowed(&mut b, 0), 5, "the burst");
    assert_eq!(allowed(&mut b, 99_999_999), 0, "not a whole event's credit");
    assert_eq!(allowed(&mut b, 100_000_000), 1, "one per 100 ms");
    assert_eq!(allowed(&mut b, 60_000_000_000), 5, "capped at the burst");
    assert_eq!(allowed(&mut b, 1_000), 0, "a reading behind adds nothing");
    assert_eq!(allowed(&mut b, 60_100_000_000), 1);
    // Another site has a bucket of its own; sites past the table are not
    // limited.
    assert_eq!((0..100).filter(|_| b.admit(7, 0, &limit)).count(), 5);
    let far = MAX_SITES as u32;
    assert_eq!((0..100).filter(|_| b.admit(far, 0, &limit)).count(), 100);
}

#[test]
fn a_storm_of_one_call_site_is_cut_to_its_burst_and_summarised() {
    crate::clock::with_mock(|clock| {
        let out = Shared::default();
        let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
        let layer = JsonLayer::builder(sink.clone())
            .rate_limit(RateLimit::new(10, 5))
            .with_file(true)
            .with_line_number(true)
            .build();
        let subscriber = tracing_subscriber::registry().with(layer);
        let storm = || {
            for _ in 0..1000 {
                tracing::error!("connection refused");
            }
        };
        tracing::subscriber::with_default(subscriber, || {
            // The worker waits in a write while the storm goes on, so it
            // summarises the storm whole (at most once per interval).
            out.hold_worker();
            // 1000 events in one instant from one call site...
            storm();
            // ...and, in the same instant, another call site's burst: all
            // of it is written.
            for i in 0..5 {
                tracing::info!(i, "request handled");
            }
            out.release_worker();
            assert!(guard.flush(Duration::from_secs(10)));
            // A second later: the burst again, and a new summary.
            clock.increment(Duration::from_secs(1));
            out.hold_worker();
            storm();
            out.release_worker();
        });
        drop(guard);
        let lines = out.lines();
        assert_eq!(messages(&lines, "connection refused"), 10);
        assert_eq!(messages(&lines, "request handled"), 5);
        let written = lines
            .iter()
            .find(|l| l["fields"]["message"] == "connection refused")
            .unwrap();
        let site = format!(
            "{}:{}",
            written["filename"].as_str().unwrap(),
            written["line_number"]
        );
        assert_eq!(summaries(&lines), vec![(site.clone(), 995), (site, 995)]);
        let stats = sink.stats();
        assert_eq!(stats.dropped.rate_limited, 1990);
        assert_eq!(stats.dropped.total(), 1990);
        assert_eq!(stats.dropped_by_level.error, 1990);
        assert_eq!(messages(&lines, "hold"), 2);
        assert_eq!(stats.written, 17);
        assert_eq!(
            stats.submitted,
            stats.written + stats.dropped.total() + stats.in_flight
        );
        assert_eq!(stats.in_flight, 0);
        // The drop reports claim exactly the drops counted.
        let reported: u64 = lines
            .iter()
            .filter(|l| l["fields"]["message"] == "events dropped")
            .map(|l| l["fields"]["rate_limited"].as_u64().unwrap())
            .sum();
        assert_eq!(reported, 1990);
    });
}

#[test]
fn without_a_limit_nothing_is_suppressed() {
    crate::clock::with_mock(|_| {
        let out = Shared::default();
        let (sink, guard) = Sink::builder().writer(out.clone()).build().unwrap();
        let layer = JsonLayer::new(sink.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for _ in 0..1000 {
                tracing::error!("connection refused");
            }
        });
        drop(guard);
        assert_eq!(messages(&out.lines(), "connection refused"), 1000);
        assert!(sink.stats().is_clean());
    });
}

#[test]
fn threads_count_their_own_suppressions_and_the_totals_add_up() {
    let s = Suppressed::default();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..250 {
                    s.count(3);
                }
                s.count(200);
            });
        }
    });
    let mut totals = Vec::new();
    s.totals(|site, n| totals.push((site, n)));
    assert_eq!(totals, vec![(3, 1000), (200, 4)]);
}
