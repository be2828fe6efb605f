//! The KIP-848 membership, transition by transition, under paused time (the heartbeat
//! schedule is the broker's interval).

use super::*;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn tp(topic: u128, partition: i32) -> IdPartition {
    (Uuid::from_u128(topic), partition)
}

fn topics(names: &[&str]) -> Subscription {
    Subscription::Topics(names.iter().map(|n| n.to_string()).collect())
}

fn set(partitions: &[IdPartition]) -> BTreeSet<IdPartition> {
    partitions.iter().copied().collect()
}

fn answered(seq: u64, epoch: i32, interval: Duration, assignment: Option<&[IdPartition]>) -> Event {
    Event::Answered {
        seq,
        member_id: None,
        epoch,
        interval,
        assignment: assignment.map(set),
    }
}

fn failed(seq: u64, code: ErrorCode) -> Event {
    Event::Failed {
        seq,
        error: Error::broker(code, "test"),
        retry_in: SEC,
    }
}

fn name(m: &ConsumerMember) -> &'static str {
    match m.phase() {
        Phase::Unsubscribed => "Unsubscribed",
        Phase::Joining => "Joining",
        Phase::Stable => "Stable",
        Phase::Reconciling { handed: false } => "Reconciling",
        Phase::Reconciling { handed: true } => "Reconciling(handed)",
        Phase::Fenced { .. } => "Fenced",
        Phase::Leaving => "Leaving",
        Phase::Failed { .. } => "Failed",
    }
}

/// A member that joined with epoch `epoch` and owns (and acknowledged) `owned`.
fn stable(owned: &[IdPartition]) -> ConsumerMember {
    let mut m = ConsumerMember::new("m1".into(), false);
    m.apply(Event::Subscribed(topics(&["t"])));
    let b = m.beat();
    m.apply(answered(b.seq, 1, 5 * SEC, Some(owned)));
    if !owned.is_empty() {
        m.apply(Event::ReconcileStarted);
        m.apply(Event::Reconciled(set(owned)));
        let b = m.beat();
        m.apply(answered(b.seq, 1, 5 * SEC, None));
    }
    assert_eq!(name(&m), "Stable");
    m
}

