//! Transactions (`transactional.id`): the coordinator's requests and the public calls.
//!
//! ```text
//! init_transactions ──▶ FindCoordinator(key_type 1) ──▶ InitProducerId(id, timeout)
//! begin_transaction  (local)
//! send ──▶ partition joins the transaction ──▶ sender: AddPartitionsToTxn before the
//!          partition's first batch ──▶ Produce(transactional_id, transactional batches)
//! send_offsets_to_transaction ──▶ AddOffsetsToTxn ──▶ TxnOffsetCommit (group coordinator,
//!          generation and member: KIP-447)
//! commit_transaction ──▶ flush ──▶ EndTxn(commit), retried until answered
//! abort_transaction  ──▶ waiting records fail, in-flight settle ──▶ EndTxn(abort)
//! ```
//! With transaction version 2 (KIP-890 part 2: the cluster's finalized `transaction.version`
//! is 2 or more, as `init_transactions` finds it) there is no AddPartitionsToTxn nor
//! AddOffsetsToTxn: Produce v12 adds a partition and TxnOffsetCommit v5 the group, on the
//! broker's side; and every EndTxn bumps the epoch, which its answer carries, so each
//! transaction runs under an epoch of its own (a late write of an earlier one is refused).
//! Otherwise transaction version 1, with the requests capped below the versions of 2.
//!
//! Errors follow the Java client: fatal ones (fenced, not authorized) end the producer,
//! abortable ones (a record failed, a partition refused) leave only `abort_transaction`,
//! and a commit whose EndTxn got no answer is sent again, never turned into an abort.

use super::idempotence::Idempotence;
use super::txn_state::{AddedPartitions, Op, Phase, TxnState};
use super::{Producer, Shared};
use crate::cluster::{Cluster, Coordinator, CoordinatorKind, TrafficClass};
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::protocol::wire::{group_id, millis, topic_name};
use crate::record::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition};
use crate::retry::Backoff;
use crate::sync::lock;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest,
    ProducerId, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The highest versions of transaction version 1 (KIP-890 part 2 changed what the next ones
/// mean): Produce v12, EndTxn v5 and TxnOffsetCommit v5 belong to transaction version 2.
const TV1_PRODUCE: i16 = 11;
const TV1_END_TXN: i16 = 4;
const TV1_TXN_OFFSET_COMMIT: i16 = 4;
/// The first versions of transaction version 2; kafkit speaks no later ones.
const TV2_PRODUCE: i16 = 12;
const TV2_END_TXN: i16 = 5;
const TV2_TXN_OFFSET_COMMIT: i16 = 5;

/// How many times one EndTxn refused as invalid by a coordinator that another broker says
/// was replaced is asked again of the successor.
const MAX_SECOND_OPINIONS: u32 = 3;

/// The finalized feature that says which transaction protocol the cluster runs.
const TRANSACTION_VERSION: &str = "transaction.version";

/// Java's backoff for an AddPartitionsToTxn refused with `CONCURRENT_TRANSACTIONS`: the
/// previous transaction's markers are still being written, which takes milliseconds.
const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(20);

/// How an error of a transactional request, or of a transaction's record, affects the
/// producer (Java's split of `TransactionManager` errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Asking again may succeed (the coordinator is loading, moved, or busy ending the
    /// previous transaction; a connection was lost).
    Retriable,
    /// The transaction cannot commit: the application aborts it and may go on.
    Abortable,
    /// The producer cannot go on: fenced by a newer producer of its `transactional.id`, or
    /// not authorized, or a broker that cannot do transactions.
    Fatal,
}

/// The severity of a broker code in a transactional request or a transaction's Produce.
pub(crate) fn severity(code: ErrorCode) -> Severity {
    match code {
        ErrorCode::PRODUCER_FENCED
        | ErrorCode::INVALID_PRODUCER_EPOCH
        | ErrorCode::TRANSACTION_COORDINATOR_FENCED
        | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
        | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
        | ErrorCode::UNSUPPORTED_VERSION
        | ErrorCode::INVALID_TXN_STATE
        | ErrorCode::INVALID_TRANSACTION_TIMEOUT => Severity::Fatal,
        code if code.retry_action() != RetryAction::NoRetry => Severity::Retriable,
        _ => Severity::Abortable,
    }
}

/// The severity of any error of a transactional request: a broker code as [`severity`]
/// says; a lost connection or a timeout is retriable (the request may be sent again);
/// everything else (a malformed answer, a closed producer) ends the call, not the producer.
fn error_severity(error: &Error) -> Severity {
    match error {
        Error::Broker { code, .. } => severity(*code),
        Error::ProducerFenced { .. } | Error::Fatal(_) => Severity::Fatal,
        Error::TransactionAbortable { .. } => Severity::Abortable,
        e if e.is_retriable() => Severity::Retriable,
        _ => Severity::Abortable,
    }
}

