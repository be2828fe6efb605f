//! Offset commits: sync, async ([`CommitFuture`]), explicit offsets, automatic
//! (`enable.auto.commit`), and `close`, which commits before leaving the group.

use super::group::OffsetAndMetadata;
use super::Consumer;
use crate::error::{Error, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use tokio::time::Instant;

/// The outcome of [`Consumer::commit_async`].
#[derive(Debug)]
pub struct CommitFuture {
    task: tokio::task::JoinHandle<Result<()>>,
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
    /// has passed.
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
        let consumer = self.clone();
        tokio::spawn(async move {
            if let Err(e) = consumer.commit_partitions(None).await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        });
    }

    /// Commits the position of every assigned partition: the offset after the last record
    /// `poll` returned (records fetched but not yet returned are not committed).
    pub async fn commit(&self) -> Result<()> {
        self.commit_partitions(None).await
    }

    /// Commits in the background, like [`commit`](Self::commit); the returned future tells
    /// the outcome. The commit goes ahead whether the future is awaited or dropped.
    pub fn commit_async(&self) -> CommitFuture {
        let consumer = self.clone();
        CommitFuture {
            task: tokio::spawn(async move { consumer.commit().await }),
        }
    }

    /// Commits the consumed position of each partition (of `only` those, if given).
    pub(super) async fn commit_partitions(&self, only: Option<&[TopicPartition]>) -> Result<()> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> =
            lock(&self.inner.positions).committable(only);
        self.group()?.commit(&offsets).await
    }

    /// Commits explicit offsets (the next offset to read) with optional metadata.
    pub async fn commit_offsets(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<()> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        self.group()?.commit(&offsets).await
    }

    /// The group's committed offsets for these partitions (absent: nothing committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        self.group()?.committed(partitions).await
    }

    /// Commits (with auto-commit), runs the revoke hook, and leaves the group. A static
    /// member (`group.instance.id`) keeps its place until its session times out.
    pub async fn close(&self) -> Result<()> {
        let Some(group) = self.inner.group.clone() else {
            return Ok(());
        };
        let owned = self.assignment().await;
        if !owned.is_empty() {
            self.revoke(&owned).await;
        }
        group.leave("the consumer is being closed").await;
        Ok(())
    }
}
