//! The `Delivery` future, and where the producer writes its outcome.
//!
//! A oneshot channel per record costs an allocation and a free per record. Instead, a batch
//! hands out slots from chunks it allocates a few at a time (4 slots, then 16, then 64 per
//! chunk), much as Java's `FutureRecordMetadata`s share their batch's `ProduceRequestResult`:
//! a busy producer allocates once per 64 records. Each slot is independent, so a batch that is
//! split keeps every record's slot, and a slot's memory lives until its chunk's last
//! `Delivery` and `Resolver` are gone.

use crate::error::{Error, Result};
use crate::record::RecordMetadata;
use crate::sync::lock;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

const FIRST_CHUNK: usize = 4;
const MAX_CHUNK: usize = 64;

enum Slot {
    Pending(Option<Waker>),
    Done(Result<RecordMetadata>),
    /// The outcome was handed to the `Delivery`'s owner.
    Taken,
}

type Chunk = Arc<[Mutex<Slot>]>;

/// The outcome of one `send`: where the record was written, or why it was not.
///
/// Dropping it does not cancel the send.
#[must_use = "a Delivery tells whether the record was written; await it or drop it knowingly"]
pub struct Delivery {
    chunk: Chunk,
    index: usize,
}

impl Future for Delivery {
    type Output = Result<RecordMetadata>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.chunk[self.index]);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(outcome) => Poll::Ready(outcome),
            Slot::Pending(waker) => {
                let waker = match waker {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Pending(Some(waker));
                Poll::Pending
            }
            // Polled again after it returned Ready: a caller bug, answered without panicking.
            Slot::Taken => Poll::Ready(Err(Error::Closed)),
        }
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").finish_non_exhaustive()
    }
}

/// The producer's end of one `Delivery`. Dropped without [`resolve`](Self::resolve) (the
/// producer went away mid-flight), it resolves the record with [`Error::Closed`], so no
/// `Delivery` waits forever.
pub(crate) struct Resolver {
    chunk: Chunk,
    index: usize,
    resolved: bool,
}

impl Resolver {
    pub(crate) fn resolve(mut self, outcome: Result<RecordMetadata>) {
        self.write(outcome);
    }

    fn write(&mut self, outcome: Result<RecordMetadata>) {
        self.resolved = true;
        let waker = {
            let mut slot = lock(&self.chunk[self.index]);
            match std::mem::replace(&mut *slot, Slot::Done(outcome)) {
                Slot::Pending(waker) => waker,
                // Never resolved twice (`resolve` takes self); keep what was there.
                other => {
                    *slot = other;
                    None
                }
            }
        };
        // Woken outside the lock, so the woken task never finds the slot still held.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        if !self.resolved {
            self.write(Err(Error::Closed));
        }
    }
}

/// Hands out slots for one batch's records, a chunk at a time.
#[derive(Default)]
pub(crate) struct Slots {
    chunk: Option<Chunk>,
    next: usize,
}

impl Slots {
    /// A connected `Delivery` and `Resolver`; allocates only when the current chunk is used up.
    pub(crate) fn next(&mut self) -> (Delivery, Resolver) {
        let chunk = match &self.chunk {
            Some(chunk) if self.next < chunk.len() => chunk.clone(),
            previous => {
                let len = previous
                    .as_ref()
                    .map_or(FIRST_CHUNK, |c| (c.len() * 4).min(MAX_CHUNK));
                let chunk: Chunk = (0..len).map(|_| Mutex::new(Slot::Pending(None))).collect();
                self.chunk = Some(chunk.clone());
                self.next = 0;
                chunk
            }
        };
        let index = self.next;
        self.next += 1;
        let delivery = Delivery {
            chunk: chunk.clone(),
            index,
        };
        let resolver = Resolver {
            chunk,
            index,
            resolved: false,
        };
        (delivery, resolver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;

    fn metadata(offset: i64) -> Result<RecordMetadata> {
        Ok(RecordMetadata {
            topic: StdArc::from("t"),
            partition: 0,
            offset,
            timestamp: 0,
        })
    }

    #[tokio::test]
    async fn each_delivery_gets_its_own_outcome_whatever_the_order() {
        let mut slots = Slots::default();
        let pairs: Vec<_> = (0..100).map(|_| slots.next()).collect();
        let (deliveries, resolvers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        for (i, r) in resolvers.into_iter().enumerate().rev() {
            r.resolve(metadata(i as i64));
        }
        for (i, d) in deliveries.into_iter().enumerate() {
            assert_eq!(d.await.unwrap().offset, i as i64);
        }
    }

    #[test]
    fn chunks_grow_to_64_so_a_busy_batch_allocates_once_per_64_records() {
        let mut slots = Slots::default();
        let mut chunks = Vec::new();
        for _ in 0..4 + 16 + 64 * 3 {
            let (d, _r) = slots.next();
            if !chunks.iter().any(|c: &Chunk| Arc::ptr_eq(c, &d.chunk)) {
                chunks.push(d.chunk.clone());
            }
        }
        let lens: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(lens, [4, 16, 64, 64, 64]);
    }

    #[tokio::test]
    async fn a_waiting_delivery_is_woken_and_a_dropped_resolver_means_closed() {
        let mut slots = Slots::default();
        let (waiting, resolver) = slots.next();
        let (orphan, dropped) = slots.next();
        let task = tokio::spawn(waiting);
        tokio::task::yield_now().await;
        resolver.resolve(metadata(7));
        assert_eq!(task.await.unwrap().unwrap().offset, 7);
        drop(dropped);
        assert!(matches!(orphan.await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn a_dropped_delivery_does_not_disturb_its_neighbours() {
        let mut slots = Slots::default();
        let (first, r1) = slots.next();
        let (second, r2) = slots.next();
        drop(first);
        r1.resolve(metadata(1));
        r2.resolve(metadata(2));
        assert_eq!(second.await.unwrap().offset, 2);
    }
}
