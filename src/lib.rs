//! kafkit: a pure-Rust, async Apache Kafka client.
#![warn(missing_docs)]

mod cluster;
mod connection;
pub mod error;
mod protocol;
mod record;

pub use error::{Error, ErrorCode, Result, RetryAction};
pub use protocol::compression::Compression;
pub use record::{
    ConsumerRecord, Header, ProducerRecord, RecordMetadata, TimestampType, TopicPartition,
};
