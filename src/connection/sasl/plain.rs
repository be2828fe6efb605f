//! SASL/PLAIN (RFC 4616): one message, `authzid NUL user NUL password`.

use super::Exchange;
use crate::config::Secret;

pub(super) struct Plain {
    pub user: String,
    pub password: Secret,
}

impl Exchange for Plain {
    fn first(&mut self) -> Result<Vec<u8>, String> {
        let mut message = Vec::with_capacity(2 + self.user.len() + self.password.expose().len());
        message.push(0);
        message.extend_from_slice(self.user.as_bytes());
        message.push(0);
        message.extend_from_slice(self.password.expose().as_bytes());
        Ok(message)
    }

    fn next(&mut self, _server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_nul_separated() {
        let mut plain = Plain {
            user: "alice".into(),
            password: Secret::new("pw"),
        };
        assert_eq!(plain.first().unwrap(), b"\0alice\0pw");
        assert_eq!(plain.next(b"").unwrap(), None);
    }
}
