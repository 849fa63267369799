//! Each thread's state in the layer: its record buffer, its call-site
//! cache, the stack of spans it entered, each with its captured chain, and
//! the rate limit's buckets (`storm.rs`).
//!
//! `ctx.lookup_current()` walks the registry's slab and moves a reference
//! count up and down on every event (+50–70 ns). The registry's own stack
//! changes only in `enter` and `exit`, so this layer keeps a copy of it, in
//! `on_enter`/`on_exit`, and with each entry the span chain as captured
//! records carry it: made at the first event after the enter, and again
//! only after some span's fields were recorded (`JsonLayer::span_gen`).

use tracing_core::span::Id;

/// A captured chain not made yet.
const STALE: u64 = u64::MAX;

/// One entered span.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) id: u64,
    /// Entered again while already entered: as in the registry, not the
    /// current span (the one entered last before it stays current).
    duplicate: bool,
    /// The `span_gen` the chain was captured at, or [`STALE`].
    pub(crate) gen: u64,
    /// The chain, root first (see `record::write_span`).
    pub(crate) chain: Vec<u8>,
    /// The span's trace context; `None` until looked up after the enter.
    #[cfg(feature = "opentelemetry")]
    pub(crate) ids: Option<Option<crate::otel::Ids>>,
}

/// The spans this thread entered, innermost last. Frames above `depth` are
/// kept for their buffers, so entering allocates nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Stack {
    frames: Vec<Frame>,
    depth: usize,
}

impl Stack {
    pub(crate) fn enter(&mut self, id: &Id) {
        let id = id.into_u64();
        let duplicate = self.frames[..self.depth].iter().any(|f| f.id == id);
        if self.depth == self.frames.len() {
            self.frames.push(Frame {
                id,
                duplicate,
                gen: STALE,
                chain: Vec::new(),
                #[cfg(feature = "opentelemetry")]
                ids: None,
            });
        } else {
            let f = &mut self.frames[self.depth];
            f.id = id;
            f.duplicate = duplicate;
            f.gen = STALE;
            #[cfg(feature = "opentelemetry")]
            {
                f.ids = None;
            }
        }
        self.depth += 1;
    }

    /// Leaves the innermost entry of `id`, as the registry does.
    pub(crate) fn exit(&mut self, id: &Id) {
        let id = id.into_u64();
        let Some(at) = self.frames[..self.depth].iter().rposition(|f| f.id == id) else {
            return;
        };
        // Keep the frame's buffer: rotate it past the live ones.
        self.frames[at..self.depth].rotate_left(1);
        self.depth -= 1;
    }

    /// The current span's frame: the innermost not entered twice.
    #[inline]
    pub(crate) fn current(&mut self) -> Option<&mut Frame> {
        self.frames[..self.depth]
            .iter_mut()
            .rev()
            .find(|f| !f.duplicate)
    }
}

/// Call sites seen by this thread, and their index in the layer's table.
pub(crate) struct Sites {
    slots: [(usize, u32); SITE_SLOTS],
}

const SITE_SLOTS: usize = 64;

impl Default for Sites {
    fn default() -> Sites {
        Sites {
            slots: [(0, 0); SITE_SLOTS],
        }
    }
}

impl Sites {
    /// The cached index of the call site at address `addr`.
    #[inline]
    pub(crate) fn get(&self, addr: usize) -> Option<u32> {
        let (a, i) = self.slots[slot(addr)];
        (a == addr).then_some(i)
    }

    pub(crate) fn put(&mut self, addr: usize, index: u32) {
        self.slots[slot(addr)] = (addr, index);
    }
}

#[inline]
fn slot(addr: usize) -> usize {
    ((addr >> 3) ^ (addr >> 11)) % SITE_SLOTS
}

/// One thread's state in one layer.
#[derive(Default)]
pub(crate) struct Thread {
    pub(crate) record: Vec<u8>,
    pub(crate) sites: Sites,
    pub(crate) stack: Stack,
    /// The rate limit's buckets (empty without one).
    pub(crate) buckets: super::storm::Buckets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_entered_again_does_not_become_current() {
        let mut s = Stack::default();
        for id in [1, 2, 1] {
            s.enter(&Id::from_u64(id));
        }
        // As the registry's stack: 2 stays current until it is left.
        assert_eq!(s.current().map(|f| f.id), Some(2));
        s.exit(&Id::from_u64(1));
        assert_eq!(s.current().map(|f| f.id), Some(2));
        s.exit(&Id::from_u64(2));
        assert_eq!(s.current().map(|f| f.id), Some(1));
    }

    #[test]
    fn exit_leaves_the_innermost_entry_of_its_id() {
        let mut s = Stack::default();
        for id in [1, 2, 1, 3] {
            s.enter(&Id::from_u64(id));
        }
        s.exit(&Id::from_u64(1));
        assert_eq!(s.current().map(|f| f.id), Some(3));
        s.exit(&Id::from_u64(3));
        assert_eq!(s.current().map(|f| f.id), Some(2));
        s.exit(&Id::from_u64(9)); // never entered: nothing
        s.exit(&Id::from_u64(2));
        assert_eq!(s.current().map(|f| f.id), Some(1));
        s.exit(&Id::from_u64(1));
        assert!(s.current().is_none());
    }
}
