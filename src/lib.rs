// The README is the crate's front page, so its quick start is compiled (as a doc test) with
// every `cargo test`.
#![doc = include_str!("../README.md")]
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
pub mod serdes;
mod sync;
mod topic;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::cluster::metadata::hooks::*;
    pub use crate::connection::hooks::*;
    pub use crate::consumer::assignor_hooks::*;
    pub use crate::consumer::fetch_hooks::*;
    pub use crate::producer::hooks::*;
    pub use crate::protocol::frame::hooks::*;
    pub use crate::protocol::lz4::hooks::*;
    pub use crate::protocol::record_batch::hooks::*;
    #[cfg(feature = "avro")]
    pub use crate::serdes::avro::hooks::*;
    #[cfg(feature = "protobuf")]
    pub use crate::serdes::protobuf::hooks::*;
}

pub use admin::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, MatchingAcl, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType, ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration,
    UserScramCredentialDeletion, UserScramCredentialUpsertion, UserScramCredentialsDescription,
};
pub use admin::{
    Admin, AlterConfigOp, ClusterDescription, ConfigEntry, ConfigResource, ConfigResourceType,
    ConfigSource, ConfigSynonym, ConsumerGroupDescription, ConsumerGroupListing, DeletedRecords,
    DescribeConfigsOptions, ElectionType, GroupOffsets, GroupState, GroupType,
    ListConsumerGroupsOptions, LogDirDescription, MemberDescription, NewPartitions, NewTopic, Node,
    PartitionLag, PartitionResults, ReplicaInfo, ResourceConfig, TopicDescription, TopicListing,
    TopicPartitionInfo,
};
pub use cluster::{ListedOffset, OffsetSpec};
pub use config::{
    Acks, AdminConfig, AssignorKind, AutoOffsetReset, ClientConfig, Compression, ConsumerConfig,
    GroupProtocol, IsolationLevel, ProducerConfig, Properties, PropertiesIter,
    DEFAULT_MAX_CONTROL_RESPONSE_SIZE, DEFAULT_MAX_RESPONSE_SIZE, ENV_PREFIX,
    MAX_IN_FLIGHT_FOR_IDEMPOTENCE,
};
#[cfg(feature = "aws-msk-iam")]
pub use config::{
    AwsCredentials, AwsCredentialsProvider, MskIamConfig, SharedAwsCredentialsProvider,
};
pub use config::{
    BoxFuture, JaasConfig, OAuthBearerToken, OAuthBearerTokenProvider, SaslConfig, SaslMechanism,
    Secret, SecurityConfig, SecurityProtocol, Shared, SharedTokenProvider, TlsConfig,
};
pub use consumer::{
    CommitFuture, Consumer, ConsumerMetrics, HookFuture, OffsetAndMetadata, RebalanceListener,
    RecordStream, TypedConsumer, TypedConsumerRecord,
};
pub use error::{Error, ErrorCode, Result, RetryAction};
pub use partitioner::{Partitioner, PartitionerKind};
pub use producer::{Delivery, Producer, ProducerMetrics, TypedProducer, TypedProducerRecord};
pub use record::{
    ConsumerGroupMetadata, ConsumerRecord, Header, ProducerRecord, RecordMetadata, TimestampType,
    TopicPartition,
};
#[cfg(feature = "opentelemetry")]
pub use record::{HeaderExtractor, HeaderInjector};
#[cfg(feature = "avro")]
pub use serdes::avro::{Avro, AvroSerde};
#[cfg(feature = "protobuf")]
pub use serdes::protobuf::{Protobuf, ProtobufSerde};
#[cfg(feature = "json")]
pub use serdes::Json;
pub use serdes::{DefaultSerde, Deserializer, RecordPart, Serializer};
pub use topic::{validate_topic_name, MAX_TOPIC_NAME_LEN};
