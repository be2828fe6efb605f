//! Starts real Apache Kafka brokers (KRaft, combined broker+controller mode)
//! as child JVM processes, from jars that Maven resolves once per build folder.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The Apache Kafka release every cluster runs; the jar cache is keyed on it.
pub const KAFKA_VERSION: &str = "4.4.0";

/// How long [`KafkaClusterBuilder::start`] and [`KafkaCluster::restart`] wait
/// for a node to serve before giving up, unless the builder says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How long [`KafkaCluster::stop`] lets a node shut down cleanly before it is
/// killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Why a cluster (or one node of it) could not be started.
///
/// The message is meant to be read by a person looking at a failed test: it
/// names the missing tool, the failing command with the tail of its output,
/// or the node that did not become ready with the tail of its log.
#[derive(Debug, Clone)]
pub struct LaunchError {
    message: String,
    /// A node lost a race for a port picked as free; worth another try.
    port_clash: bool,
}

impl LaunchError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        LaunchError {
            message: message.into(),
            port_clash: false,
        }
    }

    pub(crate) fn io(context: impl fmt::Display, err: io::Error) -> Self {
        LaunchError::new(format!("{context}: {err}"))
    }

    /// The full explanation, also what `Display` prints.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LaunchError {}

// ---------------------------------------------------------------------------
// Spawning: children must die with the test process, even when it exits
// without running destructors (the test harness never drops statics, and a
// crash or `process::exit` skips Drop). PR_SET_PDEATHSIG does that, but it
// fires when the *thread* that forked exits, not the process; so every fork
// happens on one thread that lives as long as the process.
// ---------------------------------------------------------------------------

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("kafkit-testkit-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop only ends with
                // the process.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the testkit spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` so that it is SIGKILLed when this process dies.
fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    // Its own process group keeps a terminal's Ctrl-C away from the JVMs, so
    // the owner decides how they stop.
    cmd.process_group(0);
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, tx))
        .map_err(|_| io::Error::other("testkit spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("testkit spawner thread is gone"))?
}

/// Runs a short-lived command to completion, tied like the brokers.
pub(crate) fn run_tied(mut cmd: Command, what: &str) -> Result<String, LaunchError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = spawn_tied(cmd).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            LaunchError::new(format!("{what}: `{program}` not found on PATH"))
        } else {
            LaunchError::io(format!("{what}: cannot run `{program}`"), e)
        }
    })?;
    let out = child
        .wait_with_output()
        .map_err(|e| LaunchError::io(format!("{what}: waiting for `{program}`"), e))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(LaunchError::new(format!(
            "{what} failed ({}):\n{}",
            out.status,
            excerpt(&text, 20)
        )));
    }
    Ok(text)
}

/// The first error lines (Java's stack traces bury the message above a
/// tail of `at ...` frames), then the last `n` lines.
fn excerpt(text: &str, n: usize) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.starts_with('\t')
                && (l.contains("Exception") || l.contains("ERROR") || l.contains("FATAL"))
        })
        .take(5)
        .collect();
    let tail = tail_lines(text, n);
    if errors.is_empty() {
        tail
    } else {
        format!("{}\n...\n{tail}", errors.join("\n"))
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            // Only the end matters, and broker logs grow large.
            let from = bytes.len().saturating_sub(64 * 1024);
            excerpt(&String::from_utf8_lossy(&bytes[from..]), n)
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

// ---------------------------------------------------------------------------
// Jars
// ---------------------------------------------------------------------------

/// The build folder: `CARGO_TARGET_DIR` if set, else the workspace's `target`.
pub(crate) fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives inside the workspace")
        .to_path_buf();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

/// The folder holding everything this testkit keeps for [`KAFKA_VERSION`]:
/// the resolved jars and the data folders of running clusters.
pub fn cache_dir() -> PathBuf {
    target_dir().join(format!("kafka-{KAFKA_VERSION}"))
}

fn pom() -> String {
    // slf4j 2 and its log4j2 binding are not dependencies of kafka_2.13 (the
    // distribution adds them), and without them the broker logs nothing.
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkit.testkit</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>2.0.17</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.25.5</version>
    </dependency>
  </dependencies>
</project>
"#
    )
}

