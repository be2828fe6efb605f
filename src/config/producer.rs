//! Producer settings.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::properties::{
    apply, at_most_int_ms, bad_value, ensure, ms, ordered, parse_bool, parse_int, parse_ms,
    parse_optional, parse_uint, positive_int, positive_ms,
};
use super::sources::Properties;
use super::ClientConfig;
use super::Compression;
use crate::error::{Error, Result};
use crate::partitioner::PartitionerKind;

/// The most requests per connection the idempotent producer may have in flight: brokers keep
/// the sequence numbers of only the last five batches per partition to deduplicate against.
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

/// How many replicas must have a write before the broker acknowledges it (`acks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Acks {
    /// `acks=0`: no acknowledgement; the broker sends no response, so errors and offsets are
    /// unknown.
    Zero,
    /// `acks=1`: the leader has written it; lost if the leader fails before followers copy it.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica has it. Required by idempotence.
    #[default]
    All,
}

impl Acks {
    /// The Java spelling: `0`, `1` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Acks::Zero => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

impl FromStr for Acks {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "0" => Ok(Acks::Zero),
            "1" => Ok(Acks::Leader),
            "-1" => Ok(Acks::All),
            v if v.eq_ignore_ascii_case("all") => Ok(Acks::All),
            _ => Err(bad_value("acks", s, "one of 0, 1, all, -1")),
        }
    }
}

