//! `Policy`: parsing, the default, and the `LAYER_SAFE_POLICY` override.
//!
//! Environment variables are process-wide and tests run in parallel, so the
//! environment is only ever set for a child process: this test binary runs
//! itself again with `env_child` selected.

use std::process::Command;

use layer_safe::Policy;

#[test]
fn parses_each_name_ignoring_case_and_spaces() {
    for (text, policy) in [
        ("panic", Policy::Panic),
        ("report", Policy::Report),
        ("ignore", Policy::Ignore),
        ("  Report\n", Policy::Report),
        ("IGNORE", Policy::Ignore),
    ] {
        assert_eq!(text.parse::<Policy>(), Ok(policy), "{text:?}");
    }
    for p in [Policy::Panic, Policy::Report, Policy::Ignore] {
        assert_eq!(p.to_string().parse::<Policy>(), Ok(p));
    }
}

#[test]
fn an_unknown_name_is_a_self_explaining_error() {
    let err = "pnic".parse::<Policy>().unwrap_err();
    assert_eq!(err.value(), "pnic");
    assert_eq!(
        err.to_string(),
        "invalid layer-safe policy \"pnic\": expected one of `panic`, `report`, `ignore`"
    );
    let _: &dyn std::error::Error = &err;
    assert!("".parse::<Policy>().is_err());
}

#[test]
fn the_default_follows_debug_assertions() {
    let expected = if cfg!(debug_assertions) {
        Policy::Panic
    } else {
        Policy::Report
    };
    assert_eq!(Policy::default(), expected);
}

/// Runs `env_child` in a child process with `LAYER_SAFE_POLICY` set (or
/// removed) and returns its stdout and stderr.
fn child(value: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "env_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("LAYER_SAFE_LINT_CHILD", "1");
    match value {
        Some(v) => cmd.env(Policy::ENV_VAR, v),
        None => cmd.env_remove(Policy::ENV_VAR),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// In a child: prints what `from_env` and `policy()` answer.
#[test]
#[ignore = "a child process's entry point, run by this file's tests"]
fn env_child() {
    if std::env::var_os("LAYER_SAFE_LINT_CHILD").is_none() {
        return;
    }
    match Policy::from_env() {
        Ok(p) => println!("from_env=Ok({p:?})"),
        Err(e) => println!("from_env=Err({e})"),
    }
    println!("policy={}", layer_safe::policy());
    // `set_policy` wins over the environment.
    layer_safe::set_policy(Policy::Ignore);
    println!("after_set={}", layer_safe::policy());
}

#[test]
fn environment_override() {
    let default = Policy::default();
    let (out, _) = child(None);
    assert!(out.contains("from_env=Ok(None)"), "{out}");
    assert!(out.contains(&format!("policy={default}")), "{out}");
    assert!(out.contains("after_set=ignore"), "{out}");

    let (out, _) = child(Some("report"));
    assert!(out.contains("from_env=Ok(Some(Report))"), "{out}");
    assert!(out.contains("policy=report"), "{out}");

    let (out, _) = child(Some(" Panic "));
    assert!(out.contains("from_env=Ok(Some(Panic))"), "{out}");

    // Set but empty: as if unset.
    let (out, _) = child(Some(""));
    assert!(out.contains("from_env=Ok(None)"), "{out}");
}

#[test]
fn environment_override_error() {
    let (out, err) = child(Some("loud"));
    assert!(
        out.contains(
            "from_env=Err(invalid layer-safe policy \"loud\" in the environment variable \
             LAYER_SAFE_POLICY: expected one of `panic`, `report`, `ignore`)"
        ),
        "{out}"
    );
    // Without a builder to return the error to, the default is used and the
    // error said once on stderr.
    assert!(
        out.contains(&format!("policy={}", Policy::default())),
        "{out}"
    );
    assert_eq!(
        err.matches("layer-safe: invalid layer-safe policy").count(),
        1,
        "{err}"
    );
}
