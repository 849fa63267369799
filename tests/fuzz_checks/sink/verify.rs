//! Target `sink`: the output, line by line, against what was submitted:
//! records, truncations, drop reports and cut lines; exact accounting of
//! the reports; the queue's bounds while the writer was held; flushes.

use super::*;

#[derive(Debug)]
pub(super) struct Bounds {
    pub(super) capacity: usize,
    pub(super) budget: usize,
    pub(super) max_record: usize,
    pub(super) overflow: OverflowPick,
    /// The final flushes returned `true`: every drop is said in-band.
    pub(super) settled: bool,
}

/// What a line of the output is.
pub(super) enum Line {
    Record(u32),
    Truncated(u32),
    Report([u64; REASONS]),
    Cut(Option<u32>),
}

pub(super) fn verify(
    cfg: &Bounds,
    all: &Outcome,
    holds: &[HoldPoint],
    w: &WriterState,
    stats: &Stats,
    sum: &mut Summary,
    problems: &mut Vec<String>,
) {
    let subs: HashMap<u32, &Sub> = all.subs.iter().map(|s| (s.id, s)).collect();

    // Accounting at the end.
    if stats.submitted != all.subs.len() as u64 {
        problems.push(format!(
            "{} submits, {} counted as submitted",
            all.subs.len(),
            stats.submitted
        ));
    }
    if stats.submitted != stats.written + stats.dropped.total() || stats.in_flight != 0 {
        problems.push("after the worker ended, submitted != written + dropped".into());
    }
    let mut errs: HashMap<&'static str, u64> = HashMap::new();
    for s in &all.subs {
        if let Err(r) = s.result {
            *errs.entry(r.as_str()).or_default() += 1;
            if r == DropReason::Shed && s.level <= Level::WARN {
                problems.push(format!("#{} at {} was shed", s.id, s.level));
            }
            let len = s.bytes.len() + usize::from(s.bytes.last() != Some(&b'\n'));
            if r == DropReason::Oversize && len <= cfg.max_record {
                problems.push(format!("#{} ({len} bytes) dropped as oversize", s.id));
            }
        }
    }
    for r in DropReason::ALL {
        let told = errs.get(r.as_str()).copied().unwrap_or(0);
        if stats.dropped.get(r) < told {
            problems.push(format!(
                "{told} submits returned {}, {} counted",
                r.as_str(),
                stats.dropped.get(r)
            ));
        }
    }

    // Every line of the output. A sink that had not settled when its guard
    // was dropped may have had a batch cut by the shutdown deadline, between
    // two writes of a slow writer: with only the sink's own lines in it (a
    // report), no record is counted `shutdown` to show it
    // (regressions/sink/crash-cc9d9c...).
    let may_cut = w.failed || stats.dropped.shutdown > 0 || !cfg.settled;
    let mut lines: Vec<(&[u8], Line)> = Vec::new();
    let mut rest = &w.out[..];
    while !rest.is_empty() {
        let end = rest.iter().position(|b| *b == b'\n');
        let (line, terminated) = match end {
            Some(e) => (&rest[..=e], true),
            None => (rest, false),
        };
        rest = &rest[line.len()..];
        match classify(line, terminated, &subs, cfg, may_cut) {
            Ok(kind) => lines.push((line, kind)),
            Err(e) => problems.push(format!(
                "{e}: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(300)])
            )),
        }
    }
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut whole = 0u64;
    let mut reported = [0u64; REASONS];
    let mut cut_bytes = 0usize;
    for (line, kind) in &lines {
        let id = match kind {
            Line::Record(id) => {
                whole += 1;
                Some(*id)
            }
            Line::Truncated(id) => {
                whole += 1;
                sum.truncated_lines += 1;
                Some(*id)
            }
            Line::Report(r) => {
                sum.reports += 1;
                for i in 0..REASONS {
                    reported[i] += r[i];
                }
                None
            }
            Line::Cut(id) => {
                sum.cut_lines += 1;
                cut_bytes += line.len() - usize::from(line.last() == Some(&b'\n'));
                *id
            }
        };
        if let Some(id) = id {
            *seen.entry(id).or_default() += 1;
            if let Some(s) = subs.get(&id) {
                if let Err(r) = s.result {
                    problems.push(format!(
                        "#{id} is in the output, but its submit returned Err({})",
                        r.as_str()
                    ));
                }
            }
        }
        // The sink's own reports are not held to max_record (nor is what a
        // failing writer took of one).
        if !matches!(kind, Line::Report(_) | Line::Cut(None)) && line.len() > cfg.max_record {
            problems.push(format!(
                "a line of {} bytes, over max_record ({})",
                line.len(),
                cfg.max_record
            ));
        }
    }
    for (id, n) in &seen {
        if *n > 1 {
            problems.push(format!("#{id} appears {n} times"));
        }
    }
    let empty = all
        .subs
        .iter()
        .filter(|s| s.bytes.is_empty() && s.result.is_ok())
        .count() as u64;
    // Exact: a record the writer took all of but its newline before it
    // failed for good is written (the sink's next byte is that newline, or
    // nothing: it is the last line).
    if stats.written != whole + empty {
        problems.push(format!(
            "written = {}, but the output holds {whole} records (and {empty} empty ones were submitted)",
            stats.written
        ));
    }
    if !may_cut && cut_bytes == 0 && stats.bytes_written != w.out.len() as u64 {
        problems.push(format!(
            "bytes_written = {}, but the writer took {} bytes",
            stats.bytes_written,
            w.out.len()
        ));
    }
    if stats.bytes_written > w.out.len() as u64 {
        problems.push(format!(
            "bytes_written = {}, more than the writer took ({})",
            stats.bytes_written,
            w.out.len()
        ));
    }
    // Every drop is said once: a report whose line is in the output is
    // never repeated by the next one, and once the sink settled (the final
    // flushes succeeded) every drop was said.
    for (i, r) in DropReason::ALL.iter().enumerate() {
        let counted = stats.dropped.get(*r);
        if reported[i] > counted || (cfg.settled && reported[i] != counted) {
            problems.push(format!(
                "reports claim {} dropped as {}, {} counted",
                reported[i],
                r.as_str(),
                stats.dropped.get(*r)
            ));
        }
    }

    // The queue while the writer was held: what was accepted and first
    // handed to the writer only after the release was in the queue then.
    // The byte budget bounds them all; the capacity, each thread's lane
    // (producer `i` of every phase is the same pooled thread).
    for h in holds {
        let mut bytes = 0;
        let mut records = [0usize; MAX_THREADS];
        for id in &h.accepted {
            if let (Some((call, line)), Some(s)) = (w.offered.get(id), subs.get(id)) {
                if *call > h.call {
                    bytes += line.len();
                    records[s.lane] += 1;
                }
            }
        }
        sum.holds_checked += 1;
        sum.max_queued_bytes = sum.max_queued_bytes.max(bytes);
        let most = records.iter().copied().max().unwrap_or(0);
        if bytes > cfg.budget || most > cfg.capacity {
            problems.push(format!(
                "while the writer was held, {records:?} records (per lane) of {bytes} bytes \
                 were queued (capacity {} per lane, byte budget {})",
                cfg.capacity, cfg.budget
            ));
        }
    }

    // A flush that returned true got its caller's records out.
    if cfg.overflow != OverflowPick::DropOldest {
        let mut at: HashMap<u32, usize> = HashMap::new();
        let mut pos = 0;
        for (line, kind) in &lines {
            pos += line.len();
            if let Line::Record(id) | Line::Truncated(id) = kind {
                at.insert(*id, pos);
            }
        }
        for f in &all.flushed {
            sum.flushes_checked += 1;
            // Written by the time it returned, or lost before the worker
            // took the request ("records dropped before the call do not
            // make it false"): never written at all, and no more of them
            // than were lost by the time it returned.
            let mut missing = 0;
            for id in &f.ids {
                match at.get(id) {
                    Some(end) if *end <= f.out_len => {}
                    Some(_) => problems.push(format!(
                        "flush() returned true, but #{id}, submitted before it, was written only after"
                    )),
                    None => missing += 1,
                }
            }
            if missing > f.lost_by {
                problems.push(format!(
                    "flush() returned true, but {missing} records submitted before it were never \
                     written, and only {} had been lost when it returned",
                    f.lost_by
                ));
            }
        }
    }
}

