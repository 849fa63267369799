//! Target `sink`: the scripted writer (what each `write` and `flush`
//! does, what it took, which call first handed over each record) and the
//! snapshot check it runs at every `write`.

use super::*;

/// What the writer saw, shared with the harness.
#[derive(Default)]
pub(super) struct WriterState {
    pub(super) out: Vec<u8>,
    pub(super) writes: VecDeque<WriteStep>,
    pub(super) flushes: VecDeque<FlushStep>,
    pub(super) failures: usize,
    /// `flush` calls that failed (an error or a panic).
    pub(super) flush_failures: usize,
    /// `write` calls so far.
    pub(super) calls: u64,
    /// Per id: the call that first handed its record to the writer, and
    /// the record as queued (its whole line).
    pub(super) offered: HashMap<u32, (u64, Vec<u8>)>,
    /// The next `write` blocks until `release`.
    pub(super) armed: bool,
    /// A `write` is blocked: the call's number.
    pub(super) blocked: Option<u64>,
    pub(super) release: bool,
    /// The writer failed (an error, `Ok(0)`, a panic): lines may be cut.
    pub(super) failed: bool,
    /// Dropped: the worker thread has ended.
    pub(super) dropped: bool,
    pub(super) last: Option<Stats>,
    pub(super) problems: Vec<String>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<WriterState>,
    pub(super) cv: Condvar,
    pub(super) sink: OnceLock<Sink>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sink's writer: does what the script says and keeps what it took.
pub(super) struct Writer(pub(super) Arc<Shared>);

/// An error whose `Display` panics.
#[derive(Debug)]
pub(super) struct NastyError;

impl std::fmt::Display for NastyError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        deliberate_panic("an io::Error's Display panicked".to_owned())
    }
}

impl std::error::Error for NastyError {}

/// A panic payload whose destructor panics.
pub(super) struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            deliberate_panic("a panic payload's destructor panicked");
        }
    }
}

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let shared = &*self.0;
        let mut s = shared.lock();
        s.calls += 1;
        let call = s.calls;
        if let Some(sink) = shared.sink.get() {
            let stats = sink.stats();
            let st: &mut WriterState = &mut s;
            check_snapshot(&mut st.problems, st.last.as_ref(), &stats, "the writer");
            st.last = Some(stats);
        }
        // Which records this call hands over for the first time: each
        // first appears with its whole line (a later call only gets the
        // rest of a line an earlier one began).
        for (at, id) in markers(buf) {
            if s.offered.contains_key(&id) {
                continue;
            }
            let start = buf[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let end = buf[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(buf.len(), |p| at + p + 1);
            s.offered.insert(id, (call, buf[start..end].to_vec()));
        }
        if std::mem::take(&mut s.armed) {
            s.blocked = Some(call);
            shared.cv.notify_all();
            while !s.release {
                s = shared.cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.release = false;
            s.blocked = None;
        }
        let mut step = s.writes.pop_front().unwrap_or(WriteStep::All);
        if let WriteStep::PartThenFail(n) = step {
            if s.failures + 3 <= MAX_FAILURES {
                for _ in 0..3 {
                    s.writes.push_front(WriteStep::Error(ErrorPick::Other));
                }
            }
            step = WriteStep::Part(n);
        }
        if matches!(
            step,
            WriteStep::Error(_) | WriteStep::Zero | WriteStep::Panic | WriteStep::PanicBomb
        ) {
            if s.failures >= MAX_FAILURES {
                step = WriteStep::All;
            } else {
                s.failures += 1;
                s.failed = true;
            }
        }
        match step {
            WriteStep::All => {
                s.out.extend_from_slice(buf);
                Ok(buf.len())
            }
            WriteStep::Part(n) | WriteStep::PartThenFail(n) => {
                let k = if buf.is_empty() {
                    0
                } else {
                    1 + usize::from(n) % buf.len()
                };
                s.out.extend_from_slice(&buf[..k]);
                Ok(k)
            }
            WriteStep::Stall(ms) => {
                drop(s);
                std::thread::sleep(TICK + ticks(ms, 3));
                shared.lock().out.extend_from_slice(buf);
                Ok(buf.len())
            }
            WriteStep::Interrupted => Err(io::ErrorKind::Interrupted.into()),
            WriteStep::Zero => Ok(0),
            WriteStep::Error(e) => Err(match e {
                ErrorPick::BrokenPipe => io::ErrorKind::BrokenPipe.into(),
                ErrorPick::WouldBlock => io::ErrorKind::WouldBlock.into(),
                ErrorPick::Other => io::Error::other("the disk is on fire"),
                ErrorPick::DisplayPanics => io::Error::other(NastyError),
            }),
            WriteStep::Panic => {
                drop(s);
                deliberate_panic("the writer exploded".to_owned())
            }
            WriteStep::PanicBomb => {
                drop(s);
                deliberate_panic(DropBomb)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let step = {
            let mut s = self.0.lock();
            let step = s.flushes.pop_front().unwrap_or(FlushStep::Ok);
            if !matches!(step, FlushStep::Ok) {
                s.flush_failures += 1;
            }
            step
        };
        match step {
            FlushStep::Ok => Ok(()),
            FlushStep::Error => Err(io::Error::other("flush failed")),
            FlushStep::Panic => deliberate_panic("the writer's flush exploded".to_owned()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.dropped = true;
        self.0.cv.notify_all();
    }
}

/// Checks one stats snapshot, and that no counter went down since `prev`.
pub(super) fn check_snapshot(
    problems: &mut Vec<String>,
    prev: Option<&Stats>,
    s: &Stats,
    who: &str,
) {
    let done = s.written + s.dropped.total();
    if s.submitted < done {
        problems.push(format!(
            "{who}'s snapshot: submitted {} < written {} + dropped {}: {s:?}",
            s.submitted,
            s.written,
            s.dropped.total()
        ));
    }
    if s.in_flight != s.submitted.saturating_sub(done) {
        problems.push(format!(
            "{who}'s snapshot: in_flight is not submitted - done: {s:?}"
        ));
    }
    if let Some(p) = prev {
        let down = p.submitted > s.submitted
            || p.written > s.written
            || p.bytes_written > s.bytes_written
            || DropReason::ALL
                .iter()
                .any(|r| p.dropped.get(*r) > s.dropped.get(*r));
        if down {
            problems.push(format!("{who}'s snapshots went down: {p:?} then {s:?}"));
        }
    }
}
