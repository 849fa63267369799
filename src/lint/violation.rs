//! [`Violation`]s, and [`ViolationSet`], the bounded store of distinct ones
//! behind both the process-wide report and a test's capture.

use std::fmt;
use std::time::Duration;

use crate::site::CallSite;

/// How many distinct violations a store keeps; later distinct ones are only
/// counted, so a bug in a loop cannot grow memory.
pub(crate) const MAX_DISTINCT: usize = 64;

/// What went wrong, and where: every kind names the call site that did it and
/// what the thread was logging at the time.
///
/// # Examples
///
/// ```
/// use layer_safe::ViolationKind;
///
/// let captured = layer_safe::testing::capture(|| {
///     struct AsksFlags;
///     impl std::fmt::Debug for AsksFlags {
///         fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///             let on = layer_safe::external_call("flags").is_ok();
///             write!(f, "{on}")
///         }
///     }
///     tracing::info!(x = ?AsksFlags, "hello");
/// });
/// match &captured.violations.distinct[0].kind {
///     ViolationKind::ExternalCall { system, call, logging } => {
///         assert_eq!(*system, "flags");
///         assert_eq!(call.file(), Some(file!()));
///         assert!(logging.name().starts_with("event"));
///     }
///     other => panic!("unexpected {other}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// An event (or span record) emitted from inside the logging path; the
    /// guard dropped it.
    Recursion {
        /// What the thread was logging.
        outer: CallSite,
        /// The event emitted while logging it.
        inner: CallSite,
    },
    /// [`external_call`](crate::external_call) from inside the logging path;
    /// the call was refused.
    ExternalCall {
        /// The external system's name, as the client gave it.
        system: &'static str,
        /// Where `external_call` was called.
        call: CallSite,
        /// What the thread was logging.
        logging: CallSite,
    },
    /// [`assert_not_in_logging_path!`](crate::assert_not_in_logging_path)
    /// failed.
    Assertion {
        /// The name given to the macro, if any.
        system: Option<&'static str>,
        /// Where the macro was invoked.
        call: CallSite,
        /// What the thread was logging.
        logging: CallSite,
    },
    /// One event spent longer than the budget in the logging path (a slow
    /// `Debug`, a layer or writer doing I/O).
    SlowPath {
        /// The event's call site.
        site: CallSite,
        /// The longest time seen for this call site.
        elapsed: Duration,
        /// The budget in force.
        budget: Duration,
    },
}

impl ViolationKind {
    /// A stable snake_case name for reports: `"recursion"`,
    /// `"external_call"`, `"assertion"` or `"slow_path"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use layer_safe::{CallSite, ViolationKind};
    ///
    /// let here = CallSite::caller();
    /// let kind = ViolationKind::Recursion { outer: here, inner: here };
    /// assert_eq!(kind.name(), "recursion");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            ViolationKind::Recursion { .. } => "recursion",
            ViolationKind::ExternalCall { .. } => "external_call",
            ViolationKind::Assertion { .. } => "assertion",
            ViolationKind::SlowPath { .. } => "slow_path",
        }
    }

    /// Two occurrences are the same violation when everything but the time
    /// taken matches.
    fn same_as(&self, other: &ViolationKind) -> bool {
        use ViolationKind::*;
        match (self, other) {
            (
                SlowPath { site, budget, .. },
                SlowPath {
                    site: s2,
                    budget: b2,
                    ..
                },
            ) => site == s2 && budget == b2,
            _ => self == other,
        }
    }

    /// A cheap digest of what [`same_as`](Self::same_as) compares (lines,
    /// lengths, a byte of each name): the same violation always has the
    /// same key, so a full store compares strings only where keys match.
    /// Once 64 distinct ones are kept, every recursion the guard drops is
    /// looked up among all of them.
    fn key(&self) -> u64 {
        use ViolationKind::*;
        let (tag, sites, extra) = match self {
            Recursion { outer, inner } => (0, [outer, inner], 0),
            ExternalCall {
                system,
                call,
                logging,
            } => (1, [call, logging], digest(system)),
            Assertion {
                system,
                call,
                logging,
            } => (2, [call, logging], system.map_or(u64::MAX, digest)),
            SlowPath { site, budget, .. } => (3, [site, site], budget.as_nanos() as u64),
        };
        let mut h = mix(tag, extra);
        for site in sites {
            h = mix(h, u64::from(site.line().unwrap_or(u32::MAX)));
            h = mix(h, digest(site.name()));
            h = mix(
                h,
                digest(site.target()) ^ site.file().map_or(u64::MAX, digest),
            );
        }
        h
    }

    /// Folds a repeat occurrence into the one kept: a slow path keeps the
    /// longest time seen.
    fn merge(&mut self, other: &ViolationKind) {
        if let (
            ViolationKind::SlowPath { elapsed, .. },
            ViolationKind::SlowPath { elapsed: e2, .. },
        ) = (self, other)
        {
            *elapsed = (*elapsed).max(*e2);
        }
    }
}

