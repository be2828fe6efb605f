//! The heartbeat task: a Heartbeat every `heartbeat.interval.ms` while the member is
//! stable, and the `max.poll.interval.ms` watch. It never waits for the application.

use super::membership::Event;
use super::Group;
use crate::error::ErrorCode;
use crate::protocol::wire::group_id;
use crate::sync::lock;
use kafka_protocol::messages::HeartbeatRequest;
use kafka_protocol::protocol::StrBytes;
use std::sync::Weak;

/// What the task does next.
enum Step {
    /// Not stable: nothing to send until the member joins.
    Idle,
    /// Stable, but the application has not polled for `max.poll.interval.ms`.
    LeaveForPollTimeout,
    Beat,
}

/// Runs until the group is dropped; holds it only while acting.
pub(super) async fn run(group: Weak<Group>) {
    loop {
        let (interval, wake, step) = {
            let Some(g) = group.upgrade() else { return };
            (
                g.config.heartbeat_interval,
                g.wake_heartbeat.clone(),
                g.step(),
            )
        };
        match step {
            Step::Idle => {
                let _ = tokio::time::timeout(interval, wake.notified()).await;
            }
            Step::LeaveForPollTimeout => {
                let Some(g) = group.upgrade() else { return };
                g.leave_for_poll_timeout().await;
            }
            Step::Beat => {
                tokio::time::sleep(interval).await;
                let Some(g) = group.upgrade() else { return };
                g.beat().await;
            }
        }
    }
}

impl Group {
    fn step(&self) -> Step {
        let s = lock(&self.state);
        if !s.membership.is_stable() {
            Step::Idle
        } else if s.last_poll.elapsed() > self.config.max_poll_interval {
            Step::LeaveForPollTimeout
        } else {
            Step::Beat
        }
    }

    /// Gives up the membership (the partitions are reported lost at the next poll) and
    /// tells the coordinator, so the group rebalances without waiting for the session to
    /// time out.
    async fn leave_for_poll_timeout(&self) {
        let member_id = {
            let mut s = lock(&self.state);
            let member_id = s.membership.member_id().to_string();
            let reason = format!(
                "no poll within max.poll.interval.ms ({:?}): left the group",
                self.config.max_poll_interval
            );
            tracing::info!(group = %self.group_id, %reason, "group membership lost");
            s.membership.apply(Event::PollTimedOut { reason });
            member_id
        };
        self.send_leave_group(member_id, "consumer poll timeout has expired")
            .await;
    }

    /// Sends one heartbeat, if still stable, and applies the coordinator's answer to the
    /// generation it was sent for (a rebalance may have moved on meanwhile).
    async fn beat(&self) {
        let (member_id, generation) = {
            let s = lock(&self.state);
            if !s.membership.is_stable() {
                return;
            }
            (
                s.membership.member_id().to_string(),
                s.membership.generation(),
            )
        };
        let request = HeartbeatRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id());
        let code = match self.coordinator().await {
            Ok(conn) => match conn.send(&request).await {
                Ok(response) => ErrorCode(response.error_code),
                Err(e) => return tracing::debug!(error = %e, "heartbeat failed"),
            },
            Err(e) => return tracing::debug!(error = %e, "heartbeat failed"),
        };
        if code.is_ok() {
            return;
        }
        tracing::debug!(group = %self.group_id, %code, "heartbeat refused");
        self.coordinator_error(code);
        self.refused(generation, code);
    }
}
