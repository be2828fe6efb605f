//! A poll's timeout is the caller's: any `Duration`, however large, is a valid one.

use crate::support::*;
use kafkit::{Consumer, Producer, ProducerRecord, TopicPartition};
use std::time::Duration;

#[tokio::test]
async fn a_poll_without_a_time_limit_returns_the_records_that_arrive() {
    let bootstrap = bootstrap().await;
    let topic = topic("poll-forever");
    create_topic(&bootstrap, &topic, 1).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let delivery = producer
        .send(ProducerRecord::new(topic.as_str(), "v"))
        .await
        .unwrap();
    producer.flush().await;
    delivery.await.unwrap();

    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign([TopicPartition::new(topic.clone(), 0)])
        .await
        .unwrap();
    let poll = consumer.poll(Duration::MAX);
    let records = tokio::time::timeout(Duration::from_secs(30), poll)
        .await
        .expect("the record never came")
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
}
