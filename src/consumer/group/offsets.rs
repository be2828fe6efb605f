//! Offsets kept by the group coordinator: OffsetCommit under the member's generation, and
//! OffsetFetch.

use super::Group;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{group_id, topic_name};
use crate::record::{OffsetAndMetadata, TopicPartition};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{OffsetCommitRequest, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};

impl Group {
    /// Commits offsets under the current generation (KIP-848: the member epoch, OffsetCommit
    /// v9+). A member that was fenced gets the
    /// broker's refusal (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, `FENCED_INSTANCE_ID`) and
    /// cannot overwrite the new owner's offsets.
    pub(crate) async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut stale = 0;
        loop {
            match self
                .retry_at_coordinator(|| self.commit_once(offsets))
                .await
            {
                // KIP-848: the member epoch moved on between reading it and the broker
                // seeing the commit (a heartbeat answered meanwhile); Java tries again
                // with the new one.
                Err(e) if e.code() == Some(ErrorCode::STALE_MEMBER_EPOCH) && stale < 3 => {
                    stale += 1;
                    tokio::time::sleep(self.cluster.backoff().delay(stale)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Retries `attempt` until `default.api.timeout.ms`, looking the coordinator up again
    /// after an error that says it moved.
    async fn retry_at_coordinator<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let attempt = || async {
            let result = attempt().await;
            if let Err(e) = &result {
                self.coordinator_error(e.code().unwrap_or(ErrorCode::NONE));
            }
            result
        };
        self.cluster
            .retry(self.config.default_api_timeout, attempt)
            .await
    }

    async fn commit_once(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        let conn = self.coordinator().await?;
        let (member_id, generation) = self.identity();
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, om) in offsets {
            topics.entry(&tp.topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(om.offset)
                    .with_committed_leader_epoch(om.leader_epoch.unwrap_or(-1))
                    .with_committed_metadata(Some(StrBytes::from_string(
                        om.metadata.clone().unwrap_or_default(),
                    ))),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id())
            .with_retention_time_ms(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let response = conn.send(&request).await?;
        for topic in &response.topics {
            for p in &topic.partitions {
                let code = ErrorCode(p.error_code);
                if !code.is_ok() {
                    // A refusal of this generation fences the member (or asks it to
                    // rejoin); the membership ignores one about an older generation.
                    self.refused(generation, code);
                    return Err(Error::broker(
                        code,
                        format!(
                            "committing {}-{} for group {}",
                            topic.name.0, p.partition_index, self.group_id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The committed offsets of these partitions (absent: nothing committed).
    pub(crate) async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics.entry(&tp.topic).or_default().push(tp.partition);
        }
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_require_stable(true)
            .with_topics(Some(
                topics
                    .into_iter()
                    .map(|(name, partition_indexes)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partition_indexes(partition_indexes)
                    })
                    .collect(),
            ));
        // UNSTABLE_OFFSET_COMMIT (a transaction's offsets are pending) is retried like the
        // coordinator errors, until default.api.timeout.ms.
        self.retry_at_coordinator(|| self.fetch_offsets_once(&request))
            .await
    }

    async fn fetch_offsets_once(
        &self,
        request: &OffsetFetchRequest,
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        // v7 at most: v8+ moves the group and its topics into a `groups` array (the admin
        // client's batched form), and this request fills the single-group fields.
        let response = self.coordinator().await?.send_at_most(request, 7).await?;
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            return Err(Error::broker(
                code,
                format!("offsets of group {}", self.group_id),
            ));
        }
        let mut out = HashMap::new();
        for topic in &response.topics {
            for p in &topic.partitions {
                let code = ErrorCode(p.error_code);
                if !code.is_ok() {
                    return Err(Error::broker(
                        code,
                        format!("offset of {}-{}", topic.name.0, p.partition_index),
                    ));
                }
                if p.committed_offset >= 0 {
                    out.insert(
                        TopicPartition::new(topic.name.0.to_string(), p.partition_index),
                        OffsetAndMetadata {
                            offset: p.committed_offset,
                            metadata: p
                                .metadata
                                .as_ref()
                                .map(|m| m.to_string())
                                .filter(|m| !m.is_empty()),
                            leader_epoch: Some(p.committed_leader_epoch).filter(|&e| e >= 0),
                        },
                    );
                }
            }
        }
        Ok(out)
    }
}