/// Says what one line of the output is, or why it is none of them.
/// `may_cut`: the writer failed, or a batch was given up at shutdown, so a
/// line the writer took only part of may be there, ended by the sink's
/// newline (or last, unended).
pub(super) fn classify(
    line: &[u8],
    terminated: bool,
    subs: &HashMap<u32, &Sub>,
    cfg: &Bounds,
    may_cut: bool,
) -> Result<Line, String> {
    if !terminated && may_cut {
        // The last line, all of it but its newline: whole, and counted so.
        let mut ended = line.to_vec();
        ended.push(b'\n');
        if let Ok(kind @ (Line::Record(_) | Line::Truncated(_) | Line::Report(_))) =
            classify(&ended, true, subs, cfg, may_cut)
        {
            return Ok(kind);
        }
    }
    let ids = markers(line);
    let body = if terminated {
        &line[..line.len() - 1]
    } else {
        line
    };
    let sub = match ids[..] {
        [(_, id)] => subs.get(&id).copied(),
        _ => None,
    };
    if let Some(s) = sub {
        let mut queued = s.bytes.clone();
        if queued.last() != Some(&b'\n') {
            queued.push(b'\n');
        }
        if line == &queued[..] {
            return Ok(Line::Record(s.id));
        }
        if terminated && queued.len() > cfg.max_record {
            if let Some(r) = truncated(line, &queued, s.id, cfg) {
                return r.map(|()| Line::Truncated(s.id));
            }
        }
        if may_cut && is_cut(body, &queued) {
            return Ok(Line::Cut(Some(s.id)));
        }
    }
    if ids.is_empty() && terminated && line.starts_with(b"{\"timestamp\":\"") {
        if let Some(r) = report(line) {
            return Ok(Line::Report(r));
        }
    }
    if may_cut {
        // Cut inside or before its id, or a report or truncation record
        // cut short.
        let start = b"{\"timestamp\":\"";
        let cut = start.starts_with(body)
            || body.starts_with(start)
            || subs.values().any(|s| is_cut(body, &s.bytes));
        if cut {
            return Ok(Line::Cut(sub.map(|s| s.id)));
        }
    }
    Err(if may_cut {
        "a line that is no record, truncation, report or cut record".into()
    } else {
        "a line that is no record, truncation or report (nothing may be cut: the writer never \
         failed, no batch was given up)"
            .into()
    })
}

