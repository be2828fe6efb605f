//! `kafkit -F` on a SASL listener, configured as a Java client is: a `.properties` file with
//! its `sasl.jaas.config` pasted over several lines.

use kafkit_testkit::{SecureBroker, SASL_PASSWORD, SASL_USER};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn a_java_client_properties_file_reaches_a_sasl_listener() {
    let broker = SecureBroker::start().expect("start the secured broker");
    let bootstrap = broker.bootstrap("SASL_PLAINTEXT");
    let topic = kafkit_testkit::unique_name("cli-secure");
    let file = std::env::temp_dir().join(format!("{topic}.properties"));
    std::fs::write(
        &file,
        format!(
            "# as a Java client's file\nbootstrap.servers={bootstrap}\n\
             security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
             \x20   username=\"{SASL_USER}\" \\\n\
             \x20   password=\"{SASL_PASSWORD}\";\n"
        ),
    )
    .expect("write the properties file");
    let config = file.to_str().expect("a UTF-8 path");
    let kafkit = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kafkit"));
        command.args(["-F", config]).args(args);
        command
    };
    let mut producer = kafkit(&["produce", "-t", &topic])
        .stdin(Stdio::piped())
        .spawn()
        .expect("start kafkit produce");
    producer
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"secured one\nsecured two\n")
        .expect("write stdin");
    assert!(producer.wait().expect("produce's exit").success());
    let out = kafkit(&["consume", "-t", &topic, "--from-beginning", "-c", "2"])
        .args(["--timeout", "60s"])
        .output()
        .expect("run kafkit consume");
    assert!(
        out.status.success(),
        "consume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "secured one\nsecured two\n"
    );
    // The same file with a wrong password: an authentication error, status 1.
    let wrong = std::fs::read_to_string(&file)
        .expect("read the file back")
        .replace(SASL_PASSWORD, "not-the-password");
    std::fs::write(&file, wrong).expect("rewrite the properties file");
    let out = kafkit(&["topics", "list"])
        .output()
        .expect("run kafkit topics");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.to_lowercase().contains("authentication"), "{stderr}");
    std::fs::remove_file(file).expect("remove the properties file");
}
