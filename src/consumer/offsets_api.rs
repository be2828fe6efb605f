//! Offset lookups for many partitions at once (Java's `offsetsForTimes`,
//! `beginningOffsets`, `endOffsets`): ListOffsets to each leader, within
//! `default.api.timeout.ms`, as this consumer's `isolation.level` sees the log.

use super::Consumer;
use crate::cluster::{ListedOffset, OffsetSpec};
use crate::error::Result;
use crate::record::TopicPartition;
use std::collections::HashMap;

impl Consumer {
    /// For each partition, the earliest record whose timestamp is at or after the given
    /// time (ms since the Unix epoch): its offset and timestamp, or `None` when no record is
    /// that recent. The partitions need not be assigned.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use kafkit::TopicPartition;
    /// let an_hour_ago = 1_700_000_000_000_i64;
    /// let tp = TopicPartition::new("orders", 0);
    /// let found = consumer.offsets_for_times([(tp.clone(), an_hour_ago)]).await?;
    /// if let Some(Some(at)) = found.get(&tp) {
    ///     consumer.seek(&tp, at.offset).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn offsets_for_times(
        &self,
        times: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<HashMap<TopicPartition, Option<ListedOffset>>> {
        let found = self
            .list_offsets(
                times
                    .into_iter()
                    .map(|(tp, ms)| (tp, OffsetSpec::Timestamp(ms))),
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|(tp, listed)| (tp, (listed.offset >= 0).then_some(listed)))
            .collect())
    }

    /// Each partition's log start offset (the first offset still in the log).
    pub async fn beginning_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.offsets_of(partitions, OffsetSpec::Earliest).await
    }

    /// Each partition's end: the offset the next record will get, or under
    /// `read_committed` the last stable offset, as in Java.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// let assigned = consumer.assignment().await;
    /// let ends = consumer.end_offsets(&assigned).await?;
    /// for tp in &assigned {
    ///     if let (Some(end), Some(at)) = (ends.get(tp), consumer.position(tp).await) {
    ///         println!("{tp}: {} records to go", end - at);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn end_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.offsets_of(partitions, OffsetSpec::Latest).await
    }

    pub(super) async fn offsets_of(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<HashMap<TopicPartition, i64>> {
        let found = self
            .list_offsets(partitions.iter().map(|tp| (tp.clone(), spec)))
            .await?;
        Ok(found
            .into_iter()
            .map(|(tp, listed)| (tp, listed.offset))
            .collect())
    }
}
