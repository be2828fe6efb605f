//! `examples/consumer_groups` against a real broker, and its `--describe` against Java's
//! `kafka-consumer-groups.sh --describe` on the same group: the same rows, offsets and lag.

use crate::support::*;
use crate::{consume_and_commit, member_config};
use kafkit::{Admin, ClientConfig, Consumer, OffsetAndMetadata, TopicPartition};
use kafkit_testkit::java_tool;
use std::collections::BTreeSet;
use std::process::Command;

/// Runs a command to its end: (success, stdout, stderr).
async fn run(mut command: Command) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the tool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ours(bootstrap: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(example_binary("consumer_groups"));
    command.args(["--bootstrap-server", bootstrap]).args(args);
    run(command).await
}

async fn javas(bootstrap: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = tokio::task::spawn_blocking(|| {
        java_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
    })
    .await
    .unwrap()
    .expect("the Java tools");
    command.args(["--bootstrap-server", bootstrap]).args(args);
    run(command).await
}

/// The table rows of `--describe` (or `--reset-offsets`) output for `group`, as words.
fn rows(out: &str, group: &str) -> BTreeSet<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.first().map(String::as_str) == Some(group))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_describes_resets_and_deletes_like_javas_tool() {
    let (bootstrap, topic) = fresh_topic("admin-groups-tool", 2).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..40).await;
    let tp = |p| TopicPartition::new(&topic, p);

    // An active member that read everything; then lag made by 10 more records.
    let member = Consumer::new(member_config(&bootstrap, &group))
        .await
        .unwrap();
    member.subscribe([topic.clone()]).await.unwrap();
    consume_and_commit(&member, 40).await;
    produce_values(&bootstrap, &topic, "w", 40..50).await;

    let (ok, listed, err) = ours(&bootstrap, &["--list"]).await;
    assert!(ok, "{err}");
    assert!(listed.lines().any(|l| l == group), "{listed}");

    let (ok, mine, err) = ours(&bootstrap, &["--describe", "--group", &group]).await;
    assert!(ok, "{err}");
    let (ok, java, err) = javas(&bootstrap, &["--describe", "--group", &group]).await;
    assert!(ok, "{err}");
    let (mine_rows, java_rows) = (rows(&mine, &group), rows(&java, &group));
    assert_eq!(mine_rows.len(), 2, "{mine}");
    assert_eq!(mine_rows, java_rows, "ours:\n{mine}\nJava's:\n{java}");
    let lag: i64 = mine_rows.iter().map(|r| r[5].parse::<i64>().unwrap()).sum();
    assert_eq!(lag, 10, "{mine}");

    // A reset while the member is there: refused, as Java refuses it.
    let reset = ["--reset-offsets", "--group", &group, "--topic", &topic];
    let (ok, _, err) = ours(
        &bootstrap,
        &[&reset[..], &["--to-earliest", "--execute"]].concat(),
    )
    .await;
    assert!(!ok && err.contains("inactive"), "{err}");
    member.close().await.unwrap();

    // Without --execute: the plan only, nothing committed.
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    let before = admin
        .list_consumer_group_offsets(&group, None)
        .await
        .unwrap();
    let (ok, plan, err) = ours(&bootstrap, &[&reset[..], &["--to-earliest"]].concat()).await;
    assert!(ok, "{err}");
    assert!(plan.contains("No action will be performed"), "{plan}");
    assert!(rows(&plan, &group).iter().all(|r| r[3] == "0"), "{plan}");
    assert_eq!(
        admin
            .list_consumer_group_offsets(&group, None)
            .await
            .unwrap(),
        before
    );

    let committed = |admin: Admin, group: String| async move {
        let offsets = admin
            .list_consumer_group_offsets(&group, None)
            .await
            .unwrap();
        offsets.values().map(|o| o.offset).sum::<i64>()
    };
    let (ok, _, err) = ours(
        &bootstrap,
        &[&reset[..], &["--to-earliest", "--execute"]].concat(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(committed(admin.clone(), group.clone()).await, 0);
    let (ok, _, err) = ours(
        &bootstrap,
        &[&reset[..], &["--shift-by", "3", "--execute"]].concat(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(committed(admin.clone(), group.clone()).await, 6);
    // Shifted past the start: clamped to it.
    let (ok, _, err) = ours(
        &bootstrap,
        &[&reset[..], &["--shift-by", "-100", "--execute"]].concat(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(committed(admin.clone(), group.clone()).await, 0);
    let (ok, _, err) = ours(
        &bootstrap,
        &[&reset[..], &["--to-latest", "--execute"]].concat(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(committed(admin.clone(), group.clone()).await, 50);
    // A time before every record: the start; far in the future: the end.
    let (ok, _, err) = ours(
        &bootstrap,
        &[
            &reset[..],
            &["--to-datetime", "2000-01-01T00:00:00.000", "--execute"],
        ]
        .concat(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(committed(admin.clone(), group.clone()).await, 0);
    admin
        .alter_consumer_group_offsets(&group, [(tp(0), OffsetAndMetadata::new(1))])
        .await
        .unwrap();

    // The empty group's describe matches Java's too (no member columns).
    let (ok, mine, err) = ours(&bootstrap, &["--describe", "--group", &group]).await;
    assert!(ok, "{err}");
    assert!(mine.contains("has no active members"), "{mine}");
    let (ok, java, err) = javas(&bootstrap, &["--describe", "--group", &group]).await;
    assert!(ok, "{err}");
    assert_eq!(
        rows(&mine, &group),
        rows(&java, &group),
        "ours:\n{mine}\nJava's:\n{java}"
    );

    let (ok, out, err) = ours(&bootstrap, &["--delete", "--group", &group]).await;
    assert!(ok, "{err}");
    assert!(out.contains("was successful"), "{out}");
    let (ok, _, err) = ours(&bootstrap, &["--delete", "--group", &group]).await;
    assert!(!ok && err.contains("GROUP_ID_NOT_FOUND"), "{err}");
}
