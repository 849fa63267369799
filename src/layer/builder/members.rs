//! Which members each line carries: event and span fields flattened or
//! nested, the current span and the span list, target, file, line and the
//! thread.

use super::JsonLayerBuilder;

impl JsonLayerBuilder {
    /// Puts the event's fields in the root object instead of under
    /// `"fields"`. A field named like a key of the format (`level`,
    /// `target`, a static field, ...) is renamed (`level.1`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// // {"timestamp":"...","level":"INFO","message":"hi","user_id":42,"target":"app"}
    /// let layer = layer_safe::JsonLayer::builder(sink).flatten_event(true).build();
    /// let line = run(layer, &|| tracing::info!(user_id = 42, "hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!((&v["message"], &v["user_id"]), (&"hi".into(), &42.into()));
    /// assert!(v.get("fields").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flatten_event(mut self, flatten: bool) -> Self {
        self.cfg.flatten_event = flatten;
        self
    }

    /// Also puts the fields of every span of the event, from the root span
    /// down, in the root object (after the event's fields). A field met
    /// twice (two spans with an `id`) is renamed the second time (`id.1`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .flatten_event(true)
    ///     .flatten_span_fields(true)
    ///     .with_current_span(false)
    ///     .with_span_list(false)
    ///     .build();
    /// let line = run(layer, &|| {
    ///     let _span = tracing::info_span!("request", method = "GET").entered();
    ///     tracing::info!("hi");
    /// });
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!((&v["message"], &v["method"]), (&"hi".into(), &"GET".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flatten_span_fields(mut self, flatten: bool) -> Self {
        self.cfg.flatten_spans = flatten;
        self
    }

    /// The innermost span of the event as `"span"` (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_current_span(false).build();
    /// let line = run(layer, &|| {
    ///     let _span = tracing::info_span!("request").entered();
    ///     tracing::info!("hi");
    /// });
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v.get("span").is_none());
    /// assert_eq!(v["spans"][0]["name"], "request");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_current_span(mut self, on: bool) -> Self {
        self.cfg.current_span = on;
        self
    }

    /// Every span of the event, root first, as `"spans"` (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_span_list(false).build();
    /// let line = run(layer, &|| {
    ///     let _span = tracing::info_span!("request").entered();
    ///     tracing::info!("hi");
    /// });
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v.get("spans").is_none());
    /// assert_eq!(v["span"]["name"], "request");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_span_list(mut self, on: bool) -> Self {
        self.cfg.span_list = on;
        self
    }

    /// The event's target as `"target"` (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_target(false).build();
    /// let line = run(layer, &|| tracing::info!(target: "app", "hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v.get("target").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_target(mut self, on: bool) -> Self {
        self.cfg.target = on;
        self
    }

    /// The source file as `"filename"` (off by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink)
    ///     .with_file(true)
    ///     .with_line_number(true)
    ///     .build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v["filename"].is_string() && v["line_number"].is_u64());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_file(mut self, on: bool) -> Self {
        self.cfg.file = on;
        self
    }

    /// The source line as `"line_number"` (off by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_line_number(true).build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v["line_number"].is_u64());
    /// assert!(v.get("filename").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_line_number(mut self, on: bool) -> Self {
        self.cfg.line = on;
        self
    }

    /// The thread's name as `"threadName"` (off by default). An unnamed
    /// thread shows its id there unless ids are on too, as in `fmt`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_thread_names(true).build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert_eq!(v["threadName"], "main");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_thread_names(mut self, on: bool) -> Self {
        self.cfg.thread_name = on;
        self
    }

    /// The thread's id as `"threadId"` (`"ThreadId(7)"`; off by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tracing_subscriber::prelude::*;
    /// # use layer_safe::GuardedExt as _;
    /// # use layer_safe::testing::Output as Buf;
    /// # let out = Buf::default();
    /// # let (sink, guard) = layer_safe::Sink::builder().writer(out.clone()).build().unwrap();
    /// # let run = |layer: layer_safe::JsonLayer, f: &dyn Fn()| -> String {
    /// #     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).guarded(), f);
    /// #     assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// #     out.text()
    /// # };
    /// let layer = layer_safe::JsonLayer::builder(sink).with_thread_ids(true).build();
    /// let line = run(layer, &|| tracing::info!("hi"));
    /// let v: serde_json::Value = serde_json::from_str(&line)?;
    /// assert!(v["threadId"].as_str().unwrap().starts_with("ThreadId("));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_thread_ids(mut self, on: bool) -> Self {
        self.cfg.thread_id = on;
        self
    }
}
