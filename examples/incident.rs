//! The outage, reproduced: a logger that checks a feature flag, whose client
//! logs when its cache backend fails.
//!
//! ```text
//! cargo run --release --example incident
//! ```
//!
//! The parent runs the same workload twice, each time in a child process with
//! the subscriber installed as the GLOBAL default (as a service would):
//! first on plain `tracing-subscriber`, which recurses until the stack
//! overflows; then under layer-safe, which drops and counts the nested events
//! and names the loop.

use std::fmt;
use std::io;
use std::process::{Command, Stdio};
use std::time::Instant;

use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The cache behind the flag client: down, as memcached was that day.
fn memcached_get(_key: &str) -> io::Result<bool> {
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "memcached: timed out",
    ))
}

/// A feature-flag client that logs its backend's errors, as real ones do.
/// `careful` clients ask layer-safe before calling out, and serve their last
/// known value inside the logging path instead.
struct FlagClient {
    careful: bool,
}

impl FlagClient {
    fn is_enabled(&self, flag: &str) -> bool {
        if self.careful && layer_safe::external_call("memcached").is_err() {
            return false; // the cached or default value
        }
        memcached_get(flag).unwrap_or_else(|e| {
            tracing::error!(target: "app::flags", flag, error = %e, "flag lookup failed");
            false
        })
    }
}

/// The layer violation: the logger checks a flag on every event.
struct FlagCheckingLayer(FlagClient);

impl<S: Subscriber> Layer<S> for FlagCheckingLayer {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        let _sample = self.0.is_enabled("log_sampling");
    }
}

struct Request(u32);

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET /api/v1/items/{}", self.0)
    }
}

fn workload() -> u32 {
    let mut handled = 0;
    for i in 0..1000 {
        tracing::info!(target: "app::handler", request = %Request(i), "request handled");
        handled += 1;
    }
    handled
}

fn child(kind: &str) {
    let careful = kind == "careful";
    if kind == "plain" {
        let subscriber = tracing_subscriber::registry()
            .with(FlagCheckingLayer(FlagClient { careful }))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(io::sink),
            );
        tracing::subscriber::set_global_default(subscriber).unwrap();
        workload();
        return;
    }
    // The same layer, installed through layer-safe: it runs under the guard.
    let guard = layer_safe::builder()
        .writer(io::sink())
        .with_layer(FlagCheckingLayer(FlagClient { careful }))
        .policy(layer_safe::Policy::Report)
        .init();
    let handled = workload();
    guard.flush(std::time::Duration::from_secs(1));
    let s = guard.stats();
    println!("  requests handled: {handled}");
    println!("  events written: {}", s.written);
    println!(
        "  nested events dropped as recursion: {}",
        s.dropped.recursion
    );
    for v in layer_safe::violations().iter() {
        println!("  violation: {v}");
    }
}

fn main() {
    if let Some(kind) = std::env::args()
        .nth(1)
        .filter(|a| a.starts_with("--child="))
    {
        child(&kind["--child=".len()..]);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    for (kind, title) in [
        (
            "plain",
            "1. plain tracing-subscriber, flag check in a layer",
        ),
        ("guarded", "2. the same stack under layer-safe's guard"),
        (
            "careful",
            "3. and with a flag client that asks layer_safe::external_call first",
        ),
    ] {
        println!("{title}");
        let start = Instant::now();
        let out = Command::new(&exe)
            .arg(format!("--child={kind}"))
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        let last_err = String::from_utf8_lossy(&out.stderr);
        if let Some(line) = last_err.lines().find(|l| l.contains("overflow")) {
            println!("  child said: {line}");
        }
        println!(
            "  exit: {} after {:?}\n",
            describe(&out.status),
            start.elapsed()
        );
    }
}

fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "0 (survived)".to_string(),
        (Some(code), _) => format!("status {code} (died)"),
        (None, Some(6)) => "killed by SIGABRT (died: stack overflow)".to_string(),
        (None, Some(sig)) => format!("killed by signal {sig} (died)"),
        _ => "unknown".to_string(),
    }
}
