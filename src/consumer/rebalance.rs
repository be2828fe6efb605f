//! Rebalances driven from `poll`: lost partitions reported, joins started in the background
//! and their results applied, and the [`RebalanceListener`] hooks around them.
//!
//! ```text
//!  lost? ──▶ Lost(hook, drop) ─┐
//!  join wanted? ──▶ [Revoke (eager: commit, hook, drop)] ──▶ StartJoin ──▶ Join (task)
//!                                                                          │ done
//!        [Revoke (cooperative: what moved)] ◀──────────────────────────────┘
//!                 ──▶ Assign (OffsetFetch task ──▶ positions, hook)
//!
//!  KIP-848 (group.protocol=consumer): the broker's assignment differs from what is owned?
//!    [Revoke (commit, hook, drop)] ──▶ Assign (offsets, hook) ──▶ Acknowledge (heartbeat)
//! ```
//! A rebalance is a queue of steps, each resumable, so a `poll` dropped at any await (by a
//! `select!` or a timeout around it) loses nothing and repeats nothing: the next poll
//! carries on with the same step. Network work (the join, the auto-commit of revoked
//! partitions, the OffsetFetch of new ones) runs as tasks that a dropped poll leaves
//! running; a hook counts as run once it was invoked, so a poll dropped mid-hook does not
//! run it again. A failed OffsetFetch leaves the Assign step in place: the next poll asks
//! again, and the partitions are fetched once their offsets are known.