/// What the coordinator's retry loop retries: what [`severity`] calls retriable.
fn retry_verdict(error: &Error) -> RetryAction {
    match error_severity(error) {
        Severity::Retriable => RetryAction::Retry,
        _ => RetryAction::NoRetry,
    }
}

/// A transactional producer's state, its coordinator and its settings.
pub(crate) struct Transactions {
    id: String,
    timeout: Duration,
    coordinator: Coordinator,
    state: Mutex<TxnState>,
    /// One transactional call at a time: a commit and an abort never interleave.
    calls: tokio::sync::Mutex<()>,
    /// Transaction version 2, as `init_transactions` found the cluster (read per request).
    v2: AtomicBool,
}

impl Transactions {
    pub(crate) fn new(cluster: Cluster, id: String, timeout: Duration) -> Self {
        Self {
            coordinator: Coordinator::new(
                cluster,
                CoordinatorKind::Transaction,
                id.clone(),
                TrafficClass::Control,
            ),
            id,
            timeout,
            state: Mutex::new(TxnState::default()),
            calls: tokio::sync::Mutex::new(()),
            v2: AtomicBool::new(false),
        }
    }

    /// Whether the transactions run transaction version 2 (KIP-890 part 2).
    pub(crate) fn v2(&self) -> bool {
        self.v2.load(Ordering::Acquire)
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, TxnState> {
        lock(&self.state)
    }

    /// The highest Produce version a transactional batch may go in.
    pub(crate) fn produce_version_cap(&self) -> i16 {
        if self.v2() {
            TV2_PRODUCE
        } else {
            TV1_PRODUCE
        }
    }

    pub(crate) fn transactional_id(&self) -> TransactionalId {
        TransactionalId(StrBytes::from_string(self.id.clone()))
    }

    /// The error a fatal broker code becomes: fenced, or fatal with the code named.
    fn fatal(&self, error: Error) -> Error {
        match error.code() {
            Some(
                ErrorCode::PRODUCER_FENCED
                | ErrorCode::INVALID_PRODUCER_EPOCH
                | ErrorCode::TRANSACTION_COORDINATOR_FENCED,
            ) => Error::ProducerFenced {
                transactional_id: self.id.clone(),
            },
            _ => match error {
                e @ (Error::ProducerFenced { .. } | Error::Fatal(_)) => e,
                e => Error::Fatal(format!("transactional.id {:?}: {e}", self.id)),
            },
        }
    }

    /// InitProducerId for this transactional id: a new epoch, which fences older producers
    /// of the id and ends (aborts) what they left open. With `current`, the next epoch of
    /// this producer's own id (KIP-360, after an abort that needs a bump). Also says whether
    /// the coordinator announces transaction version 2.
    async fn init_producer_id(
        &self,
        current: Option<(i64, i16)>,
        timeout: Duration,
    ) -> Result<(i64, i16, bool)> {
        let (producer_id, epoch) = current.unwrap_or((-1, -1));
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(self.transactional_id()))
            .with_transaction_timeout_ms(millis(self.timeout))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch);
        self.coordinator
            .request(timeout, retry_verdict, |conn| {
                let request = &request;
                async move {
                    let response = conn.send(request).await?;
                    let v2 = conn.feature_level(TRANSACTION_VERSION).unwrap_or(0) >= 2;
                    match ErrorCode(response.error_code) {
                        ErrorCode::NONE => {
                            Ok((response.producer_id.0, response.producer_epoch, v2))
                        }
                        code => Err(Error::broker(code, format!("InitProducerId({})", self.id))),
                    }
                }
            })
            .await
    }

    /// EndTxn: commit or abort, retried (coordinator moves, lost connections, the
    /// coordinator still busy) until answered or `timeout`. With transaction version 2 the
    /// answer carries the producer's next id and epoch.
    async fn end(
        &self,
        identity: (i64, i16),
        commit: bool,
        timeout: Duration,
    ) -> Result<Option<(i64, i16)>> {
        let (cap, v2) = match self.v2() {
            true => (TV2_END_TXN, true),
            false => (TV1_END_TXN, false),
        };
        let request = EndTxnRequest::default()
            .with_transactional_id(self.transactional_id())
            .with_producer_id(ProducerId(identity.0))
            .with_producer_epoch(identity.1)
            .with_committed(commit);
        let what = if commit { "commit" } else { "abort" };
        let deadline = Instant::now() + timeout;
        let mut second_opinions = 0;
        loop {
            let answer = self
                .coordinator
                .request(
                    deadline.saturating_duration_since(Instant::now()),
                    retry_verdict,
                    |conn| {
                        let request = &request;
                        async move {
                            let response = conn.send_at_most(request, cap).await?;
                            match ErrorCode(response.error_code) {
                                ErrorCode::NONE if v2 => {
                                    Ok(Some((response.producer_id.0, response.producer_epoch)))
                                }
                                ErrorCode::NONE => Ok(None),
                                code => {
                                    Err(Error::broker(code, format!("EndTxn({what}, {})", self.id)))
                                }
                            }
                        }
                    },
                )
                .await;
            // A coordinator frozen past its failover answers from its stale state when it
            // wakes: the transaction it knows is the one before this, and it calls the
            // commit invalid. Its successor, if another broker names one, decides.
            match answer {
                Err(e)
                    if e.code() == Some(ErrorCode::INVALID_TXN_STATE)
                        && second_opinions < MAX_SECOND_OPINIONS
                        && self.coordinator.replaced().await =>
                {
                    second_opinions += 1;
                }
                answer => return answer,
            }
        }
    }

    /// One AddPartitionsToTxn for `partitions`; the answer per partition.
    async fn add_partitions(
        &self,
        identity: (i64, i16),
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<Vec<(TopicPartition, ErrorCode)>> {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics.entry(&tp.topic).or_default().push(tp.partition);
        }
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.transactional_id())
            .with_v3_and_below_producer_id(ProducerId(identity.0))
            .with_v3_and_below_producer_epoch(identity.1)
            .with_v3_and_below_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        AddPartitionsToTxnTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        // Only the coordinator's moves are retried here; the caller backs off otherwise.
        let moved_only = |e: &Error| match crate::cluster::coordinator::moved(e) {
            true => RetryAction::Retry,
            false => RetryAction::NoRetry,
        };
        let response = self
            .coordinator
            .request(timeout, moved_only, |conn| {
                let request = &request;
                async move { conn.send(request).await }
            })
            .await?;
        let mut answers: HashMap<TopicPartition, ErrorCode> = HashMap::new();
        for topic in &response.results_by_topic_v3_and_below {
            for p in &topic.results_by_partition {
                answers.insert(
                    TopicPartition::new(topic.name.0.as_str(), p.partition_index),
                    ErrorCode(p.partition_error_code),
                );
            }
        }
        Ok(partitions
            .iter()
            .map(|tp| {
                // A partition the answer leaves out was not added: asked again.
                let code = answers
                    .get(tp)
                    .copied()
                    .unwrap_or(ErrorCode::OPERATION_NOT_ATTEMPTED);
                (tp.clone(), code)
            })
            .collect())
    }

    /// AddOffsetsToTxn: the group's offsets join the transaction.
    async fn add_offsets(
        &self,
        identity: (i64, i16),
        group: &str,
        timeout: Duration,
    ) -> Result<()> {
        let request = AddOffsetsToTxnRequest::default()
            .with_transactional_id(self.transactional_id())
            .with_producer_id(ProducerId(identity.0))
            .with_producer_epoch(identity.1)
            .with_group_id(group_id(group));
        self.coordinator
            .request(timeout, retry_verdict, |conn| {
                let request = &request;
                async move {
                    let response = conn.send(request).await?;
                    match ErrorCode(response.error_code) {
                        ErrorCode::NONE => Ok(()),
                        code => Err(Error::broker(
                            code,
                            format!("AddOffsetsToTxn(group {group})"),
                        )),
                    }
                }
            })
            .await
    }

    /// TxnOffsetCommit to the group's coordinator, under the member's generation (KIP-447):
    /// the coordinator refuses the offsets of a member fenced since.
    async fn commit_offsets(
        &self,
        cluster: &Cluster,
        identity: (i64, i16),
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, om) in offsets {
            topics.entry(&tp.topic).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(om.offset)
                    .with_committed_leader_epoch(om.leader_epoch.unwrap_or(-1))
                    .with_committed_metadata(Some(StrBytes::from_string(
                        om.metadata.clone().unwrap_or_default(),
                    ))),
            );
        }
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(self.transactional_id())
            .with_group_id(group_id(&group.group_id))
            .with_producer_id(ProducerId(identity.0))
            .with_producer_epoch(identity.1)
            .with_generation_id(group.generation_id)
            .with_member_id(StrBytes::from_string(group.member_id.clone()))
            .with_group_instance_id(
                group
                    .group_instance_id
                    .as_ref()
                    .map(|i| StrBytes::from_string(i.clone())),
            )
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let offset_commit_cap = match self.v2() {
            true => TV2_TXN_OFFSET_COMMIT,
            false => TV1_TXN_OFFSET_COMMIT,
        };
        let coordinator = Coordinator::new(
            cluster.clone(),
            CoordinatorKind::Group,
            group.group_id.clone(),
            TrafficClass::Group,
        );
        coordinator
            .request(timeout, retry_verdict, |conn| {
                let request = &request;
                async move {
                    let response = conn.send_at_most(request, offset_commit_cap).await?;
                    // The first error of any partition stands for the request.
                    let failed = response
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
                        .find(|(_, p)| p.error_code != 0);
                    match failed {
                        None => Ok(()),
                        Some((t, p)) => Err(Error::broker(
                            ErrorCode(p.error_code),
                            format!(
                                "TxnOffsetCommit({}-{}, group {})",
                                t.name.0, p.partition_index, group.group_id
                            ),
                        )),
                    }
                }
            })
            .await
    }
}

