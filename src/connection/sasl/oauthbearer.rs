//! SASL/OAUTHBEARER (RFC 7628, with Kafka's SASL extensions of KIP-342), and the unsecured
//! tokens of Kafka's default login handler.

use super::Exchange;
use crate::config::{
    check_extension, json_string, BoxFuture, OAuthBearerToken, OAuthBearerTokenProvider, Secret,
    UnsecuredLogin,
};
use crate::error::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) struct OAuthBearer {
    token: OAuthBearerToken,
    /// Set once the server answered with an error challenge.
    failed: Option<String>,
}

impl OAuthBearer {
    /// Checks the provider's token and extensions before any of it goes on the wire.
    pub(super) fn new(token: OAuthBearerToken) -> Result<Self, String> {
        let value = token.value.expose();
        // RFC 6750's b64token alphabet; anything else would corrupt the message.
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        {
            return Err("the token provider's token is empty or not a bearer token \
                        (RFC 6750 characters only)"
                .to_string());
        }
        for (key, value) in &token.extensions {
            check_extension(key, value).map_err(|e| e.to_string())?;
        }
        Ok(Self {
            token,
            failed: None,
        })
    }
}

impl Exchange for OAuthBearer {
    fn first(&mut self) -> Result<Vec<u8>, String> {
        let mut message = format!("n,,\x01auth=Bearer {}\x01", self.token.value.expose());
        for (key, value) in &self.token.extensions {
            message.push_str(key);
            message.push('=');
            message.push_str(value);
            message.push('\x01');
        }
        message.push('\x01');
        Ok(message.into_bytes())
    }

    fn next(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if server.is_empty() {
            return Ok(None);
        }
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        // RFC 7628 3.2.2: an error is a JSON challenge, which the client acknowledges with
        // a lone 0x01; the broker then fails the exchange with its own message.
        self.failed = Some(format!(
            "the broker rejected the token: {}",
            String::from_utf8_lossy(server)
        ));
        Ok(Some(vec![0x01]))
    }
}

/// Kafka's unsecured tokens (`alg: none`), as `OAuthBearerUnsecuredLoginCallbackHandler`
/// makes them: only a broker running the unsecured validator accepts them.
pub(crate) struct UnsecuredTokens(pub UnsecuredLogin);

impl UnsecuredTokens {
    fn token_at(&self, now: SystemTime) -> OAuthBearerToken {
        // Whole seconds, rounded down: Kafka's validator refuses a token whose `1000 * iat`
        // exceeds its clock in whole milliseconds, which a fractional `iat` does whenever the
        // broker checks it within the millisecond it was made.
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = iat.saturating_add(self.0.lifetime.as_secs());
        let mut payload = format!("{{\"iat\":{iat},\"exp\":{exp}");
        for (name, value) in &self.0.claims {
            payload.push_str(&format!(",{}:{value}", json_string(name)));
        }
        payload.push('}');
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        OAuthBearerToken {
            value: Secret::new(format!("{header}.{}.", URL_SAFE_NO_PAD.encode(payload))),
            extensions: self.0.extensions.clone(),
        }
    }
}

impl OAuthBearerTokenProvider for UnsecuredTokens {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
        let token = self.token_at(SystemTime::now());
        Box::pin(async move { Ok(token) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn token(value: &str, extensions: &[(&str, &str)]) -> OAuthBearerToken {
        OAuthBearerToken {
            value: Secret::new(value),
            extensions: extensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_first_message_carries_token_and_extensions() {
        let mut exchange = OAuthBearer::new(token("abc.def.", &[("traceId", "x1")])).unwrap();
        assert_eq!(
            exchange.first().unwrap(),
            b"n,,\x01auth=Bearer abc.def.\x01traceId=x1\x01\x01"
        );
        assert_eq!(exchange.next(b"").unwrap(), None);
    }

    #[test]
    fn an_error_challenge_is_acknowledged_then_reported() {
        let mut exchange = OAuthBearer::new(token("t", &[])).unwrap();
        exchange.first().unwrap();
        let challenge = br#"{"status":"invalid_token"}"#;
        assert_eq!(exchange.next(challenge).unwrap(), Some(vec![1]));
        let err = exchange.next(b"x").unwrap_err();
        assert!(err.contains("invalid_token"), "{err}");
    }

    #[test]
    fn malformed_tokens_and_extensions_are_refused() {
        assert!(OAuthBearer::new(token("", &[])).is_err());
        assert!(OAuthBearer::new(token("a b", &[])).is_err());
        assert!(OAuthBearer::new(token("a\x01auth=x", &[])).is_err());
        assert!(OAuthBearer::new(token("t", &[("auth", "x")])).is_err());
        assert!(OAuthBearer::new(token("t", &[("k", "a\x01b")])).is_err());
    }

    #[test]
    fn unsecured_tokens_look_like_kafkas() {
        let tokens = UnsecuredTokens(UnsecuredLogin {
            claims: vec![("sub".into(), "\"alice\"".into())],
            principal_claim: "sub".into(),
            lifetime: Duration::from_secs(60),
            extensions: vec![("e".into(), "v".into())],
        });
        let t = tokens.token_at(UNIX_EPOCH + Duration::from_secs(1000));
        let parts: Vec<&str> = t.value.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let decode = |p: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        assert_eq!(decode(parts[0]), r#"{"alg":"none"}"#);
        assert_eq!(decode(parts[1]), r#"{"iat":1000,"exp":1060,"sub":"alice"}"#);
        assert_eq!(t.extensions, [("e".to_string(), "v".to_string())]);
        OAuthBearer::new(t).unwrap();
    }

    #[test]
    fn issued_at_is_never_after_the_brokers_millisecond_clock() {
        let tokens = UnsecuredTokens(UnsecuredLogin {
            claims: vec![("sub".into(), "\"alice\"".into())],
            principal_claim: "sub".into(),
            lifetime: Duration::from_secs(60),
            extensions: vec![],
        });
        // Made 0.7 ms into a millisecond; a broker checking in the same millisecond reads
        // 1_000_000 ms, and refuses any iat above 1000 s.
        let t = tokens.token_at(UNIX_EPOCH + Duration::from_micros(1_000_000_700));
        let payload = t.value.expose().split('.').nth(1).unwrap().to_string();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload, r#"{"iat":1000,"exp":1060,"sub":"alice"}"#);
    }
}
