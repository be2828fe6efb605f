//! The one public error type, and how each error should be retried.
//!
//! Every failure kafkit reports is an [`Error`]. Callers that want to decide for themselves ask
//! [`Error::retry_action`]; the classification of broker error codes lives in one table,
//! [`ErrorCode::retry_action`], tested below against the Java client's choices.

use crate::record::ConsumerRecord;
use crate::serdes::RecordPart;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What a caller (or kafkit internally) should do after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// Do not retry: the same request will fail the same way.
    NoRetry,
    /// Retry after a backoff; nothing needs to change first.
    Retry,
    /// Refresh metadata (leader or coordinator moved), then retry.
    RefreshMetadataAndRetry,
    /// The connection is gone; reconnect (with backoff) and retry. For a write, whether the
    /// broker applied it is unknown: retrying is only safe when the broker deduplicates
    /// (the idempotent producer).
    Reconnect,
}

/// A Kafka protocol error code as a broker returns it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i16);

macro_rules! error_codes {
    ($( $code:literal => $name:ident, $action:ident; )*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($code), ")")]
                pub const $name: ErrorCode = ErrorCode($code);
            )*

            /// The name Kafka gives this code, such as `NOT_LEADER_OR_FOLLOWER`.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $( $code => stringify!($name), )*
                    _ => "UNKNOWN_ERROR_CODE",
                }
            }

            /// How to react to this code. The table follows the Java client's
            /// `RetriableException` and `InvalidMetadataException` hierarchy.
            pub fn retry_action(self) -> RetryAction {
                match self.0 {
                    $( $code => RetryAction::$action, )*
                    _ => RetryAction::NoRetry,
                }
            }
        }
    };
}

