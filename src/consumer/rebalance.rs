//! Rebalances driven from `poll`: lost partitions reported, joins started in the background
//! and their results applied, and the [`RebalanceListener`] hooks around them.

use super::assignor::RebalanceProtocol;
use super::group::{Group, Rebalanced};
use super::Consumer;
use crate::error::{Error, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::time::Instant;

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

/// A join running in the background, and the partitions kept through it.
pub(super) struct PendingJoin {
    keep: BTreeSet<TopicPartition>,
    handle: tokio::task::JoinHandle<Result<Rebalanced>>,
}

impl Consumer {
    /// Sets the hooks called around rebalances.
    pub fn set_rebalance_listener(&self, listener: impl RebalanceListener + 'static) {
        *lock(&self.inner.listener) = Some(Arc::new(listener));
    }

    fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        lock(&self.inner.listener).clone()
    }

    pub(super) fn group(&self) -> Result<&Arc<Group>> {
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
        // Held across the wait, so a poll dropped mid-rebalance leaves the join in place
        // (only another poll waits for it; the positions are not locked).
        let mut pending = self.inner.pending_join.lock().await;
        loop {
            if let Some(reason) = group.take_lost() {
                self.report_lost(&reason).await;
            }
            if let Some(join) = pending.as_mut() {
                let Ok(joined) = tokio::time::timeout_at(deadline, &mut join.handle).await else {
                    return Ok(false);
                };
                let keep = std::mem::take(&mut join.keep);
                *pending = None;
                let rebalanced = joined.unwrap_or_else(|e| {
                    group.join_abandoned();
                    Err(Error::Protocol {
                        broker: "coordinator".into(),
                        reason: format!("the join task failed: {e}"),
                    })
                })?;
                self.apply_rebalance(&group, keep, rebalanced).await?;
                continue;
            }
            if !group.wants_join() {
                break;
            }
            let topics = group.topics();
            if topics.is_empty() {
                break;
            }
            let owned: BTreeSet<TopicPartition> = self.assignment().await.into_iter().collect();
            let eager = group.protocol() == RebalanceProtocol::Eager;
            if eager && !owned.is_empty() {
                // Eager protocol: give everything up before joining (heartbeats go on).
                let owned: Vec<TopicPartition> = owned.iter().cloned().collect();
                self.revoke(&owned).await;
            }
            if !group.start_join() {
                continue; // lost (or closed) meanwhile
            }
            let keep = if eager { BTreeSet::new() } else { owned };
            let join_group = group.clone();
            let join_keep = keep.clone();
            let handle = tokio::spawn(async move { join_group.join(&topics, &join_keep).await });
            *pending = Some(PendingJoin { keep, handle });
        }
        drop(pending);
        self.auto_commit_if_due();
        Ok(true)
    }

    /// The membership was lost: the hook runs while the positions are still here, so a
    /// commit in it reaches the broker and is refused (the generation is gone) instead of
    /// silently doing nothing; then every partition goes.
    async fn report_lost(&self, reason: &str) {
        let lost = self.assignment().await;
        tracing::info!(%reason, partitions = lost.len(), "partitions lost");
        if let Some(listener) = self.listener() {
            listener.on_partitions_lost(self, &lost).await;
        }
        lock(&self.inner.positions).remove(None);
    }

    async fn apply_rebalance(
        &self,
        group: &Group,
        keep: BTreeSet<TopicPartition>,
        result: Rebalanced,
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
            let mut positions = lock(&self.inner.positions);
            for tp in &added {
                positions.add_committed(tp.clone(), committed.get(tp));
            }
        }
        lock(&self.inner.next_auto_commit)
            .get_or_insert_with(|| Instant::now() + self.inner.config.auto_commit_interval);
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
    pub(super) async fn revoke(&self, partitions: &[TopicPartition]) {
        if self.inner.config.enable_auto_commit {
            if let Err(e) = self.commit_partitions(Some(partitions)).await {
                tracing::warn!(error = %e, "auto-commit on revoke failed");
            }
        }
        if let Some(listener) = self.listener() {
            listener.on_partitions_revoked(self, partitions).await;
        }
        lock(&self.inner.positions).remove(Some(partitions));
    }
}
