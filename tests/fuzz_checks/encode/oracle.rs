//! Target `encode`: one line against the model: shape, limits, the
//! JSON tokenizer, where every member stands, what a cut record says.

use super::*;

pub(super) fn check_line(
    cfg: &Cfg,
    line: &str,
    ev: &Emitted,
    sum: &mut Summary,
) -> Result<(), String> {
    if !line.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    if line.len() > cfg.max_record {
        return Err(format!(
            "{} bytes, over max_record ({})",
            line.len(),
            cfg.max_record
        ));
    }
    let body = &line[..line.len() - 1];
    if let Some(c) = body
        .chars()
        .find(|c| matches!(c, '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}') && *c != '\u{1b}')
    {
        return Err(format!("raw {c:?} in a record"));
    }
    let level = ev.meta.level().as_str();
    if cfg.text {
        if !body.contains(level) {
            return Err(format!("the text line does not show the level {level}"));
        }
        return Ok(());
    }
    if body.contains('\u{1b}') {
        return Err("raw ESC in a JSON record".into());
    }
    serde_json::from_str::<serde_json::Value>(body).map_err(|e| format!("serde_json: {e}"))?;
    let j = catch_any(|| json_support::parse(body)).map_err(|e| format!("strict parser: {e}"))?;
    if !j.keys_unique() {
        return Err("a duplicate key".into());
    }
    sum.json += 1;
    if let Some(J::Obj(f)) = j.get("fields") {
        if f.iter()
            .any(|(k, v)| k == "message" && *v == J::Str("record truncated".into()))
            && j.get("target") == Some(&J::Str("layer_safe".into()))
        {
            // The sink's stand-in for a record over max_record: the layer
            // cuts every value to fit, and keeps only the message when even
            // that is too long; only what it cannot cut (timestamp, level,
            // static fields, several messages, target, file, thread) may
            // leave a record too long for it.
            let bound = cut_down_bound(cfg, ev);
            if bound <= cfg.max_record {
                return Err(format!(
                    "the layer's record did not fit max_record ({}), though cut down to its \
                     message it takes at most {bound} bytes: the sink truncated it",
                    cfg.max_record
                ));
            }
            sum.sink_truncated += 1;
            return Ok(());
        }
    }
    let mut local = Summary::default();
    match check_json(cfg, &j, ev, false, &mut local) {
        Ok(()) => {}
        Err(normal) => {
            // A record cut down to its message says so in `truncated`.
            local = Summary::default();
            let cut = j
                .keys()
                .iter()
                .any(|k| base_is(k, "truncated"))
                .then(|| check_json(cfg, &j, ev, true, &mut local));
            match cut {
                Some(Ok(())) => local.cut_down += 1,
                Some(Err(e)) => {
                    return Err(format!("{normal} (or, read as cut down: {e})"));
                }
                None => return Err(normal),
            }
        }
    }
    sum.cut_down += local.cut_down;
    sum.truncated_values += local.truncated_values;
    sum.fmt_markers += local.fmt_markers;
    sum.values_checked += local.values_checked;
    Ok(())
}

/// `key` is `base`, or `base` renamed: `base.N`, or `base.N.M` (a span's
/// `a.1`, itself a rename, renamed again when flattened).
pub(super) fn base_is(key: &str, base: &str) -> bool {
    key.strip_prefix(base).is_some_and(|rest| {
        rest.is_empty()
            || rest.strip_prefix('.').is_some_and(|r| {
                r.split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    })
}

/// Walks the root object member by member.
pub(super) struct Members<'a> {
    pub(super) m: &'a [(String, J)],
    pub(super) at: usize,
}

impl<'a> Members<'a> {
    pub(super) fn next(&mut self, what: &str) -> Result<&'a (String, J), String> {
        let m = self
            .m
            .get(self.at)
            .ok_or_else(|| format!("the record ends where {what} should be"))?;
        self.at += 1;
        Ok(m)
    }

    pub(super) fn expect(&mut self, base: &str, what: &str) -> Result<&'a J, String> {
        let (k, v) = self.next(what)?;
        if !base_is(k, base) {
            return Err(format!("{what}: key {k:?}, expected {base:?}"));
        }
        Ok(v)
    }
}

