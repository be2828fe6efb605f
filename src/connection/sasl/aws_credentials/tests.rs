use super::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn env(vars: &[(&str, &str)]) -> Env {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |name| vars.get(name).cloned())
}

fn chain(vars: &[(&str, &str)]) -> DefaultChain {
    DefaultChain::new(env(vars), None)
}

/// A loopback HTTP server answering `(method, path) -> (status, body)`; counts requests and
/// records each request's head.
async fn server(
    routes: Vec<(&'static str, &'static str, &'static str)>,
) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, h) = (count.clone(), heads.clone());
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let mut words = head.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let (status, body) = routes
                .iter()
                .find(|(m, p, _)| *m == method && *p == path)
                .map_or(("404 Not Found", ""), |(_, _, body)| ("200 OK", *body));
            h.lock().unwrap().push(head.clone());
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(response.as_bytes()).await;
        }
    });
    (base, count, heads)
}

const CREDS_JSON: &str = r#"{"AccessKeyId":"ASIATEMP","SecretAccessKey":"temp-secret","Token":"temp-token","Expiration":"2999-01-02T03:04:05Z","Code":"Success"}"#;

#[tokio::test]
async fn the_environment_comes_first() {
    let c = chain(&[
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:1/never",
        ),
    ])
    .credentials()
    .await
    .unwrap();
    assert_eq!(c.access_key_id, "AKID");
    assert_eq!(c.secret_access_key.expose(), "secret");
    assert_eq!(c.session_token.unwrap().expose(), "token");
    let err = chain(&[("AWS_ACCESS_KEY_ID", "AKID")])
        .credentials()
        .await
        .unwrap_err();
    assert!(err.contains("without AWS_SECRET_ACCESS_KEY"), "{err}");
}

#[tokio::test]
async fn profiles_come_from_the_shared_files() {
    let dir = std::env::temp_dir().join(format!("kafkit-aws-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let credentials = dir.join("credentials");
    let config = dir.join("config");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n\n\
         # comment\n[other]\naws_access_key_id=OTHERKEY\naws_secret_access_key=o\n\
         aws_session_token=ot\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        "[profile fromconfig]\naws_access_key_id = CONFIGKEY\naws_secret_access_key = c\n\
         [profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n",
    )
    .unwrap();
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let key = |profile: Option<&str>, extra: &[(&str, &str)]| {
        let mut vars = files.to_vec();
        vars.extend_from_slice(extra);
        let chain = DefaultChain::new(env(&vars), profile.map(str::to_string));
        async move { chain.credentials().await.map(|c| c.access_key_id) }
    };
    assert_eq!(key(None, &[]).await.unwrap(), "DEFAULTKEY");
    assert_eq!(
        key(None, &[("AWS_PROFILE", "other")]).await.unwrap(),
        "OTHERKEY"
    );
    assert_eq!(key(Some("fromconfig"), &[]).await.unwrap(), "CONFIGKEY");
    let err = key(Some("role"), &[]).await.unwrap_err();
    assert!(
        err.contains("role_arn") && err.contains("not implement"),
        "{err}"
    );
    let err = key(Some("missing"), &[]).await.unwrap_err();
    assert!(err.contains("\"missing\" not found"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn container_credentials_are_fetched_with_the_token_and_cached() {
    let (base, count, heads) = server(vec![("GET", "/creds", CREDS_JSON)]).await;
    let url = format!("{base}/creds");
    let c = chain(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer xyz"),
        ("HOME", "/nonexistent"),
    ]);
    let first = c.credentials().await.unwrap();
    assert_eq!(first.access_key_id, "ASIATEMP");
    assert_eq!(first.session_token.as_ref().unwrap().expose(), "temp-token");
    assert_eq!(
        first.expires_at,
        Some(parse_rfc3339("2999-01-02T03:04:05Z").unwrap())
    );
    assert!(heads.lock().unwrap()[0].contains("Authorization: Bearer xyz"));
    assert_eq!(c.credentials().await.unwrap(), first);
    assert_eq!(count.load(Ordering::SeqCst), 1, "cached until near expiry");
}

#[tokio::test]
async fn instance_metadata_uses_an_imdsv2_session() {
    let (base, count, heads) = server(vec![
        ("PUT", "/latest/api/token", "session-token"),
        (
            "GET",
            "/latest/meta-data/iam/security-credentials/",
            "my-role\n",
        ),
        (
            "GET",
            "/latest/meta-data/iam/security-credentials/my-role",
            CREDS_JSON,
        ),
    ])
    .await;
    let c = chain(&[
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &base),
        ("HOME", "/nonexistent"),
    ])
    .credentials()
    .await
    .unwrap();
    assert_eq!(c.access_key_id, "ASIATEMP");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let heads = heads.lock().unwrap();
    assert!(heads[0].contains("X-aws-ec2-metadata-token-ttl-seconds: 21600"));
    assert!(heads[2].contains("X-aws-ec2-metadata-token: session-token"));
}

#[tokio::test]
async fn no_source_says_where_credentials_may_come_from() {
    let err = chain(&[
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("HOME", "/nonexistent"),
    ])
    .credentials()
    .await
    .unwrap_err();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
}

#[test]
fn expirations_parse() {
    assert_eq!(
        parse_rfc3339("1970-01-02T00:00:01Z").unwrap(),
        UNIX_EPOCH + Duration::from_secs(86_401)
    );
    assert_eq!(
        parse_rfc3339("2013-05-24T00:00:00.123Z").unwrap(),
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    );
    for bad in [
        "2013-05-24",
        "2013-13-01T00:00:00Z",
        "2013-05-24T00:00:00+01:00",
    ] {
        assert!(parse_rfc3339(bad).is_err(), "{bad}");
    }
}
