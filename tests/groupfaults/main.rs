//! Fault tests of the consumer group against a real Apache Kafka broker.
//!
//! Each test starts a single-node broker of its own and runs group members as separate
//! processes: the `group_member` example (built on first use by `common::member_binary`
//! with `cargo build --example group_member`), so a member can be SIGKILLed or frozen
//! with SIGSTOP, which no in-process test can do to a member's heartbeat task. Members
//! append every record (`partition offset value`) and every hook call (`# assigned ...`,
//! `# revoked ...`, `# lost ...`, `# commit-error ...`) to a file, flushing per line, and
//! commit only after writing: the tests read those files. The tests take turns (see
//! [`support::HEAVY`]); run with `--nocapture` for each one's timeline.
//!
//! Each scenario runs twice, once per group protocol: the test named as in the table with
//! the classic protocol, and `..._consumer_protocol` with `group.protocol=consumer`
//! (KIP-848), whose session timeout and heartbeat interval the broker sets
//! (`common::start_broker`).
//!
//! | test | fault | proves |
//! |---|---|---|
//! | `member_sigkill` | a member SIGKILLed mid-batch | the others take over; nothing lost |
//! | `member_sigstop` | a member frozen past its session timeout, then resumed | its commit is refused, it reports partitions lost (not revoked); nothing lost |
//! | `broker_restart` | the broker stopped and restarted under the group | consumption resumes; nothing lost |
//! | `static_members` | a static member (`group.instance.id`) killed (KIP-848: closed) and restarted within its session | no rebalance: the others keep their assignment, it gets its own back |
//! | `auto_commit` | an auto-committing member SIGKILLed while processing a batch | the member taking over re-reads that batch: auto-commit covers only records of earlier polls |

mod auto_commit;
mod broker_restart;
mod common;
mod member_sigkill;
mod member_sigstop;
mod static_members;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
