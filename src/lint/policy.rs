//! [`Policy`]: what a violation does, process-wide with a per-thread override
//! (used by [`testing`](crate::testing) so parallel tests never race on it),
//! and the slow-path budget.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

/// What a violation of the logging-path rules does.
///
/// | violation | `Panic` | `Report` | `Ignore` |
/// | --- | --- | --- | --- |
/// | [`external_call`](crate::external_call) inside the path | records it, then panics | records it | nothing |
/// | [`assert_not_in_logging_path!`](crate::assert_not_in_logging_path) fails | records it, then panics | records it | nothing |
/// | recursion (contained by [`Guarded`](crate::Guarded)) | records it | records it | nothing |
/// | slow path | records it (every event timed) | records it (1 event in 64 timed) | not timed |
///
/// Whatever the policy, `external_call` refuses the call inside the logging
/// path (it returns [`Forbidden`](crate::Forbidden)): the safe outcome. Only
/// the code paths a developer wrote by mistake panic; recursion and slow
/// paths never do, because the guard has already contained the recursion and
/// the slow event has already been delivered, and because timings are noisy.
///
/// The default is `Panic` when `debug_assertions` are on and `Report`
/// otherwise. [`set_policy`] changes it for the process; the environment
/// variable `LAYER_SAFE_POLICY` (`panic`, `report` or `ignore`) overrides the
/// default, and [`Policy::from_env`] reads it for a builder to apply.
///
/// # Examples
///
/// ```
/// use layer_safe::Policy;
///
/// let p: Policy = "report".parse().unwrap();
/// assert_eq!(p, Policy::Report);
/// assert_eq!(p.to_string(), "report");
/// let err = "pnic".parse::<Policy>().unwrap_err();
/// assert!(err.to_string().contains("expected one of `panic`, `report`, `ignore`"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Strict: a forbidden call or a failed assertion panics (after being
    /// recorded), with a message naming both call sites.
    Panic,
    /// Count each violation, keep the first of each distinct one, and report
    /// each distinct one once in the log stream.
    Report,
    /// Do nothing beyond refusing forbidden calls.
    Ignore,
}

impl Policy {
    /// The environment variable that overrides the default policy.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(layer_safe::Policy::ENV_VAR, "LAYER_SAFE_POLICY");
    /// ```
    pub const ENV_VAR: &'static str = "LAYER_SAFE_POLICY";

    /// The lowercase name: `"panic"`, `"report"` or `"ignore"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(layer_safe::Policy::Ignore.as_str(), "ignore");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Panic => "panic",
            Policy::Report => "report",
            Policy::Ignore => "ignore",
        }
    }

    /// Reads [`Policy::ENV_VAR`]: `Ok(None)` when it is unset or empty,
    /// `Err` when it holds anything but `panic`, `report` or `ignore`
    /// (case and surrounding spaces do not matter).
    ///
    /// A builder calls this and lets the answer override the policy it was
    /// configured with, so an operator can relax or tighten a deployed
    /// binary; an error is meant to be returned from `try_init`, not ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::Policy;
    ///
    /// std::env::set_var(Policy::ENV_VAR, " Report ");
    /// assert_eq!(Policy::from_env()?, Some(Policy::Report));
    /// std::env::set_var(Policy::ENV_VAR, "loud");
    /// assert!(Policy::from_env().is_err());
    /// std::env::remove_var(Policy::ENV_VAR);
    ///
    /// let configured = Policy::Report;
    /// let policy = Policy::from_env()?.unwrap_or(configured);
    /// assert_eq!(policy, Policy::Report);
    /// layer_safe::set_policy(policy);
    /// # Ok::<(), layer_safe::PolicyError>(())
    /// ```
    pub fn from_env() -> Result<Option<Policy>, PolicyError> {
        match std::env::var(Self::ENV_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(raw)) => Err(PolicyError {
                value: raw.to_string_lossy().into_owned(),
                from_env: true,
            }),
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => value
                .parse()
                .map(Some)
                .map_err(|e: PolicyError| PolicyError {
                    from_env: true,
                    ..e
                }),
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Policy::Panic => 1,
            Policy::Report => 2,
            Policy::Ignore => 3,
        }
    }

    fn from_u8(v: u8) -> Option<Policy> {
        match v {
            1 => Some(Policy::Panic),
            2 => Some(Policy::Report),
            3 => Some(Policy::Ignore),
            _ => None,
        }
    }
}

