//! The recursions a guard dropped: each distinct (outer, inner) pair of
//! call sites, with how often it recurred.

use std::fmt;

use crate::site::CallSite;

/// How many distinct (outer, inner) recursion pairs are remembered.
const MAX_RECURSION_PAIRS: usize = 64;

/// One distinct recursion: an event emitted by `inner` while the thread was
/// logging `outer`. Only the first of each distinct pair is remembered, with
/// a count of how often the pair recurred.
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # std::env::remove_var(layer_safe::Policy::ENV_VAR); // it would override Report
/// # let guard = layer_safe::builder().policy(layer_safe::Policy::Report).writer(std::io::sink()).try_init().unwrap();
/// struct Chatty; // a `Debug` that logs: the inner event is dropped, and counted
/// impl std::fmt::Debug for Chatty {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         tracing::info!("from inside Debug");
///         f.write_str("chatty")
///     }
/// }
/// tracing::info!(value = ?Chatty, "outer");
/// assert!(guard.flush(Duration::from_secs(5)));
/// let stats = guard.stats();
/// assert_eq!(stats.recursions.len(), 1);
/// for pair in &stats.recursions {
///     eprintln!("{pair}"); // "event at src/flags.rs:17 (target app::flags) emitted while logging event at src/handler.rs:42 (target app) (3 times)"
///     assert_eq!(pair.count, 1);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecursionPair {
    /// What was being logged when the recursion happened.
    pub outer: CallSite,
    /// The event (or span record) emitted from inside the logging path.
    pub inner: CallSite,
    /// How many times this pair recurred.
    pub count: u64,
}

impl fmt::Display for RecursionPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} emitted while logging {}", self.inner, self.outer)?;
        if self.count > 1 {
            write!(f, " ({} times)", self.count)?;
        }
        Ok(())
    }
}

/// The distinct recursion pairs, each with its count.
#[derive(Default)]
pub(super) struct Pairs {
    pub(super) list: Vec<RecursionPair>,
    /// The pair counted last: looked at first, since a recursion storm
    /// repeats one pair (each of its drops passes here).
    last: usize,
}

impl Pairs {
    pub(super) fn count(&mut self, outer: CallSite, inner: CallSite) {
        let same = |p: &RecursionPair| p.outer == outer && p.inner == inner;
        let at = match self.list.get(self.last) {
            Some(p) if same(p) => Some(self.last),
            _ => self.list.iter().position(same),
        };
        match at {
            Some(at) => {
                self.last = at;
                self.list[at].count += 1;
            }
            None if self.list.len() < MAX_RECURSION_PAIRS => {
                self.last = self.list.len();
                self.list.push(RecursionPair {
                    outer,
                    inner,
                    count: 1,
                });
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Counters;
    use super::*;
    use tracing_core::Level;

    #[test]
    fn recursion_pairs_are_each_counted_whatever_their_order() {
        let counters = Counters::default();
        let (a, b, c) = (
            CallSite::internal("a"),
            CallSite::internal("b"),
            CallSite::internal("c"),
        );
        // The pair counted last is looked at first: runs and switches.
        for (outer, inner) in [(a, b), (a, b), (b, c), (a, b), (b, c), (b, c)] {
            counters.recursion(outer, inner, Level::WARN);
        }
        let s = counters.snapshot();
        let count = |o: CallSite, i: CallSite| {
            s.recursions
                .iter()
                .find(|p| p.outer == o && p.inner == i)
                .map(|p| p.count)
        };
        assert_eq!((count(a, b), count(b, c)), (Some(3), Some(3)));
        assert_eq!((s.recursions.len(), s.dropped.recursion), (2, 6));
    }
}
