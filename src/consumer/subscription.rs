//! Subscribing by pattern, two ways, as Java's client does.
//!
//! - `subscribe_pattern` (Java's `subscribe(Pattern)`): the client matches. The group is
//!   subscribed to every topic whose whole name matches, internal topics aside, and the
//!   matches are looked up again every `metadata.max.age.ms`, so a topic created later joins
//!   the subscription (and the group rebalances) without the application doing anything.
//!   Either group protocol: the broker sees topic names.
//! - `subscribe_broker_pattern` (Java's `subscribe(SubscriptionPattern)`, KIP-848 only): the
//!   pattern (RE2J syntax) goes to the group coordinator as the heartbeat's
//!   `SubscribedTopicRegex`, and the coordinator matches it against every topic, those
//!   created later included; the client never lists topics.

use super::group::Group;
use super::Consumer;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::sync::lock;
use kafka_protocol::messages::MetadataRequest;
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

impl Consumer {
    /// Subscribes the group to every topic whose whole name matches `pattern` (a regular
    /// expression in the `regex` crate's syntax, anchored at both ends as Java's
    /// `Pattern.matcher(topic).matches()` is), except internal topics such as
    /// `__consumer_offsets`. The topics are matched now and again every
    /// `metadata.max.age.ms`; when the matches change, the group rebalances. Replaces any
    /// earlier subscription or assignment, and is replaced by a later one. Needs `group.id`;
    /// works with either `group.protocol`: the group coordinator is told the matching topic
    /// names. With `group.protocol=consumer`,
    /// [`subscribe_broker_pattern`](Self::subscribe_broker_pattern) has the coordinator
    /// match instead (RE2J syntax, new topics found without a metadata lookup here).
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// // orders-eu, orders-us, and any orders-* created later.
    /// consumer.subscribe_pattern(r"orders-[a-z]+").await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::config(format!("subscribe_pattern({pattern:?}): {e}")))?;
        let group = self.group()?.clone();
        self.stop_pattern();
        let cluster = self.inner.cluster.clone();
        let matched = matching_topics(&cluster, &regex).await?;
        subscribe(&cluster, &group, matched.clone());
        let every = self.inner.config.client.metadata_max_age;
        let follow = follow(cluster, Arc::downgrade(&group), regex, matched, every);
        *lock(&self.inner.pattern) = Some(tokio::spawn(follow));
        Ok(())
    }

    /// Subscribes the group to every topic the group coordinator finds `pattern` to match
    /// (Java's `subscribe(SubscriptionPattern)`, KIP-848): the pattern, a regular expression
    /// in RE2J syntax (Java's `com.google.re2j`, which matches a topic's whole name), goes in
    /// the ConsumerGroupHeartbeat as `SubscribedTopicRegex`, and the coordinator assigns the
    /// partitions of every topic it matches, internal topics aside, re-evaluating it as
    /// topics are created and deleted. The client does not match or list topics, unlike
    /// [`subscribe_pattern`](Self::subscribe_pattern), whose pattern is the `regex` crate's
    /// and whose matches are looked up every `metadata.max.age.ms`. Replaces any earlier
    /// subscription or assignment, and is replaced by a later one.
    ///
    /// Needs `group.id` and `group.protocol=consumer`: with `classic`, and for an empty
    /// pattern, it returns [`Error::Config`] and changes nothing. A pattern the coordinator
    /// cannot compile makes `poll` return [`Error::Broker`] with
    /// `ErrorCode::INVALID_REGULAR_EXPRESSION`, until the next subscription.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// // orders-eu, orders-us, and any orders-* created later, matched by the broker.
    /// consumer.subscribe_broker_pattern("orders-.*").await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_broker_pattern(&self, pattern: &str) -> Result<()> {
        let group = self.group()?.clone();
        if group.group_protocol() != crate::config::GroupProtocol::Consumer {
            return Err(Error::config(format!(
                "subscribe_broker_pattern({pattern:?}) needs group.protocol=consumer (KIP-848: \
                 the group coordinator matches the pattern); with group.protocol=classic, use \
                 subscribe_pattern, which matches in the client"
            )));
        }
        if pattern.is_empty() {
            return Err(Error::config(
                "subscribe_broker_pattern(\"\"): the pattern is empty",
            ));
        }
        self.stop_pattern();
        group.subscribe_broker_pattern(pattern.to_string());
        Ok(())
    }

    /// Ends a pattern subscription's lookups (a new subscription or assignment replaces it).
    pub(super) fn stop_pattern(&self) {
        if let Some(task) = lock(&self.inner.pattern).take() {
            task.abort();
        }
    }
}

/// Looks the matches up every `every` until the group is gone (or the task aborted),
/// subscribing the group anew when they change.
async fn follow(
    cluster: Cluster,
    group: Weak<Group>,
    regex: Regex,
    mut current: Vec<String>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let Some(group) = group.upgrade() else { return };
        match matching_topics(&cluster, &regex).await {
            Ok(matched) if matched != current => {
                tracing::info!(topics = ?matched, "the pattern subscription's topics changed");
                subscribe(&cluster, &group, matched.clone());
                current = matched;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "looking up the pattern's topics failed"),
        }
    }
}

fn subscribe(cluster: &Cluster, group: &Group, topics: Vec<String>) {
    for topic in &topics {
        cluster.track(topic);
    }
    group.subscribe(topics);
}

/// The names of every topic in the cluster that `regex` matches, internal ones aside,
/// sorted.
async fn matching_topics(cluster: &Cluster, regex: &Regex) -> Result<Vec<String>> {
    let request = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let response = cluster.any_connection().await?.send(&request).await?;
    let matched: BTreeSet<String> = response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.is_internal)
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .filter(|name| regex.is_match(name))
        .collect();
    Ok(matched.into_iter().collect())
}
