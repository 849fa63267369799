//! The bounded async sink: callers hand records over to their own thread's
//! lane, one background thread formats and writes them. Its handle,
//! [`Sink`](crate::Sink), and its [`FlushGuard`](crate::FlushGuard) are at
//! the crate's root; here are its builder, its options and its writers.
//!
//! # Guarantees
//!
//! - **The caller never blocks** (with the default [`Overflow::DropNewest`]):
//!   [`Sink::submit`](crate::Sink::submit) takes no lock, makes no syscall and allocates nothing
//!   in the steady state; it writes only its own thread's lane, so on the
//!   common path no cache line is written by both a caller and the worker.
//! - **Memory is bounded** in total, whatever the number of threads: each
//!   thread's lane holds at most [`SinkBuilder::capacity`] records, its ring
//!   grows only as far as the global [`SinkBuilder::byte_budget`] pays for,
//!   and one record is at most [`SinkBuilder::max_record`] bytes.
//! - **Every record is accounted for**: it is written, dropped with a
//!   [`DropReason`](crate::DropReason), or still in flight, and
//!   `submitted == written + dropped.total() + in_flight` holds at every
//!   [`Stats`](crate::Stats) snapshot.
//! - **Order and fairness**: one thread's records are written in the order
//!   it logged them; the worker takes a bounded batch from each lane in
//!   turn, so under overload every thread gets its share of the writer.
//! - **Drops are reported in the log itself**: after drops, the worker writes
//!   one record such as
//!   `{"timestamp":"…","level":"WARN","fields":{"message":"events dropped","queue_full":1234,"shed":56},"target":"layer_safe"}`
//!   as soon as it can (at most one a second while drops go on).
//! - **Writer failures stay contained**: errors and panics are counted,
//!   reported on stderr (rate-limited), retried with back-off; the host never
//!   sees them.
//! - **Shutdown never hangs**: [`FlushGuard`](crate::FlushGuard) drains within its deadline and
//!   says on stderr how many records it could not write.

pub use crate::sink_core::writers;
pub use crate::sink_core::{ConfigError, Overflow, SinkBuilder, SinkWriter};