impl Shared {
    /// The transactional state, for a producer with `transactional.id`.
    pub(crate) fn transactions(&self) -> Result<&Transactions> {
        self.txn.as_ref().ok_or_else(|| {
            Error::TransactionState(
                "the producer has no transactional.id; set one to use transactions".to_string(),
            )
        })
    }

    fn idempotence_of_txn(&self) -> &Idempotence {
        // A transactional config requires idempotence (validated), so the producer has it.
        self.idempotence
            .as_ref()
            .expect("a transactional producer is idempotent")
    }

    /// A record of the transaction failed (or a request for it): fatal codes end the
    /// producer (the fatal error is returned, for the records), anything else leaves only
    /// an abort.
    pub(crate) fn transaction_failed(&self, error: &Error) -> Option<Error> {
        let txn = self.txn.as_ref()?;
        let cause = match error {
            Error::OutcomeUnknown { reason } => reason,
            e => e,
        };
        if error_severity(cause) == Severity::Fatal {
            let fatal = txn.fatal(cause.clone());
            self.go_fatal(fatal.clone());
            return self.fatal_error().or(Some(fatal));
        }
        txn.state().abortable(error.clone());
        None
    }

    /// Sender step: asks the coordinator to add the partitions records went to, once per
    /// round at most (an answer takes one round trip); refused ones back off, abortable and
    /// fatal refusals end the transaction or the producer.
    pub(crate) async fn add_partitions_to_txn(&self) {
        let Some(txn) = &self.txn else { return };
        let Some(request) = txn.state().partitions_to_add(Instant::now()) else {
            return;
        };
        let partitions = &request.partitions;
        let identity = self.idempotence_of_txn().identity();
        let answers = match txn
            .add_partitions(identity, partitions, self.config.client.request_timeout)
            .await
        {
            Ok(answers) => answers,
            Err(e) => partitions
                .iter()
                .map(|tp| (tp.clone(), error_code_of(&e)))
                .collect(),
        };
        let mut added = Vec::new();
        let mut again = Vec::new();
        let mut concurrent = false;
        let mut refused: Option<Error> = None;
        for (tp, code) in answers {
            match code {
                ErrorCode::NONE => added.push(tp),
                ErrorCode::OPERATION_NOT_ATTEMPTED => again.push(tp),
                code => match severity(code) {
                    Severity::Retriable => {
                        concurrent |= code == ErrorCode::CONCURRENT_TRANSACTIONS;
                        again.push(tp);
                    }
                    Severity::Abortable | Severity::Fatal => {
                        let error = Error::broker(code, format!("AddPartitionsToTxn({tp})"));
                        if refused.as_ref().is_none_or(|r| {
                            error_severity(&error) == Severity::Fatal
                                && error_severity(r) != Severity::Fatal
                        }) {
                            refused = Some(error);
                        }
                    }
                },
            }
        }
        if let Some(error) = refused {
            // The partitions not attempted stay out; the transaction cannot commit (unless
            // it ended meanwhile; fatal errors end the producer either way).
            if txn.state().current(&request) || error_severity(&error) == Severity::Fatal {
                let _ = self.transaction_failed(&error);
            }
            txn.state().partitions_added(&request, added);
            return;
        }
        let mut state = txn.state();
        state.partitions_added(&request, added);
        if !again.is_empty() {
            let delay = if concurrent {
                CONCURRENT_TRANSACTIONS_BACKOFF
            } else {
                Backoff {
                    initial: self.config.retry_backoff,
                    max: self.config.retry_backoff_max,
                }
                .delay(state.add_failures().saturating_add(1))
            };
            state.add_again(&request, again, Instant::now() + delay);
        }
    }

