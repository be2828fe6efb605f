//! Consumer tests against three-node KRaft clusters of their own: fetching from the replica
//! in the consumer's rack (KIP-392), and detecting a log truncated by an unclean leader
//! election (KIP-320). They take turns with the other heavy tests (see
//! [`support::HEAVY`]); run with `--nocapture` to see each one's timeline.

mod leaders;
mod rack;
mod truncation;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
