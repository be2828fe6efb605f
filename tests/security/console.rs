//! The console tools on a secured listener, configured as Java's are: a `.properties` file
//! given as `--producer.config` / `--consumer.config`, its `sasl.jaas.config` pasted over
//! several lines.

use crate::{broker, support};
use kafkit_testkit::{SASL_PASSWORD, SASL_USER};
use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test]
async fn console_tools_take_a_java_client_properties_file() {
    let bootstrap = broker().await.bootstrap("SASL_PLAINTEXT");
    let topic = support::topic("console-secure");
    let file = std::env::temp_dir().join(format!("{topic}.properties"));
    std::fs::write(
        &file,
        format!(
            "# as a Java client's file\nsecurity.protocol=SASL_PLAINTEXT\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
             \x20   username=\"{SASL_USER}\" \\\n\
             \x20   password=\"{SASL_PASSWORD}\";\n"
        ),
    )
    .unwrap();
    let (producer, consumer) = tokio::task::spawn_blocking(|| {
        (
            support::example_binary("console_producer"),
            support::example_binary("console_consumer"),
        )
    })
    .await
    .unwrap();
    let config = file.to_str().unwrap();
    let mut child = Command::new(producer)
        .args(["--bootstrap-server", &bootstrap, "--topic", &topic])
        .args(["--producer.config", config])
        .stdin(Stdio::piped())
        .spawn()
        .expect("console_producer");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"secured one\nsecured two\n")
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    assert!(status.unwrap().success(), "console_producer failed");
    let out = tokio::task::spawn_blocking({
        let (bootstrap, topic, config) = (bootstrap.clone(), topic.clone(), config.to_string());
        move || {
            Command::new(consumer)
                .args(["--bootstrap-server", &bootstrap, "--topic", &topic])
                .args(["--consumer.config", &config])
                .args([
                    "--from-beginning",
                    "--max-messages",
                    "2",
                    "--timeout-ms",
                    "30000",
                ])
                .output()
                .expect("console_consumer")
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "console_consumer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "secured one\nsecured two\n"
    );
    std::fs::remove_file(file).unwrap();
}
