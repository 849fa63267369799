//! Shared setup of the benches: the standard event, the systems under test
//! (layer-safe and its anchors, each writing to a temporary file), and a
//! writer that counts the lines it got out, so that a bench can wait until a
//! system's queue is empty before it measures again.
//!
//! Why the waiting: every system here hands records to a bounded queue and a
//! writer thread. A caller that runs faster than the writer fills the queue,
//! and from then on a bench measures the cost of *dropping* (or blocking),
//! not of logging. So the caller benches emit in batches ([`System::batch`]:
//! 1 000 events, or 100 for slog-async, whose queue holds 128), time only the
//! batch, then wait, untimed, until the writer has written every line of it.
//! Every system is thus measured with room in its queue, and each bench
//! prints how many lines it wrote and dropped so this can be checked.
#![allow(dead_code)] // each bench binary uses its own part of this module

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tracing::Dispatch;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

/// Events per timed batch, for queues of 64 Ki records and more.
pub const BATCH: u64 = 1_000;
/// Events per timed batch for slog-async, whose channel holds 128.
pub const SMALL_BATCH: u64 = 100;
/// How long to wait for a writer to catch up before calling lines lost.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The filter every tracing-based system uses, so they do the same work.
pub const FILTER: &str = "info";

/// A line of the shape layer-safe and `fmt().json()` write for the standard
/// event (242 bytes): the floor hands over a copy of it.
pub const LINE: &[u8] = br#"{"timestamp":"2026-11-28T22:09:42.123456Z","level":"INFO","fields":{"message":"request handled","user_id":42,"path":"/api/v1/items","latency_ms":3.5,"ok":true},"target":"caller","span":{"method":"GET","name":"request"},"spans":[{"method":"GET","name":"request"}]}
"#;

/// Short runs: the whole suite must fit in about ten minutes on two cores.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`),
/// not as a smoke test (`cargo test --benches`): the one-shot measurements
/// outside criterion run only then.
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The standard event: INFO, four fields and a message.
#[inline(always)]
pub fn standard_event() {
    tracing::info!(
        user_id = 42u64,
        path = "/api/v1/items",
        latency_ms = 3.5f64,
        ok = true,
        "request handled"
    );
}

/// Runs `f` with `dispatch` as this thread's default, inside the standard
/// span (`request`, `method = "GET"`), entered.
pub fn in_span<R>(dispatch: &Dispatch, f: impl FnOnce() -> R) -> R {
    tracing::dispatcher::with_default(dispatch, || {
        let span = tracing::info_span!("request", method = "GET");
        let _entered = span.enter();
        f()
    })
}

/// Lines a [`Counted`] writer got out, shared with the bench.
#[derive(Clone, Default)]
pub struct Lines(Arc<AtomicU64>);

impl Lines {
    pub fn get(&self) -> u64 {
        self.0.load(Acquire)
    }