/// An exclusive `flock` on a file, released when dropped (or when the
/// process dies, so a crashed resolver never blocks the next one).
pub(crate) struct FileLock(fs::File);

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> io::Result<FileLock> {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(FileLock(file));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Resolves the broker's jars with Maven on first use (per build folder) and
/// returns the folder holding them. Safe to call from concurrent test
/// processes: one resolves, the others wait for it.
pub fn resolve_jars() -> Result<PathBuf, LaunchError> {
    static RESOLVED: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    RESOLVED.get_or_init(resolve_jars_uncached).clone()
}

fn resolve_jars_uncached() -> Result<PathBuf, LaunchError> {
    let dir = cache_dir();
    let libs = dir.join("libs");
    let done = libs.join(".complete");
    if done.exists() {
        return Ok(libs);
    }
    fs::create_dir_all(&dir)
        .map_err(|e| LaunchError::io(format!("cannot create {}", dir.display()), e))?;
    let _lock = FileLock::acquire(&dir.join("resolve.lock"))
        .map_err(|e| LaunchError::io("cannot lock the jar cache", e))?;
    if done.exists() {
        return Ok(libs);
    }
    let pom_path = dir.join("pom.xml");
    fs::write(&pom_path, pom())
        .map_err(|e| LaunchError::io(format!("cannot write {}", pom_path.display()), e))?;
    // A half-copied folder from an interrupted run must not be mixed in.
    let _ = fs::remove_dir_all(&libs);
    let mut mvn = Command::new("mvn");
    mvn.arg("-q")
        .arg("-B")
        .arg("-f")
        .arg(&pom_path)
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", libs.display()));
    run_tied(
        mvn,
        &format!("resolving Kafka {KAFKA_VERSION} jars with Maven (mvn)"),
    )?;
    let has_kafka = fs::read_dir(&libs)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("kafka_2.13-"))
        })
        .unwrap_or(false);
    if !has_kafka {
        return Err(LaunchError::new(format!(
            "mvn succeeded but {} holds no kafka_2.13 jar",
            libs.display()
        )));
    }
    fs::write(&done, "")
        .map_err(|e| LaunchError::io(format!("cannot write {}", done.display()), e))?;
    Ok(libs)
}

/// The class-data-sharing archive of a broker's classes, recorded once per
/// build folder by a throw-away broker, or `None` if it cannot be had (the
/// brokers then just start slower). Loading classes from it roughly halves a
/// broker's start on a 2-core machine (measured 7 s -> 4 s under load).
///
/// The JVM checks the archive against itself and the classpath and ignores
/// a stale one (e.g. after a JDK upgrade). `KAFKIT_TESTKIT_NO_CDS=1` turns
/// it off.
fn cds_archive() -> Option<PathBuf> {
    static ARCHIVE: OnceLock<Option<PathBuf>> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            if std::env::var_os("KAFKIT_TESTKIT_NO_CDS").is_some_and(|v| v != "0") {
                return None;
            }
            let dir = cache_dir();
            let jsa = dir.join("broker-classes.jsa");
            let failed = dir.join("broker-classes.failed");
            let _lock = FileLock::acquire(&dir.join("cds.lock")).ok()?;
            if jsa.exists() {
                return Some(jsa);
            }
            if failed.exists() {
                return None;
            }
            let partial = dir.join(format!("broker-classes.{}.tmp", std::process::id()));
            let _ = fs::remove_file(&partial);
            let trained = KafkaCluster::builder()
                .train_cds(partial.clone())
                .start()
                .map(|cluster| {
                    // The archive is written as the JVM exits cleanly.
                    cluster.stop(0);
                });
            match trained {
                Ok(()) if partial.exists() && fs::rename(&partial, &jsa).is_ok() => Some(jsa),
                Ok(()) => {
                    // This JVM cannot record archives; do not try again.
                    let _ = fs::remove_file(&partial);
                    let _ = fs::write(&failed, "the JVM wrote no archive");
                    None
                }
                // The real start that follows will fail too, and say why.
                Err(_) => None,
            }
        })
        .clone()
}

fn java_binary() -> PathBuf {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let java = Path::new(&home).join("bin").join("java");
        if java.exists() {
            return java;
        }
    }
    PathBuf::from("java")
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// Useful to fix a broker's port before it starts (see
/// [`KafkaClusterBuilder::broker_port`]), e.g. to point a proxy at it.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