#[tokio::test(start_paused = true)]
async fn join_sends_every_field_with_epoch_zero_at_once() {
    let mut m = ConsumerMember::new("m1".into(), false);
    assert_eq!(m.due(), Due::Idle, "unsubscribed: nothing to send");
    m.apply(Event::Subscribed(topics(&["a", "b"])));
    assert_eq!(name(&m), "Joining");
    assert_eq!(m.due(), Due::Now);
    let b = m.beat();
    assert_eq!(
        b,
        Beat {
            seq: 1,
            member_id: "m1".into(),
            epoch: 0,
            full: true,
            subscription: Some(topics(&["a", "b"])),
            owned: Some(vec![]),
        }
    );
    assert_eq!(m.due(), Due::Idle, "one heartbeat in flight at a time");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_follow_the_interval_the_broker_names() {
    let mut m = stable(&[]);
    let start = Instant::now();
    assert_eq!(m.due(), Due::At(start + 5 * SEC));
    tokio::time::advance(5 * SEC).await;
    let b = m.beat();
    // Nothing changed: an incremental heartbeat, unchanged fields null.
    assert_eq!(
        (b.epoch, b.full, b.subscription, b.owned),
        (1, false, None, None)
    );
    m.apply(answered(b.seq, 1, 2 * SEC, None));
    assert_eq!(
        m.due(),
        Due::At(Instant::now() + 2 * SEC),
        "the new interval"
    );
}

#[tokio::test(start_paused = true)]
async fn reconciliation_is_acknowledged_in_the_next_heartbeat_at_once() {
    let mut m = stable(&[tp(1, 0)]);
    let b = m.beat();
    m.apply(answered(b.seq, 2, 5 * SEC, Some(&[tp(1, 1)])));
    assert_eq!(name(&m), "Reconciling");
    assert_eq!(m.epoch(), 2, "commits carry the new epoch");
    assert_eq!(m.reconciliation(), Some(&set(&[tp(1, 1)])));
    m.apply(Event::ReconcileStarted);
    assert_eq!(m.reconciliation(), None, "handed to poll once");
    // Heartbeats go on while poll reconciles, and say nothing new.
    let at = match m.due() {
        Due::At(at) => at,
        other => panic!("{other:?}"),
    };
    assert_eq!(at, Instant::now() + 5 * SEC);
    m.apply(Event::Reconciled(set(&[tp(1, 1)])));
    assert_eq!(name(&m), "Stable");
    assert_eq!(m.due(), Due::Now, "the acknowledgement goes at once");
    let b = m.beat();
    assert_eq!((b.full, b.owned), (false, Some(vec![tp(1, 1)])));
    m.apply(answered(b.seq, 2, 5 * SEC, None));
    assert!(matches!(m.due(), Due::At(_)));
}

#[tokio::test(start_paused = true)]
async fn an_assignment_arriving_during_reconciliation_is_reconciled_next() {
    let mut m = stable(&[tp(1, 0), tp(1, 1)]);
    let b = m.beat();
    m.apply(answered(b.seq, 2, 5 * SEC, Some(&[tp(1, 0)])));
    m.apply(Event::ReconcileStarted);
    tokio::time::advance(5 * SEC).await;
    let b = m.beat();
    m.apply(answered(b.seq, 3, 5 * SEC, Some(&[tp(1, 0), tp(1, 2)])));
    assert_eq!(name(&m), "Reconciling(handed)");
    m.apply(Event::Reconciled(set(&[tp(1, 0)])));
    assert_eq!(name(&m), "Reconciling");
    assert_eq!(m.reconciliation(), Some(&set(&[tp(1, 0), tp(1, 2)])));
}

#[tokio::test(start_paused = true)]
async fn every_transition() {
    use ErrorCode as E;
    fn reconciling() -> ConsumerMember {
        let mut m = stable(&[]);
        let b = m.beat();
        m.apply(answered(b.seq, 2, 5 * SEC, Some(&[tp(1, 0)])));
        m
    }
    fn in_flight() -> ConsumerMember {
        let mut m = stable(&[]);
        m.beat();
        m
    }
    fn fenced() -> ConsumerMember {
        let mut m = in_flight();
        m.apply(failed(m.seq, ErrorCode::FENCED_MEMBER_EPOCH));
        m
    }
    type Case = (
        &'static str,
        fn() -> ConsumerMember,
        fn(&ConsumerMember) -> Event,
        &'static str,
    );
    #[rustfmt::skip]
    let table: Vec<Case> = vec![
        ("subscribe joins", || ConsumerMember::new("m".into(), false),
         |_| Event::Subscribed(topics(&["t"])), "Joining"),
        ("an empty subscription joins nothing", || ConsumerMember::new("m".into(), false),
         |_| Event::Subscribed(topics(&[])), "Unsubscribed"),
        ("a broker pattern joins, whatever it matches now",
         || ConsumerMember::new("m".into(), false),
         |_| Event::Subscribed(Subscription::Pattern("t-.*".into())), "Joining"),
        ("a new subscription while stable stays stable", || stable(&[]),
         |_| Event::Subscribed(topics(&["u"])), "Stable"),
        ("the first answer with nothing assigned: stable", || {
            let mut m = ConsumerMember::new("m".into(), false);
            m.apply(Event::Subscribed(topics(&["t"])));
            m.beat();
            m
        }, |m| answered(m.seq, 1, SEC, Some(&[])), "Stable"),
        ("the first answer with partitions: reconciling", || {
            let mut m = ConsumerMember::new("m".into(), false);
            m.apply(Event::Subscribed(topics(&["t"])));
            m.beat();
            m
        }, |m| answered(m.seq, 1, SEC, Some(&[tp(1, 0)])), "Reconciling"),
        ("a stale answer changes nothing", in_flight,
         |m| answered(m.seq + 7, 9, SEC, Some(&[tp(1, 0)])), "Stable"),
        ("FENCED_MEMBER_EPOCH fences", in_flight,
         |m| failed(m.seq, E::FENCED_MEMBER_EPOCH), "Fenced"),
        ("UNKNOWN_MEMBER_ID fences", in_flight,
         |m| failed(m.seq, E::UNKNOWN_MEMBER_ID), "Fenced"),
        ("fenced while reconciling", || {
            let mut m = reconciling();
            m.beat();
            m
        }, |m| failed(m.seq, E::FENCED_MEMBER_EPOCH), "Fenced"),
        ("GROUP_MAX_SIZE_REACHED fails", in_flight,
         |m| failed(m.seq, E::GROUP_MAX_SIZE_REACHED), "Failed"),
        ("UNSUPPORTED_ASSIGNOR fails", in_flight,
         |m| failed(m.seq, E::UNSUPPORTED_ASSIGNOR), "Failed"),
        ("INVALID_REGULAR_EXPRESSION fails", in_flight,
         |m| failed(m.seq, E::INVALID_REGULAR_EXPRESSION), "Failed"),
        ("a broker without KIP-848 fails", in_flight, |m| Event::Failed {
            seq: m.seq,
            error: Error::UnsupportedVersion {
                api: "ConsumerGroupHeartbeat",
                broker: "b".into(),
                ours: "1..=1".into(),
                theirs: "none".into(),
            },
            retry_in: SEC,
        }, "Failed"),
        ("a moved coordinator is retried", in_flight,
         |m| failed(m.seq, E::NOT_COORDINATOR), "Stable"),
        ("the loss reported: join again", fenced, |_| Event::LossReported, "Joining"),
        ("no loss to report", || stable(&[]), |_| Event::LossReported, "Stable"),
        ("no poll in time: fenced", || stable(&[]),
         |_| Event::PollTimedOut { reason: "no poll".into() }, "Fenced"),
        ("a reconciliation result after a loss is ignored", fenced,
         |_| Event::Reconciled(set(&[tp(1, 0)])), "Fenced"),
        ("subscribing again after a failure joins", || {
            let mut m = in_flight();
            m.apply(failed(m.seq, E::GROUP_MAX_SIZE_REACHED));
            m
        }, |_| Event::Subscribed(topics(&["t"])), "Joining"),
    ];
    for (case, before, event, after) in table {
        let mut m = before();
        let e = event(&m);
        m.apply(e);
        assert_eq!(name(&m), after, "{case}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_subscription_goes_at_once_and_then_as_null() {
    let mut m = stable(&[tp(1, 0)]);
    let pattern = Subscription::Pattern("t-.*".into());
    m.apply(Event::Subscribed(pattern.clone()));
    assert_eq!(name(&m), "Stable", "the broker decides what moves");
    assert_eq!(m.due(), Due::Now, "news goes at once");
    let b = m.beat();
    assert_eq!((b.full, b.subscription), (false, Some(pattern.clone())));
    m.apply(answered(b.seq, 2, 5 * SEC, None));
    tokio::time::advance(5 * SEC).await;
    let b = m.beat();
    assert_eq!(b.subscription, None, "unchanged: null");
    // Back to names: said once more, then null again.
    m.apply(answered(b.seq, 2, 5 * SEC, None));
    m.apply(Event::Subscribed(topics(&["t"])));
    let b = m.beat();
    assert_eq!(b.subscription, Some(topics(&["t"])));
}

#[tokio::test(start_paused = true)]
async fn fenced_members_rejoin_with_epoch_zero_and_a_full_heartbeat() {
    let mut m = stable(&[tp(1, 0)]);
    let b = m.beat();
    m.apply(failed(b.seq, ErrorCode::FENCED_MEMBER_EPOCH));
    assert!(m.lost().unwrap().contains("FENCED_MEMBER_EPOCH"));
    assert_eq!(
        m.due(),
        Due::Idle,
        "no heartbeat before poll reports the loss"
    );
    m.apply(Event::LossReported);
    assert_eq!(m.due(), Due::Now);
    let b = m.beat();
    assert_eq!(
        (b.member_id.as_str(), b.epoch, b.full, b.owned),
        ("m1", 0, true, Some(vec![]))
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_heartbeat_backs_off_then_sends_every_field() {
    let mut m = stable(&[tp(1, 0)]);
    let b = m.beat();
    m.apply(Event::Failed {
        seq: b.seq,
        error: Error::Connection {
            broker: "b".into(),
            reason: "reset".into(),
            source: None,
        },
        retry_in: SEC,
    });
    assert_eq!(
        m.due(),
        Due::At(Instant::now() + SEC),
        "backoff, news or not"
    );
    tokio::time::advance(SEC).await;
    let b = m.beat();
    assert_eq!(
        (b.epoch, b.full, b.subscription, b.owned),
        (1, true, Some(topics(&["t"])), Some(vec![tp(1, 0)]))
    );
}

#[tokio::test(start_paused = true)]
async fn failures_carry_the_error_for_poll() {
    let mut m = stable(&[]);
    let b = m.beat();
    m.apply(failed(b.seq, ErrorCode::GROUP_MAX_SIZE_REACHED));
    assert_eq!(
        m.failure().and_then(|e| e.code()),
        Some(ErrorCode::GROUP_MAX_SIZE_REACHED)
    );
    assert_eq!(m.due(), Due::Idle);
}

#[tokio::test(start_paused = true)]
async fn leaving_uses_epoch_minus_one_or_minus_two_for_static_members() {
    let mut m = stable(&[tp(1, 0)]);
    assert_eq!(m.leave(), Some(("m1".into(), -1)));
    assert_eq!((name(&m), m.epoch(), m.due()), ("Leaving", 0, Due::Idle));
    m.apply(Event::Left);
    assert_eq!(name(&m), "Unsubscribed");

    let mut s = ConsumerMember::new("s1".into(), true);
    s.apply(Event::Subscribed(topics(&["t"])));
    let b = s.beat();
    s.apply(answered(b.seq, 4, SEC, Some(&[])));
    assert_eq!(s.leave(), Some(("s1".into(), -2)));

    // Never joined: nothing to leave.
    let mut n = ConsumerMember::new("n".into(), false);
    assert_eq!(n.leave(), None);
    assert_eq!(name(&n), "Unsubscribed");
    // An answer to a heartbeat sent before the leave is ignored.
    let mut r = stable(&[]);
    let b = r.beat();
    r.leave();
    r.apply(answered(b.seq, 5, SEC, Some(&[tp(1, 0)])));
    assert_eq!((name(&r), r.epoch()), ("Leaving", 0));
}
