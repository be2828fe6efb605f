//! `kafkit`: Apache Kafka from the command line, in the spirit of kcat, on kafkit's public API.
//!
//! ```sh
//! printf 'k1:hello\nk2:world\n' | kafkit -b localhost:9092 produce -t my_topic -K :
//! kafkit -b localhost:9092 consume -t my_topic --from-beginning -c 2 --format json
//! kafkit -F client.properties topics describe my_topic
//! ```
//!
//! Every error ends the process with its message on stderr and exit status 1 (2 for bad
//! arguments, as clap reports them).

mod config;
mod consume;
mod format;
mod groups;
mod perf;
mod produce;
mod topics;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// What a subcommand returns: its error's message becomes the process's last words.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Apache Kafka from the command line: produce, consume, topics, consumer groups, perf tests.
#[derive(Parser)]
#[command(name = "kafkit", version)]
struct Cli {
    #[command(flatten)]
    connection: config::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write stdin's lines (or files) to a topic.
    Produce(produce::Args),
    /// Print a topic's records.
    Consume(consume::Args),
    /// List, create, delete and describe topics.
    #[command(subcommand)]
    Topics(topics::Command),
    /// List and describe consumer groups, reset their offsets.
    #[command(subcommand)]
    Groups(groups::Command),
    /// Measure produce or consume throughput.
    #[command(subcommand)]
    Perf(perf::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(format!("cannot start the async runtime: {e}").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafkit: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let connection = &cli.connection;
    match cli.command {
        Command::Produce(args) => produce::run(connection, args).await,
        Command::Consume(args) => consume::run(connection, args).await,
        Command::Topics(command) => topics::run(connection, command).await,
        Command::Groups(command) => groups::run(connection, command).await,
        Command::Perf(command) => perf::run(connection, command).await,
    }
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command};
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_argument_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        for argv in [
            &["kafkit", "-b", "h:9092", "-X", "a=b", "topics", "list"][..],
            &["kafkit", "topics", "list", "-b", "h:9092", "-X", "a=b"][..],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            assert_eq!(cli.connection.bootstrap.as_deref(), Some("h:9092"));
            assert_eq!(cli.connection.settings, [("a".into(), "b".into())]);
            assert!(matches!(cli.command, Command::Topics(_)));
        }
    }

    #[test]
    fn a_setting_without_equals_is_refused_by_the_parser() {
        assert!(Cli::try_parse_from(["kafkit", "-X", "linger.ms", "topics", "list"]).is_err());
    }
}
