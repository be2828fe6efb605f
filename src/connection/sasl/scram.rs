//! SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka speaks them: no
//! channel binding, no authorisation identity.
//!
//! The client proves it knows the password without sending it, and checks the server's
//! signature, which only a server holding the salted password can produce. Iteration counts
//! below 4096 are refused, as RFC 7677 and Kafka's minimum require.

use super::Exchange;
use crate::config::Secret;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::Digest;
use hmac::{Mac, SimpleHmac};

/// RFC 7677's floor, and Kafka's.
pub(crate) const MIN_ITERATIONS: u32 = 4096;
/// Kafka's ceiling; far more would let a hostile server burn the client's CPU.
pub(crate) const MAX_ITERATIONS: u32 = 16384;

pub(super) struct Scram<D> {
    user: String,
    password: Secret,
    client_nonce: String,
    state: State,
    hash: std::marker::PhantomData<D>,
}

enum State {
    Initial,
    /// `client-first-message-bare`, needed for the AuthMessage.
    SentFirst(String),
    /// The server signature the final message must carry.
    SentFinal(Vec<u8>),
    Done,
}

impl<D> Scram<D> {
    pub(super) fn new(user: &str, password: Secret, client_nonce: String) -> Self {
        Self {
            user: user.to_string(),
            password,
            client_nonce,
            state: State::Initial,
            hash: std::marker::PhantomData,
        }
    }
}

/// A fresh client nonce: 32 random bytes, base64 (printable, no comma).
pub(super) fn nonce() -> String {
    BASE64.encode(rand::random::<[u8; 32]>())
}

/// RFC 5802 `saslname`: `=` and `,` escaped.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// RFC 5802's `SaltedPassword := Hi(password, salt, i)`: PBKDF2 with HMAC over `D`. What a
/// client derives to log in, and what `Admin::alter_user_scram_credentials` sends the broker
/// to store, so both agree by construction.
pub(crate) fn salted_password<D: Digest + BlockSizeUser + Clone + Sync>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    let mut salted = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2::<SimpleHmac<D>>(password, salt, iterations, &mut salted)
        .expect("HMAC takes any key size");
    salted
}

fn hmac<D: Digest + BlockSizeUser + Clone>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

impl<D> Exchange for Scram<D>
where
    D: Digest + BlockSizeUser + Clone + Sync + Send,
{
    fn first(&mut self) -> Result<Vec<u8>, String> {
        let bare = format!("n={},r={}", saslname(&self.user), self.client_nonce);
        let message = format!("n,,{bare}");
        self.state = State::SentFirst(bare);
        Ok(message.into_bytes())
    }

    fn next(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let server = std::str::from_utf8(server)
            .map_err(|_| "the server's SCRAM message is not UTF-8".to_string())?;
        match std::mem::replace(&mut self.state, State::Done) {
            State::SentFirst(client_first_bare) => self
                .client_final(&client_first_bare, server)
                .map(|m| Some(m.into_bytes())),
            State::SentFinal(expected) => {
                if let Some(error) = attribute(server, 'e') {
                    return Err(format!("the server refused the proof: {error}"));
                }
                let signature = attribute(server, 'v')
                    .and_then(|v| BASE64.decode(v).ok())
                    .ok_or("the server's final SCRAM message has no signature")?;
                if signature != expected {
                    return Err(
                        "the server's SCRAM signature is wrong: it does not know the \
                                password, so it is not the broker it claims to be"
                            .to_string(),
                    );
                }
                Ok(None)
            }
            State::Initial | State::Done => Err("unexpected SCRAM message".to_string()),
        }
    }
}

impl<D> Scram<D>
where
    D: Digest + BlockSizeUser + Clone + Sync + Send,
{
    fn client_final(
        &mut self,
        client_first_bare: &str,
        server_first: &str,
    ) -> Result<String, String> {
        if let Some(error) = attribute(server_first, 'e') {
            return Err(format!("the server refused the user: {error}"));
        }
        let nonce =
            attribute(server_first, 'r').ok_or("the server's SCRAM message has no nonce")?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("the server's SCRAM nonce does not extend the client's".to_string());
        }
        let salt = attribute(server_first, 's')
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or("the server's SCRAM message has no valid salt")?;
        let iterations: u32 = attribute(server_first, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or("the server's SCRAM message has no iteration count")?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asks for {iterations} SCRAM iterations, outside \
                 {MIN_ITERATIONS}..={MAX_ITERATIONS}; refusing (a weak or hostile server)"
            ));
        }
        let salted = salted_password::<D>(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = hmac::<D>(&salted, b"Client Key");
        let stored_key = D::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = hmac::<D>(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac::<D>(&salted, b"Server Key");
        self.state = State::SentFinal(hmac::<D>(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)))
    }
}