    /// The partitions whose batches may go now (`None`: no transaction, all may).
    pub(crate) fn txn_added(&self) -> Option<Arc<AddedPartitions>> {
        self.txn.as_ref().map(|t| t.state().added())
    }

    /// Fails the batches waiting in the queues when the transaction says they may not be
    /// sent (an abortable error, an abort under way). Returns whether it did.
    pub(crate) fn fail_waiting_of_txn(&self) -> bool {
        let Some(txn) = &self.txn else { return false };
        if txn.state().waiting_batches_fail_with().is_none() {
            return false;
        }
        self.give_up(
            self.accumulator.take_all(),
            super::outcome::FailWith::Transaction,
        );
        true
    }

    /// The error of a waiting batch that [`fail_waiting_of_txn`](Self::fail_waiting_of_txn)
    /// fails.
    pub(crate) fn txn_waiting_error(&self) -> Error {
        self.txn
            .as_ref()
            .and_then(|t| t.state().waiting_batches_fail_with())
            .unwrap_or(Error::TransactionAborted)
    }

    /// In a transaction, the record's partition joins it (added before its first batch
    /// goes); the state's lock is held until the record is queued, so an abort that starts
    /// meanwhile waits for it. `None` without `transactional.id`.
    pub(crate) fn join_transaction(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<std::sync::MutexGuard<'_, TxnState>>> {
        let Some(txn) = &self.txn else {
            return Ok(None);
        };
        let mut state = txn.state();
        state.on_send(topic, partition)?;
        Ok(Some(state))
    }

