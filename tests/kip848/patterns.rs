//! Pattern subscriptions under `group.protocol=consumer`, both kinds Java's client has:
//! `subscribe_pattern` (the client matches, the broker is told topic names) and
//! `subscribe_broker_pattern` (the RE2J pattern goes in the heartbeat as
//! `SubscribedTopicRegex` and the group coordinator matches). For each, a topic created
//! after subscribing is consumed and a topic that does not match is not. A pattern the
//! broker cannot compile is `INVALID_REGULAR_EXPRESSION` from `poll`, and a valid
//! subscription afterwards recovers; the classic protocol refuses a broker pattern.

use crate::common::*;
use crate::support::*;
use kafkit::{Consumer, Error, ErrorCode, GroupProtocol};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Records a consumer polled: (topic, value).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Polls `consumer` on a task until stopped, keeping every record; a failed poll fails the
/// test.
fn keep_polling(
    consumer: &Consumer,
    stop: &Arc<AtomicBool>,
) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let (c, s, flag) = (consumer.clone(), seen.clone(), stop.clone());
    let handle = tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            let records = c
                .poll(Duration::from_millis(200))
                .await
                .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
            let mut s = s.lock().unwrap();
            for r in &records {
                s.push((r.topic.to_string(), value_of(r)));
            }
        }
    });
    (seen, handle)
}

fn topics_seen(seen: &Seen) -> BTreeSet<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect()
}

fn count_from(seen: &Seen, topic: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == topic)
        .count()
}

/// One pattern subscription's run: `{base}-a` exists before subscribing, `{base}-b` is
/// created after the member consumed `-a`, and `{base}x-c` never matches. Every record of
/// `-a` and `-b` arrives once; nothing of `x-c` does.
async fn new_topics_join(broker: &Broker, base: &str, subscribe: Subscribe, t0: Instant) {
    let (a, b, other) = (
        format!("{base}-a"),
        format!("{base}-b"),
        format!("{base}x-c"),
    );
    create_topic(&broker.bootstrap, &a, 2).await;
    create_topic(&broker.bootstrap, &other, 1).await;
    produce_values(&broker.bootstrap, &a, "a", 0..50).await;
    produce_values(&broker.bootstrap, &other, "c", 0..10).await;
    let mut config = member_config(&broker.bootstrap, base);
    // The client-side pattern's lookups: often, so the test need not wait minutes. The
    // broker pattern must not depend on them: the default, 5 minutes.
    config.client.metadata_max_age = match subscribe {
        Subscribe::Client => Duration::from_secs(1),
        Subscribe::Broker => Duration::from_secs(300),
    };
    let consumer = Consumer::new(config).await.unwrap();
    let pattern = format!("{base}-.*");
    match subscribe {
        Subscribe::Client => consumer.subscribe_pattern(&pattern).await.unwrap(),
        Subscribe::Broker => consumer.subscribe_broker_pattern(&pattern).await.unwrap(),
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (seen, handle) = keep_polling(&consumer, &stop);
    wait_until(&format!("{a} consumed"), Duration::from_secs(60), || {
        count_from(&seen, &a) >= 50
    })
    .await;
    log(t0, format!("{subscribe:?}: {a} consumed; creating {b}"));
    create_topic(&broker.bootstrap, &b, 3).await;
    produce_values(&broker.bootstrap, &b, "b", 0..60).await;
    let created = Instant::now();
    wait_until(
        &format!("{b}, created after subscribing, consumed"),
        Duration::from_secs(90),
        || count_from(&seen, &b) >= 60,
    )
    .await;
    log(
        t0,
        format!(
            "{subscribe:?}: {b} consumed {:.1}s after its creation",
            created.elapsed().as_secs_f64()
        ),
    );
    // Whatever else was on its way.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    assert_eq!(
        topics_seen(&seen),
        BTreeSet::from([a.clone(), b.clone()]),
        "only the matching topics"
    );
    assert_eq!(
        (count_from(&seen, &a), count_from(&seen, &b)),
        (50, 60),
        "each record once"
    );
    let assigned: BTreeSet<(String, i32)> = consumer
        .assignment()
        .await
        .into_iter()
        .map(|tp| (tp.topic, tp.partition))
        .collect();
    let expected: BTreeSet<(String, i32)> = (0..2)
        .map(|p| (a.clone(), p))
        .chain((0..3).map(|p| (b.clone(), p)))
        .collect();
    assert_eq!(assigned, expected);
    consumer.close().await.unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Subscribe {
    /// `subscribe_pattern`: the client matches.
    Client,
    /// `subscribe_broker_pattern`: the group coordinator matches.
    Broker,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_broker_patterns_take_in_topics_created_later() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    log(t0, "broker up");
    new_topics_join(&broker, &topic("kip848-client-re"), Subscribe::Client, t0).await;
    new_topics_join(&broker, &topic("kip848-broker-re"), Subscribe::Broker, t0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_the_broker_cannot_compile_is_a_typed_error_from_poll() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-bad-re", 1).await;
    produce_values(&broker.bootstrap, &topic, "v", 0..5).await;
    let group = topic.clone();
    let consumer = Consumer::new(member_config(&broker.bootstrap, &group))
        .await
        .unwrap();
    // An unclosed class: no RE2J (nor any) syntax takes it. kafkit does not judge it.
    consumer
        .subscribe_broker_pattern("kip848-bad-re-[")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = loop {
        match consumer.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "records without a valid subscription"),
        }
        assert!(Instant::now() < deadline, "no error from poll within 30 s");
    };
    log(t0, format!("poll: {error}"));
    match &error {
        Error::Broker { code, context, .. } => {
            assert_eq!(*code, ErrorCode::INVALID_REGULAR_EXPRESSION);
            assert!(
                context.contains("kip848-bad-re-["),
                "names the pattern: {context}"
            );
            assert!(context.contains("subscribe_broker_pattern"), "{context}");
        }
        other => panic!("not the broker's refusal: {other:?}"),
    }
    // It stays until the application subscribes again.
    let again = consumer.poll(Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::INVALID_REGULAR_EXPRESSION));
    consumer
        .subscribe_broker_pattern(&format!("{topic}.*"))
        .await
        .unwrap();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < 5 {
        got += consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .len();
        assert!(
            Instant::now() < deadline,
            "a valid pattern did not recover: {got} records"
        );
    }
    log(t0, "a valid pattern afterwards consumes");
    consumer.close().await.unwrap();

    // The classic protocol has no field for it: a typed refusal, before anything is sent.
    let mut classic = member_config(&broker.bootstrap, &group);
    classic.group_protocol = GroupProtocol::Classic;
    let classic = Consumer::new(classic).await.unwrap();
    match classic.subscribe_broker_pattern("t.*").await {
        Err(Error::Config(message)) => {
            assert!(message.contains("group.protocol=consumer"), "{message}")
        }
        other => panic!("classic took a broker pattern: {other:?}"),
    }
    let empty = Consumer::new(member_config(&broker.bootstrap, &group))
        .await
        .unwrap();
    assert!(matches!(
        empty.subscribe_broker_pattern("").await,
        Err(Error::Config(_))
    ));
}
