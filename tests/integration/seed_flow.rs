use crate::support::*;
use kafkit::{Consumer, Producer, ProducerRecord};

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

    let read = read_n(&bootstrap, &topic, [metadata.partition], 1).await;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].value.as_deref(), Some(&b"Hello Kafka"[..]));
    assert_eq!(read[0].offset, 0);
}

#[tokio::test]
async fn the_record_stream_yields_records_in_order() {
    use futures::StreamExt;
    let (bootstrap, topic) = fresh_topic("stream", 1).await;
    produce(
        &bootstrap,
        (0..50).map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}"))),
    )
    .await;
    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let records: Vec<_> = consumer.stream().take(50).collect().await;
    for (i, record) in records.into_iter().enumerate() {
        let record = record.unwrap();
        assert_eq!(record.offset, i as i64);
        assert_eq!(record.value.as_deref(), Some(format!("v{i}").as_bytes()));
    }
}
