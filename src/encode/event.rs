//! A captured event, decoded on the worker, and its rendering into a line
//! that fits the sink's maximum record size.

use tracing_core::Level;

use super::site::Site;

use super::record::{self, Reader, SpanView, Value, CUT, LOG, THREAD};
use super::time::Now;
use super::truncate::MARKER_MAX;
use super::value::Acc;
use super::visitor::EventVisitor;
use super::{json, text, Budget, Config, LineFormat, Timestamp};
use crate::clock::WallClock;

/// One event as the worker sees it.
pub(crate) struct Event<'a> {
    pub(crate) level: Level,
    pub(crate) target: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
    pub(crate) now: Now,
    /// The thread's name and id as JSON strings, when captured.
    pub(crate) thread: Option<(Option<&'a [u8]>, &'a [u8])>,
    fields: Fields<'a>,
    /// The span chain, root first; `None` when the event is in no span.
    spans: Option<&'a [u8]>,
    /// Only the message was captured, of an event this many bytes big.
    cut: Option<usize>,
    /// The trace id then the span id of the event's span.
    #[cfg(feature = "opentelemetry")]
    pub(crate) trace: Option<&'a [u8]>,
}

/// Where an event's fields come from.
#[derive(Clone, Copy)]
enum Fields<'a> {
    /// Captured by a caller: `count` values encoded in `values`, named by
    /// the call site.
    Captured {
        site: &'a Site,
        values: Reader<'a>,
        count: u8,
    },
    /// One of the sink's own records: its names and values, listed.
    Listed(&'a [(&'a str, Value<'a>)]),
}

impl<'a> Event<'a> {
    /// One of the sink's own records (a drop report, say), which the
    /// formats write as they write any event: `target` `layer_safe`, no
    /// call site, thread or span. Names in `fields` need no escaping.
    pub(crate) fn own(level: Level, now: Now, fields: &'a [(&'a str, Value<'a>)]) -> Event<'a> {
        Event {
            level,
            target: "layer_safe",
            file: None,
            line: None,
            now,
            thread: None,
            fields: Fields::Listed(fields),
            spans: None,
            cut: None,
            #[cfg(feature = "opentelemetry")]
            trace: None,
        }
    }

    /// Decodes `payload` (its level byte first), with its call site.
    pub(crate) fn decode(
        payload: &'a [u8],
        site: impl FnOnce(u32) -> Option<&'a Site>,
        clock: &WallClock,
        timestamp: Timestamp,
    ) -> Option<Event<'a>> {
        let mut r = Reader(payload);
        let level = crate::sink_core::record_level(&[r.u8()?]);
        let site = site(r.u32()?)?;
        let meta = site.meta;
        let ticks = r.u64()?;
        let flags = r.u8()?;
        // The trace context ends the record: split it off first.
        #[cfg(feature = "opentelemetry")]
        let (mut r, trace) = if flags & record::OTEL != 0 {
            let at = r.0.len().checked_sub(record::OTEL_LEN)?;
            let (body, ids) = r.0.split_at(at);
            (Reader(body), Some(ids))
        } else {
            (r, None)
        };
        let cut = if flags & CUT != 0 {
            Some(r.u32()? as usize)
        } else {
            None
        };
        let (mut target, mut file, mut line) = (meta.target(), meta.file(), meta.line());
        if flags & LOG != 0 {
            target = r.str()?;
            file = r.opt_bytes()?.and_then(|b| std::str::from_utf8(b).ok());
            line = match r.u8()? {
                0 => None,
                _ => Some(r.u32()?),
            };
        }
        let thread = if flags & THREAD != 0 {
            Some((r.opt_bytes()?, r.bytes()?))
        } else {
            None
        };
        let nfields = r.u8()?;
        let len = r.u32()? as usize;
        let fields = Reader(r.0.get(..len)?);
        r = Reader(r.0.get(len..)?);
        let spans = match r.u8()? {
            0 => None,
            _ => Some(r.0),
        };
        let now = match timestamp {
            Timestamp::Off => Now::ZERO,
            _ => Now::from_unix_nanos(clock.unix_nanos(ticks)),
        };
        Some(Event {
            level,
            target,
            file,
            line,
            now,
            thread,
            fields: Fields::Captured {
                site,
                values: fields,
                count: nfields,
            },
            spans,
            cut,
            #[cfg(feature = "opentelemetry")]
            trace,
        })
    }

