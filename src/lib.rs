//! kafkit: a pure-Rust, async Apache Kafka client.
//!
//! - [`Producer`]: batches per partition, sends to each leader, resolves a [`Delivery`] per
//!   record with its offset or a typed [`Error`].
//! - [`Consumer`]: reads assigned (or all subscribed) partitions by batch [`Consumer::poll`]
//!   or as a [`futures_core::Stream`].
//! - [`Admin`]: creates, deletes and lists topics; looks up offsets.
//!
//! ```no_run
//! use kafkit::{Producer, ProducerConfig, ProducerRecord};
//! # async fn demo() -> kafkit::Result<()> {
//! let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
//! let delivery = producer.send(ProducerRecord::new("my_topic", "Hello Kafka")).await?;
//! producer.flush().await;
//! println!("offset {}", delivery.await?.offset);
//! # Ok(()) }
//! ```
//!
//! Every setting is named after its Java client key; see [`ProducerConfig::from_properties`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod admin;
mod cluster;
mod config;
mod connection;
mod consumer;
mod error;
pub mod partitioner;
mod producer;
mod protocol;
mod record;
mod retry;
mod sync;
mod topic;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::protocol::frame::hooks::*;
    pub use crate::protocol::lz4::hooks::*;
    pub use crate::protocol::record_batch::hooks::*;
}

pub use admin::{Admin, NewTopic, TopicListing};
pub use cluster::{ListedOffset, OffsetSpec};
pub use config::{
    Acks, AdminConfig, AssignorKind, AutoOffsetReset, ClientConfig, Compression, ConsumerConfig,
    IsolationLevel, ProducerConfig, DEFAULT_MAX_CONTROL_RESPONSE_SIZE, DEFAULT_MAX_RESPONSE_SIZE,
    MAX_IN_FLIGHT_FOR_IDEMPOTENCE,
};
pub use consumer::{
    CommitFuture, Consumer, HookFuture, OffsetAndMetadata, RebalanceListener, RecordStream,
};
pub use error::{Error, ErrorCode, Result, RetryAction};
pub use partitioner::{Partitioner, PartitionerKind};
pub use producer::{Delivery, Producer, ProducerMetrics};
pub use record::{
    ConsumerRecord, Header, ProducerRecord, RecordMetadata, TimestampType, TopicPartition,
};
pub use topic::{validate_topic_name, MAX_TOPIC_NAME_LEN};
