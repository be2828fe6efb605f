//! One node: its folder and files, and its JVM's life (format, spawn, wait
//! until it serves).

use super::config::log4j_config;
use super::jvm::Jvm;
use super::probe::probe_metadata;
use super::process::{run_tied, spawn_tied, tail_file};
use super::LaunchError;
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

pub(super) struct NodeState {
    pub(super) child: Option<Child>,
    pub(super) paused: bool,
}

pub(super) struct Node {
    pub(super) id: usize,
    broker_port: u16,
    pub(super) dir: PathBuf,
    state: Mutex<NodeState>,
}

impl Node {
    /// Node `id` in `dir`, serving clients on `broker_port`, with its config
    /// and logging setup written; not started.
    pub(super) fn create(
        id: usize,
        dir: PathBuf,
        broker_port: u16,
        properties: &str,
    ) -> Result<Node, LaunchError> {
        let node = Node {
            id,
            broker_port,
            dir,
            state: Mutex::new(NodeState {
                child: None,
                paused: false,
            }),
        };
        fs::create_dir_all(node.data())
            .map_err(|e| LaunchError::io(format!("cannot create {}", node.data().display()), e))?;
        fs::write(node.config(), properties)
            .map_err(|e| LaunchError::io("cannot write server.properties", e))?;
        fs::write(
            node.dir.join("log4j2.properties"),
            log4j_config(&node.log()),
        )
        .map_err(|e| LaunchError::io("cannot write log4j2.properties", e))?;
        Ok(node)
    }

    pub(super) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.broker_port))
    }

    /// Its `log.dirs`.
    pub(super) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("server.properties")
    }

    pub(super) fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, NodeState> {
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

    /// Formats its storage for the cluster `cluster_id` (a JVM run of its own).
    pub(super) fn format(
        &self,
        jvm: &Jvm,
        cluster_id: &str,
        extra: &[String],
    ) -> Result<(), LaunchError> {
        let mut cmd = jvm.tool(&self.dir);
        cmd.arg("kafka.tools.StorageTool")
            .arg("format")
            .arg("--cluster-id")
            .arg(cluster_id)
            .arg("--config")
            .arg(self.config())
            .arg("--ignore-formatted")
            .args(extra);
        run_tied(cmd, &format!("formatting node {} (StorageTool)", self.id)).map(|_| ())
    }

    /// Starts its broker JVM, its output going to `console.log`.
    pub(super) fn spawn(&self, jvm: &Jvm) -> Result<(), LaunchError> {
        let console = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.console())
            .map_err(|e| LaunchError::io("cannot open console.log", e))?;
        let console2 = console
            .try_clone()
            .map_err(|e| LaunchError::io("cannot open console.log", e))?;
        let mut cmd = jvm.broker(&self.dir);
        cmd.arg("kafka.Kafka")
            .arg(self.config())
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console2);
        let child = spawn_tied(cmd)
            .map_err(|e| LaunchError::io(format!("cannot start node {}", self.id), e))?;
        let mut st = self.lock();
        st.child = Some(child);
        st.paused = false;
        Ok(())
    }

    /// Polls the node until it answers Metadata listing every id in `expect`
    /// and a controller, or `deadline` passes (`waited` is for the message).
    pub(super) fn wait_ready(
        &self,
        expect: &[i32],
        deadline: Instant,
        waited: Duration,
    ) -> Result<(), LaunchError> {
        loop {
            self.check_alive()?;
            let last = match probe_metadata(self.addr(), Duration::from_secs(2)) {
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
                    "Kafka node {} at {} not ready after {waited:?} (last probe: {last})\n{}",
                    self.id,
                    self.addr(),
                    self.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// An error if its JVM is not running (any more), saying why.
    fn check_alive(&self) -> Result<(), LaunchError> {
        let mut st = self.lock();
        match st.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => {
                st.child = None;
                let mut err = LaunchError::new(format!(
                    "Kafka node {} exited during startup ({status})\n{}",
                    self.id,
                    self.log_tail()
                ));
                err.port_clash = fs::read_to_string(self.log())
                    .is_ok_and(|log| log.contains("Address already in use"));
                Err(err)
            }
            None => Err(LaunchError::new(format!(
                "Kafka node {} is not running",
                self.id
            ))),
            _ => Ok(()),
        }
    }
}
