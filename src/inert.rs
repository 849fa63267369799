//! Spans the inner stack panicked on: later calls for them skip
//! it, so one broken span costs one contained panic, not one per call.
//!
//! A small bounded set: when more than [`SLOTS`] spans are inert at once,
//! the oldest is forgotten (its later calls reach the inner stack again,
//! contained as before). The check on the hot path (`enter`, `exit`,
//! `record`) is one relaxed load while no span is inert.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use tracing_core::span::Id;

/// The id [`Guarded`](crate::Guarded) hands out when `new_span` panicked:
/// there is no span behind it, so every call for it skips the inner stack.
/// The registry numbers spans from 1 up and never gets near it.
pub(crate) const NO_SPAN: u64 = u64::MAX;

/// How many inert spans are remembered at once.
pub(crate) const SLOTS: usize = 64;

#[derive(Default)]
pub(crate) struct InertSpans {
    /// How many ids `ids` holds: zero on the common path.
    len: AtomicUsize,
    ids: Mutex<Vec<u64>>,
}

impl InertSpans {
    /// Whether calls for `id` skip the inner stack.
    #[inline]
    pub(crate) fn contains(&self, id: &Id) -> bool {
        let id = id.into_u64();
        id == NO_SPAN || (self.len.load(Relaxed) > 0 && self.contains_slow(id))
    }

    #[cold]
    fn contains_slow(&self, id: u64) -> bool {
        self.lock().contains(&id)
    }

    /// Marks `id` inert, forgetting the oldest when full.
    #[cold]
    pub(crate) fn insert(&self, id: &Id) {
        let id = id.into_u64();
        let mut ids = self.lock();
        if id == NO_SPAN || ids.contains(&id) {
            return;
        }
        if ids.len() == SLOTS {
            ids.remove(0);
        }
        ids.push(id);
        self.len.store(ids.len(), Relaxed);
    }

    /// Forgets `id`: the span closed, and the registry may reuse its id.
    #[inline]
    pub(crate) fn remove(&self, id: &Id) {
        if self.len.load(Relaxed) > 0 {
            self.remove_slow(id.into_u64());
        }
    }

    #[cold]
    fn remove_slow(&self, id: u64) {
        let mut ids = self.lock();
        ids.retain(|i| *i != id);
        self.len.store(ids.len(), Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        // Poisoned only if a thread panicked holding it, between two plain
        // `Vec` operations: the contents are still a valid set.
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_forgets_the_oldest() {
        let set = InertSpans::default();
        assert!(!set.contains(&Id::from_u64(1)));
        assert!(set.contains(&Id::from_u64(NO_SPAN)));
        for i in 1..=SLOTS as u64 + 1 {
            set.insert(&Id::from_u64(i));
        }
        assert!(!set.contains(&Id::from_u64(1)), "the oldest is forgotten");
        assert!(set.contains(&Id::from_u64(2)));
        set.remove(&Id::from_u64(2));
        assert!(!set.contains(&Id::from_u64(2)));
        assert_eq!(set.lock().len(), SLOTS - 1);
    }
}
