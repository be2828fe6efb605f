//! Static membership under KIP-848 (`group.instance.id`): a static member leaves with
//! member epoch -2, so the group coordinator keeps its place and its partitions for the
//! session timeout. Restarted within it (a new consumer, a new member id, the same instance
//! id), it gets the same partitions back, and the other members' assignments never move.
//! The control: a dynamic member leaves with epoch -1, and its partitions go to the others
//! at once.

use crate::common::*;
use crate::support::*;
use kafkit::{Admin, ClientConfig, Consumer};
use kafkit_testkit::KafkaCluster;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
/// The broker's session timeout: long enough that the restart below fits well inside it.
const SESSION: Duration = Duration::from_secs(20);

/// A static member polling on its own task, its hooks feeding the ledger.
struct StaticMember {
    consumer: Consumer,
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl StaticMember {
    async fn start(bootstrap: &str, group: &str, topic: &str, ledger: &Ledger) -> StaticMember {
        let mut config = member_config(bootstrap, group);
        config.group_instance_id = Some("s1".into());
        let consumer = Consumer::new(config).await.unwrap();
        consumer.set_rebalance_listener(Hooks {
            name: "s1".into(),
            ledger: ledger.clone(),
        });
        consumer.subscribe([topic]).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, flag) = (consumer.clone(), stop.clone());
        let handle = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                if let Err(e) = c.poll(Duration::from_millis(200)).await {
                    panic!("s1's poll failed: {e:?}");
                }
            }
        });
        StaticMember {
            consumer,
            stop,
            handle,
        }
    }

    /// Stops polling, then closes: revoke hook, leave heartbeat (epoch -2).
    async fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap();
        self.consumer.close().await.unwrap();
    }
}

/// Samples the dynamic members' partitions every 50 ms and keeps every change.
fn watch_moves(
    ledger: &Ledger,
    members: &[&str],
    stop: &Arc<AtomicBool>,
) -> Arc<Mutex<Vec<String>>> {
    let moves = Arc::new(Mutex::new(Vec::new()));
    let (ledger, flag, out) = (ledger.clone(), stop.clone(), moves.clone());
    let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    let first: BTreeMap<String, BTreeSet<i32>> = members
        .iter()
        .map(|m| (m.clone(), ledger.owned_by(m)))
        .collect();
    tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            for m in &members {
                let now = ledger.owned_by(m);
                if now != first[m] {
                    out.lock()
                        .unwrap()
                        .push(format!("{m}: {:?} became {now:?}", first[m]));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    moves
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarted_within_the_session_gets_its_partitions_back() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_with(
        KafkaCluster::builder()
            .property("group.consumer.min.session.timeout.ms", "3000")
            .property(
                "group.consumer.session.timeout.ms",
                SESSION.as_millis().to_string(),
            )
            .property("group.consumer.min.heartbeat.interval.ms", "500")
            .property("group.consumer.heartbeat.interval.ms", "500"),
    )
    .await;
    let topic = broker.create_topic("kip848-static", PARTITIONS).await;
    let group = topic.clone();
    let ledger = Ledger::default();
    let m0 = Running::start(&broker.bootstrap, &group, &topic, "m0", &ledger).await;
    let m1 = Running::start(&broker.bootstrap, &group, &topic, "m1", &ledger).await;
    let s1 = StaticMember::start(&broker.bootstrap, &group, &topic, &ledger).await;
    let shares_of_two = || {
        ["m0", "m1", "s1"]
            .iter()
            .all(|m| ledger.owned_by(m).len() == 2)
    };
    wait_until(
        "two partitions each",
        Duration::from_secs(60),
        shares_of_two,
    )
    .await;
    // Settled: the shares hold for a few heartbeats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(shares_of_two(), "the shares moved after settling");
    let before = ledger.owned_by("s1");
    log(
        t0,
        format!(
            "m0 {:?}, m1 {:?}, s1 {before:?}",
            ledger.owned_by("m0"),
            ledger.owned_by("m1")
        ),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let moves = watch_moves(&ledger, &["m0", "m1"], &stop);
    s1.close().await;
    let closed = Instant::now();
    log(t0, "s1 closed (leave heartbeat, epoch -2)");
    // Long enough for a dynamic member's partitions to have moved (see the control below).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let admin = Admin::new(ClientConfig::new(&broker.bootstrap))
        .await
        .unwrap();
    let described = admin.describe_consumer_groups([&group]).await.unwrap()[&group]
        .clone()
        .unwrap();
    let kept = described
        .members
        .iter()
        .find(|m| m.group_instance_id.as_deref() == Some("s1"))
        .unwrap_or_else(|| panic!("s1 is no longer in the group: {described:#?}"));
    let kept_partitions: BTreeSet<i32> = kept.assignment.iter().map(|tp| tp.partition).collect();
    log(
        t0,
        format!(
            "while s1 is away the group keeps it: epoch {:?}, partitions {kept_partitions:?}",
            kept.member_epoch
        ),
    );
    assert_eq!(
        kept_partitions, before,
        "the coordinator kept s1's partitions"
    );

    let s1 = StaticMember::start(&broker.bootstrap, &group, &topic, &ledger).await;
    wait_until("s1 back with partitions", Duration::from_secs(30), || {
        !ledger.owned_by("s1").is_empty()
    })
    .await;
    let away = closed.elapsed();
    log(t0, format!("s1 restarted, away {away:.1?}"));
    assert!(away < SESSION, "the restart took longer than the session");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(ledger.owned_by("s1"), before, "s1 got other partitions");
    let moves = moves.lock().unwrap().clone();
    assert!(
        moves.is_empty(),
        "the others' assignments moved: {moves:#?}"
    );
    ledger.assert_clean();

    // Control: a dynamic member that closes hands its partitions over at once.
    let handed = ledger.owned_by("m1");
    m1.close().await;
    let left = Instant::now();
    wait_until(
        "m1's partitions with the others",
        Duration::from_secs(30),
        || {
            let others: BTreeSet<i32> = ledger
                .owned_by("m0")
                .union(&ledger.owned_by("s1"))
                .copied()
                .collect();
            handed.is_subset(&others)
        },
    )
    .await;
    log(
        t0,
        format!(
            "control: dynamic m1 closed, its partitions moved within {:.1?}",
            left.elapsed()
        ),
    );
    assert!(
        left.elapsed() < Duration::from_secs(4),
        "the 4 s s1 was away would not have shown a move"
    );
    m0.close().await;
    s1.close().await;
    ledger.assert_clean();
}
