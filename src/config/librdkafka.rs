//! librdkafka's configuration names, so a rust-rdkafka config moves over: the one table of
//! them, used by every config type's `from_properties` before a key reaches its `set`.
//!
//! A name kafkit can honour exactly is mapped to its Java key (the value converted where the
//! units or spellings differ); one it cannot is refused with a message that says why and what
//! to use, never accepted and ignored. librdkafka's names that are also Java's (`linger.ms`,
//! `batch.size`, `session.timeout.ms`, `group.instance.id`, ...) need no entry, nor do the
//! librdkafka keys Java has no key for (`sasl.username`, `sasl.password`,
//! `ssl.certificate.location`, `ssl.key.location`), which the security settings take as
//! they are.
//!
//! Properties are applied in order, so when a Java key and its alias are both given, the later
//! one wins.

use std::borrow::Cow;

use super::properties::{bad_value, parse_bool, parse_uint};
use crate::error::{Error, Result};

/// What a librdkafka name becomes.
enum Rule {
    /// The Java key, same value.
    Rename(&'static str),
    /// The Java key in bytes, for a value in kilobytes (KiB, as librdkafka counts them).
    Kilobytes(&'static str),
    /// The Java key, with librdkafka's spellings of values translated (`Ok`) or refused with
    /// the reason (`Err`); a value not listed goes through as it is.
    Values(
        &'static str,
        &'static [(
            &'static str,
            std::result::Result<&'static str, &'static str>,
        )],
    ),
    /// A boolean or number that kafkit always behaves as `honoured` (its spelling); that value
    /// is accepted and sets nothing, any other is refused with the reason.
    Fixed {
        honoured: &'static str,
        why: &'static str,
    },
    /// Refused with the reason, whatever the value (an empty one, librdkafka's "unset", is
    /// accepted and sets nothing).
    Refused(&'static str),
}

/// librdkafka's names kafkit knows, and what each becomes.
const ALIASES: &[(&str, Rule)] = &[
    // Every client.
    ("metadata.broker.list", Rule::Rename("bootstrap.servers")),
    ("sasl.mechanisms", Rule::Rename("sasl.mechanism")),
    ("ssl.ca.location", Rule::Rename("ssl.truststore.location")),
    ("ssl.ca.pem", Rule::Rename("ssl.truststore.certificates")),
    (
        "ssl.certificate.pem",
        Rule::Rename("ssl.keystore.certificate.chain"),
    ),
    ("ssl.key.pem", Rule::Rename("ssl.keystore.key")),
    ("socket.timeout.ms", Rule::Rename("request.timeout.ms")),
    (
        "topic.metadata.refresh.interval.ms",
        Rule::Rename("metadata.max.age.ms"),
    ),
    (
        "api.version.request",
        Rule::Fixed {
            honoured: "true",
            why: "kafkit always asks brokers for their API versions, and needs brokers that \
                  answer (Kafka 0.10 or newer)",
        },
    ),
    (
        "api.version.fallback.ms",
        Rule::Refused(
            "kafkit always asks brokers for their API versions and has no fallback; remove it",
        ),
    ),
    (
        "broker.version.fallback",
        Rule::Refused(
            "kafkit needs brokers that answer ApiVersions (Kafka 0.10 or newer) and guesses no \
             version; remove it",
        ),
    ),
    (
        "statistics.interval.ms",
        Rule::Fixed {
            honoured: "0",
            why: "kafkit has no statistics callback; read Producer::metrics() or \
                  Consumer::metrics() when you want the numbers",
        },
    ),
    (
        "debug",
        Rule::Refused(
            "kafkit logs through the tracing crate; install a subscriber and enable the \
             kafkit target at debug level instead",
        ),
    ),
    (
        "log_level",
        Rule::Refused(
            "kafkit logs through the tracing crate; set the level in your tracing subscriber",
        ),
    ),
    (
        "ssl.endpoint.identification.algorithm",
        Rule::Values("ssl.endpoint.identification.algorithm", &[("none", Ok(""))]),
    ),
    (
        "enable.ssl.certificate.verification",
        Rule::Fixed {
            honoured: "true",
            why: "kafkit always checks the broker's certificate chain; trust the broker's CA \
                  with ssl.ca.location (ssl.truststore.location), or skip only the host name \
                  check with ssl.endpoint.identification.algorithm=none",
        },
    ),
    // The producer.
    ("queue.buffering.max.ms", Rule::Rename("linger.ms")),
    ("message.timeout.ms", Rule::Rename("delivery.timeout.ms")),
    ("message.send.max.retries", Rule::Rename("retries")),
    ("request.required.acks", Rule::Rename("acks")),
    ("compression.codec", Rule::Rename("compression.type")),
    ("message.max.bytes", Rule::Rename("max.request.size")),
    (
        "max.in.flight",
        Rule::Rename("max.in.flight.requests.per.connection"),
    ),
    (
        "queue.buffering.max.kbytes",
        Rule::Kilobytes("buffer.memory"),
    ),
    (
        "queue.buffering.max.messages",
        Rule::Refused(
            "kafkit bounds the records waiting to be sent by bytes only; use buffer.memory (or \
             queue.buffering.max.kbytes)",
        ),
    ),
    (
        "batch.num.messages",
        Rule::Refused("kafkit bounds batches by bytes only; use batch.size"),
    ),
    (
        "compression.level",
        Rule::Refused(
            "use Java's compression.gzip.level for gzip; kafkit compresses lz4 and zstd at one \
             level only",
        ),
    ),
    (
        "partitioner",
        Rule::Values(
            "partitioner.class",
            &[
                ("murmur2_random", Ok("default")),
                (
                    "murmur2",
                    Err(
                        "kafkit's default partitioner hashes keys as murmur2 does but spreads \
                         keyless records instead of sending them all to one partition; use \
                         murmur2_random (kafkit's default)",
                    ),
                ),
                ("consistent_random", Err(CRC32_PARTITIONER)),
                ("consistent", Err(CRC32_PARTITIONER)),
                ("random", Err(RANDOM_PARTITIONER)),
                ("fnv1a", Err(FNV1A_PARTITIONER)),
                ("fnv1a_random", Err(FNV1A_PARTITIONER)),
            ],
        ),
    ),
    (
        "sticky.partitioning.linger.ms",
        Rule::Refused(
            "kafkit's default partitioner moves keyless records to another partition when a \
             batch is full (batch.size), as Java's does, not after a time; remove it",
        ),
    ),
    (
        "queue.buffering.backpressure.threshold",
        Rule::Refused(
            "kafkit sends as soon as a connection can take a request, up to \
             max.in.flight.requests.per.connection; remove it",
        ),
    ),
    // The consumer.
    ("fetch.wait.max.ms", Rule::Rename("fetch.max.wait.ms")),
    (
        "fetch.message.max.bytes",
        Rule::Rename("max.partition.fetch.bytes"),
    ),
    ("auto.commit.enable", Rule::Rename("enable.auto.commit")),
    (
        "auto.offset.reset",
        Rule::Values(
            "auto.offset.reset",
            &[
                ("smallest", Ok("earliest")),
                ("beginning", Ok("earliest")),
                ("largest", Ok("latest")),
                ("end", Ok("latest")),
                ("error", Ok("none")),
            ],
        ),
    ),
    (
        "queued.max.messages.kbytes",
        Rule::Refused(
            "kafkit's consumer holds at most twice fetch.max.bytes of fetched data (its fetch \
             memory budget, decompressed records included); set fetch.max.bytes to half the \
             budget you want",
        ),
    ),
    (
        "queued.min.messages",
        Rule::Refused(
            "kafkit prefetches by bytes, up to twice fetch.max.bytes; use fetch.max.bytes and \
             max.partition.fetch.bytes",
        ),
    ),
    (
        "enable.auto.offset.store",
        Rule::Refused(
            "kafkit has no offset store: auto-commit (enable.auto.commit) commits, at the next \
             poll, the positions after the records poll has returned, as Java's consumer does; \
             to commit only what you have processed, set enable.auto.commit=false and call \
             Consumer::commit_offsets",
        ),
    ),
    (
        "enable.partition.eof",
        Rule::Fixed {
            honoured: "false",
            why: "kafkit's poll returns records only, no end-of-partition events; compare \
                  positions with Consumer::current_lag instead",
        },
    ),
];

const CRC32_PARTITIONER: &str = "librdkafka's CRC32 partitioners place keys on other partitions \
     than Java's murmur2, which kafkit uses; use murmur2_random (kafkit's default) and expect \
     keys to move to other partitions, or implement kafkit::Partitioner";
const RANDOM_PARTITIONER: &str = "kafkit does not place records at random; use \
     murmur2_random (kafkit's default), or implement kafkit::Partitioner";
const FNV1A_PARTITIONER: &str = "kafkit does not hash keys with FNV-1a; use murmur2_random \
     (kafkit's default, Java's hash), or implement kafkit::Partitioner";

/// A property after translation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Translated<'a> {
    /// Set this Java key to this value.
    Set(&'a str, Cow<'a, str>),
    /// Nothing to set: kafkit already behaves as the value asks.
    Nothing,
}

