//! No heap allocation per event in the steady state: a counting global
//! allocator, counting only on the thread under test.

mod sink_common;

#[path = "common/alloc.rs"]
mod alloc;

use std::time::Duration;

use layer_safe::Sink;
use tracing_core::Level;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const RECORD: &[u8] = b"{\"timestamp\":\"2024-01-01T00:00:00.000000Z\",\"level\":\"INFO\",\"fields\":{\"message\":\"steady\"},\"target\":\"app\"}\n";

fn submit(sink: &Sink, n: usize) {
    for _ in 0..n {
        let mut b = sink.buffer();
        b.extend_from_slice(RECORD);
        sink.submit(Level::INFO, b).unwrap();
    }
}

#[test]
fn the_steady_state_allocates_nothing_per_event() {
    // Warm up with the writer held: this thread's lane grows, segment by
    // segment, until it holds a burst of 2048 records, and its last segment
    // (of more than half of that) stays once they are written.
    let gate = sink_common::Gate::default();
    let (sink, guard) = Sink::builder().writer(gate.clone()).build().unwrap();
    submit(&sink, 1);
    gate.wait_entered();
    let buffers: Vec<Vec<u8>> = (0..2048).map(|_| sink.buffer()).collect();
    for mut b in buffers {
        b.extend_from_slice(RECORD);
        sink.submit(Level::INFO, b).unwrap();
    }
    gate.open();
    assert!(guard.flush(Duration::from_secs(10)));

    // Fewer records than the lane held: no allocation even if the worker
    // does not run at all meanwhile.
    let n = alloc::on_this_thread(|| submit(&sink, 1000));
    assert_eq!(n, 0, "allocations in 1000 submits");

    // And in rounds, with the worker handing buffers back between them.
    for _ in 0..5 {
        assert!(guard.flush(Duration::from_secs(10)));
        assert_eq!(alloc::on_this_thread(|| submit(&sink, 500)), 0);
    }
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(sink.stats().written, 1 + 2048 + 1000 + 2500);
}

#[test]
fn drops_allocate_nothing_either() {
    let gate = sink_common::Gate::default();
    let (sink, guard) = Sink::builder()
        .capacity(16)
        .writer(gate.clone())
        .build()
        .unwrap();
    // The worker holds one record in the blocked writer, the queue fills
    // and stays full; rejected buffers go back to the pool.
    let mut b = sink.buffer();
    b.extend_from_slice(RECORD);
    sink.submit(Level::WARN, b).unwrap();
    gate.wait_entered();
    for _ in 0..20 {
        let mut b = sink.buffer();
        b.extend_from_slice(RECORD);
        let _ = sink.submit(Level::WARN, b);
    }
    assert_eq!(sink.stats().dropped.queue_full, 4);
    let n = alloc::on_this_thread(|| {
        for _ in 0..1000 {
            let mut b = sink.buffer();
            b.extend_from_slice(RECORD);
            let _ = sink.submit(Level::WARN, b);
        }
    });
    assert_eq!(n, 0, "allocations in 1000 dropped submits");
    assert_eq!(sink.stats().dropped.queue_full, 1004);
    gate.open();
    assert!(guard.flush(Duration::from_secs(10)));
}
