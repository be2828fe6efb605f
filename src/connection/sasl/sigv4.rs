//! AWS Signature Version 4, query-string (presigned) form: what MSK IAM's payloads and
//! tokens are made of.

use crate::config::AwsCredentials;
use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// SHA-256 of an empty payload, hex: what the AWS SDK signs for a GET.
pub(super) const EMPTY_PAYLOAD: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A GET request to presign.
pub(super) struct Presign<'a> {
    pub host: &'a str,
    pub path: &'a str,
    /// Query parameters besides the signature's own, unencoded.
    pub query: &'a [(&'a str, &'a str)],
    pub region: &'a str,
    pub service: &'a str,
    pub expires_secs: u64,
    pub payload_hash: &'a str,
    pub time: SystemTime,
}

/// The presigned request's query parameters, unencoded and in canonical order, the
/// signature last.
pub(super) fn presign(
    request: &Presign<'_>,
    credentials: &AwsCredentials,
) -> Vec<(String, String)> {
    let (date, stamp) = timestamps(request.time);
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    query.push(("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()));
    query.push((
        "X-Amz-Credential".into(),
        format!("{}/{scope}", credentials.access_key_id),
    ));
    query.push(("X-Amz-Date".into(), stamp.clone()));
    query.push(("X-Amz-Expires".into(), request.expires_secs.to_string()));
    if let Some(token) = &credentials.session_token {
        query.push(("X-Amz-Security-Token".into(), token.expose().to_string()));
    }
    query.push(("X-Amz-SignedHeaders".into(), "host".into()));
    query.sort_by_key(|(k, v)| (encode(k), encode(v)));
    let canonical_query = query_string(&query);
    let canonical_request = format!(
        "GET\n{}\n{canonical_query}\nhost:{}\n\nhost\n{}",
        request.path, request.host, request.payload_hash
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(
        credentials.secret_access_key.expose(),
        &date,
        request.region,
        request.service,
    );
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    query.push(("X-Amz-Signature".into(), signature));
    query
}

/// `k=v&k=v`, each part URI-encoded as SigV4 requires.
pub(super) fn query_string(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    hmac(&key, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <SimpleHmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding: unreserved characters kept, every other byte `%XX`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `(yyyymmdd, yyyymmddThhmmssZ)` in UTC.
fn timestamps(time: SystemTime) -> (String, String) {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (date, stamp)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
pub(super) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    /// The S3 documentation's example keys (its secret differs from the IAM example's).
    fn example_credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            session_token: None,
            expires_at: None,
        }
    }

    /// AWS's documented signing-key derivation example (secret, 20120215, us-east-1, iam).
    #[test]
    fn signing_key_matches_the_aws_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    /// AWS's documented presigned-URL example (S3 GET /test.txt, 2013-05-24, 86400 s).
    #[test]
    fn presigned_url_matches_the_aws_example() {
        // 2013-05-24T00:00:00Z
        let query = presign(
            &Presign {
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                query: &[],
                region: "us-east-1",
                service: "s3",
                expires_secs: 86_400,
                payload_hash: "UNSIGNED-PAYLOAD",
                time: at(1_369_353_600),
            },
            &example_credentials(),
        );
        assert_eq!(
            query_string(&query),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F\
             us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&\
             X-Amz-SignedHeaders=host&X-Amz-Signature=\
             aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(
            timestamps(at(1_369_353_600)),
            ("20130524".to_string(), "20130524T000000Z".to_string())
        );
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(timestamps(at(1_709_251_199)).1, "20240229T235959Z");
        assert_eq!(encode("a b/c:~"), "a%20b%2Fc%3A~");
    }
}
