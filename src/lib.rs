//! kafkit: a pure-Rust, async Apache Kafka client.
#![warn(missing_docs)]

mod config;
pub mod error;
mod producer;
mod protocol;
mod record;
mod topic;

pub use config::{
    Acks, AdminConfig, AssignorKind, AutoOffsetReset, ClientConfig, ConsumerConfig, IsolationLevel,
    ProducerConfig, DEFAULT_MAX_RESPONSE_SIZE, MAX_IN_FLIGHT_FOR_IDEMPOTENCE,
};
pub use error::{Error, ErrorCode, Result, RetryAction};
pub use producer::partitioner;
pub use producer::partitioner::{Partitioner, PartitionerKind};
pub use protocol::compression::Compression;
pub use record::{
    ConsumerRecord, Header, ProducerRecord, RecordMetadata, TimestampType, TopicPartition,
};
pub use topic::{validate_topic_name, MAX_TOPIC_NAME_LEN};
