//! KIP-227 incremental fetch sessions: which partitions one broker's next Fetch must name.
//!
//! ```text
//!  no session ──full fetch (id 0, epoch 0)──▶ broker answers session id S (≠ 0)
//!       ▲                                            │
//!       │ FETCH_SESSION_ID_NOT_FOUND,                ▼
//!       │ INVALID_FETCH_SESSION_EPOCH,     incremental (id S, epoch 1, 2, …, MAX, 1, …):
//!       └── any other error, lost connection ── only changed partitions + forgotten ones
//! ```
//! The broker remembers each session partition's fetch offset, leader epoch and max bytes as
//! last sent; it never advances them itself, so a partition whose offset moved must be sent
//! again. Answers to an incremental request leave out partitions with nothing new: their
//! state is unchanged. Brokers without sessions (Fetch < v7) get sessionless full fetches
//! (id 0, epoch -1). Pure logic: the fetcher does the I/O.
//!
//! From Fetch v13 a session names topics by id, as Java does: a broker keeps a session's
//! partitions in a hash set keyed on the topic name when the request has no ids, and names
//! like `orders-0` … `orders-99` collide there so badly that creating a session of
//! thousands of partitions takes the broker minutes. A session names topics one way
//! throughout: a switch (a topic's id unknown, or changed by a re-creation) starts a new one.

use crate::error::ErrorCode;
use crate::record::TopicPartition;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The first Fetch version with sessions.
pub(crate) const SESSION_MIN_VERSION: i16 = 7;

/// The first Fetch version that names topics by id (and the last that names them by name,
/// one before).
pub(crate) const TOPIC_ID_MIN_VERSION: i16 = 13;

/// What a Fetch says about one partition; a change in any field means it must be resent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionParams {
    pub offset: i64,
    pub leader_epoch: i32,
    /// The leader epoch of the last batch fetched before `offset`, or -1 (KIP-320).
    pub last_fetched_epoch: i32,
    pub max_bytes: i32,
}

/// One broker's session as the client knows it.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    /// 0: none.
    id: i32,
    /// The epoch of the next request in the session (≥ 1 while one exists).
    epoch: i32,
    /// What the broker's session holds.
    partitions: HashMap<TopicPartition, PartitionParams>,
    /// The id each topic is named by (Fetch v13+), or `None` when topics go by name: the
    /// wanted topics' ids, and those of the session's topics still to be forgotten.
    ids: Option<HashMap<String, Uuid>>,
}

/// One request's worth of session bookkeeping.
#[derive(Debug)]
pub(crate) struct FetchPlan {
    pub session_id: i32,
    pub epoch: i32,
    /// The partitions the request names.
    pub partitions: Vec<(TopicPartition, PartitionParams)>,
    /// Partitions to drop from the session.
    pub forgotten: Vec<TopicPartition>,
    /// Everything the session holds once this request is answered: what each partition in
    /// the response was fetched at, named in the request or not.
    pub wanted: HashMap<TopicPartition, PartitionParams>,
}

impl FetchPlan {
    /// Whether this request names every partition it fetches.
    pub fn is_full(&self) -> bool {
        self.epoch <= 0
    }
}

