//! The records users send and receive, and the metadata a broker returns for them.

use bytes::Bytes;
use std::fmt;
use std::sync::Arc;

#[cfg(feature = "opentelemetry")]
mod trace_context;
#[cfg(feature = "opentelemetry")]
pub use trace_context::{HeaderExtractor, HeaderInjector};

/// A topic and partition pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partition index within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic and partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record header.
///
/// Kafka allows the same key several times and a null value; both are kept as sent. Keys are
/// bytes on the wire: the Java client writes UTF-8, but other clients may not, so nothing here
/// assumes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header key.
    pub key: Bytes,
    /// The header value; `None` is Kafka's null value, distinct from an empty one.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A header whose value is null.
    pub fn null(key: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            value: None,
        }
    }

    /// The key as UTF-8, if it is.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// A record to produce.
///
/// ```
/// use kafkit::ProducerRecord;
/// let record = ProducerRecord::new("my_topic", "Hello Kafka")
///     .key("greeting")
///     .header("trace-id", "42");
/// assert_eq!(&*record.topic, "my_topic");
/// ```
///
/// The topic is an `Arc<str>` so that a hot loop can clone one name instead of copying it for
/// every record; keys and values are [`Bytes`], which clone without copying as well:
///
/// ```
/// use std::sync::Arc;
/// use kafkit::ProducerRecord;
/// let topic: Arc<str> = Arc::from("events");
/// let value = bytes::Bytes::from_static(b"payload");
/// let records: Vec<_> = (0..3)
///     .map(|_| ProducerRecord::new(topic.clone(), value.clone()))
///     .collect();
/// assert_eq!(records.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic to write to.
    pub topic: Arc<str>,
    /// An explicit partition; when `None` the partitioner chooses.
    pub partition: Option<i32>,
    /// The key; keyed records go to the partition murmur2 of the key picks.
    pub key: Option<Bytes>,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch; when `None` the time of `send` is used.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value and nothing else set.
    pub fn new(topic: impl Into<Arc<str>>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with a null value (a tombstone for compacted topics).
    pub fn tombstone(topic: impl Into<Arc<str>>, key: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: Some(key.into()),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Appends a header.
    pub fn header(mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Appends a header with a null value.
    pub fn null_header(mut self, key: impl Into<Bytes>) -> Self {
        self.headers.push(Header::null(key));
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
}

/// Where a produced record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The topic: the record's own `Arc`, shared, not copied.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset the broker assigned; `-1` with `acks=0`, where the broker says nothing.
    pub offset: i64,
    /// The record's timestamp: the one sent, or the broker's append time for topics with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

/// Whether a record's timestamp was set by its producer or by the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampType {
    /// Set by the producer (`CreateTime`).
    CreateTime,
    /// Set by the broker when it appended the batch (`LogAppendTime`).
    LogAppendTime,
}

/// A record read from a partition.
///
/// Its key, value and header bytes are slices of the fetched data, not copies, and its topic
/// is shared by the records of one fetch: the only allocation a record has of its own is its
/// header list, when it has headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// The topic; shared, not copied, between the records of one fetch (`&*record.topic` is
    /// the `&str`).
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key, if any.
    pub key: Option<Bytes>,
    /// The value; `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Headers in the order they were written, duplicates kept.
    pub headers: Vec<Header>,
}

/// A consumer's place in its group, as a transaction's offset commit carries it (Java's
/// `ConsumerGroupMetadata`, for `sendOffsetsToTransaction`, KIP-447): the coordinator
/// refuses the offsets of a member that has been fenced since. From
/// `Consumer::group_metadata`.
///
/// ```
/// let m = kafkit::ConsumerGroupMetadata::new("billing");
/// assert_eq!((m.group_id.as_str(), m.generation_id, m.member_id.as_str()), ("billing", -1, ""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation the member belongs to; -1 outside one.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty before it gave one.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// A group's metadata outside any generation: what a transaction sends for a group
    /// whose membership it does not check.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// A committed offset and its metadata.
///
/// ```
/// let offset = kafkit::OffsetAndMetadata::new(42).with_metadata("checkpoint");
/// assert_eq!((offset.offset, offset.metadata.as_deref()), (42, Some("checkpoint")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Free text stored with the offset.
    pub metadata: Option<String>,
    /// The leader epoch of the record before `offset` (Java's `leaderEpoch()`), when known.
    /// A consumer that starts from this offset has its first fetch check it against the
    /// leader's log, so records replaced by an unclean leader election are detected
    /// (KIP-320) rather than skipped. Commits of consumed positions carry it.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }

    /// The same offset, with the leader epoch of the record before it.
    pub fn with_leader_epoch(mut self, leader_epoch: i32) -> Self {
        self.leader_epoch = Some(leader_epoch);
        self
    }

    /// The same offset, with free text stored beside it.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}
