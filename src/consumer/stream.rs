//! A [`futures_core::Stream`] over the consumer's buffer and [`Consumer::poll`].
//!
//! ```text
//! next() ──▶ a record in the consumer's buffer? ──yes──▶ take it (its position moves)
//!                 │ no
//!                 ▼
//!            poll (group work, auto-commit, top-up, wait) for one record
//! ```
//! The stream keeps no records of its own (rust-rdkafka's `StreamConsumer` users commit
//! records the stream has not yielded yet): what a commit covers is what was yielded.

use super::Consumer;
use crate::error::{Error, Result};
use crate::record::ConsumerRecord;
use crate::sync::lock;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

type PollFuture = Pin<Box<dyn Future<Output = Result<Vec<ConsumerRecord>>> + Send>>;

/// Records from a [`Consumer`], one at a time; see [`Consumer::stream`]. Each error is
/// yielded once and polling continues after it; the stream ends after the consumer is
/// closed.
pub struct RecordStream {
    consumer: Consumer,
    pending: Option<PollFuture>,
    ended: bool,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("consumer", &self.consumer)
            .field("polling", &self.pending.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}

impl RecordStream {
    pub(super) fn new(consumer: Consumer) -> Self {
        Self {
            consumer,
            pending: None,
            ended: false,
        }
    }

    /// A record already buffered, without the group work of a poll: a poll does that once
    /// the buffer (topped up to `max.poll.records` by the last poll) runs dry.
    fn buffered(&self) -> Option<Result<ConsumerRecord>> {
        if self.consumer.check_open().is_err() {
            return None;
        }
        let mut positions = lock(&self.consumer.inner.positions);
        if !positions.has_buffered() {
            return None;
        }
        self.consumer
            .hand_out(&mut positions, 1)
            .map(|mut records| records.pop())
            .transpose()
    }
}

impl futures_core::Stream for RecordStream {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if self.pending.is_none() {
                if let Some(record) = self.buffered() {
                    return Poll::Ready(Some(record));
                }
                let consumer = self.consumer.clone();
                self.pending = Some(Box::pin(async move {
                    consumer.poll_up_to(Duration::from_secs(1), 1).await
                }));
            }
            let Some(pending) = self.pending.as_mut() else {
                continue;
            };
            let polled = match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(polled) => polled,
            };
            self.pending = None;
            match polled {
                Ok(mut records) => {
                    if let Some(record) = records.pop() {
                        return Poll::Ready(Some(Ok(record)));
                    }
                }
                Err(Error::Closed) => self.ended = true,
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}
