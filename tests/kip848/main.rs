//! KIP-848 (`group.protocol=consumer`) against a real Apache Kafka 4 broker, whose group
//! coordinator assigns: kafkit members reconcile what it hands out.
//!
//! | test | proves |
//! |---|---|
//! | `exactly_once` | three kafkit members share a 6-partition topic: every record consumed once, offsets committed with the member epoch |
//! | `churn` | members join, close and one (a separate process) is SIGKILLed under load: never two owners of a partition at once, committed offsets never go back, nothing lost |
//! | `mixed` | a kafkit member and Java's consumer (`group.protocol=consumer`) share the partitions |
//! | `librdkafka` | a kafkit member and librdkafka consumers (`group.protocol=consumer`): one leaves midway, another joins; every record consumed exactly once, never two owners, offsets never back |
//! | `upgrade` | three classic members (range, cooperative-sticky, static) rolled one by one to the consumer protocol under load: the group is converted online, never two owners, offsets never back, nothing lost; static members keep their place without a rebalance; and a consumer group rolled back to classic |
//! | `patterns` | `subscribe_pattern` (client matches) and `subscribe_broker_pattern` (the coordinator matches `SubscribedTopicRegex`) each consume a topic created after subscribing, and no topic that does not match; a pattern RE2J cannot compile is `INVALID_REGULAR_EXPRESSION` from `poll`; classic refuses a broker pattern |
//! | `static_member` | a static member (`group.instance.id`) closed and restarted within the session gets its partitions back, the others' never move (leave epoch -2); a dynamic one's move at once (-1) |
//! | `settings` | `client.rack` is the rack the group describes; past `group.consumer.max.size`, `GROUP_MAX_SIZE_REACHED` from `poll`; `group.remote.assignor=bogus`, `UNSUPPORTED_ASSIGNOR`; each naming the setting |
//!
//! Each test starts its own broker, with the consumer group's session and heartbeat
//! timing lowered so that fencing happens in seconds. Run with `--nocapture` for each
//! test's timeline.

mod churn;
mod common;
mod exactly_once;
mod librdkafka;
mod mixed;
mod patterns;
mod settings;
mod static_member;
mod upgrade;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
