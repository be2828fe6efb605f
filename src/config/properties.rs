//! Parsing Java-style property values, and the checks shared by the config types.
//!
//! Values are parsed as Java's `ConfigDef` does: surrounding whitespace is ignored, booleans
//! are case-insensitive, durations are integer milliseconds, sizes integer bytes.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use super::librdkafka::{name_alias, translate, Translated};
use crate::error::{Error, Result};

/// The error for a value that does not parse: names the key, the value, and what would.
pub(crate) fn bad_value(key: &str, value: &str, expected: impl Display) -> Error {
    Error::config(format!(
        "{key}: {value:?} is not valid; expected {expected}"
    ))
}

/// The error for a key the `what` config does not know; `java` is the key it was translated
/// to, when it was a librdkafka name.
fn unknown_key(key: &str, java: &str, what: &str) -> Error {
    let alias = if key == java {
        String::new()
    } else {
        format!(" (librdkafka's name for {java})")
    };
    Error::config(format!(
        "unknown {what} setting {key:?}{alias}; check the spelling, or remove it if it is a \
         Java or librdkafka setting kafkit does not implement"
    ))
}

/// Feeds each property to `set`, in order, librdkafka's names translated to Java's first (so
/// of a Java key and its alias, the later given wins); a key `set` does not take
/// (`Ok(false)`) is an error naming the `what` config it is unknown to.
pub(crate) fn apply<I, K, V>(
    properties: I,
    what: &str,
    mut set: impl FnMut(&str, &str) -> Result<bool>,
) -> Result<()>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    for (key, value) in properties {
        let (key, value) = (key.as_ref(), value.as_ref());
        let (java, value) = match translate(key, value)? {
            Translated::Set(java, value) => (java, value),
            Translated::Nothing => continue,
        };
        if !set(java, &value).map_err(|e| name_alias(e, key, java))? {
            return Err(unknown_key(key, java, what));
        }
    }
    Ok(())
}

/// Integer milliseconds, as every `*.ms` key is.
pub(crate) fn parse_ms(key: &str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| bad_value(key, value, "a non-negative whole number of milliseconds"))
}

/// `true` or `false`, in any case.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(bad_value(key, value, "true or false"))
    }
}

/// A non-negative integer: a size in bytes, a count.
pub(crate) fn parse_uint<T: FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse::<T>()
        .map_err(|_| bad_value(key, value, "a non-negative whole number"))
}

/// A possibly negative integer (compression levels).
pub(crate) fn parse_int(key: &str, value: &str) -> Result<i32> {
    value
        .trim()
        .parse::<i32>()
        .map_err(|_| bad_value(key, value, "a whole number"))
}

/// A string setting whose Java default is null: empty means unset.
pub(crate) fn parse_optional(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Fails with `message` unless `ok`; the message is only built on failure.
pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config(message()))
    }
}

/// A duration in whole milliseconds for messages, as the `.ms` keys spell them.
pub(crate) fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The largest duration a Java `int` of milliseconds holds, the protocol's limit.
const MAX_INT_MS: Duration = Duration::from_millis(i32::MAX as u64);

/// A duration that must be non-zero and, because it is sent to brokers (or Java keeps it in an
/// `int`), at most `i32::MAX` milliseconds.
pub(crate) fn positive_ms(key: &str, d: Duration) -> Result<()> {
    ensure(!d.is_zero(), || {
        format!("{key} is 0; set it to at least 1 ms")
    })?;
    at_most_int_ms(key, d)
}

/// A duration that may be zero but must fit a Java `int` of milliseconds.
pub(crate) fn at_most_int_ms(key: &str, d: Duration) -> Result<()> {
    ensure(d <= MAX_INT_MS, || {
        format!(
            "{key} is {}, more than the maximum of {}",
            ms(d),
            ms(MAX_INT_MS)
        )
    })
}

/// A size or count that must be in `1..=i32::MAX`, the protocol's limit for lengths.
pub(crate) fn positive_int(key: &str, n: usize) -> Result<()> {
    ensure(n >= 1, || format!("{key} is 0; set it to at least 1"))?;
    ensure(n <= i32::MAX as usize, || {
        format!("{key} is {n}, more than the maximum of {}", i32::MAX)
    })
}

/// A lower bound must not exceed its upper bound (backoffs, fetch sizes).
pub(crate) fn ordered(low_key: &str, low: Duration, high_key: &str, high: Duration) -> Result<()> {
    ensure(low <= high, || {
        format!(
            "{low_key} ({}) is larger than {high_key} ({}); raise {high_key} or lower {low_key}",
            ms(low),
            ms(high)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_like_java() {
        assert_eq!(
            parse_ms("linger.ms", " 10 ").unwrap(),
            Duration::from_millis(10)
        );
        assert!(parse_bool("k", "TRUE").unwrap());
        assert!(!parse_bool("k", "false").unwrap());
        assert_eq!(parse_uint::<usize>("batch.size", "16384").unwrap(), 16384);
        assert_eq!(parse_int("compression.zstd.level", "-5").unwrap(), -5);
        assert_eq!(parse_optional("  "), None);
        assert_eq!(parse_optional(" rack-1 ").as_deref(), Some("rack-1"));
    }

    #[test]
    fn bad_values_name_key_value_and_expectation() {
        let text = parse_ms("linger.ms", "-1").unwrap_err().to_string();
        assert!(
            text.contains("linger.ms") && text.contains("\"-1\""),
            "{text}"
        );
        assert!(text.contains("milliseconds"), "{text}");
        let text = parse_bool("check.crcs", "yes").unwrap_err().to_string();
        assert!(text.contains("check.crcs: \"yes\"") && text.contains("true or false"));
        assert!(parse_uint::<usize>("batch.size", "16k").is_err());
    }

    #[test]
    fn range_checks() {
        assert!(positive_ms("a.ms", Duration::ZERO).is_err());
        assert!(positive_ms("a.ms", Duration::from_millis(1)).is_ok());
        assert!(at_most_int_ms("a.ms", Duration::from_millis(i32::MAX as u64 + 1)).is_err());
        assert!(positive_int("a", 0).is_err());
        assert!(positive_int("a", i32::MAX as usize).is_ok());
        let err = ordered(
            "x.ms",
            Duration::from_secs(2),
            "y.ms",
            Duration::from_secs(1),
        );
        let text = err.unwrap_err().to_string();
        assert!(
            text.contains("x.ms (2000 ms) is larger than y.ms (1000 ms)"),
            "{text}"
        );
    }
}
