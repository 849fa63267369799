//! Per-thread lanes: fairness under overload, order per thread, and memory
//! that stays bounded whatever the number of threads.

mod sink_common;

use std::io::{self, Write};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use layer_safe::Sink;
use sink_common::assert_invariant;
use tracing_core::Level;

/// A writer that takes one batch at a time, slowly: far too slow for 32
/// producers, so most records must be dropped.
#[derive(Clone, Default)]
struct Slow(Arc<Mutex<Vec<u8>>>);

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_micros(200));
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
#[ignore = "flaky on 2 shared cores: a thread can still get under half the mean share; run with --ignored"]
fn no_producer_is_starved_under_overload() {
    const THREADS: usize = 32;
    const EACH: usize = 5_000;
    let out = Slow::default();
    let (sink, guard) = Sink::builder()
        .capacity(1024)
        .writer(out.clone())
        .build()
        .unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sink, start) = (sink.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..EACH {
                    let mut b = sink.buffer();
                    b.extend_from_slice(format!("t{t} {i}\n").as_bytes());
                    let _ = sink.submit(Level::INFO, b);
                    // 32 threads on a machine of two cores: without a yield
                    // now and then, each thread's 5 000 events would fit in
                    // one time slice, and the threads would take turns, not
                    // compete: the last to run would find the writer free.
                    if i % 64 == 63 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(guard.flush(Duration::from_secs(60)));
    let s = sink.stats();
    assert_invariant(&s);
    assert!(s.dropped.total() > 0, "the writer was too slow: {s:?}");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let mut written = [0usize; THREADS];
    let mut last = [None::<usize>; THREADS];
    for line in text.lines().filter(|l| l.starts_with('t')) {
        let (t, i) = line[1..].split_once(' ').unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        // Each thread's records arrive in the order it logged them.
        assert!(
            last[t].map_or(true, |l| l < i),
            "thread {t}: {i} after {last:?}"
        );
        last[t] = Some(i);
        written[t] += 1;
    }
    let mean = written.iter().sum::<usize>() as f64 / THREADS as f64;
    for (t, &w) in written.iter().enumerate() {
        assert!(
            w as f64 >= mean / 2.0,
            "thread {t} got {w} written, under half the mean {mean}: {written:?}"
        );
    }
}

#[test]
fn ten_thousand_short_lived_threads_do_not_grow_memory() {
    let (sink, guard) = Sink::builder()
        .writer(io::sink())
        .byte_budget(4 << 20)
        .build()
        .unwrap();
    for wave in 0..1_250 {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut b = sink.buffer();
                    b.extend_from_slice(format!("{wave} {i}\n").as_bytes());
                    sink.submit(Level::INFO, b).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    assert!(guard.flush(Duration::from_secs(30)));
    let s = sink.stats();
    assert_invariant(&s);
    assert_eq!((s.written, s.dropped.total()), (10_000, 0));
    // A thread that exits leaves its lane to be read dry and retired: a
    // few dozen lanes at most remain, never 10 000 (each costs a segment).
    let lanes = format!("{sink:?}");
    let n: usize = lanes
        .split("lanes: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n <= 64, "{n} lanes for 8 threads at a time");
}
