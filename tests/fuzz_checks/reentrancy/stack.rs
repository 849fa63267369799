//! Target `reentrancy`: the guarded global stack (a probe layer, a `fmt`
//! layer whose writer logs or panics, a dynamic filter), installed once.

use super::*;

/// The counting layer: counts every event it sees, formats every field of
/// every event and span (so the fields' `Debug` runs inside the logging
/// path), and logs from its callbacks as configured.
pub struct Probe;

impl<S: Subscriber> Layer<S> for Probe {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // Counted first, so a field that panics below is still "delivered".
        DELIVERED.fetch_add(1, Relaxed);
        let _cb = Callback::enter("Probe::on_event");
        event.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_EVENT, "on_event");
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_new_span");
        attrs.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_new_span");
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_record");
        values.record(&mut FormatAll);
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_record");
    }

    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_enter");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_enter");
    }

    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_exit");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_exit");
    }

    fn on_close(&self, _: Id, _: Context<'_, S>) {
        let _cb = Callback::enter("Probe::on_close");
        layer_logs(&LAYER_LOGS_ON_SPAN, "on_close");
    }
}

pub(super) fn layer_logs(count: &AtomicU32, from: &'static str) {
    for _ in 0..count.load(Relaxed) {
        emitted(Level::WARN);
        tracing::warn!(target: "fuzz::layer", from, "a layer logged");
    }
}

/// Formats every field with `{:?}`, ignoring `Err`.
pub(super) struct FormatAll;

impl Visit for FormatAll {
    fn record_debug(&mut self, _: &Field, value: &dyn fmt::Debug) {
        let _ = fmt::write(&mut Discard, format_args!("{value:?}"));
    }
}

/// Takes what is formatted and keeps none of it: the formatting is what
/// counts (a `Debug` that logs, panics or fails), not the text.
pub(super) struct Discard;

impl fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// The `fmt` layer's writer: logs, may panic, discards the bytes.
pub struct LoggingWriter;

impl io::Write for LoggingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _cb = Callback::enter("the fmt layer's writer");
        for _ in 0..WRITER_LOGS.load(Relaxed) {
            emitted(Level::ERROR);
            tracing::error!(target: "fuzz::writer", bytes = buf.len(), "a writer logged");
        }
        if WRITER_PANICS.load(Relaxed) {
            harness_panic();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `fmt` layer's field formatter, which shrugs off a `Debug` that
/// returns `Err`. With the default one, `fmt::Layer::on_new_span` reports
/// that error with `eprintln!("{:?}", attrs)`, which formats the failing
/// value again, so `eprintln!` panics ("a formatting trait implementation
/// returned an error") inside the subscriber, holding the span's extensions
/// lock (poisoning it: every later event in that span panics too). That hazard is tracing-subscriber's, not the guard's, and
/// layer-safe's own encoder has its own target; it is kept out of this one.
pub struct LenientFields;

impl<'w> FormatFields<'w> for LenientFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        struct V<'a, 'w>(&'a mut Writer<'w>);
        impl Visit for V<'_, '_> {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                let _ = write!(self.0, "{}={:?} ", field.name(), value);
            }
        }
        fields.record(&mut V(&mut writer));
        Ok(())
    }
}

/// The `fmt` layer's event format: the level and the event's fields, whose
/// `Debug` runs here, inside the path. Not the default's scope of spans:
/// their fields were formatted (and their `Debug` run) when they were made
/// or recorded, and the default only copies that text again for every
/// event; with many spans entered, that copying was half of a long
/// program's time.
pub struct Brief;

impl<S, N> FormatEvent<S, N> for Brief
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{} ", event.metadata().level())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

pub(super) static STATS: OnceLock<StatsHandle> = OnceLock::new();

/// Installs the guarded stack ([`Stack`]) as the global
/// default, once per process, and returns its counters.
pub fn install(stack: Stack) -> &'static StatsHandle {
    STATS.get_or_init(|| {
        super::super::install_panic_hook();
        // A refused `external_call` is recorded, never a panic (the default
        // policy under debug assertions is `Panic`).
        layer_safe::set_policy(layer_safe::Policy::Report);
        let (dispatch, stats) = stack();
        tracing::dispatcher::set_global_default(dispatch)
            .expect("the reentrancy check must own the process's global default subscriber");
        stats
    })
}
