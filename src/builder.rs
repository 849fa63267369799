//! [`Builder`]: the drop-in subscriber, configured.
//!
//! The stack it builds, innermost first: `Registry`, the user's own layers,
//! the `EnvFilter`, the JSON (or text) layer writing through the sink, all
//! inside one [`Guarded`](crate::Guarded) that shares its counters with the
//! sink, so one [`Stats`](crate::Stats) snapshot accounts for every event.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
#[cfg(feature = "metrics")]
use std::time::Duration;

use tracing_core::Dispatch;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::{reload, Registry};

use crate::encode::LineFormat;
use crate::error::InitError;
use crate::guarded::Guarded;
use crate::installed::{log_level, FilterError, SwapFilter};
use crate::layer::{JsonLayer, JsonLayerBuilder};
use crate::lint::Policy;
use crate::sink_core::writers::Rotation;
use crate::sink_core::{FlushGuard, SinkBuilder};

mod bounds;
mod last_words;
mod ops;
mod output;

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
    /// Filter directives in `RUST_LOG` syntax (`"info,my_app=debug"`),
    /// instead of `RUST_LOG` (default `info`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .filter("warn,my_app=trace")
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info!("below warn: filtered out");
    ///     tracing::warn!("written");
    ///     tracing::trace!(target: "my_app", "written");
    /// });
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 2);
    /// ```
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Filter::Directives(directives.into());
        self
    }

    /// A ready-made `EnvFilter`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .env_filter(tracing_subscriber::EnvFilter::new("debug"))
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::debug!("written");
    ///     tracing::trace!("filtered out");
    /// });
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// ```
    pub fn env_filter(mut self, filter: EnvFilter) -> Self {
        self.filter = Filter::Built(Box::new(filter));
        self
    }

    /// What a layer violation does (default: `Panic` in debug builds,
    /// `Report` in release builds). `LAYER_SAFE_POLICY` overrides it.
    ///
    /// ```
    /// # std::env::remove_var(layer_safe::Policy::ENV_VAR); // it would override
    /// let guard = layer_safe::builder()
    ///     .policy(layer_safe::Policy::Report)
    ///     .writer(std::io::sink())
    ///     .try_init()
    ///     .unwrap();
    /// assert_eq!(layer_safe::policy(), layer_safe::Policy::Report);
    /// # drop(guard);
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
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .static_field("service", "checkout")
    ///     .static_field("version", env!("CARGO_PKG_VERSION"))
    ///     .writer(out.clone())
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("hi"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert!(out.text().contains(r#""service":"checkout""#));
    /// ```
    pub fn static_field(self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.configure_layer(move |layer| layer.static_field(key, value))
    }

    /// Any other option of the JSON layer (flattening, span list, thread
    /// names, file and line, the timestamp format).
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .configure_layer(|layer| layer.flatten_event(true).with_thread_names(true))
    ///     .writer(out.clone())
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("hi"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let line: serde_json::Value = serde_json::from_str(out.text().trim_end())?;
    /// assert_eq!(line["message"], "hi"); // flattened: not under "fields"
    /// assert_eq!(line["threadName"], "main");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// let mine = Buf::default(); // what the extra layer writes
    /// let w = mine.clone();
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(move || w.clone()))
    ///     .writer(std::io::sink())
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("to both"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// assert!(mine.text().contains("to both"));
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
    /// # use std::time::Duration;
    /// let guard = layer_safe::builder()
    ///     .log_bridge(false)
    ///     .writer(std::io::sink())
    ///     .try_init()
    ///     .unwrap();
    /// log::info!("not forwarded");
    /// tracing::info!("written");
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// ```
    pub fn log_bridge(mut self, on: bool) -> Self {
        self.log_bridge = on;
        self
    }

    /// Whether `init` installs the panic hook that logs a panic as an
    /// `ERROR` event and flushes (default `true`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let guard = layer_safe::builder()
    ///     .panic_hook(false)
    ///     .writer(std::io::sink())
    ///     .try_init()
    ///     .unwrap();
    /// assert!(std::panic::catch_unwind(|| panic!("not logged")).is_err());
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 0);
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
        let stats = sink.stats_handle();
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
        // The guard counts into the sink's counters: one `Stats`, and the
        // recursion it drops is reported in-band with the sink's drops.
        let guarded = Guarded::with_stats(stack, stats.clone());
        #[cfg(feature = "metrics")]
        let guard = ops::publish_metrics(guard, stats.clone(), self.metrics_interval);
        Ok(Built {
            stats,
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
        .map_err(|e| InitError::Filter(FilterError::invalid(directives, source_name, e)))
}

fn dispatch_max_level(dispatch: &Dispatch) -> LevelFilter {
    tracing_core::dispatcher::with_default(dispatch, LevelFilter::current)
}