    /// Writes every field through `v`.
    pub(crate) fn record(&self, v: &mut EventVisitor<'_>) {
        match self.fields {
            Fields::Captured {
                site,
                mut values,
                count,
            } => {
                for _ in 0..count {
                    let Some((index, value)) = values.field() else {
                        return;
                    };
                    if let Some(name) = site.names.get(index) {
                        v.field(name, value);
                    }
                }
            }
            Fields::Listed(fields) => {
                for &(name, value) in fields {
                    v.field(name.as_bytes(), value);
                }
            }
        }
    }

    /// Whether the event is in a span.
    pub(crate) fn in_span(&self) -> bool {
        self.spans.is_some()
    }

    /// The event's spans, root first.
    pub(crate) fn spans(&self) -> impl Iterator<Item = SpanView<'a>> + 'a {
        self.spans.into_iter().flat_map(record::spans)
    }
}

/// Renders a captured event as one line (ending in `\n`) of at most `max`
/// bytes, at the end of `out`. Returns whether a value was cut.
pub(crate) fn render(cfg: &Config, ev: &Event<'_>, max: usize, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    if let Some(full) = ev.cut {
        let cut = Budget {
            cap: (max / 4).saturating_sub(MARKER_MAX),
            oversize: Some((full, max)),
        };
        return encode(cfg, out, ev, cut).truncated;
    }
    let normal = Budget {
        cap: cfg.cap,
        oversize: None,
    };
    let mut acc = encode(cfg, out, ev, normal);
    if out.len() - start > max {
        // Too many long values together: give each string an equal share
        // of what the rest of the record leaves, and try again.
        let full = out.len() - start;
        let fixed = full - acc.string_bytes;
        let share = max.saturating_sub(fixed) / acc.strings.max(1);
        let cap = share.saturating_sub(2 + MARKER_MAX);
        if cap >= 16 {
            out.truncate(start);
            acc = encode(
                cfg,
                out,
                ev,
                Budget {
                    cap,
                    oversize: None,
                },
            );
        }
        if out.len() - start > max {
            // Still too big (huge span fields, or a great many values):
            // keep the message and say what was left out.
            out.truncate(start);
            let cut = Budget {
                cap: (max / 4).saturating_sub(MARKER_MAX),
                oversize: Some((full, max)),
            };
            acc = encode(cfg, out, ev, cut);
        }
    }
    acc.truncated
}

/// Renders one of the sink's own records ([`Event::own`]) at `now` in the
/// format of `cfg`, at the end of `out`. Returns `false`, with `out` as it
/// was, when even cut down it would not fit in `max` bytes.
///
/// Whatever the layer's options, the record names its target
/// (`layer_safe`, what marks the sink's records) and its values are cut
/// only to fit `max`, not to the layer's field limit. Cold: a copy of the
/// options per record.
pub(crate) fn render_own(
    cfg: &Config,
    level: Level,
    now: std::time::SystemTime,
    fields: &[(&str, Value<'_>)],
    max: usize,
    out: &mut Vec<u8>,
) -> bool {
    let cfg = &Config {
        target: true,
        cap: max,
        ..cfg.clone()
    };
    let now = match cfg.timestamp {
        Timestamp::Off => Now::ZERO,
        _ => Now::from_system_time(now),
    };
    let start = out.len();
    render(cfg, &Event::own(level, now, fields), max, out);
    let fits = out.len() - start <= max;
    if !fits {
        out.truncate(start);
    }
    fits
}

fn encode(cfg: &Config, out: &mut Vec<u8>, ev: &Event<'_>, budget: Budget) -> Acc {
    match cfg.format {
        LineFormat::Json => json::encode(cfg, out, ev, budget),
        LineFormat::Text => text::encode(cfg, out, ev, budget),
    }
}
