//! Subscribing by pattern (Java's `subscribe(Pattern)`): the group is subscribed to every
//! topic whose whole name matches, internal topics aside, and the matches are looked up
//! again every `metadata.max.age.ms`, so a topic created later joins the subscription (and
//! the group rebalances) without the application doing anything.

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
    /// earlier subscription or assignment, and is replaced by a later one. Needs `group.id`
    /// and `group.protocol=classic` (refused with `consumer`).
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
        if group.group_protocol() == crate::config::GroupProtocol::Consumer {
            // KIP-848 matches patterns on the broker (RE2J syntax); kafkit does not send
            // them yet, and matching here would not be what the broker's assignor sees.
            return Err(Error::config(
                "subscribe_pattern is not supported with group.protocol=consumer yet (KIP-848 \
                 matches subscribed_topic_regex on the broker); subscribe to a topic list, or \
                 use group.protocol=classic",
            ));
        }
        self.stop_pattern();
        let cluster = self.inner.cluster.clone();
        let matched = matching_topics(&cluster, &regex).await?;
        subscribe(&cluster, &group, matched.clone());
        let every = self.inner.config.client.metadata_max_age;
        let follow = follow(cluster, Arc::downgrade(&group), regex, matched, every);
        *lock(&self.inner.pattern) = Some(tokio::spawn(follow));
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
