//! The drop-in entry points, each in a child process where it installs the
//! global default: `init`/`try_init`, the `log` bridge, the panic hook, and
//! the errors of a bad configuration.

mod common;

use std::time::Duration;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);

fn run_scenario(name: &str) {
    match name {
        "twice" => {
            let first = layer_safe::try_init();
            eprintln!("RESULT first_ok={}", first.is_ok());
            let second = layer_safe::try_init();
            let err = second.expect_err("the second try_init must fail");
            eprintln!(
                "RESULT second_already_set={}",
                matches!(err, layer_safe::InitError::AlreadySet)
            );
            eprintln!("RESULT second_error={err}");
        }
        "log_bridge" => {
            let guard = layer_safe::init();
            log::info!(target: "some_dependency", "hello from the log crate");
            log::debug!(target: "some_dependency", "below the default level");
            drop(guard);
        }
        "panic" => {
            let guard = layer_safe::init();
            tracing::info!("before the panic");
            let _ = std::thread::Builder::new()
                .name("worker-7".into())
                .spawn(|| panic!("the disk is on fire"))
                .unwrap()
                .join();
            // Exit without dropping the guard: the record is in the output
            // only if the panic hook flushed it.
            std::mem::forget(guard);
            std::process::exit(3);
        }
        "env_errors" => {
            let err = layer_safe::try_init().expect_err("bad environment");
            eprintln!("RESULT error={err}");
            eprintln!("RESULT installed={}", tracing::dispatcher::has_been_set());
        }
        "rust_log" => {
            let guard = layer_safe::init();
            tracing::debug!(target: "init", "debug enabled by RUST_LOG");
            tracing::trace!(target: "init", "trace still off");
            drop(guard);
        }
        "violation_inband" => {
            struct CallsOut;
            impl std::fmt::Debug for CallsOut {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    let served =
                        layer_safe::external_call("memcached").map_or("cached", |_| "live");
                    f.write_str(served)
                }
            }
            let guard = layer_safe::builder()
                .policy(layer_safe::Policy::Report)
                .init();
            for _ in 0..2 {
                tracing::info!(flag = ?CallsOut, "request handled");
            }
            drop(guard);
        }
        "guard_dropped" => {
            // The classic mistake: `let _ =` drops the guard at once.
            let _ = layer_safe::init();
            tracing::info!("lost");
            tracing::info!("lost too");
        }
        "exit_after_flush" => {
            let _guard = layer_safe::init();
            tracing::error!("fatal: config file missing");
            let flushed = layer_safe::flush(Duration::from_secs(5));
            eprintln!("RESULT flushed={flushed}");
            std::process::exit(1);
        }
        other => panic!("unknown scenario {other}"),
    }
}

common::child_entry!(run_scenario);

fn lines(c: &common::Child) -> Vec<serde_json::Value> {
    c.stdout
        .lines()
        // The test harness prints "test child ... " before the first record.
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn try_init_twice_is_an_error_not_a_panic() {
    let c = common::run(CHILD, "twice", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.result("first_ok").as_deref(), Some("true"));
    assert_eq!(c.result("second_already_set").as_deref(), Some("true"));
    assert!(c.result("second_error").unwrap().contains("already set"));
}

#[test]
fn log_records_arrive_as_json() {
    let c = common::run(CHILD, "log_bridge", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    let records = lines(&c);
    let hello: Vec<_> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "hello from the log crate")
        .collect();
    assert_eq!(hello.len(), 1, "{c:#?}");
    assert_eq!(hello[0]["level"], "INFO");
    assert_eq!(hello[0]["target"], "some_dependency");
    assert!(hello[0]["fields"].get("log.target").is_none(), "{c:#?}");
    assert!(!c.stdout.contains("below the default level"));
}

#[test]
fn a_panic_is_logged_and_flushed_before_the_process_exits() {
    let c = common::run(CHILD, "panic", TIMEOUT);
    assert!(
        matches!(&c.outcome, common::Outcome::Exited(s) if s.code() == Some(3)),
        "{c:#?}"
    );
    let records = lines(&c);
    let panic = records
        .iter()
        .find(|r| r["target"] == "panic")
        .unwrap_or_else(|| panic!("no panic record: {c:#?}"));
    assert_eq!(panic["level"], "ERROR");
    let message = panic["fields"]["message"].as_str().unwrap();
    assert!(message.contains("the disk is on fire"), "{message}");
    assert_eq!(panic["fields"]["thread"], "worker-7");
    assert!(panic["fields"]["location"]
        .as_str()
        .unwrap()
        .contains("tests/init.rs"));
    // The previous hook still ran.
    assert!(c.stderr.contains("the disk is on fire"), "{c:#?}");
}

#[test]
fn rust_log_sets_the_filter() {
    let out = common::command(CHILD, "rust_log")
        .env("RUST_LOG", "init=debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("debug enabled by RUST_LOG"), "{stdout}");
    assert!(!stdout.contains("trace still off"));
}

fn env_error(var: &str, value: &str) -> String {
    let out = common::command(CHILD, "env_errors")
        .env(var, value)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("RESULT installed=false"),
        "nothing may be installed: {stderr}"
    );
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("RESULT error=").map(str::to_owned))
        .unwrap_or_else(|| panic!("{stderr}"))
}