/// The Java key and value for `key` (a librdkafka name or not), or the refusal.
pub(crate) fn translate<'a>(key: &'a str, value: &'a str) -> Result<Translated<'a>> {
    let Some((_, rule)) = ALIASES.iter().find(|(k, _)| *k == key) else {
        return Ok(Translated::Set(key, Cow::Borrowed(value)));
    };
    let refused = |why: &str| Error::config(format!("{key} (librdkafka) is not supported: {why}"));
    match rule {
        Rule::Rename(java) => Ok(Translated::Set(java, Cow::Borrowed(value))),
        Rule::Kilobytes(java) => {
            let kib: usize = parse_uint(key, value)?;
            let bytes = kib.checked_mul(1024).ok_or_else(|| {
                bad_value(key, value, "a number of kilobytes that fits in memory")
            })?;
            Ok(Translated::Set(java, Cow::Owned(bytes.to_string())))
        }
        Rule::Values(java, values) => {
            let given = value.trim();
            match values.iter().find(|(v, _)| v.eq_ignore_ascii_case(given)) {
                Some((_, Ok(to))) => Ok(Translated::Set(java, Cow::Borrowed(to))),
                Some((_, Err(why))) => Err(refused(&format!("{key}={given}: {why}"))),
                None => Ok(Translated::Set(java, Cow::Borrowed(value))),
            }
        }
        Rule::Fixed { honoured, why } => {
            let same = match *honoured {
                "true" | "false" => parse_bool(key, value)?.to_string() == *honoured,
                number => value.trim() == number,
            };
            if same {
                Ok(Translated::Nothing)
            } else {
                Err(refused(&format!(
                    "{key}={}: {why}; remove it or set it to {honoured}",
                    value.trim()
                )))
            }
        }
        Rule::Refused(why) => {
            if value.trim().is_empty() {
                Ok(Translated::Nothing)
            } else {
                Err(refused(why))
            }
        }
    }
}

/// `error`, from setting `java` for the librdkafka name `alias`, saying which name was given.
pub(crate) fn name_alias(error: Error, alias: &str, java: &str) -> Error {
    match error {
        Error::Config(message) if alias != java => {
            Error::config(format!("{message} (set as librdkafka's {alias})"))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
