//! Threads kept across inputs. Spawning a thread costs tens of
//! microseconds (more under AddressSanitizer, which maps a shadow stack for
//! each); a target that starts 2-3 producer threads per phase spent most of
//! an input there. These run one job at a time, for ever.

use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

use super::catch_any;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The threads, each fed by its own channel. Held for the whole of a
/// [`run_all`] call, so calls never interleave.
static POOL: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

fn spawn(n: usize) -> Sender<Job> {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name(format!("fuzz-pool-{n}"))
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
            }
        })
        .expect("spawn a pool thread");
    tx
}

/// Runs every job at once, each on its own pooled thread, runs `then` on
/// this thread while they do, and returns their results in order:
/// `Err(message)` for a job that panicked.
pub fn run_all_then<R: Send + 'static>(
    jobs: Vec<Box<dyn FnOnce() -> R + Send + 'static>>,
    then: impl FnOnce(),
) -> Vec<Result<R, String>> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let n = jobs.len();
    let (done, results) = channel();
    for (i, job) in jobs.into_iter().enumerate() {
        if pool.len() <= i {
            let tx = spawn(i);
            pool.push(tx);
        }
        let done = done.clone();
        let mut job: Job = Box::new(move || {
            let r = catch_any(job);
            let _ = done.send((i, r));
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
    for (i, r) in results.iter().take(n) {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a pool thread vanished".into())))
        .collect()
}
