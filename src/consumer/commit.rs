//! Offset commits: sync, async ([`CommitFuture`]), explicit offsets, automatic
//! (`enable.auto.commit`), and `close`, which commits before leaving the group.
//!
//! ```text
//! poll ──▶ auto-commit due? ──▶ snapshot the consumed positions NOW (records returned by
//!   │                           earlier polls) ──▶ commit task, after the one before it
//!   ▼
//!   records of this poll handed out (not in the snapshot)
//! ```
//! What is committed is the consumed position: the offset after the last record `poll` (or
//! the stream) handed out. Automatic commits take their snapshot before the poll hands out
//! anything, as Java's do, so a commit never covers the batch the application is about to
//! process: a crash while processing it re-reads it (at least once). Automatic commits run
//! one after another, so an older snapshot never lands after a newer one.

use super::group::OffsetAndMetadata;
use super::rebalance::Step;
use super::Consumer;
use crate::error::{Error, Result};
use crate::record::TopicPartition;
use crate::retry::deadline_after;
use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

/// The outcome of [`Consumer::commit_async`].
#[derive(Debug)]
pub struct CommitFuture {
    task: JoinHandle<Result<()>>,
}

impl Future for CommitFuture {
    type Output = Result<()>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|joined| match joined {
                Ok(outcome) => outcome,
                // A bug in the commit, not an outcome: surface it where it is awaited.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // The runtime is shutting down.
                Err(_) => Err(Error::Closed),
            })
    }
}

impl Consumer {
    /// Starts a background commit of the consumed positions when `auto.commit.interval.ms`
    /// has passed. Called by `poll` before it hands out records: the commit covers what
    /// earlier polls returned, never what this one returns.
    pub(super) fn auto_commit_if_due(&self) {
        if !self.inner.config.enable_auto_commit {
            return;
        }
        {
            let mut next = lock(&self.inner.next_auto_commit);
            match *next {
                Some(at) if at <= Instant::now() => {
                    *next = Some(Instant::now() + self.inner.config.auto_commit_interval)
                }
                _ => return,
            }
        }
        // Detached: the commit goes ahead, its failure is logged.
        drop(self.auto_commit(None));
    }

    /// Commits the consumed positions of `only` (every partition, with `None`) as they are
    /// at this call, in a task that starts after the previous automatic commit has ended.
    /// Failures are logged: nobody waits for an automatic commit's outcome.
    pub(super) fn auto_commit(&self, only: Option<&[TopicPartition]>) -> JoinHandle<()> {
        let offsets = self.consumed_offsets(only);
        let consumer = self.clone();
        let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
        let previous = lock(&self.inner.auto_commit_chain).replace(done_rx);
        tokio::spawn(async move {
            if let Some(previous) = previous {
                // Its sender is dropped when it ends, however it ends.
                let _ = previous.await;
            }
            if let Err(e) = consumer.commit_map(&offsets).await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
            drop(done);
        })
    }

    /// Commits the position of every assigned partition: the offset after the last record
    /// handed out, by `poll` or by a [`stream`](Self::stream) (records a stream fetched but
    /// has not yielded are not committed, nor are records fetched and not yet returned).
    pub async fn commit(&self) -> Result<()> {
        self.commit_map(&self.consumed_offsets(None)).await
    }

    /// Commits in the background, like [`commit`](Self::commit), the positions as they are
    /// at this call; the returned future tells the outcome. The commit goes ahead whether the
    /// future is awaited or dropped.
    pub fn commit_async(&self) -> CommitFuture {
        let offsets = self.consumed_offsets(None);
        let consumer = self.clone();
        CommitFuture {
            task: tokio::spawn(async move { consumer.commit_map(&offsets).await }),
        }
    }

    /// The consumed position of each partition (of `only` those, if given), as offsets to
    /// commit: with the leader epoch of the record before, when known (KIP-320).
    fn consumed_offsets(
        &self,
        only: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        lock(&self.inner.positions).committable(only)
    }

    /// Commits explicit offsets (the next offset to read) with optional metadata.
    pub async fn commit_offsets(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<()> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        self.commit_map(&offsets).await
    }

    /// Commits `offsets` through the group, timing it for the metrics.
    async fn commit_map(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        let group = self.group()?;
        if offsets.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let span = self.commit_span(offsets);
        let outcome = group.commit(offsets).instrument(span).await;
        self.inner.metrics.committed(started.elapsed());
        outcome
    }

    /// The group's committed offsets of these partitions, of any topics, in one request
    /// (absent: nothing committed).
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use kafkit::TopicPartition;
    /// let partitions: Vec<TopicPartition> =
    ///     (0..12).map(|p| TopicPartition::new("orders", p)).collect();
    /// for (tp, committed) in consumer.committed(&partitions).await? {
    ///     println!("{tp}: {}", committed.offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        self.group()?.committed(partitions).await
    }

    /// [`close_with_timeout`](Self::close_with_timeout) bounded by `default.api.timeout.ms`.
    pub async fn close(&self) -> Result<()> {
        self.close_with_timeout(self.inner.config.default_api_timeout)
            .await
    }

    /// Closes the consumer within `timeout` (Java's `close(Duration)`): with a group, a join
    /// under way is abandoned, the owned partitions are committed (with auto-commit) and
    /// handed back through the revoke hook (or the lost hook, if the membership was lost),
    /// and a dynamic member leaves the group, so the others take its partitions at once. A
    /// static member (`group.instance.id`) keeps its place until its session times out.
    /// What the timeout cuts short is given up; a LeaveGroup already sent still completes in
    /// the background (within `request.timeout.ms`). Afterwards `poll` returns
    /// [`Error::Closed`] and a [`stream`](Self::stream) ends; closing again does nothing.
    ///
    /// Dropping every clone of a consumer without closing it also leaves the group (see
    /// [`Consumer`]), but commits nothing and runs no hook.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use std::time::Duration;
    /// consumer.close_with_timeout(Duration::from_secs(5)).await?;
    /// assert!(matches!(consumer.poll(Duration::ZERO).await, Err(kafkit::Error::Closed)));
    /// # Ok(()) }
    /// ```
    pub async fn close_with_timeout(&self, timeout: Duration) -> Result<()> {
        let deadline = deadline_after(timeout);
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.stop_background();
        if let Some(group) = self.inner.group.clone() {
            if tokio::time::timeout_at(deadline, self.release_all(&group))
                .await
                .is_err()
            {
                tracing::warn!("close: the timeout ended the commit or hooks before they did");
            }
            if let Some(leave) = group.leave("the consumer is being closed") {
                let _ = tokio::time::timeout_at(deadline, leave).await;
            }
        }
        let mut positions = lock(&self.inner.positions);
        positions.remove(None);
        self.inner
            .fetcher
            .sync(positions.changes(), || positions.fetchable());
        Ok(())
    }

    /// Hands back every owned partition before leaving: the rebalance in progress (if any)
    /// is dropped; a lost membership reports its partitions lost, otherwise they are
    /// committed (auto-commit) and revoked.
    async fn release_all(&self, group: &std::sync::Arc<super::group::Group>) {
        let mut rebalance = self.inner.rebalance.lock().await;
        rebalance.abandon();
        let owned = self.assignment().await;
        let mut step = match group.take_lost() {
            Some(_) => Step::lost(owned),
            None if owned.is_empty() => return,
            None => self.revoke_step(owned),
        };
        let far = deadline_after(Duration::MAX);
        if let Err(e) = self.run_step(group, &mut step, far).await {
            tracing::warn!(error = %e, "close: handing back the partitions failed");
        }
    }
}
