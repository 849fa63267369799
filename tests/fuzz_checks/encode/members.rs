//! Target `encode`: each member's value against the value given (numbers
//! exact, floats bit for bit, strings and their cut markers, failure
//! markers, error sources, bytes).

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Event,
    Span,
}

/// An expected member: (key base, the field's value, whether it is an
/// error's `.sources`).
pub(super) type Expected = (String, FVal, bool);

pub(super) fn has_source(v: &FVal) -> bool {
    matches!(v, FVal::Error(e) if e.source_panics.is_none() && !matches!(e.next, ErrNext::None))
}

/// The event's members, in order: `log.*` fields are not shown; a record
/// cut down keeps only `message`.
pub(super) fn event_members(ev: &Emitted, cut_down: bool) -> Vec<Expected> {
    let mut out = Vec::new();
    for (i, v) in &ev.fields {
        let name = NAMES[*i];
        if name.starts_with("log.") || (cut_down && name != "message") {
            continue;
        }
        out.push((name.to_owned(), v.clone(), false));
        if has_source(v) && !cut_down {
            out.push((format!("{name}.sources"), v.clone(), true));
        }
    }
    out
}

/// A span's members as the layer caches them: sorted by (name without
/// `r#`, suffix, field index), ties in the order recorded.
pub(super) fn span_members(span: &SpanModel) -> Vec<Expected> {
    let mut entries: Vec<(&str, &str, usize, &FVal)> = Vec::new();
    for (i, v) in &span.entries {
        let name = NAMES[*i];
        let name = name.strip_prefix("r#").unwrap_or(name);
        entries.push((name, "", *i, v));
        if has_source(v) {
            entries.push((name, ".sources", *i, v));
        }
    }
    entries.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    entries
        .into_iter()
        .map(|(name, suffix, _, v)| (format!("{name}{suffix}"), v.clone(), !suffix.is_empty()))
        .collect()
}

pub(super) fn check_span_obj(got: &J, span: &SpanModel, sum: &mut Summary) -> Result<(), String> {
    let J::Obj(members) = got else {
        return Err(format!("not an object: {got:?}"));
    };
    let mut m = Members { m: members, at: 0 };
    check_members(&mut m, &span_members(span), Style::Span, sum)?;
    let name = m.expect("name", "the span's name")?;
    if *name != J::Str(span.meta.name().into()) {
        return Err(format!("span name {name:?}"));
    }
    if m.at != members.len() {
        return Err(format!("extra span members: {:?}", &members[m.at..]));
    }
    Ok(())
}

pub(super) fn check_members(
    m: &mut Members<'_>,
    expected: &[Expected],
    style: Style,
    sum: &mut Summary,
) -> Result<(), String> {
    for (base, v, sources) in expected {
        let got = m.expect(base, "a field")?;
        let r = if *sources {
            check_sources(got, v, sum)
        } else {
            check_value(got, v, style, sum)
        };
        r.map_err(|e| format!("field {base:?} = {v:?}: {e}"))?;
        sum.values_checked += 1;
    }
    Ok(())
}

pub(super) fn check_value(
    got: &J,
    v: &FVal,
    style: Style,
    sum: &mut Summary,
) -> Result<(), String> {
    let num = |want: String| {
        if *got == J::Num(want.clone()) {
            Ok(())
        } else {
            Err(format!("got {got:?}, expected {want}"))
        }
    };
    let digits = |want: String, fits: bool| {
        let ok = if fits {
            *got == J::Num(want.clone())
        } else {
            *got == J::Str(want.clone())
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "got {got:?}, expected {want} as a {}",
                if fits { "number" } else { "string" }
            ))
        }
    };
    match v {
        FVal::U64(x) => num(x.to_string()),
        FVal::I64(x) => num(x.to_string()),
        FVal::U128(x) => digits(x.to_string(), u64::try_from(*x).is_ok()),
        FVal::I128(x) => digits(x.to_string(), i64::try_from(*x).is_ok()),
        FVal::F64(x) => check_f64(got, *x),
        FVal::F64Special(k) => check_f64(got, special_float(*k)),
        FVal::Bool(b) => {
            if *got == J::Bool(*b) {
                Ok(())
            } else {
                Err(format!("got {got:?}"))
            }
        }
        FVal::Str(s) | FVal::DisplayStr(s) => check_str(got, &s.materialize(), sum),
        FVal::DebugStr(s) => check_str(got, &format!("{:?}", s.materialize()), sum),
        FVal::Debug(spec) | FVal::Display(spec) => check_fmt(got, spec, "Debug", sum),
        FVal::Error(spec) => check_fmt(got, &spec.display, "Display", sum),
        FVal::Bytes(b) => match style {
            Style::Event => check_hex(got, b, sum),
            Style::Span => check_byte_array(got, b, sum),
        },
    }
}

pub(super) fn check_f64(got: &J, x: f64) -> Result<(), String> {
    let ok = if x.is_nan() {
        *got == J::Str("NaN".into())
    } else if x.is_infinite() {
        *got == J::Str(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        matches!(got, J::Num(n) if n.parse::<f64>().is_ok_and(|y| y.to_bits() == x.to_bits()))
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {got:?} for {x:?}"))
    }
}

/// Splits `…[truncated N bytes]` off the end.
pub(super) fn strip_marker(s: &str) -> Option<(&str, usize)> {
    let at = s.rfind("…[truncated ")?;
    let rest = s[at + "…[truncated ".len()..].strip_suffix(" bytes]")?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&s[..at], rest.parse().ok()?))
}

