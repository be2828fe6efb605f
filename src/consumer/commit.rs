//! The consumer's group side: rebalances driven from `poll`, the rebalance hooks, offset
//! commits (manual, async, automatic) and `close`.

use super::assignor::RebalanceProtocol;
use super::group::OffsetAndMetadata;
use super::Consumer;
use crate::error::{Error, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

/// A boxed future a [`RebalanceListener`] returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Hooks around a group rebalance, awaited inside [`Consumer::poll`] on the application's
/// task, so they may call back into the consumer (to commit, seek, ...).
///
/// ```
/// use kafkit::{Consumer, RebalanceListener, TopicPartition};
/// struct CommitOnRevoke;
/// impl RebalanceListener for CommitOnRevoke {
///     fn on_partitions_revoked<'a>(
///         &'a self,
///         consumer: &'a Consumer,
///         _partitions: &'a [TopicPartition],
///     ) -> kafkit::HookFuture<'a> {
///         Box::pin(async move {
///             if let Err(e) = consumer.commit().await {
///                 eprintln!("commit on revoke failed: {e}");
///             }
///         })
///     }
/// }
/// ```
pub trait RebalanceListener: Send + Sync {
    /// These partitions are about to go to another member: the last chance to commit them.
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// These partitions are now this member's.
    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// These partitions already belong to someone else (this member was fenced or timed
    /// out): committing them is no longer possible.
    fn on_partitions_lost<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }
}

impl Consumer {
    /// Sets the hooks called around rebalances.
    pub fn set_rebalance_listener(&self, listener: impl RebalanceListener + 'static) {
        *lock(&self.inner.listener) = Some(Arc::new(listener));
    }

    fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        lock(&self.inner.listener).clone()
    }

    fn group(&self) -> Result<&Arc<super::group::Group>> {
        self.inner
            .group
            .as_ref()
            .ok_or_else(|| Error::config("this needs a consumer group: set group.id"))
    }

    /// The group work of a poll: note the poll, report lost partitions, rebalance if asked,
    /// auto-commit when due. Returns `false` when a rebalance is still under way at
    /// `deadline`: the join keeps running and a later poll picks it up, so a poll never
    /// outlasts its timeout waiting for the other members.
    pub(super) async fn group_poll(&self, deadline: Instant) -> Result<bool> {
        let group = self.group()?.clone();
        group.polled();
        if let Some(reason) = group.take_lost() {
            let lost = self.assignment().await;
            tracing::info!(%reason, partitions = lost.len(), "partitions lost");
            // The hook runs while the positions are still here, so a commit in it reaches the
            // broker and is refused (the generation is gone) instead of silently doing nothing.
            if let Some(listener) = self.listener() {
                listener.on_partitions_lost(self, &lost).await;
            }
            self.drop_assignment(None).await;
        }
        // Held across the wait, so a poll dropped mid-rebalance leaves the join in place.
        let mut pending = self.inner.pending_join.lock().await;
        loop {
            if let Some(join) = pending.as_mut() {
                let Ok(joined) = tokio::time::timeout_at(deadline, &mut join.handle).await else {
                    return Ok(false);
                };
                let keep = std::mem::take(&mut join.keep);
                *pending = None;
                let result = joined.map_err(|e| Error::Protocol {
                    broker: "coordinator".into(),
                    reason: format!("the join task failed: {e}"),
                })??;
                self.apply_rebalance(&group, keep, result).await?;
                continue;
            }
            if !group.needs_rejoin() {
                break;
            }
            let (topics, owned) = {
                let state = self.inner.state.lock().await;
                let owned: BTreeSet<TopicPartition> = state.positions.keys().cloned().collect();
                (state.group_topics.clone(), owned)
            };
            if topics.is_empty() {
                break;
            }
            let eager = group.protocol() == RebalanceProtocol::Eager;
            if eager && !owned.is_empty() {
                // Eager protocol: give everything up before joining.
                let owned: Vec<TopicPartition> = owned.iter().cloned().collect();
                self.revoke(&owned).await;
            }
            let keep = if eager { BTreeSet::new() } else { owned };
            let join_group = group.clone();
            let join_keep = keep.clone();
            let handle = tokio::spawn(async move { join_group.join(&topics, &join_keep).await });
            *pending = Some(super::PendingJoin { keep, handle });
        }
        drop(pending);
        self.auto_commit_if_due().await;
        Ok(true)
    }

    async fn apply_rebalance(
        &self,
        group: &Arc<super::group::Group>,
        keep: BTreeSet<TopicPartition>,
        result: super::group::Rebalanced,
    ) -> Result<()> {
        if !result.revoked.is_empty() {
            self.revoke(&result.revoked).await;
        }
        let added: Vec<TopicPartition> = result
            .assigned
            .iter()
            .filter(|tp| !keep.contains(tp))
            .cloned()
            .collect();
        let committed = group.committed(&added).await?;
        {
            let mut state = self.inner.state.lock().await;
            for tp in &added {
                let offset = committed.get(tp).map(|c| c.offset);
                state.positions.insert(tp.clone(), offset);
                match offset {
                    Some(o) => state.consumed.insert(tp.clone(), o),
                    None => state.consumed.remove(tp),
                };
            }
            if state.next_auto_commit.is_none() {
                state.next_auto_commit =
                    Some(Instant::now() + self.inner.config.auto_commit_interval);
            }
        }
        for tp in &added {
            self.inner.cluster.track(&tp.topic);
        }
        if let Some(listener) = self.listener() {
            listener.on_partitions_assigned(self, &added).await;
        }
        Ok(())
    }

    /// Commits (auto-commit) and hands partitions back: the revoke hook runs while they are
    /// still ours, so it can commit them.
    async fn revoke(&self, partitions: &[TopicPartition]) {
        if self.inner.config.enable_auto_commit {
            if let Err(e) = self.commit_partitions(Some(partitions)).await {
                tracing::warn!(error = %e, "auto-commit on revoke failed");
            }
        }
        if let Some(listener) = self.listener() {
            listener.on_partitions_revoked(self, partitions).await;
        }
        self.drop_assignment(Some(partitions)).await;
    }

    /// Forgets partitions (all with `None`); returns the ones forgotten.
    async fn drop_assignment(&self, partitions: Option<&[TopicPartition]>) -> Vec<TopicPartition> {
        let mut state = self.inner.state.lock().await;
        let gone: Vec<TopicPartition> = match partitions {
            Some(p) => p.to_vec(),
            None => state.positions.keys().cloned().collect(),
        };
        for tp in &gone {
            state.positions.remove(tp);
            state.consumed.remove(tp);
            state.paused.remove(tp);
        }
        let gone_set: BTreeSet<&TopicPartition> = gone.iter().collect();
        state.buffer.retain(|tp| !gone_set.contains(tp));
        gone
    }

    async fn auto_commit_if_due(&self) {
        if !self.inner.config.enable_auto_commit {
            return;
        }
        let due = {
            let mut state = self.inner.state.lock().await;
            match state.next_auto_commit {
                Some(at) if at <= Instant::now() => {
                    state.next_auto_commit =
                        Some(Instant::now() + self.inner.config.auto_commit_interval);
                    true
                }
                _ => false,
            }
        };
        if due {
            let consumer = self.clone();
            tokio::spawn(async move {
                if let Err(e) = consumer.commit_partitions(None).await {
                    tracing::warn!(error = %e, "auto-commit failed");
                }
            });
        }
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

    async fn commit_partitions(&self, only: Option<&[TopicPartition]>) -> Result<()> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = {
            let state = self.inner.state.lock().await;
            state
                .consumed
                .iter()
                .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
                .map(|(tp, offset)| (tp.clone(), OffsetAndMetadata::new(*offset)))
                .collect()
        };
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