/// What a server computes from the password: the client proof it expects and its own
/// signature, both base64.
#[cfg(test)]
pub(super) fn server_view<D: Digest + BlockSizeUser + Clone + Sync + Send>(
    password: &str,
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> (String, String) {
    let salted = salted_password::<D>(password.as_bytes(), salt, iterations);
    let client_key = hmac::<D>(&salted, b"Client Key");
    let client_signature = hmac::<D>(&D::digest(&client_key), auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let signature = hmac::<D>(&hmac::<D>(&salted, b"Server Key"), auth_message.as_bytes());
    (BASE64.encode(proof), BASE64.encode(signature))
}

/// The value of attribute `name` in a SCRAM message (`a=value,b=value`).
fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(name) && chars.next() == Some('=')).then(|| &part[2..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Sha256, Sha512};

    /// RFC 7677, section 3: the SCRAM-SHA-256 example exchange.
    #[test]
    fn rfc_7677_test_vector() {
        let mut scram =
            Scram::<Sha256>::new("user", Secret::new("pencil"), "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(scram.first().unwrap(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = scram.next(server_first.as_bytes()).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(scram.next(server_final).unwrap(), None);
    }

    /// SCRAM-SHA-512 has no RFC example; this one was computed independently with Python's
    /// hashlib (pbkdf2_hmac, hmac) from RFC 5802's formulas.
    #[test]
    fn sha512_matches_an_independent_computation() {
        let mut scram = Scram::<Sha512>::new("user", Secret::new("pencil"), "cnonce".into());
        scram.first().unwrap();
        let client_final = scram
            .next(b"r=cnonceSNONCE,s=c2FsdHNhbHQ=,i=4096")
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            format!("c=biws,r=cnonceSNONCE,p={SHA512_PROOF}")
        );
        assert_eq!(
            scram
                .next(format!("v={SHA512_SERVER_SIGNATURE}").as_bytes())
                .unwrap(),
            None
        );
    }

    const SHA512_PROOF: &str =
        "ot0z0dRK5NYtBEHtJR+/q/sXFOGe16WucBFT65zYXUztNHvcvJl6kG11+r05Jikbomc26jpof5oDJvxFyEgLqg==";
    const SHA512_SERVER_SIGNATURE: &str =
        "NZs8F+fDhHnC28WA/mJ3NxafvKYwblxDZJvIPq/jRxPquiYslJK9uz8iI6tmJM2lTfKAmSsnFhsSeH5t16xeGQ==";

    fn after_first(server_first: &str) -> Result<Option<Vec<u8>>, String> {
        let mut scram = Scram::<Sha256>::new("u", Secret::new("p"), "abc".into());
        scram.first().unwrap();
        scram.next(server_first.as_bytes())
    }

    #[test]
    fn hostile_or_broken_servers_are_refused() {
        for (server_first, why) in [
            ("r=abcX,s=c2FsdA==,i=4095", "outside 4096"),
            ("r=abcX,s=c2FsdA==,i=100000000", "outside 4096"),
            ("r=xyz,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abc,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abcX,i=4096", "salt"),
            ("r=abcX,s=c2FsdA==", "iteration"),
            ("e=unknown-user", "refused the user: unknown-user"),
        ] {
            let err = after_first(server_first).unwrap_err();
            assert!(err.contains(why), "{server_first}: {err}");
        }
        let mut scram = Scram::<Sha256>::new("u", Secret::new("p"), "abc".into());
        scram.first().unwrap();
        scram.next(b"r=abcX,s=c2FsdA==,i=4096").unwrap();
        let err = scram.next(b"v=AAAA").unwrap_err();
        assert!(err.contains("signature is wrong"), "{err}");
    }

    #[test]
    fn user_names_are_escaped_and_nonces_printable() {
        let mut scram = Scram::<Sha256>::new("a=b,c", Secret::new("p"), nonce());
        let first = String::from_utf8(scram.first().unwrap()).unwrap();
        assert!(first.starts_with("n,,n=a=3Db=2Cc,r="), "{first}");
        let nonce = first.rsplit("r=").next().unwrap();
        assert!(nonce.len() >= 32 && !nonce.contains(','), "{nonce}");
    }
}
