//! Starts a local Apache Kafka cluster for manual use, examples and
//! benchmarks, and keeps it up until stdin closes, Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run -p kafkit-testkit --bin kafka-launcher -- [--nodes N] [--port P]
//!     [--property key=value]... [--feature name=level]... [--ssl]
//!     [--delayed-listener MS]... [--ignore-stdin]
//! ```
//!
//! Prints `bootstrap=...`, one `logdir=...` line per node (its `log.dirs`,
//! in node order) and one `node=i pid=... addr=...` line per node once the
//! cluster serves. Data lives under the build folder and is deleted on exit.
//!
//! `--ssl` adds an `SSL` listener to every node, with a certificate for
//! `localhost` and `127.0.0.1` signed by a CA made at start, and prints
//! `ssl_bootstrap=...` (those listeners) and `ssl_ca=...` (the CA certificate,
//! a PEM file for `ssl.truststore.location` with `ssl.truststore.type=PEM`, or
//! librdkafka's `ssl.ca.location`) before the `node=` lines.
//!
//! `--delayed-listener MS` adds a `PLAINTEXT` listener named `DELAYED_<MS>MS`
//! to every node, reached through a [`TcpProxy`] that holds every chunk `MS`
//! milliseconds each way (a round trip of `2 × MS`, as to another zone or
//! region), and prints `delayed_bootstrap_<MS>ms=...` (the proxies) before the
//! `node=` lines. The listener advertises its proxy, so a client that
//! bootstraps there stays behind the delay for every connection; the other
//! listeners are not delayed. Repeatable, one listener per delay.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use kafkit_testkit::{free_port, KafkaCluster, KafkaClusterBuilder, SslListener, TcpProxy};

/// Starts an Apache Kafka cluster (KRaft) on 127.0.0.1 and keeps it up until stdin closes,
/// Ctrl-C or SIGTERM.
#[derive(Parser)]
struct Args {
    /// How many nodes, each a broker and a controller.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    nodes: u64,
    /// The client port of node 0 (default: a free port).
    #[arg(long)]
    port: Option<u16>,
    /// A broker property for every node.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    property: Vec<(String, String)>,
    /// A feature level the storage is formatted with (`kafka-storage format --feature`),
    /// e.g. `transaction.version=1`.
    #[arg(long, value_name = "NAME=LEVEL")]
    feature: Vec<String>,
    /// Add an SSL listener to every node (see above).
    #[arg(long)]
    ssl: bool,
    /// Add a listener to every node behind a proxy that delays each way by this many
    /// milliseconds (see above); repeatable.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    delayed_listener: Vec<u64>,
    /// Wait for a signal only (for running in the background with stdin closed).
    #[arg(long)]
    ignore_stdin: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

/// One `--delayed-listener`: a proxy per node in front of its listener.
struct DelayedListener {
    one_way_ms: u64,
    proxies: Vec<TcpProxy>,
}

impl DelayedListener {
    /// Starts the proxies (each forwards to a port the node will listen on) and adds the
    /// listener, advertising them, to nodes `0..nodes` of `builder`.
    async fn add(
        mut builder: KafkaClusterBuilder,
        nodes: usize,
        one_way_ms: u64,
    ) -> std::io::Result<(KafkaClusterBuilder, DelayedListener)> {
        let name = format!("DELAYED_{one_way_ms}MS");
        let mut proxies = Vec::with_capacity(nodes);
        for node in 0..nodes {
            let port = free_port();
            let proxy = TcpProxy::start(format!("127.0.0.1:{port}")).await?;
            proxy.set_delay(Some(Duration::from_millis(one_way_ms)));
            builder = builder
                .listener(node, &name, "PLAINTEXT", port)
                .advertise_listener(node, &name, proxy.local_addr().port());
            proxies.push(proxy);
        }
        Ok((
            builder,
            DelayedListener {
                one_way_ms,
                proxies,
            },
        ))
    }

