//! Compares what a producer was told (acknowledgements) with what a consumer
//! later reads back, to find lost, duplicated and reordered records.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One record at a position in a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Partition number.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The record value (unique per send).
    pub value: Vec<u8>,
}

/// One value found at more than one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The value.
    pub value: Vec<u8>,
    /// Every `(partition, offset)` it was read at, in ascending order.
    pub positions: Vec<(i32, i64)>,
}

/// A record whose position contradicts the order it was sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorder {
    /// Partition the record was acknowledged on.
    pub partition: i32,
    /// The record value.
    pub value: Vec<u8>,
    /// What is wrong, for a person to read.
    pub detail: String,
}

/// The verdict of [`DeliveryChecker::report`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Acknowledged records never read back (as acknowledged).
    pub lost: Vec<Delivery>,
    /// Values read at more than one position.
    pub duplicated: Vec<Duplicate>,
    /// Records out of send order: acknowledged at an offset lower than an
    /// earlier send on the same partition, read at a different position than
    /// acknowledged, or read before a record sent earlier.
    pub reordered: Vec<Reorder>,
    /// Number of acknowledged records.
    pub acked: usize,
    /// Number of distinct positions read.
    pub read: usize,
}

impl CheckReport {
    /// True when nothing was lost, duplicated or reordered.
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.reordered.is_empty()
    }
}

fn show(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

impl fmt::Display for CheckReport {
    /// A summary with the first few cases of each kind, for assert messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "acked {}, read {}: {} lost, {} duplicated, {} reordered",
            self.acked,
            self.read,
            self.lost.len(),
            self.duplicated.len(),
            self.reordered.len()
        )?;
        for d in self.lost.iter().take(10) {
            writeln!(
                f,
                "  lost {:?} acked at {}/{}",
                show(&d.value),
                d.partition,
                d.offset
            )?;
        }
        for d in self.duplicated.iter().take(10) {
            writeln!(f, "  duplicated {:?} at {:?}", show(&d.value), d.positions)?;
        }
        for r in self.reordered.iter().take(10) {
            writeln!(
                f,
                "  reordered {:?} on partition {}: {}",
                show(&r.value),
                r.partition,
                r.detail
            )?;
        }
        Ok(())
    }
}

/// Records acknowledged sends and the records read back, then reports the
/// differences.
///
/// Usage: call [`DeliveryChecker::ack`] for every acknowledged send, in the
/// order the sends were issued, with unique values; drain the topic and
/// call [`DeliveryChecker::observe`] for every record read (re-reading the
/// same position is harmless); then [`DeliveryChecker::report`].
/// Values read but never acknowledged (sends whose outcome was an error)
/// are allowed, but still count towards duplicates.
#[derive(Debug, Default, Clone)]
pub struct DeliveryChecker {
    acked: Vec<Delivery>,
    read: BTreeMap<(i32, i64), Vec<Vec<u8>>>,
}

impl DeliveryChecker {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an acknowledged send. Call in send order.
    pub fn ack(&mut self, partition: i32, offset: i64, value: impl Into<Vec<u8>>) {
        self.acked.push(Delivery {
            partition,
            offset,
            value: value.into(),
        });
    }

    /// Records a record read back from the topic.
    pub fn observe(&mut self, partition: i32, offset: i64, value: impl Into<Vec<u8>>) {
        let value = value.into();
        let slot = self.read.entry((partition, offset)).or_default();
        if !slot.contains(&value) {
            slot.push(value);
        }
    }

    /// A copy with the acknowledgements only, to check them against another
    /// reading of the topic.
    pub fn without_reads(&self) -> DeliveryChecker {
        DeliveryChecker {
            acked: self.acked.clone(),
            read: BTreeMap::new(),
        }
    }

    /// Number of acknowledged sends so far.
    pub fn acked(&self) -> usize {
        self.acked.len()
    }

