//! Checks what a consumer group's members were given: within an assignment,
//! each partition's records come in offset order with no gap and no step
//! back; a partition newly assigned starts no later than the group's committed
//! offset; no member gets records of a partition it does not own; and the
//! committed offsets the broker reports never go back.
//!
//! It holds a few numbers per member and partition, and at most
//! [`GroupChecker::KEPT`] examples of each fault, so a soak can feed it for
//! hours.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A record a member was given at an offset other than the one expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jump {
    /// The member (as the test names it).
    pub member: String,
    /// The partition.
    pub partition: i32,
    /// The offset expected: the one after the previous record, or at an
    /// assignment's start the group's committed offset.
    pub expected: i64,
    /// The offset given.
    pub got: i64,
}

/// The group's committed offset for a partition, seen lower than before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRegression {
    /// The partition.
    pub partition: i32,
    /// The highest committed offset known before: sampled, or accepted by the
    /// broker before the sample was asked for.
    pub from: i64,
    /// The committed offset seen now.
    pub to: i64,
}

/// The verdict of [`GroupChecker::report`]. Counts are exact; the lists keep
/// the first [`GroupChecker::KEPT`] cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupReport {
    /// Records the members were given.
    pub polled: u64,
    /// Assignments and revocations (or losses) reported by the members'
    /// hooks, the initial assignments included.
    pub rebalance_hooks: u64,
    /// Committed-offset samples taken.
    pub commit_samples: u64,
    /// Skips: within an assignment, a record after a gap in the offsets; or
    /// an assignment's first record beyond the committed offset.
    pub skips: u64,
    /// Rewinds: within an assignment, a record at or before the previous one.
    pub rewinds: u64,
    /// Records of a partition the member did not own.
    pub strays: u64,
    /// Committed offsets seen going back.
    pub commit_regressions: u64,
    /// Examples of skips.
    pub skip_examples: Vec<Jump>,
    /// Examples of rewinds.
    pub rewind_examples: Vec<Jump>,
    /// Examples of strays: member and partition, with the offset as `got`.
    pub stray_examples: Vec<Jump>,
    /// Examples of commit regressions.
    pub regression_examples: Vec<CommitRegression>,
}

impl GroupReport {
    /// True when no skip, rewind, stray record or commit regression was seen.
    pub fn is_clean(&self) -> bool {
        self.skips == 0 && self.rewinds == 0 && self.strays == 0 && self.commit_regressions == 0
    }
}

impl fmt::Display for GroupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "polled {}, {} rebalance hook calls, {} commit samples: {} skips, {} rewinds, \
             {} strays, {} commit regressions",
            self.polled,
            self.rebalance_hooks,
            self.commit_samples,
            self.skips,
            self.rewinds,
            self.strays,
            self.commit_regressions
        )?;
        let jumps = [
            ("skip", &self.skip_examples),
            ("rewind", &self.rewind_examples),
            ("stray", &self.stray_examples),
        ];
        for (what, list) in jumps {
            for j in list.iter().take(10) {
                writeln!(
                    f,
                    "  {what}: {} partition {} expected {} got {}",
                    j.member, j.partition, j.expected, j.got
                )?;
            }
        }
        for r in self.regression_examples.iter().take(10) {
            writeln!(
                f,
                "  commit regression: partition {} from {} to {}",
                r.partition, r.from, r.to
            )?;
        }
        Ok(())
    }
}

/// What a member expects next of a partition it owns: `None` until the
/// assignment's first record.
type Owned = HashMap<i32, Option<i64>>;

/// Follows a consumer group's members through their hooks, records and
/// commits; see the module docs. Member names are the test's own.
///
/// Feed it from the members: [`GroupChecker::assigned`] and
/// [`GroupChecker::revoked`] from the rebalance hooks, [`GroupChecker::polled`]
/// for every record `poll` returns, [`GroupChecker::commit_succeeded`] after
/// each commit the broker accepted; and [`GroupChecker::committed_sample`]
/// from a watcher that reads the group's committed offsets now and then,
/// with the [`GroupChecker::committed_mark`] it took before asking: a sample
/// below an offset the broker had accepted before is a regression, even if
/// no earlier sample caught that offset.
#[derive(Debug, Default)]
pub struct GroupChecker {
    owned: HashMap<String, Owned>,
    /// The highest offset known committed per partition (accepted commits and
    /// samples).
    committed: BTreeMap<i32, i64>,
    /// The highest committed offset the broker reported per partition.
    sampled: BTreeMap<i32, i64>,
    report: GroupReport,
}

