//! Configs built from a `.properties` file in librdkafka's names and from environment
//! variables over it (a prefix of this test's own, so parallel tests see none of them), then
//! code over both, producing and consuming against the real broker.

use crate::support::*;
use kafkit::{
    AutoOffsetReset, Compression, Consumer, ConsumerConfig, Producer, ProducerConfig,
    ProducerRecord, Properties,
};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_then_environment_then_code() {
    let (bootstrap, topic) = fresh_topic("config-sources", 2).await;
    let group = topic.clone();
    let dir = std::env::temp_dir().join(kafkit_testkit::unique_name("kafkit-config-sources"));
    std::fs::create_dir_all(&dir).unwrap();

    // librdkafka's names, Java's escapes and a continued line, as a moved-over file holds.
    let producer_file = dir.join("producer.properties");
    std::fs::write(
        &producer_file,
        format!(
            "# from rust-rdkafka\n\
             metadata.broker.list = {bootstrap}\n\
             queue.buffering.max.ms: 50\n\
             compression.codec=zstd\n\
             queue.buffering.max.kbytes=\\\n    65536\n\
             client.id=config\\ sources\\u0021\n"
        ),
    )
    .unwrap();
    let consumer_file = dir.join("consumer.properties");
    std::fs::write(
        &consumer_file,
        format!(
            "bootstrap.servers={bootstrap}\nauto.offset.reset=smallest\nenable.auto.commit=false\n"
        ),
    )
    .unwrap();

    // The environment, under prefixes no other test reads.
    let prefix = format!("KAFKIT_CONFIG_SOURCES_{}_", std::process::id());
    let (producer_env, consumer_env) = (format!("{prefix}P_"), format!("{prefix}C_"));
    std::env::set_var(format!("{producer_env}QUEUE_BUFFERING_MAX_MS"), "5");
    std::env::set_var(format!("{producer_env}ENABLE_IDEMPOTENCE"), "true");
    std::env::set_var(format!("{consumer_env}GROUP_ID"), &group);
    std::env::set_var(format!("{consumer_env}FETCH_WAIT_MAX_MS"), "100");

    // The file alone.
    let from_file = ProducerConfig::from_properties_file(&producer_file).unwrap();
    assert_eq!(from_file.linger, Duration::from_millis(50));
    assert_eq!(from_file.compression, Compression::Zstd);
    assert_eq!(from_file.buffer_memory, 64 << 20);
    assert_eq!(from_file.client.client_id, "config sources!");
    assert_eq!(from_file.client.bootstrap_servers, [bootstrap.as_str()]);

    // File < environment < code.
    let mut properties = Properties::from_file(&producer_file).unwrap();
    properties.extend(Properties::from_env_with_prefix(&producer_env).unwrap());
    let mut producer_config = ProducerConfig::from_properties(&properties).unwrap();
    assert_eq!(
        producer_config.linger,
        Duration::from_millis(5),
        "env over file"
    );
    producer_config.client.client_id = "config-sources-code".into();

    let mut properties = Properties::from_file(&consumer_file).unwrap();
    properties.extend(Properties::from_env_with_prefix(&consumer_env).unwrap());
    let consumer_config = ConsumerConfig::from_properties(&properties).unwrap();
    assert_eq!(consumer_config.group_id.as_deref(), Some(group.as_str()));
    assert_eq!(consumer_config.auto_offset_reset, AutoOffsetReset::Earliest);
    assert_eq!(consumer_config.fetch_max_wait, Duration::from_millis(100));

    // A producer's variables are unknown to a consumer: refused, naming the key
    let err =
        ConsumerConfig::from_properties(&Properties::from_env_with_prefix(&producer_env).unwrap())
            .unwrap_err()
            .to_string();
    // (the variables in name order: ENABLE_IDEMPOTENCE comes first)
    assert!(
        err.contains("unknown consumer setting \"enable.idempotence\""),
        "{err}"
    );
    for (key, _) in std::env::vars() {
        if key.starts_with(&prefix) {
            std::env::remove_var(key);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let producer = Producer::new(producer_config).await.unwrap();
    let sent: Vec<String> = (0..200).map(|i| format!("sourced-{i}")).collect();
    send_all(
        &producer,
        sent.iter()
            .enumerate()
            .map(|(i, v)| ProducerRecord::new(topic.as_str(), v.clone()).key(format!("k{i}"))),
    )
    .await;
    assert_eq!(producer.close(Duration::from_secs(10)).await, 0);

    let consumer = Consumer::new(consumer_config).await.unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read = Vec::new();
    while read.len() < sent.len() {
        assert!(
            Instant::now() < deadline,
            "read {} of {}",
            read.len(),
            sent.len()
        );
        read.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    let mut got = values(&read);
    got.sort();
    let mut want = sent.clone();
    want.sort();
    assert_eq!(got, want);
    consumer.close().await.unwrap();
}
