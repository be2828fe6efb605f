use crate::support::*;
use kafkit::{Producer, ProducerRecord};

/// A broker restarted under a live producer and consumer: both reconnect by themselves.
#[tokio::test]
async fn clients_reconnect_after_the_broker_restarts() {
    let broker = Broker::start().await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("reconnect", 1).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let first = producer
        .send(ProducerRecord::new(topic.as_str(), "before"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(first.offset, 0);

    broker.restart(0).await;

    let second = producer
        .send(ProducerRecord::new(topic.as_str(), "after"))
        .await
        .unwrap()
        .await
        .expect("the producer reconnects and delivers");
    assert_eq!(second.offset, 1);

    let read = read_n(&bootstrap, &topic, [0], 2).await;
    assert_eq!(values(&read), ["before", "after"]);
}
