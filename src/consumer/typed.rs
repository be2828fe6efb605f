//! `TypedConsumer`: the [`Consumer`]'s records with their keys and values deserialized; a
//! record that does not deserialize stops its partition there, as an error that names it.
//!
//! ```text
//! poll ──▶ Consumer::poll ──▶ each record: key, then value deserialized
//!   all ok        → the typed records (the same Vec, converted in place)
//!   one fails     → its partition's records from it on are dropped and the consumer seeks
//!                   the partition back to it (position and commits stay before it);
//!                   the other records are returned, and the error by the next poll
//!                   (at once, if there are none); it comes back until the application
//!                   seeks past the record
//! ```

use super::Consumer;
use crate::error::{Error, Result};
use crate::record::{ConsumerRecord, Header, TimestampType, TopicPartition};
use crate::serdes::{DefaultSerde, Deserializer, RecordPart};
use crate::sync::lock;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A record read from a partition, with its key and value deserialized (Java's
/// `ConsumerRecord<K, V>`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypedConsumerRecord<K, V> {
    /// The topic; shared, not copied, between the records of one fetch.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Headers in the order they were written, duplicates kept.
    pub headers: Vec<Header>,
}

/// A [`Consumer`] whose records have keys of type `K` and values of type `V`, which `KD` and
/// `VD` deserialize ([`DefaultSerde`] unless given others).
///
/// A record whose key or value does not deserialize is never skipped silently: `poll`
/// returns [`Error::RecordDeserialization`] with the record (topic, partition, offset,
/// bytes), and the consumer's position in that partition stays at the record (commits
/// included), so every `poll` returns the error again until the application seeks past it,
/// as Java's consumer does with its `RecordDeserializationException`. Records of other
/// partitions, and those before it, are returned first.
///
/// Everything but `poll` (assign, subscribe, seek, commit, close) is the wrapped consumer's,
/// through [`consumer`](Self::consumer). Keys and values of `Bytes` share the fetched bytes,
/// and the records are converted in the vector the consumer returned.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::{Consumer, ConsumerConfig, Error, TopicPartition, TypedConsumer};
/// use std::time::Duration;
/// let consumer = Consumer::new(ConsumerConfig::new("localhost:9092")).await?;
/// consumer.assign([TopicPartition::new("counts", 0)]).await?;
/// let typed: TypedConsumer<Option<String>, i64> = TypedConsumer::new(consumer);
/// loop {
///     match typed.poll(Duration::from_secs(1)).await {
///         Ok(records) => {
///             for r in records {
///                 println!("{:?} = {}", r.key, r.value);
///             }
///         }
///         Err(Error::RecordDeserialization { record, .. }) => {
///             eprintln!("skipping {}-{} at {}", record.topic, record.partition, record.offset);
///             let tp = TopicPartition::new(&*record.topic, record.partition);
///             typed.consumer().seek(&tp, record.offset + 1).await?;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
pub struct TypedConsumer<K, V, KD = DefaultSerde, VD = DefaultSerde> {
    consumer: Consumer,
    key_deserializer: KD,
    value_deserializer: VD,
    /// A record's failure found by a poll that had other records to return: the next poll
    /// returns it.
    held: Mutex<Option<Error>>,
    // fn() -> (K, V): the consumer makes keys and values, it holds none, so it is Send and
    // Sync whatever K and V are.
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> TypedConsumer<K, V> {
    /// Wraps `consumer`, deserializing keys and values with [`DefaultSerde`].
    pub fn new(consumer: Consumer) -> Self {
        Self::with_deserializers(consumer, DefaultSerde, DefaultSerde)
    }
}

impl<K, V, KD, VD> TypedConsumer<K, V, KD, VD> {
    /// Wraps `consumer`, deserializing keys with `key_deserializer` and values with
    /// `value_deserializer` (Java's `key.deserializer` and `value.deserializer`).
    pub fn with_deserializers(
        consumer: Consumer,
        key_deserializer: KD,
        value_deserializer: VD,
    ) -> Self {
        Self {
            consumer,
            key_deserializer,
            value_deserializer,
            held: Mutex::new(None),
            types: PhantomData,
        }
    }

