//! Replays every fuzz target's seed corpus (`fuzz/seeds/TARGET/`) and crash
//! regressions (`fuzz/regressions/TARGET/`) through the same check functions
//! the fuzz targets run, on stable, so a regression is caught without
//! nightly. Plus hand-written programs that show the checks are not vacuous.
//!
//! Its own test binary, so its own process: the `reentrancy` check installs
//! its subscriber as the GLOBAL default (nested events must reach the guard),
//! and no test here may hold a scoped dispatcher (`with_default`) while
//! another runs, or tracing-core would divert nested events to
//! `Dispatch::none`. Tests are serialised for that.

mod fuzz_checks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use fuzz_checks::reentrancy::{self, Action, Config, Lvl, Program, Value, UNBOUNDED};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The replay inputs of `target`: its seeds, then its crash regressions,
/// each sorted by name (dot files such as `.gitkeep` skipped).
fn replay_inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut all = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz.join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("read a corpus entry").path())
            .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

/// Runs `check` on every replay input of `target`, naming the file first
/// (the test harness shows it when the check panics).
fn replay(target: &str, mut check: impl FnMut(&[u8])) -> usize {
    let inputs = replay_inputs(target);
    for path in &inputs {
        eprintln!("replaying {}", path.display());
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(&bytes);
    }
    inputs.len()
}

#[test]
fn reentrancy_corpus() {
    let _serial = serial();
    let mut sum = reentrancy::Totals::default();
    let n = replay("reentrancy", |bytes| {
        if let Some(t) = reentrancy::run(bytes) {
            sum.delivered += t.delivered;
            sum.dropped_recursion += t.dropped_recursion;
            sum.records_inside += t.records_inside;
            sum.external_allowed += t.external_allowed;
            sum.external_refused += t.external_refused;
        }
    });
    // The seeds exercise what the check is about, not only decode.
    assert!(n > 0, "no seed corpus for reentrancy");
    assert!(
        sum.delivered > 0
            && sum.dropped_recursion > 0
            && sum.records_inside > 0
            && sum.external_allowed > 0
            && sum.external_refused > 0,
        "the seeds no longer exercise the guard: {sum:?}"
    );
}

// ------------------------------------------- hand-written programs

fn event(fields: Vec<Value>) -> Action {
    Action::Event {
        level: Lvl::Info,
        fields,
    }
}

fn program(config: Config, blocks: Vec<Vec<Action>>) -> Program {
    Program { config, blocks }
}

#[test]
fn plain_events_are_delivered() {
    let _serial = serial();
    let t = reentrancy::check(&program(
        Config::default(),
        vec![vec![
            event(vec![]),
            event(vec![Value::Int(1), Value::Str("a\nb".into())]),
        ]],
    ));
    assert_eq!(
        (t.emitted_outside, t.delivered, t.dropped_recursion),
        (2, 2, 0)
    );
}

#[test]
fn unbounded_debug_recursion_is_contained() {
    let _serial = serial();
    // Delivered at depth 0; both layers format the field, and each time its
    // `Debug` logs once more, which the guard drops.
    let t = reentrancy::check(&program(
        Config::default(),
        vec![vec![event(vec![Value::LogsDeep(UNBOUNDED)])]],
    ));
    assert_eq!(t.delivered, 1);
    assert_eq!(t.emitted_inside, 2);
    assert_eq!(t.dropped_recursion, 2);
    // Formatted by the application: its event is delivered, and the nested
    // ones dropped.
    let t = reentrancy::check(&program(
        Config::default(),
        vec![vec![Action::Format(Value::LogsDeep(UNBOUNDED))]],
    ));
    assert_eq!((t.delivered, t.dropped_recursion), (1, 2));
}