error_codes! {
    -1 => UNKNOWN_SERVER_ERROR, NoRetry;
    0 => NONE, NoRetry;
    1 => OFFSET_OUT_OF_RANGE, NoRetry;
    2 => CORRUPT_MESSAGE, Retry;
    3 => UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadataAndRetry;
    4 => INVALID_FETCH_SIZE, NoRetry;
    5 => LEADER_NOT_AVAILABLE, RefreshMetadataAndRetry;
    6 => NOT_LEADER_OR_FOLLOWER, RefreshMetadataAndRetry;
    7 => REQUEST_TIMED_OUT, Retry;
    8 => BROKER_NOT_AVAILABLE, NoRetry;
    9 => REPLICA_NOT_AVAILABLE, RefreshMetadataAndRetry;
    10 => MESSAGE_TOO_LARGE, NoRetry;
    11 => STALE_CONTROLLER_EPOCH, NoRetry;
    12 => OFFSET_METADATA_TOO_LARGE, NoRetry;
    13 => NETWORK_EXCEPTION, RefreshMetadataAndRetry;
    14 => COORDINATOR_LOAD_IN_PROGRESS, Retry;
    15 => COORDINATOR_NOT_AVAILABLE, RefreshMetadataAndRetry;
    16 => NOT_COORDINATOR, RefreshMetadataAndRetry;
    17 => INVALID_TOPIC_EXCEPTION, NoRetry;
    18 => RECORD_LIST_TOO_LARGE, NoRetry;
    19 => NOT_ENOUGH_REPLICAS, Retry;
    20 => NOT_ENOUGH_REPLICAS_AFTER_APPEND, Retry;
    21 => INVALID_REQUIRED_ACKS, NoRetry;
    22 => ILLEGAL_GENERATION, NoRetry;
    23 => INCONSISTENT_GROUP_PROTOCOL, NoRetry;
    24 => INVALID_GROUP_ID, NoRetry;
    25 => UNKNOWN_MEMBER_ID, NoRetry;
    26 => INVALID_SESSION_TIMEOUT, NoRetry;
    27 => REBALANCE_IN_PROGRESS, NoRetry;
    28 => INVALID_COMMIT_OFFSET_SIZE, NoRetry;
    29 => TOPIC_AUTHORIZATION_FAILED, NoRetry;
    30 => GROUP_AUTHORIZATION_FAILED, NoRetry;
    31 => CLUSTER_AUTHORIZATION_FAILED, NoRetry;
    32 => INVALID_TIMESTAMP, NoRetry;
    33 => UNSUPPORTED_SASL_MECHANISM, NoRetry;
    34 => ILLEGAL_SASL_STATE, NoRetry;
    35 => UNSUPPORTED_VERSION, NoRetry;
    36 => TOPIC_ALREADY_EXISTS, NoRetry;
    37 => INVALID_PARTITIONS, NoRetry;
    38 => INVALID_REPLICATION_FACTOR, NoRetry;
    39 => INVALID_REPLICA_ASSIGNMENT, NoRetry;
    40 => INVALID_CONFIG, NoRetry;
    41 => NOT_CONTROLLER, RefreshMetadataAndRetry;
    42 => INVALID_REQUEST, NoRetry;
    43 => UNSUPPORTED_FOR_MESSAGE_FORMAT, NoRetry;
    44 => POLICY_VIOLATION, NoRetry;
    45 => OUT_OF_ORDER_SEQUENCE_NUMBER, NoRetry;
    46 => DUPLICATE_SEQUENCE_NUMBER, NoRetry;
    47 => INVALID_PRODUCER_EPOCH, NoRetry;
    48 => INVALID_TXN_STATE, NoRetry;
    49 => INVALID_PRODUCER_ID_MAPPING, NoRetry;
    50 => INVALID_TRANSACTION_TIMEOUT, NoRetry;
    51 => CONCURRENT_TRANSACTIONS, Retry;
    52 => TRANSACTION_COORDINATOR_FENCED, NoRetry;
    53 => TRANSACTIONAL_ID_AUTHORIZATION_FAILED, NoRetry;
    54 => SECURITY_DISABLED, NoRetry;
    55 => OPERATION_NOT_ATTEMPTED, NoRetry;
    56 => KAFKA_STORAGE_ERROR, RefreshMetadataAndRetry;
    57 => LOG_DIR_NOT_FOUND, NoRetry;
    58 => SASL_AUTHENTICATION_FAILED, NoRetry;
    59 => UNKNOWN_PRODUCER_ID, NoRetry;
    60 => REASSIGNMENT_IN_PROGRESS, NoRetry;
    61 => DELEGATION_TOKEN_AUTH_DISABLED, NoRetry;
    62 => DELEGATION_TOKEN_NOT_FOUND, NoRetry;
    63 => DELEGATION_TOKEN_OWNER_MISMATCH, NoRetry;
    64 => DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, NoRetry;
    65 => DELEGATION_TOKEN_AUTHORIZATION_FAILED, NoRetry;
    66 => DELEGATION_TOKEN_EXPIRED, NoRetry;
    67 => INVALID_PRINCIPAL_TYPE, NoRetry;
    68 => NON_EMPTY_GROUP, NoRetry;
    69 => GROUP_ID_NOT_FOUND, NoRetry;
    70 => FETCH_SESSION_ID_NOT_FOUND, Retry;
    71 => INVALID_FETCH_SESSION_EPOCH, Retry;
    72 => LISTENER_NOT_FOUND, RefreshMetadataAndRetry;
    73 => TOPIC_DELETION_DISABLED, NoRetry;
    74 => FENCED_LEADER_EPOCH, RefreshMetadataAndRetry;
    75 => UNKNOWN_LEADER_EPOCH, RefreshMetadataAndRetry;
    76 => UNSUPPORTED_COMPRESSION_TYPE, NoRetry;
    77 => STALE_BROKER_EPOCH, NoRetry;
    78 => OFFSET_NOT_AVAILABLE, Retry;
    79 => MEMBER_ID_REQUIRED, NoRetry;
    80 => PREFERRED_LEADER_NOT_AVAILABLE, Retry;
    81 => GROUP_MAX_SIZE_REACHED, NoRetry;
    82 => FENCED_INSTANCE_ID, NoRetry;
    83 => ELIGIBLE_LEADERS_NOT_AVAILABLE, Retry;
    84 => ELECTION_NOT_NEEDED, NoRetry;
    85 => NO_REASSIGNMENT_IN_PROGRESS, NoRetry;
    86 => GROUP_SUBSCRIBED_TO_TOPIC, NoRetry;
    87 => INVALID_RECORD, NoRetry;
    88 => UNSTABLE_OFFSET_COMMIT, Retry;
    89 => THROTTLING_QUOTA_EXCEEDED, Retry;
    90 => PRODUCER_FENCED, NoRetry;
    91 => RESOURCE_NOT_FOUND, NoRetry;
    92 => DUPLICATE_RESOURCE, NoRetry;
    93 => UNACCEPTABLE_CREDENTIAL, NoRetry;
    94 => INCONSISTENT_VOTER_SET, NoRetry;
    95 => INVALID_UPDATE_VERSION, NoRetry;
    96 => FEATURE_UPDATE_FAILED, NoRetry;
    97 => PRINCIPAL_DESERIALIZATION_FAILURE, NoRetry;
    98 => SNAPSHOT_NOT_FOUND, NoRetry;
    99 => POSITION_OUT_OF_RANGE, NoRetry;
    100 => UNKNOWN_TOPIC_ID, RefreshMetadataAndRetry;
    101 => DUPLICATE_BROKER_REGISTRATION, NoRetry;
    102 => BROKER_ID_NOT_REGISTERED, NoRetry;
    103 => INCONSISTENT_TOPIC_ID, RefreshMetadataAndRetry;
    104 => INCONSISTENT_CLUSTER_ID, NoRetry;
    105 => TRANSACTIONAL_ID_NOT_FOUND, NoRetry;
    106 => FETCH_SESSION_TOPIC_ID_ERROR, Retry;
    107 => INELIGIBLE_REPLICA, NoRetry;
    108 => NEW_LEADER_ELECTED, NoRetry;
    109 => OFFSET_MOVED_TO_TIERED_STORAGE, NoRetry;
    110 => FENCED_MEMBER_EPOCH, NoRetry;
    111 => UNRELEASED_INSTANCE_ID, NoRetry;
    112 => UNSUPPORTED_ASSIGNOR, NoRetry;
    113 => STALE_MEMBER_EPOCH, NoRetry;
    114 => MISMATCHED_ENDPOINT_TYPE, NoRetry;
    115 => UNSUPPORTED_ENDPOINT_TYPE, NoRetry;
    116 => UNKNOWN_CONTROLLER_ID, NoRetry;
    117 => UNKNOWN_SUBSCRIPTION_ID, NoRetry;
    118 => TELEMETRY_TOO_LARGE, NoRetry;
    119 => INVALID_REGISTRATION, NoRetry;
    120 => TRANSACTION_ABORTABLE, NoRetry;
    // 121..=127 (share groups, KRaft voters) answer APIs kafkit does not speak.
    128 => INVALID_REGULAR_EXPRESSION, NoRetry;
}

