use crate::common::*;
use kafkit::{Consumer, Producer, ProducerRecord, TopicPartition};
use std::time::Duration;

#[tokio::test]
async fn hello_kafka_round_trip() {
    let bootstrap = bootstrap().await;
    let topic = topic("seed");
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    // The topic is auto-created by the broker on first metadata request, as in the seed flow.
    let delivery = producer
        .send(ProducerRecord::new(topic.as_str(), "Hello Kafka"))
        .await
        .unwrap();
    producer.flush().await;
    let metadata = delivery.await.unwrap();
    assert_eq!(&*metadata.topic, topic);
    assert_eq!(metadata.offset, 0);

    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign([TopicPartition::new(&topic, metadata.partition)])
        .await
        .unwrap();
    let mut read = Vec::new();
    for _ in 0..20 {
        read.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
        if !read.is_empty() {
            break;
        }
    }
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].value.as_deref(), Some(&b"Hello Kafka"[..]));
    assert_eq!(read[0].offset, 0);
}

#[tokio::test]
async fn the_record_stream_yields_records_in_order() {
    use futures::StreamExt;
    let bootstrap = bootstrap().await;
    let topic = topic("stream");
    create_topic(&bootstrap, &topic, 1).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let mut deliveries = Vec::new();
    for i in 0..50 {
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic.as_str(), format!("v{i}")))
                .await
                .unwrap(),
        );
    }
    producer.flush().await;
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let records: Vec<_> = consumer.stream().take(50).collect().await;
    for (i, record) in records.into_iter().enumerate() {
        let record = record.unwrap();
        assert_eq!(record.offset, i as i64);
        assert_eq!(record.value.as_deref(), Some(format!("v{i}").as_bytes()));
    }
}
