//! The tool's counts, timings and lines, as Java's `ConsumerPerformance` prints them.

use crate::support;
use kafkit::{Consumer, HookFuture, RebalanceListener, TopicPartition};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Default)]
pub struct Count {
    pub records: u64,
    pub bytes: u64,
}

impl Count {
    /// Java's columns from data.consumed.in.MB on, for the records since `last`, over
    /// `elapsed` of which `rebalance` went to joining the group.
    pub fn line(&self, last: &Count, elapsed: Duration, rebalance: Duration) -> String {
        const MB: f64 = 1024.0 * 1024.0;
        let (ms, rebalance_ms) = (elapsed.as_millis() as u64, rebalance.as_millis() as u64);
        let fetch_ms = ms.saturating_sub(rebalance_ms);
        let (mb, records) = (
            (self.bytes - last.bytes) as f64 / MB,
            self.records - last.records,
        );
        let per = |x: f64, ms: u64| if ms == 0 { 0.0 } else { x * 1000.0 / ms as f64 };
        format!(
            "{:.4}, {:.4}, {}, {:.4}, {rebalance_ms}, {fetch_ms}, {:.4}, {:.4}",
            self.bytes as f64 / MB,
            per(mb, ms),
            self.records,
            per(records as f64, ms),
            per(mb, fetch_ms),
            per(records as f64, fetch_ms),
        )
    }
}

/// Time in `poll`: all of it, and that of the polls that took 1 ms or more (those that had
/// to fetch: poll fetches when its buffer is empty, and waits for the response).
#[derive(Default)]
pub struct Polls {
    count: u32,
    pub total: Duration,
    slow: u32,
    slow_total: Duration,
}

impl Polls {
    pub fn add(&mut self, took: Duration) {
        (self.count, self.total) = (self.count + 1, self.total + took);
        if took >= Duration::from_millis(1) {
            (self.slow, self.slow_total) = (self.slow + 1, self.slow_total + took);
        }
    }
}

/// Time spent joining the group: from the start or a revocation to the next assignment, as
/// Java's tool measures it. `round` is since the last detailed line.
pub struct Joins {
    since: Instant,
    pub total: Duration,
    pub round: Duration,
}

impl Joins {
    pub fn new() -> Self {
        let zero = Duration::ZERO;
        Joins {
            since: Instant::now(),
            total: zero,
            round: zero,
        }
    }
}

pub struct JoinTimer(pub Arc<Mutex<Joins>>);

impl RebalanceListener for JoinTimer {
    fn on_partitions_revoked<'a>(
        &'a self,
        _: &'a Consumer,
        _: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        self.0.lock().unwrap().since = Instant::now();
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _: &'a Consumer,
        _: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        let mut joins = self.0.lock().unwrap();
        let took = joins.since.elapsed();
        (joins.total, joins.round) = (joins.total + took, joins.round + took);
        Box::pin(async {})
    }
}

/// kafkit has no metrics registry yet, so these are the process's own figures: the CPU time
/// of every thread of this process.
pub fn print_metrics(elapsed: Duration, polls: &Polls, records: u64, checksum: u64) {
    let (secs, poll) = (elapsed.as_secs_f64(), polls.total.as_secs_f64());
    let share = poll / secs * 100.0;
    println!("metric: wall time {secs:.3} s, in poll {poll:.3} s ({share:.0}%)");
    let (n, slow, slow_secs) = (polls.count, polls.slow, polls.slow_total.as_secs_f64());
    println!("metric: polls {n}, of which {slow} took >= 1 ms: {slow_secs:.3} s in all");
    let Some((user, sys)) = support::cpu_seconds() else {
        return println!("metric: cpu time unavailable (needs Linux /proc)");
    };
    let busy = (user + sys) / secs * 100.0;
    let per_record = (user + sys) * 1e6 / records.max(1) as f64;
    println!("metric: cpu user {user:.2} s, sys {sys:.2} s ({busy:.0}% of one core)");
    println!("metric: cpu {per_record:.3} us/record");
    println!("metric: value byte sum {checksum}");
}

/// Java's `yyyy-MM-dd HH:mm:ss:SSS`, in UTC.
pub fn date(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (days, t) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, min, s) = (t / 3_600_000, t / 60_000 % 60, t / 1000 % 60);
    format!(
        "{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}:{:03}",
        t % 1000
    )
}
