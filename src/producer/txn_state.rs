//! The transactional producer's state machine (Java's `TransactionManager.State`): which
//! calls each phase allows, and the partitions of the open transaction. Pure: the requests
//! are `transaction.rs`'s, this only says what may happen next.
//!
//! ```text
//! Uninitialized ──init──▶ Initializing ──ok──▶ Ready ──begin──▶ InTransaction
//!        ▲                     │ failed (retriable: call init again)       │  │ send, offsets
//!        └─────────────────────┘                                           │  ▼
//!                  Ready ◀──EndTxn done── Committing ◀──commit (flushed)───┤
//!                  Ready ◀──EndTxn done── Aborting ◀───abort──┬────────────┤
//!                                                             │            │ a record failed,
//!                                               Abortable(e) ─┘◀───────────┘ a partition refused
//! ```
//! A commit whose EndTxn got no answer stays `Committing`: only `commit_transaction` may
//! follow (it sends EndTxn(commit) again), never an abort. Fatal errors are not a phase:
//! the producer keeps the first one and every call returns it before asking this.

use crate::error::Error;
use crate::record::TopicPartition;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Instant;

/// The partitions in the transaction, by topic.
#[derive(Clone, Debug, Default)]
pub(crate) struct AddedPartitions(HashMap<String, HashSet<i32>>);

impl AddedPartitions {
    /// Whether `topic`-`partition` is in the transaction.
    pub(crate) fn contains(&self, topic: &str, partition: i32) -> bool {
        self.0.get(topic).is_some_and(|p| p.contains(&partition))
    }
}

/// An AddPartitionsToTxn to send: its partitions, and the transaction it is for.
#[derive(Debug)]
pub(crate) struct AddRequest {
    pub partitions: Vec<TopicPartition>,
    transaction: u64,
}

/// Where the transactional producer is.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// `init_transactions` not called yet (or it failed and may be called again).
    Uninitialized,
    /// `init_transactions` under way.
    Initializing,
    /// No transaction open.
    Ready,
    /// `begin_transaction` called: records and offsets join the transaction.
    InTransaction,
    /// Flushed, and EndTxn(commit) sent or about to be.
    Committing,
    /// `abort_transaction` under way.
    Aborting,
    /// The transaction cannot commit: only an abort may follow.
    Abortable(Error),
}

/// A call of the transactional API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Init,
    Begin,
    Send,
    SendOffsets,
    Commit,
    Abort,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Init => "init_transactions",
            Op::Begin => "begin_transaction",
            Op::Send => "send",
            Op::SendOffsets => "send_offsets_to_transaction",
            Op::Commit => "commit_transaction",
            Op::Abort => "abort_transaction",
        }
    }
}

/// The phase and the open transaction's partitions.
#[derive(Debug)]
pub(crate) struct TxnState {
    phase: Phase,
    /// Partitions records were sent to that no AddPartitionsToTxn has covered yet.
    new: BTreeSet<TopicPartition>,
    /// Partitions the coordinator added to the transaction: their batches may be sent.
    /// Keyed by topic so a record's lookup needs no `TopicPartition`; shared with the
    /// sender's drain, which must not take this state's lock under the queues' lock.
    added: Arc<AddedPartitions>,
    /// Whether the coordinator may know of this transaction (a partition or a group's
    /// offsets asked for): ending it then takes an EndTxn.
    started: bool,
    /// After a failed AddPartitionsToTxn: the failures in a row, and when to ask again.
    add_failures: u32,
    next_add: Option<Instant>,
    /// EndTxn(commit) was sent: the commit's outcome is the coordinator's now, and the
    /// transaction never turns abortable.
    end_sent: bool,
    /// Transaction version 2: the broker adds a partition when its first batch arrives
    /// (Produce v12), so a partition counts as added once a record goes to it.
    implicit_add: bool,
    /// Counts the transactions ended: an AddPartitionsToTxn answered after its transaction
    /// ended (aborted meanwhile) must not count for the next one.
    ended: u64,
}

