//! A [`futures_core::Stream`] over [`Consumer::poll`].

use super::Consumer;
use crate::error::Result;
use crate::record::ConsumerRecord;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

type PollFuture = Pin<Box<dyn Future<Output = Result<Vec<ConsumerRecord>>> + Send>>;

/// Records from a [`Consumer`], one at a time. Ends only if the consumer fails; each error is
/// yielded once and polling continues after it.
pub struct RecordStream {
    consumer: Consumer,
    buffer: VecDeque<ConsumerRecord>,
    pending: Option<PollFuture>,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("consumer", &self.consumer)
            .field("buffered", &self.buffer.len())
            .field("polling", &self.pending.is_some())
            .finish()
    }
}

impl RecordStream {
    pub(super) fn new(consumer: Consumer) -> Self {
        Self {
            consumer,
            buffer: VecDeque::new(),
            pending: None,
        }
    }
}

impl futures_core::Stream for RecordStream {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(record) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(record)));
            }
            if self.pending.is_none() {
                let consumer = self.consumer.clone();
                self.pending = Some(Box::pin(async move {
                    consumer.poll(Duration::from_secs(1)).await
                }));
            }
            let Some(pending) = self.pending.as_mut() else {
                continue;
            };
            match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    self.pending = None;
                    match result {
                        Ok(records) => self.buffer.extend(records),
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
            }
        }
    }
}
