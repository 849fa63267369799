//! [`Builder`]: the drop-in subscriber, configured.
//!
//! The stack it builds, innermost first: `Registry`, the user's own layers,
//! the `EnvFilter`, the JSON (or text) layer writing through the sink, all
//! inside one [`Guarded`](crate::Guarded) that shares its counters with the
//! sink, so one [`Stats`](crate::Stats) snapshot accounts for every event.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing_core::Dispatch;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::{reload, Registry};

use crate::encode::LineFormat;
use crate::error::InitError;
use crate::guarded::Guarded;
use crate::installed::{log_level, SwapFilter};
use crate::layer::{JsonLayer, JsonLayerBuilder};
use crate::lint::Policy;
use crate::sink::writers::Rotation;
use crate::sink::{FlushGuard, Overflow, SinkBuilder};

mod last_words;
mod ops;

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;
type JsonOptions = Box<dyn FnOnce(JsonLayerBuilder) -> JsonLayerBuilder>;

/// Where the records go.
enum Output {
    Stdout,
    Stderr,
    File(PathBuf),
    ByTime {
        dir: PathBuf,
        prefix: String,
        rotation: Rotation,
        keep: usize,
    },
    BySize {
        path: PathBuf,
        max_bytes: u64,
        keep: usize,
    },
    Custom(Box<dyn Write + Send>),
}

/// Where the filter comes from.
enum Filter {
    /// `RUST_LOG`, or `info` when it is unset or empty.
    FromEnv,
    Directives(String),
    /// Boxed: an `EnvFilter` is large, the other variants are a word or two.
    Built(Box<EnvFilter>),
}

/// Configures and installs layer-safe. Start with [`builder()`](crate::builder).
///
/// Every setting has a default that suits a service writing JSON to stdout;
/// see the README's configuration table. Invalid settings are reported by
/// [`build`](Self::build) and [`try_init`](Self::try_init) as an
/// [`InitError`], never by a panic later.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// let _guard = layer_safe::builder()
///     .filter("info,my_app=debug")
///     .rolling_by_size("/var/log/my-app/app.log", 100 * 1024 * 1024, 10)
///     .static_field("service", "checkout")
///     .flush_deadline(Duration::from_secs(2))
///     .init();
/// tracing::info!("started");
/// ```
#[must_use = "a builder does nothing until `init`, `try_init` or `build` is called"]
pub struct Builder {
    output: Output,
    format: LineFormat,
    ansi: Option<bool>,
    filter: Filter,
    sink: SinkBuilder,
    policy: Option<Policy>,
    json: Vec<JsonOptions>,
    layers: Vec<BoxedLayer>,
    log_bridge: bool,
    panic_hook: bool,
    filter_reloading: bool,
    /// Read only with the `compress` feature.
    compress: bool,
    #[cfg(feature = "metrics")]
    metrics_interval: Duration,
    last_words: last_words::LastWords,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            output: Output::Stdout,
            format: LineFormat::Json,
            ansi: None,
            filter: Filter::FromEnv,
            sink: SinkBuilder::default(),
            policy: None,
            json: Vec::new(),
            layers: Vec::new(),
            log_bridge: true,
            panic_hook: true,
            filter_reloading: false,
            compress: false,
            #[cfg(feature = "metrics")]
            metrics_interval: crate::metrics::DEFAULT_INTERVAL,
            last_words: Default::default(),
        }
    }
}

impl Builder {
    /// Writes to standard output (the default), buffered by the worker.
    ///
    /// ```
    /// let builder = layer_safe::builder().stdout();
    /// # drop(builder);
    /// ```
    pub fn stdout(mut self) -> Self {
        self.output = Output::Stdout;
        self
    }

    /// Writes to standard error.
    ///
    /// ```
    /// let builder = layer_safe::builder().stderr();
    /// # drop(builder);
    /// ```
    pub fn stderr(mut self) -> Self {
        self.output = Output::Stderr;
        self
    }

