//! kafkit's metrics in Prometheus: installs `metrics-exporter-prometheus` as the recorder,
//! serves its text format on `/metrics`, produces and consumes a few records in a group, then
//! scrapes itself once with a plain HTTP GET and prints the `kafka_` lines. With `--serve`,
//! keeps serving for Prometheus until Ctrl-C. Names and labels: `docs/metrics.md`.
//!
//! ```sh
//! cargo run --features metrics --example prometheus_metrics -- \
//!     --bootstrap-server localhost:9092 --topic metrics_demo
//! ```

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::Parser;
use kafkit::{AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: support::Target,
    /// Where to serve /metrics.
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: String,
    /// Records to produce and consume.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// Keep serving /metrics after the scrape, until Ctrl-C.
    #[arg(long)]
    serve: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("prometheus_metrics", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Before the clients: each registers its metrics in the recorder installed when it starts.
    let handle = PrometheusBuilder::new().install_recorder()?;
    let listener = TcpListener::bind(&args.listen).await?;
    let address = listener.local_addr()?;
    tokio::spawn(serve(listener, handle));

    let (bootstrap, topic) = (&args.target.bootstrap_server, args.target.topic.as_str());
    let mut config = ProducerConfig::new(bootstrap);
    config.client.client_id = "metrics-demo-producer".into();
    let producer = Producer::new(config).await?;
    let mut deliveries = Vec::new();
    for i in 0..args.records {
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic, format!("record {i}")))
                .await?,
        );
    }
    for delivery in deliveries {
        delivery.await?;
    }

    let mut config = ConsumerConfig::new(bootstrap);
    config.client.client_id = "metrics-demo-consumer".into();
    config.group_id = Some("metrics-demo".into());
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    let consumer = Consumer::new(config).await?;
    consumer.subscribe([topic]).await?;
    let mut consumed = 0;
    for _ in 0..60 {
        consumed += consumer.poll(Duration::from_millis(500)).await?.len();
        if consumed >= args.records {
            break;
        }
    }
    consumer.commit().await?;

    let scrape = get_metrics(&address.to_string()).await?;
    println!("GET http://{address}/metrics ({consumed} records consumed):");
    for line in scrape.lines().filter(|l| l.starts_with("kafka_")) {
        println!("{line}");
    }
    if args.serve {
        eprintln!("serving http://{address}/metrics; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }
    consumer.close().await?;
    producer.close(Duration::from_secs(5)).await;
    Ok(())
}

/// Answers every connection with the current scrape (the request itself is not parsed).
async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let body = handle.render();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all((head + &body).as_bytes()).await;
        });
    }
}

/// `GET /metrics` over a plain TCP connection: the response's body.
async fn get_metrics(address: &str) -> Result<String, Box<dyn Error>> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (_, body) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    Ok(body.to_string())
}