    /// The proxies' addresses, comma-separated.
    fn bootstrap(&self) -> String {
        let addrs: Vec<String> = self
            .proxies
            .iter()
            .map(|p| p.local_addr().to_string())
            .collect();
        addrs.join(",")
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Built first: the delayed listeners' proxies run on it while the cluster starts. One
    // worker thread: their work is small next to the broker's and its clients'.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut builder = KafkaCluster::builder().nodes(args.nodes as usize);
    if let Some(port) = args.port {
        builder = builder.broker_port(0, port);
    }
    for (k, v) in args.property {
        builder = builder.property(k, v);
    }
    for feature in args.feature {
        builder = builder.format_arg("--feature").format_arg(feature);
    }
    let ssl = if args.ssl {
        match SslListener::add(builder, args.nodes as usize) {
            Ok((with_ssl, listener)) => {
                builder = with_ssl;
                Some(listener)
            }
            Err(e) => {
                eprintln!("kafka-launcher: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let mut delayed = Vec::new();
    let mut delays = args.delayed_listener.clone();
    delays.sort_unstable();
    delays.dedup();
    for one_way_ms in delays {
        match runtime.block_on(DelayedListener::add(
            builder,
            args.nodes as usize,
            one_way_ms,
        )) {
            Ok((with_delay, listener)) => {
                builder = with_delay;
                delayed.push(listener);
            }
            Err(e) => {
                eprintln!("kafka-launcher: cannot start the proxy of a delayed listener: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("kafka-launcher: starting {} node(s)...", args.nodes);
    let cluster = match builder.start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kafka-launcher: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "bootstrap={}", cluster.bootstrap());
    for i in 0..cluster.nodes() {
        let _ = writeln!(out, "logdir={}", cluster.log_dir(i).display());
    }
    if let Some(ssl) = &ssl {
        let _ = writeln!(out, "ssl_bootstrap={}", ssl.bootstrap());
        let _ = writeln!(out, "ssl_ca={}", ssl.ca_file.display());
    }
    for listener in &delayed {
        let _ = writeln!(
            out,
            "delayed_bootstrap_{}ms={}",
            listener.one_way_ms,
            listener.bootstrap()
        );
    }
    for i in 0..cluster.nodes() {
        let _ = writeln!(
            out,
            "node={i} pid={} addr={}",
            cluster.pid(i),
            cluster.broker_addr(i)
        );
    }
    let _ = out.flush();
    drop(out);

    let code = runtime.block_on(wait_for_end(&cluster, args.ignore_stdin));
    eprintln!("kafka-launcher: stopping");
    drop(cluster);
    drop(ssl);
    drop(delayed);
    // Nothing left to wait for; a runtime dropped normally would wait for
    // its blocking threads.
    runtime.shutdown_background();
    code
}

/// Resolves when stdin reaches EOF (or fails). Reads on a plain thread:
/// tokio's stdin read is a blocking task that would keep the runtime from
/// shutting down while it waits for input that never comes.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 256];
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    rx
}

async fn wait_for_end(cluster: &KafkaCluster, ignore_stdin: bool) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};

    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let stdin_closed = async {
        if ignore_stdin {
            std::future::pending::<()>().await;
        }
        let _ = stdin_closed().await;
    };
    tokio::pin!(stdin_closed);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = term.recv() => return ExitCode::SUCCESS,
            _ = int.recv() => return ExitCode::SUCCESS,
            _ = &mut stdin_closed => return ExitCode::SUCCESS,
            _ = tick.tick() => {
                // A node that dies on its own means the cluster is not what
                // the user thinks it is; say so rather than linger.
                if let Some(i) = (0..cluster.nodes()).find(|&i| !cluster.is_running(i)) {
                    eprintln!(
                        "kafka-launcher: node {i} exited; see {}",
                        cluster.log_file(i).display()
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    }
}
