//! Child-process harness: recursion under a GLOBAL default subscriber either
//! overflows the stack (plain tracing-subscriber) or is contained (the
//! guard), and only a separate process can show the first without taking the
//! test runner down.
#![allow(dead_code)]

pub mod capture;

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that tells the test binary which scenario to run.
pub const SCENARIO_VAR: &str = "LAYER_SAFE_TEST_SCENARIO";

/// How a child process ended.
#[derive(Debug)]
pub enum Outcome {
    /// It exited (with a code, or killed by a signal).
    Exited(ExitStatus),
    /// It did not exit within the timeout and was killed (a deadlock).
    Hung,
}

/// What a child printed and how it ended.
#[derive(Debug)]
pub struct Child {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
}

impl Child {
    /// `true` for a normal exit with status 0.
    pub fn succeeded(&self) -> bool {
        matches!(&self.outcome, Outcome::Exited(s) if s.success())
    }

    /// `true` for death by a signal or an abort (status 134).
    pub fn died(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        match &self.outcome {
            Outcome::Exited(s) => s.signal().is_some() || s.code() == Some(134),
            Outcome::Hung => false,
        }
    }

    /// The value of a `RESULT key=value` line the child printed to stderr.
    pub fn result(&self, key: &str) -> Option<String> {
        let prefix = format!("RESULT {key}=");
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }

    /// A numeric `RESULT` value; panics with the child's output if missing.
    pub fn number(&self, key: &str) -> u64 {
        self.result(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no RESULT {key} in child output: {self:#?}"))
    }

    /// Lines of stdout containing `needle`.
    pub fn lines_with(&self, needle: &str) -> usize {
        self.stdout.lines().filter(|l| l.contains(needle)).count()
    }
}

/// Runs `test_name` of the current test binary in a child process with the
/// scenario variable set, killing it after `timeout`. The entry point is an
/// `#[ignore]`d test, so a normal run does not count it as a test that
/// passed.
pub fn run(test_name: &str, scenario: &str, timeout: Duration) -> Child {
    let mut child = command(test_name, scenario)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process");
    // Drain the pipes on threads so a chatty child never blocks on them.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let start = Instant::now();
    let outcome = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Outcome::Exited(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break Outcome::Hung;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Child {
        outcome,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// The command that runs `test_name` of the current test binary (an
/// `#[ignore]`d entry point) as a child for `scenario`.
pub fn command(test_name: &str, scenario: &str) -> Command {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        test_name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SCENARIO_VAR, scenario);
    cmd
}

/// Defines the test binary's child-process entry point, `child`: ignored,
/// so a normal run does not count it as a test of its own; [`run`] starts
/// the binary on it (`--ignored --exact child`) with the scenario's name in
/// [`SCENARIO_VAR`], which `child` hands to `$run`.
// Not every test binary that includes this module starts children.
#[allow(unused_macros)]
macro_rules! child_entry {
    ($run:path) => {
        #[test]
        #[ignore = "a child process's entry point, run by this file's tests"]
        fn child() {
            if let Some(name) = crate::common::scenario() {
                $run(&name);
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use child_entry;

/// The scenario this process was started to run, if it is a child.
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok()
}
