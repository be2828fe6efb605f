//! The examples' executables, for tests that run them as separate processes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Example `name`'s executable, built on first use with the features this test was built
/// with.
///
/// Examples are not `[[bin]]` targets, so Cargo gives tests no `CARGO_BIN_EXE_` path for
/// them. The test binary sits in `<target>/<profile>/deps/`; the example goes to
/// `<target>/<profile>/examples/`, so this runs `cargo build --example NAME` with that
/// target folder (Cargo has released its build lock by the time tests run).
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, bin)) = built.iter().find(|(n, _)| n == name) {
        return bin.clone();
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .expect("<target>/<profile>")
        .to_path_buf();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", name])
        .env("CARGO_TARGET_DIR", &target_dir);
    let features: Vec<&str> = [
        ("tls", cfg!(feature = "tls")),
        ("aws-msk-iam", cfg!(feature = "aws-msk-iam")),
        ("fuzzing", cfg!(feature = "fuzzing")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let out = build
        .output()
        .unwrap_or_else(|e| panic!("run cargo build --example {name}: {e}"));
    assert!(
        out.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = profile_dir.join("examples").join(name);
    assert!(bin.exists(), "{} missing after the build", bin.display());
    built.push((name.to_string(), bin.clone()));
    bin
}