#[test]
fn a_bad_environment_is_a_clear_error() {
    let e = env_error("RUST_LOG", "app=loud");
    assert!(e.contains("RUST_LOG") && e.contains("app=loud"), "{e}");
    let e = env_error("LAYER_SAFE_POLICY", "loud");
    assert!(e.contains("LAYER_SAFE_POLICY") && e.contains("loud"), "{e}");
}

#[test]
fn bad_configuration_is_a_clear_error() {
    use layer_safe::InitError;
    let err = layer_safe::builder().filter("app=[").build().unwrap_err();
    let InitError::Filter(filter) = &err else {
        panic!("{err}")
    };
    assert!(filter.is_invalid(), "{err}");

    let err = layer_safe::builder()
        .file("/nonexistent-dir/for/sure/app.log")
        .build()
        .unwrap_err();
    assert!(matches!(err, InitError::Writer { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("/nonexistent-dir/for/sure/app.log"),
        "{err}"
    );

    let err = layer_safe::builder().capacity(0).build().unwrap_err();
    assert!(matches!(err, InitError::Sink(_)), "{err}");
    assert!(err.to_string().contains('0'), "{err}");

    let err = layer_safe::builder()
        .rolling_by_size("/nonexistent-dir/app.log", 1024, 3)
        .build()
        .unwrap_err();
    assert!(matches!(err, InitError::Writer { .. }), "{err}");

    let dir = std::env::temp_dir();
    let err = layer_safe::builder()
        .rolling_by_size(dir.join("layer-safe-zero.log"), 0, 3)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_bytes is 0"), "{err}");
}

#[test]
fn build_gives_a_scoped_subscriber_and_its_guard() {
    let out = common::capture::Capture::default();
    let (dispatch, guard) = layer_safe::builder()
        .writer(out.clone())
        .filter("debug")
        .static_field("service", "checkout")
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request", method = "GET");
        let _e = span.enter();
        tracing::debug!(user_id = 42u64, "request handled");
    });
    assert!(guard.flush(Duration::from_secs(5)));
    let text = out.text();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["service"], "checkout");
    assert_eq!(v["fields"]["user_id"], 42);
    assert_eq!(v["span"]["method"], "GET");
    let s = guard.stats();
    assert_eq!((s.submitted, s.written), (1, 1));
}

/// The demo's two outcomes: plain tracing-subscriber dies, layer-safe
/// survives with the recursion counted.
#[test]
fn the_incident_demo() {
    let mut exe = std::env::current_exe().unwrap();
    exe.pop(); // deps/
    exe.pop();
    exe.push("examples");
    exe.push("incident");
    let out = std::process::Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("run {} (built by `cargo test`): {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let sections: Vec<&str> = stdout.split("\n\n").collect();
    assert!(sections[0].contains("(died"), "{stdout}");
    assert!(sections[1].contains("exit: 0 (survived)"), "{stdout}");
    assert!(
        sections[1].contains("nested events dropped as recursion: 1000"),
        "{stdout}"
    );
    assert!(sections[1].contains("examples/incident.rs"), "{stdout}");
    assert!(
        sections[2].contains("external call to `memcached`"),
        "{stdout}"
    );
}

#[test]
fn each_distinct_violation_is_reported_once_in_band() {
    let c = common::run(CHILD, "violation_inband", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    let records = lines(&c);
    let handled: Vec<_> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "request handled")
        .collect();
    assert_eq!(handled.len(), 2);
    assert_eq!(handled[0]["fields"]["flag"], "cached");
    let reports: Vec<_> = records
        .iter()
        .filter(|r| r["fields"]["violation"] == "external_call")
        .collect();
    // One distinct violation (same call, same event), reported once.
    assert_eq!(reports.len(), 1, "{c:#?}");
    assert_eq!(reports[0]["target"], "layer_safe");
    let message = reports[0]["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("memcached") && message.contains("tests/init.rs"),
        "{message}"
    );
}

#[test]
fn logging_after_the_guard_is_dropped_says_why_once() {
    let c = common::run(CHILD, "guard_dropped", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert!(!c.stdout.contains("lost"), "{c:#?}");
    assert_eq!(
        c.stderr.matches("FlushGuard was dropped").count(),
        1,
        "{c:#?}"
    );
    assert!(c.stderr.contains("let _guard = layer_safe::init();"));
}

#[test]
fn flush_before_process_exit_writes_everything() {
    let c = common::run(CHILD, "exit_after_flush", TIMEOUT);
    assert!(
        matches!(&c.outcome, common::Outcome::Exited(s) if s.code() == Some(1)),
        "{c:#?}"
    );
    assert_eq!(c.result("flushed").as_deref(), Some("true"));
    assert_eq!(c.lines_with("fatal: config file missing"), 1, "{c:#?}");
}