/// `body` is what a writer that failed took of `queued` (a record, or its
/// text truncation): a strict prefix.
pub(super) fn is_cut(body: &[u8], queued: &[u8]) -> bool {
    if body.len() < queued.len() && queued.starts_with(body) {
        return true;
    }
    // A cut text truncation: a prefix of the record, then of the marker.
    let marker = "…[truncated]".as_bytes();
    (0..=body.len()).rev().take(marker.len() + 1).any(|k| {
        queued.starts_with(&body[..k])
            && k < queued.len()
            && marker.starts_with(&body[k..])
            && k < body.len()
    })
}

/// The sink's stand-in for a record over `max_record`: `Some(Ok)` when
/// `line` is one for `queued`, `Some(Err)` when it looks like one but is
/// wrong, `None` when it is not one.
pub(super) fn truncated(
    line: &[u8],
    queued: &[u8],
    id: u32,
    cfg: &Bounds,
) -> Option<Result<(), String>> {
    if line.len() > cfg.max_record {
        return Some(Err(format!("#{id}'s truncation is over max_record")));
    }
    if queued.first() == Some(&b'{') {
        let v: serde_json::Value = serde_json::from_slice(line).ok()?;
        let f = &v["fields"];
        if f["message"] != "record truncated" || v["target"] != "layer_safe" {
            return None;
        }
        let prefix = f["record_prefix"].as_str().unwrap_or("");
        let ok = f["record_len"] == queued.len()
            && f["max_record"] == cfg.max_record
            && String::from_utf8_lossy(queued).starts_with(prefix);
        Some(if ok {
            Ok(())
        } else {
            Err(format!("#{id}'s JSON truncation does not match it"))
        })
    } else {
        let marker = "…[truncated]\n".as_bytes();
        let kept = line.strip_suffix(marker)?;
        let boundary = queued.get(kept.len()).map_or(true, |b| b & 0xC0 != 0x80);
        Some(if queued.starts_with(kept) && boundary {
            Ok(())
        } else {
            Err(format!(
                "#{id}'s text truncation is not a prefix cut at a character"
            ))
        })
    }
}

/// A drop report: the count per reason, in `DropReason::ALL` order.
pub(super) fn report(line: &[u8]) -> Option<[u64; REASONS]> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let f = v["fields"].as_object()?;
    if f.get("message")? != "events dropped" || v["target"] != "layer_safe" || v["level"] != "WARN"
    {
        return None;
    }
    let mut out = [0; REASONS];
    for (k, n) in f {
        if k == "message" {
            continue;
        }
        let i = DropReason::ALL.iter().position(|r| r.as_str() == k)?;
        out[i] = n.as_u64()?;
    }
    Some(out)
}