impl ErrorCode {
    /// Whether this code means success.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Every error kafkit returns.
///
/// Match on the variant for details, or ask [`Error::retry_action`] what to do. Errors are
/// cheap to clone, so one failure can be handed to every record or waiter it concerns.
///
/// ```no_run
/// use kafkit::{Error, Producer, ProducerConfig, ProducerRecord};
///
/// # async fn demo(producer: Producer) {
/// let written = async {
///     let delivery = producer.send(ProducerRecord::new("orders", "order-1")).await?;
///     delivery.await
/// };
/// match written.await {
///     Ok(metadata) => println!("written at offset {}", metadata.offset),
///     // The producer retried within delivery.timeout.ms; the record may still be written.
///     Err(e) if e.is_outcome_unknown() => eprintln!("maybe written: {e}"),
///     Err(Error::InvalidTopic { name, reason }) => eprintln!("{name}: {reason}"),
///     Err(e) => eprintln!("not written: {e}"),
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing, malformed, or inconsistent with another.
    Config(String),

    /// An argument of an admin call is invalid (a partition count below one, a config
    /// operation without its value, a broker id that is not a number): found before any
    /// request was sent, as Java's client throws `InvalidRequestException` or
    /// `IllegalArgumentException` at the call.
    InvalidArgument(String),

    /// A topic name breaks Kafka's rules.
    InvalidTopic {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// None of the bootstrap servers could be reached.
    NoBrokerReachable {
        /// Each address tried, and why it failed.
        attempts: Vec<(String, String)>,
    },

    /// A connection could not be opened or broke while requests were outstanding. For a write
    /// in flight at that moment, whether the broker applied it is unknown.
    Connection {
        /// The broker address.
        broker: String,
        /// What happened.
        reason: String,
        /// The I/O error behind it, when there was one; also [`std::error::Error::source`].
        source: Option<Arc<std::io::Error>>,
    },

    /// A request got no response within `request.timeout.ms`. For a write, whether the broker
    /// applied it is unknown.
    RequestTimeout {
        /// The request's API name.
        api: &'static str,
        /// The broker address.
        broker: String,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// An admin call did not finish within `default.api.timeout.ms` (Java's
    /// `TimeoutException` for a call past its deadline): its requests got no answer in time,
    /// or the retries of a busy coordinator or moving leader ran out of time. For a call that
    /// changes something, whether the broker applied it is unknown.
    ApiTimeout {
        /// The admin call (`describe_configs`).
        call: &'static str,
        /// The `default.api.timeout.ms` that expired.
        timeout: Duration,
    },

    /// The broker cannot serve any version of this request that kafkit speaks.
    UnsupportedVersion {
        /// The request's API name.
        api: &'static str,
        /// The broker address.
        broker: String,
        /// The versions kafkit implements, as `min..=max`.
        ours: String,
        /// The versions the broker offers, or "none".
        theirs: String,
    },

    /// The broker refused the credentials (SASL), or the SASL exchange failed: a wrong
    /// password, an expired token, a mechanism the broker does not enable. Not retried: the
    /// same credentials fail the same way; connections to the broker back off
    /// (`reconnect.backoff.ms`) instead of hammering it.
    Authentication {
        /// The broker address.
        broker: String,
        /// The SASL mechanism.
        mechanism: &'static str,
        /// What failed, and what to check; never a secret.
        reason: String,
    },

    /// The TLS handshake with the broker failed, or the listener speaks another protocol
    /// than `security.protocol` says: an unknown CA, a certificate for another host name, an
    /// expired certificate, a refused client certificate. The message says what to fix. Not
    /// retried: the next handshake fails the same way.
    Tls {
        /// The broker address.
        broker: String,
        /// What failed, and what to fix.
        reason: String,
    },

    /// A broker sent bytes that do not decode, or that break the protocol.
    Protocol {
        /// The broker address.
        broker: String,
        /// What did not decode.
        reason: String,
    },

    /// A broker answered with an error code.
    Broker {
        /// The code.
        code: ErrorCode,
        /// What the request was about: a topic-partition, a group, a topic.
        context: String,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },

    /// A record is larger than `max.request.size` or than the broker accepts.
    RecordTooLarge {
        /// The record's encoded size.
        size: usize,
        /// The limit.
        max: usize,
        /// The setting that sets the limit.
        setting: &'static str,
    },

    /// A partition number the topic does not have.
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The requested partition.
        partition: i32,
        /// How many partitions the topic has.
        count: usize,
    },

    /// A record could not be delivered within `delivery.timeout.ms`, and the broker did not
    /// write it. A record given up on after a send that may have reached the broker fails
    /// with [`Error::OutcomeUnknown`] instead, wrapping this.
    DeliveryTimeout(Duration),

    /// The producer gave up on a record that may have been written: a send of it got no
    /// answer (a lost connection, a request timeout) and then `delivery.timeout.ms` passed,
    /// or the producer was closed, dropped or failed before the broker said. `reason` is the
    /// error the record would have had, had it never been sent ([`Error::DeliveryTimeout`],
    /// [`Error::Closed`], [`Error::Dropped`], [`Error::Fatal`], or the broker's last answer).
    /// Read the topic to know; sending the record again may write it twice.
    OutcomeUnknown {
        /// Why the producer gave up.
        reason: Box<Error>,
    },

    /// `buffer.memory` stayed full for `max.block.ms`, or `try_send` found it full.
    BufferFull {
        /// The bytes the record needed.
        needed: usize,
        /// The configured `buffer.memory`.
        limit: usize,
    },

    /// A batch read from the log is corrupt (CRC mismatch, impossible lengths).
    CorruptBatch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset.
        offset: i64,
        /// What is wrong with it.
        reason: String,
    },

