//! Which topics the metadata cache follows, and for how long.
//!
//! A topic is followed *pinned* (the consumer reads it: until it says otherwise) or *on
//! demand* (the producer or the admin client asked for it: until it has not been used for
//! `metadata.max.idle.ms`, as the Java producer forgets idle topics). Without the expiry a
//! long-lived producer that writes to ever new topics would refresh, and keep in memory, the
//! metadata of every topic it ever saw.

use super::metadata::Snapshot;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pinned,
    OnDemand { last_used: Instant },
}

/// The followed topics.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    topics: HashMap<String, Kind>,
}

impl Interest {
    /// Follows `name` until [`forget`](Self::forget).
    pub(crate) fn pin(&mut self, name: &str) {
        self.topics.insert(name.to_string(), Kind::Pinned);
    }

    /// Follows `name` while it is used; true if it was not followed before.
    pub(crate) fn want(&mut self, name: &str, now: Instant) -> bool {
        match self.topics.get_mut(name) {
            Some(Kind::Pinned) => false,
            Some(Kind::OnDemand { last_used }) => {
                *last_used = now;
                false
            }
            None => {
                self.topics
                    .insert(name.to_string(), Kind::OnDemand { last_used: now });
                true
            }
        }
    }

    /// Stops following `name`.
    pub(crate) fn forget(&mut self, name: &str) {
        self.topics.remove(name);
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.topics.contains_key(name)
    }

    /// Notes which on-demand topics were used since the last sweep (the snapshot's use marks,
    /// which the per-record lookup sets), and stops following those idle for longer than
    /// `max_idle`.
    pub(crate) fn sweep(&mut self, snapshot: &Snapshot, now: Instant, max_idle: Duration) {
        self.topics.retain(|name, kind| match kind {
            Kind::Pinned => true,
            Kind::OnDemand { last_used } => {
                if snapshot.topics.get(name).is_some_and(|t| t.take_used()) {
                    *last_used = now;
                }
                now.saturating_duration_since(*last_used) <= max_idle
            }
        });
    }

    /// The followed topics, for a Metadata request.
    pub(crate) fn names(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::metadata::TopicInfo;
    use crate::error::ErrorCode;
    use std::sync::Arc;

    fn snapshot(names: &[&str]) -> Snapshot {
        let mut s = Snapshot::default();
        for name in names {
            s.topics.insert(
                name.to_string(),
                Arc::new(TopicInfo::new(ErrorCode::NONE, Vec::new())),
            );
        }
        s
    }

    #[tokio::test(start_paused = true)]
    async fn idle_on_demand_topics_expire_and_pinned_and_used_ones_stay() {
        let idle = Duration::from_secs(300);
        let snap = snapshot(&["used", "idle", "pinned"]);
        let mut interest = Interest::default();
        let start = Instant::now();
        assert!(interest.want("used", start));
        assert!(interest.want("idle", start));
        assert!(!interest.want("idle", start), "already followed");
        interest.pin("pinned");
        assert!(!interest.want("pinned", start), "pinned stays pinned");

        tokio::time::advance(Duration::from_secs(200)).await;
        snap.topics["used"].mark_used();
        interest.sweep(&snap, Instant::now(), idle);
        let mut names = interest.names();
        names.sort();
        assert_eq!(
            names,
            ["idle", "pinned", "used"],
            "nothing idle long enough yet"
        );

        tokio::time::advance(Duration::from_secs(200)).await;
        interest.sweep(&snap, Instant::now(), idle);
        let mut names = interest.names();
        names.sort();
        // "idle": 400 s unused; "used": 200 s since its use was noticed.
        assert_eq!(names, ["pinned", "used"]);

        tokio::time::advance(Duration::from_secs(200)).await;
        interest.sweep(&snap, Instant::now(), idle);
        assert_eq!(interest.names(), ["pinned"]);
        interest.forget("pinned");
        assert!(!interest.contains("pinned"));
    }
}