    /// Compares acknowledgements with what was read.
    pub fn report(&self) -> CheckReport {
        let mut report = CheckReport {
            acked: self.acked.len(),
            read: self.read.len(),
            ..CheckReport::default()
        };

        // Where each value was read.
        let mut positions: HashMap<&[u8], Vec<(i32, i64)>> = HashMap::new();
        for (&(p, o), values) in &self.read {
            for v in values {
                positions.entry(v.as_slice()).or_default().push((p, o));
            }
            if values.len() > 1 {
                for v in values {
                    report.reordered.push(Reorder {
                        partition: p,
                        value: v.clone(),
                        detail: format!(
                            "position {p}/{o} was read with {} different values",
                            values.len()
                        ),
                    });
                }
            }
        }
        let mut dups: Vec<Duplicate> = positions
            .iter()
            .filter(|(_, at)| at.len() > 1)
            .map(|(v, at)| Duplicate {
                value: v.to_vec(),
                positions: at.clone(),
            })
            .collect();
        dups.sort_by(|a, b| a.positions.cmp(&b.positions));
        report.duplicated = dups;

        // Per partition, in send order: (send index, acknowledgement).
        let mut by_partition: BTreeMap<i32, Vec<(usize, &Delivery)>> = BTreeMap::new();
        for (i, d) in self.acked.iter().enumerate() {
            by_partition.entry(d.partition).or_default().push((i, d));
        }
        for (&partition, sends) in &by_partition {
            let mut highest: Option<&Delivery> = None;
            for &(_, d) in sends {
                if let Some(h) = highest {
                    if d.offset <= h.offset {
                        report.reordered.push(Reorder {
                            partition,
                            value: d.value.clone(),
                            detail: format!(
                                "acknowledged at offset {} but sent after {:?} acknowledged at {}",
                                d.offset,
                                show(&h.value),
                                h.offset
                            ),
                        });
                        continue;
                    }
                }
                highest = Some(d);
            }

            // Read position of every acknowledged value of this partition.
            let mut read_order: Vec<((i32, i64), usize)> = Vec::new();
            for &(send_index, d) in sends {
                match positions.get(d.value.as_slice()) {
                    None => report.lost.push(d.clone()),
                    Some(at) => {
                        if !at.contains(&(d.partition, d.offset)) {
                            report.reordered.push(Reorder {
                                partition,
                                value: d.value.clone(),
                                detail: format!(
                                    "acknowledged at {}/{} but read at {:?}",
                                    d.partition, d.offset, at
                                ),
                            });
                        }
                        read_order.push((at[0], send_index));
                    }
                }
            }
            // Walking the log in offset order, send indexes must only grow.
            read_order.sort();
            let mut max_seen: Option<(usize, (i32, i64))> = None;
            for &(pos, send_index) in &read_order {
                match max_seen {
                    Some((max, max_pos)) if send_index < max => {
                        report.reordered.push(Reorder {
                            partition,
                            value: self.acked[send_index].value.clone(),
                            detail: format!(
                                "read at {}/{} after {:?} (sent later) at {}/{}",
                                pos.0,
                                pos.1,
                                show(&self.acked[max].value),
                                max_pos.0,
                                max_pos.1
                            ),
                        });
                    }
                    _ => max_seen = Some((send_index, pos)),
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn clean_run_is_clean() {
        let mut c = DeliveryChecker::new();
        for i in 0..10 {
            c.ack(i % 2, (i / 2) as i64, v(&format!("m{i}")));
        }
        for i in 0..10 {
            c.observe(i % 2, (i / 2) as i64, v(&format!("m{i}")));
        }
        // Re-reading a position (a consumer re-fetch) is no duplicate.
        c.observe(0, 0, v("m0"));
        // An unacknowledged send that made it anyway is fine.
        c.observe(1, 5, v("failed-but-written"));
        let r = c.report();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.acked, 10);
        assert_eq!(r.read, 11);
    }

    #[test]
    fn without_reads_keeps_only_the_acks() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.observe(0, 0, v("a"));
        assert!(c.report().is_clean());
        let fresh = c.without_reads();
        assert_eq!(fresh.acked(), 1);
        assert_eq!(fresh.report().lost.len(), 1);
    }

    #[test]
    fn lost_fires() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.ack(0, 1, v("b"));
        c.observe(0, 0, v("a"));
        let r = c.report();
        assert_eq!(r.lost.len(), 1, "{r}");
        assert_eq!(r.lost[0].value, v("b"));
        assert!(r.duplicated.is_empty() && r.reordered.is_empty(), "{r}");
        assert!(!r.is_clean());
    }

    #[test]
    fn duplicate_fires() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.ack(0, 1, v("b"));
        c.observe(0, 0, v("a"));
        c.observe(0, 1, v("b"));
        c.observe(0, 2, v("b")); // a retried send written twice
        let r = c.report();
        assert_eq!(r.duplicated.len(), 1, "{r}");
        assert_eq!(r.duplicated[0].positions, vec![(0, 1), (0, 2)]);
        assert!(r.lost.is_empty() && r.reordered.is_empty(), "{r}");
    }

