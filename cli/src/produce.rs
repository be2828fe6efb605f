//! `produce`: stdin's lines, or whole files, to a topic.

use crate::config::{key_value, Connection};
use kafkit::{Producer, ProducerConfig, ProducerRecord};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// Write stdin's lines, or files, to a topic.
#[derive(clap::Args)]
pub struct Args {
    /// The topic to write to.
    #[arg(short, long)]
    topic: String,
    /// Each line is KEY<SEP>VALUE; a line without SEP is an error.
    #[arg(short = 'K', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// The key of every record.
    #[arg(short, long, conflicts_with = "key_separator")]
    key: Option<String>,
    /// A header of every record, KEY=VALUE; repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// The partition to write to (by default the partitioner's choice, by key).
    #[arg(short, long)]
    partition: Option<i32>,
    /// Send each file's whole contents as one record's value, instead of stdin's lines.
    #[arg(value_name = "FILE", conflicts_with = "key_separator")]
    files: Vec<PathBuf>,
}

pub async fn run(connection: &Connection, args: Args) -> crate::Result<()> {
    let producer =
        Producer::new(ProducerConfig::from_properties(connection.properties()?)?).await?;
    let outcome = produce(&producer, &args).await;
    // Records still queued after an error are given up on, not waited for.
    let grace = if outcome.is_ok() { 30 } else { 0 };
    let abandoned = producer.close(Duration::from_secs(grace)).await;
    outcome?;
    if abandoned > 0 {
        return Err(format!("{abandoned} records were not written before closing").into());
    }
    Ok(())
}

/// Sends every record, then waits for them all; the first failure is the error.
async fn produce(producer: &Producer, args: &Args) -> crate::Result<()> {
    let topic: Arc<str> = args.topic.as_str().into();
    // Callbacks, not a future per record: a long stdin never piles up pending futures.
    let failed: Arc<Mutex<Option<kafkit::Error>>> = Arc::default();
    let send = |value: Vec<u8>, key: Option<Vec<u8>>| {
        let mut record = ProducerRecord::new(topic.clone(), value);
        if let Some(key) = key.or_else(|| args.key.clone().map(String::into_bytes)) {
            record = record.key(key);
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        for (k, v) in &args.headers {
            record = record.header(k.clone(), v.clone());
        }
        let failed = failed.clone();
        producer.send_with_callback(record, move |outcome| {
            if let Err(e) = outcome {
                let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
                failed.get_or_insert(e);
            }
        })
    };
    if args.files.is_empty() {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        for number in 1.. {
            line.clear();
            if stdin.read_until(b'\n', &mut line).await? == 0 {
                break;
            }
            strip_line_end(&mut line);
            let (key, value) = match &args.key_separator {
                Some(separator) => split_key(&line, separator.as_bytes())
                    .ok_or_else(|| format!("line {number} has no key separator {separator:?}"))?,
                None => (None, line.clone()),
            };
            send(value, key).await?;
        }
    } else {
        for path in &args.files {
            let value = tokio::fs::read(path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            send(value, None).await?;
        }
    }
    producer.flush().await;
    let failed = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Drops the `\n` (or `\r\n`) that ends a line.
fn strip_line_end(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// `KEY<SEP>VALUE` split at the first separator; `None` without one.
#[allow(clippy::type_complexity)]
fn split_key(line: &[u8], separator: &[u8]) -> Option<(Option<Vec<u8>>, Vec<u8>)> {
    if separator.is_empty() {
        return None;
    }
    let at = line.windows(separator.len()).position(|w| w == separator)?;
    Some((
        Some(line[..at].to_vec()),
        line[at + separator.len()..].to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_separator() {
        assert_eq!(
            split_key(b"k1:a:b", b":"),
            Some((Some(b"k1".to_vec()), b"a:b".to_vec()))
        );
        assert_eq!(
            split_key(b"k::v", b"::"),
            Some((Some(b"k".to_vec()), b"v".to_vec()))
        );
        assert_eq!(
            split_key(b":v", b":"),
            Some((Some(Vec::new()), b"v".to_vec()))
        );
        assert_eq!(split_key(b"no separator", b":"), None);
        assert_eq!(split_key(b"x", b""), None);
    }

    #[test]
    fn line_ends_are_dropped() {
        for (line, want) in [
            (&b"a\r\n"[..], &b"a"[..]),
            (b"a\n", b"a"),
            (b"a", b"a"),
            (b"\r", b"\r"),
        ] {
            let mut line = line.to_vec();
            strip_line_end(&mut line);
            assert_eq!(line, want);
        }
    }
}
