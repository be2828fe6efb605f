//! Client configuration, with the Java client's keys, defaults and rules.
//!
//! Each config is a struct of public fields set in code, or parsed from Java-style properties
//! with `from_properties`, and checked once with `validate` (the constructors of the producer,
//! consumer and admin client call it). Every field's documentation names its Java key.
//! `from_properties` also takes librdkafka's names (`librdkafka.rs`: mapped when kafkit can
//! honour them exactly, refused with the reason when not), and [`Properties`] reads
//! properties from `.properties` files and environment variables.

// The migration guide's examples compile with the doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/migrating-from-rdkafka.md")]
struct MigrationGuide;

mod admin;
mod client;
mod compression;
mod consumer;
mod librdkafka;
mod producer;
mod properties;
mod secret;
mod security;
mod sources;

pub use admin::AdminConfig;
pub use client::{ClientConfig, DEFAULT_MAX_CONTROL_RESPONSE_SIZE, DEFAULT_MAX_RESPONSE_SIZE};
pub use compression::Compression;
pub use consumer::{AssignorKind, AutoOffsetReset, ConsumerConfig, GroupProtocol, IsolationLevel};
pub use producer::{Acks, ProducerConfig, MAX_IN_FLIGHT_FOR_IDEMPOTENCE};
pub use secret::Secret;
pub(crate) use security::{check_extension, json_string, UnsecuredLogin};
#[cfg(feature = "aws-msk-iam")]
pub use security::{
    AwsCredentials, AwsCredentialsProvider, MskIamConfig, SharedAwsCredentialsProvider,
};
pub use security::{
    BoxFuture, JaasConfig, OAuthBearerToken, OAuthBearerTokenProvider, SaslConfig, SaslMechanism,
    SecurityConfig, SecurityProtocol, Shared, SharedTokenProvider, TlsConfig,
};
pub use sources::{Iter as PropertiesIter, Properties, ENV_PREFIX};