pub(super) fn check_json(
    cfg: &Cfg,
    j: &J,
    ev: &Emitted,
    cut_down: bool,
    sum: &mut Summary,
) -> Result<(), String> {
    let J::Obj(root) = j else {
        return Err("not an object".into());
    };
    let mut m = Members { m: root, at: 0 };
    match cfg.timestamp {
        Timestamp::Rfc3339Micros => {
            let ts = m.expect("timestamp", "timestamp")?;
            if !matches!(ts, J::Str(s) if rfc3339(s)) {
                return Err(format!("timestamp {ts:?}"));
            }
        }
        Timestamp::UnixNanos => {
            let ts = m.expect("timestamp", "timestamp")?;
            if !matches!(ts, J::Num(n) if n.parse::<u64>().is_ok()) {
                return Err(format!("timestamp {ts:?}"));
            }
        }
        _ => {}
    }
    let level = m.expect("level", "level")?;
    if *level != J::Str(ev.meta.level().as_str().into()) {
        return Err(format!("level {level:?}"));
    }
    for (key, value) in &cfg.statics {
        let got = m.expect(key, "a static field")?;
        if to_serde(got) != *value {
            return Err(format!("static field {key:?}: {got:?}, expected {value}"));
        }
    }
    let expected = event_members(ev, cut_down);
    if cfg.flatten_event {
        check_members(&mut m, &expected, Style::Event, sum)?;
    } else {
        let fields = m.expect("fields", "fields")?;
        let J::Obj(f) = fields else {
            return Err(format!("fields is {fields:?}"));
        };
        let mut fm = Members { m: f, at: 0 };
        check_members(&mut fm, &expected, Style::Event, sum)?;
        if fm.at != f.len() {
            return Err(format!("extra members in fields: {:?}", &f[fm.at..]));
        }
    }
    if cut_down {
        let t = m.expect("truncated", "the cut-down note")?;
        let ok = matches!(t, J::Str(s) if s.starts_with("record of ")
            && s.ends_with(&format!(" bytes over the maximum of {}: fields and spans left out", cfg.max_record)));
        if !ok {
            return Err(format!("truncated: {t:?}"));
        }
    }
    let spans = if cut_down { &[][..] } else { &ev.spans[..] };
    if cfg.flatten_spans {
        for span in spans {
            check_members(&mut m, &span_members(span), Style::Span, sum)?;
        }
    }
    if cfg.target {
        let t = m.expect("target", "target")?;
        check_str(t, ev.meta.target(), sum).map_err(|e| format!("target: {e}"))?;
    }
    if let (true, Some(file)) = (cfg.file, ev.meta.file()) {
        let f = m.expect("filename", "filename")?;
        check_str(f, file, sum).map_err(|e| format!("filename: {e}"))?;
    }
    if let (true, Some(line)) = (cfg.line, ev.meta.line()) {
        let l = m.expect("line_number", "line_number")?;
        if *l != J::Num(line.to_string()) {
            return Err(format!("line_number {l:?}"));
        }
    }
    if let Some(leaf) = spans.last() {
        if cfg.current_span {
            let s = m.expect("span", "span")?;
            check_span_obj(s, leaf, sum).map_err(|e| format!("span: {e}"))?;
        }
        if cfg.span_list {
            let l = m.expect("spans", "spans")?;
            let J::Arr(items) = l else {
                return Err(format!("spans is {l:?}"));
            };
            if items.len() != spans.len() {
                return Err(format!(
                    "{} spans listed, {} expected",
                    items.len(),
                    spans.len()
                ));
            }
            for (got, span) in items.iter().zip(spans) {
                check_span_obj(got, span, sum).map_err(|e| format!("spans: {e}"))?;
            }
        }
    }
    if cfg.thread_names {
        let named = std::thread::current().name().is_some();
        if named || !cfg.thread_ids {
            let t = m.expect("threadName", "threadName")?;
            if !matches!(t, J::Str(_)) {
                return Err(format!("threadName {t:?}"));
            }
        }
    }
    if cfg.thread_ids {
        let t = m.expect("threadId", "threadId")?;
        if !matches!(t, J::Str(s) if s.starts_with("ThreadId(")) {
            return Err(format!("threadId {t:?}"));
        }
    }
    if m.at != root.len() {
        return Err(format!("unexpected members: {:?}", &root[m.at..]));
    }
    Ok(())
}

/// The escaped length of `s` in a JSON string, without quotes.
pub(super) fn esc_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}' => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// The longest a string value within `cap` can be: quotes, the kept
/// prefix and the marker.
pub(super) fn capped_len(s: &str, cap: usize) -> usize {
    let e = esc_len(s);
    2 + if e <= cap { e } else { cap + MARKER_MAX }
}

/// The longest truncation marker.
pub(super) const MARKER_MAX: usize = "…[truncated ".len() + 20 + " bytes]".len();

/// An upper bound of the length of `ev`'s record cut down to its message
/// (the layer's last resort): what the layer cannot shorten.
pub(super) fn cut_down_bound(cfg: &Cfg, ev: &Emitted) -> usize {
    let cap = (cfg.max_record / 4).saturating_sub(MARKER_MAX);
    let mut n = 1 + match cfg.timestamp {
        Timestamp::Rfc3339Micros => 42,
        Timestamp::UnixNanos => 33,
        _ => 0,
    };
    n += 16; // "level":"ERROR"
    for (k, v) in &cfg.statics {
        let value = serde_json::to_string(v).unwrap_or_default();
        let seps = value.matches(['\u{2028}', '\u{2029}']).count();
        n += 1 + esc_len(k) + 2 + 4 + 1 + value.len() + 3 * seps;
    }
    n += 12; // "fields":{}
    for (i, v) in &ev.fields {
        if NAMES[*i] != "message" {
            continue;
        }
        // The key (renamed at worst `message.N`), and the longest value of
        // any type within the cap: a panic marker with its message.
        n += 1 + 14 + 1 + cap + 2 + 17 + MARKER_MAX + 1;
        if let FVal::Error(_) = v {
            n += 20;
        }
    }
    n += 128; // "truncated":"record of N bytes over the maximum of M: ..."
    if cfg.target {
        n += 10 + capped_len(ev.meta.target(), cap);
    }
    if let (true, Some(file)) = (cfg.file, ev.meta.file()) {
        n += 12 + capped_len(file, cap);
    }
    if cfg.line {
        n += 25;
    }
    if cfg.thread_names {
        n += 16 + std::thread::current().name().map_or(30, esc_len);
    }
    if cfg.thread_ids {
        n += 40;
    }
    n + 2
}

pub(super) fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

pub(super) fn to_serde(j: &J) -> serde_json::Value {
    use serde_json::Value as V;
    match j {
        J::Null => V::Null,
        J::Bool(b) => V::Bool(*b),
        J::Num(n) => serde_json::from_str(n).unwrap_or(V::Null),
        J::Str(s) => V::String(s.clone()),
        J::Arr(a) => V::Array(a.iter().map(to_serde).collect()),
        J::Obj(m) => V::Object(m.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect()),
    }
}
