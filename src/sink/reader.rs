//! The consumer end of a lane: the segments the worker reads, oldest
//! first, and the spare segment the spare thread (`spares.rs`) leaves
//! here for the lane to take when it grows.

use std::collections::VecDeque;

use rtrb::{Consumer, Producer, RingBuffer};

use super::budget::Budget;
use super::lane::HEADER;

/// A segment made and touched ahead of need.
#[derive(Debug)]
pub(crate) struct Spare {
    pub(crate) producer: Producer<u8>,
    pub(crate) consumer: Consumer<u8>,
    pub(crate) cap: usize,
}

impl Spare {
    /// A segment of `cap` bytes, every page written once. Its bytes must
    /// already be taken from the budget.
    pub(crate) fn new(cap: usize) -> Spare {
        let (mut producer, mut consumer) = RingBuffer::new(cap);
        if let Ok(chunk) = producer.write_chunk(cap) {
            chunk.commit_all(); // zeros, written: the pages are there now
        }
        if let Ok(chunk) = consumer.read_chunk(cap) {
            chunk.commit_all();
        }
        Spare {
            producer,
            consumer,
            cap,
        }
    }
}

/// The consumer end of a lane.
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) current: Option<(Consumer<u8>, usize)>,
    /// Segments the producer moved on to, oldest first, with capacities.
    pub(crate) next: VecDeque<(Consumer<u8>, usize)>,
    /// The next segment, ready before the lane needs it.
    pub(crate) spare: Option<Spare>,
}

impl Reader {
    /// Moves the oldest record's payload to the end of `out` and returns
    /// its kind; `None` when the lane is empty. Moves on to the next
    /// segment, freeing the old one, when the current one is read empty.
    pub(crate) fn pop_into(&mut self, budget: &Budget, out: &mut Vec<u8>) -> Option<u8> {
        loop {
            let (ring, _) = self.current.as_mut()?;
            if let Some(kind) = pop_record(ring, out) {
                return Some(kind);
            }
            // Empty. The producer queues a new segment only after its last
            // write to the old one, under the mutex held here, so with a
            // segment queued the old one is finished: read it dry, free it.
            let next = self.next.pop_front()?;
            if let Some((old, cap)) = self.current.replace(next) {
                drop(old);
                budget.give_back(cap);
            }
        }
    }

    /// Whether every segment is read dry and the producer moved on from
    /// all but the last.
    pub(crate) fn drained(&self) -> bool {
        self.next.is_empty() && self.current.as_ref().map_or(true, |(c, _)| c.slots() == 0)
    }

    /// Gives the last segment's bytes back, and the spare's (the lane
    /// retires).
    pub(crate) fn release(&mut self, budget: &Budget) {
        if let Some((_, cap)) = self.current.take() {
            budget.give_back(cap);
        }
        if let Some(s) = self.spare.take() {
            budget.give_back(s.cap);
        }
    }

    /// The size of the spare the lane will want next: when its segment is
    /// over a quarter full (the lane fills the rest while the spare is
    /// made), none is ready and it may still grow to `max`.
    pub(crate) fn wants_spare(&self, max: usize) -> Option<usize> {
        // The segment the lane writes now: the newest.
        let (ring, cap) = self.next.back().or(self.current.as_ref())?;
        let next = cap.checked_mul(2)?;
        (self.spare.is_none() && next <= max && ring.slots() > cap / 4).then_some(next)
    }

    /// Bytes queued now, in every segment.
    pub(crate) fn available(&self) -> usize {
        self.current
            .iter()
            .chain(self.next.iter())
            .map(|(c, _)| c.slots())
            .sum()
    }
}

/// Reads one `[len][kind][payload]` record, appending the payload.
fn pop_record(ring: &mut Consumer<u8>, out: &mut Vec<u8>) -> Option<u8> {
    let mut len = [0u8; HEADER];
    {
        let chunk = ring.read_chunk(HEADER).ok()?;
        copy_out(&chunk, &mut len);
    }
    let len = u32::from_le_bytes(len) as usize;
    // Written with one push: the whole record is there.
    let chunk = ring.read_chunk(HEADER + len).ok()?;
    let (a, b) = chunk.as_slices();
    let skip = HEADER + 1;
    let kind = if a.len() > HEADER {
        a[HEADER]
    } else {
        b[HEADER - a.len()]
    };
    if a.len() >= skip {
        out.extend_from_slice(&a[skip..]);
        out.extend_from_slice(b);
    } else {
        out.extend_from_slice(&b[skip - a.len()..]);
    }
    chunk.commit_all();
    Some(kind)
}

fn copy_out(chunk: &rtrb::chunks::ReadChunk<'_, u8>, into: &mut [u8]) {
    let (a, b) = chunk.as_slices();
    let n = a.len().min(into.len());
    into[..n].copy_from_slice(&a[..n]);
    let rest = into.len() - n;
    into[n..].copy_from_slice(&b[..rest]);
}
