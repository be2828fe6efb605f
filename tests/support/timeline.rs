//! Waiting for a condition, and a test's story told as it runs.

use std::time::Duration;
use tokio::time::Instant;

/// Waits until `cond` holds, checking every 50 ms; after `limit`, panics naming `what`.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Prints a line of the test's story (visible with `--nocapture`), with the time since `t0`.
pub fn log(t0: Instant, msg: impl std::fmt::Display) {
    println!("[{:>6.1}s] {msg}", t0.elapsed().as_secs_f64());
}
