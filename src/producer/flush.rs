//! What `flush` and `close` wait for: batches, counted by the flush generation they were
//! created in, until they are settled.
//!
//! Each batch holds a [`Pending`] ticket for the generation current when it was created, and
//! returns it when it is dropped, that is, when its records have been resolved (or split
//! into halves, which take a ticket each). A flush closes the current generation and waits
//! until no batch of it or of an earlier one is left: every record sent before the flush is
//! in such a batch, while records sent during the flush go into those batches or into newer
//! ones that the flush does not wait for. So a steady stream of sends from other tasks
//! cannot keep a flush waiting, as with Java's `flush`.

use crate::sync::lock;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
struct Generations {
    current: u64,
    /// Unsettled batches per generation, oldest first; the front is never zero (an emptied
    /// generation at the front is removed). A ring buffer, so counting allocates nothing
    /// once it has room for the generations in use.
    unsettled: VecDeque<(u64, usize)>,
}

impl Generations {
    /// Whether every batch of generation `last` and older is settled.
    fn settled_through(&self, last: u64) -> bool {
        self.unsettled.front().is_none_or(|&(g, _)| g > last)
    }
}

/// The producer's count of unsettled batches, and of flushes under way.
#[derive(Default)]
pub(crate) struct Tracker {
    generations: Mutex<Generations>,
    /// Woken when the oldest unsettled generation is settled.
    settled: Notify,
    flushes: AtomicUsize,
}

/// A batch's place in its flush generation, given back when the batch is dropped.
pub(crate) struct Pending {
    tracker: Arc<Tracker>,
    generation: u64,
}

impl Tracker {
    /// A ticket for a new batch, in the current generation.
    pub(crate) fn pending(self: &Arc<Self>) -> Pending {
        let mut gens = lock(&self.generations);
        let generation = gens.current;
        match gens.unsettled.back_mut() {
            Some((g, count)) if *g == generation => *count += 1,
            _ => gens.unsettled.push_back((generation, 1)),
        }
        Pending {
            tracker: self.clone(),
            generation,
        }
    }

    /// Whether a flush is under way: batches go out without waiting for `linger.ms`.
    pub(crate) fn flushing(&self) -> bool {
        self.flushes.load(Ordering::Acquire) > 0
    }

    /// Starts a flush: closes the current generation. The sender should be woken after.
    pub(crate) fn begin_flush(&self) -> Flush<'_> {
        self.flushes.fetch_add(1, Ordering::AcqRel);
        let mut gens = lock(&self.generations);
        let last = gens.current;
        gens.current += 1;
        Flush {
            tracker: self,
            last,
        }
    }

    /// Waits until no batch at all is unsettled.
    pub(crate) async fn all_settled(&self) {
        self.wait_until(|gens| gens.unsettled.is_empty()).await;
    }

    async fn wait_until(&self, done: impl Fn(&Generations) -> bool) {
        loop {
            // Registered before the check, so a settlement between the check and the await
            // still wakes this waiter (`Notify::notify_waiters` wakes enabled futures only).
            let mut notified = pin!(self.settled.notified());
            notified.as_mut().enable();
            if done(&lock(&self.generations)) {
                return;
            }
            notified.await;
        }
    }

    fn settled_one(&self, generation: u64) {
        let mut gens = lock(&self.generations);
        if let Some((_, count)) = gens.unsettled.iter_mut().find(|(g, _)| *g == generation) {
            *count = count.saturating_sub(1);
        }
        let mut front_settled = false;
        while gens.unsettled.front().is_some_and(|&(_, count)| count == 0) {
            gens.unsettled.pop_front();
            front_settled = true;
        }
        drop(gens);
        if front_settled {
            self.settled.notify_waiters();
        }
    }
}

impl Pending {
    /// A second ticket in the same generation, for the other half of a split batch.
    pub(crate) fn another(&self) -> Pending {
        let mut gens = lock(&self.tracker.generations);
        match gens
            .unsettled
            .iter_mut()
            .find(|(g, _)| *g == self.generation)
        {
            Some((_, count)) => *count += 1,
            // This ticket keeps its generation's count above zero, so the entry is there.
            None => {
                let at = gens
                    .unsettled
                    .partition_point(|(g, _)| *g < self.generation);
                gens.unsettled.insert(at, (self.generation, 1));
            }
        }
        Pending {
            tracker: self.tracker.clone(),
            generation: self.generation,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.tracker.settled_one(self.generation);
    }
}

/// A flush under way; dropping it (the flush returned, or its future was dropped) ends it.
pub(crate) struct Flush<'a> {
    tracker: &'a Tracker,
    last: u64,
}

impl Flush<'_> {
    /// Waits until every batch created before the flush began is settled.
    pub(crate) async fn settled(&self) {
        let last = self.last;
        self.tracker
            .wait_until(|gens| gens.settled_through(last))
            .await;
    }
}

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        self.tracker.flushes.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_flush_returns_as_the_last_earlier_batch_settles_not_later_ones() {
        let tracker = Arc::new(Tracker::default());
        let (a, b) = (tracker.pending(), tracker.pending());
        let flush = tracker.begin_flush();
        let later = tracker.pending();
        let mut wait = pin!(flush.settled());
        assert!(wait.as_mut().now_or_never().is_none());
        drop(a);
        assert!(wait.as_mut().now_or_never().is_none(), "b is unsettled");
        let start = Instant::now();
        let settle_b = async move {
            tokio::task::yield_now().await;
            drop(b);
        };
        tokio::join!(wait, settle_b);
        assert_eq!(
            Instant::now(),
            start,
            "woken by the settlement itself, not by a timer"
        );
        assert!(
            tracker.all_settled().now_or_never().is_none(),
            "later is not"
        );
        drop(later);
        assert!(tracker.all_settled().now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_flush_with_nothing_earlier_returns_at_once() {
        let tracker = Arc::new(Tracker::default());
        let flush = tracker.begin_flush();
        let _later = tracker.pending();
        assert!(flush.settled().now_or_never().is_some());
    }

    #[tokio::test]
    async fn split_halves_hold_the_flush_until_both_settle() {
        let tracker = Arc::new(Tracker::default());
        let whole = tracker.pending();
        let flush = tracker.begin_flush();
        let (first, second) = (whole.another(), whole.another());
        drop(whole);
        drop(first);
        assert!(flush.settled().now_or_never().is_none());
        drop(second);
        assert!(flush.settled().now_or_never().is_some());
    }

    #[tokio::test]
    async fn overlapping_flushes_each_wait_for_their_own_batches() {
        let tracker = Arc::new(Tracker::default());
        let old = tracker.pending();
        let first = tracker.begin_flush();
        let newer = tracker.pending();
        let second = tracker.begin_flush();
        drop(old);
        assert!(first.settled().now_or_never().is_some());
        assert!(second.settled().now_or_never().is_none());
        drop(newer);
        assert!(second.settled().now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_dropped_flush_ends_the_hurry() {
        let tracker = Arc::new(Tracker::default());
        let _batch = tracker.pending();
        {
            let flush = tracker.begin_flush();
            assert!(tracker.flushing());
            let wait = flush.settled();
            assert!(tokio::time::timeout(std::time::Duration::ZERO, wait)
                .await
                .is_err());
        }
        assert!(!tracker.flushing(), "linger.ms applies again");
    }
}
