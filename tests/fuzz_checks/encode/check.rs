//! Target `encode`: running one input through the deferred layer and the
//! eager oracle (sinks kept across inputs), then checking the lines.

use super::*;

/// Counts over one run, for tests that check the harness is not vacuous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub events: usize,
    pub json: usize,
    /// Records the layer cut down to their message.
    pub cut_down: usize,
    /// Values cut with a marker.
    pub truncated_values: usize,
    /// Markers for a `Debug`/`Display` that failed or panicked.
    pub fmt_markers: usize,
    /// Members checked against an expected value.
    pub values_checked: usize,
    /// Records the sink truncated: the layer could not cut them to fit.
    pub sink_truncated: usize,
}

/// The layer's settled options, as the checks need them.
pub(super) struct Cfg {
    pub(super) text: bool,
    pub(super) timestamp: Timestamp,
    pub(super) flatten_event: bool,
    pub(super) flatten_spans: bool,
    pub(super) current_span: bool,
    pub(super) span_list: bool,
    pub(super) target: bool,
    pub(super) file: bool,
    pub(super) line: bool,
    pub(super) thread_names: bool,
    pub(super) thread_ids: bool,
    /// Static fields as set (a key set again replaces its value in place).
    pub(super) statics: Vec<(&'static str, serde_json::Value)>,
    pub(super) max_record: usize,
}

impl Cfg {
    pub(super) fn from(o: &Opts) -> Cfg {
        let mut statics: Vec<(&'static str, serde_json::Value)> = Vec::new();
        for (k, v) in o.statics.iter().take(MAX_STATICS) {
            let key = STATIC_KEYS[usize::from(*k) % STATIC_KEYS.len()];
            let value = static_value(*v);
            match statics.iter_mut().find(|(sk, _)| *sk == key) {
                Some(slot) => slot.1 = value,
                None => statics.push((key, value)),
            }
        }
        Cfg {
            text: o.text,
            timestamp: match o.timestamp % 3 {
                0 => Timestamp::Rfc3339Micros,
                1 => Timestamp::UnixNanos,
                _ => Timestamp::Off,
            },
            flatten_event: o.flatten_event,
            flatten_spans: o.flatten_spans,
            current_span: !o.no_current_span,
            span_list: !o.no_span_list,
            target: !o.no_target,
            file: o.file,
            line: o.line,
            thread_names: o.thread_names,
            thread_ids: o.thread_ids,
            statics,
            max_record: MAX_RECORD[usize::from(o.max_record) % MAX_RECORD.len()],
        }
    }
}

/// A writer that keeps every byte.
#[derive(Clone, Default)]
pub(super) struct Keep(pub(super) Arc<Mutex<Vec<u8>>>);

impl io::Write for Keep {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink kept across inputs (one per `max_record`): starting one (its
/// worker thread) and shutting it down was most of an input's cost. Idle
/// and flushed between inputs, so what its writer holds after an input's
/// flush is that input's lines; its counters are compared before and after.
pub(super) struct Kept {
    pub(super) max_record: usize,
    pub(super) sink: Sink,
    pub(super) guard: FlushGuard,
    pub(super) out: Keep,
    /// Layers registered with it (a sink takes at most 255).
    pub(super) layers: u32,
}

/// A sink serves this many inputs, then a new one is started.
pub(super) const SINK_INPUTS: u32 = 200;

pub(super) static SINKS: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

pub(super) fn kept_sink(max_record: usize) -> Kept {
    let mut sinks = SINKS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = sinks.iter().position(|k| k.max_record == max_record) {
        let k = sinks.swap_remove(i);
        if k.layers < SINK_INPUTS {
            return k;
        }
    }
    drop(sinks);
    let out = Keep::default();
    let (sink, guard) = Sink::builder()
        .writer(out.clone())
        .capacity(64)
        .max_record(max_record)
        // Room for every event of an input: a caller that blocks sleeps.
        .byte_budget(max_record * 2 * (MAX_ACTIONS + 8))
        // Nothing may be dropped: every event must give its line.
        .overflow(Overflow::Block {
            timeout: Duration::from_secs(30),
        })
        .high_water_mark(100)
        // No thread: the worker runs in the input's flush, on this thread
        // (waking a worker thread for it, and back, was a tenth of an
        // input), on a clock whose naps cost nothing.
        .virtual_time(true)
        .on_demand(true)
        .build()
        .expect("a valid sink configuration");
    Kept {
        max_record,
        sink,
        guard,
        out,
        layers: 0,
    }
}

/// Runs `input` and checks every line; panics with the input if an
/// invariant is broken.
pub fn check(input: &Input, stack: Stack) -> Summary {
    install_panic_hook();
    let input = &input.bounded();
    let o = &input.opts;
    let cfg = Cfg::from(o);
    let mut kept = kept_sink(cfg.max_record);
    kept.layers += 1;
    let sink = kept.sink.clone();
    let out = kept.out.clone();
    out.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let before = sink.stats();
    // The oracle: the same options, formatting on the caller with spans
    // looked up fresh, as before formatting moved to the worker. Its lines
    // must be the deferred path's, byte for byte.
    let mut eager_kept = kept_sink(cfg.max_record);
    eager_kept.layers += 1;
    let eager_out = eager_kept.out.clone();
    eager_out
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    let dispatch = stack(
        layer(o, &cfg, sink.clone()).build(),
        layer(o, &cfg, eager_kept.sink.clone()).eager(true).build(),
        sink.stats_handle(),
    );

    let mut program = Program {
        models: Vec::new(),
        live: Vec::new(),
        entered: Vec::new(),
        by_id: Default::default(),
        emitted: Vec::new(),
        problems: Vec::new(),
    };
    tracing::dispatcher::with_default(&dispatch, || {
        for action in input.actions.iter().take(MAX_ACTIONS) {
            program.act(action);
        }
        // Exit and close inside the scope: closing runs the layer too.
        while let Some(e) = program.entered.pop() {
            if let Err(msg) = catch_any(|| drop(e)) {
                program
                    .problems
                    .push(format!("exiting a span unwound: {msg}"));
            }
        }
        for (_, span) in std::mem::take(&mut program.live) {
            if let Err(msg) = catch_any(|| drop(span)) {
                program
                    .problems
                    .push(format!("closing a span unwound: {msg}"));
            }
        }
    });
    let flushed = kept.guard.flush(Duration::from_secs(30))
        && eager_kept.guard.flush(Duration::from_secs(30));
    let after = sink.stats();
    let bytes = std::mem::take(&mut *out.0.lock().unwrap_or_else(|e| e.into_inner()));
    let eager = std::mem::take(&mut *eager_out.0.lock().unwrap_or_else(|e| e.into_inner()));
    let eager_settled = eager_kept.sink.stats().in_flight == 0;
    // Back for the next input, unless this one left them unsettled.
    if flushed && after.in_flight == 0 && eager_settled {
        let mut sinks = SINKS.lock().unwrap_or_else(|e| e.into_inner());
        sinks.push(kept);
        sinks.push(eager_kept);
    }
    let dropped = after.dropped.total() - before.dropped.total();
    let submitted = after.submitted - before.submitted;

    let mut problems = program.problems;
    let mut summary = Summary {
        events: program.emitted.len(),
        ..Summary::default()
    };
    if !flushed {
        problems.push("the sink did not flush".into());
    }
    if dropped != 0 || submitted != program.emitted.len() as u64 {
        problems.push(format!(
            "{} events, but the sink says {submitted} submitted, {dropped} dropped: {after:?}",
            program.emitted.len()
        ));
    }
    match std::str::from_utf8(&bytes) {
        Err(e) => problems.push(format!("the output is not UTF-8: {e}")),
        Ok(text) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.len() != program.emitted.len() {
                problems.push(format!(
                    "{} events gave {} lines",
                    program.emitted.len(),
                    lines.len()
                ));
            }
            for (n, (line, ev)) in lines.iter().zip(&program.emitted).enumerate() {
                if let Err(e) = check_line(&cfg, line, ev, &mut summary) {
                    problems.push(format!("event #{n}: {e}\n    line: {line:?}"));
                }
            }
            let eager = String::from_utf8_lossy(&eager);
            for (n, (d, e)) in lines.iter().zip(eager.split_inclusive('\n')).enumerate() {
                if untimed(d) != untimed(e) {
                    problems.push(format!(
                        "event #{n}: deferred and eager differ\n    deferred: {d:?}\n    eager:    {e:?}"
                    ));
                }
            }
            if eager.split_inclusive('\n').count() != lines.len() {
                problems.push("deferred and eager wrote different numbers of lines".into());
            }
        }
    }
    if !problems.is_empty() {
        panic!(
            "encode check failed:\n  - {}\ninput: {input:#?}",
            problems.join("\n  - ")
        );
    }
    summary
}

/// The line without its timestamps: the eager path reads the clock on the
/// caller, the deferred one converts the caller's ticks on the worker (and
/// a cut record quotes the timestamp of the line it cut).
pub(super) fn untimed(line: &str) -> String {
    // Unix nanos: the text line's first word, or a number after a
    // `timestamp` key, quoted or escaped (a cut record quotes the line it cut).
    let number = |t: &str| t.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    let mut line = match line.split_once(' ') {
        Some((first, rest)) if number(first) => format!("<t> {rest}"),
        _ => line.to_owned(),
    };
    let mut from = 0;
    while let Some(at) = line[from..]
        .find("timestamp")
        .map(|i| from + i + "timestamp".len())
    {
        let after = line[at..].trim_start_matches(['"', '\\']);
        let start = line.len() - after.len();
        from = start;
        if let Some(value) = after.strip_prefix(':') {
            let digits = value.len()
                - value
                    .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
                    .len();
            if digits > 0 {
                line.replace_range(start + 1..start + 1 + digits, "<t>");
            }
        }
    }
    // RFC 3339: `dddd-dd-ddTdd:dd:dd.ddddddZ`, wherever it stands. Only a
    // digit can start one (and is a character boundary): jump from digit to
    // digit and copy the text between in one piece, not char by char (this
    // runs on every line twice, instrumented).
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let b = line.as_bytes();
    let fits = |i: usize| {
        b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            })
    };
    let mut out = String::with_capacity(line.len());
    let (mut copied, mut i) = (0, 0);
    while let Some(k) = b[i..].iter().position(u8::is_ascii_digit) {
        let at = i + k;
        if fits(at) {
            out.push_str(&line[copied..at]);
            out.push_str("<t>");
            copied = at + SHAPE.len();
            i = copied;
        } else {
            i = at + 1;
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// The layer under test, with the input's options.
pub(super) fn layer(o: &Opts, cfg: &Cfg, sink: Sink) -> layer_safe::JsonLayerBuilder {
    let mut b = JsonLayer::builder(sink)
        .format(if cfg.text {
            LineFormat::Text
        } else {
            LineFormat::Json
        })
        .ansi(o.ansi)
        .timestamp(cfg.timestamp)
        .flatten_event(cfg.flatten_event)
        .flatten_span_fields(cfg.flatten_spans)
        .with_current_span(cfg.current_span)
        .with_span_list(cfg.span_list)
        .with_target(cfg.target)
        .with_file(cfg.file)
        .with_line_number(cfg.line)
        .with_thread_names(cfg.thread_names)
        .with_thread_ids(cfg.thread_ids)
        .max_field_bytes(MAX_FIELD[usize::from(o.max_field) % MAX_FIELD.len()]);
    for (k, v) in o.statics.iter().take(MAX_STATICS) {
        b = b.static_field(
            STATIC_KEYS[usize::from(*k) % STATIC_KEYS.len()],
            static_value(*v),
        );
    }
    b
}