impl Default for Policy {
    /// `Panic` with `debug_assertions`, `Report` without.
    fn default() -> Policy {
        if cfg!(debug_assertions) {
            Policy::Panic
        } else {
            Policy::Report
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Policy, PolicyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "panic" => Ok(Policy::Panic),
            "report" => Ok(Policy::Report),
            "ignore" => Ok(Policy::Ignore),
            _ => Err(PolicyError {
                value: s.to_owned(),
                from_env: false,
            }),
        }
    }
}

/// A policy name that is not `panic`, `report` or `ignore`.
///
/// Its message names the value, where it came from and what is accepted.
///
/// # Examples
///
/// ```
/// let err = "strict".parse::<layer_safe::Policy>().unwrap_err();
/// assert_eq!(err.value(), "strict");
/// assert_eq!(
///     err.to_string(),
///     "invalid layer-safe policy \"strict\": expected one of `panic`, `report`, `ignore`",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    value: String,
    from_env: bool,
}

impl PolicyError {
    /// The value that was not understood.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!("loud".parse::<layer_safe::Policy>().unwrap_err().value(), "loud");
    /// ```
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid layer-safe policy {:?}", self.value)?;
        if self.from_env {
            write!(f, " in the environment variable {}", Policy::ENV_VAR)?;
        }
        f.write_str(": expected one of `panic`, `report`, `ignore`")
    }
}

impl std::error::Error for PolicyError {}

/// 0 until set or first used; then `Policy::to_u8`.
static GLOBAL: AtomicU8 = AtomicU8::new(0);

/// Sets the policy for the whole process (threads inside a
/// [`testing`](crate::testing) scope keep the one the scope forces).
///
/// The builder of the drop-in subscriber calls this; call it yourself when
/// you assemble a stack by hand with [`Guarded`](crate::Guarded).
///
/// # Examples
///
/// ```
/// use layer_safe::Policy;
///
/// layer_safe::set_policy(Policy::Report);
/// assert_eq!(layer_safe::policy(), Policy::Report);
/// ```
pub fn set_policy(policy: Policy) {
    GLOBAL.store(policy.to_u8(), Relaxed);
}

/// The process-wide policy, ignoring any per-thread override.
#[inline]
pub(crate) fn global() -> Policy {
    Policy::from_u8(GLOBAL.load(Relaxed)).unwrap_or_else(resolve_default)
}

/// Cold: the first use without a `set_policy`. Reads the environment once.
#[cold]
#[inline(never)]
fn resolve_default() -> Policy {
    let policy = match Policy::from_env() {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => {
            // Not through `tracing`: this may run inside the logging path.
            // Printed once, since the default is stored below.
            eprintln!("layer-safe: {e}; using `{}`", Policy::default());
            Policy::default()
        }
    };
    // A concurrent `set_policy` wins over the default.
    match GLOBAL.compare_exchange(0, policy.to_u8(), Relaxed, Relaxed) {
        Ok(_) => policy,
        Err(set) => Policy::from_u8(set).unwrap_or(policy),
    }
}

/// The default slow-path budget: one millisecond in the logging path for one
/// event.
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_millis(1);

static BUDGET_NANOS: AtomicU64 = AtomicU64::new(DEFAULT_BUDGET.as_nanos() as u64);

/// Sets how long one event may spend in the logging path before it is
/// recorded as a [`SlowPath`](crate::ViolationKind::SlowPath) violation
/// (default: 1 ms).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// layer_safe::set_slow_path_budget(Duration::from_millis(5));
/// assert_eq!(layer_safe::slow_path_budget(), Duration::from_millis(5));
/// ```
pub fn set_slow_path_budget(budget: Duration) {
    let nanos = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
    BUDGET_NANOS.store(nanos, Relaxed);
}

/// The process-wide slow-path budget, ignoring any per-thread override.
pub(crate) fn global_budget() -> Duration {
    Duration::from_nanos(BUDGET_NANOS.load(Relaxed))
}
