//! `TypedProducer`: records with typed keys and values, serialized into a
//! [`ProducerRecord`] and sent by the [`Producer`] it wraps.

use super::{Delivery, Producer};
use crate::error::Result;
use crate::record::{Header, ProducerRecord, RecordMetadata};
use crate::serdes::{DefaultSerde, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A record to produce with a typed key and value (Java's `ProducerRecord<K, V>`).
///
/// The key is always given: a keyless record has a key type that serializes to null, such
/// as `()` or `Option<K>`.
///
/// ```
/// use kafkit::TypedProducerRecord;
/// let record = TypedProducerRecord::new("temperatures", "room-1".to_string(), 21.5_f64)
///     .header("unit", "celsius");
/// assert_eq!((&*record.topic, record.key.as_str(), record.value), ("temperatures", "room-1", 21.5));
/// let keyless = TypedProducerRecord::new("temperatures", (), 19.0_f64);
/// # let _ = keyless;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedProducerRecord<K, V> {
    /// The topic to write to.
    pub topic: Arc<str>,
    /// An explicit partition; when `None` the partitioner chooses from the serialized key.
    pub partition: Option<i32>,
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Headers in order, duplicates kept; the serializers may add to them.
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch; when `None` the time of `send` is used.
    pub timestamp: Option<i64>,
}

impl<K, V> TypedProducerRecord<K, V> {
    /// A record with a key and a value, and nothing else set.
    pub fn new(topic: impl Into<Arc<str>>, key: K, value: V) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key,
            value,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Appends a header.
    pub fn header(mut self, key: impl Into<bytes::Bytes>, value: impl Into<bytes::Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
}

/// A [`Producer`] for records with keys of type `K` and values of type `V`, which
/// `KS` and `VS` serialize ([`DefaultSerde`] unless given others).
///
/// It only serializes: everything else (batching, idempotence, `flush`, `close`,
/// transactions) is the wrapped producer's, through [`producer`](Self::producer). Keys and
/// values of `Bytes` go through untouched, so a `TypedProducer<Option<Bytes>, Bytes>` costs
/// what the plain producer costs.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::{Producer, ProducerConfig, TypedProducer, TypedProducerRecord};
/// let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
/// let typed: TypedProducer<String, i64> = TypedProducer::new(producer);
/// let delivery = typed
///     .send(TypedProducerRecord::new("counts", "page-1".to_string(), 42_i64))
///     .await?;
/// typed.producer().flush().await;
/// println!("written at offset {}", delivery.await?.offset);
/// # Ok(()) }
/// ```
pub struct TypedProducer<K, V, KS = DefaultSerde, VS = DefaultSerde> {
    producer: Producer,
    key_serializer: KS,
    value_serializer: VS,
    // fn(K, V): the producer takes keys and values, it holds none, so it is Send and Sync
    // whatever K and V are.
    types: PhantomData<fn(K, V)>,
}

impl<K, V> TypedProducer<K, V> {
    /// Wraps `producer`, serializing keys and values with [`DefaultSerde`].
    pub fn new(producer: Producer) -> Self {
        Self::with_serializers(producer, DefaultSerde, DefaultSerde)
    }
}

impl<K, V, KS, VS> TypedProducer<K, V, KS, VS> {
    /// Wraps `producer`, serializing keys with `key_serializer` and values with
    /// `value_serializer` (Java's `key.serializer` and `value.serializer`).
    pub fn with_serializers(producer: Producer, key_serializer: KS, value_serializer: VS) -> Self {
        Self {
            producer,
            key_serializer,
            value_serializer,
            types: PhantomData,
        }
    }

    /// The wrapped producer: `flush`, `close`, `metrics`, transactions, untyped sends.
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// The wrapped producer, unwrapped.
    pub fn into_inner(self) -> Producer {
        self.producer
    }
}

impl<K, V, KS, VS> TypedProducer<K, V, KS, VS>
where
    KS: Serializer<K>,
    VS: Serializer<V>,
{
    /// Serializes the record's key, then its value, then [`Producer::send`]s it. A
    /// serializer's error ([`Error::Serialization`](crate::error::Error::Serialization)) is
    /// returned and nothing is sent; the other errors are `send`'s.
    pub async fn send(&self, record: TypedProducerRecord<K, V>) -> Result<Delivery> {
        let record = untyped(record, &self.key_serializer, &self.value_serializer)?;
        self.producer.send(record).await
    }

    /// Serializes the record as [`send`](Self::send) does, then
    /// [`Producer::send_with_callback`]s it: `callback` is called exactly once if this
    /// returns `Ok`, never if it returns an error.
    pub async fn send_with_callback<F>(
        &self,
        record: TypedProducerRecord<K, V>,
        callback: F,
    ) -> Result<()>
    where
        F: FnOnce(Result<RecordMetadata>) + Send + 'static,
    {
        let record = untyped(record, &self.key_serializer, &self.value_serializer)?;
        self.producer.send_with_callback(record, callback).await
    }
}

/// The untyped record: every field moved, the key and value serialized (key first, as Java
/// does), the serializers' headers added.
fn untyped<K, V>(
    record: TypedProducerRecord<K, V>,
    key_serializer: &impl Serializer<K>,
    value_serializer: &impl Serializer<V>,
) -> Result<ProducerRecord> {
    let TypedProducerRecord {
        topic,
        partition,
        key,
        value,
        mut headers,
        timestamp,
    } = record;
    let key = key_serializer.serialize(&topic, &mut headers, key)?;
    let value = value_serializer.serialize(&topic, &mut headers, value)?;
    Ok(ProducerRecord {
        topic,
        partition,
        key,
        value,
        headers,
        timestamp,
    })
}

impl<K, V, KS: Clone, VS: Clone> Clone for TypedProducer<K, V, KS, VS> {
    fn clone(&self) -> Self {
        Self::with_serializers(
            self.producer.clone(),
            self.key_serializer.clone(),
            self.value_serializer.clone(),
        )
    }
}

impl<K, V, KS, VS> fmt::Debug for TypedProducer<K, V, KS, VS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedProducer")
            .field("producer", &self.producer)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use bytes::Bytes;

    #[test]
    fn bytes_keys_and_values_are_moved_not_copied() {
        let key = Bytes::from(vec![1u8; 16]);
        let value = Bytes::from(vec![2u8; 100]);
        let record = TypedProducerRecord::new("t", Some(key.clone()), value.clone())
            .partition(3)
            .timestamp(7)
            .header("h", "v");
        let headers_at = record.headers.as_ptr();
        let sent = untyped(record, &DefaultSerde, &DefaultSerde).unwrap();
        // The same allocations: the key and value bytes and the header list itself.
        assert_eq!(sent.key.as_ref().map(|k| k.as_ptr()), Some(key.as_ptr()));
        assert_eq!(
            sent.value.as_ref().map(|v| v.as_ptr()),
            Some(value.as_ptr())
        );
        assert_eq!(sent.headers.as_ptr(), headers_at);
        assert_eq!(
            (sent.partition, sent.timestamp, &*sent.topic),
            (Some(3), Some(7), "t")
        );
        // A String and a Vec<u8> hand over their buffers too.
        let text = String::from("owned text");
        let text_at = text.as_ptr();
        let sent = untyped(
            TypedProducerRecord::new("t", (), text),
            &DefaultSerde,
            &DefaultSerde,
        )
        .unwrap();
        assert_eq!(sent.key, None);
        assert_eq!(sent.value.unwrap().as_ptr(), text_at);
    }

    /// Refuses every value.
    struct Refusing;

    impl Serializer<i64> for Refusing {
        fn serialize(&self, _: &str, _: &mut Vec<Header>, data: i64) -> Result<Option<Bytes>> {
            Err(Error::serialization(format!("{data} is out of range")))
        }
    }

    #[test]
    fn a_serializer_error_is_returned_as_is() {
        let record = TypedProducerRecord::new("t", "k".to_string(), 5_i64);
        let err = untyped(record, &DefaultSerde, &Refusing).unwrap_err();
        assert_eq!(err.to_string(), "serialization failed: 5 is out of range");
        assert!(!err.is_retriable());
    }

    #[test]
    fn serializers_may_add_headers() {
        let record = TypedProducerRecord::new("t", 1_i32, 2_i64).header("first", "1");
        struct Tagging;
        impl Serializer<i64> for Tagging {
            fn serialize(
                &self,
                topic: &str,
                headers: &mut Vec<Header>,
                data: i64,
            ) -> Result<Option<Bytes>> {
                headers.push(Header::new("topic", topic.to_string()));
                DefaultSerde.serialize(topic, headers, data)
            }
        }
        let sent = untyped(record, &DefaultSerde, &Tagging).unwrap();
        assert_eq!(
            sent.headers,
            [Header::new("first", "1"), Header::new("topic", "t")]
        );
        assert_eq!(sent.key.as_deref(), Some(&[0, 0, 0, 1][..]));
        assert_eq!(sent.value.as_deref(), Some(&2_i64.to_be_bytes()[..]));
    }
}
