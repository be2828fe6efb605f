//! The admin client's cluster, topic, config, record, log-dir and leader calls against the
//! shared broker (one node), the Java tools' view of what they did, a three-node cluster of
//! its own for racks and a preferred-leader election, and the fake broker for what a real
//! one will not do on cue (per-item retries, nothing sent for bad input).

mod cluster;
mod configs;
mod fake;
mod leaders;
mod log_dirs;
mod records;
mod topics;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

use kafkit::{Admin, ClientConfig, Error, ErrorCode};
use std::fmt::Debug;

/// An admin client of the given bootstrap list.
pub async fn admin(bootstrap: &str) -> Admin {
    Admin::new(ClientConfig::new(bootstrap))
        .await
        .expect("admin client")
}

/// The broker code of a per-item result that must have failed.
pub fn code<T: Debug>(result: &Result<T, Error>) -> ErrorCode {
    match result {
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("expected a broker error, got {e:?}")),
        Ok(v) => panic!("expected a broker error, got Ok({v:?})"),
    }
}

/// Runs one of Java's command-line tools (class in `org.apache.kafka.tools`) and returns
/// its standard output; panics with its output if it fails.
pub async fn java(class: &str, args: &[&str]) -> String {
    let class = format!("org.apache.kafka.tools.{class}");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = kafkit_testkit::java_tool(&class)
            .expect("the Java tools")
            .args(&args)
            .output()
            .expect("run java");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{class} {args:?} failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    })
    .await
    .expect("the Java tool's thread panicked")
}