impl Default for TxnState {
    fn default() -> Self {
        Self {
            phase: Phase::Uninitialized,
            new: BTreeSet::new(),
            added: Arc::default(),
            started: false,
            add_failures: 0,
            next_add: None,
            end_sent: false,
            implicit_add: false,
            ended: 0,
        }
    }
}

fn wrong(op: Op, what: &str) -> Error {
    Error::TransactionState(format!("cannot call {} {what}", op.name()))
}

impl TxnState {
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether `op` may be called now; the error says why not.
    pub(crate) fn check(&self, op: Op) -> Result<(), Error> {
        use Phase::*;
        match (&self.phase, op) {
            (Uninitialized, Op::Init) => Ok(()),
            (Initializing, Op::Init) => Err(wrong(op, "while an init_transactions runs")),
            (Uninitialized | Initializing, _) => Err(wrong(
                op,
                "before init_transactions has completed (call init_transactions first)",
            )),
            (_, Op::Init) => Err(wrong(op, "twice: the producer is initialized already")),
            (Ready, Op::Begin) => Ok(()),
            (Ready, _) => Err(wrong(op, "outside a transaction (call begin_transaction)")),
            (InTransaction, Op::Begin) => Err(wrong(op, "while a transaction is open")),
            (InTransaction, _) => Ok(()),
            (Committing, Op::Commit) => Ok(()),
            (Committing, _) => Err(wrong(
                op,
                "while the transaction commits: a commit_transaction that failed with an \
                 unknown outcome must be called again, and never turns into an abort",
            )),
            (Aborting, Op::Abort) => Ok(()),
            (Aborting, _) => Err(wrong(
                op,
                "while the transaction aborts: call abort_transaction again to finish it",
            )),
            (Abortable(_), Op::Abort) => Ok(()),
            (Abortable(e), Op::Begin) => Err(wrong(
                op,
                &format!("before aborting the failed transaction ({e})"),
            )),
            (Abortable(e), _) => Err(Error::TransactionAbortable {
                reason: Box::new(e.clone()),
            }),
        }
    }

    /// `init_transactions` starts.
    pub(crate) fn initializing(&mut self) -> Result<(), Error> {
        self.check(Op::Init)?;
        self.phase = Phase::Initializing;
        Ok(())
    }