    #[test]
    fn duplicate_of_unacked_value_fires() {
        let mut c = DeliveryChecker::new();
        c.observe(0, 0, v("x"));
        c.observe(0, 1, v("x"));
        assert_eq!(c.report().duplicated.len(), 1);
    }

    #[test]
    fn read_order_against_send_order_fires() {
        let mut c = DeliveryChecker::new();
        // The producer was told b landed at 1 and a at 0, but the log says
        // otherwise (acks attributed wrongly, offsets swapped).
        c.ack(0, 0, v("a"));
        c.ack(0, 1, v("b"));
        c.observe(0, 0, v("b"));
        c.observe(0, 1, v("a"));
        let r = c.report();
        assert!(r.lost.is_empty() && r.duplicated.is_empty(), "{r}");
        assert!(
            r.reordered.iter().any(|x| x.detail.contains("sent later")),
            "{r}"
        );
        assert!(
            r.reordered.iter().any(|x| x.detail.contains("but read at")),
            "{r}"
        );
    }

    #[test]
    fn ack_offsets_against_send_order_fires() {
        let mut c = DeliveryChecker::new();
        // Sent a then b, but b was acknowledged at a lower offset.
        c.ack(0, 5, v("a"));
        c.ack(0, 4, v("b"));
        c.observe(0, 4, v("b"));
        c.observe(0, 5, v("a"));
        let r = c.report();
        assert!(!r.reordered.is_empty(), "{r}");
        assert!(r.lost.is_empty() && r.duplicated.is_empty(), "{r}");
    }

    #[test]
    fn offset_mismatch_fires() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.ack(0, 1, v("b"));
        c.observe(0, 0, v("a"));
        c.observe(0, 7, v("b"));
        let r = c.report();
        assert_eq!(r.reordered.len(), 1, "{r}");
        assert!(r.reordered[0].detail.contains("but read at"), "{r}");
    }

    #[test]
    fn wrong_partition_fires() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.observe(1, 0, v("a"));
        let r = c.report();
        assert_eq!(r.reordered.len(), 1, "{r}");
        assert!(r.lost.is_empty());
    }

    #[test]
    fn partitions_are_independent() {
        let mut c = DeliveryChecker::new();
        // Interleaved sends across partitions; each partition in order.
        c.ack(1, 0, v("p1-a"));
        c.ack(0, 0, v("p0-a"));
        c.ack(1, 1, v("p1-b"));
        c.ack(0, 1, v("p0-b"));
        c.observe(0, 0, v("p0-a"));
        c.observe(0, 1, v("p0-b"));
        c.observe(1, 0, v("p1-a"));
        c.observe(1, 1, v("p1-b"));
        assert!(c.report().is_clean());
    }

    #[test]
    fn two_values_at_one_position_fires() {
        let mut c = DeliveryChecker::new();
        c.ack(0, 0, v("a"));
        c.observe(0, 0, v("a"));
        c.observe(0, 0, v("z"));
        assert!(!c.report().is_clean());
    }
}
