//! Consumer throughput, like Apache Kafka's `kafka-consumer-perf-test.sh`: same flags, same
//! header and lines, so the numbers line up with the Java tool's.
//!
//! ```sh
//! cargo run --release --example consumer_perf -- --bootstrap-server localhost:9092 \
//!     --topic perf --messages 1000000 --print-metrics
//! ```

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::Parser;
use kafkit::{Consumer, ConsumerConfig, HookFuture, RebalanceListener, TopicPartition};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{key_value, Target};

/// Consumer throughput, like Apache Kafka's `kafka-consumer-perf-test.sh`. Times print as UTC
/// (Java prints local time).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Stop after this many records (every record of the polls that reach it counts, as in
    /// Java).
    #[arg(long, value_name = "N")]
    messages: u64,
    /// Default perf-consumer-<random>; the topic is subscribed through it.
    #[arg(long)]
    group: Option<String>,
    /// Java consumer keys, over those of --consumer.config. As Java's tool does, check.crcs
    /// defaults to false here.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = key_value)]
    consumer_props: Vec<(String, String)>,
    /// A Java properties file of consumer keys.
    #[arg(long = "consumer.config", value_name = "FILE")]
    consumer_config: Option<String>,
    /// Give up after this long without a record.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout: u64,
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    reporting_interval: u64,
    #[arg(long)]
    show_detailed_stats: bool,
    #[arg(long)]
    hide_header: bool,
    /// Start from the end when the group has no offsets (default: earliest).
    #[arg(long)]
    from_latest: bool,
    /// After the summary: wall time, time in poll, client CPU time (user+sys) and CPU per
    /// record.
    #[arg(long)]
    print_metrics: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("consumer_perf", run(support::parse_or_help()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = ConsumerConfig::from_properties(properties(&args)?)?;
    let (timeout, reporting_interval) = (
        Duration::from_millis(args.timeout),
        Duration::from_millis(args.reporting_interval),
    );
    let consumer = Consumer::new(config).await?;
    let joins = Arc::new(Mutex::new(Joins::new()));
    consumer.set_rebalance_listener(JoinTimer(joins.clone()));
    consumer.subscribe([args.target.topic.as_str()]).await?;
    if !args.hide_header {
        let first = match args.show_detailed_stats {
            true => "time, threadId",
            false => "start.time, end.time",
        };
        println!("{first}, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
    }

    let (start_time, start) = (SystemTime::now(), Instant::now());
    let (mut total, mut last) = (Count::default(), Count::default());
    let (mut last_record, mut last_report) = (start, start);
    let (mut polls, mut checksum) = (Polls::default(), 0u64);
    while total.records < args.messages && last_record.elapsed() <= timeout {
        let polled = Instant::now();
        let records = consumer.poll(Duration::from_millis(100)).await?;
        let now = Instant::now();
        polls.add(now - polled);
        if !records.is_empty() {
            last_record = now;
        }
        for r in &records {
            total.records += 1;
            total.bytes += r.key.as_ref().map_or(0, |k| k.len() as u64);
            if let Some(v) = &r.value {
                total.bytes += v.len() as u64;
                // Read every byte, so the values are really there.
                checksum = v.iter().fold(checksum, |s, &b| s.wrapping_add(b.into()));
            }
        }
        // As in Java, a line is due only when records arrive.
        if !records.is_empty() && now - last_report >= reporting_interval {
            let round = std::mem::take(&mut joins.lock().unwrap().round);
            if args.show_detailed_stats {
                let line = total.line(&last, now - last_report, round);
                println!("{}, 0, {line}", date(SystemTime::now()));
            }
            (last, last_report) = (total, now);
        }
    }
    let elapsed = start.elapsed();
    let end_time = SystemTime::now();
    if total.records < args.messages {
        println!("WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.", args.timeout);
    }
    consumer.close().await?;
    if !args.show_detailed_stats {
        let rebalance = joins.lock().unwrap().total;
        let line = total.line(&Count::default(), elapsed, rebalance);
        println!("{}, {}, {line}", date(start_time), date(end_time));
    }
    if args.print_metrics {
        print_metrics(elapsed, &polls, total.records, checksum);
    }
    Ok(())
}

#[derive(Clone, Copy, Default)]
struct Count {
    records: u64,
    bytes: u64,
}

impl Count {
    /// Java's columns from data.consumed.in.MB on, for the records since `last`, over
    /// `elapsed` of which `rebalance` went to joining the group.
    fn line(&self, last: &Count, elapsed: Duration, rebalance: Duration) -> String {
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
struct Polls {
    count: u32,
    total: Duration,
    slow: u32,
    slow_total: Duration,
}

impl Polls {
    fn add(&mut self, took: Duration) {
        (self.count, self.total) = (self.count + 1, self.total + took);
        if took >= Duration::from_millis(1) {
            (self.slow, self.slow_total) = (self.slow + 1, self.slow_total + took);
        }
    }
}

/// Time spent joining the group: from the start or a revocation to the next assignment, as
/// Java's tool measures it. `round` is since the last detailed line.
struct Joins {
    since: Instant,
    total: Duration,
    round: Duration,
}

impl Joins {
    fn new() -> Self {
        let zero = Duration::ZERO;
        Joins {
            since: Instant::now(),
            total: zero,
            round: zero,
        }
    }
}

struct JoinTimer(Arc<Mutex<Joins>>);

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
fn print_metrics(elapsed: Duration, polls: &Polls, records: u64, checksum: u64) {
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
fn date(time: SystemTime) -> String {
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

/// The consumer's properties: the tool's defaults, then --consumer.config's, then
/// --consumer-props, then the bootstrap servers, the group and where to start.
fn properties(args: &Args) -> Result<Vec<(String, String)>, String> {
    let defaults = [
        ("check.crcs", "false"),
        ("client.id", "perf-consumer-client"),
    ];
    let mut props: Vec<(String, String)> = defaults
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
    if let Some(path) = &args.consumer_config {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        props.extend(properties_file(&text));
    }
    props.extend(args.consumer_props.iter().cloned());
    let group = args.group.clone().or_else(|| {
        props
            .iter()
            .rev()
            .find(|(k, _)| k == "group.id")
            .map(|(_, v)| v.clone())
    });
    let group =
        group.unwrap_or_else(|| format!("perf-consumer-{}", rand::random_range(0..100_000)));
    let reset = if args.from_latest {
        "latest"
    } else {
        "earliest"
    };
    props.push((
        "bootstrap.servers".into(),
        args.target.bootstrap_server.clone(),
    ));
    props.push(("group.id".into(), group));
    props.push(("auto.offset.reset".into(), reset.into()));
    Ok(props)
}

/// A Java properties file: `key=value`, `key: value` or `key value` lines; `#`/`!` comments.
/// (Line continuations and escapes are not supported.)
fn properties_file(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let lines = text.lines().map(str::trim);
    let lines = lines.filter(|l| !l.is_empty() && !l.starts_with(['#', '!']));
    lines.map(|l| {
        let (k, v) = l
            .split_once(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .unwrap_or((l, ""));
        (k.trim().to_string(), v.trim().to_string())
    })
}