    /// Checks a send against the transaction, before the record waits for anything.
    pub(crate) fn txn_check_send(&self) -> Result<()> {
        match &self.txn {
            Some(txn) => txn.state().check(Op::Send),
            None => Ok(()),
        }
    }

    /// The abort's steps, for `abort_transaction`, `close` and a dropped producer: waiting
    /// records fail, those in flight are settled, then EndTxn(abort) if the coordinator may
    /// know of the transaction, and an epoch bump if a record's fate needs one.
    async fn abort(&self, timeout: Duration) -> Result<()> {
        let txn = self.transactions()?;
        if let Some(e) = self.fatal_error() {
            return Err(e);
        }
        txn.state().aborting()?;
        self.fail_waiting_of_txn();
        self.wake.notify_one();
        let deadline = crate::retry::deadline_after(timeout);
        if tokio::time::timeout_at(deadline, self.tracker.all_settled())
            .await
            .is_err()
        {
            return Err(Error::TransactionState(format!(
                "abort_transaction: records in flight were not answered within {timeout:?}; \
                 call abort_transaction again"
            )));
        }
        if let Some(e) = self.fatal_error() {
            return Err(e);
        }
        let id = self.idempotence_of_txn();
        let remaining = deadline.saturating_duration_since(Instant::now());
        if txn.state().started() {
            match txn.end(id.identity(), false, remaining).await {
                Ok(next) => self.next_epoch(next),
                Err(e) => return Err(self.txn_call_failed(e)),
            }
        }
        if id.bump_requested() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match txn.init_producer_id(Some(id.identity()), remaining).await {
                Ok((producer_id, epoch, _)) => {
                    id.bumped(producer_id, epoch);
                    self.accumulator.clear_sequences();
                }
                Err(e) => return Err(self.txn_call_failed(e)),
            }
        }
        txn.state().completed();
        Ok(())
    }

    /// Transaction version 2: the epoch EndTxn bumped is the next transaction's, and every
    /// partition restarts at sequence 0.
    fn next_epoch(&self, next: Option<(i64, i16)>) {
        if let Some((producer_id, epoch)) = next {
            self.idempotence_of_txn().bumped(producer_id, epoch);
            self.accumulator.clear_sequences();
        }
    }

    /// A transactional call's request failed: fatal errors end the producer (and are what
    /// the call returns), the rest is returned as it is.
    fn txn_call_failed(&self, error: Error) -> Error {
        let Some(txn) = &self.txn else { return error };
        if error_severity(&error) == Severity::Fatal {
            let fatal = txn.fatal(error);
            self.go_fatal(fatal.clone());
            return fatal;
        }
        error
    }

    /// After the last clone was dropped in a transaction: abort it from a task (waiting
    /// records already failed with `Dropped`), so the coordinator does not keep it open until
    /// `transaction.timeout.ms`. Needs a tokio runtime; without one the timeout ends it.
    pub(crate) fn abort_dropped_transaction(self: &Arc<Self>) {
        let Some(txn) = &self.txn else { return };
        let open = {
            let state = txn.state();
            state.started()
                && matches!(
                    state.phase(),
                    Phase::InTransaction | Phase::Abortable(_) | Phase::Aborting
                )
        };
        if !open || self.fatal.get().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = self.clone();
        runtime.spawn(async move {
            let timeout = shared.config.client.request_timeout.saturating_mul(2);
            if let Err(e) = shared.abort(timeout).await {
                tracing::warn!(error = %e, "could not abort the dropped producer's transaction");
            }
        });
    }
}

