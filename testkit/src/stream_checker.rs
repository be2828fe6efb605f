//! The delivery check of [`DeliveryChecker`](crate::DeliveryChecker) in
//! bounded memory, for runs too long to keep every record: sends are numbered
//! (a sequence per send, growing in send order), and each partition keeps only
//! the records acknowledged and not yet read, and read and not yet
//! acknowledged. What it cannot see that the full checker can: a value read
//! twice in *different* partitions, and a re-read of a position already
//! matched with a different value.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// The verdict of [`StreamChecker::report`]. Counts are exact; the examples
/// keep the first [`StreamChecker::KEPT`] cases as `(partition, offset,
/// detail)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Acknowledged sends.
    pub acked: u64,
    /// Distinct positions read (re-reads not counted).
    pub read: u64,
    /// Acknowledged sends never read where acknowledged, or read past.
    pub lost: u64,
    /// Records whose sequence does not grow along the log: a duplicate
    /// written later, or records out of send order.
    pub out_of_order: u64,
    /// A position read with another send than the one acknowledged there, or
    /// acknowledgements going back in offset on a partition.
    pub misplaced: u64,
    /// Records read that were never acknowledged (sends that failed but were
    /// written): allowed, counted.
    pub read_unacked: u64,
    /// Examples of the faults above.
    pub examples: Vec<(i32, i64, String)>,
}

impl StreamReport {
    /// True when nothing was lost, out of order or misplaced.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.out_of_order == 0 && self.misplaced == 0
    }
}

