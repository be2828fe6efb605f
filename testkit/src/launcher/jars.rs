//! Where the testkit keeps its files, and the broker's jars, resolved by Maven
//! once per build folder.

use super::process::run_tied;
use super::{LaunchError, KAFKA_VERSION};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