    /// The position of a partition is out of range and `auto.offset.reset=none`.
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset that was out of range.
        offset: i64,
    },

    /// Records the consumer already returned are no longer in the partition's log: an
    /// unclean leader election made a replica that lacked them the leader, and its log went
    /// on differently (KIP-320). Returned instead of a reset when `auto.offset.reset=none`;
    /// the consumer stays where it was until the application seeks (to
    /// `divergent_offset`, say, to read what the log holds from there on).
    LogTruncation {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The consumer's position: the records before it were returned.
        offset: i64,
        /// The first offset whose record differs from what was fetched: the end of the
        /// last leader epoch both logs share.
        divergent_offset: i64,
    },

    /// The producer hit an error it cannot recover from (authorization for idempotence or
    /// for its `transactional.id` failed, the broker refused the transaction's state); every
    /// later call returns this. Close the producer. See [`Error::is_fatal`].
    Fatal(String),

    /// Another producer with the same `transactional.id` called `init_transactions` since
    /// this one did (Java's `ProducerFencedException`): this one is a zombie. Its open
    /// transaction is aborted by the coordinator, and every later call returns this error.
    /// Fatal: close the producer.
    ProducerFenced {
        /// The `transactional.id` both producers share.
        transactional_id: String,
    },

    /// The current transaction cannot commit (a record of it failed, a partition or the
    /// group's offsets could not be added to it, the coordinator asked for an abort): call
    /// `abort_transaction`, then begin a new transaction. Java's abortable errors
    /// (`TransactionAbortableException` and the errors it wraps). See
    /// [`Error::is_abortable`].
    TransactionAbortable {
        /// What went wrong.
        reason: Box<Error>,
    },

    /// A transactional call made in the wrong state: `send` outside a transaction,
    /// `begin_transaction` twice, `commit_transaction` without `begin_transaction`, any of
    /// them before `init_transactions`, or on a producer without `transactional.id` (Java's
    /// `IllegalStateException`). Nothing was done.
    TransactionState(String),

    /// The record's transaction was aborted (by `abort_transaction`, or by `close` or a drop
    /// of the producer in a transaction) before it was sent: it was not written.
    TransactionAborted,

    /// A serializer could not turn a key or value into bytes, or a deserializer could not
    /// turn bytes back (Java's `SerializationException`): what a
    /// [`Serializer`](crate::serdes::Serializer) or [`Deserializer`](crate::serdes::Deserializer)
    /// returns. From the typed producer's `send`, the record was not sent. Not retried: the
    /// same data fails the same way.
    Serialization {
        /// What could not be converted, and why.
        reason: String,
        /// The error behind it (serde_json's, say), when there was one; also
        /// [`std::error::Error::source`].
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// A record read from a partition has a key or value its deserializer refused (Java's
    /// `RecordDeserializationException`). The typed consumer's position in the partition stays
    /// at this record, so nothing after it is skipped: every poll returns this error again
    /// until the application seeks past it (to `record.offset + 1`, after logging it or
    /// sending it to a dead-letter topic, say) or to elsewhere. Not retried.
    RecordDeserialization {
        /// Whether the key or the value failed.
        part: RecordPart,
        /// The deserializer's error (an [`Error::Serialization`] from kafkit's own).
        reason: Box<Error>,
        /// The record as it was read, bytes and headers included: its topic, partition and
        /// offset say where it is.
        record: Box<ConsumerRecord>,
    },

    /// A Schema Registry request failed (feature `schema-registry`): the registry answered
    /// with an error (an unknown schema id or subject, an incompatible schema, refused
    /// credentials), or could not be reached in time. Retried
    /// ([`RetryAction::Retry`]) when the registry could not be reached, timed out, or
    /// answered 408, 429 or 5xx; not when it refused the request.
    SchemaRegistry {
        /// What was asked, such as `registering a schema under subject "orders-value"`.
        context: String,
        /// The HTTP status, when the registry answered.
        status: Option<u16>,
        /// Confluent's error code from the answer, such as 40401 (subject not found) or
        /// 40403 (schema not found), when it held one.
        error_code: Option<i64>,
        /// The registry's message, or why no answer came.
        message: String,
    },

    /// The client, producer or consumer was closed.
    Closed,

    /// The last clone of the producer was dropped without `close`: records it had not
    /// delivered fail with this (or with [`Error::OutcomeUnknown`] wrapping it, if they may
    /// have been written). `Producer::close` delivers them instead.
    Dropped,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(message) => write!(f, "invalid configuration: {message}"),
            Error::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            Error::InvalidTopic { name, reason } => {
                write!(f, "invalid topic name {name:?}: {reason}")
            }
            Error::NoBrokerReachable { attempts } => {
                write!(
                    f,
                    "no bootstrap server answered: {}",
                    describe_attempts(attempts)
                )
            }
            Error::Connection { broker, reason, .. } => {
                write!(f, "connection to {broker} failed: {reason}")
            }
            Error::RequestTimeout {
                api,
                broker,
                timeout,
            } => {
                write!(f, "request {api} to {broker} timed out after {timeout:?}")
            }
            Error::ApiTimeout { call, timeout } => write!(
                f,
                "{call} did not finish within default.api.timeout.ms ({timeout:?})"
            ),
            Error::UnsupportedVersion {
                api,
                broker,
                ours,
                theirs,
            } => write!(
                f,
                "broker {broker} does not support {api} in any version kafkit speaks ({ours}); \
                 it offers {theirs}"
            ),
            Error::Authentication {
                broker,
                mechanism,
                reason,
            } => write!(
                f,
                "SASL {mechanism} authentication with {broker} failed: {reason}"
            ),
            Error::Tls { broker, reason } => write!(f, "TLS with {broker} failed: {reason}"),
            Error::Protocol { broker, reason } => {
                write!(f, "malformed response from {broker}: {reason}")
            }
            Error::Broker {
                code,
                context,
                message,
            } => {
                write!(f, "{code} from broker for {context}")?;
                match message {
                    Some(m) if !m.is_empty() => write!(f, ": {m}"),
                    _ => Ok(()),
                }
            }
            Error::RecordTooLarge { size, max, setting } => write!(
                f,
                "record of {size} bytes is larger than the limit of {max} bytes ({setting})"
            ),
            Error::InvalidPartition {
                topic,
                partition,
                count,
            } => write!(
                f,
                "partition {partition} does not exist in topic {topic} ({count} partitions)"
            ),
            Error::DeliveryTimeout(after) => write!(f, "delivery timed out after {after:?}"),
            Error::OutcomeUnknown { reason } => {
                write!(f, "{reason}; the record was sent and may have been written")
            }
            Error::BufferFull { needed, limit } => write!(
                f,
                "producer buffer full ({needed} bytes needed, {limit} bytes budget)"
            ),
            Error::CorruptBatch {
                topic,
                partition,
                offset,
                reason,
            } => write!(
                f,
                "corrupt record batch in {topic}-{partition} at offset {offset}: {reason}"
            ),
            Error::OffsetOutOfRange {
                topic,
                partition,
                offset,
            } => write!(
                f,
                "offset {offset} out of range for {topic}-{partition} and auto.offset.reset=none"
            ),
            Error::LogTruncation {
                topic,
                partition,
                offset,
                divergent_offset,
            } => write!(
                f,
                "the log of {topic}-{partition} was truncated: the records from offset \
                 {divergent_offset} up to the consumer's position {offset} were replaced by an \
                 unclean leader election, and auto.offset.reset=none"
            ),
            Error::Fatal(reason) => write!(f, "the producer cannot continue: {reason}"),
            Error::ProducerFenced { transactional_id } => write!(
                f,
                "producer fenced: another producer with transactional.id {transactional_id:?} \
                 has started; this one cannot continue"
            ),
            Error::TransactionAbortable { reason } => write!(
                f,
                "{reason}; the transaction cannot commit, abort it (abort_transaction)"
            ),
            Error::TransactionState(what) => write!(f, "wrong transaction state: {what}"),
            Error::TransactionAborted => {
                f.write_str("the record's transaction was aborted before it was sent")
            }
            Error::Serialization { reason, .. } => write!(f, "serialization failed: {reason}"),
            Error::RecordDeserialization {
                part,
                reason,
                record,
            } => write!(
                f,
                "cannot deserialize the {part} of the record at offset {} of {}-{}: {reason}; \
                 the consumer stays at it until it seeks past it",
                record.offset, record.topic, record.partition
            ),
            Error::SchemaRegistry {
                context,
                status,
                error_code,
                message,
            } => {
                write!(f, "schema registry failed {context}")?;
                match (status, error_code) {
                    (Some(status), Some(code)) => write!(f, " (HTTP {status}, error {code})")?,
                    (Some(status), None) => write!(f, " (HTTP {status})")?,
                    _ => {}
                }
                write!(f, ": {message}")
            }
            Error::Closed => f.write_str("the client is closed"),
            Error::Dropped => f.write_str("the producer was dropped without close"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The io::Error itself, not its Arc, so callers can downcast to it.
            Error::Connection {
                source: Some(io), ..
            } => Some(&**io),
            Error::Serialization {
                source: Some(source),
                ..
            } => Some(&**source),
            Error::RecordDeserialization { reason, .. } => reason.source(),
            _ => None,
        }
    }
}

