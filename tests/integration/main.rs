//! Integration tests against a real Apache Kafka broker.
//!
//! The broker is `KAFKA_BOOTSTRAP_SERVERS` when set, otherwise one started for this process
//! by `kafkit-testkit` (a KRaft node from Maven Central's jars). Tests that kill or restart a
//! broker start their own. No test skips: without a broker, they fail and say why.
//! `fake_broker.rs` runs kafkit against the testkit's scripted fake broker instead.

mod bad_input;
mod config_sources;
mod consumer_assign_committed;
mod consumer_close;
mod consumer_fetch;
mod consumer_leader_topics;
mod consumer_lock;
mod consumer_lookups;
mod consumer_offset_fetch_failure;
mod consumer_poll_deadline;
mod consumer_rebalance_cancel;
mod consumer_reset_retry;
mod consumer_settings;
mod consumer_stream_commit;
mod consumer_subscription;
mod fake_broker;
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
mod producer_cancel;
mod producer_dropped;
mod producer_flush;
mod producer_fresh_partitions;
mod producer_in_flight;
mod producer_limits;
mod producer_paused;
mod producer_settings;
mod producer_unknown_outcome;
mod reconnect;
mod round_trip;
#[cfg(any(feature = "avro", feature = "protobuf"))]
mod schema_registry;
mod seed_flow;
mod telemetry;
mod typed_records;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