use super::assignor::RebalanceProtocol;
use super::group::{Acknowledgement, Group, OffsetAndMetadata, Rebalanced};
use super::Consumer;
use crate::config::GroupProtocol;
use crate::error::{Error, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

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

/// One step of a rebalance (see the module docs).
pub(super) enum Step {
    /// The membership was lost: the lost hook, then the partitions go.
    Lost {
        partitions: Vec<TopicPartition>,
        hook_due: bool,
    },
    /// Partitions handed back: their auto-commit (a task started with the step), the
    /// revoked hook, then they go.
    Revoke {
        partitions: Vec<TopicPartition>,
        commit: Option<JoinHandle<()>>,
        hook_due: bool,
    },
    /// Starts a join round if one is still wanted, keeping the partitions owned then.
    StartJoin,
    /// A join round running in the background; `keep`: the partitions kept through it.
    Join {
        keep: BTreeSet<TopicPartition>,
        handle: JoinHandle<Result<Rebalanced>>,
    },
    /// New partitions: their committed offsets (OffsetFetch, a task), then they are added
    /// at those offsets and the assigned hook runs. `offsets` is `None` before the lookup
    /// starts and after one failed.
    Assign {
        partitions: Vec<TopicPartition>,
        offsets: Option<JoinHandle<Result<HashMap<TopicPartition, OffsetAndMetadata>>>>,
        hook_due: bool,
    },
    /// KIP-848: the reconciliation is done; the next heartbeat says what is owned now.
    Acknowledge(Option<Acknowledgement>),
}

impl Step {
    pub(super) fn lost(partitions: Vec<TopicPartition>) -> Step {
        Step::Lost {
            partitions,
            hook_due: true,
        }
    }

    /// Stops the step's background work that no one will wait for.
    fn abort(&self) {
        match self {
            Step::Join { handle, .. } => handle.abort(),
            Step::Assign {
                offsets: Some(handle),
                ..
            } => handle.abort(),
            _ => {}
        }
    }
}

/// What running a step came to.
pub(super) enum Next {
    /// Done; these steps come next, before anything queued after it.
    Done(Vec<Step>),
    /// The step became this one.
    Became(Step),
    /// Not done by the poll's deadline; the next poll carries on.
    NotYet,
}

/// The rebalance under way, carried from one poll to the next.
#[derive(Default)]
pub(super) struct Rebalance {
    steps: VecDeque<Step>,
    /// When the rebalance under way started (for the metrics).
    started: Option<Instant>,
}

impl Rebalance {
    /// Drops every step (the membership was lost, or the consumer closes).
    pub(super) fn abandon(&mut self) {
        for step in self.steps.drain(..) {
            step.abort();
        }
        self.started = None;
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
        // Held across the steps, so two polls never run one step at once (the positions are
        // not locked meanwhile).
        let mut rebalance = self.inner.rebalance.lock().await;
        loop {
            self.check_open()?;
            if let Some(error) = group.failure() {
                return Err(error);
            }
            if let Some(reason) = group.take_lost() {
                tracing::info!(%reason, "partitions lost");
                rebalance.abandon();
                let owned = lock(&self.inner.positions).assignment();
                rebalance.steps.push_back(Step::lost(owned));
            }
            let Some(step) = rebalance.steps.front_mut() else {
                if !self.queue_join(&group, &mut rebalance) {
                    break;
                }
                continue;
            };
            let span = self.rebalance_span(step);
            match self.run_step(&group, step, deadline).instrument(span).await {
                Ok(Next::NotYet) => return Ok(false),
                Ok(Next::Became(next)) => *step = next,
                Ok(Next::Done(then)) => {
                    rebalance.steps.pop_front();
                    for next in then.into_iter().rev() {
                        rebalance.steps.push_front(next);
                    }
                    if rebalance.steps.is_empty() {
                        if let Some(started) = rebalance.started.take() {
                            self.inner.metrics.rebalanced(started.elapsed());
                        }
                    }
                }
                Err(e) => {
                    // A join that failed is over (the next poll joins again); any other step
                    // stays, to be carried on by the next poll.
                    if matches!(rebalance.steps.front(), Some(Step::Join { .. })) {
                        rebalance.steps.pop_front();
                        rebalance.started = None;
                        self.inner.metrics.rebalance_failed();
                    }
                    self.check_open()?;
                    return Err(e);
                }
            }
        }
        drop(rebalance);
        self.auto_commit_if_due();
        Ok(true)
    }

    /// Queues a rebalance if the membership wants one: with the eager protocol everything
    /// owned is revoked first (heartbeats go on meanwhile). `false` when there is nothing
    /// to do.
    fn queue_join(&self, group: &Group, rebalance: &mut Rebalance) -> bool {
        if group.group_protocol() == GroupProtocol::Consumer {
            return self.queue_reconciliation(group, rebalance);
        }
        if !group.wants_join() || group.topics().is_empty() {
            return false;
        }
        let owned = lock(&self.inner.positions).assignment();
        if group.protocol() == RebalanceProtocol::Eager && !owned.is_empty() {
            let revoke = self.revoke_step(owned);
            rebalance.steps.push_back(revoke);
        }
        rebalance.steps.push_back(Step::StartJoin);
        rebalance.started.get_or_insert_with(Instant::now);
        true
    }

    /// KIP-848: queues the reconciliation to the broker's assignment, if it differs from
    /// what is owned: revoke first (auto-commit, hook), then assign (offsets, hook), then
    /// acknowledge. The same hooks as the classic protocol's, in Java's order.
    fn queue_reconciliation(&self, group: &Group, rebalance: &mut Rebalance) -> bool {
        let owned = lock(&self.inner.positions).assignment();
        let Some(reconciliation) = group.reconciliation(&owned) else {
            return false;
        };
        if !reconciliation.revoke.is_empty() {
            let revoke = self.revoke_step(reconciliation.revoke);
            rebalance.steps.push_back(revoke);
        }
        rebalance.steps.push_back(Step::Assign {
            partitions: reconciliation.assign,
            offsets: None,
            hook_due: true,
        });
        rebalance
            .steps
            .push_back(Step::Acknowledge(Some(reconciliation.ack)));
        rebalance.started.get_or_insert_with(Instant::now);
        true
    }

    /// A step handing back `partitions`; their auto-commit starts now, with the positions
    /// as they are now.
    pub(super) fn revoke_step(&self, partitions: Vec<TopicPartition>) -> Step {
        let commit = self
            .inner
            .config
            .enable_auto_commit
            .then(|| self.auto_commit(Some(&partitions)));
        Step::Revoke {
            partitions,
            commit,
            hook_due: true,
        }
    }

    /// Runs `step` as far as it goes by `deadline`. A drop at any await leaves it resumable.
    pub(super) async fn run_step(
        &self,
        group: &Arc<Group>,
        step: &mut Step,
        deadline: Instant,
    ) -> Result<Next> {
        match step {
            Step::Lost {
                partitions,
                hook_due,
            } => {
                if std::mem::take(hook_due) {
                    if let Some(listener) = self.listener() {
                        listener.on_partitions_lost(self, partitions).await;
                    }
                }
                lock(&self.inner.positions).remove(Some(partitions));
                Ok(Next::Done(Vec::new()))
            }
            Step::Revoke {
                partitions,
                commit,
                hook_due,
            } => {
                // The commit was started with the step; the hook runs once it has ended,
                // while the partitions are still ours (so the hook may commit too).
                if let Some(task) = commit {
                    let _ = task.await;
                    *commit = None;
                }
                if std::mem::take(hook_due) {
                    if let Some(listener) = self.listener() {
                        listener.on_partitions_revoked(self, partitions).await;
                    }
                }
                lock(&self.inner.positions).remove(Some(partitions));
                Ok(Next::Done(Vec::new()))
            }
            Step::StartJoin => {
                if !group.start_join() {
                    return Ok(Next::Done(Vec::new())); // lost (or closed) meanwhile
                }
                let keep: BTreeSet<TopicPartition> = lock(&self.inner.positions)
                    .assignment()
                    .into_iter()
                    .collect();
                let topics = group.topics();
                let join_group = group.clone();
                let join_keep = keep.clone();
                let handle =
                    tokio::spawn(async move { join_group.join(&topics, &join_keep).await });
                *lock(&self.inner.join_abort) = Some(handle.abort_handle());
                Ok(Next::Became(Step::Join { keep, handle }))
            }
            Step::Join { keep, handle } => {
                let Ok(joined) = tokio::time::timeout_at(deadline, handle).await else {
                    return Ok(Next::NotYet);
                };
                let rebalanced = joined.unwrap_or_else(|e| {
                    group.join_abandoned();
                    Err(Error::Protocol {
                        broker: "coordinator".into(),
                        reason: format!("the join task failed: {e}"),
                    })
                })?;
                let mut then = Vec::new();
                if !rebalanced.revoked.is_empty() {
                    then.push(self.revoke_step(rebalanced.revoked));
                }
                let added: Vec<TopicPartition> = rebalanced
                    .assigned
                    .into_iter()
                    .filter(|tp| !keep.contains(tp))
                    .collect();
                then.push(Step::Assign {
                    partitions: added,
                    offsets: None,
                    hook_due: true,
                });
                Ok(Next::Done(then))
            }
            Step::Assign {
                partitions,
                offsets,
                hook_due,
            } => {
                if !*hook_due {
                    return Ok(Next::Done(Vec::new()));
                }
                let lookup = offsets.get_or_insert_with(|| {
                    let group = group.clone();
                    let partitions = partitions.clone();
                    tokio::spawn(async move { group.committed(&partitions).await })
                });
                let Ok(found) = tokio::time::timeout_at(deadline, lookup).await else {
                    return Ok(Next::NotYet);
                };
                *offsets = None;
                let committed = found.map_err(|e| Error::Protocol {
                    broker: "coordinator".into(),
                    reason: format!("the offset lookup task failed: {e}"),
                })??;
                {
                    let mut positions = lock(&self.inner.positions);
                    for tp in partitions.iter() {
                        positions.add_committed(tp.clone(), committed.get(tp));
                    }
                }
                lock(&self.inner.next_auto_commit)
                    .get_or_insert_with(|| Instant::now() + self.inner.config.auto_commit_interval);
                for tp in partitions.iter() {
                    self.inner.cluster.track(&tp.topic);
                }
                *hook_due = false;
                if let Some(listener) = self.listener() {
                    listener.on_partitions_assigned(self, partitions).await;
                }
                Ok(Next::Done(Vec::new()))
            }
            Step::Acknowledge(ack) => {
                if let Some(ack) = ack.take() {
                    group.reconciled(ack);
                }
                Ok(Next::Done(Vec::new()))
            }
        }
    }
}