    /// Waits until at least `target` lines are written; `false` on timeout.
    pub fn wait_for(&self, target: u64, timeout: Duration) -> bool {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.get() < target {
            if start.elapsed() > timeout {
                return false;
            }
            // Yield first (a healthy writer is microseconds away), then
            // sleep, so a slow writer does not compete with a busy loop.
            if spins < 1000 {
                spins += 1;
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        true
    }
}

/// Times `iters` calls of `event` in batches of [`BATCH`], waiting, untimed,
/// after each until the writer has every line: what the caller pays with
/// room in the queue. `expected` is the line count to wait for, carried
/// across criterion's calls (lines lost to a drop are not waited for).
pub fn timed_batches(
    lines: &Lines,
    expected: &mut u64,
    iters: u64,
    mut event: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let t0 = Instant::now();
        for _ in 0..n {
            event();
        }
        total += t0.elapsed();
        left -= n;
        *expected += n;
        if !lines.wait_for(*expected, DRAIN_TIMEOUT) {
            *expected = lines.get();
        }
    }
    total
}

/// A writer that counts the newlines that got through it.
pub struct Counted<W> {
    inner: W,
    lines: Lines,
}

impl<W> Counted<W> {
    pub fn new(inner: W) -> (Counted<W>, Lines) {
        let lines = Lines::default();
        (
            Counted {
                inner,
                lines: lines.clone(),
            },
            lines,
        )
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        self.lines.0.fetch_add(lines as u64, Release);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A fresh log file in a temporary directory that lives as long as the value.
pub struct LogFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl LogFile {
    pub fn new(name: &str) -> LogFile {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join(name);
        LogFile { dir, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, opened for appending, behind a line counter.
    pub fn open(&self) -> (Counted<File>, Lines) {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&self.path)
            .expect("the log file");
        Counted::new(file)
    }

    /// Lines in the file that hold `needle` (the events, not in-band reports).
    pub fn count(&self, needle: &str) -> u64 {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).count() as u64
    }
}

/// One system under test: layer-safe, an anchor, or the floor.
pub trait System: Sync {
    /// Its name in the bench ids and the tables.
    fn name(&self) -> &'static str;
    /// Runs `f` on this thread with the system installed and, for the
    /// tracing-based ones, inside the standard span.
    fn scope<R>(&self, f: impl FnOnce() -> R) -> R;
    /// Logs the standard event once (inside `scope`).
    fn emit(&self);
    /// The lines its writer got out.
    fn lines(&self) -> &Lines;
    /// Events it says it dropped, when it counts them.
    fn dropped(&self) -> Option<u64>;
    /// Events per timed batch: well within its queue.
    fn batch(&self) -> u64 {
        BATCH
    }
    /// The dispatch of a tracing-based system, to install as the global
    /// default (the sustained bench measures it the way a service runs).
    fn dispatch(&self) -> Option<&Dispatch> {
        None
    }
}

/// layer-safe, the drop-in builder, to a file.
pub struct LayerSafe {
    pub dispatch: Dispatch,
    pub guard: layer_safe::FlushGuard,
    lines: Lines,
    pub file: LogFile,
}

impl LayerSafe {
    pub fn new() -> LayerSafe {
        Self::with_writer(|w| Box::new(w))
    }

    /// With the file writer wrapped by `wrap` (the stall bench's gate).
    pub fn with_writer(wrap: impl FnOnce(Counted<File>) -> Box<dyn Write + Send>) -> LayerSafe {
        let file = LogFile::new("layer-safe.log");
        let (w, lines) = file.open();
        let (dispatch, guard) = layer_safe::builder()
            .filter(FILTER)
            .writer(wrap(w))
            .build()
            .expect("layer-safe builds");
        LayerSafe {
            dispatch,
            guard,
            lines,
            file,
        }
    }
}

impl System for LayerSafe {
    fn name(&self) -> &'static str {
        "layer_safe"
    }
    fn dispatch(&self) -> Option<&Dispatch> {
        Some(&self.dispatch)
    }
    fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        in_span(&self.dispatch, f)
    }
    #[inline(always)]
    fn emit(&self) {
        standard_event();
    }
    fn lines(&self) -> &Lines {
        &self.lines
    }
    fn dropped(&self) -> Option<u64> {
        Some(self.guard.stats().dropped.total())
    }
}

/// `tracing_subscriber::fmt().json()` + `tracing_appender::non_blocking`
/// (128 000 lines; lossy by default), to a file.
pub struct FmtJson {
    pub dispatch: Dispatch,
    guard: Option<WorkerGuard>,
    errors: ErrorCounter,
    lines: Lines,
    lossy: bool,
    _file: LogFile,
}

impl FmtJson {
    pub fn new(lossy: bool) -> FmtJson {
        Self::with_writer(lossy, |w| Box::new(w))
    }

    /// With the file writer wrapped by `wrap` (the stall bench's gate).
    pub fn with_writer(
        lossy: bool,
        wrap: impl FnOnce(Counted<File>) -> Box<dyn Write + Send>,
    ) -> FmtJson {
        let file = LogFile::new("fmt-json.log");
        let (w, lines) = file.open();
        let (nb, guard) = NonBlockingBuilder::default().lossy(lossy).finish(wrap(w));
        let errors = nb.error_counter();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(FILTER))
            .with_writer(nb)
            .finish();
        FmtJson {
            dispatch: Dispatch::new(subscriber),
            guard: Some(guard),
            errors,
            lines,
            lossy,
            _file: file,
        }
    }

    /// Drops the worker guard: flushes what is queued (within 1 s).
    pub fn shut_down(&mut self) {
        self.guard.take();
    }
}

impl System for FmtJson {
    fn name(&self) -> &'static str {
        if self.lossy {
            "fmt_json"
        } else {
            "fmt_json_lossless"
        }
    }
    fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        in_span(&self.dispatch, f)
    }
    fn dispatch(&self) -> Option<&Dispatch> {
        Some(&self.dispatch)
    }
    #[inline(always)]
    fn emit(&self) {
        standard_event();
    }
    fn lines(&self) -> &Lines {
        &self.lines
    }
    fn dropped(&self) -> Option<u64> {
        Some(self.errors.dropped_lines() as u64)
    }
}

