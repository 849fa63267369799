//! Threads kept across inputs. Spawning a thread costs tens of
//! microseconds (more under AddressSanitizer, which poisons the shadow of
//! each new stack and unmaps it at exit); a target that starts 2-3 producer
//! threads per phase spent most of an input there. These run one job at a
//! time, for ever: [`run_all_then`] runs a phase's producers (`sink`),
//! [`run_elsewhere`] one job on some other thread (`reentrancy`'s
//! `OnThread`).

use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

use super::catch_any;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The threads, each fed by its own channel. Held for the whole of a
/// [`run_all_then`] call, so calls never interleave.
static POOL: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

fn spawn(n: usize) -> Sender<Job> {
    let (tx, rx) = channel::<Job>();
    let name = if n == usize::MAX {
        "fuzz-pool".to_owned()
    } else {
        format!("fuzz-pool-{n}")
    };
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
            }
        })
        .expect("spawn a pool thread");
    tx
}

/// Runs every job at once, job `(i, f)` on pooled thread `i` (the same
/// thread for the same `i` in every call, so the same lane of a sink),
/// runs `then` on this thread while they do, and returns their results in
/// the order given: `Err(message)` for a job that panicked.
pub fn run_all_then<R: Send + 'static>(
    jobs: Vec<(usize, Box<dyn FnOnce() -> R + Send + 'static>)>,
    then: impl FnOnce(),
) -> Vec<Result<R, String>> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let n = jobs.len();
    let (done, results) = channel();
    for (k, (i, job)) in jobs.into_iter().enumerate() {
        while pool.len() <= i {
            let tx = spawn(pool.len());
            pool.push(tx);
        }
        let done = done.clone();
        let mut job: Job = Box::new(move || {
            let r = catch_any(job);
            let _ = done.send((k, r));
        });
        // A thread that is gone (it cannot be: every job is caught) is
        // replaced.
        while let Err(back) = pool[i].send(job) {
            job = back.0;
            pool[i] = spawn(i);
        }
    }
    drop(done);
    then();
    let mut out: Vec<Option<Result<R, String>>> = (0..n).map(|_| None).collect();
    for (k, r) in results.iter().take(n) {
        out[k] = Some(r);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a pool thread vanished".into())))
        .collect()
}

/// Idle threads for [`run_elsewhere`], each fed by its own channel. A
/// thread is taken out for one job and put back after it, so jobs may nest
/// (a job that runs another takes a second thread).
static IDLE: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

/// Runs `job` on another thread (an idle pooled one, or a new one that is
/// kept after) and waits for it: `Err(payload)` if it panicked, for the
/// caller to resume or swallow, as it would a joined thread's.
pub fn run_elsewhere<R: Send + 'static>(
    job: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Box<dyn std::any::Any + Send>> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let tx = idle.unwrap_or_else(|| spawn(usize::MAX));
    let (done, result) = channel();
    let job: Job = Box::new(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let _ = done.send(r);
    });
    if tx.send(job).is_err() {
        // It cannot be gone (every job is caught); say so if it is.
        return Err(Box::new("a pool thread vanished"));
    }
    let r = result
        .recv()
        .unwrap_or_else(|_| Err(Box::new("a pool thread vanished")));
    IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
    r
}
