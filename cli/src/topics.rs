//! `topics`: list, create, delete and describe topics with the admin client.

use crate::config::{key_value, Connection};
use kafkit::{Admin, AdminConfig, ConfigResource, ConfigSource, NewTopic, TopicDescription};

/// List, create, delete and describe topics.
#[derive(clap::Subcommand)]
pub enum Command {
    /// The topics' names, one a line.
    List {
        /// Include internal topics (__consumer_offsets, __transaction_state).
        #[arg(long)]
        all: bool,
    },
    /// Create a topic.
    Create {
        name: String,
        /// Partitions (default: the broker's num.partitions).
        #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
        partitions: i32,
        /// Replicas of each partition (default: the broker's default.replication.factor).
        #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
        replication_factor: i16,
        /// A topic config, e.g. retention.ms=86400000; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
    },
    /// Delete topics.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Partitions, leaders, replicas, in-sync replicas, and the configs set on the topic.
    Describe {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub async fn run(connection: &Connection, command: Command) -> crate::Result<()> {
    let admin = Admin::new(AdminConfig::from_properties(connection.properties()?)?).await?;
    match command {
        Command::List { all } => {
            for topic in admin.list_topics().await? {
                if all || !topic.internal {
                    println!("{}", topic.name);
                }
            }
        }
        Command::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            let topic = configs.into_iter().fold(
                NewTopic::new(&name, partitions, replication_factor),
                |t, (k, v)| t.config(k, v),
            );
            admin.create_topics([topic]).await?;
            println!("Created topic {name}.");
        }
        Command::Delete { names } => {
            admin.delete_topics(&names).await?;
            for name in names {
                println!("Deleted topic {name}.");
            }
        }
        Command::Describe { names } => describe(&admin, &names).await?,
    }
    Ok(())
}

/// Each topic as `kafka-topics.sh --describe` prints it; the topics that could not be
/// described are named in the error, after the others are printed.
async fn describe(admin: &Admin, names: &[String]) -> crate::Result<()> {
    let mut descriptions = admin.describe_topics(names).await?;
    let mut configs = admin
        .describe_configs(names.iter().map(ConfigResource::topic))
        .await?;
    let mut failed = Vec::new();
    for name in names {
        let description = match descriptions.remove(name) {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                failed.push(format!("{name}: {e}"));
                continue;
            }
            None => {
                failed.push(format!("{name}: no answer"));
                continue;
            }
        };
        // The configs set on the topic itself, as Java lists them; a failure to read them
        // does not hide the partitions.
        let set: Vec<String> = match configs.remove(&ConfigResource::topic(name)) {
            Some(Ok(config)) => config
                .entries
                .into_iter()
                .filter(|e| e.source == ConfigSource::DynamicTopic)
                .map(|e| {
                    let value = if e.is_sensitive { None } else { e.value };
                    format!("{}={}", e.name, value.as_deref().unwrap_or("[hidden]"))
                })
                .collect(),
            Some(Err(e)) => vec![format!("(not read: {e})")],
            None => Vec::new(),
        };
        print!("{}", describe_lines(&description, &set));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; ").into())
    }
}

fn describe_lines(d: &TopicDescription, configs: &[String]) -> String {
    let ids = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let replication = d.partitions.first().map_or(0, |p| p.replicas.len());
    let mut out = format!(
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}\n",
        d.name,
        d.topic_id.as_deref().unwrap_or("-"),
        d.partitions.len(),
        replication,
        configs.join(",")
    );
    for p in &d.partitions {
        let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
        out.push_str(&format!(
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            d.name,
            p.partition,
            leader,
            ids(&p.replicas),
            ids(&p.isr)
        ));
        if !p.offline_replicas.is_empty() {
            out.push_str(&format!("\tOffline: {}", ids(&p.offline_replicas)));
        }
        out.push('\n');
    }
    out
}