/// `slog` + `slog-json` + `slog-async` (`DropAndReport`, 128 slots), to a
/// file. The JSON drain writes through a `BufWriter` flushed per record, so
/// each record is one `write(2)`, as with `tracing-appender`.
pub struct Slog {
    pub logger: slog::Logger,
    guard: Option<slog_async::AsyncGuard>,
    lines: Lines,
    _file: LogFile,
}

impl Slog {
    pub fn new() -> Slog {
        Self::with_writer(|w| Box::new(w))
    }

    pub fn with_writer(wrap: impl FnOnce(Counted<File>) -> Box<dyn Write + Send>) -> Slog {
        use slog::Drain;
        let file = LogFile::new("slog.log");
        let (w, lines) = file.open();
        let json = slog_json::Json::new(BufWriter::new(wrap(w)))
            .set_flush(true)
            .add_default_keys()
            .build()
            .fuse();
        let (drain, guard) = slog_async::Async::new(json).build_with_guard();
        let root = slog::Logger::root(drain.fuse(), slog::o!());
        // slog has no spans: the span's fields are the logger's context.
        let logger = root.new(slog::o!("span" => "request", "method" => "GET"));
        Slog {
            logger,
            guard: Some(guard),
            lines,
            _file: file,
        }
    }

    pub fn shut_down(&mut self) {
        self.guard.take();
    }
}

impl System for Slog {
    fn name(&self) -> &'static str {
        "slog_async"
    }
    fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
    #[inline(always)]
    fn emit(&self) {
        slog::info!(self.logger, "request handled";
            "user_id" => 42u64,
            "path" => "/api/v1/items",
            "latency_ms" => 3.5f64,
            "ok" => true);
    }
    fn lines(&self) -> &Lines {
        &self.lines
    }
    fn dropped(&self) -> Option<u64> {
        None // reported in-band only
    }
    fn batch(&self) -> u64 {
        SMALL_BATCH
    }
}

/// The floor: a pre-rendered line, copied into a `Vec<u8>`, handed over
/// with `crossbeam_channel::Sender::try_send` to a thread that writes each
/// line with one `write(2)`.
pub struct Floor {
    tx: Option<crossbeam_channel::Sender<Vec<u8>>>,
    dropped: AtomicU64,
    thread: Option<JoinHandle<()>>,
    lines: Lines,
    file: LogFile,
}

/// The floor's queue: layer-safe's default capacity.
pub const FLOOR_CAPACITY: usize = 64 * 1024;

impl Floor {
    pub fn new() -> Floor {
        Self::with_writer(|w| Box::new(w))
    }

    pub fn with_writer(wrap: impl FnOnce(Counted<File>) -> Box<dyn Write + Send>) -> Floor {
        let file = LogFile::new("floor.log");
        let (w, lines) = file.open();
        let mut w = wrap(w);
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(FLOOR_CAPACITY);
        let thread = std::thread::spawn(move || {
            for line in rx {
                let _ = w.write_all(&line);
            }
        });
        Floor {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
            thread: Some(thread),
            lines,
            file,
        }
    }

    /// Hands over one line; counts it if the queue is full.
    #[inline(always)]
    pub fn send(&self, line: &[u8]) {
        if let Some(tx) = &self.tx {
            if tx.try_send(line.to_vec()).is_err() {
                self.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Closes the queue and waits until the writer thread wrote all of it.
    pub fn shut_down(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn file(&self) -> &LogFile {
        &self.file
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl System for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }
    fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
    #[inline(always)]
    fn emit(&self) {
        self.send(LINE);
    }
    fn lines(&self) -> &Lines {
        &self.lines
    }
    fn dropped(&self) -> Option<u64> {
        Some(self.dropped.load(Relaxed))
    }
}

/// Where the benches leave the figures that `scripts/bench-table` reads:
/// `$CARGO_TARGET_DIR/bench-table` (criterion's own results are under
/// `.../criterion`).
pub fn results_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    let dir = PathBuf::from(target).join("bench-table");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Writes one bench's one-shot figures as JSON for the table.
pub fn save(name: &str, value: &serde_json::Value) {
    let path = results_dir().join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).expect("JSON");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