/// The epoch after `epoch`: wraps to 1, 0 means "create a session".
pub(crate) fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl FetchSession {
    /// The session id, 0 when there is none.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Sets how the next request names topics: by these ids (every wanted topic's), or by
    /// name. A session made one way, or that knew a topic by another id, is started over.
    pub fn name_topics(&mut self, ids: Option<HashMap<String, Uuid>>) {
        let same = match (&self.ids, &ids) {
            (None, None) => true,
            (Some(old), Some(new)) => old
                .iter()
                .all(|(topic, id)| new.get(topic).is_none_or(|new| new == id)),
            _ => false,
        };
        if !same {
            self.reset();
        }
        self.ids = match ids {
            Some(mut new) => {
                // Forgotten partitions are named by the id they were fetched with.
                for (topic, id) in self.ids.take().into_iter().flatten() {
                    new.entry(topic).or_insert(id);
                }
                Some(new)
            }
            None => None,
        };
    }

    /// The ids topics are named by, if they are.
    pub fn ids(&self) -> Option<&HashMap<String, Uuid>> {
        self.ids.as_ref()
    }

    /// Plans the next request for `wanted`; `sessions` says whether the broker's Fetch
    /// version has them.
    pub fn plan(
        &self,
        wanted: &BTreeMap<TopicPartition, PartitionParams>,
        sessions: bool,
    ) -> FetchPlan {
        let all = || -> Vec<(TopicPartition, PartitionParams)> {
            wanted.iter().map(|(tp, p)| (tp.clone(), *p)).collect()
        };
        let wanted_map: HashMap<TopicPartition, PartitionParams> = all().into_iter().collect();
        if !sessions {
            return FetchPlan {
                session_id: 0,
                epoch: -1,
                partitions: all(),
                forgotten: Vec::new(),
                wanted: wanted_map,
            };
        }
        if self.id == 0 {
            return FetchPlan {
                session_id: 0,
                epoch: 0,
                partitions: all(),
                forgotten: Vec::new(),
                wanted: wanted_map,
            };
        }
        let partitions = wanted
            .iter()
            .filter(|(tp, p)| self.partitions.get(*tp) != Some(*p))
            .map(|(tp, p)| (tp.clone(), *p))
            .collect();
        let mut forgotten: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains_key(*tp))
            .cloned()
            .collect();
        forgotten.sort();
        FetchPlan {
            session_id: self.id,
            epoch: self.epoch,
            partitions,
            forgotten,
            wanted: wanted_map,
        }
    }

    /// Records the broker's answer to `plan`: its top-level error and session id.
    pub fn on_response(&mut self, plan: FetchPlan, error: ErrorCode, session_id: i32) {
        if error != ErrorCode::NONE {
            // FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH or anything else:
            // the next request starts over with a full fetch and a new session.
            self.reset();
            return;
        }
        match plan.epoch {
            -1 => {}
            0 => {
                if session_id != 0 {
                    self.id = session_id;
                    self.epoch = 1;
                    self.partitions = plan.wanted;
                }
                // 0: the broker made no session (its cache is full); keep asking.
            }
            _ => {
                self.epoch = next_epoch(self.epoch);
                self.partitions = plan.wanted;
            }
        }
        if let Some(ids) = &mut self.ids {
            let held: HashSet<&str> = self.partitions.keys().map(|tp| tp.topic.as_str()).collect();
            ids.retain(|topic, _| held.contains(topic.as_str()));
        }
    }

    /// Forgets the session (lost connection, timeout): the next request is a full fetch.
    pub fn reset(&mut self) {
        *self = FetchSession::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn params(offset: i64) -> PartitionParams {
        PartitionParams {
            offset,
            leader_epoch: 0,
            last_fetched_epoch: -1,
            max_bytes: 1024,
        }
    }

    fn wanted(items: &[(i32, i64)]) -> BTreeMap<TopicPartition, PartitionParams> {
        items.iter().map(|&(p, o)| (tp(p), params(o))).collect()
    }

    fn names(plan: &FetchPlan) -> Vec<i32> {
        plan.partitions.iter().map(|(tp, _)| tp.partition).collect()
    }

    /// A session with id 7 holding `items`, at its first incremental epoch.
    fn established(items: &[(i32, i64)]) -> FetchSession {
        let mut session = FetchSession::default();
        let plan = session.plan(&wanted(items), true);
        session.on_response(plan, ErrorCode::NONE, 7);
        session
    }

    #[test]
    fn first_request_creates_a_session_with_every_partition() {
        let session = FetchSession::default();
        let plan = session.plan(&wanted(&[(0, 5), (1, 9)]), true);
        assert_eq!((plan.session_id, plan.epoch), (0, 0));
        assert!(plan.is_full());
        assert_eq!(names(&plan), vec![0, 1]);
        assert!(plan.forgotten.is_empty());
    }

    #[test]
    fn without_session_support_every_request_is_sessionless_and_full() {
        let mut session = FetchSession::default();
        let plan = session.plan(&wanted(&[(0, 5)]), false);
        assert_eq!((plan.session_id, plan.epoch), (0, -1));
        session.on_response(plan, ErrorCode::NONE, 0);
        let plan = session.plan(&wanted(&[(0, 5)]), false);
        assert_eq!(
            (plan.session_id, plan.epoch, names(&plan)),
            (0, -1, vec![0])
        );
    }

    #[test]
    fn incremental_requests_name_only_changed_partitions() {
        let mut session = established(&[(0, 5), (1, 9), (2, 0)]);
        assert_eq!(session.id(), 7);
        // Partition 1 advanced; 0 and 2 unchanged.
        let plan = session.plan(&wanted(&[(0, 5), (1, 12), (2, 0)]), true);
        assert_eq!((plan.session_id, plan.epoch), (7, 1));
        assert!(!plan.is_full());
        assert_eq!(names(&plan), vec![1]);
        assert_eq!(plan.partitions[0].1.offset, 12);
        assert!(plan.forgotten.is_empty());
        session.on_response(plan, ErrorCode::NONE, 7);
        // Nothing changed: an empty incremental request, next epoch.
        let plan = session.plan(&wanted(&[(0, 5), (1, 12), (2, 0)]), true);
        assert_eq!((plan.epoch, names(&plan)), (2, vec![]));
    }

    #[test]
    fn leader_epoch_or_max_bytes_changes_resend_the_partition() {
        let session = established(&[(0, 5), (1, 5)]);
        let mut next = wanted(&[(0, 5), (1, 5)]);
        next.get_mut(&tp(0)).unwrap().leader_epoch = 3;
        next.get_mut(&tp(1)).unwrap().max_bytes = 10;
        assert_eq!(names(&session.plan(&next, true)), vec![0, 1]);
    }

    #[test]
    fn removed_partitions_are_forgotten_and_added_ones_sent() {
        let mut session = established(&[(0, 5), (1, 9)]);
        let plan = session.plan(&wanted(&[(1, 9), (2, 3)]), true);
        assert_eq!(names(&plan), vec![2]);
        assert_eq!(plan.forgotten, vec![tp(0)]);
        session.on_response(plan, ErrorCode::NONE, 7);
        // Once answered, the forgotten partition is no longer in the session.
        let plan = session.plan(&wanted(&[(1, 9), (2, 3)]), true);
        assert!(plan.forgotten.is_empty() && plan.partitions.is_empty());
        // Adding it back sends it again.
        let plan = session.plan(&wanted(&[(0, 5), (1, 9), (2, 3)]), true);
        assert_eq!(names(&plan), vec![0]);
    }

    #[test]
    fn session_errors_fall_back_to_a_full_fetch_with_a_new_session() {
        for code in [
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND,
            ErrorCode::INVALID_FETCH_SESSION_EPOCH,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ] {
            let mut session = established(&[(0, 5), (1, 9)]);
            let plan = session.plan(&wanted(&[(0, 6), (1, 9)]), true);
            session.on_response(plan, code, 0);
            assert_eq!(session.id(), 0);
            let plan = session.plan(&wanted(&[(0, 6), (1, 9)]), true);
            assert_eq!(
                (plan.session_id, plan.epoch, names(&plan)),
                (0, 0, vec![0, 1])
            );
        }
    }

    #[test]
    fn reset_after_a_lost_connection_starts_over() {
        let mut session = established(&[(0, 5)]);
        session.reset();
        let plan = session.plan(&wanted(&[(0, 5)]), true);
        assert_eq!((plan.session_id, plan.epoch, names(&plan)), (0, 0, vec![0]));
    }

    #[test]
    fn a_broker_that_makes_no_session_gets_full_fetches() {
        let mut session = FetchSession::default();
        let plan = session.plan(&wanted(&[(0, 5)]), true);
        session.on_response(plan, ErrorCode::NONE, 0);
        let plan = session.plan(&wanted(&[(0, 5)]), true);
        assert_eq!((plan.session_id, plan.epoch, names(&plan)), (0, 0, vec![0]));
    }

    #[test]
    fn epochs_wrap_to_one_never_zero() {
        assert_eq!(next_epoch(1), 2);
        assert_eq!(next_epoch(i32::MAX), 1);
        let mut session = established(&[(0, 5)]);
        session.epoch = i32::MAX;
        let plan = session.plan(&wanted(&[(0, 5)]), true);
        assert_eq!(plan.epoch, i32::MAX);
        session.on_response(plan, ErrorCode::NONE, 7);
        assert_eq!(session.plan(&wanted(&[(0, 5)]), true).epoch, 1);
    }

    #[test]
    fn a_failed_incremental_request_does_not_advance_the_session() {
        // The answer never came: the session is reset rather than guessed at.
        let mut session = established(&[(0, 5)]);
        let _lost = session.plan(&wanted(&[(0, 8)]), true);
        session.reset();
        assert_eq!(session.plan(&wanted(&[(0, 8)]), true).epoch, 0);
    }

    fn ids(items: &[(&str, u128)]) -> Option<HashMap<String, Uuid>> {
        Some(
            items
                .iter()
                .map(|&(t, id)| (t.to_string(), Uuid::from_u128(id)))
                .collect(),
        )
    }

    /// A session with id 7 holding partition 0 of "t", named by id 1.
    fn established_by_id() -> FetchSession {
        let mut session = FetchSession::default();
        session.name_topics(ids(&[("t", 1)]));
        let plan = session.plan(&wanted(&[(0, 5)]), true);
        session.on_response(plan, ErrorCode::NONE, 7);
        session
    }

    #[test]
    fn a_session_names_topics_one_way_throughout() {
        // By id, then by name (an id went missing from the metadata): a new session.
        let mut session = established_by_id();
        session.name_topics(None);
        assert_eq!(session.plan(&wanted(&[(0, 5)]), true).epoch, 0);
        // By name, then by id: a new session too.
        let mut session = established(&[(0, 5)]);
        session.name_topics(ids(&[("t", 1)]));
        assert_eq!(session.plan(&wanted(&[(0, 5)]), true).epoch, 0);
        // The same ids: the session goes on.
        let mut session = established_by_id();
        session.name_topics(ids(&[("t", 1)]));
        assert_eq!(session.plan(&wanted(&[(0, 5)]), true).epoch, 1);
    }

    #[test]
    fn a_topic_recreated_under_a_new_id_starts_a_new_session() {
        let mut session = established_by_id();
        session.name_topics(ids(&[("t", 2)]));
        assert_eq!(session.plan(&wanted(&[(0, 5)]), true).epoch, 0);
        assert_eq!(session.ids().unwrap()["t"], Uuid::from_u128(2));
    }

    #[test]
    fn a_forgotten_topic_keeps_the_id_it_was_fetched_by_until_the_session_drops_it() {
        let mut session = established_by_id();
        // "t" is no longer wanted, "u" is: "t" is forgotten by its id.
        session.name_topics(ids(&[("u", 3)]));
        let wanted: BTreeMap<TopicPartition, PartitionParams> =
            [(TopicPartition::new("u", 0), params(0))]
                .into_iter()
                .collect();
        let plan = session.plan(&wanted, true);
        assert_eq!(plan.forgotten, vec![tp(0)]);
        assert_eq!(session.ids().unwrap()["t"], Uuid::from_u128(1));
        session.on_response(plan, ErrorCode::NONE, 7);
        assert_eq!(session.ids().unwrap().keys().collect::<Vec<_>>(), vec!["u"]);
    }
}
