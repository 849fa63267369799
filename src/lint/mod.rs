//! Lint-style runtime assertions: the rules of the logging path, checked
//! while the program runs.
//!
//! The logging path must never call out to an external system, never log
//! again, and never be slow. Clients of external systems ask
//! [`external_call`] and serve a local value when refused; code that must
//! never run while logging says so with
//! [`assert_not_in_logging_path!`](crate::assert_not_in_logging_path); the
//! guard reports recursion here; and [`Guarded`](crate::Guarded) times each
//! event's trip through the stack. What a violation does follows the
//! [`Policy`].
//!
//! Code map (one concept per file):
//! - `policy.rs`: [`Policy`], the process-wide setting, the slow-path budget.
//! - `violation.rs`: [`Violation`], [`Violations`], and the bounded store of
//!   distinct violations both the process and a test capture use.
//! - `store.rs`: the process-wide store and the in-band reporting hook,
//!   `take_unreported()`, that the sink's worker calls between batches.
//! - `local.rs`: per-thread state: a scope's forced policy, sampling, capture.
//! - `slow.rs`: the slow-path timer `Guarded::event` wraps the stack in.

mod local;
mod policy;
mod raise;
mod slow;
mod store;
mod violation;

use std::fmt;

use crate::path;
use crate::site::CallSite;

pub(crate) use local::set_thread_policy;
pub(crate) use local::Scope;
pub use local::{policy, slow_path_budget};
pub use policy::{set_policy, set_slow_path_budget, Policy, PolicyError};
use raise::violation;
pub(crate) use slow::timed;
pub use store::violations;
pub(crate) use store::{has_unreported, take_unreported};
pub use violation::{Violation, ViolationKind, Violations};

/// Asks whether the current thread may call the external `system` now.
///
/// `Ok(())` outside the logging path, at the cost of one thread-local read.
/// Inside it (a field's `Debug`, a layer, a writer, the sink's worker), the
/// call is refused with [`Forbidden`], which says what was being logged and
/// where the call came from; the violation is recorded or, under
/// [`Policy::Panic`], panics. The client then serves its cached or default
/// value instead of calling out: a flag service that logs, or that is slow,
/// can then never deadlock or stall the logging of its own caller.
///
/// # Examples
///
/// A feature-flag client:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// struct Flags {
///     last_known: Mutex<HashMap<&'static str, bool>>,
/// }
///
/// impl Flags {
///     fn is_on(&self, flag: &'static str) -> bool {
///         match layer_safe::external_call("flags") {
///             Ok(()) => {
///                 let on = self.fetch(flag);
///                 self.last_known.lock().unwrap().insert(flag, on);
///                 on
///             }
///             // Called while logging: no network; the last known value, or off.
///             Err(_refused) => self.last_known.lock().unwrap().get(flag).copied().unwrap_or(false),
///         }
///     }
///
///     fn fetch(&self, flag: &str) -> bool {
///         flag == "new-checkout" // stands for an HTTP call to the flag service
///     }
/// }
///
/// let flags = Flags { last_known: Mutex::new(HashMap::new()) };
/// assert!(flags.is_on("new-checkout")); // outside logging: asks the service
///
/// // A `Debug` that consults a flag runs inside the logging path.
/// struct Cart<'a>(&'a Flags);
/// impl std::fmt::Debug for Cart<'_> {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         let new = self.0.is_on("new-checkout");
///         write!(f, "Cart {{ new_checkout: {new} }}")
///     }
/// }
/// let captured = layer_safe::testing::capture(|| tracing::info!(cart = ?Cart(&flags)));
/// assert_eq!(captured.records[0].field("cart"), Some("Cart { new_checkout: true }"));
/// assert_eq!(captured.violations.distinct[0].kind.name(), "external_call");
/// ```
#[track_caller]
#[inline]
pub fn external_call(system: &'static str) -> Result<(), Forbidden> {
    if !path::in_logging_path() {
        return Ok(());
    }
    Err(forbidden(system, CallSite::caller()))
}

#[cold]
#[inline(never)]
#[track_caller]
fn forbidden(system: &'static str, call: CallSite) -> Forbidden {
    let logging = CallSite::from_origin(path::origin());
    if !thread_exiting() {
        violation(
            ViolationKind::ExternalCall {
                system,
                call,
                logging,
            },
            true,
        );
    }
    Forbidden(Box::new(ForbiddenCall {
        system,
        call,
        logging,
    }))
}

/// A call to an external system, refused because the thread was logging.
///
/// Returned by [`external_call`]; it names the system, where the call was
/// made and what was being logged. The caller's right response is to serve a
/// local value (a cache, a default), never to retry.
///
/// # Examples
///
/// A cache client that treats a refused call as a miss:
///
/// ```
/// struct Cache;
///
/// impl Cache {
///     fn get(&self, key: &str) -> Option<String> {
///         if let Err(refused) = layer_safe::external_call("memcached") {
///             // Inside the logging path: a miss, computed locally by the caller.
///             assert_eq!(refused.system(), "memcached");
///             return None;
///         }
///         Some(format!("cached {key}")) // stands for a memcached round trip
///     }
/// }
///
/// assert_eq!(Cache.get("user:42").as_deref(), Some("cached user:42"));
///
/// struct User;
/// impl std::fmt::Display for User {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         let name = Cache.get("user:42:name").unwrap_or_else(|| "user 42".into());
///         f.write_str(&name)
///     }
/// }
/// let captured = layer_safe::testing::capture(|| tracing::info!(user = %User));
/// assert_eq!(captured.records[0].field("user"), Some("user 42"));
/// let report = captured.violations.to_string();
/// assert!(report.contains("external call to `memcached` from the logging path"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Forbidden(
    // Boxed: keeps `Result<(), Forbidden>` one word, so the common `Ok` stays
    // cheap to return; the allocation happens only on the refused path.
    Box<ForbiddenCall>,
);

