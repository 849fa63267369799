//! A dying process's last words reach the writer. Each scenario
//! runs `init()` in a child process that then aborts, faults, overflows its
//! stack, exits or is sent SIGTERM; the parent counts the lines and checks
//! how the child died. Races are repeated; nothing asserts wall-clock time.
#![cfg(unix)]
#![allow(unsafe_code)] // the null write and `kill` of the scenarios

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

const CHILD: &str = "child";
/// Only a hang detector: a child still running then has deadlocked.
const TIMEOUT: Duration = Duration::from_secs(60);
const RUNS: usize = 20;
const LINES: usize = 200;

fn log_lines(n: usize) {
    for i in 0..n {
        tracing::info!(i, "line");
    }
}

fn kill_self(signo: i32) {
    // SAFETY: sends a signal to this process; no memory is involved.
    unsafe { libc::kill(libc::getpid(), signo) };
}

/// Blocks every write for good: a writer stuck on a dead NFS mount.
struct Stalled;

impl Write for Stalled {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        loop {
            std::thread::park();
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn run_scenario(name: &str) {
    match name {
        "abort" => {
            let _guard = layer_safe::init();
            log_lines(LINES);
            tracing::error!("about to abort");
            std::process::abort();
        }
        "overflow" => {
            let _guard = layer_safe::init();
            log_lines(LINES);
            #[allow(unconditional_recursion)]
            fn deep(n: u64) -> u64 {
                let pad = std::hint::black_box([n; 64]);
                deep(pad[3] + 1) + pad[7]
            }
            std::thread::Builder::new()
                .name("deep".into())
                .stack_size(256 * 1024)
                .spawn(|| deep(0))
                .unwrap()
                .join()
                .unwrap();
        }
        "segv" => {
            let _guard = layer_safe::init();
            log_lines(LINES);
            // SAFETY: not safe at all: the point is the SIGSEGV.
            unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u64>(), 1) };
        }
        raised if raised.starts_with("raise_") => {
            // A fault delivered to the thread that caused it, as the kernel
            // delivers SIGBUS, SIGILL and SIGFPE (`raise` signals the
            // calling thread).
            let signo = match raised {
                "raise_bus" => libc::SIGBUS,
                "raise_ill" => libc::SIGILL,
                "raise_fpe" => libc::SIGFPE,
                other => panic!("unknown scenario {other}"),
            };
            let _guard = layer_safe::init();
            log_lines(LINES);
            // SAFETY: signals the calling thread; no memory is involved.
            unsafe { libc::raise(signo) };
        }
        "exit" => {
            let _guard = layer_safe::init();
            log_lines(LINES);
            std::process::exit(7);
        }
        "forget" => {
            // The guard leaked: the test returns, the harness leaves `main`.
            std::mem::forget(layer_safe::init());
            log_lines(LINES);
        }
        term if term.starts_with("term_") => terminate(term),
        "stalled" => {
            let _guard = layer_safe::builder()
                .writer(Stalled)
                .crash_timeout(Duration::from_millis(50))
                .init();
            log_lines(LINES);
            std::process::abort();
        }
        "crash_on_worker" => {
            struct Aborts;
            impl Write for Aborts {
                fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                    std::process::abort()
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let _guard = layer_safe::builder().writer(Aborts).init();
            log_lines(1);
            std::thread::sleep(Duration::from_secs(30));
        }
        "tls_destructor" => tls_destructor(),
        other => panic!("unknown scenario {other}"),
    }
}

/// The SIGTERM scenarios: the switch on, off, and an application's own
/// handler installed after or before `init`.
fn terminate(name: &str) {
    match name {
        "term_on" => {
            let _guard = layer_safe::builder().flush_on_termination(true).init();
            log_lines(LINES);
            kill_self(libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(30));
        }
        "term_off" => {
            let _guard = layer_safe::init();
            log_lines(LINES);
            kill_self(libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(30));
        }
        "term_app_handler" => {
            // As tokio's `ctrl_c` does: through signal-hook-registry, after
            // `init`. The application decides; the process lives on.
            let guard = layer_safe::builder().flush_on_termination(true).init();
            let flag = app_handler();
            terminated_then_handled(&flag);
            drop(guard);
        }
        "term_app_handler_before" => {
            // The application's handler was there first: ours drains, then
            // calls it, and the process lives on.
            let flag = app_handler();
            let guard = layer_safe::builder().flush_on_termination(true).init();
            terminated_then_handled(&flag);
            drop(guard);
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// The application's own SIGTERM handler, as tokio's `ctrl_c` registers
/// one (through signal-hook-registry): it sets the flag.
fn app_handler() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(libc::SIGTERM, flag.clone()).unwrap();
    flag
}

/// Logs, sends itself SIGTERM, and lives on until the application's
/// handler ran: the process decides, not the logger.
fn terminated_then_handled(flag: &std::sync::atomic::AtomicBool) {
    log_lines(LINES);
    kill_self(libc::SIGTERM);
    while !flag.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
    }
    eprintln!("RESULT handled=true");
}

/// tokio-rs/tracing#2856: a span opened from a thread-local destructor,
/// after the registry's own thread-locals are gone.
fn tls_destructor() {
    struct OpensSpan;
    impl Drop for OpensSpan {
        fn drop(&mut self) {
            let span = tracing::info_span!("teardown", step = 1);
            let _e = span.enter();
            tracing::info!("from a destructor");
        }
    }
    thread_local!(static LAST: OpensSpan = const { OpensSpan });
    let guard = layer_safe::init();
    std::thread::spawn(|| {
        // Registered first, so destroyed after the registry's own.
        LAST.with(|_| {});
        let _s = tracing::info_span!("work").entered();
        tracing::info!("working");
    })
    .join()
    .expect("the thread's teardown must not panic out");
    tracing::info!("the host goes on");
    let stats = guard.stats();
    eprintln!("RESULT inner_panic={}", stats.dropped.inner_panic);
    drop(guard);
}

common::child_entry!(run_scenario);

/// The JSON records of the child's stdout.
fn records(c: &common::Child) -> Vec<serde_json::Value> {
    c.stdout
        .lines()
        // The test harness prints "test child ... " before the first record.
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn count(records: &[serde_json::Value], message: &str) -> usize {
    records
        .iter()
        .filter(|r| r["fields"]["message"] == message)
        .count()
}

/// The records the handler wrote for a signal.
fn signal_records(records: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    records
        .iter()
        .filter(|r| r["target"] == "layer_safe" && r["fields"].get("signo").is_some())
        .collect()
}

/// The child, for a failure message, without hundreds of lines of records.
fn brief(c: &common::Child) -> String {
    let tail = |s: &str| s.lines().rev().take(5).collect::<Vec<_>>().join("\n");
    format!(
        "{:?}\n--- stdout (last lines):\n{}\n--- stderr (last lines):\n{}",
        c.outcome,
        tail(&c.stdout),
        tail(&c.stderr)
    )
}

fn signal_of(c: &common::Child) -> Option<i32> {
    match &c.outcome {
        common::Outcome::Exited(s) => s.signal(),
        common::Outcome::Hung => panic!("the child hung: {}", brief(c)),
    }
}

/// Runs a crash scenario `RUNS` times: every line, one final record naming
/// `signal`, and death by `dies_of`.
fn crash(scenario: &str, signal: &str, dies_of: i32) -> common::Child {
    let mut last = None;
    for _ in 0..RUNS {
        let c = common::run(CHILD, scenario, TIMEOUT);
        assert_eq!(signal_of(&c), Some(dies_of), "{}", brief(&c));
        let r = records(&c);
        assert_eq!(count(&r, "line"), LINES, "{}", brief(&c));
        let fatal = signal_records(&r);
        assert_eq!(fatal.len(), 1, "{}", brief(&c));
        assert_eq!(fatal[0]["fields"]["signal"], signal, "{}", brief(&c));
        assert_eq!(fatal[0]["level"], "ERROR");
        assert!(fatal[0]["fields"]["thread"].is_string());
        last = Some(c);
    }
    last.unwrap()
}

#[test]
fn abort_after_logging_delivers_every_line_and_the_fatal_record() {
    let c = crash("abort", "SIGABRT", libc::SIGABRT);
    assert_eq!(count(&records(&c), "about to abort"), 1);
}

#[test]
fn a_stack_overflow_still_prints_rusts_message_and_delivers_the_lines() {
    // The record names the signal that came (the overflow's SIGSEGV); std's
    // handler then aborts, as it always did.
    let c = crash("overflow", "SIGSEGV", libc::SIGABRT);
    assert!(
        // "thread 'deep' (1234) has overflowed its stack" in recent Rust.
        c.stderr.contains("has overflowed its stack") && c.stderr.contains("thread 'deep'"),
        "{}",
        brief(&c)
    );
    let r = records(&c);
    assert_eq!(signal_records(&r)[0]["fields"]["thread"], "deep");
}

#[test]
fn a_null_write_dies_of_sigsegv_with_the_lines_delivered() {
    crash("segv", "SIGSEGV", libc::SIGSEGV);
}

#[test]
fn sigbus_sigill_and_sigfpe_deliver_the_lines_and_die_of_their_signal() {
    for (scenario, name, signo) in [
        ("raise_bus", "SIGBUS", libc::SIGBUS),
        ("raise_ill", "SIGILL", libc::SIGILL),
        ("raise_fpe", "SIGFPE", libc::SIGFPE),
    ] {
        crash(scenario, name, signo);
    }
}

#[test]
fn process_exit_without_flush_delivers_every_line() {
    for _ in 0..RUNS {
        let c = common::run(CHILD, "exit", TIMEOUT);
        assert!(
            matches!(&c.outcome, common::Outcome::Exited(s) if s.code() == Some(7)),
            "{}",
            brief(&c)
        );
        assert_eq!(count(&records(&c), "line"), LINES, "{}", brief(&c));
    }
}

#[test]
fn a_leaked_guard_still_delivers_every_line_at_exit() {
    for _ in 0..RUNS {
        let c = common::run(CHILD, "forget", TIMEOUT);
        assert!(c.succeeded(), "{}", brief(&c));
        assert_eq!(count(&records(&c), "line"), LINES, "{}", brief(&c));
    }
}

#[test]
fn sigterm_with_the_switch_on_flushes_then_dies_of_sigterm() {
    for _ in 0..RUNS {
        let c = common::run(CHILD, "term_on", TIMEOUT);
        assert_eq!(signal_of(&c), Some(libc::SIGTERM), "{}", brief(&c));
        let r = records(&c);
        assert_eq!(count(&r, "line"), LINES, "{}", brief(&c));
        let last = signal_records(&r);
        assert_eq!(last.len(), 1, "{}", brief(&c));
        assert_eq!(last[0]["fields"]["signal"], "SIGTERM");
        assert_eq!(last[0]["level"], "WARN");
    }
}

#[test]
fn sigterm_with_the_switch_off_dies_as_before_without_a_record() {
    for _ in 0..RUNS {
        let c = common::run(CHILD, "term_off", TIMEOUT);
        assert_eq!(signal_of(&c), Some(libc::SIGTERM), "{}", brief(&c));
        let r = records(&c);
        assert!(signal_records(&r).is_empty(), "{}", brief(&c));
        assert!(count(&r, "line") <= LINES);
    }
}

#[test]
fn sigterm_handled_by_the_application_is_left_to_it() {
    for scenario in ["term_app_handler", "term_app_handler_before"]
        .into_iter()
        .cycle()
        .take(RUNS)
    {
        let c = common::run(CHILD, scenario, TIMEOUT);
        assert!(c.succeeded(), "{}", brief(&c));
        assert_eq!(c.result("handled").as_deref(), Some("true"));
        let r = records(&c);
        assert_eq!(count(&r, "line"), LINES, "{}", brief(&c));
        assert!(signal_records(&r).is_empty(), "{}", brief(&c));
    }
}

#[test]
fn a_crash_with_the_writer_stalled_still_dies_of_the_signal() {
    for _ in 0..RUNS {
        let c = common::run(CHILD, "stalled", TIMEOUT);
        assert_eq!(signal_of(&c), Some(libc::SIGABRT), "{}", brief(&c));
        assert!(
            c.stderr
                .contains("fatal signal SIGABRT on thread 'child': the log was not drained"),
            "{}",
            brief(&c)
        );
    }
}

#[test]
fn a_crash_on_the_worker_itself_gives_up_and_dies_of_the_signal() {
    let c = common::run(CHILD, "crash_on_worker", TIMEOUT);
    assert_eq!(signal_of(&c), Some(libc::SIGABRT), "{}", brief(&c));
    assert!(
        c.stderr.contains("on thread 'layer-safe-sink'"),
        "{}",
        brief(&c)
    );
}

#[test]
fn a_span_in_a_thread_local_destructor_is_contained() {
    let c = common::run(CHILD, "tls_destructor", TIMEOUT);
    assert!(c.succeeded(), "{}", brief(&c));
    let r = records(&c);
    assert_eq!(count(&r, "working"), 1, "{}", brief(&c));
    assert_eq!(count(&r, "the host goes on"), 1, "{}", brief(&c));
    // The registry's slab panicked (tokio-rs/tracing#2856): contained,
    // counted, and reported in-band with the same count.
    let panics = c.number("inner_panic");
    assert!(panics >= 1, "{}", brief(&c));
    let reported: u64 = r
        .iter()
        .filter(|r| r["fields"]["message"] == "events dropped")
        .filter_map(|r| r["fields"]["inner_panic"].as_u64())
        .sum();
    assert_eq!(reported, panics, "{}", brief(&c));
}
