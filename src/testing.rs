//! Test helpers for crates that log through `tracing`: run code under a
//! capturing subscriber and get back what it logged and every
//! violation of the logging-path rules it committed.
//!
//! ```
//! use layer_safe::testing;
//!
//! // A flag client that asks layer-safe before calling out.
//! fn flag_is_on(name: &str) -> bool {
//!     match layer_safe::external_call("flags") {
//!         Ok(()) => name == "dark-mode", // stands for the flag service
//!         Err(_) => false,               // while logging: the default
//!     }
//! }
//!
//! struct Theme;
//! impl std::fmt::Display for Theme {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str(if flag_is_on("dark-mode") { "dark" } else { "light" })
//!     }
//! }
//!
//! // Good: the flag is read before logging.
//! testing::assert_layer_safe(|| {
//!     let dark = flag_is_on("dark-mode");
//!     tracing::info!(dark, "rendered");
//! });
//!
//! // Bad: the flag is read by a `Display` while logging. The client served
//! // its default, and the capture says where it happened.
//! let captured = testing::capture(|| tracing::info!(theme = %Theme, "rendered"));
//! assert_eq!(captured.records[0].field("theme"), Some("light"));
//! assert_eq!(captured.violations.total, 1);
//! println!("{}", captured.violations);
//! // 1 layer-safe violation (1 distinct):
//! //   1. external call to `flags` from the logging path (refused): call at src/lib.rs:9,
//! //      while logging event at src/lib.rs:27 (target my_crate)
//! ```
//!
//! # How it works, and its limits
//!
//! Each capture is a scope on the calling thread: records and violations of
//! other threads (other tests running in parallel, or threads the closure
//! spawns) never reach it, and it forces its own [`Policy`] on its thread
//! only. Slow paths are checked only when asked for
//! ([`Check::slow_path_budget`]): a budget in wall-clock time fails a test
//! whenever a loaded machine preempts it. Asked for, every event is timed
//! (no sampling), so a slow path shows up at once.
//!
//! `tracing` hides recursion under `with_default`: an event emitted while a
//! scoped subscriber is already handling one goes nowhere, silently, whereas
//! under a global subscriber it would recurse without bound. To see
//! recursion as production would, the first capture installs a process-wide
//! subscriber that serves only threads inside a capture scope (and ignores
//! every other thread). Consequences for a test binary:
//! - If the binary has already set a global subscriber, captures use
//!   `with_default` instead, and recursion cannot be seen.
//! - After a capture, setting a global subscriber fails: use `try_init`, or
//!   set yours first.
//! - While any thread of the process is inside `with_default`, `tracing`
//!   routes nested events on every thread to nowhere: a capture may then
//!   miss a recursion (it never reports a false one).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::time::Duration;

use tracing_core::field::{Field, Visit};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, Layered, SubscriberExt as _};
use tracing_subscriber::Registry;

use crate::guarded::Guarded;
use crate::lint::{Policy, Scope, Violations};

mod output;
pub use output::Output;

/// One captured event: its level, target, message and other fields, each
/// value as its `Debug` (or, for strings, the string itself) renders it.
///
/// # Examples
///
/// ```
/// let captured = layer_safe::testing::capture(|| {
///     tracing::warn!(user = "ada", attempts = 3, "locked out");
/// });
/// let r = &captured.records[0];
/// assert_eq!(r.level, tracing::Level::WARN);
/// assert_eq!(r.message, "locked out");
/// assert_eq!(r.field("user"), Some("ada"));
/// assert_eq!(r.field("attempts"), Some("3"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The event's level.
    pub level: Level,
    /// The event's target.
    pub target: String,
    /// The `message` field; empty when the event has none.
    pub message: String,
    /// The other fields, in the order the event declares them.
    pub fields: Vec<(String, String)>,
}

impl Record {
    /// The value of the field `name`, if the event has it.
    ///
    /// # Examples
    ///
    /// ```
    /// let captured = layer_safe::testing::capture(|| tracing::info!(id = 7));
    /// assert_eq!(captured.records[0].field("id"), Some("7"));
    /// assert_eq!(captured.records[0].field("other"), None);
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What one capture collected.
///
/// # Examples
///
/// ```
/// let captured = layer_safe::testing::capture(|| tracing::info!("hello"));
/// assert_eq!(captured.records.len(), 1);
/// assert!(captured.violations.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Captured {
    /// The events the closure logged on its thread, in order.
    pub records: Vec<Record>,
    /// The violations it committed on its thread.
    pub violations: Violations,
}

