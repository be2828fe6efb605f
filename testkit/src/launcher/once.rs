//! Making something once per build folder (jars resolved by Maven, a registry built, a class
//! compiled), safe across concurrent test processes.

use super::{FileLock, LaunchError};
use std::fs;
use std::path::Path;

/// Runs `make` unless the marker file `done` exists, holding the lock file `lock` meanwhile, and
/// writes `done` when `make` succeeds. A process that finds the lock taken waits, then finds
/// the marker and returns; an interrupted or failed `make` leaves no marker, so the next call
/// makes it anew (`make` must therefore clear what a half-finished run left). `what` names the
/// thing in errors.
pub(crate) fn make_once(
    what: &str,
    lock: &Path,
    done: &Path,
    make: impl FnOnce() -> Result<(), LaunchError>,
) -> Result<(), LaunchError> {
    if done.exists() {
        return Ok(());
    }
    for dir in [lock.parent(), done.parent()].into_iter().flatten() {
        fs::create_dir_all(dir)
            .map_err(|e| LaunchError::io(format!("cannot create {}", dir.display()), e))?;
    }
    let _lock = FileLock::acquire(lock)
        .map_err(|e| LaunchError::io(format!("cannot lock the folder of {what}"), e))?;
    if done.exists() {
        return Ok(());
    }
    make()?;
    // `make` may have replaced the marker's folder.
    if let Some(dir) = done.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| LaunchError::io(format!("cannot create {}", dir.display()), e))?;
    }
    fs::write(done, "").map_err(|e| LaunchError::io(format!("cannot write {}", done.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kafkit-once-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn makes_once_and_again_only_after_a_failure() {
        let dir = scratch("sequential");
        let (lock, done) = (dir.join("x.lock"), dir.join("out/.complete"));
        let runs = AtomicUsize::new(0);
        let failing = make_once("x", &lock, &done, || {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(LaunchError::new("broken"))
        });
        assert!(failing.is_err());
        assert!(!done.exists(), "a failed make leaves no marker");
        for _ in 0..3 {
            make_once("x", &lock, &done, || {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(done.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_callers_wait_for_the_one_that_makes() {
        let dir = scratch("concurrent");
        let runs = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (dir, runs) = (dir.clone(), Arc::clone(&runs));
                std::thread::spawn(move || {
                    make_once("x", &dir.join("x.lock"), &dir.join(".complete"), || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        // Long enough for the others to reach the lock.
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(())
                    })
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