    /// The wrapped consumer: assign, subscribe, seek, commit, close. Polling it directly
    /// returns the records untyped.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// The wrapped consumer, unwrapped.
    pub fn into_inner(self) -> Consumer {
        self.consumer
    }
}

impl<K, V, KD, VD> TypedConsumer<K, V, KD, VD>
where
    KD: Deserializer<K>,
    VD: Deserializer<V>,
{
    /// [`Consumer::poll`], with keys and values deserialized (key first, as Java does).
    ///
    /// A record that does not deserialize makes this return [`Error::RecordDeserialization`]
    /// (once the records of other partitions, and those before it, have been returned),
    /// and again on every poll until the application seeks its partition past it; see
    /// [`TypedConsumer`]. The wrapped consumer's errors are returned as they are.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<TypedConsumerRecord<K, V>>> {
        if let Some(failure) = lock(&self.held).take() {
            return Err(failure);
        }
        let records = self.consumer.poll(timeout).await?;
        let (typed, failed) =
            typed_records(records, &self.key_deserializer, &self.value_deserializer);
        let Some(first) = failed.first() else {
            return Ok(typed);
        };
        let error = first.clone();
        for failure in &failed {
            if let Error::RecordDeserialization { record, .. } = failure {
                let tp = TopicPartition::new(&*record.topic, record.partition);
                // Fails only if the partition is no longer assigned (another clone of the
                // consumer changed the assignment meanwhile): then its next owner reads it
                // from the group's committed offset, which is not past this record.
                let _ = self.consumer.seek(&tp, record.offset).await;
            }
        }
        if typed.is_empty() {
            Err(error)
        } else {
            *lock(&self.held) = Some(error);
            Ok(typed)
        }
    }
}

/// The records deserialized, in the vector they came in (std collects a `filter_map` over
/// a vector's own iterator in place when the element sizes allow, which they do for `Bytes`
/// and `Option<Bytes>`); and one [`Error::RecordDeserialization`] per partition whose
/// records stop at a record that failed (the records after it in that partition dropped).
fn typed_records<K, V>(
    records: Vec<ConsumerRecord>,
    key_deserializer: &impl Deserializer<K>,
    value_deserializer: &impl Deserializer<V>,
) -> (Vec<TypedConsumerRecord<K, V>>, Vec<Error>) {
    let mut failed: Vec<Error> = Vec::new();
    let typed = records
        .into_iter()
        .filter_map(|record| {
            let stopped = failed.iter().any(|failure| match failure {
                Error::RecordDeserialization { record: at, .. } => {
                    at.partition == record.partition && at.topic == record.topic
                }
                _ => false,
            });
            if stopped {
                return None;
            }
            match typed_record(record, key_deserializer, value_deserializer) {
                Ok(typed) => Some(typed),
                Err(failure) => {
                    failed.push(failure);
                    None
                }
            }
        })
        .collect();
    (typed, failed)
}

fn typed_record<K, V>(
    record: ConsumerRecord,
    key_deserializer: &impl Deserializer<K>,
    value_deserializer: &impl Deserializer<V>,
) -> Result<TypedConsumerRecord<K, V>> {
    let failed = |part, reason, record| Error::RecordDeserialization {
        part,
        reason: Box::new(reason),
        record: Box::new(record),
    };
    let key =
        match key_deserializer.deserialize(&record.topic, &record.headers, record.key.as_ref()) {
            Ok(key) => key,
            Err(e) => return Err(failed(RecordPart::Key, e, record)),
        };
    let value =
        match value_deserializer.deserialize(&record.topic, &record.headers, record.value.as_ref())
        {
            Ok(value) => value,
            Err(e) => return Err(failed(RecordPart::Value, e, record)),
        };
    let ConsumerRecord {
        topic,
        partition,
        offset,
        timestamp,
        timestamp_type,
        headers,
        ..
    } = record;
    Ok(TypedConsumerRecord {
        topic,
        partition,
        offset,
        timestamp,
        timestamp_type,
        key,
        value,
        headers,
    })
}

