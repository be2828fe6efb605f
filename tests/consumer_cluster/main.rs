//! Tests against three-node KRaft clusters of their own: consumers fetching from the replica
//! in their rack (KIP-392) and detecting a log truncated by an unclean leader election
//! (KIP-320); a transaction's commit surviving its coordinator SIGKILLed or frozen, all or
//! nothing to `read_committed` readers; an idempotent producer's batches kept in order while
//! their partition moves away from a frozen leader. They take turns with the other heavy tests (see
//! [`support::HEAVY`]); run with `--nocapture` to see each one's timeline.

mod leaders;
mod producer_leader_move;
mod rack;
mod truncation;
mod txn_coordinator;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
