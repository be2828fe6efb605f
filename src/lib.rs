//! kafkit: a pure-Rust, async Apache Kafka client.
#![warn(missing_docs)]

pub mod error;
mod protocol;
mod record;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::protocol::record_batch::hooks::*;
}

pub use error::{Error, ErrorCode, Result, RetryAction};
pub use protocol::compression::Compression;
pub use record::{
    ConsumerRecord, Header, ProducerRecord, RecordMetadata, TimestampType, TopicPartition,
};
