//! Consumer groups from the command line, like Apache Kafka's `kafka-consumer-groups.sh`.
//!
//! ```sh
//! cargo run --example consumer_groups -- --bootstrap-server localhost:9092 --list
//! cargo run --example consumer_groups -- --bootstrap-server localhost:9092 --describe --group g
//! cargo run --example consumer_groups -- --bootstrap-server localhost:9092 --reset-offsets \
//!     --group g --topic t --to-earliest --execute
//! cargo run --example consumer_groups -- --bootstrap-server localhost:9092 --delete --group g
//! ```
//!
//! `--reset-offsets` without `--execute` prints the plan and changes nothing, as Java's tool
//! does; with it, the group must have no members. `--to-datetime` takes
//! `YYYY-MM-DDTHH:mm:SS[.sss]` with an optional `Z` or `±HH:MM` (no offset means UTC).

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::{ArgGroup, Parser};
use kafkit::{
    Admin, ClientConfig, GroupState, ListConsumerGroupsOptions, OffsetAndMetadata, OffsetSpec,
    TopicPartition,
};
use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;

/// List, describe, reset and delete consumer groups.
#[derive(Parser)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "describe", "reset_offsets", "delete"])))]
#[command(group(ArgGroup::new("reset").args(["to_earliest", "to_latest", "to_datetime", "shift_by"])))]
struct Args {
    /// The brokers to bootstrap from.
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_server: String,
    /// List the consumer groups.
    #[arg(long)]
    list: bool,
    /// Describe the groups: each partition's committed offset, log end offset, lag and owner.
    #[arg(long, requires = "group")]
    describe: bool,
    /// Reset the groups' offsets (a plan only, unless --execute).
    #[arg(long, requires_all = ["group", "topic", "reset"])]
    reset_offsets: bool,
    /// Delete the groups.
    #[arg(long, requires = "group")]
    delete: bool,
    /// The group (repeatable).
    #[arg(long)]
    group: Vec<String>,
    /// With --reset-offsets: the topic, or `TOPIC:P,P` for some partitions (repeatable).
    #[arg(long)]
    topic: Vec<String>,
    /// Reset to the log start.
    #[arg(long)]
    to_earliest: bool,
    /// Reset to the log end.
    #[arg(long)]
    to_latest: bool,
    /// Reset to the first offset at or after this time.
    #[arg(long, value_name = "YYYY-MM-DDTHH:mm:SS.sss")]
    to_datetime: Option<String>,
    /// Move each committed offset by N (negative: back), within the log.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Carry the reset out.
    #[arg(long)]
    execute: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("consumer_groups", run(support::parse_or_help()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let admin = Admin::new(ClientConfig::new(&args.bootstrap_server)).await?;
    if args.list {
        for g in admin
            .list_consumer_groups(ListConsumerGroupsOptions::default())
            .await?
        {
            println!("{}", g.group_id);
        }
    } else if args.describe {
        for group in &args.group {
            describe(&admin, group).await?;
        }
    } else if args.reset_offsets {
        for group in &args.group {
            reset(&admin, group, &args).await?;
        }
    } else {
        let mut failed = Vec::new();
        for (group, outcome) in admin.delete_consumer_groups(&args.group).await? {
            match outcome {
                Ok(()) => {
                    println!("Deletion of requested consumer groups ('{group}') was successful.")
                }
                Err(e) => failed.push(format!(
                    "* Group '{group}' could not be deleted due to: {e}"
                )),
            }
        }
        if !failed.is_empty() {
            return Err(format!(
                "Deletion of some consumer groups failed:\n{}",
                failed.join("\n")
            )
            .into());
        }
    }
    Ok(())
}

/// `--describe`'s table, with Java's columns and "-" for what is missing.
async fn describe(admin: &Admin, group: &str) -> Result<(), Box<dyn Error>> {
    let description = admin
        .describe_consumer_groups([group])
        .await?
        .remove(group)
        .ok_or("no answer for the group")??;
    if description.state == GroupState::Dead {
        println!("Consumer group '{group}' does not exist.");
        return Ok(());
    }
    let rows = admin.consumer_group_lag(group).await?;
    if description.members.is_empty() {
        println!("\nConsumer group '{group}' has no active members.");
    }
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let table: Vec<[String; 9]> = rows
        .into_iter()
        .map(|r| {
            [
                r.group,
                r.partition.topic,
                r.partition.partition.to_string(),
                dash(r.current_offset.map(|o| o.to_string())),
                r.log_end_offset.to_string(),
                dash(r.lag.map(|l| l.to_string())),
                dash(r.consumer_id),
                dash(r.host),
                dash(r.client_id),
            ]
        })
        .collect();
    print_table(
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &table,
    );
    Ok(())
}

/// Columns padded to their widest cell, as Java pads them.
fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join(" ").trim_end());
    };
    println!();
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `--reset-offsets`: the new offset of each partition, printed, and committed with
/// `--execute` (only while the group has no members, as Java requires).
async fn reset(admin: &Admin, group: &str, args: &Args) -> Result<(), Box<dyn Error>> {
    let description = admin
        .describe_consumer_groups([group])
        .await?
        .remove(group)
        .ok_or("no answer for the group")?;
    // A group that does not exist yet may be given offsets: it is created empty.
    let state = match description {
        Ok(d) => d.state,
        Err(e) if e.code() == Some(kafkit::ErrorCode::GROUP_ID_NOT_FOUND) => GroupState::Dead,
        Err(e) => return Err(e.into()),
    };
    if args.execute && !matches!(state, GroupState::Empty | GroupState::Dead) {
        return Err(format!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}."
        )
        .into());
    }
    let partitions = partitions(admin, &args.topic).await?;
    let spec = if args.to_earliest {
        Some(OffsetSpec::Earliest)
    } else if args.to_latest {
        Some(OffsetSpec::Latest)
    } else if let Some(at) = &args.to_datetime {
        Some(OffsetSpec::Timestamp(parse_datetime(at)?))
    } else {
        None
    };
    let ends = |spec| admin.list_offsets(partitions.iter().map(move |tp| (tp.clone(), spec)));
    let latest = ends(OffsetSpec::Latest).await?;
    let new: BTreeMap<TopicPartition, i64> = match (spec, args.shift_by) {
        (Some(spec), _) => {
            let found = ends(spec).await?;
            partitions
                .iter()
                .map(|tp| {
                    // No record at or after the time: the log end, as Java.
                    let offset = match found[tp].offset {
                        -1 => latest[tp].offset,
                        o => o,
                    };
                    (tp.clone(), offset)
                })
                .collect()
        }
        (None, Some(shift)) => {
            let earliest = ends(OffsetSpec::Earliest).await?;
            let committed = admin
                .list_consumer_group_offsets(group, Some(&partitions))
                .await?;
            let mut new = BTreeMap::new();
            for tp in &partitions {
                let current = committed.get(tp).ok_or_else(|| {
                    format!("Cannot shift offset for partition {tp} since there is no current committed offset")
                })?;
                let shifted = current
                    .offset
                    .saturating_add(shift)
                    .clamp(earliest[tp].offset, latest[tp].offset);
                new.insert(tp.clone(), shifted);
            }
            new
        }
        (None, None) => {
            return Err("choose --to-earliest, --to-latest, --to-datetime or --shift-by".into())
        }
    };
    if args.execute {
        let results = admin
            .alter_consumer_group_offsets(
                group,
                new.iter()
                    .map(|(tp, &o)| (tp.clone(), OffsetAndMetadata::new(o))),
            )
            .await?;
        for (tp, outcome) in results {
            outcome.map_err(|e| format!("resetting {tp}: {e}"))?;
        }
    } else {
        println!(
            "WARN: No action will be performed as the --execute option is missing. \
             In a future major release, the default behavior of this command will be to \
             prompt the user before executing the reset rather than doing a dry run. You \
             should add the --dry-run option explicitly if you are scripting this command \
             and want to keep the current default behavior without prompting."
        );
    }
    let table: Vec<[String; 4]> = new
        .into_iter()
        .map(|(tp, o)| {
            [
                group.to_string(),
                tp.topic,
                tp.partition.to_string(),
                o.to_string(),
            ]
        })
        .collect();
    print_table(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &table);
    Ok(())
}

