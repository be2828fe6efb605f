//! The AWS_MSK_IAM payload against AWS's own Java library (`aws-msk-iam-auth` 2.4.0 from
//! Maven Central), value for value: a small Java program, compiled here, prints the payload
//! the library signs for fixed credentials; kafkit signs for the same host, region, keys and
//! second (and expiry), and every member must be identical but the user agent (each client
//! names itself).
//! The library's JSON is a Java `HashMap`, so member order is not compared.

use super::super::aws_credentials::parse_rfc3339;
use super::super::aws_http::json_strings;
use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIBRARY: &str = "software.amazon.msk:aws-msk-iam-auth:2.4.0";

const POM: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkit</groupId><artifactId>msk-iam-check</artifactId><version>0</version>
  <dependencies>
    <dependency>
      <groupId>software.amazon.msk</groupId><artifactId>aws-msk-iam-auth</artifactId>
      <version>2.4.0</version>
    </dependency>
  </dependencies>
</project>
"#;

/// Signs with the library's public API; the region is fixed by a provider of our own, so
/// the library looks nothing up (no DNS, no instance metadata).
const PROGRAM: &str = r#"
import software.amazon.awssdk.auth.credentials.*;
import software.amazon.awssdk.regions.Region;
import software.amazon.msk.auth.iam.internals.*;
import software.amazon.msk.auth.iam.internals.region.ConfigurableRegionProvider;

public class Check {
    public static void main(String[] a) throws Exception {
        AwsCredentials credentials = a.length > 3
            ? AwsSessionCredentials.create(a[1], a[2], a[3])
            : AwsBasicCredentials.create(a[1], a[2]);
        ConfigurableRegionProvider region = new ConfigurableRegionProvider() {
            public Region getRegion(String host) { return Region.US_EAST_1; }
            public Region getRegion() { return Region.US_EAST_1; }
        };
        AuthenticationRequestParams params =
            AuthenticationRequestParams.create(a[0], credentials, "java-check", region);
        byte[] payload = new AWS4SignedPayloadGenerator().signedPayload(params);
        System.out.println(new String(payload, "UTF-8"));
    }
}
"#;

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e}); this test needs a JDK and Maven"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The compiled program and its classpath, under `target/`; Maven resolves the library once.
fn program() -> (PathBuf, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/msk-iam-java-check");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    if !lib.join("aws-msk-iam-auth-2.4.0.jar").exists() {
        std::fs::write(dir.join("pom.xml"), POM).unwrap();
        run(
            Command::new("mvn").current_dir(&dir).args([
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DoutputDirectory=lib",
            ]),
            &format!("mvn resolving {LIBRARY}"),
        );
    }
    let mut jars: Vec<String> = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    jars.sort();
    let classes = dir.join("classes");
    std::fs::create_dir_all(&classes).unwrap();
    let classpath = jars.join(":");
    std::fs::write(dir.join("Check.java"), PROGRAM).unwrap();
    run(
        Command::new("javac").current_dir(&dir).args([
            "-cp",
            &classpath,
            "-d",
            "classes",
            "Check.java",
        ]),
        "javac Check.java",
    );
    (dir, format!("{}:{classpath}", classes.display()))
}

/// `20211020T120000Z` as a time.
fn amz_date(stamp: &str) -> SystemTime {
    let (d, t) = stamp.split_once('T').unwrap();
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}",
        &d[..4],
        &d[4..6],
        &d[6..],
        &t[..2],
        &t[2..4],
        &t[4..]
    ))
    .unwrap()
}

#[test]
fn payloads_match_awss_java_library_value_for_value() {
    let (dir, classpath) = program();
    let host = "b-1.mycluster.abc123.c2.kafka.us-east-1.amazonaws.com";
    for session in [false, true] {
        let credentials = super::tests::fixed_credentials(session);
        let mut args = vec![
            host.to_string(),
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose().to_string(),
        ];
        args.extend(
            credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_string()),
        );
        let out = run(
            Command::new("java")
                .current_dir(&dir)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .args(["-cp", &classpath, "Check"])
                .args(&args),
            "java Check",
        );
        let java = json_strings(out.trim()).expect("the library's JSON");
        let get = |members: &[(String, String)], key: &str| {
            members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let time = amz_date(&get(&java, "x-amz-date").expect("x-amz-date"));
        // The library's expiry reads 899 s when its clock crosses a second while it signs;
        // kafkit always signs 900 s, so here it signs the library's value.
        let expires: u64 = get(&java, "x-amz-expires").unwrap().parse().unwrap();
        assert!(expires == 900 || expires == 899, "{expires}");
        let ours = json_strings(&payload_expiring(
            host,
            "us-east-1",
            &credentials,
            time,
            "kafkit",
            expires,
        ))
        .unwrap();
        let keys = |m: &[(String, String)]| {
            let mut k: Vec<String> = m.iter().map(|(k, _)| k.clone()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(&ours), keys(&java), "the same members");
        for (key, value) in &java {
            if key != "user-agent" {
                assert_eq!(get(&ours, key).as_ref(), Some(value), "member {key}");
            }
        }
        assert!(get(&java, "x-amz-signature").is_some_and(|s| s.len() == 64));
    }
}
