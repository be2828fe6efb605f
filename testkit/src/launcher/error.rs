//! The error every launch step returns.

use std::fmt;
use std::io;

/// Why a cluster (or one node of it) could not be started.
///
/// The message is meant to be read by a person looking at a failed test: it
/// names the missing tool, the failing command with the tail of its output,
/// or the node that did not become ready with the tail of its log.
#[derive(Debug, Clone)]
pub struct LaunchError {
    message: String,
    /// A node lost a race for a port picked as free; worth another try.
    pub(super) port_clash: bool,
}

impl LaunchError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        LaunchError {
            message: message.into(),
            port_clash: false,
        }
    }

    pub(crate) fn io(context: impl fmt::Display, err: io::Error) -> Self {
        LaunchError::new(format!("{context}: {err}"))
    }

    /// The full explanation, also what `Display` prints.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LaunchError {}
