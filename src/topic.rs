//! Kafka's rules for topic names (`org.apache.kafka.common.internals.Topic.validate`).
//!
//! Checking on the client turns a round trip ending in `INVALID_TOPIC_EXCEPTION` into an
//! immediate error that says which rule the name breaks.

use crate::error::{Error, Result};

/// The longest legal topic name. 249 rather than 255 leaves room for the partition suffix and
/// the `.deleted` markers brokers add to log directory names.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks `name` against Kafka's topic name rules: not empty, not `.` or `..`, at most
/// [`MAX_TOPIC_NAME_LEN`] characters, and only ASCII letters, digits, `.`, `_` and `-`.
///
/// Names mixing `.` and `_` are legal, but Kafka's metric names map both to `_`, so `a.b` and
/// `a_b` collide there; the broker warns about that and so does nothing here.
pub fn validate_topic_name(name: &str) -> Result<()> {
    check_name(name).map_err(|reason| Error::InvalidTopic {
        name: name.to_string(),
        reason,
    })
}

/// The topic name rules, shared with other names Kafka holds to them (`group.instance.id`).
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name == "." || name == ".." {
        return Err("\".\" and \"..\" are not allowed");
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err("is longer than the maximum of 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        // The error prints the name with `{:?}`, which makes a stray space or control
        // character visible.
        return Err("contains a character other than ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> &'static str {
        match validate_topic_name(name) {
            Err(Error::InvalidTopic { name: n, reason }) => {
                assert_eq!(n, name);
                reason
            }
            other => panic!("{name:?} gave {other:?}"),
        }
    }

    #[test]
    fn legal_names_pass() {
        let longest = "a".repeat(249);
        for name in [
            "t",
            "orders",
            "my.topic",
            "my_topic-2",
            "..a",
            "...",
            "_",
            &longest,
        ] {
            assert!(validate_topic_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn empty_is_rejected() {
        assert_eq!(reason(""), "is empty");
    }

    #[test]
    fn dot_and_dot_dot_are_rejected() {
        assert!(reason(".").contains("not allowed"));
        assert!(reason("..").contains("not allowed"));
    }

    #[test]
    fn too_long_is_rejected() {
        assert!(reason(&"a".repeat(250)).contains("longer than"));
    }

    #[test]
    fn illegal_characters_are_rejected() {
        for name in ["a b", "a/b", "a:b", "tópico", "a\n", "a*", "a\0"] {
            assert!(reason(name).contains("character"), "{name:?}");
        }
    }

    #[test]
    fn error_message_shows_the_name_escaped() {
        let text = validate_topic_name("bad topic\t").unwrap_err().to_string();
        assert!(text.contains(r#""bad topic\t""#), "{text}");
    }
}