/// The code an error of a whole AddPartitionsToTxn stands for, per partition.
fn error_code_of(error: &Error) -> ErrorCode {
    match error.code() {
        Some(code) => code,
        // A lost connection or timeout: asked again after a backoff.
        None if error.is_retriable() => ErrorCode::REQUEST_TIMED_OUT,
        None => ErrorCode::UNKNOWN_SERVER_ERROR,
    }
}

impl Producer {
    fn txn(&self) -> Result<&Transactions> {
        self.shared.transactions()
    }

    /// Registers the producer's `transactional.id` with its transaction coordinator (Java's
    /// `initTransactions`): the coordinator fences every older producer of the id (their
    /// later calls fail with [`Error::ProducerFenced`]) and ends the transaction one of them
    /// left open (a prepared commit completes, anything else is aborted). Call once, before
    /// the first [`begin_transaction`](Self::begin_transaction).
    ///
    /// Waits up to `max.block.ms`; a timeout or a lost connection may be retried by calling
    /// it again.
    pub async fn init_transactions(&self) -> Result<()> {
        let s = &self.shared;
        let txn = self.txn()?;
        let _call = txn.calls.lock().await;
        s.check_open()?;
        txn.state().initializing()?;
        match txn.init_producer_id(None, s.config.max_block).await {
            Ok((producer_id, epoch, v2)) => {
                s.idempotence_of_txn().bumped(producer_id, epoch);
                s.accumulator.clear_sequences();
                txn.v2.store(v2, Ordering::Release);
                tracing::info!(
                    transactional_id = %txn.id,
                    transaction_version = if v2 { 2 } else { 1 },
                    "transactions initialized"
                );
                txn.state().initialized(true, v2);
                Ok(())
            }
            Err(e) => {
                txn.state().initialized(false, false);
                Err(s.txn_call_failed(e))
            }
        }
    }

    /// Starts a transaction (Java's `beginTransaction`): every record sent until
    /// [`commit_transaction`](Self::commit_transaction) or
    /// [`abort_transaction`](Self::abort_transaction) belongs to it. Local: nothing is sent
    /// until the first record.
    pub fn begin_transaction(&self) -> Result<()> {
        let txn = self.txn()?;
        self.shared.check_open()?;
        txn.state().begin()
    }

    /// The transaction protocol in use, once [`init_transactions`](Self::init_transactions)
    /// has run: 2 (KIP-890 part 2: an epoch per transaction, partitions and the group's
    /// offsets added by the brokers) when the cluster's finalized `transaction.version` is 2
    /// or more, as Kafka 4's defaults are; otherwise 1. `None` before, or without
    /// `transactional.id`.
    pub fn transaction_version(&self) -> Option<u8> {
        let txn = self.shared.txn.as_ref()?;
        let initialized = !matches!(
            txn.state().phase(),
            Phase::Uninitialized | Phase::Initializing
        );
        initialized.then(|| if txn.v2() { 2 } else { 1 })
    }

    /// Whether a transaction is open: begun, and not yet committed or aborted.
    pub fn in_transaction(&self) -> bool {
        self.shared
            .txn
            .as_ref()
            .is_some_and(|t| t.state().in_transaction())
    }

