//! Everything a scenario checks, fed by the producer load and the group members: the
//! delivery checkers (the full one, with every value, and the bounded one a soak can afford)
//! and the group checker. One lock around all of them keeps their views consistent.

use kafkit_testkit::{DeliveryChecker, GroupChecker, StreamChecker};
use std::sync::{Arc, Mutex, MutexGuard};

/// The checkers of one run.
pub struct Checks {
    /// Acknowledgements against what the group read, in bounded memory.
    pub stream: StreamChecker,
    /// The same with every value kept, for the detailed report (scenarios; not the soak).
    pub full: Option<DeliveryChecker>,
    /// The group's skips, rewinds, strays and commit regressions.
    pub group: GroupChecker,
}

/// [`Checks`] shared by the loads of a run.
#[derive(Clone)]
pub struct SharedChecks(Arc<Mutex<Checks>>);

impl SharedChecks {
    /// Checks for a run; `keep_values` adds the full [`DeliveryChecker`].
    pub fn new(keep_values: bool) -> SharedChecks {
        SharedChecks(Arc::new(Mutex::new(Checks {
            stream: StreamChecker::new(),
            full: keep_values.then(DeliveryChecker::new),
            group: GroupChecker::new(),
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Checks> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send `seq` (value `value`) was acknowledged at `partition`/`offset` (`offset` < 0:
    /// without an offset).
    pub fn acked(&self, seq: u64, value: &[u8], partition: i32, offset: i64) {
        let mut c = self.lock();
        c.stream.ack(partition, offset, seq);
        if offset >= 0 {
            if let Some(full) = &mut c.full {
                full.ack(partition, offset, value);
            }
        }
    }

    /// `member` was given `value` at `partition`/`offset`.
    pub fn read(&self, member: &str, partition: i32, offset: i64, value: &[u8]) {
        let mut c = self.lock();
        c.group.polled(member, partition, offset);
        match seq_of(value) {
            Some(seq) => c.stream.observe(partition, offset, seq),
            None => panic!(
                "{member} read a value no load wrote at {partition}/{offset}: {:?}",
                String::from_utf8_lossy(value)
            ),
        }
        if let Some(full) = &mut c.full {
            full.observe(partition, offset, value);
        }
    }
}

/// Send `seq`'s value: `s{seq}-{run}-xxx…`, `len` bytes (longer if the prefix is).
pub fn value(seq: u64, run: &str, len: usize) -> Vec<u8> {
    let mut v = format!("s{seq}-{run}-").into_bytes();
    v.resize(v.len().max(len), b'x');
    v
}

/// The send number in a [`value`].
pub fn seq_of(value: &[u8]) -> Option<u64> {
    let rest = value.strip_prefix(b"s")?;
    let end = rest.iter().position(|&b| b == b'-')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[test]
fn values_carry_their_send_number() {
    let v = value(1234, "run-7-abc", 100);
    assert_eq!(v.len(), 100);
    assert_eq!(seq_of(&v), Some(1234));
    assert_eq!(seq_of(b"x12-run"), None);
    assert_eq!(seq_of(&value(0, "r", 1)), Some(0));
}
