//! Where the testkit keeps its files, and the broker's jars, resolved by Maven
//! once per build folder.

use super::once::make_once;
use super::process::run_tied;
use super::{LaunchError, KAFKA_VERSION, KAFKA_VERSION_ENV};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the testkit keeps jars, venvs and class-data archives: the build
/// folder (`CARGO_TARGET_DIR` if set, else the workspace's `target`) when the
/// testkit is built inside kafkit's workspace; as a dependency from a registry,
/// `CARGO_TARGET_DIR` if set, else `kafkit-testkit` in the user's cache folder
/// (`$XDG_CACHE_HOME`, else `~/.cache`), never the registry's source folder.
pub(crate) fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .parent()
        .filter(|parent| is_kafkit_workspace(parent));
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")));
    choose_dir(
        workspace,
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from),
        cache_home,
    )
}

/// Whether `dir` is the root of kafkit's own workspace (the testkit's source
/// checkout), rather than a registry's folder of unpacked crates.
fn is_kafkit_workspace(dir: &Path) -> bool {
    fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.contains("[workspace]") && manifest.contains("\"testkit\""))
}

fn choose_dir(
    workspace: Option<&Path>,
    target_env: Option<PathBuf>,
    cache_home: Option<PathBuf>,
) -> PathBuf {
    match (
        target_env.filter(|dir| !dir.as_os_str().is_empty()),
        workspace,
    ) {
        // Relative to the workspace, as cargo reads it there (`join` keeps an
        // absolute path as it is).
        (Some(dir), Some(workspace)) => workspace.join(dir),
        (Some(dir), None) => dir,
        (None, Some(workspace)) => workspace.join("target"),
        (None, None) => cache_home
            .unwrap_or_else(std::env::temp_dir)
            .join("kafkit-testkit"),
    }
}

/// The Apache Kafka release the launcher runs: `KAFKIT_TEST_KAFKA_VERSION` if
/// set and not empty, else [`KAFKA_VERSION`].
///
/// # Panics
///
/// If the variable holds anything but a version (letters, digits, `.`, `-`):
/// it becomes part of a path and of a Maven POM.
pub fn kafka_version() -> String {
    match std::env::var(KAFKA_VERSION_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            let v = v.trim();
            assert!(
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
                "{KAFKA_VERSION_ENV}={v:?} is not a Kafka version (like 3.9.2)"
            );
            v.to_string()
        }
        _ => KAFKA_VERSION.to_string(),
    }
}

/// The folder holding everything this testkit keeps for one Kafka release
/// ([`kafka_version`]): the resolved jars, the class-data archive and the
/// data folders of running clusters.
pub fn cache_dir() -> PathBuf {
    target_dir().join(format!("kafka-{}", kafka_version()))
}

fn pom(version: &str) -> String {
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
      <version>{version}</version>
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
    make_once(
        "the broker's jars",
        &dir.join("resolve.lock"),
        &libs.join(".complete"),
        || {
            let pom_path = dir.join("pom.xml");
            fs::write(&pom_path, pom(&kafka_version()))
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
                &format!("resolving Kafka {} jars with Maven (mvn)", kafka_version()),
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
            Ok(())
        },
    )?;
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::choose_dir;
    use std::path::{Path, PathBuf};

    #[test]
    fn inside_the_workspace_the_build_folder() {
        let ws = Path::new("/src/kafkit");
        assert_eq!(choose_dir(Some(ws), None, None), ws.join("target"));
        assert_eq!(choose_dir(Some(ws), Some("t2".into()), None), ws.join("t2"));
        assert_eq!(
            choose_dir(Some(ws), Some("/abs/t".into()), None),
            PathBuf::from("/abs/t")
        );
    }

    #[test]
    fn from_a_registry_the_target_env_or_the_cache_never_the_sources() {
        let cache = PathBuf::from("/home/u/.cache");
        assert_eq!(
            choose_dir(None, None, Some(cache.clone())),
            cache.join("kafkit-testkit")
        );
        assert_eq!(
            choose_dir(None, Some("".into()), Some(cache.clone())),
            cache.join("kafkit-testkit")
        );
        assert_eq!(
            choose_dir(None, Some("/ci/target".into()), Some(cache)),
            PathBuf::from("/ci/target")
        );
        assert_eq!(
            choose_dir(None, None, None),
            std::env::temp_dir().join("kafkit-testkit")
        );
    }
}
