//! A member SIGKILLed while processing (it has written records it has not committed): after
//! its session times out the others take its partitions from its last commit, so every
//! record produced appears in some member's output. Duplicates (the killed member's
//! uncommitted batch) are allowed and reported. Run with each group protocol: with the
//! consumer protocol the 3 s session is the broker's, which fences the silent member.

use crate::common::*;
use crate::support::*;
use kafkit::GroupProtocol;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_sigkilled_mid_batch_loses_nothing() {
    member_sigkilled_mid_batch(GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_sigkilled_mid_batch_loses_nothing_consumer_protocol() {
    member_sigkilled_mid_batch(GroupProtocol::Consumer).await;
}

async fn member_sigkilled_mid_batch(protocol: GroupProtocol) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker(protocol, 3000).await;
    let topic = broker.create_topic("gf-sigkill", 6).await;
    let args = MemberArgs::new(&broker, protocol, &topic, "gf-sigkill", 3000, 100);
    let mut members = Vec::new();
    for i in 0..3 {
        members.push(Member::start(&args, &format!("m{i}")).await);
    }
    log(
        t0,
        format!(
            "broker up, 3 members started, output in {}",
            args.dir.display()
        ),
    );
    wait_until(
        "all three members assigned",
        Duration::from_secs(30),
        || members.iter().all(|m| m.owned().is_some()),
    )
    .await;
    log(t0, "all assigned; producing 3000 records over ~10 s");
    let producer = produce_paced(&broker.bootstrap, &topic, "v", 3000, 300);
    wait_until("m0 consumed 200 records", Duration::from_secs(30), || {
        members[0].records().len() >= 200
    })
    .await;
    let victim_share = members[0].owned().unwrap();
    members[0].kill();
    log(t0, format!("SIGKILLed m0 (partitions {victim_share:?})"));
    let produced = producer.await.unwrap();
    log(t0, format!("{} records acknowledged", produced.len()));
    assert_eq!(produced.len(), 3000, "the producer lost acknowledgements");
    let all: Vec<&Member> = members.iter().collect();
    let dups = assert_all_consumed(t0, &produced, &all, Duration::from_secs(60)).await;
    // The survivors took the victim's partitions.
    let taken: std::collections::BTreeSet<i32> = members[1..]
        .iter()
        .filter_map(Member::owned)
        .flatten()
        .collect();
    assert!(
        victim_share.is_subset(&taken),
        "the killed member's partitions {victim_share:?} were not taken over: {taken:?}"
    );
    log(t0, format!("duplicates after the kill: {dups}"));
}
