//! Processing partitions in parallel while each partition's records stay in order.

use super::Consumer;
use crate::error::Result;
use crate::record::{ConsumerRecord, TopicPartition};
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;

impl Consumer {
    /// Polls once (waiting up to `timeout`) and hands each partition's records, in offset
    /// order, to `process`, running up to `concurrency` partitions at once. Returns the number
    /// of records processed, once every call has finished, so a `commit` right after covers
    /// exactly the processed records. If a call panics, the others still finish and the panic
    /// is then resumed here, so the application never commits past unprocessed records.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use std::time::Duration;
    /// loop {
    ///     consumer
    ///         .process_partitions(Duration::from_secs(1), 4, |tp, records| async move {
    ///             for record in records {
    ///                 // Records of `tp` arrive here one partition-call at a time, in order.
    ///                 let _ = (&tp, record.offset);
    ///             }
    ///         })
    ///         .await?;
    ///     consumer.commit().await?;
    /// }
    /// # }
    /// ```
    pub async fn process_partitions<F, Fut>(
        &self,
        timeout: Duration,
        concurrency: usize,
        process: F,
    ) -> Result<usize>
    where
        F: Fn(TopicPartition, Vec<ConsumerRecord>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let records = self.poll(timeout).await?;
        let count = records.len();
        // Records come in runs of one partition (a fetch's worth), so the last partition seen
        // is checked first; a key is built once per partition, not per record.
        let mut by_partition: Vec<(TopicPartition, Vec<ConsumerRecord>)> = Vec::new();
        let mut current = 0;
        for record in records {
            let same = |(tp, _): &(TopicPartition, _)| {
                tp.partition == record.partition && *tp.topic == *record.topic
            };
            if !by_partition.get(current).is_some_and(same) {
                current = match by_partition.iter().position(same) {
                    Some(i) => i,
                    None => {
                        let tp = TopicPartition::new(&*record.topic, record.partition);
                        by_partition.push((tp, Vec::new()));
                        by_partition.len() - 1
                    }
                };
            }
            by_partition[current].1.push(record);
        }
        // Started in partition order, as before.
        by_partition.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut running = JoinSet::new();
        let mut panic = None;
        let mut note = |joined: Option<std::result::Result<(), tokio::task::JoinError>>| {
            if let Some(Err(e)) = joined {
                if e.is_panic() && panic.is_none() {
                    panic = Some(e.into_panic());
                }
            }
        };
        for (tp, records) in by_partition {
            if running.len() >= concurrency.max(1) {
                note(running.join_next().await);
            }
            let process = process.clone();
            running.spawn(async move { process(tp, records).await });
        }
        while let Some(joined) = running.join_next().await {
            note(Some(joined));
        }
        // The other partitions finished; the panic goes to the caller, before any commit
        // could mark the failed partition's records processed.
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        Ok(count)
    }
}