/// `got` is the string `full`, or a prefix of it cut with a marker naming
/// the bytes left out.
pub(super) fn check_str(got: &J, full: &str, sum: &mut Summary) -> Result<(), String> {
    let J::Str(s) = got else {
        return Err(format!("not a string: {got:?}"));
    };
    if s == full {
        return Ok(());
    }
    match strip_marker(s) {
        Some((prefix, n))
            if full.starts_with(prefix) && n > 0 && n == full.len() - prefix.len() =>
        {
            sum.truncated_values += 1;
            Ok(())
        }
        _ => Err(format!(
            "the string does not round-trip: got {} bytes {:?}, expected {} bytes {:?}",
            s.len(),
            clip(s),
            full.len(),
            clip(full)
        )),
    }
}

pub(super) fn clip(s: &str) -> String {
    if s.len() <= 200 {
        return s.to_owned();
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The `Debug`/`Display` of a [`FmtSpec`], or its failure marker.
pub(super) fn check_fmt(
    got: &J,
    spec: &FmtSpec,
    what: &str,
    sum: &mut Summary,
) -> Result<(), String> {
    let full: String = spec
        .chunks
        .iter()
        .take(MAX_CHUNKS)
        .map(FStr::materialize)
        .collect();
    match &spec.end {
        FmtEnd::Ok => check_str(got, &full, sum),
        FmtEnd::Err => {
            sum.fmt_markers += 1;
            let want = format!("<{what} failed>");
            if *got == J::Str(want.clone()) {
                Ok(())
            } else {
                Err(format!("got {got:?}, expected {want:?}"))
            }
        }
        FmtEnd::Panic(kind) => {
            sum.fmt_markers += 1;
            let msg = match kind {
                PanicKind::Message(m) => m.materialize(),
                PanicKind::Static => STATIC_PANIC.to_owned(),
                PanicKind::Opaque | PanicKind::DropPanics => "(no message)".to_owned(),
            };
            let head = format!("<{what} panicked: ");
            let inner = match got {
                J::Str(s) => s.strip_prefix(&head).and_then(|s| s.strip_suffix('>')),
                _ => None,
            };
            let Some(inner) = inner else {
                return Err(format!("got {got:?}, expected {head}{msg:?}>"));
            };
            check_str(&J::Str(inner.to_owned()), &msg, sum)
                .map_err(|e| format!("panic message: {e}"))
        }
    }
}

/// An error's `.sources`: the `Display` of each source, outermost first,
/// at most 16, then `"...[more sources]"`.
pub(super) fn check_sources(got: &J, v: &FVal, sum: &mut Summary) -> Result<(), String> {
    let FVal::Error(top) = v else {
        return Err("not an error".into());
    };
    let J::Arr(items) = got else {
        return Err(format!("sources is {got:?}"));
    };
    let mut want: Vec<&ErrSpec> = Vec::new();
    let mut more = false;
    let mut depth = 0;
    let mut at = top;
    loop {
        // `at`'s source, as `FuzzError::source` gives it.
        if at.source_panics.is_some() {
            break;
        }
        let next = match &at.next {
            ErrNext::None => break,
            ErrNext::Cycle => at,
            ErrNext::Chain(n) if depth < MAX_ERROR_CHAIN => n,
            ErrNext::Chain(_) => break,
        };
        depth += 1;
        if want.len() == 16 {
            more = true;
            break;
        }
        want.push(next);
        at = next;
    }
    let n = want.len() + usize::from(more);
    if items.len() != n {
        return Err(format!(
            "{} sources listed, {n} expected: {items:?}",
            items.len()
        ));
    }
    for (item, spec) in items.iter().zip(&want) {
        check_fmt(item, &spec.display, "Display", sum)?;
    }
    if more && items.last() != Some(&J::Str("...[more sources]".into())) {
        return Err(format!("no more-sources marker: {items:?}"));
    }
    Ok(())
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Event bytes: `"[61 62]"`, or a prefix and a marker after the `]`.
pub(super) fn check_hex(got: &J, b: &[u8], sum: &mut Summary) -> Result<(), String> {
    let J::Str(s) = got else {
        return Err(format!("not a string: {got:?}"));
    };
    let shown = s
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(h, _)| if h.is_empty() { 0 } else { h.len().div_ceil(3) });
    let Some(k) = shown.filter(|k| *k <= b.len()) else {
        return Err(format!("not hex bytes: {s:?}"));
    };
    let mut want = format!("[{}]", hex(&b[..k]));
    if k < b.len() {
        want.push_str(&format!("…[truncated {} bytes]", b.len() - k));
        sum.truncated_values += 1;
    }
    if *s == want {
        Ok(())
    } else {
        Err(format!("got {s:?}, expected {want:?}"))
    }
}

/// Span bytes: an array of numbers, a marker string last if cut.
pub(super) fn check_byte_array(got: &J, b: &[u8], sum: &mut Summary) -> Result<(), String> {
    let J::Arr(items) = got else {
        return Err(format!("not an array: {got:?}"));
    };
    let cut = matches!(items.last(), Some(J::Str(_)));
    let k = items.len() - usize::from(cut);
    let mut want: Vec<J> = b.iter().take(k).map(|x| J::Num(x.to_string())).collect();
    if k < b.len() {
        want.push(J::Str(format!("…[truncated {} bytes]", b.len() - k)));
        sum.truncated_values += 1;
    }
    if *items == want {
        Ok(())
    } else {
        Err(format!("got {items:?}, expected {want:?}"))
    }
}