/// `--topic T` (every partition) or `--topic T:0,2`.
async fn partitions(
    admin: &Admin,
    topics: &[String],
) -> Result<Vec<TopicPartition>, Box<dyn Error>> {
    let listings = admin.list_topics().await?;
    let mut out = Vec::new();
    for spec in topics {
        let (name, some) = match spec.split_once(':') {
            Some((name, list)) => (name, Some(list)),
            None => (spec.as_str(), None),
        };
        let listing = listings
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| format!("topic {name} does not exist"))?;
        match some {
            None => out.extend(
                listing
                    .partitions
                    .iter()
                    .map(|&p| TopicPartition::new(name, p)),
            ),
            Some(list) => {
                for p in list.split(',') {
                    let p: i32 = p
                        .trim()
                        .parse()
                        .map_err(|e| format!("partition {p:?}: {e}"))?;
                    if !listing.partitions.contains(&p) {
                        return Err(format!("topic {name} has no partition {p}").into());
                    }
                    out.push(TopicPartition::new(name, p));
                }
            }
        }
    }
    Ok(out)
}

/// `YYYY-MM-DDTHH:mm:SS[.sss][Z|±HH:MM]` as milliseconds since the epoch (UTC without an
/// offset).
fn parse_datetime(s: &str) -> Result<i64, String> {
    let bad = || format!("--to-datetime {s:?}: expected YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM]");
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let (time, offset_minutes) = if let Some(t) = time.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (t, zone) = time.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':').ok_or_else(bad)?;
        let h: i64 = h.parse().map_err(|_| bad())?;
        let m: i64 = m.parse().map_err(|_| bad())?;
        (t, sign * (h * 60 + m))
    } else {
        (time, 0)
    };
    let num = |p: &str| p.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let [y, mo, day] = d[..] else {
        return Err(bad());
    };
    let (y, mo, day) = (num(y)?, num(mo)?, num(day)?);
    let (hms, millis) = match time.split_once('.') {
        Some((hms, frac)) => (hms, num(&format!("{frac:0<3}")[..3])?),
        None => (time, 0),
    };
    let t: Vec<&str> = hms.split(':').collect();
    let [h, mi, sec] = t[..] else {
        return Err(bad());
    };
    let (h, mi, sec) = (num(h)?, num(mi)?, num(sec)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_minutes * 60) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_parse_like_javas() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000"), Ok(0));
        assert_eq!(
            parse_datetime("2026-12-05T17:00:00Z"),
            Ok(1_796_490_000_000)
        );
        assert_eq!(
            parse_datetime("2026-12-05T18:00:00.5+01:00"),
            Ok(1_796_490_000_500)
        );
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2026-13-01T00:00:00").is_err());
    }
}
