//! `Consumer::poll`: hands out buffered records, finds missing positions, takes in completed
//! fetches; waits for the fetchers without holding the positions lock.

use super::fetch::Room;
use super::fetcher::Taken;
use super::positions::Positions;
use super::Consumer;
use crate::cluster::OffsetSpec;
use crate::config::AutoOffsetReset;
use crate::error::{Error, Result};
use crate::record::ConsumerRecord;
use crate::retry::deadline_after;
use crate::sync::lock;
use std::time::Duration;
use tokio::time::Instant;

/// How often a poll waiting for records looks again without being woken: a position reset
/// may need a retry, metadata may have moved a partition, the assignment may have changed.
const RECHECK: Duration = Duration::from_millis(100);

impl Consumer {
    /// Returns the next records, at most `max.poll.records`, waiting up to `timeout` for
    /// some to arrive. An empty vector means none arrived in time.
    ///
    /// Batches are decompressed as `poll` takes them, and one poll stops decoding more once
    /// it has decoded `max.partition.fetch.bytes` of them: with records of a megabyte it
    /// returns a few at a time rather than `max.poll.records` of them, so memory stays
    /// bounded by the fetch budget, not by record size × `max.poll.records`.
    ///
    /// While it waits, the rest of the consumer (`position`, `pause`, `commit`, …) answers
    /// at once: nothing is locked across the wait. After [`close`](Self::close) it returns
    /// [`Error::Closed`].
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.poll_up_to(timeout, self.inner.config.max_poll_records)
            .await
    }

    /// [`poll`](Self::poll), handing out at most `max` records (the stream takes one), outside
    /// its span (see `telemetry.rs`).
    pub(super) async fn poll_untraced(
        &self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>> {
        let deadline = deadline_after(timeout);
        self.check_open()?;
        if self.inner.group.is_some() && !self.group_poll(deadline).await? {
            return Ok(Vec::new());
        }
        loop {
            if let Some(records) = self.take_records(max)? {
                return Ok(records);
            }
            if self.initialize_positions(deadline).await? {
                if let Some(records) = self.take_records(max)? {
                    return Ok(records);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            // Woken by a completed fetch.
            let recheck = deadline.min(now + RECHECK);
            let _ = tokio::time::timeout_at(recheck, self.inner.fetcher.ready()).await;
        }
    }

    /// Up to `max` records: buffered ones first, then from completed fetches taken in one
    /// at a time as they run out (decoded as they are taken); `None` when there are none.
    fn take_records(&self, max: usize) -> Result<Option<Vec<ConsumerRecord>>> {
        let fetcher = &self.inner.fetcher;
        let mut positions = lock(&self.inner.positions);
        fetcher.sync(positions.changes(), || positions.fetchable());
        let mut room = self.room(max);
        let mut records = Vec::new();
        let taken = loop {
            if positions.has_buffered() {
                match positions.take(&mut room) {
                    Ok(more) if records.is_empty() => records = more,
                    Ok(more) => records.extend(more),
                    // Returned by the next poll, after these.
                    Err(e) if !records.is_empty() => {
                        positions.keep_failed(e);
                        break Ok(());
                    }
                    Err(e) => break Err(e),
                }
            }
            if room.is_spent() {
                break Ok(());
            }
            match self.take_completed(&mut positions) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) if records.is_empty() => break Err(e),
                Err(e) => {
                    positions.keep_failed(e);
                    break Ok(());
                }
            }
        };
        // What the buffer still holds counts against the fetch memory budget.
        fetcher.hold(positions.held());
        taken?;
        self.count_consumed(&records);
        Ok((!records.is_empty()).then_some(records))
    }

    /// Takes up to `max` already buffered records (the consumed positions move past them)
    /// and counts them, without taking in completed fetches.
    pub(super) fn hand_out(
        &self,
        positions: &mut Positions,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>> {
        let taken = positions.take(&mut self.room(max));
        self.inner.fetcher.hold(positions.held());
        let records = taken?;
        self.count_consumed(&records);
        Ok(records)
    }

    /// What one poll of at most `max` records may take: batches are decoded only until
    /// `max.partition.fetch.bytes` of them are, so records of a megabyte are not all
    /// decompressed by one poll.
    fn room(&self, max: usize) -> Room {
        Room {
            records: max,
            bytes: self.inner.config.max_partition_fetch_bytes,
        }
    }

    /// Moves the next completed fetch at its partition's position into the buffer (the
    /// fetchers told where each partition stands first); `false` when there is none.
    fn take_completed(&self, positions: &mut Positions) -> Result<bool> {
        let config = &self.inner.config;
        let fetcher = &self.inner.fetcher;
        loop {
            match fetcher.take() {
                None => return Ok(false),
                Some(Taken::Error(e)) => return Err(e),
                Some(Taken::Fetch(done)) => {
                    positions.accept(
                        done.tp,
                        done.fetch_offset,
                        done.outcome,
                        config.auto_offset_reset,
                    )?;
                    // A position the fetch moved (a reset, a truncation) restarts there.
                    fetcher.sync(positions.changes(), || positions.fetchable());
                    if positions.has_buffered() {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Gives partitions without a position one, the lock released while it is looked up:
    /// manually assigned partitions of a consumer with a `group.id` start at the group's
    /// committed offset, as in Java (a subscription's come with the rebalance); the rest
    /// per `auto.offset.reset` (ListOffsets). `true` when there were any. A lookup of
    /// committed offsets not answered by `deadline`, and a reset refused retriably, are
    /// asked again by the next poll.
    async fn initialize_positions(&self, deadline: Instant) -> Result<bool> {
        let mut missing = lock(&self.inner.positions).missing();
        if missing.is_empty() {
            return Ok(false);
        }
        if let Some(group) = self.inner.group.as_ref().filter(|g| !g.is_subscribed()) {
            let Ok(committed) = tokio::time::timeout_at(deadline, group.committed(&missing)).await
            else {
                return Ok(false);
            };
            let committed = committed?;
            let mut positions = lock(&self.inner.positions);
            for (tp, offset) in &committed {
                positions.init_committed(tp, offset);
            }
            missing.retain(|tp| !committed.contains_key(tp));
        }
        let Some(first) = missing.first() else {
            return Ok(true);
        };
        let spec = match self.inner.config.auto_offset_reset {
            AutoOffsetReset::Earliest => OffsetSpec::Earliest,
            AutoOffsetReset::Latest => OffsetSpec::Latest,
            AutoOffsetReset::Error => {
                return Err(Error::OffsetOutOfRange {
                    topic: first.topic.clone(),
                    partition: first.partition,
                    offset: -1,
                });
            }
        };
        let offsets = match self
            .list_offsets(missing.into_iter().map(|tp| (tp, spec)))
            .await
        {
            Ok(offsets) => offsets,
            // As Java: a lookup refused retriably past `default.api.timeout.ms` (a leader
            // moving, or a partition created a moment ago whose log the broker is still
            // making) is asked again by the next poll, not returned.
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "position reset: asked again by the next poll");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        // A partition sought, reassigned or given a committed offset meanwhile keeps that.
        let mut positions = lock(&self.inner.positions);
        for (tp, listed) in offsets {
            positions.reset(tp, listed.offset);
        }
        Ok(true)
    }
}
