//! Cluster fault scenarios (issue 15): three KRaft nodes, RF 3, `min.insync.replicas` 2,
//! unclean leader election off, every node behind a testkit proxy; an idempotent producer
//! (acks=all) and a group of three in-process consumers running throughout; one fault (or a
//! series) per scenario.
//!
//! Each scenario ends in the same verdict (`runner::Run::conclude`): every acknowledged
//! record read by the group and found in the log exactly once, in send order (the testkit's
//! delivery checkers); no poll skip, rewind or record of a partition not owned, and no
//! committed offset going back (the testkit's group checker); no failed send. It prints one
//! `SCENARIO` line with the counts and the wall time. `negative_control` runs the same
//! machinery with faults it must catch.
//!
//! Sizes: quick by default (`cargo test`); `KAFKIT_SCENARIO_SIZE=full` for the sizes the
//! issue names (200,000 records under leader kills), as `bench/scenarios.sh` runs them three
//! times in a row. The 30-minute soak is `bench/soak.sh` (`tests/soak/`). The scenarios take
//! turns (see `support::HEAVY`); run with `--nocapture` for each one's timeline.
//!
//! | test | fault |
//! |---|---|
//! | `leader_kill` | the leader of partition 0 SIGKILLed every 5 s (and restarted) |
//! | `controller_kill` | the active controller SIGKILLed, twice; a topic created meanwhile |
//! | `rolling_restart` | every broker stopped and restarted in turn; static members: no rebalance |
//! | `isr_shrink` | both followers SIGSTOPped: ISR below `min.insync.replicas`, `NOT_ENOUGH_REPLICAS` |
//! | `half_open` | a partition leader cut off by its proxy, half-open, beyond `request.timeout.ms` |
//! | `full_restart` | all three nodes SIGKILLed and restarted together |
//! | `negative_control` | no idempotence under connection chaos; a member that skips and commits backwards |

mod checks;
mod controller_kill;
mod full_restart;
mod group;
mod half_open;
mod isr_shrink;
mod leader_kill;
mod negative_control;
mod produce;
mod rolling_restart;
mod runner;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