    /// Appends to `path`, creating it (not its directory) if needed; a
    /// missing directory is an [`InitError::Writer`].
    ///
    /// ```
    /// let builder = layer_safe::builder().file("app.log");
    /// # drop(builder);
    /// ```
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.output = Output::File(path.as_ref().to_owned());
        self
    }

    /// Rolls files in `dir` named `prefix.DATE` by time (minutely, hourly,
    /// daily), keeping the newest `keep` (`tracing-appender`'s rolling).
    ///
    /// ```
    /// use layer_safe::sink::writers::Rotation;
    /// let builder = layer_safe::builder().rolling_by_time("logs", "app.log", Rotation::DAILY, 7);
    /// # drop(builder);
    /// ```
    pub fn rolling_by_time(
        mut self,
        dir: impl AsRef<Path>,
        prefix: &str,
        rotation: Rotation,
        keep: usize,
    ) -> Self {
        self.output = Output::ByTime {
            dir: dir.as_ref().to_owned(),
            prefix: prefix.to_owned(),
            rotation,
            keep,
        };
        self
    }

    /// Rolls `path` when it would exceed `max_bytes`, keeping `keep` older
    /// files (`path.1` newest); see [`RollingBySize`](crate::sink::writers::RollingBySize).
    /// The directory must exist; a missing one, or a `max_bytes` of 0, is an
    /// [`InitError::Writer`].
    ///
    /// ```
    /// let builder = layer_safe::builder().rolling_by_size("app.log", 64 << 20, 5);
    /// # drop(builder);
    /// ```
    pub fn rolling_by_size(mut self, path: impl AsRef<Path>, max_bytes: u64, keep: usize) -> Self {
        self.output = Output::BySize {
            path: path.as_ref().to_owned(),
            max_bytes,
            keep,
        };
        self
    }

    /// Writes to any `io::Write`; the worker thread owns it.
    ///
    /// ```
    /// let builder = layer_safe::builder().writer(std::io::sink());
    /// # drop(builder);
    /// ```
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.output = Output::Custom(Box::new(writer));
        self
    }

    /// One JSON object per line (the default), shaped as
    /// `tracing_subscriber::fmt().json()` shapes it.
    ///
    /// ```
    /// let builder = layer_safe::builder().json();
    /// # drop(builder);
    /// ```
    pub fn json(mut self) -> Self {
        self.format = LineFormat::Json;
        self
    }

    /// Compact human-readable lines, in colour when writing to a terminal.
    ///
    /// ```
    /// let builder = layer_safe::builder().text();
    /// # drop(builder);
    /// ```
    pub fn text(mut self) -> Self {
        self.format = LineFormat::Text;
        self
    }

    /// Colours in the text format: on or off, instead of "when stdout or
    /// stderr is a terminal".
    ///
    /// ```
    /// let builder = layer_safe::builder().text().ansi(false);
    /// # drop(builder);
    /// ```
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.ansi = Some(ansi);
        self
    }

    /// Filter directives in `RUST_LOG` syntax (`"info,my_app=debug"`),
    /// instead of `RUST_LOG` (default `info`).
    ///
    /// ```
    /// let builder = layer_safe::builder().filter("warn,my_app=trace");
    /// # drop(builder);
    /// ```
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Filter::Directives(directives.into());
        self
    }

    /// A ready-made `EnvFilter`.
    ///
    /// ```
    /// let builder = layer_safe::builder().env_filter(tracing_subscriber::EnvFilter::new("debug"));
    /// # drop(builder);
    /// ```
    pub fn env_filter(mut self, filter: EnvFilter) -> Self {
        self.filter = Filter::Built(Box::new(filter));
        self
    }

    /// The most records queued per thread (default 1 Mi; the byte budget
    /// usually binds first).
    ///
    /// ```
    /// let builder = layer_safe::builder().capacity(8192);
    /// # drop(builder);
    /// ```
    pub fn capacity(mut self, records: usize) -> Self {
        self.sink = self.sink.capacity(records);
        self
    }

    /// The most bytes queued (default 64 MiB).
    ///
    /// ```
    /// let builder = layer_safe::builder().byte_budget(16 << 20);
    /// # drop(builder);
    /// ```
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.sink = self.sink.byte_budget(bytes);
        self
    }

    /// The largest record (default 64 KiB); longer fields are cut to fit.
    ///
    /// ```
    /// let builder = layer_safe::builder().max_record(16 << 10);
    /// # drop(builder);
    /// ```
    pub fn max_record(mut self, bytes: usize) -> Self {
        self.sink = self.sink.max_record(bytes);
        self
    }

    /// What to do when the queue is full (default: drop the newest).
    ///
    /// ```
    /// use std::time::Duration;
    /// use layer_safe::sink::Overflow;
    /// let builder = layer_safe::builder().overflow(Overflow::Block { timeout: Duration::from_millis(5) });
    /// # drop(builder);
    /// ```
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.sink = self.sink.overflow(overflow);
        self
    }

    /// Above this percentage of the capacity or byte budget, events below
    /// `WARN` are shed (default 80).
    ///
    /// ```
    /// let builder = layer_safe::builder().high_water_mark(90);
    /// # drop(builder);
    /// ```
    pub fn high_water_mark(mut self, percent: u8) -> Self {
        self.sink = self.sink.high_water_mark(percent);
        self
    }

    /// How long dropping the [`FlushGuard`] waits for queued records
    /// (default 1 s); what is not written by then is reported lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = layer_safe::builder().flush_deadline(Duration::from_millis(500));
    /// # drop(builder);
    /// ```
    pub fn flush_deadline(mut self, deadline: Duration) -> Self {
        self.sink = self.sink.flush_deadline(deadline);
        self
    }

    /// What a layer violation does (default: `Panic` in debug builds,
    /// `Report` in release builds). `LAYER_SAFE_POLICY` overrides it.
    ///
    /// ```
    /// let builder = layer_safe::builder().policy(layer_safe::Policy::Report);
    /// # drop(builder);
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// A field added to every JSON record (`service`, `version`, `host`...);
    /// the text format, meant for terminals, leaves them out. Setting a key
    /// again replaces its value.
    ///
    /// ```
    /// let builder = layer_safe::builder()
    ///     .static_field("service", "checkout")
    ///     .static_field("version", env!("CARGO_PKG_VERSION"));
    /// # drop(builder);
    /// ```
    pub fn static_field(self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.configure_layer(move |layer| layer.static_field(key, value))
    }

    /// Any other option of the JSON layer (flattening, span list, thread
    /// names, file and line, the timestamp format).
    ///
    /// ```
    /// let builder = layer_safe::builder()
    ///     .configure_layer(|layer| layer.flatten_event(true).with_thread_names(true));
    /// # drop(builder);
    /// ```
    pub fn configure_layer(
        mut self,
        f: impl FnOnce(JsonLayerBuilder) -> JsonLayerBuilder + 'static,
    ) -> Self {
        self.json.push(Box::new(f));
        self
    }

    /// Adds a layer of your own (OpenTelemetry, metrics, ...) under the same
    /// guard and filter: its work runs inside the logging path, so whatever
    /// it logs is contained too.
    ///
    /// ```
    /// let builder = layer_safe::builder()
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    /// # drop(builder);
    /// ```
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers.push(Box::new(layer));
        self
    }

    /// Whether `init` forwards the `log` crate's records (default `true`).
    ///
    /// ```
    /// let builder = layer_safe::builder().log_bridge(false);
    /// # drop(builder);
    /// ```
    pub fn log_bridge(mut self, on: bool) -> Self {
        self.log_bridge = on;
        self
    }

    /// Whether `init` installs the panic hook that logs a panic as an
    /// `ERROR` event and flushes (default `true`).
    ///
    /// ```
    /// let builder = layer_safe::builder().panic_hook(false);
    /// # drop(builder);
    /// ```
    pub fn panic_hook(mut self, on: bool) -> Self {
        self.panic_hook = on;
        self
    }

    /// Installs layer-safe as the global default; panics with the
    /// [`InitError`] if that fails, as `tracing_subscriber::fmt::init` does.
    ///
    /// ```no_run
    /// let _guard = layer_safe::builder().filter("debug").init();
    /// ```
    #[track_caller]
    pub fn init(self) -> FlushGuard {
        self.try_init()
            .unwrap_or_else(|e| panic!("layer_safe::init failed: {e}"))
    }

    /// Installs layer-safe as the global default: the subscriber, the `log`
    /// bridge, the panic hook and the crash handler (each unless turned off),
    /// the exit hook that flushes at `std::process::exit`, the termination
    /// handler when turned on, and the lint policy.
    ///
    /// ```
    /// let first = layer_safe::builder().writer(std::io::sink()).try_init();
    /// let second = layer_safe::builder().writer(std::io::sink()).try_init();
    /// assert!(matches!(second, Err(layer_safe::InitError::AlreadySet)));
    /// # drop(first);
    /// ```
    pub fn try_init(mut self) -> Result<FlushGuard, InitError> {
        if tracing_core::dispatcher::has_been_set() {
            return Err(InitError::AlreadySet);
        }
        let (log_bridge, panic_hook) = (self.log_bridge, self.panic_hook);
        let policy = Policy::from_env()?.or(self.policy);
        let last_words = std::mem::take(&mut self.last_words);
        let drain = last_words.drain();
        let Built {
            dispatch,
            guard,
            stats,
            swap,
        } = self.build_with(true, drain.clone())?;
        if log_bridge {
            tracing_log::LogTracer::builder()
                .with_max_level(log_level(dispatch_max_level(&dispatch)))
                .init()
                .map_err(|_| InitError::LogAlreadySet)?;
        }
        tracing_core::dispatcher::set_global_default(dispatch)
            .map_err(|_| InitError::AlreadySet)?;
        if let Some(policy) = policy {
            crate::lint::set_policy(policy);
        }
        // Only one global default can succeed, so this is set at most once.
        crate::installed::install(crate::installed::Installed {
            flusher: guard.flusher(),
            stats,
            swap,
            log_bridge,
        });
        if panic_hook {
            crate::panic_hook::install(guard.flusher(), guard.deadline());
        }
        last_words.install(&guard, drain);
        Ok(guard)
    }

    /// Builds the subscriber and its guard without installing anything, for
    /// `tracing::dispatcher::with_default` in tests or to install it your
    /// own way. The `log` bridge and the panic hook are not installed.
    ///
    /// ```
    /// let (dispatch, guard) = layer_safe::builder().writer(std::io::sink()).build().unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("scoped"));
    /// guard.flush(std::time::Duration::from_secs(1));
    /// assert_eq!(guard.stats().written, 1);
    /// ```
    pub fn build(self) -> Result<(Dispatch, FlushGuard), InitError> {
        self.build_with(false, None).map(|b| (b.dispatch, b.guard))
    }

    /// `violations`: whether the sink writes the process-wide lint
    /// violations in-band (only the one `init` installs does).
    /// `drain`: the crash handlers' request, for the sink's worker.
    fn build_with(
        self,
        violations: bool,
        drain: Option<std::sync::Arc<crate::crash::CrashDrain>>,
    ) -> Result<Built, InitError> {
        Policy::from_env()?;
        let filter = match self.filter {
            Filter::Built(f) => *f,
            Filter::Directives(d) => parse_filter(&d, "the builder")?,
            Filter::FromEnv => match std::env::var("RUST_LOG") {
                Ok(d) if !d.trim().is_empty() => parse_filter(&d, "RUST_LOG")?,
                _ => EnvFilter::new("info"),
            },
        };
        let terminal = match &self.output {
            Output::Stdout => std::io::stdout().is_terminal(),
            Output::Stderr => std::io::stderr().is_terminal(),
            _ => false,
        };
        let writer = ops::open(self.output, self.compress)?;
        let (sink, guard) = self
            .sink
            .writer(writer)
            .report_violations(violations)
            .crash_drain(drain)
            .build()?;
        let layer = JsonLayer::builder(sink)
            .format(self.format)
            .ansi(self.ansi.unwrap_or(terminal));
        let layer = self.json.into_iter().fold(layer, |layer, f| f(layer));
        // An empty `Vec` of layers answers `Interest::never` for every
        // callsite (tracing-subscriber's fold starts at `never`): use `None`.
        let user_layers = (!self.layers.is_empty()).then_some(self.layers);
        let base = tracing_subscriber::registry().with(user_layers);
        // One of the two is `None`: a `None` layer is skipped, so the stack
        // without reloading pays nothing for the option.
        let (reloadable, fixed, swap) = if self.filter_reloading {
            let (filter, handle) = reload::Layer::new(filter);
            let swap: SwapFilter = Box::new(move |f| handle.reload(f));
            (Some(filter), None, Some(swap))
        } else {
            (None, Some(filter), None)
        };
        let stack = base.with(reloadable).with(fixed).with(layer.build());
        // `Guarded::new` finds the JSON layer and shares its sink's counters.
        let guarded = Guarded::new(stack);
        #[cfg(feature = "metrics")]
        let guard = ops::publish_metrics(guard, guarded.stats_handle(), self.metrics_interval);
        Ok(Built {
            stats: guarded.stats_handle(),
            dispatch: Dispatch::new(guarded),
            guard,
            swap,
        })
    }
}

/// What `build_with` made: the stack, its guard, and the handles `try_init`
/// makes reachable process-wide.
struct Built {
    dispatch: Dispatch,
    guard: FlushGuard,
    stats: crate::StatsHandle,
    swap: Option<SwapFilter>,
}

fn parse_filter(directives: &str, source_name: &'static str) -> Result<EnvFilter, InitError> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives)
        .map_err(|e| InitError::Filter {
            source_name,
            directives: directives.to_owned(),
            reason: e.to_string(),
        })
}

fn dispatch_max_level(dispatch: &Dispatch) -> LevelFilter {
    tracing_core::dispatcher::with_default(dispatch, LevelFilter::current)
}
