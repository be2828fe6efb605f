//! A running cluster: its nodes, what they can be asked (addresses, pids,
//! folders), and the faults a test can cause (kill, pause, stop, restart).

use super::jvm::Jvm;
use super::node::Node;
use super::process::process_stopped;
use super::{KafkaClusterBuilder, LaunchError};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

/// How long [`KafkaCluster::stop`] lets a node shut down cleanly before it is
/// killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

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
    pub(super) nodes: Vec<Node>,
    root: PathBuf,
    cluster_id: String,
    pub(super) jvm: Jvm,
    ready_timeout: Duration,
    /// Extra arguments to every node's storage format (SCRAM users).
    pub(super) format_args: Vec<String>,
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
    /// A builder for a cluster with non-default settings.
    pub fn builder() -> KafkaClusterBuilder {
        KafkaClusterBuilder::new()
    }

    /// A cluster of `nodes`, configured in `root` and not started yet.
    pub(super) fn new(
        nodes: Vec<Node>,
        root: PathBuf,
        cluster_id: String,
        jvm: Jvm,
        ready_timeout: Duration,
    ) -> KafkaCluster {
        KafkaCluster {
            nodes,
            root,
            cluster_id,
            jvm,
            ready_timeout,
            format_args: Vec::new(),
        }
    }

    /// Formats every node's storage. Each format is a JVM start of its own;
    /// side by side they overlap.
    pub(super) fn format_all(&self) -> Result<(), LaunchError> {
        thread::scope(|scope| {
            let jobs: Vec<_> = self
                .nodes
                .iter()
                .map(|node| {
                    scope.spawn(|| node.format(&self.jvm, &self.cluster_id, &self.format_args))
                })
                .collect();
            jobs.into_iter()
                .try_for_each(|job| job.join().expect("format thread panicked"))
        })
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
        self.node(node).data()
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
        // kill() returns before every thread has stopped (or woken): a thread
        // in uninterruptible sleep (an fsync on a loaded disk) stops only when
        // it returns, and until the group stop begins the others run on. A
        // caller that acts right after must see the new state, so wait for it
        // and fail loudly rather than go on with a broker that still answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while process_stopped(pid) != Some(paused) {
            if Instant::now() >= deadline {
                panic!(
                    "Kafka node {node} (pid {pid}) is not {} 30 s after the signal",
                    if paused { "stopped" } else { "running" }
                );
            }
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
        n.spawn(&self.jvm)?;
        let deadline = Instant::now() + self.ready_timeout;
        n.wait_ready(&[node as i32], deadline, self.ready_timeout)
    }

    /// Starts `nodes` again together (stopping any still running first), and
    /// waits until each serves. Nodes a quorum needs together, as after the
    /// whole cluster was killed, must start this way: restarted one at a time,
    /// the first would wait for a quorum that the others have not formed yet.
    pub fn restart_together(&self, nodes: &[usize]) -> Result<(), LaunchError> {
        for &node in nodes {
            self.stop(node);
        }
        for &node in nodes {
            self.node(node).spawn(&self.jvm)?;
        }
        let ids: Vec<i32> = nodes.iter().map(|&n| n as i32).collect();
        let deadline = Instant::now() + self.ready_timeout;
        for &node in nodes {
            self.node(node)
                .wait_ready(&ids, deadline, self.ready_timeout)?;
        }
        Ok(())
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