/// Producer settings, with the Java producer's defaults.
///
/// ```
/// # use std::time::Duration;
/// let mut config = kafkit::ProducerConfig::new("localhost:9092");
/// config.linger = Duration::from_millis(10);
/// config.compression = kafkit::Compression::Zstd;
/// config.validate().unwrap();
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// `acks`: see [`Acks`]. Default `all`.
    pub acks: Acks,
    /// `enable.idempotence`: brokers discard duplicates that retries would otherwise write, and
    /// keep each partition's records in send order across retries. Requires `acks=all`,
    /// `retries` > 0 and at most 5 requests in flight. Default true.
    pub enable_idempotence: bool,
    /// `max.in.flight.requests.per.connection`: unacknowledged produce requests per broker,
    /// and with idempotence also the batches of one partition in flight at once (at most 5:
    /// the broker keeps their order by their sequences). Without idempotence one batch per
    /// partition is in flight, so a retried batch never lands after a later one (Java's
    /// producer allows reordering there). Default 5.
    pub max_in_flight_requests_per_connection: usize,
    /// `retries`: how often a failed batch is resent; `delivery.timeout.ms` usually ends the
    /// retrying first. Default `i32::MAX`, as in Java.
    pub retries: u32,
    /// `retry.backoff.ms`: the wait before the first retry; it grows exponentially. Default
    /// 100 ms.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: the cap on that growing backoff. Default 1 s.
    pub retry_backoff_max: Duration,
    /// `delivery.timeout.ms`: the limit on the time from `send` to success or failure,
    /// covering lingering, waiting for a leader and all retries. Must be at least `linger.ms`
    /// + `request.timeout.ms`. Default 120 s.
    pub delivery_timeout: Duration,
    /// `linger.ms`: how long a batch waits for more records before it is sent, when it is not
    /// yet full. Default 5 ms (the Java default since 4.0).
    pub linger: Duration,
    /// `batch.size`: the size in bytes at which a batch is sent without waiting for `linger`,
    /// and after which keyless records move to another partition. A larger record gets a batch
    /// of its own. Must be at least 1 (Java's 0 to disable batching is not supported; 1 gives
    /// one record per batch). Default 16384.
    pub batch_size: usize,
    /// `buffer.memory`: bytes of records waiting to be sent before `send` blocks (up to
    /// `max.block.ms`). Default 32 MiB.
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` may wait for buffer space or for the topic's metadata.
    /// 0 fails at once instead. Default 60 s.
    pub max_block: Duration,
    /// `compression.type`: the batch codec. Default none.
    pub compression: Compression,
    /// The level for `compression`, or `None` for the codec's default. In properties, Java's
    /// `compression.gzip.level` (1..=9, or -1 for the default, 6). Only gzip has levels in
    /// kafkit: its LZ4 compressor has one (the fast mode of LZ4, Java's levels up to 9 are the
    /// same), and its pure-Rust zstd encoder (ruzstd) one (about zstd level 1, where Java's
    /// default is 3), so `compression.lz4.level` and `compression.zstd.level` are refused
    /// rather than accepted and ignored. Snappy and none have no levels.
    pub compression_level: Option<i32>,
    /// `max.request.size`: the largest record, and the largest produce request, in bytes.
    /// Default 1048576.
    pub max_request_size: usize,
    /// `partitioner.class`: see [`PartitionerKind`]. Properties accept `default` and
    /// `org.apache.kafka.clients.producer.RoundRobinPartitioner` (or `round_robin`).
    pub partitioner: PartitionerKind,
    /// `partitioner.ignore.keys`: spread keyed records like keyless ones instead of hashing
    /// the key. Only affects the default partitioner. Default false.
    pub partitioner_ignore_keys: bool,
    /// `transactional.id`: enables transactions under this id, which must stay the same across
    /// restarts of the same logical producer: a new producer with the id fences the older
    /// one (`init_transactions`) and ends what it left open. Every record is then sent
    /// inside a transaction (`begin_transaction` … `commit_transaction`). Requires
    /// idempotence: with `enable.idempotence` left out of the properties, settings that
    /// conflict with it fail instead of turning it off. Default unset.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the transaction coordinator lets a transaction stay
    /// open before it aborts it (a producer that stopped mid-transaction no longer holds
    /// `read_committed` readers back after this). At most the broker's
    /// `transaction.max.timeout.ms` (default 15 minutes): `init_transactions` fails with
    /// `INVALID_TRANSACTION_TIMEOUT` above it. Default 60 s.
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    /// Java's defaults, with an empty (so invalid) bootstrap list.
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            acks: Acks::All,
            enable_idempotence: true,
            max_in_flight_requests_per_connection: MAX_IN_FLIGHT_FOR_IDEMPOTENCE,
            retries: i32::MAX as u32,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(120),
            linger: Duration::from_millis(5),
            batch_size: 16384,
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            compression: Compression::Uncompressed,
            compression_level: None,
            max_request_size: 1024 * 1024,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

/// `compression.<codec>.level` keys, and the codec each applies to.
const LEVEL_KEYS: [(&str, Compression); 3] = [
    ("compression.gzip.level", Compression::Gzip),
    ("compression.lz4.level", Compression::Lz4),
    ("compression.zstd.level", Compression::Zstd),
];

impl ProducerConfig {
    /// Defaults, with `bootstrap` as `bootstrap.servers` (comma-separated).
    pub fn new(bootstrap: impl AsRef<str>) -> Self {
        Self {
            client: ClientConfig::new(bootstrap),
            ..Self::default()
        }
    }

    /// A config from Java producer properties, client-level keys included, validated.
    /// librdkafka's names are taken too (`queue.buffering.max.ms` as `linger.ms`,
    /// `message.timeout.ms` as `delivery.timeout.ms`, `queue.buffering.max.kbytes` as
    /// `buffer.memory` in KiB, ...), or refused with the reason when kafkit cannot honour them
    /// (`queue.buffering.max.messages`, `batch.num.messages`); of a Java key and its alias the
    /// later given wins. The table is in `docs/migrating-from-rdkafka.md`.
    ///
    /// Unknown keys and malformed values are errors naming the key. Two adjustments follow the
    /// Java producer: when `enable.idempotence` is not given and `acks`, `retries` or
    /// `max.in.flight.requests.per.connection` conflict with it, idempotence is turned off
    /// rather than failing; and when `delivery.timeout.ms` is not given it is raised to
    /// `linger.ms` + `request.timeout.ms` if below. Set explicitly, the same conflicts fail.
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        let mut levels = [None; LEVEL_KEYS.len()];
        let (mut idempotence_given, mut delivery_timeout_given) = (false, false);
        apply(properties, "producer", |key, value| {
            if let Some(i) = LEVEL_KEYS.iter().position(|(k, _)| *k == key) {
                levels[i] = Some(parse_int(key, value)?);
                return Ok(true);
            }
            idempotence_given |= key == "enable.idempotence";
            delivery_timeout_given |= key == "delivery.timeout.ms";
            Ok(config.set(key, value)? || config.client.set(key, value)?)
        })?;
        // Java checks every level key against its own codec, used or not.
        for ((key, codec), level) in LEVEL_KEYS.into_iter().zip(levels) {
            check_level(key, codec, level)?;
            if codec == config.compression {
                config.compression_level = level;
            }
        }
        // A transactional producer needs idempotence: its conflicts fail below, as in Java.
        if !idempotence_given && config.enable_idempotence && config.transactional_id.is_none() {
            if let Some(conflict) = config.idempotence_conflict() {
                tracing::info!("disabling idempotence: {conflict}");
                config.enable_idempotence = false;
            }
        }
        let minimum = config.linger + config.client.request_timeout;
        if !delivery_timeout_given && config.delivery_timeout < minimum {
            tracing::warn!(
                "raising delivery.timeout.ms to linger.ms + request.timeout.ms = {}",
                ms(minimum)
            );
            config.delivery_timeout = minimum;
        }
        config.validate()?;
        Ok(config)
    }

    /// A config from a Java `.properties` file of producer settings ([`Properties::from_file`]),
    /// as [`from_properties`](Self::from_properties) takes them. To layer sources (file <
    /// environment < code), see [`Properties`].
    ///
    /// ```no_run
    /// let config = kafkit::ProducerConfig::from_properties_file("producer.properties")?;
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_properties(&Properties::from_file(path)?)
    }

    /// A config from `KAFKA_`-prefixed environment variables ([`Properties::from_env`]:
    /// `KAFKA_BOOTSTRAP_SERVERS` is `bootstrap.servers`), as
    /// [`from_properties`](Self::from_properties) takes them. Every such variable must be a
    /// producer setting; give each client its own prefix with
    /// [`Properties::from_env_with_prefix`] when several share a process.
    pub fn from_env() -> Result<Self> {
        Self::from_properties(&Properties::from_env()?)
    }

    /// Applies one producer-level property; `Ok(false)` when `key` is not one.
    fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "acks" => self.acks = value.parse()?,
            "enable.idempotence" => self.enable_idempotence = parse_bool(key, value)?,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_requests_per_connection = parse_uint(key, value)?
            }
            "retries" => self.retries = parse_uint(key, value)?,
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, value)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, value)?,
            "delivery.timeout.ms" => self.delivery_timeout = parse_ms(key, value)?,
            "linger.ms" => self.linger = parse_ms(key, value)?,
            "batch.size" => self.batch_size = parse_uint(key, value)?,
            "buffer.memory" => self.buffer_memory = parse_uint(key, value)?,
            "max.block.ms" => self.max_block = parse_ms(key, value)?,
            "compression.type" => self.compression = value.trim().parse()?,
            "max.request.size" => self.max_request_size = parse_uint(key, value)?,
            "partitioner.class" => self.partitioner = value.parse()?,
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = parse_bool(key, value)?,
            "transactional.id" => self.transactional_id = parse_optional(value),
            "transaction.timeout.ms" => self.transaction_timeout = parse_ms(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What keeps idempotence from working with the other settings, phrased as the fix.
    fn idempotence_conflict(&self) -> Option<String> {
        if self.acks != Acks::All {
            return Some(format!(
                "enable.idempotence=true requires acks=all, but acks={}; set acks=all or \
                 enable.idempotence=false",
                self.acks.name()
            ));
        }
        if self.max_in_flight_requests_per_connection > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            return Some(format!(
                "enable.idempotence=true allows at most {MAX_IN_FLIGHT_FOR_IDEMPOTENCE} \
                 max.in.flight.requests.per.connection, but it is {}; lower it or set \
                 enable.idempotence=false",
                self.max_in_flight_requests_per_connection
            ));
        }
        if self.retries == 0 {
            return Some(
                "enable.idempotence=true requires retries > 0; raise retries or set \
                 enable.idempotence=false"
                    .to_string(),
            );
        }
        None
    }

    /// Checks every setting, and that they fit together.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        positive_int(
            "max.in.flight.requests.per.connection",
            self.max_in_flight_requests_per_connection,
        )?;
        if self.enable_idempotence {
            if let Some(conflict) = self.idempotence_conflict() {
                return Err(Error::config(match self.transactional_id {
                    Some(_) => {
                        format!("transactional.id requires enable.idempotence=true: {conflict}")
                    }
                    None => conflict,
                }));
            }
        }
        if let Some(id) = &self.transactional_id {
            ensure(!id.is_empty(), || {
                "transactional.id is empty; set a name or leave it unset".to_string()
            })?;
            ensure(id.len() <= i16::MAX as usize, || {
                format!("transactional.id is {} bytes long; shorten it", id.len())
            })?;
            ensure(self.enable_idempotence, || {
                "transactional.id requires enable.idempotence=true; enable idempotence or \
                 unset transactional.id"
                    .to_string()
            })?;
        }
        positive_ms("transaction.timeout.ms", self.transaction_timeout)?;
        at_most_int_ms("transaction.timeout.ms", self.transaction_timeout)?;
        ordered(
            "retry.backoff.ms",
            self.retry_backoff,
            "retry.backoff.max.ms",
            self.retry_backoff_max,
        )?;
        at_most_int_ms("retry.backoff.max.ms", self.retry_backoff_max)?;
        at_most_int_ms("linger.ms", self.linger)?;
        positive_ms("delivery.timeout.ms", self.delivery_timeout)?;
        let minimum = self.linger + self.client.request_timeout;
        ensure(self.delivery_timeout >= minimum, || {
            format!(
                "delivery.timeout.ms ({}) must be at least linger.ms + request.timeout.ms ({}); \
                 raise delivery.timeout.ms or lower linger.ms or request.timeout.ms",
                ms(self.delivery_timeout),
                ms(minimum)
            )
        })?;
        positive_int("batch.size", self.batch_size)?;
        positive_int("max.request.size", self.max_request_size)?;
        ensure(self.buffer_memory >= 1, || {
            "buffer.memory is 0; set it to at least batch.size".to_string()
        })?;
        for (key, size) in [
            ("batch.size", self.batch_size),
            ("max.request.size", self.max_request_size),
        ] {
            ensure(size <= self.buffer_memory, || {
                format!(
                    "{key} ({size}) is larger than buffer.memory ({}); raise buffer.memory or \
                     lower {key}",
                    self.buffer_memory
                )
            })?;
        }
        match self.compression {
            Compression::Uncompressed | Compression::Snappy => {
                ensure(self.compression_level.is_none(), || {
                    format!(
                        "compression_level is set but compression.type={} has no levels; unset \
                         it or choose gzip, lz4 or zstd",
                        self.compression.name()
                    )
                })
            }
            codec => check_level(
                &format!("compression.{}.level", codec.name()),
                codec,
                self.compression_level,
            ),
        }
    }
}

/// Java's range for gzip levels; the other codecs' levels kafkit cannot honour.
fn check_level(key: &str, codec: Compression, level: Option<i32>) -> Result<()> {
    let Some(level) = level else { return Ok(()) };
    let fixed = |what: &str| {
        Err(Error::config(format!(
            "{key} is {level}, but kafkit compresses {} at one level only ({what}); remove \
             {key}",
            codec.name()
        )))
    };
    match codec {
        Compression::Gzip => ensure(level == -1 || (1..=9).contains(&level), || {
            format!("{key} is {level}; gzip levels are 1..=9, or -1")
        }),
        Compression::Lz4 => fixed("LZ4's fast mode, as Java's levels 1 to 9"),
        Compression::Zstd => fixed("about zstd level 1; Java's default is 3"),
        Compression::Uncompressed | Compression::Snappy => ensure(false, || {
            format!("{key} is {level}; {} has no levels", codec.name())
        }),
    }
}

#[cfg(test)]
mod tests;