impl<K, V, KD, VD> fmt::Debug for TypedConsumer<K, V, KD, VD> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedConsumer")
            .field("consumer", &self.consumer)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(
        partition: i32,
        offset: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
    ) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition,
            offset,
            timestamp: 1_000 + offset,
            timestamp_type: TimestampType::CreateTime,
            key,
            value,
            headers: vec![Header::new("h", "v")],
        }
    }

    #[test]
    fn bytes_records_are_converted_in_place_without_copies() {
        let fetched = Bytes::from(vec![7u8; 1_000]);
        let records: Vec<_> = (0..10)
            .map(|i| {
                let at = i * 100;
                record(
                    i as i32 % 3,
                    i as i64,
                    None,
                    Some(fetched.slice(at..at + 100)),
                )
            })
            .collect();
        let (vector_at, values_at): (_, Vec<_>) = (
            records.as_ptr() as usize,
            records
                .iter()
                .map(|r| r.value.as_ref().unwrap().as_ptr())
                .collect(),
        );
        let (typed, failed) =
            typed_records::<Option<Bytes>, Bytes>(records, &DefaultSerde, &DefaultSerde);
        assert!(failed.is_empty());
        // The same vector, and each value still points into the fetched bytes.
        assert_eq!(typed.as_ptr() as usize, vector_at);
        let typed_values: Vec<_> = typed.iter().map(|r| r.value.as_ptr()).collect();
        assert_eq!(typed_values, values_at);
        assert_eq!(typed[4].offset, 4);
        assert_eq!((typed[4].partition, typed[4].timestamp), (1, 1_004));
        assert_eq!(typed[4].headers, [Header::new("h", "v")]);
        assert_eq!(typed[4].key, None);
    }

    #[test]
    fn a_failed_record_stops_its_partition_only_and_keeps_its_bytes() {
        let good = || Some(Bytes::copy_from_slice(&5_i64.to_be_bytes()));
        let bad = Some(Bytes::from_static(b"abc"));
        let records = vec![
            record(0, 10, None, good()),
            record(1, 20, None, good()),
            record(0, 11, None, bad.clone()),
            record(1, 21, None, good()),
            record(0, 12, None, good()), // after the failure in partition 0: dropped
        ];
        let (typed, failed) =
            typed_records::<Option<String>, i64>(records, &DefaultSerde, &DefaultSerde);
        let kept: Vec<_> = typed
            .iter()
            .map(|r| (r.partition, r.offset, r.value))
            .collect();
        assert_eq!(kept, [(0, 10, 5), (1, 20, 5), (1, 21, 5)]);
        let [Error::RecordDeserialization {
            part,
            reason,
            record,
        }] = &failed[..]
        else {
            panic!("one failure expected: {failed:?}");
        };
        assert_eq!(
            (*part, record.partition, record.offset),
            (RecordPart::Value, 0, 11)
        );
        assert_eq!(record.value, bad);
        assert!(matches!(**reason, Error::Serialization { .. }), "{reason}");
        assert!(
            reason.to_string().contains("3 bytes cannot be a i64"),
            "{reason}"
        );
    }

    #[test]
    fn keys_fail_before_values_and_each_partition_reports_its_own_record() {
        let not_utf8 = Some(Bytes::from_static(&[0xff, 0xfe]));
        let records = vec![
            record(0, 1, not_utf8.clone(), Some(Bytes::from_static(b"x"))),
            record(2, 5, Some(Bytes::from_static(b"k")), None),
        ];
        let (typed, failed) =
            typed_records::<Option<String>, String>(records, &DefaultSerde, &DefaultSerde);
        assert!(typed.is_empty());
        let found: Vec<_> = failed
            .iter()
            .map(|e| match e {
                Error::RecordDeserialization { part, record, .. } => {
                    (*part, record.partition, record.offset)
                }
                other => panic!("{other}"),
            })
            .collect();
        // Partition 0's key is not UTF-8; partition 2's value is null, which a String cannot be.
        assert_eq!(found, [(RecordPart::Key, 0, 1), (RecordPart::Value, 2, 5)]);
        assert!(
            failed[1].to_string().contains("read it as Option<String>"),
            "{}",
            failed[1]
        );
    }
}