    /// `init_transactions` ended: ready for a transaction, or (failed) to be called again.
    /// `implicit_add`: transaction version 2, where partitions join on their first batch.
    pub(crate) fn initialized(&mut self, ok: bool, implicit_add: bool) {
        self.implicit_add = implicit_add;
        self.phase = if ok {
            Phase::Ready
        } else {
            Phase::Uninitialized
        };
    }

    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        self.check(Op::Begin)?;
        self.phase = Phase::InTransaction;
        Ok(())
    }

    /// A record for `topic`-`partition` joins the transaction: its partition is added first
    /// if it is not yet.
    pub(crate) fn on_send(&mut self, topic: &str, partition: i32) -> Result<(), Error> {
        self.check(Op::Send)?;
        if self.is_added(topic, partition) {
            return Ok(());
        }
        if self.implicit_add {
            self.started = true;
            Arc::make_mut(&mut self.added)
                .0
                .entry(topic.to_string())
                .or_default()
                .insert(partition);
        } else {
            self.new.insert(TopicPartition::new(topic, partition));
        }
        Ok(())
    }

    /// Whether a batch for the partition may be sent: its partition is in the transaction.
    pub(crate) fn is_added(&self, topic: &str, partition: i32) -> bool {
        self.added.contains(topic, partition)
    }

    /// The partitions in the transaction now, for the sender's drain.
    pub(crate) fn added(&self) -> Arc<AddedPartitions> {
        self.added.clone()
    }

    /// The partitions to add now, if any and not backing off; they count as asked for. Only
    /// while records may still be sent in this transaction (open, or being flushed by a
    /// commit). The answer is for the transaction the request carries.
    pub(crate) fn partitions_to_add(&mut self, now: Instant) -> Option<AddRequest> {
        if !matches!(self.phase, Phase::InTransaction | Phase::Committing) || self.new.is_empty() {
            return None;
        }
        if self.next_add.is_some_and(|at| now < at) {
            return None;
        }
        self.started = true;
        Some(AddRequest {
            partitions: std::mem::take(&mut self.new).into_iter().collect(),
            transaction: self.ended,
        })
    }

    /// Whether an answer to `request` concerns the transaction open now.
    pub(crate) fn current(&self, request: &AddRequest) -> bool {
        request.transaction == self.ended
    }

    /// The coordinator added these partitions (asked for by `request`).
    pub(crate) fn partitions_added(
        &mut self,
        request: &AddRequest,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) {
        if !self.current(request) {
            return;
        }
        let added = Arc::make_mut(&mut self.added);
        for tp in partitions {
            added.0.entry(tp.topic).or_default().insert(tp.partition);
        }
        self.add_failures = 0;
        self.next_add = None;
    }

    /// These partitions (of `request`) are to be asked for again, not before `retry_at`.
    pub(crate) fn add_again(
        &mut self,
        request: &AddRequest,
        partitions: impl IntoIterator<Item = TopicPartition>,
        retry_at: Instant,
    ) {
        if !self.current(request) {
            return;
        }
        self.new.extend(partitions);
        self.add_failures = self.add_failures.saturating_add(1);
        self.next_add = Some(retry_at);
    }

    /// Failed AddPartitionsToTxn requests in a row, for the backoff.
    pub(crate) fn add_failures(&self) -> u32 {
        self.add_failures
    }

    /// A group's offsets are about to join the transaction.
    pub(crate) fn offsets_asked(&mut self) {
        self.started = true;
    }

    /// The transaction cannot commit any more; the first reason is kept. Only an open
    /// transaction, or one whose commit is still flushing, turns abortable: an abort under
    /// way already ends it, and a commit whose EndTxn was sent is never turned into an abort.
    pub(crate) fn abortable(&mut self, error: Error) {
        let open = match self.phase {
            Phase::InTransaction => true,
            Phase::Committing => !self.end_sent,
            _ => false,
        };
        if open {
            tracing::warn!(%error, "the transaction must be aborted");
            self.phase = Phase::Abortable(error);
        }
    }

    /// `commit_transaction` has flushed the transaction's records: its EndTxn may go.
    pub(crate) fn committing(&mut self) -> Result<(), Error> {
        self.check(Op::Commit)?;
        self.phase = Phase::Committing;
        Ok(())
    }

    /// EndTxn(commit) is about to be sent.
    pub(crate) fn commit_sent(&mut self) {
        self.end_sent = true;
    }

    /// The coordinator answered EndTxn(commit) with a refusal: nothing was committed, and
    /// only an abort may follow.
    pub(crate) fn commit_refused(&mut self, error: Error) {
        if matches!(self.phase, Phase::Committing) {
            self.phase = Phase::Abortable(error);
        }
    }

    /// `abort_transaction` starts.
    pub(crate) fn aborting(&mut self) -> Result<(), Error> {
        self.check(Op::Abort)?;
        self.phase = Phase::Aborting;
        Ok(())
    }

    /// Whether ending the transaction takes an EndTxn (the coordinator may know of it).
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// The transaction ended (committed or aborted): ready for the next.
    pub(crate) fn completed(&mut self) {
        self.phase = Phase::Ready;
        self.ended = self.ended.wrapping_add(1);
        self.new.clear();
        self.added = Arc::default();
        self.started = false;
        self.add_failures = 0;
        self.next_add = None;
        self.end_sent = false;
    }

    /// Whether a transaction is open: begun and not yet committed or aborted.
    pub(crate) fn in_transaction(&self) -> bool {
        matches!(
            self.phase,
            Phase::InTransaction | Phase::Committing | Phase::Aborting | Phase::Abortable(_)
        )
    }

    /// What a batch waiting to be sent fails with now, if it may not be sent: the abortable
    /// error (Java fails them at once), or the abort under way.
    pub(crate) fn waiting_batches_fail_with(&self) -> Option<Error> {
        match &self.phase {
            Phase::Abortable(e) => Some(Error::TransactionAbortable {
                reason: Box::new(e.clone()),
            }),
            Phase::Aborting => Some(Error::TransactionAborted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::time::Duration;

    fn state_in(phase: Phase) -> TxnState {
        TxnState {
            phase,
            ..TxnState::default()
        }
    }

    fn failed() -> Error {
        Error::broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED, "t-0")
    }

    /// Every phase against every call: allowed, a state error, or the abortable error.
    #[test]
    fn which_calls_each_phase_allows() {
        use Op::*;
        let ops = [Init, Begin, Send, SendOffsets, Commit, Abort];
        #[rustfmt::skip]
        let table: &[(Phase, [char; 6])] = &[
            //                         Init Begin Send Offs Commit Abort   (y: ok, s: state, a: abortable)
            (Phase::Uninitialized,    ['y', 's', 's', 's', 's', 's']),
            (Phase::Initializing,     ['s', 's', 's', 's', 's', 's']),
            (Phase::Ready,            ['s', 'y', 's', 's', 's', 's']),
            (Phase::InTransaction,    ['s', 's', 'y', 'y', 'y', 'y']),
            (Phase::Committing,       ['s', 's', 's', 's', 'y', 's']),
            (Phase::Aborting,         ['s', 's', 's', 's', 's', 'y']),
            (Phase::Abortable(failed()), ['s', 's', 'a', 'a', 'a', 'y']),
        ];
        for (phase, expected) in table {
            let state = state_in(phase.clone());
            for (op, want) in ops.iter().zip(expected) {
                let got = match state.check(*op) {
                    Ok(()) => 'y',
                    Err(Error::TransactionState(_)) => 's',
                    Err(e) if e.is_abortable() => 'a',
                    Err(e) => panic!("{phase:?} {op:?}: {e}"),
                };
                assert_eq!(got, *want, "{phase:?} {op:?}");
            }
        }
    }

    #[test]
    fn a_transaction_from_init_to_commit_and_the_next() {
        let mut s = TxnState::default();
        assert!(
            matches!(s.check(Op::Send), Err(Error::TransactionState(m)) if m.contains("init_transactions first"))
        );
        s.initializing().unwrap();
        s.initialized(true, false);
        assert!(!s.in_transaction());
        s.begin().unwrap();
        assert!(s.in_transaction());
        s.on_send("t", 0).unwrap();
        s.on_send("t", 0).unwrap();
        s.on_send("t", 1).unwrap();
        assert!(!s.is_added("t", 0) && !s.new.is_empty());
        let asked = s.partitions_to_add(Instant::now()).unwrap();
        assert_eq!(
            asked.partitions,
            [TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        );
        assert!(s.started() && s.new.is_empty());
        s.partitions_added(&asked, asked.partitions.clone());
        assert!(s.is_added("t", 0) && s.is_added("t", 1) && !s.is_added("u", 0));
        s.on_send("t", 0).unwrap();
        assert!(
            s.new.is_empty(),
            "an added partition is not asked for again"
        );
        s.committing().unwrap();
        assert!(
            s.check(Op::Abort).is_err(),
            "a commit never turns into an abort"
        );
        s.committing().unwrap();
        s.completed();
        assert!(!s.in_transaction() && !s.started() && !s.is_added("t", 0));
        s.begin().unwrap();
        s.on_send("t", 0).unwrap();
        assert!(
            !s.new.is_empty(),
            "each transaction adds its partitions anew"
        );
    }

    #[test]
    fn a_failed_init_may_be_called_again() {
        let mut s = TxnState::default();
        s.initializing().unwrap();
        assert!(s.initializing().is_err(), "not while one runs");
        s.initialized(false, false);
        s.initializing().unwrap();
        s.initialized(true, false);
        assert!(s.initializing().is_err(), "not once initialized");
    }

    #[test]
    fn an_abortable_error_fails_waiting_batches_until_the_abort() {
        let mut s = state_in(Phase::Ready);
        s.abortable(failed());
        assert!(matches!(s.phase(), Phase::Ready), "no transaction to fail");
        s.begin().unwrap();
        assert!(s.waiting_batches_fail_with().is_none());
        s.abortable(failed());
        s.abortable(Error::Closed);
        let Some(Error::TransactionAbortable { reason }) = s.waiting_batches_fail_with() else {
            panic!("waiting batches fail with the abortable error");
        };
        assert_eq!(
            reason.code(),
            Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            "the first reason"
        );
        assert!(s.on_send("t", 0).unwrap_err().is_abortable());
        s.aborting().unwrap();
        assert!(matches!(
            s.waiting_batches_fail_with(),
            Some(Error::TransactionAborted)
        ));
        s.abortable(failed());
        assert!(
            matches!(s.phase(), Phase::Aborting),
            "an abort under way stays one"
        );
        s.completed();
        assert!(s.waiting_batches_fail_with().is_none());
    }

    #[test]
    fn a_commit_turns_abortable_while_it_flushes_never_once_its_end_txn_is_sent() {
        let mut s = state_in(Phase::InTransaction);
        s.committing().unwrap();
        s.abortable(failed());
        assert!(
            matches!(s.phase(), Phase::Abortable(_)),
            "a record failed in the flush"
        );
        let mut s = state_in(Phase::InTransaction);
        s.committing().unwrap();
        s.commit_sent();
        s.abortable(failed());
        assert!(matches!(s.phase(), Phase::Committing));
        s.completed();
        s.begin().unwrap();
        s.committing().unwrap();
        s.abortable(failed());
        assert!(
            matches!(s.phase(), Phase::Abortable(_)),
            "the next commit starts afresh"
        );
    }

    #[test]
    fn with_transaction_version_2_a_partition_joins_with_its_first_record() {
        let mut s = TxnState::default();
        s.initializing().unwrap();
        s.initialized(true, true);
        s.begin().unwrap();
        assert!(!s.started());
        s.on_send("t", 3).unwrap();
        assert!(
            s.is_added("t", 3) && s.started(),
            "no AddPartitionsToTxn to wait for"
        );
        assert!(s.partitions_to_add(Instant::now()).is_none());
        s.committing().unwrap();
        s.completed();
        s.begin().unwrap();
        assert!(
            !s.is_added("t", 3) && !s.started(),
            "each transaction starts empty"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_add_is_asked_again_after_its_backoff() {
        let mut s = state_in(Phase::InTransaction);
        s.on_send("t", 0).unwrap();
        let asked = s.partitions_to_add(Instant::now()).unwrap();
        s.add_again(
            &asked,
            asked.partitions.clone(),
            Instant::now() + Duration::from_millis(20),
        );
        assert_eq!(s.add_failures(), 1);
        s.on_send("t", 1).unwrap();
        assert!(s.partitions_to_add(Instant::now()).is_none(), "backing off");
        tokio::time::advance(Duration::from_millis(20)).await;
        let again = s.partitions_to_add(Instant::now()).unwrap();
        assert_eq!(
            again.partitions.len(),
            2,
            "with the partition sent to meanwhile"
        );
        s.partitions_added(&again, again.partitions.clone());
        assert_eq!(s.add_failures(), 0);
    }

    #[test]
    fn an_add_answered_after_its_transaction_ended_is_ignored() {
        let mut s = state_in(Phase::InTransaction);
        s.on_send("t", 0).unwrap();
        let late = s.partitions_to_add(Instant::now()).unwrap();
        s.aborting().unwrap();
        s.completed();
        s.begin().unwrap();
        assert!(!s.current(&late));
        s.partitions_added(&late, late.partitions.clone());
        assert!(
            !s.is_added("t", 0),
            "the next transaction adds its partitions itself"
        );
        s.add_again(&late, late.partitions.clone(), Instant::now());
        assert!(s.new.is_empty() && s.add_failures() == 0);
    }

    #[test]
    fn partitions_are_added_only_while_records_may_go() {
        let mut s = state_in(Phase::InTransaction);
        s.on_send("t", 0).unwrap();
        s.abortable(failed());
        assert!(s.partitions_to_add(Instant::now()).is_none());
        let mut s = state_in(Phase::InTransaction);
        s.on_send("t", 0).unwrap();
        s.committing().unwrap();
        assert!(
            s.partitions_to_add(Instant::now()).is_some(),
            "a commit's flush still needs them"
        );
    }
}
