//! One Fetch round trip to one leader or preferred replica, and its answer as records: each
//! partition's data is checked batch header by batch header when it arrives (how far it
//! reaches, whether a batch was cut short), and decoded batch by batch as `poll` takes it.

use super::fetch_session::FetchPlan;
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorCode};
use crate::protocol::record_batch::decode::Peek;
use crate::protocol::record_batch::decode::{batches, peek, Batches, DecodedBatch, DecodedRecord};
use crate::protocol::wire::topic_name;
use crate::record::{ConsumerRecord, TimestampType, TopicPartition};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::AbortedTransaction;
use kafka_protocol::messages::{BrokerId, FetchRequest};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::iter::Peekable;
use std::sync::Arc;
use std::vec;
use uuid::Uuid;

/// What one partition's fetch produced.
pub(crate) enum PartitionFetch {
    /// Whole batches from the requested offset on, decoded as `poll` takes them.
    Records(Box<Records>),
    /// The broker answered with an error code for this partition.
    Error(ErrorCode),
    /// A typed error for `poll`: corrupt data, a batch larger than any fetch may be.
    Failed(Error),
    /// The leader's log diverged from what was fetched before (KIP-320): its log for the
    /// last fetched leader epoch (or the largest before it) is `epoch`, and ends at
    /// `end_offset`.
    Diverged { epoch: i32, end_offset: i64 },
}

#[derive(Clone, Debug)]
pub(crate) struct FetchParams {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_partition_bytes: i32,
    pub isolation: IsolationLevel,
    pub check_crcs: bool,
    pub rack: String,
}

impl FetchParams {
    /// The most one batch may decompress to: the fetch memory budget, which the consumer's
    /// fetched and decoded bytes share. A batch larger than that is a bomb, not data.
    pub(crate) fn max_decompressed(&self) -> usize {
        2 * (self.max_bytes.max(self.max_partition_bytes).max(1) as usize)
    }
}

