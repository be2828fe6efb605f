//! How brokers and the format tool run: the `java` binary, the classpath of
//! the resolved jars, the JVM options, and the class-data archive that makes
//! brokers start faster.

use super::jars::{cache_dir, resolve_jars, FileLock};
use super::{KafkaCluster, LaunchError};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// What every node's JVM is started with.
pub(super) struct Jvm {
    java: PathBuf,
    classpath: String,
    broker_opts: Vec<String>,
    tool_opts: Vec<String>,
    /// The brokers' `-Xmx`, in bytes: see [`broker_heap`].
    broker_heap: u64,
}

/// `-Xmx` of every JVM unless [`BROKER_HEAP_ENV`] sets the brokers'.
const DEFAULT_HEAP: u64 = 512 << 20;
/// `-Xms`, or the heap if that is smaller (the JVM refuses an initial heap above its maximum).
const INITIAL_HEAP: u64 = 256 << 20;

/// The environment variable that sets the brokers' maximum heap, as `-Xmx` takes it
/// (`2g`, `1536m`, a byte count): 512 MiB fits the tests' topics, but a broker holding
/// thousands of partitions (the many-partition benchmarks) needs more. Tools keep 512 MiB.
pub const BROKER_HEAP_ENV: &str = "KAFKIT_TESTKIT_BROKER_HEAP";

impl Jvm {
    /// Checks that `java` runs and resolves the jars. With `train_cds`, brokers
    /// record a class-data archive there as they exit; otherwise they load the
    /// recorded one, if there is one.
    pub(super) fn prepare(train_cds: Option<&Path>) -> Result<Jvm, LaunchError> {
        let java = java_binary();
        check_java(&java)?;
        let broker_heap = broker_heap()?;
        let libs = resolve_jars()?;
        let (broker_opts, tool_opts) = match train_cds {
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
        Ok(Jvm {
            java,
            classpath: format!("{}/*", libs.display()),
            broker_opts,
            tool_opts,
            broker_heap,
        })
    }

    /// A broker JVM run in `dir`, the node's folder (main class and arguments
    /// still to add).
    pub(super) fn broker(&self, dir: &Path) -> Command {
        self.command(dir, &self.broker_opts, self.broker_heap)
    }

    /// A short-lived tool JVM run in `dir` (main class and arguments still to
    /// add).
    pub(super) fn tool(&self, dir: &Path) -> Command {
        self.command(dir, &self.tool_opts, DEFAULT_HEAP)
    }

    fn command(&self, dir: &Path, opts: &[String], heap: u64) -> Command {
        let mut cmd = Command::new(&self.java);
        cmd.current_dir(dir)
            .args(opts)
            .arg(format!("-Xms{}", heap.min(INITIAL_HEAP)))
            .arg(format!("-Xmx{heap}"))
            .arg("-XX:+UseSerialGC")
            .arg("-XX:+ExitOnOutOfMemoryError")
            .arg("-Djava.awt.headless=true")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(&self.classpath);
        cmd
    }
}

/// The brokers' maximum heap in bytes: [`BROKER_HEAP_ENV`] if set, else 512 MiB.
fn broker_heap() -> Result<u64, LaunchError> {
    match std::env::var(BROKER_HEAP_ENV) {
        Ok(value) => parse_heap(&value).ok_or_else(|| {
            LaunchError::new(format!(
                "{BROKER_HEAP_ENV}={value:?}: expected a heap size as -Xmx takes it, at least \
                 64m (e.g. 2g, 1536m)"
            ))
        }),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_HEAP),
        Err(e) => Err(LaunchError::new(format!("{BROKER_HEAP_ENV}: {e}"))),
    }
}

/// A heap size as `-Xmx` takes it (digits, then optionally k, m or g in either case), in
/// bytes; `None` if malformed, below 64 MiB (no broker starts in less) or absurdly large.
fn parse_heap(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, shift) = match value.char_indices().last()? {
        (i, 'k' | 'K') => (&value[..i], 10),
        (i, 'm' | 'M') => (&value[..i], 20),
        (i, 'g' | 'G') => (&value[..i], 30),
        _ => (value, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = digits.parse::<u64>().ok()?.checked_mul(1 << shift)?;
    (64 << 20..=1 << 50).contains(&bytes).then_some(bytes)
}

fn check_java(java: &Path) -> Result<(), LaunchError> {
    match Command::new(java)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(LaunchError::new(format!(
            "`{} -version` failed ({s})",
            java.display()
        ))),
        Err(e) => Err(LaunchError::new(format!(
            "java not found (`{}`: {e}); install a JDK 17+ or set JAVA_HOME",
            java.display()
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::parse_heap;

    #[test]
    fn heap_sizes_parse_as_xmx_takes_them() {
        assert_eq!(parse_heap("2g"), Some(2 << 30));
        assert_eq!(parse_heap("1536M"), Some(1536 << 20));
        assert_eq!(parse_heap(" 524288k "), Some(512 << 20));
        assert_eq!(parse_heap("1073741824"), Some(1 << 30));
        for bad in ["", "g", "2x", "-1g", "1.5g", "32m", "99999999999g"] {
            assert_eq!(parse_heap(bad), None, "{bad:?}");
        }
    }
}
