//! `groups`: list, describe and delete consumer groups, and reset a group's offsets: what
//! Apache Kafka's `kafka-consumer-groups.sh` does, its `--describe` rows in Java's columns.

use crate::config::Connection;
use kafkit::{
    Admin, AdminConfig, ErrorCode, GroupState, ListConsumerGroupsOptions, OffsetAndMetadata,
    OffsetSpec, TopicPartition,
};
use std::collections::BTreeMap;

/// List, describe and delete consumer groups, reset their offsets.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Every group, with its state.
    List,
    /// A group's state and members, and per partition its committed offset, end offset and lag.
    Describe { group: String },
    /// Delete groups (each must have no members) with their committed offsets.
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Move a group's committed offsets on a topic; refused while the group has members.
    #[command(group(clap::ArgGroup::new("to").required(true)))]
    ResetOffsets {
        group: String,
        #[arg(short, long)]
        topic: String,
        /// Only these partitions (repeatable; default: all).
        #[arg(short, long)]
        partition: Vec<i32>,
        /// To each partition's first offset.
        #[arg(long, group = "to")]
        to_earliest: bool,
        /// To each partition's end.
        #[arg(long, group = "to")]
        to_latest: bool,
        /// To this offset (kept within each partition's first and end offsets).
        #[arg(long, group = "to", value_name = "OFFSET")]
        to_offset: Option<i64>,
        /// To the first record at or after this time (ms since the epoch; the end if none).
        #[arg(long, group = "to", value_name = "MS")]
        to_timestamp: Option<i64>,
        /// Move each committed offset by N (negative: back), kept within the log.
        #[arg(long, group = "to", value_name = "N", allow_hyphen_values = true)]
        shift_by: Option<i64>,
        /// Print the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(connection: &Connection, command: Command) -> crate::Result<()> {
    let admin = Admin::new(AdminConfig::from_properties(connection.properties()?)?).await?;
    match command {
        Command::List => {
            let mut rows = Vec::new();
            for g in admin
                .list_consumer_groups(ListConsumerGroupsOptions::default())
                .await?
            {
                let state = g.state.map_or("-".to_string(), |s| s.to_string());
                rows.push([g.group_id, state]);
            }
            rows.sort();
            print!("{}", table(["GROUP", "STATE"], &rows));
        }
        Command::Describe { group } => describe(&admin, &group).await?,
        Command::Delete { groups } => delete(&admin, &groups).await?,
        Command::ResetOffsets {
            group,
            topic,
            partition,
            to_earliest,
            to_latest,
            to_offset,
            to_timestamp,
            shift_by,
            dry_run,
        } => {
            let to = match (to_earliest, to_latest, to_offset, to_timestamp, shift_by) {
                (true, ..) => To::Earliest,
                (_, true, ..) => To::Latest,
                (_, _, Some(o), ..) => To::Offset(o),
                (_, _, _, Some(t), _) => To::Timestamp(t),
                (.., Some(n)) => To::Shift(n),
                _ => return Err(
                    "choose --to-earliest, --to-latest, --to-offset, --to-timestamp or --shift-by"
                        .into(),
                ),
            };
            reset(&admin, &group, &topic, &partition, to, dry_run).await?;
        }
    }
    Ok(())
}

/// The group's state and members, then one row per partition with an offset or an owner.
async fn describe(admin: &Admin, group: &str) -> crate::Result<()> {
    let description = admin
        .describe_consumer_groups([group])
        .await?
        .remove(group)
        .ok_or("no answer for the group")??;
    if description.state == GroupState::Dead {
        return Err(format!("consumer group {group} does not exist").into());
    }
    println!(
        "Group: {group}\tState: {}\tType: {}\tCoordinator: {}\tMembers: {}",
        description.state,
        description.group_type,
        description.coordinator,
        description.members.len()
    );
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 9]> = admin
        .consumer_group_lag(group)
        .await?
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
    print!(
        "{}",
        table(
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
            &rows,
        )
    );
    Ok(())
}

