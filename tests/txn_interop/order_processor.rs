//! `examples/order_processor`: every order comes out once on each of its two output topics,
//! in its key's order, and its offsets are committed with them (a second run finds nothing
//! left to do).

use crate::common::{check_copy, read_committed};
use crate::support::{bootstrap, create_topic, example_binary, produce, read_all};
use kafkit::ProducerRecord;
use kafkit_testkit::unique_name;
use tokio::process::Command;

const PARTITIONS: i32 = 3;
const ORDERS: usize = 600;

async fn run_processor(bootstrap: &str, prefix: &str) -> String {
    let bin = tokio::task::spawn_blocking(|| example_binary("order_processor"))
        .await
        .unwrap();
    let out = Command::new(bin)
        .args(["--bootstrap-server", bootstrap, "--prefix", prefix])
        .args(["--transactional-id", &unique_name("order-processor")])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "order_processor failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_processor_writes_each_order_once_to_both_topics() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    let prefix = unique_name("op") + "-";
    for t in ["orders", "orders-processed", "order-notifications"] {
        create_topic(&bootstrap, &format!("{prefix}{t}"), PARTITIONS).await;
    }
    let orders_topic = format!("{prefix}orders");
    let orders = (0..ORDERS).map(|i| {
        ProducerRecord::new(orders_topic.as_str(), format!("order-{i}"))
            .key(format!("customer-{}", i % 7))
    });
    produce(&bootstrap, orders).await;
    let input = read_all(&bootstrap, &orders_topic, PARTITIONS).await;

    assert_eq!(
        run_processor(&bootstrap, &prefix).await,
        format!("processed {ORDERS} orders")
    );
    for (topic, suffix) in [
        ("orders-processed", " processed"),
        ("order-notifications", " confirmed"),
    ] {
        let mut output = read_committed(&bootstrap, &format!("{prefix}{topic}"), PARTITIONS).await;
        for r in &mut output {
            let value = String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec()).unwrap();
            let order = value
                .strip_suffix(suffix)
                .unwrap_or_else(|| panic!("{topic}: {value:?}"));
            r.value = Some(order.to_string().into());
        }
        let report = check_copy(&input, &output);
        assert!(report.is_clean(), "{topic}: {report}");
    }
    // The offsets went with the transactions: nothing is left for the group.
    assert_eq!(
        run_processor(&bootstrap, &prefix).await,
        "processed 0 orders"
    );
}