#[derive(Clone, PartialEq, Eq)]
struct ForbiddenCall {
    system: &'static str,
    call: CallSite,
    logging: CallSite,
}

impl Forbidden {
    /// The external system's name, as given to [`external_call`].
    ///
    /// # Examples
    ///
    /// ```
    /// # layer_safe::testing::Check::new().capture(|| {
    /// # struct D;
    /// # impl std::fmt::Debug for D {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    /// if let Err(refused) = layer_safe::external_call("flags") {
    ///     assert_eq!(refused.system(), "flags");
    /// }
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tracing::info!(d = ?D);
    /// # });
    /// ```
    pub fn system(&self) -> &'static str {
        self.0.system
    }

    /// Where [`external_call`] was called.
    ///
    /// # Examples
    ///
    /// ```
    /// # layer_safe::testing::Check::new().capture(|| {
    /// # struct D;
    /// # impl std::fmt::Debug for D {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    /// if let Err(refused) = layer_safe::external_call("flags") {
    ///     assert_eq!(refused.call().file(), Some(file!()));
    /// }
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tracing::info!(d = ?D);
    /// # });
    /// ```
    pub fn call(&self) -> CallSite {
        self.0.call
    }

    /// What the thread was logging: the event's or span's call site, or the
    /// part of layer-safe (such as the sink's worker) the thread belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Mutex;
    /// # static SEEN: Mutex<Option<layer_safe::CallSite>> = Mutex::new(None);
    /// # layer_safe::testing::Check::new().capture(|| {
    /// # struct D;
    /// # impl std::fmt::Debug for D {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    /// if let Err(refused) = layer_safe::external_call("flags") {
    ///     eprintln!("refused while logging {}", refused.logging());
    /// #   *SEEN.lock().unwrap() = Some(refused.logging());
    /// }
    /// #         Ok(())
    /// #     }
    /// # }
    /// # tracing::info!(d = ?D);
    /// # });
    /// # let logging = SEEN.lock().unwrap().expect("refused");
    /// // It was logging an event (not a span), at a line of this file.
    /// assert!(!logging.is_span());
    /// assert!(logging.line().is_some());
    /// ```
    pub fn logging(&self) -> CallSite {
        self.0.logging
    }
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "external call to `{}` refused in the logging path: {}, while logging {}",
            self.0.system, self.0.call, self.0.logging
        )
    }
}

impl fmt::Debug for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forbidden")
            .field("system", &self.0.system)
            .field("call", &self.0.call)
            .field("logging", &self.0.logging)
            .finish()
    }
}

impl std::error::Error for Forbidden {}

/// Panics unless the current thread is outside the logging path; what a
/// violation does follows the [`Policy`] (`Panic`: panics; `Report`: records
/// it; `Ignore`: nothing).
///
/// For code that must never run while logging, like `debug_assert!` for the
/// logging path, but on in release builds too: the check costs one
/// thread-local read. Give the name of the system the code talks to, so the
/// report says what was reached.
///
/// # Examples
///
/// A cache client whose network half must never be reached while logging:
///
/// ```
/// struct Cache;
///
/// impl Cache {
///     fn get(&self, key: &str) -> Option<String> {
///         // The front door: refuses politely and serves a miss.
///         layer_safe::external_call("memcached").ok()?;
///         self.fetch(key)
///     }
///
///     fn fetch(&self, key: &str) -> Option<String> {
///         // The back door: a bug if reached while logging, however it was.
///         layer_safe::assert_not_in_logging_path!("memcached");
///         Some(format!("cached {key}"))
///     }
/// }
///
/// assert!(Cache.fetch("k").is_some()); // outside logging: fine
///
/// struct Sneaky;
/// impl std::fmt::Debug for Sneaky {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "{:?}", Cache.fetch("k")) // bypasses `get`
///     }
/// }
/// let captured = layer_safe::testing::capture(|| tracing::info!(v = ?Sneaky));
/// let report = captured.violations.to_string();
/// assert!(report.contains("assert_not_in_logging_path!(\"memcached\") failed"));
/// ```
///
/// Without a name:
///
/// ```
/// fn flush_to_disk() {
///     layer_safe::assert_not_in_logging_path!();
///     // ... blocking I/O ...
/// }
/// flush_to_disk();
/// ```
#[macro_export]
macro_rules! assert_not_in_logging_path {
    () => {
        if $crate::in_logging_path() {
            $crate::__assertion_failed(::core::option::Option::None);
        }
    };
    ($system:expr $(,)?) => {
        if $crate::in_logging_path() {
            $crate::__assertion_failed(::core::option::Option::Some($system));
        }
    };
}

/// The cold half of [`assert_not_in_logging_path!`]; not a public API.
#[doc(hidden)]
#[cold]
#[inline(never)]
#[track_caller]
pub fn assertion_failed(system: Option<&'static str>) {
    if thread_exiting() {
        return;
    }
    let call = CallSite::caller();
    let logging = CallSite::from_origin(path::origin());
    violation(
        ViolationKind::Assertion {
            system,
            call,
            logging,
        },
        true,
    );
}

/// Called by the guard for every recursion it contains. Recorded, never a
/// panic: the guard has already dropped the event safely.
pub(crate) fn recursion(outer: CallSite, inner: CallSite) {
    violation(ViolationKind::Recursion { outer, inner }, false);
}

/// While a thread exits, its logging-path state may already be gone; the
/// path then answers "in the path" to stay safe, but that is no violation.
fn thread_exiting() -> bool {
    path::depth() == u32::MAX
}