/// Deletes the groups, each on its own: one that fails (members in it, unknown) does not stop
/// the others, and makes the command fail naming it.
async fn delete(admin: &Admin, groups: &[String]) -> crate::Result<()> {
    let mut failed = Vec::new();
    for (group, outcome) in admin.delete_consumer_groups(groups).await? {
        match outcome {
            Ok(()) => println!("deleted consumer group {group}"),
            Err(e) => failed.push(format!("consumer group {group}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n").into())
    }
}

/// Where `reset-offsets` moves the offsets.
#[derive(Clone, Copy, Debug, PartialEq)]
enum To {
    Earliest,
    Latest,
    Offset(i64),
    Timestamp(i64),
    /// By this much from each committed offset.
    Shift(i64),
}

async fn reset(
    admin: &Admin,
    group: &str,
    topic: &str,
    only: &[i32],
    to: To,
    dry_run: bool,
) -> crate::Result<()> {
    // A member would overwrite the new offsets with its own next commit: Java refuses too.
    let state = match admin
        .describe_consumer_groups([group])
        .await?
        .remove(group)
        .ok_or("no answer for the group")?
    {
        Ok(d) => d.state,
        // Offsets may be given to a group that does not exist yet: it is created empty.
        Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => GroupState::Dead,
        Err(e) => return Err(e.into()),
    };
    if !matches!(state, GroupState::Empty | GroupState::Dead) {
        return Err(format!(
            "consumer group {group} is {state}: offsets can only be reset while it has no members; stop them first"
        )
        .into());
    }
    let listing = admin
        .list_topics()
        .await?
        .into_iter()
        .find(|t| t.name == topic)
        .ok_or_else(|| format!("topic {topic} does not exist"))?;
    if let Some(p) = only.iter().find(|p| !listing.partitions.contains(p)) {
        return Err(format!("topic {topic} has no partition {p}").into());
    }
    let partitions: Vec<TopicPartition> = listing
        .partitions
        .iter()
        .filter(|p| only.is_empty() || only.contains(p))
        .map(|&p| TopicPartition::new(topic, p))
        .collect();
    let offsets = |spec| admin.list_offsets(partitions.iter().map(move |tp| (tp.clone(), spec)));
    let earliest = offsets(OffsetSpec::Earliest).await?;
    let latest = offsets(OffsetSpec::Latest).await?;
    let at_time = match to {
        To::Timestamp(ms) => Some(offsets(OffsetSpec::Timestamp(ms)).await?),
        _ => None,
    };
    let committed = match to {
        To::Shift(_) => Some(
            admin
                .list_consumer_group_offsets(group, Some(&partitions))
                .await?,
        ),
        _ => None,
    };
    let mut new = BTreeMap::new();
    for tp in &partitions {
        let (first, end) = match (earliest.get(tp), latest.get(tp)) {
            (Some(first), Some(end)) => (first.offset, end.offset),
            _ => return Err(format!("no offsets for {tp}").into()),
        };
        let offset = match to {
            To::Earliest => first,
            To::Latest => end,
            To::Offset(o) => o.clamp(first, end.max(first)),
            // No record at or after the time: the end, as Java.
            To::Timestamp(_) => match at_time.as_ref().and_then(|m| m.get(tp)) {
                Some(found) if found.offset >= 0 => found.offset,
                _ => end,
            },
            // Java refuses to guess a start for a partition the group never committed.
            To::Shift(n) => match committed.as_ref().and_then(|c| c.get(tp)) {
                Some(current) => current
                    .offset
                    .saturating_add(n)
                    .clamp(first, end.max(first)),
                None => {
                    return Err(format!(
                        "cannot shift the offset of {tp}: the group has no committed offset there"
                    )
                    .into())
                }
            },
        };
        new.insert(tp.clone(), offset);
    }
    if !dry_run {
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
    }
    let rows: Vec<[String; 3]> = new
        .into_iter()
        .map(|(tp, o)| [tp.topic, tp.partition.to_string(), o.to_string()])
        .collect();
    print!("{}", table(["TOPIC", "PARTITION", "NEW-OFFSET"], &rows));
    if dry_run {
        println!("(dry run: nothing committed)");
    }
    Ok(())
}

/// Columns padded to their widest cell.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells.zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(padded.join(" ").trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::Parser;

    #[test]
    fn tables_pad_each_column_to_its_widest_cell() {
        let rows = [
            ["t".to_string(), "0".to_string(), "12345".to_string()],
            ["topic-long".to_string(), "10".to_string(), "7".to_string()],
        ];
        assert_eq!(
            table(["TOPIC", "PARTITION", "NEW-OFFSET"], &rows),
            "TOPIC      PARTITION NEW-OFFSET\n\
             t          0         12345\n\
             topic-long 10        7\n"
        );
    }

    #[test]
    fn a_reset_needs_exactly_one_target() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["kafkit", "groups", "reset-offsets", "g", "-t", "t"];
            argv.extend(extra);
            Cli::try_parse_from(argv)
        };
        assert!(parse(&[]).is_err());
        assert!(parse(&["--to-earliest", "--to-latest"]).is_err());
        assert!(parse(&["--to-offset", "5", "-p", "0", "-p", "2"]).is_ok());
        assert!(parse(&["--to-timestamp", "1700000000000", "--dry-run"]).is_ok());
    }
}
