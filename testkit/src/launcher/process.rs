//! Child processes tied to this one, and what can be read about them.
//!
//! Children must die with the test process, even when it exits without
//! running destructors (the test harness never drops statics, and a crash or
//! `process::exit` skips Drop). PR_SET_PDEATHSIG does that, but it fires when
//! the *thread* that forked exits, not the process; so every fork happens on
//! one thread that lives as long as the process.

use super::LaunchError;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;

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
pub(crate) fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
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

/// Runs a short-lived command to completion, tied like the brokers; returns
/// its stdout and stderr together.
pub(crate) fn run_tied(cmd: Command, what: &str) -> Result<String, LaunchError> {
    let (stdout, stderr) = run_tied_split(cmd, what)?;
    Ok(stdout + &stderr)
}

/// As [`run_tied`], but returns stdout alone (a peer's records), and stderr
/// only in the error.
pub(crate) fn run_tied_stdout(cmd: Command, what: &str) -> Result<String, LaunchError> {
    run_tied_split(cmd, what).map(|(stdout, _)| stdout)
}

fn run_tied_split(mut cmd: Command, what: &str) -> Result<(String, String), LaunchError> {
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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(LaunchError::new(format!(
            "{what} failed ({}):\n{}",
            out.status,
            excerpt(&format!("{stdout}{stderr}"), 20)
        )));
    }
    Ok((stdout, stderr))
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

pub(super) fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            // Only the end matters, and broker logs grow large.
            let from = bytes.len().saturating_sub(64 * 1024);
            excerpt(&String::from_utf8_lossy(&bytes[from..]), n)
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Whether every thread of `pid` is stopped (`None` if it cannot be told).
pub(super) fn process_stopped(pid: u32) -> Option<bool> {
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

pub(super) fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
