//! Static membership (KIP-345): a member with `group.instance.id` stopped and restarted
//! within its session timeout takes its old place without a rebalance. The other members'
//! hooks are not called again and the restarted member gets the partitions it had.
//!
//! With the classic protocol the member is SIGKILLed: a JoinGroup with a known instance id
//! replaces whoever held it. With the consumer protocol (KIP-848) the coordinator refuses a
//! join with an instance id a member still holds (`UNRELEASED_INSTANCE_ID`, fatal in kafkit
//! as in Java) until the holder leaves with epoch -2 or its session (the broker's 15 s here)
//! expires, so the member closes (SIGTERM), which leaves with -2 and keeps its partitions
//! unassigned for it until the session ends.

use crate::common::*;
use crate::support::*;
use kafkit::GroupProtocol;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_within_session_causes_no_rebalance() {
    static_member_restart_within_session(GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_within_session_causes_no_rebalance_consumer_protocol() {
    static_member_restart_within_session(GroupProtocol::Consumer).await;
}

async fn static_member_restart_within_session(protocol: GroupProtocol) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker(protocol, 15000).await;
    let topic = broker.create_topic("gf-static", 6).await;
    let base = MemberArgs::new(&broker, protocol, &topic, "gf-static", 15000, 20);
    let dir = base.dir.clone();
    let args = |i: usize| MemberArgs {
        instance_id: Some(format!("instance-{i}")),
        ..base.clone()
    };
    let mut members = Vec::new();
    for i in 0..3 {
        members.push(Member::start(&args(i), &format!("m{i}")).await);
    }
    log(
        t0,
        format!("broker up, 3 static members, output in {}", dir.display()),
    );
    wait_until("all three assigned", Duration::from_secs(30), || {
        members.iter().all(|m| m.owned().is_some())
    })
    .await;
    // Settled: no hook call for 2 s.
    let mut last = 0;
    let mut quiet_since = Instant::now();
    wait_until("the group settles", Duration::from_secs(30), || {
        let n: usize = members.iter().map(|m| m.events().len()).sum();
        if n != last {
            last = n;
            quiet_since = Instant::now();
        }
        quiet_since.elapsed() > Duration::from_secs(2)
    })
    .await;
    let shares: Vec<_> = members.iter().map(|m| m.owned().unwrap()).collect();
    let events_before: Vec<usize> = members.iter().map(|m| m.events().len()).collect();
    log(t0, format!("settled: {shares:?}"));
    let producer = produce_paced(&broker.bootstrap, &topic, "v", 1000, 200);

    let how = if protocol == GroupProtocol::Consumer {
        members[1].terminate().await;
        "closed (leave with epoch -2)"
    } else {
        members[1].kill();
        "SIGKILLed"
    };
    let restarted = Member::start(&args(1), "m1-restarted").await;
    log(
        t0,
        format!("m1 {how} and restarted with the same group.instance.id"),
    );
    wait_until(
        "the restarted member is assigned",
        Duration::from_secs(14),
        || restarted.owned().is_some(),
    )
    .await;
    log(
        t0,
        format!("restarted member assigned {:?}", restarted.owned()),
    );
    let produced = producer.await.unwrap();
    let all = [&members[0], &members[1], &members[2], &restarted];
    let dups = assert_all_consumed(t0, &produced, &all, Duration::from_secs(30)).await;
    for i in [0, 2] {
        let new: Vec<String> = members[i].events()[events_before[i]..].to_vec();
        assert!(
            new.is_empty(),
            "m{i}'s hooks ran again after a static member's restart (a rebalance): {new:?}"
        );
    }
    assert_eq!(
        restarted.owned().unwrap(),
        shares[1],
        "the restarted static member gets its old partitions"
    );
    let restarted_events: Vec<String> = restarted
        .events()
        .into_iter()
        .filter(|e| !e.starts_with("started"))
        .collect();
    assert_eq!(
        restarted_events
            .iter()
            .filter(|e| e.starts_with("assigned"))
            .count(),
        1,
        "one assignment for the restarted member: {restarted_events:?}"
    );
    log(t0, format!("duplicates: {dups}"));
}
