//! `set_filter` and `stats` on the stack `init` installed, each in a child
//! process where it is the global default: reloading rebuilds the interest of
//! call sites already registered, which only the global default shows.

mod common;

use std::time::Duration;

const CHILD: &str = "child";
const TIMEOUT: Duration = Duration::from_secs(60);

/// One call site, registered on its first call and reused after each reload.
fn both_levels(round: &str) {
    tracing::debug!(round, "tracing debug");
    tracing::info!(round, "tracing info");
    log::debug!(target: "dep", "log debug {round}");
}

fn run_scenario(name: &str) {
    match name {
        "reload" => {
            eprintln!("RESULT stats_before={}", layer_safe::stats().is_none());
            let guard = layer_safe::builder()
                .filter("info")
                .filter_reloading(true)
                .init();
            both_levels("before");
            layer_safe::set_filter("debug").expect("valid directives");
            both_levels("debug");
            let err = layer_safe::set_filter("reload=loud").unwrap_err();
            eprintln!("RESULT invalid={}", err.is_invalid());
            eprintln!("RESULT error={err}");
            both_levels("after_error");
            layer_safe::set_filter("warn").expect("valid directives");
            both_levels("warn");
            assert!(guard.flush(TIMEOUT));
            let stats = layer_safe::stats().expect("installed");
            eprintln!("RESULT submitted={}", stats.submitted);
            eprintln!("RESULT written={}", stats.written);
            drop(guard);
        }
        "not_reloadable" => {
            let _guard = layer_safe::builder().filter_reloading(false).init();
            let err = layer_safe::set_filter("debug").unwrap_err();
            eprintln!("RESULT not_installed={}", err.is_not_installed());
            eprintln!("RESULT error={err}");
            tracing::debug!("tracing debug");
            eprintln!("RESULT stats={}", layer_safe::stats().is_some());
        }
        other => panic!("unknown scenario {other}"),
    }
}

common::child_entry!(run_scenario);

fn rounds(c: &common::Child, message: &str) -> Vec<String> {
    c.stdout
        .lines()
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|r| {
            let m = r["fields"]["message"].as_str()?;
            let round = r["fields"]["round"].as_str().map(str::to_owned);
            m.starts_with(message)
                .then(|| round.unwrap_or_else(|| m[message.len()..].trim().to_owned()))
        })
        .collect()
}

#[test]
fn set_filter_enables_registered_call_sites_and_keeps_the_old_filter_on_error() {
    let c = common::run(CHILD, "reload", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.result("stats_before").as_deref(), Some("true"));
    assert_eq!(
        rounds(&c, "tracing debug"),
        ["debug", "after_error"],
        "{c:#?}"
    );
    assert_eq!(
        rounds(&c, "tracing info"),
        ["before", "debug", "after_error"],
        "{c:#?}"
    );
    // The `log` bridge's max level follows the filter both ways.
    assert_eq!(rounds(&c, "log debug"), ["debug", "after_error"], "{c:#?}");
    assert_eq!(c.result("invalid").as_deref(), Some("true"));
    let error = c.result("error").unwrap();
    assert!(
        error.contains("reload=loud") && error.contains("stays"),
        "{error}"
    );
    // 3 info + 2 x 3 at debug; the stats are the installed sink's.
    assert_eq!(c.number("submitted"), 7, "{c:#?}");
    assert_eq!(c.number("written"), 7, "{c:#?}");
}

#[test]
fn without_reloading_set_filter_says_so() {
    let c = common::run(CHILD, "not_reloadable", TIMEOUT);
    assert!(c.succeeded(), "{c:#?}");
    assert_eq!(c.result("not_installed").as_deref(), Some("true"));
    assert!(c
        .result("error")
        .unwrap()
        .contains("filter_reloading(true)"));
    assert_eq!(c.result("stats").as_deref(), Some("true"));
    assert!(!c.stdout.contains("tracing debug"), "{c:#?}");
}
