//! Tests of the launcher and the proxy against real brokers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::launcher::probe_metadata;
use crate::{free_port, KafkaCluster, TcpProxy};

/// Brokers started side by side on a 2-core machine slow each other down
/// enough to blur the timings these tests print; one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn serves(node_addr: &str) -> bool {
    probe_metadata(addr(node_addr), Duration::from_secs(2))
        .map(|m| m.controller >= 0)
        .unwrap_or(false)
}

fn process_gone(pid: u32) -> bool {
    // A zombie no longer runs; only its parent (now init) has to reap it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

#[test]
fn single_node_behind_proxy_kill_restart_pause() {
    let _guard = heavy();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(single_node_behind_proxy());
}

async fn single_node_behind_proxy() {
    let port = free_port();
    let proxy = TcpProxy::start(format!("127.0.0.1:{port}")).await.unwrap();
    let proxy_port = proxy.local_addr().port();
    let t = Instant::now();
    let cluster = tokio::task::spawn_blocking(move || {
        KafkaCluster::builder()
            .broker_port(0, port)
            .advertise_port(0, proxy_port)
            .property("log.retention.hours", "1")
            .start()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("1-node cluster started in {:?}", t.elapsed());
    assert_eq!(cluster.bootstrap(), format!("127.0.0.1:{port}"));
    assert_eq!(cluster.broker_addr(0), format!("127.0.0.1:{port}"));
    let config = std::fs::read_to_string(cluster.data_dir().join("node-0/server.properties"))
        .expect("server.properties");
    assert!(config.contains("log.retention.hours=1"), "{config}");

    // Metadata, asked directly or through the proxy, points at the proxy.
    let direct = probe_metadata(addr(&cluster.broker_addr(0)), Duration::from_secs(5)).unwrap();
    assert_eq!(direct.brokers, vec![0]);
    assert_eq!(
        direct.endpoints,
        vec![("127.0.0.1".to_string(), proxy_port as i32)]
    );
    let via = proxy.local_addr();
    let through = tokio::task::spawn_blocking(move || probe_metadata(via, Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(through.endpoints, direct.endpoints);
    assert!(proxy.connections() >= 1);

    let cluster = std::sync::Arc::new(cluster);
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || {
        let a = c.broker_addr(0);
        let pid = c.pid(0);
        assert!(c.is_running(0));

        c.pause(0);
        assert!(!serves(&a), "a paused broker answered");
        c.resume(0);
        assert!(serves(&a), "a resumed broker did not answer");

        c.kill(0);
        assert!(!c.is_running(0));
        assert!(process_gone(pid));
        assert!(
            TcpStream::connect(&a).is_err(),
            "killed broker still accepts"
        );

        let t = Instant::now();
        c.restart(0).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("restart after SIGKILL took {:?}", t.elapsed());
        assert_ne!(c.pid(0), pid);
        assert!(serves(&a));

        let t = Instant::now();
        c.stop(0);
        eprintln!("graceful stop took {:?}", t.elapsed());
        assert!(!c.is_running(0));
        let t = Instant::now();
        c.restart(0).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("restart after SIGTERM took {:?}", t.elapsed());
        assert!(serves(&a));

        // A paused node is stopped too (it is resumed to hear SIGTERM).
        c.pause(0);
        c.stop(0);
        assert!(!c.is_running(0));
    })
    .await
    .unwrap();

    let dir = cluster.data_dir().to_path_buf();
    assert!(dir.exists());
    drop(std::sync::Arc::into_inner(cluster).expect("sole owner"));
    assert!(!dir.exists(), "data dir {} left behind", dir.display());
}

#[test]
fn three_nodes_survive_losing_one() {
    let _guard = heavy();
    let t = Instant::now();
    let cluster = KafkaCluster::start(3).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("3-node cluster started in {:?}", t.elapsed());
    assert_eq!(cluster.nodes(), 3);
    assert_eq!(cluster.bootstrap().split(',').count(), 3);
    for i in 0..3 {
        let m = probe_metadata(addr(&cluster.broker_addr(i)), Duration::from_secs(5)).unwrap();
        let mut brokers = m.brokers.clone();
        brokers.sort();
        assert_eq!(brokers, vec![0, 1, 2], "node {i}");
    }
    let pids: Vec<u32> = (0..3).map(|i| cluster.pid(i)).collect();
    let controller = cluster
        .active_controller()
        .expect("a 3-node quorum has a leader");
    assert!(controller < 3, "{controller}");

    cluster.kill(1);
    // The survivors keep a quorum (2 of 3) and fence the dead broker once
    // its session times out.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let views: Vec<_> = [0, 2]
            .iter()
            .map(|&i| probe_metadata(addr(&cluster.broker_addr(i)), Duration::from_secs(3)))
            .collect();
        let fenced = views.iter().all(|v| match v {
            Ok(m) => m.controller >= 0 && m.controller != 1 && !m.brokers.contains(&1),
            Err(_) => false,
        });
        if fenced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "survivors never dropped node 1: {:?}",
            views
                .iter()
                .map(|v| v.as_ref().map(|m| (m.brokers.clone(), m.controller)).ok())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(TcpStream::connect(cluster.broker_addr(0)).is_ok());
    assert!(TcpStream::connect(cluster.broker_addr(2)).is_ok());
    // Asked of the survivors only, the quorum names a live leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.active_controller().is_none_or(|c| c == 1) {
        assert!(
            Instant::now() < deadline,
            "no controller but the dead node 1"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let t = Instant::now();
    cluster.restart(1).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("3-node: node restart took {:?}", t.elapsed());
    assert!(serves(&cluster.broker_addr(1)));

    drop(cluster);
    for pid in pids {
        assert!(process_gone(pid), "java {pid} survived drop");
    }
}

const ORPHAN_ENV: &str = "KAFKIT_TESTKIT_ORPHAN_CHILD";

/// Runs this same test binary as a child that starts a broker and leaves
/// with `process::exit` (no destructors): the broker must die with it.
#[test]
fn broker_dies_when_its_process_exits_without_cleanup() {
    if std::env::var_os(ORPHAN_ENV).is_some() {
        // The child: leak the cluster on purpose, from a thread that ends
        // first, so neither Drop nor the forking thread's life saves it.
        let cluster =
            std::thread::spawn(|| KafkaCluster::start(1).unwrap_or_else(|e| panic!("{e}")))
                .join()
                .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            serves(&cluster.broker_addr(0)),
            "broker died with its thread"
        );
        println!(
            "JAVA_PID={} DATA={}",
            cluster.pid(0),
            cluster.data_dir().display()
        );
        std::io::stdout().flush().unwrap();
        std::process::exit(0);
    }
    let _guard = heavy();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cluster_tests::broker_dies_when_its_process_exits_without_cleanup",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ORPHAN_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The harness prints the test's name on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.find("JAVA_PID=").map(|at| &l[at..]))
        .unwrap_or_else(|| {
            panic!(
                "child printed no pid: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let pid: u32 = line["JAVA_PID=".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_gone(pid) {
        assert!(
            Instant::now() < deadline,
            "java {pid} outlived its test process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The child could not clean up; its data folder is ours to remove.
    if let Some(at) = line.find("DATA=") {
        let _ = std::fs::remove_dir_all(&line[at + "DATA=".len()..]);
    }
}

#[test]
fn shared_broker_outlives_the_thread_that_started_it() {
    let _guard = heavy();
    if std::env::var_os(crate::BOOTSTRAP_ENV).is_some() {
        // Another cluster was named; nothing of ours to check beyond it.
        assert!(!crate::bootstrap_servers().is_empty());
        return;
    }
    let first = std::thread::spawn(crate::bootstrap_servers).join().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(crate::bootstrap_servers(), first);
    assert!(serves(&first), "shared broker at {first} died");
}

#[test]
fn unique_names_differ() {
    let a = crate::unique_name("topic");
    let b = crate::unique_name("topic");
    assert_ne!(a, b);
    assert!(a.starts_with(&format!("topic-{}-", std::process::id())));
}

#[test]
fn probe_reads_a_hand_made_reply() {
    // A fake broker answering one Metadata v4 request, to pin the decoding
    // independently of a real broker.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut req).unwrap();
        assert_eq!(&req[0..4], &[0, 3, 0, 4]);
        let mut body = Vec::new();
        body.extend_from_slice(&req[4..8]); // correlation id
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&5i32.to_be_bytes());
        body.extend_from_slice(&4i16.to_be_bytes());
        body.extend_from_slice(b"host");
        body.extend_from_slice(&9092i32.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(b"id");
        body.extend_from_slice(&5i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        s.write_all(&frame).unwrap();
    });
    let m = probe_metadata(a, Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    assert_eq!(m.brokers, vec![5]);
    assert_eq!(m.endpoints, vec![("host".to_string(), 9092)]);
    assert_eq!(m.controller, 5);
}
