//! `perf produce` and `perf consume`: throughput (and, for produce, latency) as Apache Kafka's
//! perf-test tools report them.

use crate::config::Connection;
use crate::consume::parse_duration;
use kafkit::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Measure produce or consume throughput.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Send records as fast as allowed; print records/s, MB/s and latency percentiles.
    Produce {
        #[arg(short, long)]
        topic: String,
        /// How many records.
        #[arg(short = 'n', long)]
        records: u64,
        /// Each record's value size in bytes.
        #[arg(short, long, default_value_t = 100)]
        size: usize,
        /// At most this many records a second (default: no limit).
        #[arg(long, value_name = "RECORDS/S")]
        rate: Option<f64>,
    },
    /// Read records from the beginning; print records/s and MB/s.
    Consume {
        #[arg(short, long)]
        topic: String,
        /// How many records.
        #[arg(short = 'n', long)]
        records: u64,
        /// Give up when no record came for this long (30s, 500ms, 2m).
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        timeout: Duration,
    },
}

pub async fn run(connection: &Connection, command: Command) -> crate::Result<()> {
    match command {
        Command::Produce {
            topic,
            records,
            size,
            rate,
        } => produce(connection, topic, records, size, rate).await,
        Command::Consume {
            topic,
            records,
            timeout,
        } => consume(connection, topic, records, timeout).await,
    }
}

/// What the delivery callbacks record: each record's latency in microseconds, and the first
/// failure.
#[derive(Default)]
struct Outcomes {
    latencies_us: Vec<u64>,
    failed: Option<kafkit::Error>,
}

async fn produce(
    connection: &Connection,
    topic: String,
    records: u64,
    size: usize,
    rate: Option<f64>,
) -> crate::Result<()> {
    if rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("--rate must be a positive number of records a second".into());
    }
    let producer =
        Producer::new(ProducerConfig::from_properties(connection.properties()?)?).await?;
    // Random letters, as Java's tool sends; one buffer shared by every record.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let payload: bytes::Bytes = (0..size)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b'A' + (seed % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into();
    let topic: Arc<str> = topic.into();
    let outcomes = Arc::new(Mutex::new(Outcomes {
        latencies_us: Vec::with_capacity(records.min(10_000_000) as usize),
        failed: None,
    }));
    let started = Instant::now();
    for i in 0..records {
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let sent = Instant::now();
        let outcomes = outcomes.clone();
        producer
            .send_with_callback(
                ProducerRecord::new(topic.clone(), payload.clone()),
                move |outcome| {
                    let mut o = outcomes.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(_) => o.latencies_us.push(sent.elapsed().as_micros() as u64),
                        Err(e) => {
                            o.failed.get_or_insert(e);
                        }
                    }
                },
            )
            .await?;
    }
    producer.flush().await;
    let elapsed = started.elapsed();
    producer.close(Duration::from_secs(5)).await;
    let mut outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(e) = outcomes.failed {
        return Err(format!(
            "{} of {records} records written, then: {e}",
            outcomes.latencies_us.len()
        )
        .into());
    }
    println!(
        "{}",
        produce_report(records, size, elapsed, &mut outcomes.latencies_us)
    );
    Ok(())
}

/// Java's `ProducerPerformance` summary line.
fn produce_report(
    records: u64,
    size: usize,
    elapsed: Duration,
    latencies_us: &mut [u64],
) -> String {
    latencies_us.sort_unstable();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    let percentile = |p: f64| {
        let i =
            ((latencies_us.len() as f64 * p) as usize).min(latencies_us.len().saturating_sub(1));
        latencies_us.get(i).map_or(0.0, |&us| ms(us))
    };
    let avg = if latencies_us.is_empty() {
        0.0
    } else {
        ms(latencies_us.iter().sum::<u64>()) / latencies_us.len() as f64
    };
    format!(
        "{records} records sent, {:.1} records/sec ({:.2} MB/sec), {avg:.2} ms avg latency, \
         {:.2} ms max latency, {:.1} ms 50th, {:.1} ms 95th, {:.1} ms 99th, {:.1} ms 99.9th.",
        records as f64 / secs,
        (records as f64 * size as f64) / secs / (1024.0 * 1024.0),
        latencies_us.last().map_or(0.0, |&us| ms(us)),
        percentile(0.5),
        percentile(0.95),
        percentile(0.99),
        percentile(0.999),
    )
}

async fn consume(
    connection: &Connection,
    topic: String,
    records: u64,
    timeout: Duration,
) -> crate::Result<()> {
    let mut properties = vec![
        ("auto.offset.reset".to_string(), "earliest".to_string()),
        ("enable.auto.commit".to_string(), "false".to_string()),
    ];
    properties.extend(connection.properties()?);
    let consumer = Consumer::new(ConsumerConfig::from_properties(properties)?).await?;
    consumer.subscribe([topic]).await?;
    let started = Instant::now();
    let (mut count, mut bytes, mut last) = (0_u64, 0_u64, Instant::now());
    let outcome = loop {
        if count >= records {
            break Ok(());
        }
        if last.elapsed() >= timeout {
            break Err(format!(
                "no record for {timeout:?}: read {count} of {records}"
            ));
        }
        let polled = match consumer.poll(Duration::from_millis(200)).await {
            Ok(polled) => polled,
            Err(e) => break Err(e.to_string()),
        };
        if !polled.is_empty() {
            last = Instant::now();
        }
        for r in &polled {
            count += 1;
            bytes += (r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())) as u64;
        }
    };
    let elapsed = started.elapsed();
    let closed = consumer.close().await;
    outcome?;
    closed?;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mb = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{count} records consumed, {mb:.2} MB in {secs:.2} s: {:.1} records/sec ({:.2} MB/sec)",
        count as f64 / secs,
        mb / secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_produce_report_has_rates_and_percentiles() {
        let mut latencies: Vec<u64> = (1..=1000).rev().map(|ms| ms * 1000).collect();
        let report = produce_report(1000, 1024 * 1024, Duration::from_secs(2), &mut latencies);
        assert_eq!(
            report,
            "1000 records sent, 500.0 records/sec (500.00 MB/sec), 500.50 ms avg latency, \
             1000.00 ms max latency, 501.0 ms 50th, 951.0 ms 95th, 991.0 ms 99th, 1000.0 ms 99.9th."
        );
        assert!(produce_report(0, 100, Duration::ZERO, &mut []).starts_with("0 records sent"));
    }
}
