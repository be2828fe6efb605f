//! The little HTTP/1.1 the AWS credential endpoints need (container credentials, EC2 instance
//! metadata): plain `http://` on link-local or loopback addresses, bounded in time and size,
//! and a flat JSON object of strings.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a credentials response may hold; they are a few hundred bytes.
const MAX_RESPONSE: u64 = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(2);

/// `(host:port, path)` of an `http://` URL.
pub(super) fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// credential endpoints are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let authority = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

/// Sends one request and returns the body of a 200 response.
pub(super) async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    let (authority, path) = split_url(url)?;
    let exchange = async {
        let mut stream = TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n"
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE + 1)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if raw.len() as u64 > MAX_RESPONSE {
            return Err(format!("{url}: response larger than {MAX_RESPONSE} bytes"));
        }
        parse_response(url, &raw)
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{url}: no answer within {TIMEOUT:?}"))?
}

fn parse_response(url: &str, raw: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{url}: malformed HTTP response"))?;
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if status != "200" {
        return Err(format!("{url}: HTTP status {status}"));
    }
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return Ok(body.to_string());
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or_else(|| format!("{url}: malformed chunked body"))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("{url}: malformed chunk size"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after
            .get(..size)
            .ok_or_else(|| format!("{url}: truncated chunk"))?;
        out.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or("");
    }
}

/// The string members of a flat JSON object; other members are skipped.
pub(super) fn json_strings(text: &str) -> Result<Vec<(String, String)>, String> {
    let bad = || "credentials response is not a JSON object".to_string();
    let mut chars = text.trim().chars().peekable();
    if chars.next() != Some('{') {
        return Err(bad());
    }
    let mut members = Vec::new();
    loop {
        skip_ws(&mut chars);
        match chars.peek() {
            Some('}') => return Ok(members),
            Some(',') => {
                chars.next();
                continue;
            }
            Some('"') => {}
            _ => return Err(bad()),
        }
        let key = string(&mut chars).ok_or_else(bad)?;
        skip_ws(&mut chars);
        if chars.next() != Some(':') {
            return Err(bad());
        }
        skip_ws(&mut chars);
        if chars.peek() == Some(&'"') {
            let value = string(&mut chars).ok_or_else(bad)?;
            members.push((key, value));
        } else {
            // A number, true, false or null: skipped. Nested values are not expected.
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '}' {
                    break;
                }
                if c == '{' || c == '[' {
                    return Err(bad());
                }
                chars.next();
            }
        }
    }
}

fn skip_ws(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    if chars.next() != Some('"') {
        return None;
    }
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_with_default_ports() {
        assert_eq!(
            split_url("http://169.254.170.2/v2/creds").unwrap(),
            ("169.254.170.2:80".to_string(), "/v2/creds".to_string())
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".to_string(), "/".to_string())
        );
        assert!(split_url("https://x/").is_err());
    }

    #[test]
    fn responses_and_json_parse() {
        let body = parse_response("u", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(body, "abcde");
        assert!(parse_response("u", b"HTTP/1.1 404 Not Found\r\n\r\n")
            .unwrap_err()
            .contains("404"));
        let members =
            json_strings(r#"{ "Code" : "Success", "N": 5, "Token":"a\/b\"c", "X": null }"#)
                .unwrap();
        assert_eq!(
            members,
            [
                ("Code".to_string(), "Success".to_string()),
                ("Token".to_string(), "a/b\"c".to_string())
            ]
        );
        assert!(json_strings("[1]").is_err());
        assert!(json_strings(r#"{"a": {"b": 1}}"#).is_err());
    }
}