#[test]
fn layers_and_writers_that_log_are_contained() {
    let _serial = serial();
    let config = Config {
        layer_logs_on_event: 1,
        layer_logs_on_span: 2,
        writer_logs: 3,
        ..Config::default()
    };
    let t = reentrancy::check(&program(
        config,
        vec![vec![
            Action::NewSpan {
                level: Lvl::Warn,
                fields: vec![Value::Int(7)],
            },
            Action::Enter(0),
            event(vec![]),
            Action::Exit,
            Action::Close(0),
        ]],
    ));
    // new, enter, exit, close: 2 each; the event: 1 from the layer, 3 from
    // the writer.
    assert_eq!(t.delivered, 1);
    assert_eq!(t.dropped_recursion, 4 * 2 + 1 + 3);
}

#[test]
fn panics_and_errors_in_debug_and_writer() {
    let _serial = serial();
    let config = Config {
        writer_panics: true,
        writer_logs: 1,
        ..Config::default()
    };
    let t = reentrancy::check(&program(
        config,
        vec![
            vec![
                event(vec![Value::Panics]),
                event(vec![Value::Errors]),
                Action::CatchUnwind(0),
                Action::NewSpan {
                    level: Lvl::Debug,
                    fields: vec![Value::Errors],
                },
                Action::Record {
                    span: 0,
                    value: Value::Panics,
                },
                Action::Panic,
            ],
            vec![event(vec![Value::Int(3)]), Action::Panic],
        ],
    ));
    assert_eq!(t.delivered, 3);
    // The writer logged for the two events the fields let it format.
    assert_eq!(t.dropped_recursion, 2);
}

#[test]
fn programs_run_from_debug_records_in_path_and_threads() {
    let _serial = serial();
    // Block 0 logs an event whose field runs block 1 (inside the path);
    // block 1 records on a span, opens one, logs, and logs from a thread
    // (outside the path: a new thread starts outside).
    let t = reentrancy::check(&program(
        Config::default(),
        vec![
            vec![
                Action::NewSpan {
                    level: Lvl::Info,
                    fields: vec![],
                },
                Action::InSpan { span: 0, block: 0 },
                Action::ExternalCall,
            ],
            vec![event(vec![Value::Runs(0)])],
            vec![
                Action::Record {
                    span: 0,
                    value: Value::Int(1),
                },
                Action::NewSpan {
                    level: Lvl::Info,
                    fields: vec![Value::Int(2)],
                },
                Action::Enter(1),
                event(vec![]),
                Action::ExternalCall,
                Action::OnThread(0),
            ],
            vec![event(vec![Value::LogsDeep(1)]), Action::ExternalCall],
        ],
    ));
    // Block 2 runs twice (Probe and fmt each format the field): each time
    // 1 record and 1 event dropped; the thread's event is delivered (2) and
    // its field's nested event dropped twice per delivery.
    assert_eq!(t.records_inside, 2);
    assert_eq!(t.delivered, 1 + 2);
    assert_eq!(t.dropped_recursion, 2 * 2 + 2 * 2);
    // `external_call` is refused in block 2 (inside a field's `Debug`, twice)
    // and allowed in block 0 and on the threads (twice).
    assert_eq!((t.external_allowed, t.external_refused), (1 + 2, 2));
}

#[test]
fn filtered_events_are_neither_delivered_nor_dropped() {
    let _serial = serial();
    let config = Config {
        filter_trace: true,
        ..Config::default()
    };
    let trace = |fields| Action::Event {
        level: Lvl::Trace,
        fields,
    };
    // A TRACE event from the application is filtered out; one emitted from
    // inside the logging path is dropped by the guard before any filter.
    let t = reentrancy::check(&program(
        config,
        vec![
            vec![trace(vec![]), event(vec![Value::Runs(0)])],
            vec![trace(vec![])],
        ],
    ));
    assert_eq!((t.filtered, t.delivered), (1, 1));
    assert_eq!((t.emitted_inside, t.dropped_recursion), (2, 2));
}

#[test]
fn replay_decodes_like_the_fuzzer() {
    // libFuzzer hands every byte string to the target; decoding must never
    // panic, and arbitrary bytes must run clean.
    let _serial = serial();
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for len in [0, 1, 7, 64, 300, 1000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        reentrancy::run(&bytes);
    }
}
