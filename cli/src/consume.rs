//! `consume`: records to stdout, alone or as a member of a group.

use crate::config::Connection;
use crate::format::{Fields, Format, Output};
use kafkit::{Consumer, ConsumerConfig, OffsetAndMetadata, TopicPartition};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Print a topic's records.
#[derive(clap::Args)]
pub struct Args {
    /// The topic to read; repeatable.
    #[arg(short, long, required = true)]
    topic: Vec<String>,
    /// Read as a member of this group: partitions shared with its other members, and the
    /// offsets of the records printed committed, so the next member carries on after them.
    #[arg(short = 'G', long)]
    group: Option<String>,
    /// Read only this partition (without --group).
    #[arg(short, long, conflicts_with = "group")]
    partition: Option<i32>,
    /// Start at the earliest offset (with --group: where the group has committed none).
    #[arg(long)]
    from_beginning: bool,
    /// Where to start (without --group): beginning, end, or an offset.
    #[arg(short, long, value_parser = parse_start, conflicts_with_all = ["group", "from_beginning"])]
    offset: Option<Start>,
    /// Stop after this many records.
    #[arg(short, long, value_name = "N")]
    count: Option<u64>,
    /// Stop once every partition read is at its end (as its last fetch saw it).
    #[arg(short, long)]
    exit_at_end: bool,
    /// Stop after this long (30s, 500ms, 2m; a bare number is seconds); with --count or
    /// --exit-at-end, not done by then is a failure.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// How records are printed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A format string instead of --format (kcat's -f): %t topic, %p partition, %o offset,
    /// %T timestamp, %k key, %s value, %h headers, %K/%S key/value length, \n \t.
    #[arg(short = 'f', long = "format-string", value_name = "FORMAT")]
    template: Option<String>,
}

/// `--offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start {
    Beginning,
    End,
    At(i64),
}

fn parse_start(s: &str) -> Result<Start, String> {
    match s {
        "beginning" => Ok(Start::Beginning),
        "end" => Ok(Start::End),
        n => match n.parse::<i64>() {
            Ok(o) if o >= 0 => Ok(Start::At(o)),
            _ => Err(format!(
                "expected beginning, end or an offset (0 or more), got {s:?}"
            )),
        },
    }
}

/// `30s`, `500ms`, `2m`, or seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 30s, 500ms or 2m, got {s:?}");
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1000)
    };
    let n: u64 = number.trim().parse().map_err(|_| bad())?;
    n.checked_mul(scale)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

pub async fn run(connection: &Connection, args: Args) -> crate::Result<()> {
    let output = Output::new(args.format, args.template.as_deref())?;
    // Offsets are committed here, after printing; -X enable.auto.commit=true turns the
    // consumer's own commits back on.
    let mut properties = vec![("enable.auto.commit".to_string(), "false".to_string())];
    if args.from_beginning || args.offset == Some(Start::Beginning) {
        properties.push(("auto.offset.reset".into(), "earliest".into()));
    }
    properties.extend(connection.properties()?);
    if let Some(group) = &args.group {
        properties.push(("group.id".into(), group.clone()));
    }
    let config = ConsumerConfig::from_properties(properties)?;
    let in_group = config.group_id.is_some();
    if in_group && (args.partition.is_some() || args.offset.is_some()) {
        return Err("--partition and --offset read without a group: group.id is set".into());
    }
    let consumer = Consumer::new(config).await?;
    let outcome = tokio::select! {
        outcome = consume(&consumer, &args, in_group, &output) => outcome,
        // Ctrl-C ends a consumer that reads on and on; what it printed is committed.
        Ok(()) = tokio::signal::ctrl_c() => Ok(()),
    };
    // Leave the group even after a failure, so its partitions move on at once.
    let closed = consumer.close().await;
    outcome?;
    Ok(closed?)
}

async fn consume(
    consumer: &Consumer,
    args: &Args,
    in_group: bool,
    output: &Output,
) -> crate::Result<()> {
    match args.partition {
        Some(p) => {
            let partitions = args.topic.iter().map(|t| TopicPartition::new(t, p));
            consumer.assign(partitions).await?;
        }
        None => consumer.subscribe(args.topic.iter().cloned()).await?,
    }
    match args.offset {
        Some(Start::End) => consumer.seek_to_end(&consumer.assignment().await).await?,
        Some(Start::At(offset)) => {
            for tp in consumer.assignment().await {
                consumer.seek(&tp, offset).await?;
            }
        }
        Some(Start::Beginning) | None => {}
    }
    let started = Instant::now();
    let mut printed = 0;
    let mut out = Vec::new();
    loop {
        if args.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        let left = match args.timeout {
            Some(t) => match t.checked_sub(started.elapsed()) {
                Some(left) => left,
                None if args.count.is_some() || args.exit_at_end => {
                    return Err(format!("timed out after {printed} records").into())
                }
                None => return Ok(()),
            },
            None => Duration::MAX,
        };
        // The next offset to read, per partition, after the records printed.
        let mut done = BTreeMap::new();
        out.clear();
        for record in consumer.poll(left.min(Duration::from_millis(500))).await? {
            if args.count.is_some_and(|c| printed >= c) {
                break;
            }
            output.write(&Fields::from(&record), &mut out);
            printed += 1;
            let tp = TopicPartition::new(&*record.topic, record.partition);
            done.insert(tp, OffsetAndMetadata::new(record.offset + 1));
        }
        let written = {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out).and_then(|()| stdout.flush())
        };
        match written {
            Ok(()) => {}
            // The reader went away (`| head`): done, as a well-behaved filter is.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(format!("writing to stdout: {e}").into()),
        }
        if in_group && !done.is_empty() {
            consumer.commit_offsets(done).await?;
        }
        if args.exit_at_end && at_end(consumer).await {
            return Ok(());
        }
    }
}

/// Whether the consumer reads some partitions, each at its end as of its last fetch.
async fn at_end(consumer: &Consumer) -> bool {
    let assignment = consumer.assignment().await;
    for tp in &assignment {
        if consumer.current_lag(tp).await != Some(0) {
            return false;
        }
    }
    !assignment.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::Parser;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999m").is_err());
    }

    #[test]
    fn offsets_are_beginning_end_or_a_number() {
        assert_eq!(parse_start("beginning"), Ok(Start::Beginning));
        assert_eq!(parse_start("end"), Ok(Start::End));
        assert_eq!(parse_start("42"), Ok(Start::At(42)));
        assert!(parse_start("-1").is_err());
        assert!(parse_start("stored").is_err());
    }

    #[test]
    fn a_group_does_not_take_a_partition_or_an_offset() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["kafkit", "consume", "-t", "t", "-G", "g"];
            argv.extend(extra);
            Cli::try_parse_from(argv)
        };
        assert!(parse(&[]).is_ok());
        assert!(parse(&["-p", "0"]).is_err());
        assert!(parse(&["-o", "end"]).is_err());
        assert!(parse(&["--from-beginning", "-c", "1", "--timeout", "30s"]).is_ok());
    }
}
