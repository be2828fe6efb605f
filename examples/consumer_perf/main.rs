//! Consumer throughput, like Apache Kafka's `kafka-consumer-perf-test.sh`: same flags, same
//! header and lines, so the numbers line up with the Java tool's.
//!
//! ```sh
//! cargo run --release --example consumer_perf -- --bootstrap-server localhost:9092 \
//!     --topic perf --messages 1000000 --print-metrics
//! ```

mod args;
mod report;
#[allow(dead_code)] // each example uses part of it
#[path = "../support/mod.rs"]
mod support;

use args::{properties, Args};
use kafkit::{Consumer, ConsumerConfig};
use report::{date, print_metrics, Count, JoinTimer, Joins, Polls};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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
