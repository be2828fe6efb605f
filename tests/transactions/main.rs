//! Transactions against a real Apache Kafka broker: kafkit's transactional producer
//! (`transactional.id`) read back by `read_committed` and `read_uncommitted` consumers.
//!
//! Every test but `versions`' version-1 run and `unknown_commit` uses the shared broker (`support::bootstrap`),
//! with topics, groups and transactional ids of its own.
//!
//! | module | what |
//! |---|---|
//! | `abortable` | a record the broker refuses (too large for the topic) makes the transaction abortable: sends and the commit say so, the abort works, the next transaction commits |
//! | `visibility` | a commit is seen by `read_committed` only once committed; an abort never, but by `read_uncommitted` (aborted data); an abort fails records not yet sent |
//! | `helper` | `Producer::transaction`: a closure's records committed on `Ok`, aborted on `Err` (the application's own error type kept) |
//! | `offsets` | `send_offsets_to_transaction` commits the group's offsets only with the transaction; a fenced member's offsets are refused (KIP-447) |
//! | `fencing` | two producers of one `transactional.id`: the older one gets the fatal `ProducerFenced` on every call and its records never appear |
//! | `timeout` | a producer that stops mid-transaction is aborted by the coordinator after `transaction.timeout.ms`; `close` and a drop abort at once |
//! | `stable_offset` | a partition holding only aborted transactions does not stall `read_committed`: its position reaches the log end |
//! | `state` | calls in the wrong state are typed errors, and do nothing |
//! | `unknown_commit` | a commit whose EndTxn gets no answer (a broker of its own behind a proxy gone half-open) fails with an unknown outcome, refuses an abort, and commits when called again |
//! | `versions` | the shared broker runs transaction version 2 (KIP-890); a broker of its own formatted with `transaction.version=1` runs the visibility, offsets, fencing and stable-offset scenarios under version 1 |

mod abortable;
mod common;
mod fencing;
mod helper;
mod offsets;
mod stable_offset;
mod state;
mod timeout;
mod unknown_commit;
mod versions;
mod visibility;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