fn free_ports(n: usize) -> Vec<u16> {
    // All listeners stay open until every port is picked, so the ports differ.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect()
}

fn random_cluster_id() -> String {
    // Like Kafka's own Uuid.randomUuid, never start with '-': the storage tool's argument
    // parser would take the id for an option.
    loop {
        let id = random_base64_uuid();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_base64_uuid() -> String {
    // Kafka wants a base64url (no padding) encoded 16-byte UUID.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: [u8; 16] = rand::random();
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | b as u32;
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

/// Whether every thread of `pid` is stopped (`None` if it cannot be told).
fn process_stopped(pid: u32) -> Option<bool> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let stat = fs::read_to_string(task.path().join("stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
        if !matches!(state, 'T' | 't') {
            return Some(false);
        }
    }
    Some(true)
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes data folders left behind by test processes that died without
/// cleaning up (their brokers died with them).
fn remove_stale_clusters(clusters: &Path) {
    let Ok(entries) = fs::read_dir(clusters) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
        if let Some(pid) = owner {
            if !pid_alive(pid) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Readiness probe: a raw Metadata v4 request (the oldest version Kafka 4.x
// still serves, and the last before flexible encoding, so it is easy to write
// by hand). It answers only once the broker has joined the cluster, which a
// mere TCP accept does not prove.
// ---------------------------------------------------------------------------

pub(crate) struct MetadataView {
    /// Node ids of the live brokers.
    pub(crate) brokers: Vec<i32>,
    /// Advertised (host, port) of each broker, same order.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) endpoints: Vec<(String, i32)>,
    pub(crate) controller: i32,
}

pub(crate) fn probe_metadata(addr: SocketAddr, timeout: Duration) -> io::Result<MetadataView> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let client_id = b"kafkit-testkit-probe";
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes()); // api key: Metadata
    body.extend_from_slice(&4i16.to_be_bytes()); // api version
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&0i32.to_be_bytes()); // topics: none
    body.push(0); // allow_auto_topic_creation: false
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;

    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(8..=16 * 1024 * 1024).contains(&len) {
        return Err(io::Error::other(format!("bad response size {len}")));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf)?;
    let mut r = Reader { buf: &buf, pos: 0 };
    if r.i32()? != 7 {
        return Err(io::Error::other("correlation id mismatch"));
    }
    r.i32()?; // throttle time
    let n = r.i32()?;
    let mut brokers = Vec::new();
    let mut endpoints = Vec::new();
    for _ in 0..n.max(0) {
        brokers.push(r.i32()?);
        let host = r.string()?;
        endpoints.push((host, r.i32()?));
        r.string()?; // rack
    }
    r.string()?; // cluster id
    let controller = r.i32()?;
    Ok(MetadataView {
        brokers,
        endpoints,
        controller,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(io::Error::other("truncated metadata response"));
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i32(&mut self) -> io::Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn string(&mut self) -> io::Result<String> {
        let len = i16::from_be_bytes(self.take(2)?.try_into().unwrap());
        if len <= 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(self.take(len as usize)?).into_owned())
    }
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

struct NodeState {
    child: Option<Child>,
    paused: bool,
}

struct Node {
    id: usize,
    broker_port: u16,
    dir: PathBuf,
    state: Mutex<NodeState>,
}

impl Node {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.broker_port))
    }
    fn config(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }
    fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn log_tail(&self) -> String {
        format!(
            "--- tail of {} ---\n{}\n--- tail of {} ---\n{}",
            self.log().display(),
            tail_file(&self.log(), 30),
            self.console().display(),
            tail_file(&self.console(), 10)
        )
    }
}

/// Options for a [`KafkaCluster`]; obtained from [`KafkaCluster::builder`].
#[derive(Debug, Clone)]
pub struct KafkaClusterBuilder {
    nodes: usize,
    properties: Vec<(String, String)>,
    broker_ports: HashMap<usize, u16>,
    advertised_ports: HashMap<usize, u16>,
    ready_timeout: Duration,
    /// Set only for the run that records the class-data-sharing archive.
    train_cds: Option<PathBuf>,
}

impl KafkaClusterBuilder {
    /// Number of nodes, each a combined broker and controller (default 1).
    /// 1 and 3 are the tested sizes.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Sets (or overrides) a broker property on every node, e.g.
    /// `property("auto.create.topics.enable", "false")`.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Fixes the client port of `node` (default: a free port). Lets a test
    /// start a proxy that forwards to the broker before the broker exists.
    pub fn broker_port(mut self, node: usize, port: u16) -> Self {
        self.broker_ports.insert(node, port);
        self
    }

    /// Makes `node` advertise `127.0.0.1:port` to clients instead of its own
    /// client port, so metadata sends clients through e.g. a
    /// [`TcpProxy`](crate::TcpProxy). Brokers talk to each other over a
    /// separate listener that is never advertised elsewhere.
    pub fn advertise_port(mut self, node: usize, port: u16) -> Self {
        self.advertised_ports.insert(node, port);
        self
    }

    /// How long to wait for the cluster (and later for a restarted node) to
    /// serve (default [`DEFAULT_READY_TIMEOUT`]).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    fn train_cds(mut self, out: PathBuf) -> Self {
        self.train_cds = Some(out);
        self
    }

    /// Resolves the jars if needed, formats and starts every node, and waits
    /// until each answers a Metadata request listing all nodes.
    ///
    /// Blocks for seconds; async code calls it through
    /// `tokio::task::spawn_blocking`.
    pub fn start(self) -> Result<KafkaCluster, LaunchError> {
        KafkaCluster::launch(self)
    }
}

/// A running Apache Kafka cluster of 1..n KRaft nodes on 127.0.0.1.
///
/// Every node is a child JVM tied to this process: dropping the cluster
/// kills the nodes and deletes their data, and if the process dies first
/// the kernel kills them (`PR_SET_PDEATHSIG`).
///
/// The methods that start or stop nodes block; async callers use
/// `tokio::task::spawn_blocking` for [`KafkaCluster::start`],
/// [`KafkaCluster::restart`] and [`KafkaCluster::stop`]. Node indexes run
/// from 0; a bad index panics.
pub struct KafkaCluster {
    nodes: Vec<Node>,
    root: PathBuf,
    cluster_id: String,
    java: PathBuf,
    classpath: String,
    /// JVM options for brokers and for the format tool.
    broker_jvm: Vec<String>,
    tool_jvm: Vec<String>,
    ready_timeout: Duration,
}

impl fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("bootstrap", &self.bootstrap())
            .field("data_dir", &self.root)
            .finish()
    }
}

