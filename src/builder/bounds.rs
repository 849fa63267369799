//! The builder's bounds for the sink: capacity, byte budget, record size,
//! overflow policy, shedding and the shutdown deadline.

use std::time::Duration;

use super::Builder;
use crate::sink_core::Overflow;

impl Builder {
    /// The most records queued per thread (default 1 Mi; the byte budget
    /// usually binds first).
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// let (dispatch, guard) = layer_safe::builder().capacity(2).writer(held).build().unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::warn!("first");
    ///     entered.recv().unwrap(); // the worker is writing it, and waits
    ///     for _ in 0..4 {
    ///         tracing::warn!("queued, or dropped"); // two fit
    ///     }
    /// });
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().dropped.queue_full, 2);
    /// ```
    pub fn capacity(mut self, records: usize) -> Self {
        self.sink = self.sink.capacity(records);
        self
    }

    /// The most bytes queued (default 64 MiB).
    ///
    /// ```
    /// use layer_safe::{sink::ConfigError, InitError};
    /// let builder = layer_safe::builder().writer(std::io::sink());
    /// assert!(builder.byte_budget(16 << 20).build().is_ok());
    ///
    /// // The budget must hold at least one record of the largest size.
    /// let small = layer_safe::builder().max_record(4096).byte_budget(1024).build();
    /// assert!(matches!(small, Err(InitError::Sink(ConfigError::ByteBudget { got: 1024, .. }))));
    /// ```
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.sink = self.sink.byte_budget(bytes);
        self
    }

    /// The largest record (default 64 KiB); longer fields are cut to fit.
    ///
    /// ```
    /// # use layer_safe::testing::Output as Buf;
    /// # use std::time::Duration;
    /// # let out = Buf::default();
    /// let (dispatch, guard) = layer_safe::builder().max_record(16 << 10).writer(out.clone()).build().unwrap();
    /// let huge = "x".repeat(100_000);
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!(%huge, "big"));
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// let line = out.text();
    /// assert!(line.len() <= 16 << 10 && line.contains("truncated"));
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
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .capacity(1)
    ///     .overflow(Overflow::Block { timeout: Duration::from_millis(5) })
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::warn!("first");
    ///     entered.recv().unwrap(); // the writer is held
    ///     tracing::warn!("queued");
    ///     tracing::warn!("waits 5 ms for room, then is dropped");
    /// });
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().dropped.queue_full, 1);
    /// ```
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.sink = self.sink.overflow(overflow);
        self
    }

    /// Above this percentage of the capacity or byte budget, events below
    /// `WARN` are shed (default 80).
    ///
    /// ```
    /// # use std::sync::mpsc;
    /// # struct Held(Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>);
    /// # impl std::io::Write for Held {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    /// #         if let Some((entered, go)) = self.0.take() { entered.send(()).ok(); go.recv().ok(); }
    /// #         Ok(b.len())
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # let ((entered_tx, entered), (go, go_rx)) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    /// # let held = Held(Some((entered_tx, go_rx))); // its first write waits for `go`
    /// # use std::time::Duration;
    /// let (dispatch, guard) = layer_safe::builder()
    ///     .capacity(10)
    ///     .high_water_mark(50)
    ///     .writer(held)
    ///     .build()
    ///     .unwrap();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info!("first");
    ///     entered.recv().unwrap(); // the writer is held: the queue fills
    ///     for _ in 0..8 {
    ///         tracing::info!("shed once 5 are queued");
    ///     }
    ///     tracing::warn!("still queued");
    /// });
    /// go.send(()).unwrap();
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// let stats = guard.stats();
    /// assert_eq!((stats.dropped.shed, stats.dropped_by_level.warn), (3, 0));
    /// ```
    pub fn high_water_mark(mut self, percent: u8) -> Self {
        self.sink = self.sink.high_water_mark(percent);
        self
    }

    /// How long dropping the [`FlushGuard`](crate::FlushGuard) waits for queued records
    /// (default 1 s); what is not written by then is reported lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// let guard = layer_safe::builder()
    ///     .flush_deadline(Duration::from_secs(5))
    ///     .writer(std::io::sink())
    ///     .try_init()
    ///     .unwrap();
    /// tracing::info!("queued");
    /// drop(guard); // writes it, waiting at most 5 s
    /// assert_eq!(layer_safe::stats().unwrap().written, 1);
    /// ```
    pub fn flush_deadline(mut self, deadline: Duration) -> Self {
        self.sink = self.sink.flush_deadline(deadline);
        self
    }
}
