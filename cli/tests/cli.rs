//! The `kafkit` binary end to end against a real broker: the one `kafkit-testkit` starts for
//! this process (or `KAFKA_BOOTSTRAP_SERVERS`).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `kafkit -b <shared broker> ARGS` with `stdin`, and returns what it did.
fn kafkit(args: &[&str], stdin: &str) -> Output {
    let bootstrap = kafkit_testkit::bootstrap_servers();
    kafkit_raw(&[&["-b", &bootstrap], args].concat(), stdin)
}

/// Runs `kafkit ARGS` as given.
fn kafkit_raw(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kafkit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("kafkit's output")
}

/// The standard output of a run that must succeed.
fn ok(args: &[&str], stdin: &str) -> String {
    let out = kafkit(args, stdin);
    assert!(
        out.status.success(),
        "kafkit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The standard error of a run that must fail with status 1 (not a panic's 101).
fn fails(args: &[&str], stdin: &str) -> String {
    let out = kafkit(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "kafkit {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn name(prefix: &str) -> String {
    kafkit_testkit::unique_name(prefix)
}

#[test]
fn produce_then_consume_round_trips_keys_and_headers_as_json() {
    let topic = name("cli-json");
    ok(&["topics", "create", &topic, "-p", "1"], "");
    ok(
        &[
            "produce",
            "-t",
            &topic,
            "-K",
            ":",
            "-H",
            "trace=abc",
            "-H",
            "origin=cli",
        ],
        "k1:hello\nk2:wor:ld\n",
    );
    let out = ok(
        &[
            "consume",
            "-t",
            &topic,
            "--from-beginning",
            "-c",
            "2",
            "--timeout",
            "60s",
            "--format",
            "json",
        ],
        "",
    );
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    for (i, (key, value)) in [("k1", "hello"), ("k2", "wor:ld")].into_iter().enumerate() {
        let r = &records[i];
        assert_eq!(r["topic"], topic.as_str());
        assert_eq!(
            (&r["partition"], &r["offset"]),
            (&0.into(), &(i as i64).into())
        );
        assert_eq!((&r["key"], &r["value"]), (&key.into(), &value.into()));
        assert!(r["timestamp"].as_i64().is_some_and(|t| t > 0), "{r}");
        assert_eq!(
            r["headers"],
            serde_json::json!([{"key": "trace", "value": "abc"}, {"key": "origin", "value": "cli"}])
        );
    }
    let to_the_end = ok(
        &[
            "consume",
            "-t",
            &topic,
            "--from-beginning",
            "-e",
            "--timeout",
            "60s",
        ],
        "",
    );
    assert_eq!(to_the_end, "hello\nwor:ld\n");
    let formatted = ok(
        &[
            "consume",
            "-t",
            &topic,
            "-p",
            "0",
            "-o",
            "1",
            "-c",
            "1",
            "--timeout",
            "60s",
            "-f",
            "%t %p %o %k=%s %h\\n",
        ],
        "",
    );
    assert_eq!(
        formatted,
        format!("{topic} 0 1 k2=wor:ld trace=abc,origin=cli\n")
    );
    // A file is one record, its bytes as they are.
    let file = std::env::temp_dir().join(format!("{topic}.value"));
    std::fs::write(&file, "two\nlines").expect("write the value file");
    ok(
        &[
            "produce",
            "-t",
            &topic,
            "-k",
            "file",
            file.to_str().expect("UTF-8 path"),
        ],
        "",
    );
    std::fs::remove_file(&file).expect("remove the value file");
    let from_file = ok(
        &[
            "consume",
            "-t",
            &topic,
            "-p",
            "0",
            "-o",
            "2",
            "-c",
            "1",
            "--timeout",
            "60s",
            "-f",
            "%k=%s (%S bytes)",
        ],
        "",
    );
    assert_eq!(from_file, "file=two\nlines (9 bytes)");
    let stderr = fails(&["produce", "-t", &topic, "-K", ":"], "no separator here\n");
    assert!(stderr.contains("line 1 has no key separator"), "{stderr}");
}

#[test]
fn topics_are_created_described_listed_and_deleted() {
    let topic = name("cli-topics");
    ok(
        &[
            "topics",
            "create",
            &topic,
            "--partitions",
            "2",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=123456",
        ],
        "",
    );
    let described = ok(&["topics", "describe", &topic], "");
    let first = described.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("Topic: {topic}\t"))
            && first
                .contains("PartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=123456"),
        "{described}"
    );
    assert_eq!(
        described
            .lines()
            .filter(|l| l.contains("\tLeader: "))
            .count(),
        2
    );
    assert!(ok(&["topics", "list"], "").lines().any(|l| l == topic));
    let stderr = fails(&["topics", "create", &topic, "-p", "1"], "");
    assert!(stderr.contains("TOPIC_ALREADY_EXISTS"), "{stderr}");
    ok(&["topics", "delete", &topic], "");
    // Deletion completes in the background: the topic leaves the listing shortly after.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ok(&["topics", "list"], "").lines().any(|l| l == topic) {
        assert!(
            Instant::now() < deadline,
            "{topic} still listed after deletion"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let stderr = fails(&["topics", "describe", &topic], "");
    assert!(stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{stderr}");
}

/// The `describe` row of partition 0: current offset, end offset, lag.
fn lag_row(group: &str, topic: &str) -> Vec<String> {
    let described = ok(&["groups", "describe", group], "");
    let row = described
        .lines()
        .find(|l| l.starts_with(&format!("{group} {topic} 0 ")))
        .unwrap_or_else(|| panic!("no row for {topic}: {described}"));
    row.split_whitespace()
        .skip(3)
        .take(3)
        .map(String::from)
        .collect()
}

#[test]
fn groups_show_their_lag_and_reset_offsets_while_no_member_is_in() {
    let (topic, group) = (name("cli-groups"), name("cli-group"));
    ok(&["topics", "create", &topic, "-p", "1"], "");
    ok(&["produce", "-t", &topic], "1\n2\n3\n4\n5\n");
    let read = |count: &str| {
        ok(
            &[
                "consume",
                "-t",
                &topic,
                "-G",
                &group,
                "--from-beginning",
                "-c",
                count,
                "--timeout",
                "60s",
            ],
            "",
        )
    };
    assert_eq!(read("3"), "1\n2\n3\n");
    assert_eq!(lag_row(&group, &topic), ["3", "5", "2"]);
    assert!(ok(&["groups", "list"], "")
        .lines()
        .any(|l| l.starts_with(&group)));

    // `groups reset-offsets GROUP -t TOPIC ARGS`.
    let reset = |args: &[&str]| {
        let head = [
            "groups",
            "reset-offsets",
            group.as_str(),
            "-t",
            topic.as_str(),
        ];
        ok(&[&head[..], args].concat(), "")
    };
    let plan = reset(&["--to-earliest"]);
    assert!(plan.contains(&format!("{topic} 0 ")), "{plan}");
    assert_eq!(lag_row(&group, &topic), ["0", "5", "5"]);
    reset(&["--to-offset", "99"]);
    assert_eq!(
        lag_row(&group, &topic),
        ["5", "5", "0"],
        "kept within the log"
    );
    reset(&["--to-offset", "3", "--dry-run"]);
    assert_eq!(
        lag_row(&group, &topic),
        ["5", "5", "0"],
        "a dry run commits nothing"
    );
    reset(&["--shift-by", "-2"]);
    assert_eq!(lag_row(&group, &topic), ["3", "5", "2"]);
    reset(&["--shift-by", "-100"]);
    assert_eq!(
        lag_row(&group, &topic),
        ["0", "5", "5"],
        "kept within the log"
    );
    reset(&["--to-offset", "3"]);
    assert_eq!(read("2"), "4\n5\n");

    // A member in the group: the reset is refused.
    let bootstrap = kafkit_testkit::bootstrap_servers();
    let mut member = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(["-b", &bootstrap, "consume", "-t", &topic, "-G", &group])
        .args(["--timeout", "120s"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start a member");
    describe_until(&group, "joined by the member", |d| d.contains("Members: 1"));
    let stderr = fails(
        &[
            "groups",
            "reset-offsets",
            &group,
            "-t",
            &topic,
            "--to-earliest",
        ],
        "",
    );
    member.kill().expect("stop the member");
    member.wait().expect("the member's exit");
    assert!(stderr.contains("while it has no members"), "{stderr}");
}

#[test]
fn perf_produce_and_consume_print_their_numbers() {
    let topic = name("cli-perf");
    ok(&["topics", "create", &topic, "-p", "2"], "");
    let out = ok(
        &["perf", "produce", "-t", &topic, "-n", "2000", "-s", "64"],
        "",
    );
    let line = out.trim_end();
    assert!(
        line.starts_with("2000 records sent, ")
            && line.contains(" records/sec (")
            && line.contains(" MB/sec), ")
            && line.contains(" ms 99th, ")
            && line.ends_with(" ms 99.9th."),
        "{out}"
    );
    let out = ok(
        &[
            "perf",
            "consume",
            "-t",
            &topic,
            "-n",
            "2000",
            "--timeout",
            "60s",
        ],
        "",
    );
    assert!(
        out.starts_with("2000 records consumed, 0.12 MB in "),
        "{out}"
    );
    assert!(out.contains(" records/sec ("), "{out}");
}

#[test]
fn bad_settings_are_errors_that_say_what_to_fix() {
    let stderr = String::from_utf8(kafkit_raw(&["consume", "-t", "t"], "").stderr).unwrap();
    assert!(
        stderr.contains("no bootstrap server: give -b HOST:PORT"),
        "{stderr}"
    );
    let stderr = fails(&["-X", "no.such.setting=1", "topics", "list"], "");
    assert!(stderr.contains("no.such.setting"), "{stderr}");
    let stderr = fails(&["consume", "-t", "t", "-f", "%q"], "");
    assert!(stderr.contains("%q is not a field"), "{stderr}");
    let out = kafkit_raw(&["-F", "/no/such/file.properties", "topics", "list"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.properties"));
}

/// The table rows for `group` in `groups describe`'s output or in Java's tool's, as words.
fn group_rows(out: &str, group: &str) -> BTreeSet<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|words| words.first().map(String::as_str) == Some(group))
        .collect()
}

/// Java's `kafka-consumer-groups.sh --describe --group GROUP` on the shared broker.
fn javas_describe(group: &str) -> String {
    let out =
        kafkit_testkit::java_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
            .expect("the Java tools")
            .args(["--bootstrap-server", &kafkit_testkit::bootstrap_servers()])
            .args(["--describe", "--group", group])
            .output()
            .expect("run Java's tool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Waits until `groups describe` shows what `done` looks for. Until a member first joins,
/// the group does not exist and the broker says GROUP_ID_NOT_FOUND, as Java's tool reports.
fn describe_until(group: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = kafkit(&["groups", "describe", group], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let described = if out.status.success() {
            String::from_utf8(out.stdout).expect("UTF-8 output")
        } else {
            assert!(
                stderr.contains("GROUP_ID_NOT_FOUND"),
                "kafkit groups describe {group} failed: {stderr}"
            );
            stderr.into_owned()
        };
        if out.status.success() && done(&described) {
            return described;
        }
        assert!(Instant::now() < deadline, "never {what}: {described}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn groups_describe_prints_the_rows_of_javas_tool_and_delete_removes_the_group() {
    let (topic, group) = (name("cli-groups-java"), name("cli-group-java"));
    ok(&["topics", "create", &topic, "-p", "2"], "");
    ok(&["produce", "-t", &topic, "-p", "0"], "a\nb\nc\n");
    ok(&["produce", "-t", &topic, "-p", "1"], "d\ne\n");

    // A member that read everything and stays in the group.
    let bootstrap = kafkit_testkit::bootstrap_servers();
    let mut member = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(["-b", &bootstrap, "consume", "-t", &topic, "-G", &group])
        .args(["--from-beginning", "--timeout", "120s"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start a member");
    let rows_with_member = describe_until(&group, "caught up", |d| {
        let rows = group_rows(d, &group);
        d.contains("Members: 1")
            && rows.len() == 2
            && rows.iter().all(|r| r[5] == "0" && r[6] != "-")
    });
    let java = javas_describe(&group);
    assert_eq!(
        group_rows(&rows_with_member, &group),
        group_rows(&java, &group),
        "ours:\n{rows_with_member}\nJava's:\n{java}"
    );

    // Stopped as Ctrl-C stops it: it leaves the group, which keeps its offsets.
    let stopped = Command::new("kill")
        .args(["-INT", &member.id().to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success());
    assert!(member.wait().expect("the member's exit").success());
    let empty = describe_until(&group, "empty", |d| d.contains("Members: 0"));
    let java = javas_describe(&group);
    let rows = group_rows(&empty, &group);
    assert_eq!(rows.len(), 2, "{empty}");
    assert_eq!(
        rows,
        group_rows(&java, &group),
        "ours:\n{empty}\nJava's:\n{java}"
    );

    let deleted = ok(&["groups", "delete", &group], "");
    assert!(
        deleted.contains(&format!("deleted consumer group {group}")),
        "{deleted}"
    );
    let stderr = fails(&["groups", "delete", &group], "");
    assert!(stderr.contains("GROUP_ID_NOT_FOUND"), "{stderr}");
    // Nothing committed any more: nothing to shift from.
    let stderr = fails(
        &[
            "groups",
            "reset-offsets",
            &group,
            "-t",
            &topic,
            "--shift-by",
            "1",
        ],
        "",
    );
    assert!(stderr.contains("no committed offset"), "{stderr}");
}
