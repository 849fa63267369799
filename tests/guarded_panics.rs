//! A panic inside the wrapped subscriber is contained and
//! counted, the span it happened on goes inert, the host keeps running.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use layer_safe::{DropReason, GuardedExt};
use tracing::span;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Which callback panics.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Callback {
    NewSpan,
    Enter,
    Exit,
    Record,
    Event,
    Close,
}

/// Panics in one callback, and counts how often each one ran.
struct Bomb {
    at: Callback,
    calls: Arc<AtomicUsize>,
}

impl Bomb {
    fn hit(&self, here: Callback) {
        if here == self.at {
            self.calls.fetch_add(1, Relaxed);
            panic!("the layer panicked in {here:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Bomb {
    fn on_new_span(&self, _: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
        self.hit(Callback::NewSpan)
    }
    fn on_enter(&self, _: &span::Id, _: Context<'_, S>) {
        self.hit(Callback::Enter)
    }
    fn on_exit(&self, _: &span::Id, _: Context<'_, S>) {
        self.hit(Callback::Exit)
    }
    fn on_record(&self, _: &span::Id, _: &span::Record<'_>, _: Context<'_, S>) {
        self.hit(Callback::Record)
    }
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.hit(Callback::Event)
    }
    fn on_close(&self, _: span::Id, _: Context<'_, S>) {
        self.hit(Callback::Close)
    }
}

/// Runs a span's whole life twice (enter and exit twice each, a record
/// twice, an event inside), with the layer panicking at `at`.
fn run(at: Callback) -> (layer_safe::Stats, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = Bomb {
        at,
        calls: calls.clone(),
    };
    let subscriber = tracing_subscriber::registry().with(layer).guarded();
    let stats = subscriber.stats_handle();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", user = tracing::field::Empty);
        for _ in 0..2 {
            let entered = span.enter();
            span.record("user", 42);
            tracing::info!("inside");
            drop(entered);
        }
        drop(span);
        tracing::info!("the host goes on");
    });
    (stats.snapshot(), calls.load(Relaxed))
}

#[test]
fn a_panic_in_each_callback_is_contained_and_counted() {
    // Quiet: the default hook would print every contained panic.
    std::panic::set_hook(Box::new(|_| {}));
    for at in [
        Callback::NewSpan,
        Callback::Enter,
        Callback::Exit,
        Callback::Record,
        Callback::Event,
        Callback::Close,
    ] {
        let (stats, panics) = run(at);
        assert!(panics > 0, "{at:?} never ran");
        assert_eq!(
            stats.dropped.get(DropReason::InnerPanic),
            panics as u64,
            "{at:?}: each panic counted once: {stats:?}"
        );
        assert_eq!(stats.dropped.inner_panic, stats.dropped.total(), "{at:?}");
        assert_eq!(stats.submitted, stats.dropped.total() + stats.in_flight);
        let expected = match at {
            // No span behind the id: enter, exit, record skip the stack.
            Callback::NewSpan => 1,
            // Inert after the first panic: the second round skips it.
            Callback::Enter | Callback::Exit | Callback::Record => 1,
            // Events are not tied to a span: each of the three panics.
            Callback::Event => 3,
            // Closing still reaches the registry, once.
            Callback::Close => 1,
        };
        assert_eq!(panics, expected, "{at:?}");
    }
    let _ = std::panic::take_hook();
}