impl GroupChecker {
    /// How many examples of each fault a report keeps.
    pub const KEPT: usize = 100;

    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// `member` now owns `partitions` (its assigned hook ran).
    pub fn assigned(&mut self, member: &str, partitions: &[i32]) {
        self.report.rebalance_hooks += 1;
        let owned = self.owned.entry(member.to_string()).or_default();
        for &p in partitions {
            owned.insert(p, None);
        }
    }

    /// `member` no longer owns `partitions` (revoked or lost).
    pub fn revoked(&mut self, member: &str, partitions: &[i32]) {
        self.report.rebalance_hooks += 1;
        if let Some(owned) = self.owned.get_mut(member) {
            for p in partitions {
                owned.remove(p);
            }
        }
    }

    /// `poll` gave `member` the record at `offset` of `partition`.
    pub fn polled(&mut self, member: &str, partition: i32, offset: i64) {
        self.report.polled += 1;
        let committed = self.committed.get(&partition).copied().unwrap_or(0);
        let report = &mut self.report;
        let jump = |expected| Jump {
            member: member.to_string(),
            partition,
            expected,
            got: offset,
        };
        let Some(next) = self
            .owned
            .get_mut(member)
            .and_then(|owned| owned.get_mut(&partition))
        else {
            report.strays += 1;
            keep(&mut report.stray_examples, jump(-1));
            return;
        };
        match *next {
            // Re-reading what was committed is allowed; starting beyond it is not.
            None if offset > committed => {
                report.skips += 1;
                keep(&mut report.skip_examples, jump(committed));
            }
            Some(expected) if offset > expected => {
                report.skips += 1;
                keep(&mut report.skip_examples, jump(expected));
            }
            Some(expected) if offset < expected => {
                report.rewinds += 1;
                keep(&mut report.rewind_examples, jump(expected));
            }
            _ => {}
        }
        *next = Some(offset + 1);
    }

    /// A member's commit of `offset` (the next to read) for `partition` was
    /// accepted.
    pub fn commit_succeeded(&mut self, partition: i32, offset: i64) {
        let c = self.committed.entry(partition).or_insert(offset);
        *c = (*c).max(offset);
    }

    /// The highest offset known committed for `partition` now (accepted
    /// commits and samples), for a watcher to take before it asks the broker.
    pub fn committed_mark(&self, partition: i32) -> Option<i64> {
        self.committed.get(&partition).copied()
    }

    /// The broker says the group's committed offset for `partition` is
    /// `offset` now; `mark` is [`GroupChecker::committed_mark`] as it was
    /// before the broker was asked.
    pub fn committed_sample(&mut self, partition: i32, offset: i64, mark: Option<i64>) {
        self.report.commit_samples += 1;
        let before = self.sampled.get(&partition).copied().max(mark);
        if let Some(from) = before {
            if offset < from {
                self.report.commit_regressions += 1;
                keep(
                    &mut self.report.regression_examples,
                    CommitRegression {
                        partition,
                        from,
                        to: offset,
                    },
                );
                return;
            }
        }
        self.sampled.insert(partition, offset);
        self.commit_succeeded(partition, offset);
    }

    /// What was seen so far.
    pub fn report(&self) -> GroupReport {
        self.report.clone()
    }
}

fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() < GroupChecker::KEPT {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orderly_group_is_clean() {
        let mut c = GroupChecker::new();
        c.assigned("a", &[0, 1]);
        for o in 0..5 {
            c.polled("a", 0, o);
            c.polled("a", 1, o);
        }
        c.commit_succeeded(0, 5);
        c.committed_sample(0, 5, Some(5));
        // Rebalance: b takes partition 0 from its committed offset; a keeps 1.
        c.revoked("a", &[0, 1]);
        c.assigned("a", &[1]);
        c.assigned("b", &[0]);
        c.polled("b", 0, 5);
        c.polled("b", 0, 6);
        // a re-reads partition 1 from before its last record: nothing was committed
        // for it, so it starts again at 0, which is allowed.
        c.polled("a", 1, 0);
        c.committed_sample(0, 7, c.committed_mark(0));
        let r = c.report();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.polled, 13);
        assert_eq!(r.rebalance_hooks, 4);
        assert_eq!(r.commit_samples, 2);
    }

    #[test]
    fn a_gap_within_an_assignment_is_a_skip() {
        let mut c = GroupChecker::new();
        c.assigned("a", &[0]);
        c.polled("a", 0, 0);
        c.polled("a", 0, 2);
        let r = c.report();
        assert_eq!(r.skips, 1, "{r}");
        assert_eq!(
            r.skip_examples[0],
            Jump {
                member: "a".into(),
                partition: 0,
                expected: 1,
                got: 2
            }
        );
        assert!(!r.is_clean());
    }

    #[test]
    fn starting_beyond_the_committed_offset_is_a_skip() {
        let mut c = GroupChecker::new();
        c.commit_succeeded(3, 10);
        c.assigned("a", &[3]);
        c.polled("a", 3, 11);
        let r = c.report();
        assert_eq!(r.skips, 1, "{r}");
        assert_eq!(r.skip_examples[0].expected, 10);
        // With nothing committed, the start is the log's: offset 0.
        let mut c = GroupChecker::new();
        c.assigned("a", &[0]);
        c.polled("a", 0, 1);
        assert_eq!(c.report().skips, 1);
    }

    #[test]
    fn a_step_back_within_an_assignment_is_a_rewind() {
        let mut c = GroupChecker::new();
        c.assigned("a", &[0]);
        c.polled("a", 0, 0);
        c.polled("a", 0, 1);
        c.polled("a", 0, 1);
        let r = c.report();
        assert_eq!((r.rewinds, r.skips), (1, 0), "{r}");
    }

    #[test]
    fn records_of_a_partition_not_owned_are_strays() {
        let mut c = GroupChecker::new();
        c.assigned("a", &[0]);
        c.polled("a", 1, 0);
        c.revoked("a", &[0]);
        c.polled("a", 0, 0);
        c.polled("b", 0, 0);
        assert_eq!(c.report().strays, 3);
    }

    #[test]
    fn a_committed_offset_going_back_is_a_regression() {
        let mut c = GroupChecker::new();
        c.committed_sample(0, 5, None);
        c.committed_sample(0, 5, None);
        c.committed_sample(0, 4, None);
        c.committed_sample(1, 2, None);
        let r = c.report();
        assert_eq!(r.commit_regressions, 1, "{r}");
        assert_eq!(
            r.regression_examples[0],
            CommitRegression {
                partition: 0,
                from: 5,
                to: 4
            }
        );
        // The regressed value does not become the new mark.
        c.committed_sample(0, 5, None);
        assert_eq!(c.report().commit_regressions, 1);
    }

    #[test]
    fn a_sample_below_a_commit_accepted_before_it_is_a_regression() {
        let mut c = GroupChecker::new();
        c.committed_sample(0, 10, None);
        // Accepted at 30 and 50 between two samples; the next sample says 40.
        c.commit_succeeded(0, 30);
        c.commit_succeeded(0, 50);
        let mark = c.committed_mark(0);
        assert_eq!(mark, Some(50));
        c.committed_sample(0, 40, mark);
        let r = c.report();
        assert_eq!(r.commit_regressions, 1, "{r}");
        assert_eq!(r.regression_examples[0].from, 50);
        // A commit accepted after the sample was asked for is no reason.
        c.committed_sample(0, 50, Some(50));
        c.commit_succeeded(0, 70);
        c.committed_sample(0, 60, Some(50));
        assert_eq!(c.report().commit_regressions, 1);
    }

    #[test]
    fn examples_are_bounded_counts_are_not() {
        let mut c = GroupChecker::new();
        c.assigned("a", &[0]);
        for o in 0..1000 {
            c.polled("a", 0, o * 2);
        }
        let r = c.report();
        assert_eq!(r.skips, 999);
        assert_eq!(r.skip_examples.len(), GroupChecker::KEPT);
    }
}
