//! Exactly-once consume-transform-produce: read `orders` in a group, write each order to
//! `orders-processed` and a notification to `order-notifications`, and commit the orders'
//! offsets in the same transaction. A crash or an error anywhere leaves either all three
//! or none: `read_committed` readers never see half an order, nor an order twice. It stops
//! after 10 s without an order.
//!
//! ```sh
//! cargo run --example order_processor -- --bootstrap-server localhost:9092 \
//!     [--transactional-id order-processor-1] [--prefix test-]
//! ```

use clap::Parser;
use kafkit::{Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, Producer};
use kafkit::{ProducerConfig, ProducerRecord, TopicPartition};
use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_server: String,
    /// One per instance: a restarted instance fences its predecessor.
    #[arg(long, default_value = "order-processor-1")]
    transactional_id: String,
    /// Put before the three topics' names and the group's.
    #[arg(long, default_value = "")]
    prefix: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let name = |base: &str| format!("{}{base}", args.prefix);
    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", args.bootstrap_server.as_str()),
        ("group.id", &name("order-processor")),
        ("isolation.level", "read_committed"), // only other transactions' committed orders
        ("enable.auto.commit", "false"),       // the transactions commit the offsets
        ("auto.offset.reset", "earliest"),
    ])?)
    .await?;
    let producer = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", args.bootstrap_server.as_str()),
        ("transactional.id", args.transactional_id.as_str()),
    ])?)
    .await?;
    producer.init_transactions().await?; // fences older instances, ends their transaction
    consumer.subscribe([name("orders")]).await?;
    let outputs = [name("orders-processed"), name("order-notifications")];
    let mut done = 0;
    loop {
        let orders = consumer.poll(Duration::from_secs(10)).await?;
        if orders.is_empty() {
            break;
        }
        producer.begin_transaction()?;
        match process((&consumer, &producer), &orders, &outputs).await {
            Ok(()) => done += orders.len(),
            Err(e) if e.is_fatal() => return Err(e.into()), // fenced: a newer instance runs
            Err(e) => {
                eprintln!("order_processor: aborting {} orders: {e}", orders.len());
                // Refused after a commit of unknown outcome (never aborted): the run ends.
                producer.abort_transaction().await?;
                // Read the aborted orders again: back to each partition's first of them.
                for o in orders.iter().rev() {
                    let tp = TopicPartition::new(&*o.topic, o.partition);
                    consumer.seek(&tp, o.offset).await?;
                }
            }
        }
    }
    producer.close(Duration::from_secs(10)).await;
    consumer.close().await?;
    println!("processed {done} orders");
    Ok(())
}

/// Writes both outputs of every order and the offsets after them, and commits.
async fn process(
    (c, p): (&Consumer, &Producer),
    orders: &[ConsumerRecord],
    [processed, notifications]: &[String; 2],
) -> kafkit::Result<()> {
    let mut next: HashMap<TopicPartition, OffsetAndMetadata> = HashMap::new();
    for order in orders {
        let body = String::from_utf8_lossy(order.value.as_deref().unwrap_or_default());
        for (topic, done) in [(processed, "processed"), (notifications, "confirmed")] {
            let mut out = ProducerRecord::new(topic.as_str(), format!("{body} {done}"));
            out.key = order.key.clone(); // the order's key: its partition, in order
            drop(p.send(out).await?); // no need to await delivery: the commit fails if it did
        }
        let tp = TopicPartition::new(&*order.topic, order.partition);
        next.insert(tp, OffsetAndMetadata::new(order.offset + 1));
    }
    let group = c.group_metadata()?; // the generation: a fenced member's offsets are refused
    p.send_offsets_to_transaction(next, &group).await?;
    p.commit_transaction().await // flushes first; fails if a record failed
}
