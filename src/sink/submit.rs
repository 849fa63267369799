//! The caller's path: size limit, shedding, byte budget, overflow policies.
//!
//! Every submit is counted as submitted first, then gets exactly one
//! outcome: queued (later written or dropped by the worker or the guard), or
//! dropped here with a reason. Whoever takes a record out of the queue (the
//! worker, a `DropOldest` producer, the guard at shutdown) subtracts its bytes
//! from the byte budget.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, TrySendError};
use tracing_core::Level;

use super::{report, Overflow, Record, Sink};
use crate::stats::DropReason;

/// How many times a `DropOldest` submit steals and retries before giving up
/// (other producers can refill the freed slot first).
const STEAL_ATTEMPTS: usize = 8;
/// How many queued records one `DropOldest` submit may evict to fit in the
/// byte budget (a 64 KiB record among 100-byte ones needs hundreds).
const MAX_EVICTIONS: usize = 1024;

impl Sink {
    /// Submits one encoded record: one line, ending in `\n` (added when
    /// missing; an empty record writes nothing and counts as written).
    /// Never blocks with the default overflow policy.
    ///
    /// The record is counted as submitted, then as exactly one outcome:
    /// written by the worker, or dropped with a reason. A record longer than
    /// [`max_record`](Self::max_record) is cut with a visible marker (a JSON
    /// record becomes a valid JSON record holding an escaped prefix).
    ///
    /// # Errors
    ///
    /// The [`DropReason`] when the record was dropped here (it is already
    /// counted; the error is for callers that want to react).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_core::Level;
    /// # let (sink, _guard) = layer_safe::Sink::builder().writer(std::io::sink()).build().unwrap();
    /// let mut record = sink.buffer();
    /// record.extend_from_slice(b"{\"level\":\"ERROR\",\"fields\":{\"message\":\"disk full\"}}\n");
    /// if let Err(reason) = sink.submit(Level::ERROR, record) {
    ///     eprintln!("dropped: {}", reason.as_str());
    /// }
    /// ```
    #[inline]
    pub fn submit(&self, level: Level, mut record: Vec<u8>) -> Result<(), DropReason> {
        let s = &*self.shared;
        // Before any outcome (see `Counters::snapshot`).
        s.counters.submitted();
        if s.closed.load(Relaxed) {
            // The guard is gone: nothing will read the queue.
            s.counters.dropped(DropReason::Shutdown, level);
            s.recycle(record);
            self.warn_closed();
            return Err(DropReason::Shutdown);
        }
        if record.len() > s.limits.max_record || record.last() != Some(&b'\n') {
            if record.is_empty() {
                // Nothing to write: not a blank line, which is no JSON.
                s.counters.written(1, 0);
                s.recycle(record);
                return Ok(());
            }
            record = self.fit(level, record)?;
        }
        let len = record.len();
        let queued = s.queued_bytes.fetch_add(len, Relaxed) + len;
        if level > Level::WARN
            && (queued > s.limits.high_water_bytes || s.tx.len() >= s.limits.high_water_records)
        {
            return Err(self.reject(level, record, DropReason::Shed));
        }
        let rec = Record { level, buf: record };
        let sent = match s.limits.overflow {
            Overflow::DropNewest => self.drop_newest(rec, queued),
            Overflow::DropOldest => self.drop_oldest(rec, queued),
            Overflow::Block { timeout } => self.block(rec, queued, timeout),
        };
        // Checked after the send: if the guard closed the queue meanwhile,
        // either it drained this record or this sees `closed` (both sides are
        // SeqCst: the send's tail update and the guard's fenced emptiness
        // check) and drains it here. Still `Ok`: the record was queued, and
        // the worker may have written it before it stopped; whichever way it
        // went (written, or drained as `Shutdown`) is counted where it
        // happened. `Err` says only "dropped here, never queued".
        if sent.is_ok() && s.closed.load(SeqCst) {
            self.drain_closed();
        }
        sent
    }

    /// Makes an oversize or unterminated record fit: cold.
    #[cold]
    fn fit(&self, level: Level, mut record: Vec<u8>) -> Result<Vec<u8>, DropReason> {
        let s = &*self.shared;
        if record.last() != Some(&b'\n') {
            record.push(b'\n');
        }
        if record.len() <= s.limits.max_record {
            return Ok(record);
        }
        let mut out = self.buffer();
        if report::truncate(&record, level, s.limits.max_record, &mut out) {
            s.counters.truncated();
            s.recycle(record);
            Ok(out)
        } else {
            s.recycle(out);
            s.counters.dropped(DropReason::Oversize, level);
            s.recycle(record);
            Err(DropReason::Oversize)
        }
    }