    /// Adds a consumer's offsets to the transaction (Java's `sendOffsetsToTransaction`):
    /// they are committed for `group.group_id` if and only if the transaction commits, so the
    /// records a consume-transform-produce loop wrote and the input it consumed move on
    /// together. `group` comes from `Consumer::group_metadata`; its generation and member id
    /// let the coordinator refuse the offsets of a consumer that was fenced from its group
    /// (KIP-447: the transaction then cannot commit).
    ///
    /// Each offset is the next one to read (the last processed offset + 1).
    ///
    /// ```no_run
    /// # async fn demo(producer: kafkit::Producer, consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use kafkit::{OffsetAndMetadata, TopicPartition};
    /// use std::collections::HashMap;
    /// producer.begin_transaction()?;
    /// // ... send the records made from what the consumer returned ...
    /// let offsets = HashMap::from([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(42))]);
    /// producer.send_offsets_to_transaction(offsets, &consumer.group_metadata()?).await?;
    /// producer.commit_transaction().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let s = &self.shared;
        let txn = self.txn()?;
        let offsets: BTreeMap<_, _> = offsets.into_iter().collect();
        let _call = txn.calls.lock().await;
        s.check_open()?;
        txn.state().check(Op::SendOffsets)?;
        if group.group_id.is_empty() {
            return Err(Error::config(
                "send_offsets_to_transaction needs a group id; the consumer has no group.id",
            ));
        }
        if offsets.is_empty() {
            return Ok(());
        }
        txn.state().offsets_asked();
        let identity = s.idempotence_of_txn().identity();
        let timeout = s.config.max_block;
        let result = async {
            // Transaction version 2: TxnOffsetCommit v5 adds the group itself.
            if !txn.v2() {
                txn.add_offsets(identity, &group.group_id, timeout).await?;
            }
            txn.commit_offsets(&s.cluster, identity, &offsets, group, timeout)
                .await
        }
        .await;
        result.map_err(|e| {
            let e = s.txn_call_failed(e);
            if !e.is_fatal() && error_severity(&e) == Severity::Abortable {
                txn.state().abortable(e.clone());
                return Error::TransactionAbortable {
                    reason: Box::new(e),
                };
            }
            e
        })
    }

    /// Commits the transaction (Java's `commitTransaction`): flushes its records, then asks
    /// the coordinator to commit. Once this returns `Ok`, `read_committed` consumers see the
    /// transaction's records and its offsets are committed.
    ///
    /// If a record of the transaction failed, this returns
    /// [`Error::TransactionAbortable`]: call [`abort_transaction`](Self::abort_transaction).
    /// If the coordinator's answer is lost (a timeout after `max.block.ms`, a lost
    /// connection), the outcome is unknown: call `commit_transaction` again, which asks again
    /// (never an abort: the commit may have happened). Fenced or fatal: every later call
    /// fails the same way.
    pub async fn commit_transaction(&self) -> Result<()> {
        let s = &self.shared;
        let txn = self.txn()?;
        let _call = txn.calls.lock().await;
        s.check_open()?;
        txn.state().committing()?;
        self.flush().await;
        if let Some(e) = s.fatal_error() {
            return Err(e);
        }
        let started = {
            let mut state = txn.state();
            // A record that failed in the flush made the transaction abortable.
            state.check(Op::Commit)?;
            state.commit_sent();
            state.started()
        };
        if started {
            let identity = s.idempotence_of_txn().identity();
            match txn.end(identity, true, s.config.max_block).await {
                Ok(next) => s.next_epoch(next),
                // The coordinator answered and refused the commit: nothing was committed.
                Err(e @ Error::Broker { code, .. }) if severity(code) == Severity::Abortable => {
                    txn.state().commit_refused(e.clone());
                    return Err(Error::TransactionAbortable {
                        reason: Box::new(e),
                    });
                }
                // Fatal, or no answer: the commit's outcome is unknown (or the producer's
                // end); it stays Committing, and only commit_transaction may follow.
                Err(e) => return Err(s.txn_call_failed(e)),
            }
        }
        txn.state().completed();
        Ok(())
    }

    /// Aborts the transaction (Java's `abortTransaction`): its records not yet sent fail with
    /// [`Error::TransactionAborted`], those in flight are answered, and the coordinator
    /// writes abort markers, so `read_committed` consumers never see the transaction's
    /// records (`read_uncommitted` ones do) and its offsets are not committed. The producer
    /// is then ready for the next transaction.
    ///
    /// Waits up to `max.block.ms`; past it (or on a lost connection) call it again.
    pub async fn abort_transaction(&self) -> Result<()> {
        let s = &self.shared;
        let txn = self.txn()?;
        let _call = txn.calls.lock().await;
        s.check_open()?;
        s.abort(s.config.max_block).await
    }

    /// Runs `body` in a transaction: begins one, commits it if `body` returns `Ok`, aborts it
    /// if `body` returns `Err` (that error is returned; an abort that fails too is logged).
    /// `body` gets a clone of the producer (clones share everything) to send with.
    ///
    /// A commit that fails is returned as it is: an abortable error after the transaction
    /// was aborted here; an unknown outcome (the commit may have happened) without an
    /// abort, for the caller to call [`commit_transaction`](Self::commit_transaction) again;
    /// a fatal error as the producer's end.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafkit::Producer) -> kafkit::Result<()> {
    /// use kafkit::ProducerRecord;
    /// let written = producer
    ///     .transaction(|p| async move {
    ///         for i in 0..10 {
    ///             drop(p.send(ProducerRecord::new("audit", format!("event {i}"))).await?);
    ///         }
    ///         Ok::<_, kafkit::Error>(10)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<F, Fut, T, E>(&self, body: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Producer) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.begin_transaction()?;
        match body(self.clone()).await {
            Ok(value) => match self.commit_transaction().await {
                Ok(()) => Ok(value),
                Err(e) if e.is_abortable() => {
                    if let Err(abort) = self.abort_transaction().await {
                        tracing::warn!(error = %abort, "aborting the failed transaction failed");
                    }
                    Err(e.into())
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => {
                if self.in_transaction() {
                    if let Err(abort) = self.abort_transaction().await {
                        tracing::warn!(error = %abort, "aborting the transaction failed");
                    }
                }
                Err(e)
            }
        }
    }

    /// `close`'s first step for a producer in a transaction: abort it, within `timeout`.
    pub(super) async fn abort_on_close(&self, timeout: Duration) {
        let s = &self.shared;
        let Some(txn) = &s.txn else { return };
        let open = {
            let state = txn.state();
            matches!(
                state.phase(),
                Phase::InTransaction | Phase::Abortable(_) | Phase::Aborting
            )
        };
        if !open || s.fatal_error().is_some() {
            return;
        }
        let abort = async {
            let _call = txn.calls.lock().await;
            s.abort(timeout).await
        };
        match tokio::time::timeout(timeout, abort).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "close could not abort the transaction"),
            Err(_) => tracing::warn!(?timeout, "close could not abort the transaction in time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactional_errors_are_fatal_abortable_or_retried_as_in_java() {
        use ErrorCode as E;
        for code in [
            E::PRODUCER_FENCED,
            E::INVALID_PRODUCER_EPOCH,
            E::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            E::UNSUPPORTED_FOR_MESSAGE_FORMAT,
            E::INVALID_TXN_STATE,
            E::CLUSTER_AUTHORIZATION_FAILED,
        ] {
            assert_eq!(severity(code), Severity::Fatal, "{code}");
        }
        for code in [
            E::CONCURRENT_TRANSACTIONS,
            E::COORDINATOR_LOAD_IN_PROGRESS,
            E::NOT_COORDINATOR,
            E::COORDINATOR_NOT_AVAILABLE,
            E::UNKNOWN_TOPIC_OR_PARTITION,
            E::REQUEST_TIMED_OUT,
        ] {
            assert_eq!(severity(code), Severity::Retriable, "{code}");
        }
        for code in [
            E::TOPIC_AUTHORIZATION_FAILED,
            E::GROUP_AUTHORIZATION_FAILED,
            E::TRANSACTION_ABORTABLE,
            E::UNKNOWN_PRODUCER_ID,
            E::OUT_OF_ORDER_SEQUENCE_NUMBER,
            E::ILLEGAL_GENERATION,
            E::UNKNOWN_MEMBER_ID,
            E::FENCED_INSTANCE_ID,
            E::MESSAGE_TOO_LARGE,
        ] {
            assert_eq!(severity(code), Severity::Abortable, "{code}");
        }
        assert_eq!(
            error_severity(&Error::connection("b:1", "reset")),
            Severity::Retriable
        );
        assert_eq!(
            retry_verdict(&Error::broker(E::CONCURRENT_TRANSACTIONS, "x")),
            RetryAction::Retry
        );
        assert_eq!(
            retry_verdict(&Error::broker(E::PRODUCER_FENCED, "x")),
            RetryAction::NoRetry
        );
    }

    #[test]
    fn fenced_codes_become_producer_fenced_and_others_name_the_id() {
        let settings =
            crate::cluster::cluster_settings(&crate::config::ClientConfig::new("a:1")).unwrap();
        let txn = Transactions::new(
            Cluster::unconnected(settings),
            "tx-1".into(),
            Duration::from_secs(60),
        );
        for code in [
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
        ] {
            let e = txn.fatal(Error::broker(code, "EndTxn"));
            assert!(
                matches!(&e, Error::ProducerFenced { transactional_id } if transactional_id == "tx-1"),
                "{e}"
            );
            assert!(e.is_fatal() && !e.is_abortable());
        }
        let e = txn.fatal(Error::broker(
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "InitProducerId",
        ));
        assert!(
            matches!(&e, Error::Fatal(m) if m.contains("tx-1") && m.contains("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"))
        );
        assert_eq!(
            error_code_of(&Error::connection("b:1", "x")),
            ErrorCode::REQUEST_TIMED_OUT
        );
    }
}
