use super::super::aws_http::json_strings;
use super::super::sigv4::at;
use super::*;

pub(crate) fn fixed_credentials(session: bool) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: session.then(|| Secret::new("IQoJb3JpZ2luX2VjEXAMPLE+/=")),
        expires_at: None,
    }
}

const HOST: &str = "b-1.test.abc123.c2.kafka.us-east-1.amazonaws.com";

#[test]
fn regions_come_from_msk_host_names() {
    assert_eq!(region_of_host(HOST), Some("us-east-1"));
    assert_eq!(
        region_of_host("boot-x.c1.kafka-serverless.eu-west-2.amazonaws.com"),
        Some("eu-west-2")
    );
    assert_eq!(
        region_of_host("b-1.x.kafka.cn-north-1.amazonaws.com.cn"),
        Some("cn-north-1")
    );
    assert_eq!(region_of_host("localhost"), None);
    assert_eq!(region_of_host("amazonaws.com"), None);
}

#[test]
fn the_payload_holds_every_signed_parameter() {
    // 2021-10-20T12:00:00Z
    let payload = signed_payload(
        HOST,
        "us-east-1",
        &fixed_credentials(true),
        at(1_634_731_200),
        "ua",
    );
    let members = json_strings(&payload).unwrap();
    let get = |k: &str| {
        members
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("version"), Some("2020_10_22"));
    assert_eq!(get("host"), Some(HOST));
    assert_eq!(get("user-agent"), Some("ua"));
    assert_eq!(get("action"), Some("kafka-cluster:Connect"));
    assert_eq!(get("x-amz-algorithm"), Some("AWS4-HMAC-SHA256"));
    assert_eq!(
        get("x-amz-credential"),
        Some("AKIAIOSFODNN7EXAMPLE/20211020/us-east-1/kafka-cluster/aws4_request")
    );
    assert_eq!(get("x-amz-date"), Some("20211020T120000Z"));
    assert_eq!(get("x-amz-expires"), Some("900"));
    assert_eq!(get("x-amz-signedheaders"), Some("host"));
    assert_eq!(
        get("x-amz-security-token"),
        Some("IQoJb3JpZ2luX2VjEXAMPLE+/=")
    );
    assert_eq!(get("x-amz-signature").map(str::len), Some(64));
    assert_eq!(members.len(), 11);
    let without_session = signed_payload(
        HOST,
        "us-east-1",
        &fixed_credentials(false),
        at(1_634_731_200),
        "ua",
    );
    assert!(!without_session.contains("x-amz-security-token"));
}

#[test]
fn the_oauth_token_is_a_presigned_url() {
    let token = oauth_token(
        "us-west-2",
        &fixed_credentials(false),
        at(1_634_731_200),
        "ua/1",
    );
    let url = String::from_utf8(URL_SAFE_NO_PAD.decode(&token).unwrap()).unwrap();
    assert!(
        url.starts_with(
            "https://kafka.us-west-2.amazonaws.com/?Action=kafka-cluster%3AConnect&\
             X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20211020%2F\
             us-west-2%2Fkafka-cluster%2Faws4_request&X-Amz-Date=20211020T120000Z&\
             X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="
        ),
        "{url}"
    );
    assert!(url.ends_with("&User-Agent=ua%2F1"), "{url}");
    assert!(!token.contains('='));
}