/// FNV-1a's step over one word.
#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x0100_0000_01b3)
}

/// A string's length and last byte: enough to tell most call sites apart
/// without reading the string.
#[inline]
fn digest(s: &str) -> u64 {
    (s.len() as u64) << 8 | u64::from(s.as_bytes().last().copied().unwrap_or(0))
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViolationKind::Recursion { outer, inner } => write!(
                f,
                "recursion: {inner} was emitted while logging {outer} (dropped)"
            ),
            ViolationKind::ExternalCall {
                system,
                call,
                logging,
            } => write!(
                f,
                "external call to `{system}` from the logging path (refused): \
                 {call}, while logging {logging}"
            ),
            ViolationKind::Assertion {
                system,
                call,
                logging,
            } => {
                f.write_str("assert_not_in_logging_path!(")?;
                if let Some(system) = system {
                    write!(f, "{system:?}")?;
                }
                write!(f, ") failed: {call}, while logging {logging}")
            }
            ViolationKind::SlowPath {
                site,
                elapsed,
                budget,
            } => write!(
                f,
                "slow path: logging {site} took {elapsed:?} (budget {budget:?})"
            ),
        }
    }
}

/// One distinct violation and how often it happened.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let strict = layer_safe::testing::Check::new().slow_path_budget(Duration::from_millis(1));
/// let captured = strict.capture(|| {
///     struct Slow;
///     impl std::fmt::Debug for Slow {
///         fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///             std::thread::sleep(std::time::Duration::from_millis(5));
///             f.write_str("slow")
///         }
///     }
///     tracing::info!(x = ?Slow);
/// });
/// let v = &captured.violations.distinct[0];
/// assert_eq!(v.kind.name(), "slow_path");
/// assert_eq!(v.count, 1);
/// assert!(v.to_string().starts_with("slow path: logging event at "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// What happened, and where.
    pub kind: ViolationKind,
    /// How many times it happened (while it was kept).
    pub count: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)?;
        if self.count > 1 {
            write!(f, " ({} times)", self.count)?;
        }
        Ok(())
    }
}

/// A report: the distinct violations kept, and how many there were in all.
///
/// [`violations()`](crate::violations) returns the process-wide one;
/// [`testing::Captured`](crate::testing::Captured) holds the one of a single
/// test closure. Its `Display` is a readable, numbered list.
///
/// # Examples
///
/// ```
/// let report = layer_safe::violations();
/// for v in &report {
///     eprintln!("{v}");
/// }
/// assert!(report.total >= report.distinct.len() as u64);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violations {
    /// The first distinct violations (at most 64), in the order first seen.
    pub distinct: Vec<Violation>,
    /// Every violation counted, repeats and those not kept included.
    pub total: u64,
    /// Violations not kept because the store already held 64 distinct ones.
    pub not_kept: u64,
}

impl Violations {
    /// `true` when nothing was counted.
    ///
    /// # Examples
    ///
    /// ```
    /// let captured = layer_safe::testing::capture(|| tracing::info!("fine"));
    /// assert!(captured.violations.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The distinct violations kept.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Flag; // a `Display` that calls out while logging
    /// impl std::fmt::Display for Flag {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         let _ = layer_safe::external_call("flags");
    ///         f.write_str("off")
    ///     }
    /// }
    /// let report = layer_safe::testing::capture(|| tracing::info!(flag = %Flag)).violations;
    /// let calls = report.iter().filter(|v| v.kind.name() == "external_call").count();
    /// assert_eq!(calls, 1);
    /// let slow = report.iter().filter(|v| v.kind.name() == "slow_path").count();
    /// assert_eq!(slow, 0);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.distinct.iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no layer-safe violations");
        }
        write!(
            f,
            "{} layer-safe violation{} ({} distinct):",
            self.total,
            if self.total == 1 { "" } else { "s" },
            self.distinct.len()
        )?;
        for (i, v) in self.distinct.iter().enumerate() {
            write!(f, "\n  {}. {v}", i + 1)?;
        }
        if self.not_kept > 0 {
            write!(
                f,
                "\n  ... and {} more not kept (the first {MAX_DISTINCT} distinct ones are)",
                self.not_kept
            )?;
        }
        Ok(())
    }
}

struct Entry {
    violation: Violation,
    /// `violation.kind.key()`, compared before the kind itself.
    key: u64,
    /// Written to the log stream already (process-wide store only).
    reported: bool,
}

/// The bounded store of distinct violations.
#[derive(Default)]
pub(crate) struct ViolationSet {
    entries: Vec<Entry>,
    /// The entry the last occurrence was counted in: looked at first, since
    /// a violation seldom comes alone (a recursion storm repeats one pair).
    last: usize,
    total: u64,
    not_kept: u64,
}

