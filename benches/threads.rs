//! One producer thread against two, in events per second
//! on the callers.
//!
//! Systems: `layer_safe` (the drop-in builder, to a file) and the `floor`
//! (a pre-rendered line through `crossbeam_channel::try_send`), each with 1
//! and 2 producer threads. The producers are long-lived threads, each with
//! the dispatcher set and the standard span entered, so nothing is created
//! per batch.
//!
//! Method: `iter_custom`. One iteration is one event *per producer*. Per
//! batch, every producer gets a count (at most 2 000; 4 000 in all, far
//! below the queues), they start together at a barrier, each times its own
//! run, and the batch's time is from the first start to the last end. Then
//! the bench waits, untimed, until the writer has written the batch. The
//! throughput is reported per iteration, that is `producers` events, so
//! criterion's elements per second are events per second on all callers
//! together: two threads scale perfectly at twice one thread's figure.
//!
//! Each is measured twice: `*_N` with the writer running, and `*_held_N`
//! with the writer held (its `write` blocks) while the batch is timed and
//! released after. On a two-core machine the running writer takes a core's
//! share from the producers (layer-safe's worker spends about as long per
//! line as a producer does per event), so there the first figure is bound
//! by the cores, not by the callers; the held variant gives the callers'
//! own scaling, as on a machine with a core to spare for the writer.
//!
//! `cargo bench --bench threads`

mod common;

use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Counted, Floor, LayerSafe, Lines, System, DRAIN_TIMEOUT};
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use crossbeam_channel::{Receiver, Sender};

/// Events per producer per timed batch.
const PER_THREAD_BATCH: u64 = 2_000;

/// Holds a writer: while closed, `write` blocks.
#[derive(Clone, Default)]
struct Valve(Arc<(Mutex<bool>, Condvar)>);

impl Valve {
    fn set(&self, closed: bool) {
        *self.0 .0.lock().unwrap() = closed;
        self.0 .1.notify_all();
    }

    /// A writer wrapper that waits while the valve is closed.
    fn wrap(&self) -> impl FnOnce(Counted<File>) -> Box<dyn Write + Send> {
        let valve = self.clone();
        move |inner| Box::new(Held { inner, valve })
    }
}

struct Held {
    inner: Counted<File>,
    valve: Valve,
}

impl Write for Held {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut closed = self.valve.0 .0.lock().unwrap();
        while *closed {
            closed = self.valve.0 .1.wait(closed).unwrap();
        }
        drop(closed);
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Producers {
    go: Vec<Sender<u64>>,
    done: Receiver<(Instant, Instant)>,
    threads: Vec<JoinHandle<()>>,
}

impl Producers {
    fn start<S: System + Send + 'static>(sys: Arc<S>, n: usize) -> Producers {
        let barrier = Arc::new(Barrier::new(n));
        let (done_tx, done) = crossbeam_channel::unbounded();
        let mut go = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(1);
            go.push(tx);
            let (sys, barrier, done_tx) = (sys.clone(), barrier.clone(), done_tx.clone());
            threads.push(std::thread::spawn(move || {
                sys.scope(|| {
                    for count in rx {
                        barrier.wait();
                        let t0 = Instant::now();
                        for _ in 0..count {
                            sys.emit();
                        }
                        let _ = done_tx.send((t0, Instant::now()));
                    }
                })
            }));
        }
        Producers { go, done, threads }
    }

    /// Runs one batch of `count` events per producer; returns its wall time.
    fn batch(&self, count: u64) -> Duration {
        for tx in &self.go {
            tx.send(count).expect("producer alive");
        }
        let times: Vec<_> = self.go.iter().map(|_| self.done.recv().unwrap()).collect();
        let start = times.iter().map(|t| t.0).min().unwrap();
        let end = times.iter().map(|t| t.1).max().unwrap();
        end - start
    }

    fn stop(self) {
        drop(self.go);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn measure<S: System + Send + 'static>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    sys: Arc<S>,
    n: usize,
    valve: Option<&Valve>,
) {
    let lines: Lines = sys.lines().clone();
    let producers = Producers::start(sys.clone(), n);
    let mut expected = lines.get();
    g.throughput(Throughput::Elements(n as u64));
    let held = if valve.is_some() { "_held" } else { "" };
    let id = format!("{}{held}_{n}", sys.name());
    g.bench_function(&id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let count = left.min(PER_THREAD_BATCH);
                valve.inspect(|v| v.set(true));
                total += producers.batch(count);
                valve.inspect(|v| v.set(false));
                left -= count;
                expected += count * n as u64;
                if !lines.wait_for(expected, DRAIN_TIMEOUT) {
                    expected = lines.get();
                }
            }
            total
        })
    });
    producers.stop();
    let dropped = sys.dropped().unwrap_or(0);
    println!(
        "threads/{id}: {} lines written, {dropped} dropped",
        lines.get()
    );
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads");
    for n in [1, 2] {
        measure(&mut g, Arc::new(LayerSafe::new()), n, None);
    }
    for n in [1, 2] {
        let valve = Valve::default();
        let sys = Arc::new(LayerSafe::with_writer(valve.wrap()));
        measure(&mut g, sys, n, Some(&valve));
    }
    for n in [1, 2] {
        measure(&mut g, Arc::new(Floor::new()), n, None);
    }
    for n in [1, 2] {
        let valve = Valve::default();
        let sys = Arc::new(Floor::with_writer(valve.wrap()));
        measure(&mut g, sys, n, Some(&valve));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = threads
}
criterion::criterion_main!(benches);