impl fmt::Display for StreamReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "acked {}, read {}: {} lost, {} out of order, {} misplaced ({} read unacknowledged)",
            self.acked, self.read, self.lost, self.out_of_order, self.misplaced, self.read_unacked
        )?;
        for (p, o, detail) in self.examples.iter().take(20) {
            writeln!(f, "  {p}/{o}: {detail}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Partition {
    /// Acknowledged, not read yet: offset → sequence.
    pending: BTreeMap<i64, u64>,
    /// Read beyond every acknowledgement so far: offset → sequence.
    early: BTreeMap<i64, u64>,
    /// The highest position read, and the sequence there.
    frontier: Option<(i64, u64)>,
    /// The last acknowledgement: offset and sequence.
    last_ack: Option<(i64, u64)>,
}

/// Compares numbered acknowledged sends with the records read back, as they
/// happen; see the module docs.
///
/// Call [`StreamChecker::ack`] for every acknowledged send in send order,
/// [`StreamChecker::observe`] for every record read (in any order across
/// partitions; re-reads are harmless), then [`StreamChecker::report`] once
/// everything acknowledged should have been read.
#[derive(Debug, Default)]
pub struct StreamChecker {
    partitions: HashMap<i32, Partition>,
    /// Sends acknowledged without an offset (a duplicate the broker dropped:
    /// an earlier attempt landed somewhere); matched by sequence.
    unplaced: HashSet<u64>,
    report: StreamReport,
}

impl StreamChecker {
    /// How many examples a report keeps.
    pub const KEPT: usize = 100;

    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    fn fault(report: &mut StreamReport, p: i32, o: i64, detail: String) {
        if report.examples.len() < Self::KEPT {
            report.examples.push((p, o, detail));
        }
    }

    /// Send `seq` was acknowledged at `offset` of `partition`, or (`offset`
    /// < 0) acknowledged without one.
    pub fn ack(&mut self, partition: i32, offset: i64, seq: u64) {
        self.report.acked += 1;
        if offset < 0 {
            self.unplaced.insert(seq);
            return;
        }
        let report = &mut self.report;
        let part = self.partitions.entry(partition).or_default();
        if let Some((o, s)) = part.last_ack {
            if offset <= o || seq <= s {
                report.misplaced += 1;
                Self::fault(
                    report,
                    partition,
                    offset,
                    format!("send {seq} acknowledged here after send {s} at {o}"),
                );
            }
        }
        part.last_ack = Some((offset, seq));
        // Acknowledgements come in offset order: what was read before this
        // offset and is still unmatched was written but never acknowledged.
        let below: Vec<i64> = part.early.range(..offset).map(|(&o, _)| o).collect();
        for o in below {
            part.early.remove(&o);
            report.read_unacked += 1;
        }
        match part.early.remove(&offset) {
            Some(read) if read == seq => {}
            Some(read) => {
                report.misplaced += 1;
                Self::fault(
                    report,
                    partition,
                    offset,
                    format!("acknowledged send {seq} but read send {read}"),
                );
            }
            None if part.frontier.is_some_and(|(f, _)| offset <= f) => {
                report.lost += 1;
                Self::fault(
                    report,
                    partition,
                    offset,
                    format!("send {seq} acknowledged here, but the readers went past it"),
                );
            }
            None => {
                part.pending.insert(offset, seq);
            }
        }
    }

    /// A reader got send `seq` at `offset` of `partition`.
    pub fn observe(&mut self, partition: i32, offset: i64, seq: u64) {
        if self.unplaced.remove(&seq) {
            self.report.read += 1;
            return;
        }
        let report = &mut self.report;
        let part = self.partitions.entry(partition).or_default();
        let mut check = |expected: u64, what: &str| {
            if expected != seq {
                report.misplaced += 1;
                Self::fault(
                    report,
                    partition,
                    offset,
                    format!("{what} send {expected} but read send {seq}"),
                );
            }
        };
        if let Some(acked) = part.pending.remove(&offset) {
            check(acked, "acknowledged");
        } else if let Some(&read) = part.early.get(&offset) {
            // A re-read of a position not acknowledged yet.
            check(read, "earlier read");
            return;
        } else if part.frontier.is_some_and(|(f, _)| offset <= f) {
            // A re-read of a position already matched: nothing left to compare.
            return;
        } else {
            part.early.insert(offset, seq);
        }
        report.read += 1;
        match part.frontier {
            Some((f, s)) if offset > f && seq <= s => {
                report.out_of_order += 1;
                Self::fault(
                    report,
                    partition,
                    offset,
                    format!("send {seq} read after send {s} at {f}"),
                );
                part.frontier = Some((offset, s));
            }
            Some((f, _)) if offset <= f => {}
            _ => part.frontier = Some((offset, seq)),
        }
    }

    /// Acknowledged sends not read yet.
    pub fn unread(&self) -> u64 {
        self.partitions
            .values()
            .map(|p| p.pending.len() as u64)
            .sum::<u64>()
            + self.unplaced.len() as u64
    }

    /// The verdict: everything acknowledged and still unread counts as lost.
    pub fn report(&self) -> StreamReport {
        let mut report = self.report.clone();
        for (&p, part) in &self.partitions {
            for (&o, &seq) in &part.pending {
                report.lost += 1;
                Self::fault(
                    &mut report,
                    p,
                    o,
                    format!("send {seq} acknowledged, never read"),
                );
            }
        }
        for seq in &self.unplaced {
            report.lost += 1;
            Self::fault(
                &mut report,
                -1,
                -1,
                format!("send {seq} acknowledged without offset, never read"),
            );
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_before_and_after_acks_are_clean() {
        let mut c = StreamChecker::new();
        c.ack(0, 0, 0);
        c.observe(0, 0, 0);
        // Read before its acknowledgement arrives.
        c.observe(0, 1, 1);
        c.ack(0, 1, 1);
        c.ack(1, 0, 2);
        c.observe(1, 0, 2);
        // Re-reads after a rebalance are harmless.
        c.observe(0, 0, 0);
        c.observe(0, 1, 1);
        // A send that failed but was written, then a later one.
        c.observe(0, 2, 3);
        c.observe(0, 3, 4);
        c.ack(0, 3, 4);
        c.ack(0, 4, 5);
        c.ack(0, -1, 6);
        c.observe(0, 4, 5);
        c.observe(0, 5, 6);
        let r = c.report();
        assert!(r.is_clean(), "{r}");
        assert_eq!((r.acked, r.read, r.read_unacked), (6, 7, 1));
        assert_eq!(c.unread(), 0);
    }

    #[test]
    fn unread_acks_are_lost() {
        let mut c = StreamChecker::new();
        c.ack(0, 0, 0);
        c.ack(0, 1, 1);
        c.ack(0, -1, 2);
        c.observe(0, 0, 0);
        assert_eq!(c.unread(), 2);
        let r = c.report();
        assert_eq!(r.lost, 2, "{r}");
    }

    #[test]
    fn an_ack_behind_the_readers_is_lost_at_once() {
        let mut c = StreamChecker::new();
        c.observe(0, 0, 0);
        c.observe(0, 2, 2);
        // Offset 1 was acknowledged, but the readers went from 0 to 2.
        c.ack(0, 0, 0);
        c.ack(0, 1, 1);
        let r = c.report();
        assert_eq!(r.lost, 1, "{r}");
    }

    #[test]
    fn a_duplicate_written_later_is_out_of_order() {
        let mut c = StreamChecker::new();
        c.ack(0, 0, 0);
        c.ack(0, 1, 1);
        c.observe(0, 0, 0);
        c.observe(0, 1, 1);
        // A retry wrote send 1 again, at offset 2.
        c.observe(0, 2, 1);
        let r = c.report();
        assert_eq!(r.out_of_order, 1, "{r}");
        assert!(!r.is_clean());
    }

    #[test]
    fn another_send_at_an_acknowledged_offset_is_misplaced() {
        let mut c = StreamChecker::new();
        c.ack(0, 0, 0);
        c.observe(0, 0, 9);
        assert_eq!(c.report().misplaced, 1);
        let mut c = StreamChecker::new();
        c.observe(0, 0, 9);
        c.ack(0, 0, 0);
        assert_eq!(c.report().misplaced, 1);
    }

    #[test]
    fn acknowledgements_going_back_are_misplaced() {
        let mut c = StreamChecker::new();
        c.ack(0, 5, 0);
        c.ack(0, 4, 1);
        c.observe(0, 4, 1);
        c.observe(0, 5, 0);
        let r = c.report();
        assert!(r.misplaced >= 1, "{r}");
        assert!(!r.is_clean());
    }

    #[test]
    fn memory_holds_only_the_unmatched() {
        let mut c = StreamChecker::new();
        for i in 0..10_000u64 {
            c.ack(0, i as i64, i);
            c.observe(0, i as i64, i);
        }
        let part = &c.partitions[&0];
        assert!(part.pending.is_empty() && part.early.is_empty());
        assert!(c.report().is_clean());
    }
}