fn describe_attempts(attempts: &[(String, String)]) -> String {
    if attempts.is_empty() {
        return "the bootstrap list is empty".to_string();
    }
    attempts
        .iter()
        .map(|(addr, why)| format!("{addr} ({why})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// What to do about this error; see [`RetryAction`].
    pub fn retry_action(&self) -> RetryAction {
        match self {
            Error::Broker { code, .. } => code.retry_action(),
            Error::Connection { .. } | Error::RequestTimeout { .. } => RetryAction::Reconnect,
            Error::NoBrokerReachable { .. } | Error::ApiTimeout { .. } => RetryAction::Retry,
            Error::SchemaRegistry { status, .. } => match status {
                None | Some(408 | 429 | 500..=599) => RetryAction::Retry,
                Some(_) => RetryAction::NoRetry,
            },
            Error::Config(_)
            | Error::InvalidArgument(_)
            | Error::InvalidTopic { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Authentication { .. }
            | Error::Tls { .. }
            | Error::Protocol { .. }
            | Error::RecordTooLarge { .. }
            | Error::InvalidPartition { .. }
            | Error::DeliveryTimeout(_)
            | Error::OutcomeUnknown { .. }
            | Error::BufferFull { .. }
            | Error::CorruptBatch { .. }
            | Error::OffsetOutOfRange { .. }
            | Error::LogTruncation { .. }
            | Error::Fatal(_)
            | Error::ProducerFenced { .. }
            | Error::TransactionAbortable { .. }
            | Error::TransactionState(_)
            | Error::TransactionAborted
            | Error::Serialization { .. }
            | Error::RecordDeserialization { .. }
            | Error::Closed
            | Error::Dropped => RetryAction::NoRetry,
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retry_action() != RetryAction::NoRetry
    }

    /// Whether a write that failed this way may nevertheless have been applied by the broker.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Connection { .. }
                | Error::RequestTimeout { .. }
                | Error::ApiTimeout { .. }
                | Error::OutcomeUnknown { .. }
        )
    }

    /// Whether the producer cannot go on after this error (Java's fatal errors): a
    /// [`Error::Fatal`], [`Error::ProducerFenced`], or a record that failed with one of them.
    /// Every later call of the producer returns the same error; close it (a new producer
    /// with the same `transactional.id` takes over).
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Fatal(_) | Error::ProducerFenced { .. } => true,
            Error::OutcomeUnknown { reason } => reason.is_fatal(),
            _ => false,
        }
    }

    /// Whether the current transaction must be aborted after this error (Java's abortable
    /// errors): [`Error::TransactionAbortable`], or a record that failed with it. The
    /// producer stays usable: `abort_transaction`, then a new transaction.
    pub fn is_abortable(&self) -> bool {
        match self {
            Error::TransactionAbortable { .. } => true,
            Error::OutcomeUnknown { reason } => reason.is_abortable(),
            _ => false,
        }
    }

    /// Whether the broker refused to let the client in: SASL authentication failed, or the
    /// TLS handshake did. Fix the configuration (credentials, certificates) and reconnect.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, Error::Authentication { .. } | Error::Tls { .. })
            || self.code() == Some(ErrorCode::SASL_AUTHENTICATION_FAILED)
    }

    /// The broker error code, when the broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// An [`Error::Serialization`]: what a [`Serializer`](crate::serdes::Serializer) or
    /// [`Deserializer`](crate::serdes::Deserializer) returns for data it cannot convert.
    ///
    /// ```
    /// let e = kafkit::Error::serialization("temperature out of range");
    /// assert_eq!(e.to_string(), "serialization failed: temperature out of range");
    /// assert!(!e.is_retriable());
    /// ```
    pub fn serialization(reason: impl Into<String>) -> Self {
        Error::Serialization {
            reason: reason.into(),
            source: None,
        }
    }

    /// An [`Error::Serialization`] caused by another error (a serde error, say), kept as its
    /// [`source`](std::error::Error::source).
    pub fn serialization_with_source(
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Serialization {
            reason: reason.into(),
            source: Some(Arc::new(source)),
        }
    }

    pub(crate) fn broker(code: ErrorCode, context: impl Into<String>) -> Self {
        Error::Broker {
            code,
            context: context.into(),
            message: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// A connection failure without an I/O error behind it (a timeout, a protocol break).
    pub(crate) fn connection(broker: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Connection {
            broker: broker.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// A connection failure caused by an I/O error, kept as the source.
    pub(crate) fn io(broker: impl Into<String>, context: &str, e: std::io::Error) -> Self {
        Error::Connection {
            broker: broker.into(),
            reason: format!("{context}: {e}"),
            source: Some(Arc::new(e)),
        }
    }
}

/// `Result` with kafkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_metadata_codes_ask_for_a_refresh() {
        for code in [
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode::LEADER_NOT_AVAILABLE,
            ErrorCode::FENCED_LEADER_EPOCH,
            ErrorCode::UNKNOWN_LEADER_EPOCH,
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ] {
            assert_eq!(
                code.retry_action(),
                RetryAction::RefreshMetadataAndRetry,
                "{code}"
            );
        }
    }

    #[test]
    fn transient_codes_retry_in_place() {
        for code in [
            ErrorCode::REQUEST_TIMED_OUT,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ErrorCode::CORRUPT_MESSAGE,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            ErrorCode::THROTTLING_QUOTA_EXCEEDED,
        ] {
            assert_eq!(code.retry_action(), RetryAction::Retry, "{code}");
        }
    }

    #[test]
    fn permanent_codes_do_not_retry() {
        for code in [
            ErrorCode::MESSAGE_TOO_LARGE,
            ErrorCode::RECORD_LIST_TOO_LARGE,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::UNSUPPORTED_VERSION,
            ErrorCode::INVALID_RECORD,
            ErrorCode(9999),
        ] {
            assert_eq!(code.retry_action(), RetryAction::NoRetry, "{code}");
        }
    }

    #[test]
    fn names_and_unknown_codes() {
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(ErrorCode(9999).name(), "UNKNOWN_ERROR_CODE");
        assert_eq!(ErrorCode(128).name(), "INVALID_REGULAR_EXPRESSION");
        assert_eq!(format!("{}", ErrorCode(3)), "UNKNOWN_TOPIC_OR_PARTITION(3)");
        assert!(ErrorCode(0).is_ok() && !ErrorCode(10).is_ok());
    }

    #[test]
    fn client_side_errors_are_classified() {
        let conn = Error::connection("b:9092", "reset");
        assert_eq!(conn.retry_action(), RetryAction::Reconnect);
        assert!(conn.is_outcome_unknown());
        let timeout = Error::RequestTimeout {
            api: "Produce",
            broker: "b:9092".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(timeout.is_retriable() && timeout.is_outcome_unknown());
        assert!(!Error::Config("x".into()).is_retriable());
        let bad = Error::InvalidArgument("partition count 0".into());
        assert!(!bad.is_retriable());
        assert_eq!(bad.to_string(), "invalid argument: partition count 0");
        let timed_out = Error::DeliveryTimeout(Duration::from_secs(1));
        assert!(!timed_out.is_retriable() && !timed_out.is_outcome_unknown());
        let maybe_written = Error::OutcomeUnknown {
            reason: Box::new(timed_out),
        };
        assert!(!maybe_written.is_retriable() && maybe_written.is_outcome_unknown());
        assert_eq!(
            maybe_written.to_string(),
            "delivery timed out after 1s; the record was sent and may have been written"
        );
        assert!(!Error::Dropped.is_retriable() && !Error::Dropped.is_outcome_unknown());
        let broker = Error::broker(ErrorCode::NOT_LEADER_OR_FOLLOWER, "t-0");
        assert!(broker.is_retriable() && !broker.is_outcome_unknown());
        assert_eq!(broker.code(), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    }

    #[test]
    fn transactional_errors_are_fatal_or_abortable_and_never_retried() {
        let fenced = Error::ProducerFenced {
            transactional_id: "tx".into(),
        };
        let fatal = Error::Fatal("TRANSACTIONAL_ID_AUTHORIZATION_FAILED".into());
        let abortable = Error::TransactionAbortable {
            reason: Box::new(Error::broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED, "t-0")),
        };
        let state = Error::TransactionState("cannot call send outside a transaction".into());
        for e in [&fenced, &fatal] {
            assert!(e.is_fatal() && !e.is_abortable(), "{e}");
        }
        assert!(abortable.is_abortable() && !abortable.is_fatal());
        for e in [
            &state,
            &Error::TransactionAborted,
            &Error::Closed,
            &Error::Dropped,
        ] {
            assert!(!e.is_fatal() && !e.is_abortable(), "{e}");
        }
        for e in [
            &fenced,
            &fatal,
            &abortable,
            &state,
            &Error::TransactionAborted,
        ] {
            assert_eq!(e.retry_action(), RetryAction::NoRetry, "{e}");
            assert!(!e.is_outcome_unknown(), "{e}");
        }
        // A record that may have been written keeps its cause's class.
        let maybe = |reason: &Error| Error::OutcomeUnknown {
            reason: Box::new(reason.clone()),
        };
        assert!(maybe(&fenced).is_fatal() && maybe(&abortable).is_abortable());
        assert!(!maybe(&Error::Closed).is_fatal() && !maybe(&Error::Closed).is_abortable());
        // A broker code alone is classified by the producer, not here.
        assert!(!Error::broker(ErrorCode::PRODUCER_FENCED, "x").is_fatal());
        assert_eq!(
            fenced.to_string(),
            "producer fenced: another producer with transactional.id \"tx\" has started; this \
             one cannot continue"
        );
        assert!(abortable
            .to_string()
            .ends_with("abort it (abort_transaction)"));
    }

    #[test]
    fn authentication_and_tls_failures_are_not_retried() {
        let auth = Error::Authentication {
            broker: "b:9096".into(),
            mechanism: "SCRAM-SHA-512",
            reason: "invalid credentials".into(),
        };
        let tls = Error::Tls {
            broker: "b:9094".into(),
            reason: "unknown CA".into(),
        };
        for err in [&auth, &tls] {
            assert_eq!(err.retry_action(), RetryAction::NoRetry, "{err}");
            assert!(
                !err.is_outcome_unknown() && err.is_authentication_failure(),
                "{err}"
            );
        }
        assert!(
            Error::broker(ErrorCode::SASL_AUTHENTICATION_FAILED, "x").is_authentication_failure()
        );
        assert!(!Error::connection("b:9092", "reset").is_authentication_failure());
        assert_eq!(
            auth.to_string(),
            "SASL SCRAM-SHA-512 authentication with b:9096 failed: invalid credentials"
        );
        assert_eq!(tls.to_string(), "TLS with b:9094 failed: unknown CA");
    }

    #[test]
    fn serialization_errors_are_never_retried_and_name_the_record() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad digit");
        let serialization = Error::serialization_with_source("not an i64", io);
        let record = ConsumerRecord {
            topic: Arc::from("orders"),
            partition: 2,
            offset: 41,
            timestamp: 0,
            timestamp_type: crate::record::TimestampType::CreateTime,
            key: None,
            value: Some(bytes::Bytes::from_static(b"abc")),
            headers: Vec::new(),
        };
        let failed = Error::RecordDeserialization {
            part: RecordPart::Value,
            reason: Box::new(serialization.clone()),
            record: Box::new(record),
        };
        for err in [&serialization, &failed, &Error::serialization("x")] {
            assert_eq!(err.retry_action(), RetryAction::NoRetry, "{err}");
            assert!(!err.is_outcome_unknown() && !err.is_fatal() && !err.is_abortable());
        }
        assert_eq!(
            failed.to_string(),
            "cannot deserialize the value of the record at offset 41 of orders-2: serialization \
             failed: not an i64; the consumer stays at it until it seeks past it"
        );
        // The deserializer's own error stays reachable through both.
        use std::error::Error as _;
        for err in [&serialization, &failed] {
            let source = err.source().expect("a source");
            assert_eq!(source.to_string(), "bad digit");
        }
        assert!(Error::serialization("x").source().is_none());
    }

    #[test]
    fn schema_registry_errors_retry_only_when_the_registry_may_answer_later() {
        let registry = |status: Option<u16>| Error::SchemaRegistry {
            context: "looking up schema id 7".into(),
            status,
            error_code: status.map(|s| i64::from(s) * 100 + 3),
            message: "no answer".into(),
        };
        for status in [None, Some(408), Some(429), Some(500), Some(503)] {
            let e = registry(status);
            assert_eq!(e.retry_action(), RetryAction::Retry, "{e}");
            assert!(!e.is_outcome_unknown() && !e.is_fatal(), "{e}");
        }
        for status in [Some(401), Some(404), Some(409), Some(422)] {
            let e = registry(status);
            assert_eq!(e.retry_action(), RetryAction::NoRetry, "{e}");
        }
        assert_eq!(
            registry(Some(404)).to_string(),
            "schema registry failed looking up schema id 7 (HTTP 404, error 40403): no answer"
        );
        assert_eq!(
            registry(None).to_string(),
            "schema registry failed looking up schema id 7: no answer"
        );
    }

    #[test]
    fn broker_errors_show_the_brokers_message() {
        let err = Error::Broker {
            code: ErrorCode::POLICY_VIOLATION,
            context: "creating topic t".into(),
            message: Some("replication factor must be 3".into()),
        };
        assert_eq!(
            err.to_string(),
            "POLICY_VIOLATION(44) from broker for creating topic t: replication factor must be 3"
        );
        let bare = Error::broker(ErrorCode::POLICY_VIOLATION, "creating topic t");
        assert_eq!(
            bare.to_string(),
            "POLICY_VIOLATION(44) from broker for creating topic t"
        );
    }

    #[test]
    fn connection_errors_keep_the_io_error_as_their_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::io("b:9092", "connect failed", io);
        let source = err.source().expect("an io source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            err.clone().to_string(),
            "connection to b:9092 failed: connect failed: refused"
        );
        assert!(Error::connection("b:9092", "timed out").source().is_none());
    }

    #[test]
    fn bootstrap_error_names_every_address() {
        let err = Error::NoBrokerReachable {
            attempts: vec![
                ("a:1".into(), "connection refused".into()),
                ("b:2".into(), "timed out after 1s".into()),
            ],
        };
        let text = err.to_string();
        assert!(text.contains("a:1 (connection refused)"), "{text}");
        assert!(text.contains("b:2 (timed out after 1s)"), "{text}");
    }
}
