//! A password, private key or token that must never reach a log, an error or a `Debug` dump.

use std::fmt;

/// A secret setting: a password, a private key, a token.
///
/// Its `Debug` and `Display` print `[redacted]`, so a config, an error or a `tracing` field
/// that holds one cannot leak it by accident; [`expose`](Self::expose) is the one way to read
/// it, and kafkit calls it only where the value goes on the wire or into a key.
///
/// ```
/// let password = kafkit::Secret::new("hunter2");
/// assert_eq!(format!("{password:?} {password}"), "[redacted] [redacted]");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
