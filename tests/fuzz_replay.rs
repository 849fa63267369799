//! Replays every fuzz target's seed corpus (`fuzz/seeds/TARGET/`) and crash
//! regressions (`fuzz/regressions/TARGET/`) through the same check functions
//! the fuzz targets run, on stable, so a regression is caught without
//! nightly. Plus hand-written inputs that show the checks are not vacuous,
//! and readable versions of the bugs the fuzzers found.
//!
//! Its own test binary, so its own process: the `reentrancy` check installs
//! its subscriber as the GLOBAL default (nested events must reach the guard),
//! and no test here may hold a scoped dispatcher (`with_default`) while
//! another runs, or tracing-core would divert nested events to
//! `Dispatch::none`. Tests are serialised for that.

#[path = "fuzz_checks/calls.rs"]
mod calls;
mod fuzz_checks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use fuzz_checks::reentrancy::{self, Action, Config, Lvl, Program, Value, UNBOUNDED};
use fuzz_checks::{encode, sink};

static SERIAL: Mutex<()> = Mutex::new(());

/// `reentrancy`'s check, with its stack.
fn check(program: &Program) -> reentrancy::Totals {
    reentrancy::check(program, calls::reentrancy_stack)
}

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
        if let Some(t) = reentrancy::run(bytes, calls::reentrancy_stack) {
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
    let t = check(&program(
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
    let t = check(&program(
        Config::default(),
        vec![vec![event(vec![Value::LogsDeep(UNBOUNDED)])]],
    ));
    assert_eq!(t.delivered, 1);
    assert_eq!(t.emitted_inside, 2);
    assert_eq!(t.dropped_recursion, 2);
    // Formatted by the application: its event is delivered, and the nested
    // ones dropped.
    let t = check(&program(
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
    let t = check(&program(
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
    let t = check(&program(
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
    let t = check(&program(
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
    let t = check(&program(
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
        reentrancy::run(&bytes, calls::reentrancy_stack);
        encode::run(&bytes, calls::encode_stack);
        sink::run(&bytes, calls::submit);
    }
}

#[test]
fn encode_corpus() {
    let _serial = serial();
    let mut sum = encode::Summary::default();
    let n = replay("encode", |bytes| {
        if let Some(s) = encode::run(bytes, calls::encode_stack) {
            sum.events += s.events;
            sum.json += s.json;
            sum.cut_down += s.cut_down;
            sum.truncated_values += s.truncated_values;
            sum.fmt_markers += s.fmt_markers;
            sum.values_checked += s.values_checked;
            sum.sink_truncated += s.sink_truncated;
        }
    });
    assert!(n > 0, "no seed corpus for encode");
    // The seeds reach every kind of check, not only decoding.
    // (Whether a record must be cut down depends on the thread's id, which
    // grows with every thread the process starts: `encode_cuts_down_...`
    // checks that path with room to spare.)
    assert!(
        sum.json > 0
            && sum.values_checked > 0
            && sum.truncated_values > 0
            && sum.fmt_markers > 0
            && sum.events > sum.json,
        "the seeds no longer exercise the encoder: {sum:?}"
    );
}

#[test]
fn sink_corpus() {
    let _serial = serial();
    let mut sum = sink::Summary::default();
    let n = replay("sink", |bytes| {
        if let Some(s) = sink::run(bytes, calls::submit) {
            sum.submits += s.submits;
            sum.written += s.written;
            sum.dropped += s.dropped;
            sum.truncated_lines += s.truncated_lines;
            sum.reports += s.reports;
            sum.holds_checked += s.holds_checked;
            sum.flushes_checked += s.flushes_checked;
            sum.writer_failures += s.writer_failures;
        }
    });
    assert!(n > 0, "no seed corpus for sink");
    // (What happens with threads and timing varies from run to run; these
    // do not. Holds are checked with room to spare by
    // `sink_queue_bounds_are_checked_while_the_writer_is_held`.)
    assert!(
        sum.written > 0
            && sum.dropped > 0
            && sum.truncated_lines > 0
            && sum.reports > 0
            && sum.writer_failures > 0,
        "the seeds no longer exercise the sink: {sum:?}"
    );
}

/// The fuzz target runs the sink's worker on demand, on a virtual clock
/// (its back-off takes no time); the same inputs, with the worker on its
/// own thread on real time, as in production, pass the same checks.
#[test]
fn sink_corpus_on_threads() {
    let _serial = serial();
    let n = replay("sink", |bytes| {
        if let Some(input) = sink::decode(bytes) {
            sink::check_on(&input, sink::Mode::Threads, calls::submit);
        }
    });
    assert!(n > 0, "no seed corpus for sink");
}

// ------------------------------------------- hand-written: encode

fn ok_fmt(chunks: &[&str]) -> encode::FmtSpec {
    encode::FmtSpec {
        chunks: chunks
            .iter()
            .map(|c| encode::FStr::Any((*c).to_owned()))
            .collect(),
        end: encode::FmtEnd::Ok,
    }
}

fn any(s: &str) -> encode::FStr {
    encode::FStr::Any(s.to_owned())
}

#[test]
fn encode_every_value_type_round_trips() {
    use encode::{Action as A, ErrNext, ErrSpec, FVal, FmtEnd, Lvl as L, Opts, PanicKind, Parent};
    let _serial = serial();
    let name = |n: &str| encode::NAMES.iter().position(|x| *x == n).unwrap() as u8;
    let input = encode::Input {
        opts: Opts {
            max_field: 9,  // 16 KiB
            max_record: 7, // 64 KiB
            file: true,
            line: true,
            statics: vec![(0, 1), (1, 6)], // "service", and "level" (renamed)
            ..Opts::default()
        },
        actions: vec![
            A::NewSpan {
                site: 1,
                level: L::Info,
                parent: Parent::Root,
                fields: vec![
                    (name("a"), FVal::Str(any("span \u{2028} a"))),
                    (name("name"), FVal::Bytes(vec![0, 255])),
                ],
            },
            A::Enter(0),
            A::Record {
                span: 0,
                fields: vec![(name("r#type"), FVal::U128(u128::MAX))],
            },
            A::Event {
                site: 0,
                level: L::Warn,
                parent: Parent::Current,
                fields: vec![
                    (name("message"), FVal::Str(any("line\nbreak \"q\" \u{0}"))),
                    (name("message"), FVal::DebugStr(any("dup\tmessage"))),
                    (name("level"), FVal::U64(u64::MAX)),
                    (name("target"), FVal::I64(i64::MIN)),
                    (name("fields"), FVal::I128(i128::MIN)),
                    (name("span"), FVal::F64Special(0)), // NaN
                    (name("spans"), FVal::F64(-0.0)),
                    (name("timestamp"), FVal::Bool(false)),
                ],
            },
            A::Event {
                site: 2,
                level: L::Error,
                parent: Parent::Root,
                fields: vec![
                    (name("a"), FVal::Debug(ok_fmt(&["in ", "pieces ", "é😀"]))),
                    (
                        name("a"),
                        FVal::Display(encode::FmtSpec {
                            chunks: vec![any("partial")],
                            end: FmtEnd::Err,
                        }),
                    ),
                    (
                        name("a.1"),
                        FVal::Debug(encode::FmtSpec {
                            chunks: vec![],
                            end: FmtEnd::Panic(PanicKind::Message(any("boom \"x\"\n"))),
                        }),
                    ),
                    (name("log.target"), FVal::Str(any("hidden"))),
                    (name(""), FVal::Bytes(b"abc".to_vec())),
                    (
                        name("\u{2028}\u{2029}"),
                        FVal::Error(ErrSpec {
                            display: ok_fmt(&["outer"]),
                            source_panics: None,
                            next: ErrNext::Chain(Box::new(ErrSpec {
                                display: ok_fmt(&["inner"]),
                                source_panics: None,
                                next: ErrNext::None,
                            })),
                        }),
                    ),
                    (
                        name("service"),
                        FVal::Error(ErrSpec {
                            display: ok_fmt(&["cycle"]),
                            source_panics: None,
                            next: ErrNext::Cycle,
                        }),
                    ),
                    (
                        name("threadName"),
                        FVal::Str(encode::FStr::Repeat {
                            piece: 6,
                            times: 30_000,
                        }),
                    ),
                ],
            },
        ],
    };
    let s = encode::check(&input, calls::encode_stack);
    assert_eq!((s.events, s.json), (2, 2), "{s:?}");
    // 8 + 7 event members (the `log.*` one is not shown), 2 `.sources`,
    // and the span's fields (3) in `span` and in `spans`.
    assert_eq!(s.values_checked, 8 + 7 + 2 + 3 * 2, "{s:?}");
    assert_eq!(s.fmt_markers, 2, "{s:?}");
    assert_eq!(s.truncated_values, 1, "{s:?}"); // 30 000 U+2028s
}

#[test]
fn encode_error_source_that_panics_with_a_payload_whose_drop_panics() {
    // Found by the fuzzer: `Error::source` panicked with a payload whose
    // destructor panics too; the payload was dropped outside the
    // `catch_unwind`, so the event was lost, uncounted.
    use encode::{Action as A, ErrNext, ErrSpec, FVal, Lvl as L, Opts, PanicKind, Parent};
    let _serial = serial();
    for source_panics in [PanicKind::DropPanics, PanicKind::Opaque, PanicKind::Static] {
        let input = encode::Input {
            opts: Opts {
                max_field: 9,
                max_record: 7,
                ..Opts::default()
            },
            actions: vec![A::Event {
                site: 0,
                level: L::Info,
                parent: Parent::Root,
                fields: vec![(
                    0,
                    FVal::Error(ErrSpec {
                        display: ok_fmt(&["an error"]),
                        source_panics: Some(source_panics),
                        next: ErrNext::None,
                    }),
                )],
            }],
        };
        let s = encode::check(&input, calls::encode_stack);
        assert_eq!((s.events, s.json, s.values_checked), (1, 1, 1));
    }
}

#[test]
fn encode_cuts_down_what_does_not_fit() {
    use encode::{Action as A, FStr, FVal, Lvl as L, Opts, Parent};
    let _serial = serial();
    let long = |piece| FVal::Str(FStr::Repeat { piece, times: 5000 });
    let event = |fields| A::Event {
        site: 0,
        level: L::Info,
        parent: Parent::Current,
        fields,
    };
    let input = encode::Input {
        opts: Opts {
            max_field: 9,  // 16 KiB, capped at half of max_record
            max_record: 2, // 512 bytes
            ..Opts::default()
        },
        actions: vec![
            A::NewSpan {
                site: 0,
                level: L::Info,
                parent: Parent::Root,
                fields: (12..20).map(|i| (i, long(10))).collect(),
            },
            A::Enter(0),
            // Too many long values: squeezed, then cut down to the message.
            event((0..8).map(|i| (i, long(14))).collect()),
            // Outside the span, one message over the budget: its value is
            // cut, the rest fits.
            A::Event {
                site: 0,
                level: L::Info,
                parent: Parent::Root,
                fields: vec![(0, long(6))],
            },
        ],
    };
    let s = encode::check(&input, calls::encode_stack);
    assert_eq!((s.events, s.json, s.cut_down), (2, 2, 1), "{s:?}");
    // Static fields the layer cannot cut: the sink truncates the record.
    let input = encode::Input {
        opts: Opts {
            max_field: 9,
            max_record: 0, // 256 bytes
            statics: vec![(0, 6), (7, 1), (8, 6)],
            ..Opts::default()
        },
        actions: vec![event(vec![(0, long(14))])],
    };
    let s = encode::check(&input, calls::encode_stack);
    assert_eq!((s.events, s.sink_truncated), (1, 1), "{s:?}");
}

// ------------------------------------------- hand-written: sink

fn submit(len: u16, shape: sink::Shape) -> sink::Op {
    sink::Op::Submit {
        len,
        level: sink::Lvl::Error,
        shape,
    }
}

#[test]
fn sink_writer_failures_are_counted_and_contained() {
    // Found by the fuzzer: a writer that panics with a payload whose
    // destructor panics (or fails with an error whose `Display` panics)
    // unwound the worker past its error handling: the failure went
    // uncounted, and four of them stopped the worker for good. The check
    // asserts `writer_errors` counts each failure and that a flush gets
    // everything out once the writer is healthy.
    use sink::{Config, ErrorPick, OverflowPick, Phase, Shape, WriteStep};
    let _serial = serial();
    for step in [
        WriteStep::PanicBomb,
        WriteStep::Error(ErrorPick::DisplayPanics),
    ] {
        let input = sink::Input {
            config: Config {
                capacity: 7,
                max_record: 20,
                budget_extra: 4000,
                overflow: OverflowPick::DropNewest,
                high_water: 99,
                flush_deadline: 31,
            },
            writes: vec![step],
            flushes: vec![],
            phases: vec![Phase {
                hold: false,
                threads: vec![
                    vec![submit(100, Shape::Json), submit(50, Shape::Text)],
                    vec![submit(80, Shape::JsonUnicode)],
                ],
                flush_after: Some(19),
            }],
            drop_guard_early: false,
        };
        // On demand, the phase's flush runs the worker: the failure comes
        // before the final flush heals the writer.
        let s = sink::check(&input, calls::submit);
        assert_eq!((s.submits, s.written), (3, 3), "{s:?}");
        assert_eq!(s.writer_failures, 1, "{step:?}");
    }
}

#[test]
fn sink_queue_bounds_are_checked_while_the_writer_is_held() {
    use sink::{Config, Op, OverflowPick, Phase, Shape};
    let _serial = serial();
    // With the worker on a thread: the first record blocks the writer; a
    // flush that times out gives the worker time to get there; the next
    // ones queue (up to the budget and the capacity), and are checked
    // against them at the release. On demand, the held phase runs no
    // flush, and the queue is checked at its end.
    let input = sink::Input {
        config: Config {
            capacity: 3,       // 4 records
            max_record: 8,     // 128 bytes
            budget_extra: 200, // 328 bytes
            overflow: OverflowPick::DropNewest,
            high_water: 99,
            flush_deadline: 31,
        },
        writes: vec![],
        flushes: vec![],
        phases: vec![Phase {
            hold: true,
            threads: vec![
                vec![
                    submit(20, Shape::Json),
                    Op::Flush(3),
                    submit(100, Shape::Json),
                    submit(100, Shape::Text),
                    submit(100, Shape::Json),
                    submit(100, Shape::Text),
                ],
                vec![Op::Flush(3), submit(90, Shape::Json), Op::Snapshot],
            ],
            flush_after: Some(19),
        }],
        drop_guard_early: false,
    };
    let s = sink::check(&input, calls::submit);
    assert_eq!(s.holds_checked, 1, "{s:?}");
    assert!(s.max_queued_bytes > 0 && s.max_queued_bytes <= 328, "{s:?}");
    let mut queued = 0;
    // (Each try takes about a millisecond: the flush's timeout is 3 ticks.)
    for _ in 0..50 {
        let s = sink::check_on(&input, sink::Mode::Threads, calls::submit);
        assert_eq!(s.holds_checked, 1, "{s:?}");
        queued = s.max_queued_bytes;
        if queued > 0 {
            break;
        }
    }
    assert!(queued > 0 && queued <= 328, "{queued}");
}
