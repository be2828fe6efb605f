//! A member frozen (SIGSTOP) past its session timeout while it holds uncommitted records,
//! then resumed (SIGCONT): the coordinator has removed it and given its partitions to the
//! other member, so its commit must be refused with a typed broker error (it cannot
//! overwrite the new owner's offsets), and it must report its partitions lost, not revoked.
//! Nothing produced is lost. Run with each group protocol: with the consumer protocol the
//! broker's 3 s session fences the frozen member, and its commit (with its old member
//! epoch) is refused with `STALE_MEMBER_EPOCH` or `UNKNOWN_MEMBER_ID`.

use crate::common::*;
use crate::support::*;
use kafkit::GroupProtocol;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_frozen_past_its_session_is_fenced() {
    member_frozen_past_its_session(GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_frozen_past_its_session_is_fenced_consumer_protocol() {
    member_frozen_past_its_session(GroupProtocol::Consumer).await;
}

async fn member_frozen_past_its_session(protocol: GroupProtocol) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker(protocol, 3000).await;
    let topic = broker.create_topic("gf-sigstop", 4).await;
    let args = MemberArgs::new(&broker, protocol, &topic, "gf-sigstop", 3000, 300);
    let frozen = Member::start(&args, "frozen").await;
    let other = Member::start(&args, "other").await;
    log(
        t0,
        format!("broker up, 2 members, output in {}", args.dir.display()),
    );
    wait_until("both members assigned", Duration::from_secs(30), || {
        frozen.owned().is_some() && other.owned().is_some()
    })
    .await;
    let producer = produce_paced(&broker.bootstrap, &topic, "v", 3000, 200);
    wait_until(
        "the frozen-to-be consumed 100 records",
        Duration::from_secs(30),
        || frozen.records().len() >= 100,
    )
    .await;
    // Let the other member settle into the same (stable) generation.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let share = frozen.owned().unwrap();
    frozen.signal("STOP");
    let events_at_stop = frozen.events().len();
    log(t0, format!("SIGSTOP (partitions {share:?}); 3 s session"));
    wait_until(
        "the other member takes every partition",
        Duration::from_secs(20),
        || other.owned().is_some_and(|a| a.len() == 4),
    )
    .await;
    log(t0, "the other member owns all 4 partitions; SIGCONT");
    frozen.signal("CONT");
    wait_until(
        "the resumed member reports lost",
        Duration::from_secs(20),
        || {
            frozen.events()[events_at_stop..]
                .iter()
                .any(|e| e.starts_with("lost"))
        },
    )
    .await;
    let after: Vec<String> = frozen.events()[events_at_stop..].to_vec();
    log(t0, format!("resumed member's events: {after:?}"));
    let lost_at = after.iter().position(|e| e.starts_with("lost")).unwrap();
    assert!(
        !after[..lost_at].iter().any(|e| e.starts_with("revoked")),
        "revoked before lost: the partitions were already someone else's: {after:?}"
    );
    assert_eq!(
        parse_list(after[lost_at].trim_start_matches("lost")),
        share,
        "lost names the partitions it had"
    );
    let refused = after[..lost_at]
        .iter()
        .find(|e| e.starts_with("commit-error"))
        .unwrap_or_else(|| {
            panic!("no commit was refused between the resume and the lost hook: {after:?}")
        });
    assert!(
        [
            "ILLEGAL_GENERATION",
            "UNKNOWN_MEMBER_ID",
            "REBALANCE_IN_PROGRESS",
            "FENCED_INSTANCE_ID",
            "STALE_MEMBER_EPOCH",
        ]
        .iter()
        .any(|code| refused.contains(code)),
        "the stale commit failed without a typed broker error: {refused}"
    );
    let produced = producer.await.unwrap();
    assert_eq!(produced.len(), 3000, "the producer lost acknowledgements");
    let dups =
        assert_all_consumed(t0, &produced, &[&frozen, &other], Duration::from_secs(60)).await;
    log(t0, format!("duplicates: {dups}"));
}