/// Options for a capture: the policy it forces on its thread (default
/// [`Policy::Report`], so every violation is collected and refused calls
/// fall back as in production) and its slow-path budget (default: none,
/// no slow-path check).
///
/// # Examples
///
/// Panic at the first violation, to get its backtrace:
///
/// ```
/// use layer_safe::{testing::Check, Policy};
///
/// struct AsksFlags;
/// impl std::fmt::Debug for AsksFlags {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         let _ = layer_safe::external_call("flags");
///         f.write_str("?")
///     }
/// }
/// let result = std::panic::catch_unwind(|| {
///     Check::new().policy(Policy::Panic).capture(|| tracing::info!(x = ?AsksFlags));
/// });
/// assert!(result.is_err());
/// assert!(!layer_safe::in_logging_path()); // the thread is out of the path
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Check {
    policy: Policy,
    budget: Option<Duration>,
}

/// The old name of [`Check`], whose default was never strict.
///
/// ```
/// #[allow(deprecated)]
/// let check: layer_safe::testing::Strict = layer_safe::testing::Check::new();
/// assert!(format!("{check:?}").starts_with("Check"));
/// ```
#[deprecated(since = "0.2.0", note = "renamed `Check`")]
pub type Strict = Check;

impl Default for Check {
    fn default() -> Check {
        Check::new()
    }
}

impl Check {
    /// The defaults: `Report`, and no slow-path check.
    ///
    /// # Examples
    ///
    /// ```
    /// let captured = layer_safe::testing::Check::new().capture(|| tracing::info!("x"));
    /// assert_eq!(captured.records.len(), 1);
    /// ```
    pub fn new() -> Check {
        Check {
            policy: Policy::Report,
            budget: None,
        }
    }

    /// The policy forced on the capturing thread while the closure runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::{testing::Check, Policy};
    ///
    /// Check::new().policy(Policy::Ignore).capture(|| {
    ///     assert_eq!(layer_safe::policy(), Policy::Ignore);
    /// });
    /// ```
    pub fn policy(mut self, policy: Policy) -> Check {
        self.policy = policy;
        self
    }

    /// Checks slow paths: every event on the capturing thread is timed
    /// against `budget` while the closure runs (time the thread spent
    /// waiting for a CPU is not counted, where Linux says how much). Off by
    /// default: a wall-clock budget is for a test that means to measure.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use layer_safe::testing::Check;
    ///
    /// struct Sleepy;
    /// impl std::fmt::Debug for Sleepy {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         std::thread::sleep(Duration::from_millis(20));
    ///         f.write_str("zzz")
    ///     }
    /// }
    /// let checked = Check::new()
    ///     .slow_path_budget(Duration::from_millis(1))
    ///     .capture(|| tracing::info!(s = ?Sleepy));
    /// assert_eq!(checked.violations.distinct[0].kind.name(), "slow_path");
    /// // Unchecked by default.
    /// assert!(Check::new().capture(|| tracing::info!(s = ?Sleepy)).violations.is_empty());
    /// ```
    pub fn slow_path_budget(mut self, budget: Duration) -> Check {
        self.budget = Some(budget);
        self
    }

    /// Runs `f` under the capturing subscriber and returns what it logged
    /// and the violations it committed.
    ///
    /// # Examples
    ///
    /// ```
    /// let captured = layer_safe::testing::Check::new().capture(|| tracing::info!(a = 1));
    /// assert_eq!(captured.records[0].field("a"), Some("1"));
    /// ```
    pub fn capture(self, f: impl FnOnce()) -> Captured {
        self.run(f).1
    }

    /// Runs `f` like [`capture`](Check::capture) and panics with a
    /// readable report if it committed any violation; returns what `f`
    /// returned otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let n = layer_safe::testing::Check::new().assert_layer_safe(|| {
    ///     tracing::info!("fine");
    ///     42
    /// });
    /// assert_eq!(n, 42);
    /// ```
    #[track_caller]
    pub fn assert_layer_safe<R>(self, f: impl FnOnce() -> R) -> R {
        let (value, captured) = self.run(f);
        if !captured.violations.is_empty() {
            panic!("code under test is not layer-safe: {}", captured.violations);
        }
        value
    }

    fn run<R>(self, f: impl FnOnce() -> R) -> (R, Captured) {
        let global = router_installed();
        // Opened in this order, closed in reverse, unwinding included.
        let records = RecordScope::open();
        let scope = Scope::enter(self.policy, self.budget);
        let value = if global {
            f()
        } else {
            warn_blind_once();
            tracing::subscriber::with_default(subscriber(), f)
        };
        let violations = scope.finish();
        let records = records.finish();
        (
            value,
            Captured {
                records,
                violations,
            },
        )
    }
}

