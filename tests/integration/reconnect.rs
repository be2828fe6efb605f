use kafkit::{Admin, ClientConfig, Consumer, NewTopic, Producer, ProducerRecord, TopicPartition};
use kafkit_testkit::KafkaCluster;
use std::time::Duration;

/// A broker restarted under a live producer and consumer: both reconnect by themselves.
#[tokio::test]
async fn clients_reconnect_after_the_broker_restarts() {
    let cluster = tokio::task::spawn_blocking(|| KafkaCluster::start(1))
        .await
        .unwrap()
        .expect("start a dedicated broker");
    let bootstrap = cluster.bootstrap();
    let topic = kafkit_testkit::unique_name("reconnect");
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    admin
        .create_topics([NewTopic::new(&topic, 1, 1)])
        .await
        .unwrap();
    let producer = Producer::new(crate::common::producer_config(&bootstrap))
        .await
        .unwrap();
    let first = producer
        .send(ProducerRecord::new(topic.as_str(), "before"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(first.offset, 0);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop(0);
        cluster.restart(0).expect("restart the broker");
        cluster
    })
    .await
    .unwrap();

    let second = producer
        .send(ProducerRecord::new(topic.as_str(), "after"))
        .await
        .unwrap()
        .await
        .expect("the producer reconnects and delivers");
    assert_eq!(second.offset, 1);

    let consumer = Consumer::new(crate::common::consumer_config(&bootstrap))
        .await
        .unwrap();
    consumer
        .assign([TopicPartition::new(&topic, 0)])
        .await
        .unwrap();
    let mut values = Vec::new();
    for _ in 0..40 {
        for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            values.push(r.value.unwrap());
        }
        if values.len() >= 2 {
            break;
        }
    }
    assert_eq!(values, vec!["before".as_bytes(), "after".as_bytes()]);
    drop(cluster);
}
