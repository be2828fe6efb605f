//! The consumer protocol's subscription and assignment bytes: JoinGroup member metadata and
//! SyncGroup assignments, as Java's `ConsumerProtocol` writes and reads them.
//!
//! Both are an `i16` version followed by the message at that version. Java 4.x writes
//! version 3 of both. Readers decode a newer version with their own latest schema (later
//! versions only append fields) and ignore trailing bytes, so this reader does the same.

use crate::record::TopicPartition;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The version written, and the highest one read field by field (what Java 4.x does).
const LATEST_VERSION: i16 = 3;

/// A member's subscription: JoinGroup's member metadata for protocol type "consumer".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub topics: Vec<String>,
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (version 1+).
    pub owned: Vec<TopicPartition>,
    /// Generation of `owned`, -1 if unknown (version 2+).
    pub generation: i32,
    /// `client.rack` (version 3+).
    pub rack: Option<String>,
}

/// A member's share of the partitions: SyncGroup's assignment bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub partitions: Vec<TopicPartition>,
    pub user_data: Option<Bytes>,
}

/// Subscription bytes at version 3, laid out as Java writes them: topics sorted, owned
/// partitions sorted and grouped by topic, no rack written as null. Fails only on a string
/// too long for the protocol's `i16` length (a topic name or rack over 32767 bytes).
pub(crate) fn encode_subscription(s: &Subscription) -> Result<Bytes, String> {
    let mut topics = s.topics.clone();
    topics.sort();
    let mut owned = s.owned.clone();
    owned.sort();
    let mut owned_topics: Vec<OwnedTopic> = Vec::new();
    for tp in owned {
        match owned_topics.last_mut() {
            Some(last) if last.topic.0.as_str() == tp.topic => last.partitions.push(tp.partition),
            _ => owned_topics.push(
                OwnedTopic::default()
                    .with_topic(StrBytes::from_string(tp.topic).into())
                    .with_partitions(vec![tp.partition]),
            ),
        }
    }
    let message = ConsumerProtocolSubscription::default()
        .with_topics(topics.into_iter().map(StrBytes::from_string).collect())
        .with_user_data(s.user_data.clone())
        .with_owned_partitions(owned_topics)
        .with_generation_id(s.generation)
        .with_rack_id(s.rack.clone().map(StrBytes::from_string));
    versioned(&message, "subscription")
}

/// Assignment bytes at version 3. Partitions are grouped by topic in order of first
/// appearance, each topic's partitions in the order given, as Java does.
pub(crate) fn encode_assignment(a: &Assignment) -> Result<Bytes, String> {
    let mut topics: Vec<AssignedTopic> = Vec::new();
    for tp in &a.partitions {
        match topics.iter_mut().find(|t| t.topic.0.as_str() == tp.topic) {
            Some(t) => t.partitions.push(tp.partition),
            None => topics.push(
                AssignedTopic::default()
                    .with_topic(StrBytes::from_string(tp.topic.clone()).into())
                    .with_partitions(vec![tp.partition]),
            ),
        }
    }
    let message = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(topics)
        .with_user_data(a.user_data.clone());
    versioned(&message, "assignment")
}

fn versioned<M: Encodable>(message: &M, what: &str) -> Result<Bytes, String> {
    let mut buf = BytesMut::new();
    buf.put_i16(LATEST_VERSION);
    message
        .encode(&mut buf, LATEST_VERSION)
        .map_err(|e| format!("cannot encode consumer protocol {what}: {e}"))?;
    Ok(buf.freeze())
}

/// Reads a subscription of any version. An empty rack reads as none, as in Java.
pub(crate) fn decode_subscription(mut b: Bytes) -> Result<Subscription, String> {
    let version = read_version(&mut b, "subscription")?;
    Shape(&b)
        .subscription(version)
        .ok_or_else(|| malformed("subscription", version))?;
    let m = ConsumerProtocolSubscription::decode(&mut b, version)
        .map_err(|e| format!("{}: {e}", malformed("subscription", version)))?;
    Ok(Subscription {
        topics: m.topics.into_iter().map(|t| t.to_string()).collect(),
        user_data: m.user_data,
        owned: m
            .owned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic.0.to_string();
                t.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        generation: m.generation_id,
        rack: m.rack_id.map(|r| r.to_string()).filter(|r| !r.is_empty()),
    })
}

/// Reads an assignment of any version. No bytes at all is an empty assignment: the broker
/// sends that to a member the leader gave nothing (or left out).
pub(crate) fn decode_assignment(mut b: Bytes) -> Result<Assignment, String> {
    if b.is_empty() {
        return Ok(Assignment::default());
    }
    let version = read_version(&mut b, "assignment")?;
    Shape(&b)
        .assignment()
        .ok_or_else(|| malformed("assignment", version))?;
    let m = ConsumerProtocolAssignment::decode(&mut b, version)
        .map_err(|e| format!("{}: {e}", malformed("assignment", version)))?;
    Ok(Assignment {
        partitions: m
            .assigned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic.0.to_string();
                t.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        user_data: m.user_data,
    })
}

/// The leading version, capped at ours: a newer writer only appended fields.
fn read_version(b: &mut Bytes, what: &str) -> Result<i16, String> {
    if b.remaining() < 2 {
        return Err(format!(
            "consumer protocol {what}: {} bytes, too short for the version",
            b.len()
        ));
    }
    match b.get_i16() {
        v if v < 0 => Err(format!("unsupported consumer protocol {what} version {v}")),
        v => Ok(v.min(LATEST_VERSION)),
    }
}

fn malformed(what: &str, version: i16) -> String {
    format!("malformed consumer protocol {what} (read as version {version})")
}

/// A walk over the bytes that checks every length before the generated decoder sees them.
/// That decoder reserves room for an array's declared element count up front, so four
/// lying bytes would ask for gigabytes; Java's generated readers reject a count larger than
/// the bytes left, and so does this. Each step returns `None` when the bytes run out.
struct Shape<'a>(&'a [u8]);

impl<'a> Shape<'a> {
    fn subscription(mut self, version: i16) -> Option<()> {
        self.array(2, |s| s.string())?;
        self.bytes()?;
        if version >= 1 {
            self.array(6, |s| s.topic_partitions())?;
        }
        // Generation and rack are fixed-size or length-checked by the decoder itself.
        Some(())
    }

    fn assignment(mut self) -> Option<()> {
        self.array(6, |s| s.topic_partitions())?;
        self.bytes()
    }

    /// Topic name, then an array of `i32` partitions.
    fn topic_partitions(&mut self) -> Option<()> {
        self.string()?;
        self.array(4, |s| s.skip(4))
    }

    /// An array whose elements take at least `min_size` bytes each.
    fn array(
        &mut self,
        min_size: usize,
        mut element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        let n = usize::try_from(self.i32()?).ok()?;
        if n.checked_mul(min_size)? > self.0.len() {
            return None;
        }
        (0..n).try_for_each(|_| element(self))
    }

    fn string(&mut self) -> Option<()> {
        let len = i16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.skip(usize::try_from(len).ok()?)
    }

    /// Nullable bytes: -1 is null.
    fn bytes(&mut self) -> Option<()> {
        match self.i32()? {
            -1 => Some(()),
            len => self.skip(usize::try_from(len).ok()?),
        }
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
}

#[cfg(test)]
#[path = "consumer_protocol_tests.rs"]
mod tests;