    /// Drops a record that holds a byte reservation: releases it, counts the
    /// drop, and hands the buffer back to the pool.
    #[inline]
    fn reject(&self, level: Level, buf: Vec<u8>, reason: DropReason) -> DropReason {
        let s = &*self.shared;
        s.queued_bytes.fetch_sub(buf.len(), Relaxed);
        s.counters.dropped(reason, level);
        s.recycle(buf);
        reason
    }

    #[inline]
    fn drop_newest(&self, rec: Record, queued: usize) -> Result<(), DropReason> {
        let s = &*self.shared;
        if queued > s.limits.byte_budget {
            return Err(self.reject(rec.level, rec.buf, DropReason::ByteBudget));
        }
        match s.tx.try_send(rec) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(r)) => Err(self.reject(r.level, r.buf, DropReason::QueueFull)),
            // Unreachable (`Shared` holds both ends), but never panic.
            Err(TrySendError::Disconnected(r)) => {
                Err(self.reject(r.level, r.buf, DropReason::Shutdown))
            }
        }
    }

    fn drop_oldest(&self, mut rec: Record, mut queued: usize) -> Result<(), DropReason> {
        let s = &*self.shared;
        // Evict the oldest until this record's bytes fit. Bounded: other
        // producers may be adding bytes as fast as this removes them.
        let mut evicted = 0;
        while queued > s.limits.byte_budget {
            if evicted == MAX_EVICTIONS {
                return Err(self.reject(rec.level, rec.buf, DropReason::ByteBudget));
            }
            match s.rx.try_recv() {
                Ok(old) => {
                    evicted += 1;
                    self.shared.discard(old, DropReason::ByteBudget);
                    // Everyone's reservations, this record's included.
                    queued = s.queued_bytes.load(Relaxed);
                }
                Err(_) => return Err(self.reject(rec.level, rec.buf, DropReason::ByteBudget)),
            }
        }
        for _ in 0..STEAL_ATTEMPTS {
            match s.tx.try_send(rec) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(r)) => {
                    rec = r;
                    if let Ok(old) = s.rx.try_recv() {
                        self.shared.discard(old, DropReason::QueueFull);
                    }
                }
                Err(TrySendError::Disconnected(r)) => {
                    return Err(self.reject(r.level, r.buf, DropReason::Shutdown))
                }
            }
        }
        Err(self.reject(rec.level, rec.buf, DropReason::QueueFull))
    }

    fn block(&self, rec: Record, queued: usize, timeout: Duration) -> Result<(), DropReason> {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        if queued > s.limits.byte_budget {
            // Wait for the worker to take bytes out, re-reserving each time.
            let len = rec.buf.len();
            let mut backoff = Duration::from_micros(50);
            loop {
                s.queued_bytes.fetch_sub(len, Relaxed);
                let now = Instant::now();
                if now >= deadline {
                    s.counters.dropped(DropReason::ByteBudget, rec.level);
                    s.recycle(rec.buf);
                    return Err(DropReason::ByteBudget);
                }
                std::thread::sleep(backoff.min(deadline - now));
                backoff = (backoff * 2).min(Duration::from_millis(5));
                if s.queued_bytes.fetch_add(len, Relaxed) + len <= s.limits.byte_budget {
                    break;
                }
            }
        }
        match s.tx.send_deadline(rec, deadline) {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(r)) => {
                Err(self.reject(r.level, r.buf, DropReason::QueueFull))
            }
            Err(SendTimeoutError::Disconnected(r)) => {
                Err(self.reject(r.level, r.buf, DropReason::Shutdown))
            }
        }
    }

    /// Says once, on stderr, why nothing is written any more: the usual
    /// cause is `let _ = layer_safe::init();`, which drops the guard at once.
    #[cold]
    fn warn_closed(&self) {
        if !self.shared.warned_closed.swap(true, Relaxed) {
            eprintln!(
                "layer-safe: an event was logged after the sink's FlushGuard was dropped; \
                 it and later ones are not written. Keep the guard alive for as long as \
                 you log: `let _guard = layer_safe::init();` in main (not `let _ = ...`); \
                 in a test binary, keep one guard for all tests (in a static)."
            );
        }
    }

    /// The queue was closed by the guard: nothing reads it any more, so what
    /// is in it is lost.
    #[cold]
    fn drain_closed(&self) {
        while let Ok(old) = self.shared.rx.try_recv() {
            self.shared.discard(old, DropReason::Shutdown);
        }
    }
}