/// The Fetch for one session plan: the partitions it names, the ones it forgets.
pub(crate) fn request(
    params: &FetchParams,
    plan: &FetchPlan,
    ids: Option<&HashMap<String, Uuid>>,
) -> FetchRequest {
    // By id (Fetch v13+) the name goes empty; an id missing here (never: the session knows
    // every topic it names) goes as nil, which the broker answers with UNKNOWN_TOPIC_ID.
    let id = |name: &str| ids.map(|ids| ids.get(name).copied().unwrap_or_default());
    let name = |name: &str| match ids {
        Some(_) => topic_name(""),
        None => topic_name(name),
    };
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, p) in &plan.partitions {
        topics.entry(&tp.topic).or_default().push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_current_leader_epoch(p.leader_epoch)
                .with_fetch_offset(p.offset)
                .with_last_fetched_epoch(p.last_fetched_epoch)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(p.max_bytes),
        );
    }
    let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in &plan.forgotten {
        forgotten.entry(&tp.topic).or_default().push(tp.partition);
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(params.max_wait_ms)
        .with_min_bytes(params.min_bytes)
        .with_max_bytes(params.max_bytes)
        .with_isolation_level(crate::protocol::wire::isolation_level(params.isolation))
        .with_session_id(plan.session_id)
        .with_session_epoch(plan.epoch)
        .with_rack_id(kafka_protocol::protocol::StrBytes::from_string(
            params.rack.clone(),
        ))
        .with_topics(
            topics
                .into_iter()
                .map(|(topic, partitions)| {
                    FetchTopic::default()
                        .with_topic(name(topic))
                        .with_topic_id(id(topic).unwrap_or_default())
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .into_iter()
                .map(|(topic, partitions)| {
                    ForgottenTopic::default()
                        .with_topic(name(topic))
                        .with_topic_id(id(topic).unwrap_or_default())
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// What the batch headers of one partition's data say, before any batch is decoded.
pub(crate) enum Scan {
    /// Whole batches that reach past the fetch offset (or no data at all).
    Records(Fetched),
    /// The data ends inside its first batch, which needs `needed` bytes (0: unknown).
    Partial { needed: usize },
    /// The first batch's header cannot be right, or no batch reaches past the fetch offset.
    Corrupt(Error),
}

/// A partition's fetched batches, not decoded yet.
pub(crate) struct Fetched {
    /// Whole batches only: a batch cut short at the end, or anything after a malformed
    /// header, is left out (the next fetch starts there).
    data: Bytes,
    /// `(first offset, producer id)` of the aborted transactions, by first offset.
    aborted: Vec<(i64, i64)>,
    fetch_offset: i64,
    /// The offset after the last batch.
    pub next_offset: i64,
    /// The leader epoch the last batch was written under, or -1 (KIP-320).
    pub last_epoch: i32,
}

/// Reads the batch headers of `data`, fetched at `fetch_offset`: how far it reaches, where it
/// stops being whole.
pub(crate) fn scan(
    tp: &TopicPartition,
    fetch_offset: i64,
    data: Bytes,
    aborted: Option<&[AbortedTransaction]>,
) -> Scan {
    let mut whole = 0;
    let mut next_offset = fetch_offset;
    let mut last_epoch = -1;
    while let Some(rest) = data.get(whole..).filter(|r| !r.is_empty()) {
        match peek(rest) {
            Peek::Whole {
                len,
                leader_epoch,
                next_offset: end,
            } => {
                whole += len;
                next_offset = next_offset.max(end);
                last_epoch = leader_epoch;
            }
            Peek::Partial { needed } if whole == 0 => return Scan::Partial { needed },
            Peek::Malformed(e) if whole == 0 => {
                return Scan::Corrupt(e.into_error(&tp.topic, tp.partition))
            }
            // The batches before it are delivered; the next fetch starts at this one.
            Peek::Partial { .. } | Peek::Malformed(_) => break,
        }
    }
    if whole > 0 && next_offset <= fetch_offset {
        // Answered again, these would be fetched again, forever.
        return Scan::Corrupt(Error::CorruptBatch {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: fetch_offset,
            reason: "the fetch returned no batch past the offset it asked for".into(),
        });
    }
    let mut aborted: Vec<(i64, i64)> = aborted
        .unwrap_or_default()
        .iter()
        .map(|a| (a.first_offset, a.producer_id.0))
        .collect();
    aborted.sort_unstable();
    Scan::Records(Fetched {
        data: data.slice(..whole),
        aborted,
        fetch_offset,
        next_offset,
        last_epoch,
    })
}

/// A partition's fetched records, decoded one batch at a time as they are taken: control
/// batches and, for `read_committed`, aborted transactions skipped; records before the
/// fetch offset left out.
pub(crate) struct Records {
    topic: Arc<str>,
    partition: i32,
    batches: Batches,
    isolation: IsolationLevel,
    fetch_offset: i64,
    next_offset: i64,
    aborted: Peekable<vec::IntoIter<(i64, i64)>>,
    /// Producers whose transaction is aborted at the current offset.
    aborting: HashSet<i64>,
    /// The current batch's records not taken yet.
    current: vec::IntoIter<DecodedRecord>,
    timestamp_type: TimestampType,
    max_timestamp: i64,
    leader_epoch: i32,
    /// The decompressed size of the current batch.
    current_len: usize,
    /// The leader epoch of the last batch.
    last_epoch: i32,
}

/// What one `poll` may still take: records (`max.poll.records`) and bytes of batches to
/// decode (`max.partition.fetch.bytes`). The bytes stop a poll of large records from
/// decompressing every buffered batch at once (Java's poll would, up to `max.poll.records`):
/// no batch is decoded once they run out, and the first always is, so each poll makes
/// progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Room {
    pub records: usize,
    pub bytes: usize,
}

impl Room {
    /// Room for `records` records, however many bytes they decode to.
    #[cfg(test)]
    pub(crate) fn records(records: usize) -> Room {
        Room {
            records,
            bytes: usize::MAX,
        }
    }

    /// Whether nothing more may be taken.
    pub(crate) fn is_spent(&self) -> bool {
        self.records == 0 || self.bytes == 0
    }
}

impl Records {
    pub(crate) fn new(tp: &TopicPartition, fetched: Fetched, params: &FetchParams) -> Records {
        Records {
            topic: Arc::from(tp.topic.as_str()),
            partition: tp.partition,
            batches: batches(fetched.data, params.check_crcs, params.max_decompressed()),
            isolation: params.isolation,
            fetch_offset: fetched.fetch_offset,
            next_offset: fetched.next_offset,
            aborted: fetched.aborted.into_iter().peekable(),
            aborting: HashSet::new(),
            current: Vec::new().into_iter(),
            timestamp_type: TimestampType::CreateTime,
            max_timestamp: -1,
            leader_epoch: -1,
            current_len: 0,
            last_epoch: fetched.last_epoch,
        }
    }

    /// The offset after the last batch: where the partition stands once all is taken.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// The leader epoch of its last batch, or -1.
    pub(crate) fn last_epoch(&self) -> i32 {
        self.last_epoch
    }

    /// The leader epoch of the batch the last record taken came from.
    pub(crate) fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The bytes it holds: batches not decoded yet, and the decoded one being taken from.
    pub(crate) fn held(&self) -> usize {
        self.batches.remaining() + self.current_len
    }

    /// Moves records onto `out` while `room` lasts, decoding a batch only while `room` has
    /// bytes left. `Ok(true)` when none are left; an error is a batch that does not decode
    /// (the records before it were taken).
    pub(crate) fn take_into(
        &mut self,
        out: &mut Vec<ConsumerRecord>,
        room: &mut Room,
    ) -> Result<bool, Error> {
        while room.records > 0 {
            if self.current.as_slice().is_empty() {
                if room.bytes == 0 {
                    break;
                }
                if !self.next_batch()? {
                    return Ok(true);
                }
                room.bytes = room.bytes.saturating_sub(self.current_len);
            }
            let before = out.len();
            let (topic, partition) = (&self.topic, self.partition);
            let (timestamp_type, max_timestamp) = (self.timestamp_type, self.max_timestamp);
            let from = self.fetch_offset;
            let current = self.current.by_ref().filter(|r| r.offset >= from);
            out.extend(current.take(room.records).map(|r| ConsumerRecord {
                topic: topic.clone(),
                partition,
                offset: r.offset,
                timestamp: match timestamp_type {
                    TimestampType::LogAppendTime => max_timestamp,
                    TimestampType::CreateTime => r.timestamp,
                },
                timestamp_type,
                key: r.key,
                value: r.value,
                headers: r.headers,
            }));
            room.records -= out.len() - before;
        }
        Ok(self.current.as_slice().is_empty() && self.batches.remaining() == 0)
    }

    /// Decodes the next batch with records to hand out; `false` at the end.
    fn next_batch(&mut self) -> Result<bool, Error> {
        self.current_len = 0;
        while let Some(batch) = self.batches.next() {
            let batch = batch.map_err(|e| e.into_error(&self.topic, self.partition))?;
            if self.skipped(&batch) {
                continue;
            }
            self.timestamp_type = batch.timestamp_type;
            self.max_timestamp = batch.max_timestamp;
            self.leader_epoch = batch.partition_leader_epoch;
            self.current_len = batch.records_len;
            self.current = batch.records.into_iter();
            if !self.current.as_slice().is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `batch` is not for the application: control batches, and for
    /// `read_committed` the batches of aborted transactions.
    fn skipped(&mut self, batch: &DecodedBatch) -> bool {
        if self.isolation == IsolationLevel::ReadUncommitted {
            return batch.is_control;
        }
        let last_offset = batch.next_offset() - 1;
        while let Some(&(first, producer)) = self.aborted.peek() {
            if first > last_offset {
                break;
            }
            self.aborting.insert(producer);
            self.aborted.next();
        }
        if batch.is_control {
            if is_abort_marker(batch) {
                self.aborting.remove(&batch.producer_id);
            }
            return true;
        }
        batch.is_transactional && self.aborting.contains(&batch.producer_id)
    }
}

/// A control record's key is `version: i16, type: i16`; type 0 aborts, 1 commits.
fn is_abort_marker(batch: &DecodedBatch) -> bool {
    batch
        .records
        .first()
        .and_then(|r| r.key.as_ref())
        .and_then(|k| k.get(2..4))
        .is_some_and(|t| t == [0, 0])
}
/// A hook for the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::{scan, FetchParams, Records, Room, Scan};
    use crate::config::IsolationLevel;
    use crate::record::TopicPartition;
    use bytes::Bytes;
    use kafka_protocol::messages::fetch_response::AbortedTransaction;
    use kafka_protocol::messages::ProducerId;

    /// Bytes as one partition's fetch answer, through the consumer's whole path: the batch
    /// headers scanned, the batches decoded as records are taken (a few at a time), control
    /// batches and aborted transactions skipped. Byte 0: bit 0 `read_committed`, bit 1 CRC
    /// checks; bytes 1..9 the fetch offset; byte 9 a count of aborted transactions, 16 bytes
    /// each (producer id, first offset); the rest the records. Every record handed out lies
    /// between the fetch offset and the answer's next offset.
    pub fn fuzz_fetch_records(data: &[u8]) {
        let Some((&flags, rest)) = data.split_first() else {
            return;
        };
        let Some((offset, rest)) = rest.split_first_chunk::<8>() else {
            return;
        };
        let fetch_offset = i64::from_be_bytes(*offset);
        let Some((&count, mut rest)) = rest.split_first() else {
            return;
        };
        let mut aborted = Vec::new();
        for _ in 0..count {
            let Some((txn, more)) = rest.split_first_chunk::<16>() else {
                break;
            };
            let (producer, first) = txn.split_at(8);
            aborted.push(
                AbortedTransaction::default()
                    .with_producer_id(ProducerId(i64::from_be_bytes(
                        producer.try_into().unwrap_or_default(),
                    )))
                    .with_first_offset(i64::from_be_bytes(first.try_into().unwrap_or_default())),
            );
            rest = more;
        }
        let params = FetchParams {
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_partition_bytes: 1 << 20,
            isolation: if flags & 1 == 0 {
                IsolationLevel::ReadUncommitted
            } else {
                IsolationLevel::ReadCommitted
            },
            check_crcs: flags & 2 != 0,
            rack: String::new(),
        };
        let tp = TopicPartition::new("t", 0);
        let data = Bytes::copy_from_slice(rest);
        let Scan::Records(fetched) = scan(&tp, fetch_offset, data, Some(&aborted)) else {
            return;
        };
        let mut records = Records::new(&tp, fetched, &params);
        let next_offset = records.next_offset();
        let mut out = Vec::new();
        let room = || Room {
            records: 7,
            bytes: 1 << 20,
        };
        while let Ok(false) = records.take_into(&mut out, &mut room()) {
            for r in out.drain(..) {
                assert!((fetch_offset..next_offset).contains(&r.offset));
            }
        }
        for r in out {
            assert!((fetch_offset..next_offset).contains(&r.offset));
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_fetch_records_hook_survives_garbage_and_reads_real_batches() {
            for data in [&[][..], &[3, 0, 0], &[0xff; 64]] {
                fuzz_fetch_records(data);
            }
            let batch = crate::protocol::record_batch::hooks::build_batch(
                crate::config::Compression::Lz4,
                &[(b"k", b"v"), (b"k2", b"v2")],
            );
            let mut input = vec![3u8];
            input.extend(0i64.to_be_bytes());
            input.push(1);
            input.extend(7i64.to_be_bytes());
            input.extend(0i64.to_be_bytes());
            input.extend_from_slice(&batch);
            fuzz_fetch_records(&input);
        }
    }
}

#[cfg(test)]
pub(in crate::consumer) mod tests {
    use super::*;
    use crate::config::Compression;
    use crate::protocol::record_batch::{BatchBuilder, BatchParams};
    use bytes::{BufMut, BytesMut};

    pub(in crate::consumer) fn params(check_crcs: bool) -> FetchParams {
        FetchParams {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_partition_bytes: 1 << 20,
            isolation: IsolationLevel::ReadUncommitted,
            check_crcs,
            rack: String::new(),
        }
    }

    /// A batch of `n` records whose first offset is `base`, values `v0`, `v1`…
    fn batch(base: i64, n: usize) -> BytesMut {
        coded_batch(Compression::Uncompressed, base, n)
    }

    fn coded_batch(codec: Compression, base: i64, n: usize) -> BytesMut {
        let mut builder = BatchBuilder::new(codec, 1024);
        for i in 0..n {
            builder.append(
                1_700_000_000_000,
                None,
                Some(format!("v{i}").as_bytes()),
                &[],
            );
        }
        let mut bytes = BytesMut::from(&builder.finish(BatchParams::default())[..]);
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        bytes
    }

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 3)
    }

    /// The records of `topic`-`partition` at these offsets, one batch written under leader
    /// epoch 5, ready to be taken.
    pub(in crate::consumer) fn records(
        topic: &str,
        partition: i32,
        offsets: std::ops::Range<i64>,
    ) -> Records {
        let tp = TopicPartition::new(topic, partition);
        let data = match offsets.end - offsets.start {
            0 => BytesMut::new(),
            n => {
                let mut data = batch(offsets.start, n as usize);
                // Leader epoch 5 (the CRC does not cover it).
                data[12..16].copy_from_slice(&5i32.to_be_bytes());
                data
            }
        };
        match scan(&tp, offsets.start, data.freeze(), None) {
            Scan::Records(fetched) => Records::new(&tp, fetched, &params(true)),
            _ => panic!("expected records"),
        }
    }

    fn scanned(offset: i64, data: BytesMut) -> Records {
        match scan(&tp(), offset, data.freeze(), None) {
            Scan::Records(fetched) => Records::new(&tp(), fetched, &params(true)),
            _ => panic!("expected records"),
        }
    }

    /// Everything `records` hands out, and the error it stopped at.
    fn take_all(mut records: Records) -> (Vec<ConsumerRecord>, Option<Error>) {
        let mut out = Vec::new();
        loop {
            match records.take_into(&mut out, &mut Room::records(2)) {
                Ok(true) => return (out, None),
                Ok(false) => {}
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn records_from_the_requested_offset_and_the_next_offset() {
        let mut data = batch(10, 3);
        data.put(batch(13, 2));
        let records = scanned(11, data);
        assert_eq!(records.next_offset(), 15);
        let (records, failed) = take_all(records);
        assert!(failed.is_none());
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![11, 12, 13, 14]);
        // One topic name for the whole fetch, not one allocation per record.
        assert_eq!(&*records[0].topic, "t");
        assert!(records
            .windows(2)
            .all(|w| Arc::ptr_eq(&w[0].topic, &w[1].topic)));
        assert_eq!(records[3].value.as_deref(), Some(&b"v1"[..]));
    }

    #[test]
    fn batches_are_decoded_only_as_records_are_taken() {
        let mut data = BytesMut::new();
        for base in (0..40).step_by(4) {
            data.put(coded_batch(Compression::Lz4, base, 4));
        }
        let wire = data.len();
        let mut records = scanned(0, data);
        assert_eq!(
            records.held(),
            wire,
            "nothing decoded before the first take"
        );
        let mut out = Vec::new();
        assert!(!records.take_into(&mut out, &mut Room::records(5)).unwrap());
        assert_eq!(out.len(), 5);
        // Two batches decoded, one of them still being taken from.
        assert!(records.held() < wire);
        assert!(records
            .take_into(&mut out, &mut Room::records(100))
            .unwrap());
        assert_eq!((out.len(), records.held()), (40, 0));
    }

    #[test]
    fn no_batch_is_decoded_once_the_rooms_bytes_are_spent() {
        let mut data = BytesMut::new();
        for base in (0..40).step_by(4) {
            data.put(coded_batch(Compression::Lz4, base, 4));
        }
        let mut records = scanned(0, data);
        let mut out = Vec::new();
        // One byte of room: the first batch is decoded whole, no second one.
        let mut room = Room {
            records: 100,
            bytes: 1,
        };
        assert!(!records.take_into(&mut out, &mut room).unwrap());
        assert_eq!(
            (out.len(), room),
            (
                4,
                Room {
                    records: 96,
                    bytes: 0
                }
            )
        );
        // Room for just over one batch (they are all the same size): two are decoded.
        let one = records.current_len;
        out.clear();
        let mut room = Room {
            records: 100,
            bytes: one + 1,
        };
        assert!(!records.take_into(&mut out, &mut room).unwrap());
        assert_eq!((out.len(), room.bytes), (8, 0));
    }

    #[test]
    fn a_request_by_id_names_no_topic_and_one_by_name_no_id() {
        use crate::consumer::fetch_session::{FetchSession, PartitionParams};
        let wanted = [(
            tp(),
            PartitionParams {
                offset: 5,
                leader_epoch: 0,
                last_fetched_epoch: -1,
                max_bytes: 1024,
            },
        )]
        .into_iter()
        .collect();
        let plan = FetchSession::default().plan(&wanted, true);
        let id = Uuid::from_u128(9);
        let ids: HashMap<String, Uuid> = [("t".to_string(), id)].into_iter().collect();
        let by_id = request(&params(true), &plan, Some(&ids));
        assert_eq!(
            (by_id.topics[0].topic.0.as_str(), by_id.topics[0].topic_id),
            ("", id)
        );
        let by_name = request(&params(true), &plan, None);
        assert_eq!(
            (
                by_name.topics[0].topic.0.as_str(),
                by_name.topics[0].topic_id
            ),
            ("t", Uuid::nil())
        );
    }

    #[test]
    fn a_corrupt_batch_ends_the_records_with_a_typed_error_naming_its_offset() {
        let mut data = batch(10, 3);
        let mut second = batch(13, 2);
        let at = second.len() - 2;
        second[at] ^= 0x01; // flips a value byte: the CRC no longer matches
        data.put(second);
        let (records, failed) = take_all(scanned(10, data));
        // The batch before it is delivered.
        assert_eq!(records.len(), 3);
        match failed {
            Some(Error::CorruptBatch {
                topic,
                partition,
                offset,
                ..
            }) => assert_eq!((topic.as_str(), partition, offset), ("t", 3, 13)),
            other => panic!("expected a corrupt batch error, got {other:?}"),
        }
    }

    #[test]
    fn without_check_crcs_a_bad_crc_is_not_looked_at() {
        let mut data = batch(10, 2);
        let at = data.len() - 2;
        data[at] ^= 0x01; // "v1" becomes "v0"
        let Scan::Records(fetched) = scan(&tp(), 10, data.freeze(), None) else {
            panic!("expected records");
        };
        let (records, failed) = take_all(Records::new(&tp(), fetched, &params(false)));
        assert!(failed.is_none());
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_malformed_batch_is_corrupt_even_without_check_crcs() {
        let mut data = batch(10, 2);
        // Claims more records than the batch holds.
        let records_count = 57; // after baseOffset..producer fields: the record count i32
        data[records_count..records_count + 4].copy_from_slice(&1000i32.to_be_bytes());
        let Scan::Records(fetched) = scan(&tp(), 10, data.freeze(), None) else {
            panic!("expected records");
        };
        match take_all(Records::new(&tp(), fetched, &params(false))) {
            (
                records,
                Some(Error::CorruptBatch {
                    partition, offset, ..
                }),
            ) => assert_eq!((records.len(), partition, offset), (0, 3, 10)),
            (_, other) => panic!("expected a corrupt batch error, got {other:?}"),
        }
    }

    #[test]
    fn a_first_batch_cut_short_is_partial_and_says_how_big_it_is() {
        let whole = batch(10, 3);
        let size = whole.len();
        let cut = Bytes::copy_from_slice(&whole[..size - 5]);
        match scan(&tp(), 10, cut, None) {
            Scan::Partial { needed } => assert_eq!(needed, size),
            _ => panic!("expected a partial batch"),
        }
        // Not even the length: the size is unknown.
        match scan(&tp(), 10, Bytes::copy_from_slice(&whole[..7]), None) {
            Scan::Partial { needed } => assert_eq!(needed, 0),
            _ => panic!("expected a partial batch"),
        }
        // After a whole batch, a cut one is left for the next fetch.
        let mut data = batch(10, 3);
        data.put(&whole[..size - 5]);
        let records = scanned(10, data);
        assert_eq!(records.next_offset(), 13);
        assert_eq!(records.held(), size);
    }

    #[test]
    fn batches_that_end_before_the_fetch_offset_are_corrupt_not_refetched_forever() {
        match scan(&tp(), 50, batch(10, 3).freeze(), None) {
            Scan::Corrupt(Error::CorruptBatch { offset, .. }) => assert_eq!(offset, 50),
            _ => panic!("expected a corrupt answer"),
        }
    }

    #[test]
    fn the_last_batchs_leader_epoch_is_kept_for_the_next_fetch() {
        let mut first = batch(0, 2);
        first[12..16].copy_from_slice(&4i32.to_be_bytes());
        let mut second = batch(2, 2);
        second[12..16].copy_from_slice(&7i32.to_be_bytes());
        first.put(second);
        // The CRC does not cover the leader epoch.
        let mut records = scanned(0, first);
        assert_eq!(records.last_epoch(), 7);
        let mut out = Vec::new();
        records.take_into(&mut out, &mut Room::records(1)).unwrap();
        assert_eq!(records.leader_epoch(), 4);
    }
}