impl KafkaCluster {
    /// Starts a cluster of `nodes` nodes with default settings; see
    /// [`KafkaClusterBuilder::start`].
    pub fn start(nodes: usize) -> Result<KafkaCluster, LaunchError> {
        Self::builder().nodes(nodes).start()
    }

    /// A builder for a cluster with non-default settings.
    pub fn builder() -> KafkaClusterBuilder {
        KafkaClusterBuilder {
            nodes: 1,
            properties: Vec::new(),
            broker_ports: HashMap::new(),
            advertised_ports: HashMap::new(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            train_cds: None,
        }
    }

    fn launch(opts: KafkaClusterBuilder) -> Result<KafkaCluster, LaunchError> {
        // Ports are picked free but only taken when the JVM binds them, so
        // another process can get there first.
        let mut attempt = 1;
        loop {
            match Self::launch_once(opts.clone()) {
                Err(e) if e.port_clash && attempt < 3 => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    fn launch_once(opts: KafkaClusterBuilder) -> Result<KafkaCluster, LaunchError> {
        let n = opts.nodes;
        if n == 0 {
            return Err(LaunchError::new("a cluster needs at least one node"));
        }
        let java = java_binary();
        match Command::new(&java)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(s) => {
                return Err(LaunchError::new(format!(
                    "`{} -version` failed ({s})",
                    java.display()
                )))
            }
            Err(e) => {
                return Err(LaunchError::new(format!(
                    "java not found (`{}`: {e}); install a JDK 17+ or set JAVA_HOME",
                    java.display()
                )))
            }
        }
        let libs = resolve_jars()?;
        let classpath = format!("{}/*", libs.display());
        let (broker_jvm, tool_jvm) = match &opts.train_cds {
            Some(out) => (
                vec![format!("-XX:ArchiveClassesAtExit={}", out.display())],
                vec![],
            ),
            None => match cds_archive() {
                Some(jsa) => {
                    let arg = format!("-XX:SharedArchiveFile={}", jsa.display());
                    (vec![arg.clone()], vec![arg])
                }
                None => (vec![], vec![]),
            },
        };

        let clusters = cache_dir().join("clusters");
        fs::create_dir_all(&clusters)
            .map_err(|e| LaunchError::io(format!("cannot create {}", clusters.display()), e))?;
        remove_stale_clusters(&clusters);
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let root = clusters.join(format!(
            "{}-{}-{:08x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        ));
        fs::create_dir_all(&root)
            .map_err(|e| LaunchError::io(format!("cannot create {}", root.display()), e))?;

        let ports = free_ports(3 * n);
        let broker_ports: Vec<u16> = (0..n)
            .map(|i| opts.broker_ports.get(&i).copied().unwrap_or(ports[3 * i]))
            .collect();
        let internal_ports: Vec<u16> = (0..n).map(|i| ports[3 * i + 1]).collect();
        let controller_ports: Vec<u16> = (0..n).map(|i| ports[3 * i + 2]).collect();
        let voters = (0..n)
            .map(|i| format!("{i}@127.0.0.1:{}", controller_ports[i]))
            .collect::<Vec<_>>()
            .join(",");
        let rf = n.min(3);
        let min_isr = if n >= 3 { 2 } else { 1 };

        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let dir = root.join(format!("node-{i}"));
            let data = dir.join("data");
            fs::create_dir_all(&data)
                .map_err(|e| LaunchError::io(format!("cannot create {}", data.display()), e))?;
            let advertised = opts
                .advertised_ports
                .get(&i)
                .copied()
                .unwrap_or(broker_ports[i]);
            let mut props: Vec<(String, String)> = vec![
                ("process.roles", "broker,controller".to_string()),
                ("node.id", i.to_string()),
                ("controller.quorum.voters", voters.clone()),
                (
                    "listeners",
                    format!(
                        "PLAINTEXT://127.0.0.1:{},INTERNAL://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                        broker_ports[i], internal_ports[i], controller_ports[i]
                    ),
                ),
                (
                    "advertised.listeners",
                    format!(
                        "PLAINTEXT://127.0.0.1:{advertised},INTERNAL://127.0.0.1:{}",
                        internal_ports[i]
                    ),
                ),
                ("controller.listener.names", "CONTROLLER".into()),
                ("inter.broker.listener.name", "INTERNAL".into()),
                (
                    "listener.security.protocol.map",
                    "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
                ),
                ("log.dirs", data.display().to_string()),
                ("num.partitions", "1".into()),
                ("default.replication.factor", n.to_string()),
                ("auto.create.topics.enable", "true".into()),
                ("offsets.topic.replication.factor", rf.to_string()),
                ("offsets.topic.num.partitions", "5".into()),
                ("transaction.state.log.replication.factor", rf.to_string()),
                ("transaction.state.log.min.isr", min_isr.to_string()),
                ("transaction.state.log.num.partitions", "5".into()),
                ("share.coordinator.state.topic.replication.factor", rf.to_string()),
                ("share.coordinator.state.topic.min.isr", min_isr.to_string()),
                ("group.initial.rebalance.delay.ms", "0".into()),
                // A killed node is fenced after 3 s rather than the default
                // 9 s. That also bounds a restart after SIGKILL: the
                // controller refuses the new incarnation until the old
                // session expires. Still long enough that a busy 2-core
                // runner does not fence a healthy node.
                ("broker.heartbeat.interval.ms", "500".into()),
                ("broker.session.timeout.ms", "3000".into()),
                // Fewer log-cleaner and recovery threads: faster start, less
                // CPU stolen from the code under test.
                ("log.cleaner.threads", "1".into()),
                ("num.recovery.threads.per.data.dir", "1".into()),
                ("num.network.threads", "2".into()),
                ("num.io.threads", "4".into()),
                // A restarted node must not wait out a leader rebalance.
                ("auto.leader.rebalance.enable", "false".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            for (k, v) in &opts.properties {
                match props.iter_mut().find(|(pk, _)| pk == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => props.push((k.clone(), v.clone())),
                }
            }
            let node = Node {
                id: i,
                broker_port: broker_ports[i],
                dir,
                state: Mutex::new(NodeState {
                    child: None,
                    paused: false,
                }),
            };
            let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            fs::write(node.config(), text)
                .map_err(|e| LaunchError::io("cannot write server.properties", e))?;
            fs::write(
                node.dir.join("log4j2.properties"),
                log4j_config(&node.log()),
            )
            .map_err(|e| LaunchError::io("cannot write log4j2.properties", e))?;
            nodes.push(node);
        }

        let cluster = KafkaCluster {
            nodes,
            root,
            cluster_id: random_cluster_id(),
            java,
            classpath,
            broker_jvm,
            tool_jvm,
            ready_timeout: opts.ready_timeout,
        };
        // From here on Drop cleans up whatever was started.
        // Each format is a JVM start of its own; side by side they overlap.
        thread::scope(|scope| {
            let jobs: Vec<_> = cluster
                .nodes
                .iter()
                .map(|node| scope.spawn(|| cluster.format(node)))
                .collect();
            jobs.into_iter()
                .map(|job| job.join().expect("format thread panicked"))
                .collect::<Result<Vec<()>, LaunchError>>()
        })?;
        for node in &cluster.nodes {
            cluster.spawn(node)?;
        }
        let deadline = Instant::now() + cluster.ready_timeout;
        let all: Vec<i32> = (0..n as i32).collect();
        for node in &cluster.nodes {
            cluster.wait_ready(node, &all, deadline)?;
        }
        Ok(cluster)
    }

    fn java_command(&self, node: &Node, extra: &[String]) -> Command {
        let mut cmd = Command::new(&self.java);
        cmd.current_dir(&node.dir)
            .args(extra)
            .arg("-Xms256m")
            .arg("-Xmx512m")
            .arg("-XX:+UseSerialGC")
            .arg("-XX:+ExitOnOutOfMemoryError")
            .arg("-Djava.awt.headless=true")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                node.dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(&self.classpath);
        cmd
    }

    fn format(&self, node: &Node) -> Result<(), LaunchError> {
        let mut cmd = self.java_command(node, &self.tool_jvm);
        cmd.arg("kafka.tools.StorageTool")
            .arg("format")
            .arg("--cluster-id")
            .arg(&self.cluster_id)
            .arg("--config")
            .arg(node.config())
            .arg("--ignore-formatted");
        run_tied(cmd, &format!("formatting node {} (StorageTool)", node.id)).map(|_| ())
    }

    fn spawn(&self, node: &Node) -> Result<(), LaunchError> {
        let console = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.console())
            .map_err(|e| LaunchError::io("cannot open console.log", e))?;
        let console2 = console
            .try_clone()
            .map_err(|e| LaunchError::io("cannot open console.log", e))?;
        let mut cmd = self.java_command(node, &self.broker_jvm);
        cmd.arg("kafka.Kafka")
            .arg(node.config())
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console2);
        let child = spawn_tied(cmd)
            .map_err(|e| LaunchError::io(format!("cannot start node {}", node.id), e))?;
        let mut st = node.lock();
        st.child = Some(child);
        st.paused = false;
        Ok(())
    }

    /// Polls `node` until it answers Metadata listing every id in `expect`
    /// and a controller.
    fn wait_ready(
        &self,
        node: &Node,
        expect: &[i32],
        deadline: Instant,
    ) -> Result<(), LaunchError> {
        loop {
            {
                let mut st = node.lock();
                match st.child.as_mut().map(|c| c.try_wait()) {
                    Some(Ok(Some(status))) => {
                        st.child = None;
                        let mut err = LaunchError::new(format!(
                            "Kafka node {} exited during startup ({status})\n{}",
                            node.id,
                            node.log_tail()
                        ));
                        err.port_clash = fs::read_to_string(node.log())
                            .is_ok_and(|log| log.contains("Address already in use"));
                        return Err(err);
                    }
                    None => {
                        return Err(LaunchError::new(format!(
                            "Kafka node {} is not running",
                            node.id
                        )))
                    }
                    _ => {}
                }
            }
            let last = match probe_metadata(node.addr(), Duration::from_secs(2)) {
                Ok(view) => {
                    if view.controller >= 0 && expect.iter().all(|id| view.brokers.contains(id)) {
                        return Ok(());
                    }
                    format!(
                        "metadata lists brokers {:?}, controller {}",
                        view.brokers, view.controller
                    )
                }
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(LaunchError::new(format!(
                    "Kafka node {} at {} not ready after {:?} (last probe: {last})\n{}",
                    node.id,
                    node.addr(),
                    self.ready_timeout,
                    node.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn node(&self, node: usize) -> &Node {
        self.nodes.get(node).unwrap_or_else(|| {
            panic!(
                "node {node} does not exist (cluster has {})",
                self.nodes.len()
            )
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Every node's client address, comma-separated
    /// (`127.0.0.1:p1,127.0.0.1:p2,...`), whether running or not.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client address (`127.0.0.1:port`) of `node`; it stays the same
    /// across restarts.
    pub fn broker_addr(&self, node: usize) -> String {
        self.node(node).addr().to_string()
    }

    /// The process id of `node`'s JVM. Panics if the node is not running.
    pub fn pid(&self, node: usize) -> u32 {
        self.node(node)
            .lock()
            .child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("Kafka node {node} is not running"))
    }

    /// Whether `node`'s JVM is running (paused counts as running).
    pub fn is_running(&self, node: usize) -> bool {
        let mut st = self.node(node).lock();
        match st.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                st.child = None;
                false
            }
            None => false,
        }
    }

    /// The cluster's data folder (one `node-N` folder per node, holding its
    /// config, `server.log`, `console.log` and `data/`). Deleted on drop.
    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// `node`'s broker log file, for diagnostics.
    pub fn log_file(&self, node: usize) -> PathBuf {
        self.node(node).log()
    }

    /// `node`'s `log.dirs` folder: one `<topic>-<partition>` folder per
    /// partition replica, holding its segment files.
    pub fn log_dir(&self, node: usize) -> PathBuf {
        self.node(node).dir.join("data")
    }

    /// Kills `node` with SIGKILL, as a crash would, and waits for it to exit.
    /// Does nothing if it is not running.
    pub fn kill(&self, node: usize) {
        let mut st = self.node(node).lock();
        if let Some(mut child) = st.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        st.paused = false;
    }

    /// Freezes `node` with SIGSTOP: its sockets stay open but it answers
    /// nothing, like a long GC pause or a hung host.
    pub fn pause(&self, node: usize) {
        self.signal(node, libc::SIGSTOP, true);
    }

    /// Thaws a node frozen by [`KafkaCluster::pause`] with SIGCONT.
    pub fn resume(&self, node: usize) {
        self.signal(node, libc::SIGCONT, false);
    }

    fn signal(&self, node: usize, sig: libc::c_int, paused: bool) {
        let mut st = self.node(node).lock();
        let pid = st
            .child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("Kafka node {node} is not running"));
        // SAFETY: signalling our own child, which has not been reaped.
        unsafe { libc::kill(pid as libc::pid_t, sig) };
        st.paused = paused;
        // kill() returns before every thread has stopped (or woken); a
        // caller that probes right after must see the new state.
        let deadline = Instant::now() + Duration::from_secs(2);
        while process_stopped(pid) != Some(paused) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops `node` cleanly with SIGTERM (a controlled shutdown), killing it
    /// if it has not exited within 30 s. Blocks until it is gone.
    pub fn stop(&self, node: usize) {
        let mut st = self.node(node).lock();
        let Some(mut child) = st.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped.
        unsafe {
            if st.paused {
                libc::kill(pid, libc::SIGCONT);
            }
            libc::kill(pid, libc::SIGTERM);
        }
        st.paused = false;
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Starts `node` again on the same ports and data, stopping it first
    /// (SIGTERM) if it is still running, and waits until it serves again.
    pub fn restart(&self, node: usize) -> Result<(), LaunchError> {
        self.stop(node);
        let n = self.node(node);
        self.spawn(n)?;
        let deadline = Instant::now() + self.ready_timeout;
        self.wait_ready(n, &[node as i32], deadline)
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            let mut st = node.lock();
            if let Some(mut child) = st.child.take() {
                // SIGKILL works on stopped processes too; nothing to resume.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn log4j_config(file: &Path) -> String {
    // Everything to a file: the console is the test runner's, and a broker
    // prints thousands of lines while starting.
    format!(
        "status = error\n\
         name = kafkit-testkit\n\
         appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.append = true\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = INFO\n\
         rootLogger.appenderRef.file.ref = file\n\
         logger.config.name = org.apache.kafka.common.config.AbstractConfig\n\
         logger.config.level = WARN\n",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_base64url_chars_never_led_by_a_dash() {
        for _ in 0..2000 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'), "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
