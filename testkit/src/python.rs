//! A Python with `confluent-kafka` (librdkafka) installed, for interop tests
//! against an independent client.
//!
//! The venv lives in the build folder, next to the Kafka jars, and is made
//! once: later calls (and later test runs) find its completion marker and
//! return at once. Concurrent test processes take a lock file, so one of them
//! installs and the others wait, as with the jar resolver.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::launcher::{make_once, run_tied, target_dir, LaunchError};

/// The `confluent-kafka` release installed; the venv folder is keyed on it.
/// Its manylinux wheels bundle librdkafka, so no C compiler is involved.
pub const CONFLUENT_KAFKA_VERSION: &str = "2.16.1";

/// What confluent-kafka's `schema_registry` module (its Avro and Protobuf serializers, its
/// registry client) needs, pinned: the versions pip chose for 2.16.1 with the `avro`,
/// `protobuf` and `schemaregistry` extras, so a later release cannot change the interop
/// tests' peer.
const SCHEMA_REGISTRY_PACKAGES: &[&str] = &[
    "fastavro==1.13.1",
    "avro==1.12.2",
    "attrs==26.1.0",
    "cachetools==8.0.3",
    "httpx2==2.17.0",
    "httpcore2==2.17.0",
    "Authlib==1.9.10",
    "certifi==2026.10.19.post1",
    "requests==2.34.2",
    "protobuf==7.36.2",
    "googleapis-common-protos==1.76.0",
];

/// The venv folder: `<target>/py-confluent-kafka-<version>-sr-pb`, named apart from venvs
/// made before the Schema Registry packages (`-sr`), then the Protobuf ones, were part of it.
fn venv_dir() -> PathBuf {
    target_dir().join(venv_name())
}

fn venv_name() -> String {
    format!("py-confluent-kafka-{CONFLUENT_KAFKA_VERSION}-sr-pb")
}

/// The Python that makes the venv: `KAFKIT_TESTKIT_PYTHON` if set, else
/// `python3` on the PATH (3.8 or later, with the `venv` module).
fn base_python() -> PathBuf {
    match std::env::var_os("KAFKIT_TESTKIT_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("python3"),
    }
}

/// The path of a Python interpreter that can `import confluent_kafka`
/// ([`CONFLUENT_KAFKA_VERSION`]), installing it from PyPI into a venv under
/// the build folder on first use.
///
/// Blocks while pip runs (a few seconds with a warm network), so async tests
/// call it through `tokio::task::spawn_blocking`. Safe to call from
/// concurrent test processes.
///
/// # Errors
///
/// If `python3` is missing, the venv cannot be made, or pip fails (no
/// network, no wheel for this platform): the message holds the failing
/// command and the tail of its output. pip is told to take a binary wheel
/// only, so a platform without one fails here instead of compiling
/// librdkafka from source.
pub fn python_with_confluent_kafka() -> Result<PathBuf, LaunchError> {
    static PYTHON: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    PYTHON.get_or_init(install_uncached).clone()
}

fn install_uncached() -> Result<PathBuf, LaunchError> {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    // Beside the venv, not inside it: a half-made venv is deleted while the lock is held.
    let lock = target_dir().join(format!("{}.lock", venv_name()));
    make_once(
        "the Python venv",
        &lock,
        &venv.join(".kafkit-complete"),
        || install(&venv, &python),
    )?;
    Ok(python)
}

/// Makes the venv at `venv` anew and installs confluent-kafka into it.
fn install(venv: &Path, python: &Path) -> Result<(), LaunchError> {
    // A venv left by an interrupted run may hold a partial install.
    if venv.exists() {
        fs::remove_dir_all(venv)
            .map_err(|e| LaunchError::io(format!("cannot remove {}", venv.display()), e))?;
    }

    let mut make = Command::new(base_python());
    make.arg("-m").arg("venv").arg(venv);
    run_tied(make, "creating a Python venv for confluent-kafka")?;

    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
    ])
    // A wheel or nothing: building librdkafka from the sdist would need a
    // C toolchain and minutes, and hide that the platform is unsupported.
    .args(["--only-binary", "confluent-kafka"])
    .arg(format!(
        "confluent-kafka[avro,protobuf,schemaregistry]=={CONFLUENT_KAFKA_VERSION}"
    ))
    .args(SCHEMA_REGISTRY_PACKAGES);
    run_tied(
        pip,
        &format!("pip install confluent-kafka=={CONFLUENT_KAFKA_VERSION}"),
    )?;

    // Loading the extension proves the bundled librdkafka links here.
    let mut check = Command::new(python);
    check.args([
        "-c",
        "import confluent_kafka as ck; import confluent_kafka.schema_registry.avro; \
         import confluent_kafka.schema_registry.protobuf; \
         print(ck.__version__, ck.libversion()[0])",
    ]);
    let versions = run_tied(check, "importing confluent_kafka from the new venv")?;
    let reported = versions.split_whitespace().next().unwrap_or("");
    if reported != CONFLUENT_KAFKA_VERSION {
        return Err(LaunchError::new(format!(
            "the venv's confluent_kafka reports version {reported:?}, \
             expected {CONFLUENT_KAFKA_VERSION}"
        )));
    }
    Ok(())
}
