//! Fault-injection tests of the idempotent producer against a real Apache Kafka broker.
//!
//! Each test starts a single-node KRaft broker of its own (never the shared one: they kill,
//! freeze or cut it), produces unique values, records every acknowledged
//! `(partition, offset, value)` in a [`kafkit_testkit::DeliveryChecker`], drains the topic
//! at the end and asserts that nothing acknowledged was lost, duplicated or reordered.
//! The tests take turns (see [`support::HEAVY`]); run with `--nocapture` to see each one's
//! timeline.
//!
//! | test | fault |
//! |---|---|
//! | `sigkill` | broker SIGKILLed and restarted mid-stream |
//! | `chaos` | every connection reset by a proxy after 0.5–1.5 s |
//! | `negative_control` | the same chaos without idempotence: the checker must catch it |
//! | `backpressure` | broker frozen (SIGSTOP): `buffer.memory` holds, `send` blocks |
//! | `delivery_timeout` | broker frozen longer than `delivery.timeout.ms`, requests in flight |

mod backpressure;
mod chaos;
mod common;
mod delivery_timeout;
mod negative_control;
mod sigkill;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
