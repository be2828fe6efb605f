//! Integration tests against a real Apache Kafka broker.
//!
//! The broker is `KAFKA_BOOTSTRAP_SERVERS` when set, otherwise one started for this process
//! by `kafkit-testkit` (a KRaft node from Maven Central's jars). Tests that kill or restart a
//! broker start their own. No test skips: without a broker, they fail and say why.

mod bad_input;
mod common;
mod consumer_fetch;
mod consumer_lock;
mod consumer_poll_deadline;
mod consumer_settings;
mod consumer_subscription;
mod group;
mod group_commits;
mod group_cooperative;
mod group_hooks;
mod group_interop;
mod group_poll_interval;
mod group_poll_timeout;
mod group_support;
mod offsets;
mod parallel;
mod producer_callbacks;
mod producer_paused;
mod producer_settings;
mod reconnect;
mod round_trip;
mod seed_flow;