/// Runs `f` under a capturing subscriber ([`Check::new`]) and
/// returns what it logged and the violations it committed.
///
/// # Examples
///
/// ```
/// let captured = layer_safe::testing::capture(|| {
///     tracing::info!(order = 17, "paid");
/// });
/// assert_eq!(captured.records[0].message, "paid");
/// assert!(captured.violations.is_empty());
/// ```
pub fn capture(f: impl FnOnce()) -> Captured {
    Check::new().capture(f)
}

/// Runs `f` under a capturing subscriber and panics with a readable
/// report (each violation with both call sites: recursion, forbidden
/// external calls, failed assertions, slow paths) if it committed any.
///
/// # Examples
///
/// ```
/// use layer_safe::testing::assert_layer_safe;
///
/// assert_layer_safe(|| tracing::info!("fine"));
///
/// // A `Debug` that logs: recursion, which `tracing` would otherwise hide
/// // in tests and which overflows the stack under a global subscriber.
/// struct Chatty;
/// impl std::fmt::Debug for Chatty {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         tracing::debug!("formatting Chatty");
///         f.write_str("Chatty")
///     }
/// }
/// let failure = std::panic::catch_unwind(|| assert_layer_safe(|| tracing::info!(c = ?Chatty)));
/// let message = failure.unwrap_err().downcast::<String>().unwrap();
/// assert!(message.contains("recursion"));
/// ```
#[track_caller]
pub fn assert_layer_safe<R>(f: impl FnOnce() -> R) -> R {
    Check::new().assert_layer_safe(f)
}

thread_local! {
    /// `Some` while a capture scope is open on this thread.
    static RECORDS: RefCell<Option<Vec<Record>>> = const { RefCell::new(None) };
}

fn scope_open() -> bool {
    RECORDS
        .try_with(|r| r.try_borrow().map_or(true, |r| r.is_some()))
        .unwrap_or(false)
}

/// Opens a record scope on this thread; closing it (or unwinding) restores
/// the enclosing one, so captures nest.
struct RecordScope {
    prev: Option<Option<Vec<Record>>>,
}

impl RecordScope {
    fn open() -> RecordScope {
        let prev = RECORDS.try_with(|r| r.replace(Some(Vec::new()))).ok();
        RecordScope { prev }
    }

    fn finish(mut self) -> Vec<Record> {
        self.restore().unwrap_or_default()
    }

    fn restore(&mut self) -> Option<Vec<Record>> {
        let prev = self.prev.take()?;
        RECORDS.try_with(|r| r.replace(prev)).ok().flatten()
    }
}

impl Drop for RecordScope {
    fn drop(&mut self) {
        self.restore();
    }
}

/// The layer that turns each event on a capturing thread into a [`Record`].
struct CaptureLayer;

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Asked per event: whether to capture depends on the thread.
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>, _: Context<'_, S>) -> bool {
        scope_open()
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // Format first, with no borrow held: a field's `Debug` may do
        // anything, including record a violation.
        let meta = event.metadata();
        let mut record = Record {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut Fields(&mut record));
        let _ = RECORDS.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                if let Some(records) = r.as_mut() {
                    records.push(record);
                }
            }
        });
    }
}

struct Fields<'a>(&'a mut Record);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.0.message = value;
        } else {
            self.0.fields.push((field.name().to_owned(), value));
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Not `format!`: it panics when a `Debug` returns an error.
        let mut s = String::new();
        if write!(s, "{value:?}").is_err() {
            s.push_str("<fmt::Error>");
        }
        self.put(field, s);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
}

type Stack = Guarded<Layered<CaptureLayer, Registry>>;

fn subscriber() -> Stack {
    Guarded::new(tracing_subscriber::registry().with(CaptureLayer))
}

/// Says once per process that recursion cannot be seen, so a passing
/// assertion is not mistaken for a clean bill.
fn warn_blind_once() {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "layer-safe testing: another global subscriber was installed before the first \
             capture in this test binary (an `init()` in another test?), so captures fall back \
             to `with_default`, where tracing hides recursion: recursion will not be reported. \
             Keep captures and `init()` in separate test binaries."
        );
    }
}

/// Installs the capturing stack as the global default once per process, if
/// no global default exists; `false` when one already did.
fn router_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(subscriber()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest() {
        let outer = capture(|| {
            tracing::info!("outer 1");
            let inner = capture(|| tracing::info!("inner"));
            assert_eq!(inner.records.len(), 1);
            tracing::info!("outer 2");
        });
        let msgs: Vec<_> = outer.records.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(msgs, ["outer 1", "outer 2"]);
    }
}