impl ViolationSet {
    pub(crate) const fn new() -> ViolationSet {
        ViolationSet {
            entries: Vec::new(),
            last: 0,
            total: 0,
            not_kept: 0,
        }
    }

    /// Counts one occurrence; `true` when it is a new distinct violation
    /// (one not reported yet).
    pub(crate) fn add(&mut self, kind: ViolationKind) -> bool {
        self.total += 1;
        let key = kind.key();
        let same = |e: &Entry| e.key == key && e.violation.kind.same_as(&kind);
        let at = match self.entries.get(self.last) {
            Some(e) if same(e) => Some(self.last),
            _ => self.entries.iter().position(same),
        };
        if let Some(at) = at {
            self.last = at;
            let e = &mut self.entries[at];
            e.violation.count += 1;
            e.violation.kind.merge(&kind);
            return false;
        }
        if self.entries.len() >= MAX_DISTINCT {
            self.not_kept += 1;
            return false;
        }
        self.entries.push(Entry {
            violation: Violation { kind, count: 1 },
            key,
            reported: false,
        });
        true
    }

    /// The report, as it stands.
    pub(crate) fn snapshot(&self) -> Violations {
        Violations {
            distinct: self.entries.iter().map(|e| e.violation.clone()).collect(),
            total: self.total,
            not_kept: self.not_kept,
        }
    }

    /// The distinct violations not reported yet, marked reported.
    pub(crate) fn take_unreported(&mut self) -> Vec<Violation> {
        self.entries
            .iter_mut()
            .filter(|e| !e.reported)
            .map(|e| {
                e.reported = true;
                e.violation.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(ms: u64) -> ViolationKind {
        ViolationKind::SlowPath {
            site: CallSite::internal("x"),
            elapsed: Duration::from_millis(ms),
            budget: Duration::from_millis(1),
        }
    }

    #[test]
    fn interleaved_violations_are_each_counted_in_their_own_entry() {
        let rec = |o, i| ViolationKind::Recursion {
            outer: CallSite::internal(o),
            inner: CallSite::internal(i),
        };
        let mut set = ViolationSet::new();
        // The entry counted last is looked at first: runs and switches.
        for (o, i) in [("a", "b"), ("a", "b"), ("c", "d"), ("a", "b"), ("c", "d")] {
            set.add(rec(o, i));
        }
        let r = set.snapshot();
        let count = |k: &ViolationKind| r.iter().find(|v| v.kind == *k).map(|v| v.count);
        assert_eq!(count(&rec("a", "b")), Some(3));
        assert_eq!(count(&rec("c", "d")), Some(2));
        assert_eq!((r.distinct.len(), r.total), (2, 5));
    }

    #[test]
    fn distinct_bounded_and_counted() {
        let mut set = ViolationSet::new();
        assert!(set.add(slow(2)));
        assert!(!set.add(slow(7)));
        assert!(!set.add(slow(3)));
        let r = set.snapshot();
        assert_eq!(r.distinct.len(), 1);
        assert_eq!(r.distinct[0].count, 3);
        assert_eq!(r.distinct[0].kind, slow(7), "the longest time is kept");
        for i in 0..MAX_DISTINCT + 10 {
            let name: &'static str = Box::leak(format!("sys{i}").into_boxed_str());
            set.add(ViolationKind::Assertion {
                system: Some(name),
                call: CallSite::internal("c"),
                logging: CallSite::internal("l"),
            });
        }
        let r = set.snapshot();
        assert_eq!(r.distinct.len(), MAX_DISTINCT);
        assert_eq!(r.not_kept, 11);
        assert_eq!(r.total, 3 + MAX_DISTINCT as u64 + 10);
        assert!(r.to_string().contains("11 more not kept"));
    }

    #[test]
    fn equal_keys_are_still_compared() {
        // Same lengths, same last bytes: the keys match, the kinds do not.
        let mut set = ViolationSet::new();
        let rec = |a, b| ViolationKind::Recursion {
            outer: CallSite::internal(a),
            inner: CallSite::internal(b),
        };
        assert_eq!(rec("xa", "b").key(), rec("ya", "b").key());
        assert!(set.add(rec("xa", "b")));
        assert!(set.add(rec("ya", "b")));
        assert!(!set.add(rec("xa", "b")));
        assert_eq!(slow(2).key(), slow(7).key(), "elapsed is not compared");
        let r = set.snapshot();
        assert_eq!(r.distinct.len(), 2);
        assert_eq!(r.distinct[0].count, 2);
    }

    #[test]
    fn each_distinct_reported_once() {
        let mut set = ViolationSet::new();
        set.add(slow(2));
        assert_eq!(set.take_unreported().len(), 1);
        set.add(slow(2));
        assert!(set.take_unreported().is_empty());
        set.add(ViolationKind::Recursion {
            outer: CallSite::internal("a"),
            inner: CallSite::internal("b"),
        });
        assert_eq!(set.take_unreported().len(), 1);
    }
}
