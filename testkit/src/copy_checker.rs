//! Compares a topic a copier read (the input) with the topic it wrote (the
//! output, read back with `read_committed`): exactly-once copying means every
//! input record appears once in the output, nothing else does, and records
//! of the same key from the same input partition keep their order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::checker::{Duplicate, Reorder};

/// The verdict of [`CopyChecker::report`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Input values missing from the output, in input order.
    pub lost: Vec<Vec<u8>>,
    /// Values found at more than one output position.
    pub duplicated: Vec<Duplicate>,
    /// Output values that are no input's (an aborted write shown, garbage).
    pub unexpected: Vec<Vec<u8>>,
    /// Records out of order against an earlier input record of the same
    /// key and input partition; `partition` is the output partition.
    pub reordered: Vec<Reorder>,
    /// Input records given.
    pub input: usize,
    /// Output positions given.
    pub output: usize,
}

impl CopyReport {
    /// True when nothing was lost, duplicated, unexpected or reordered.
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.unexpected.is_empty()
            && self.reordered.is_empty()
    }
}

fn show(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

impl fmt::Display for CopyReport {
    /// A summary with the first few cases of each kind, for assert messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "input {}, output {}: {} lost, {} duplicated, {} unexpected, {} reordered",
            self.input,
            self.output,
            self.lost.len(),
            self.duplicated.len(),
            self.unexpected.len(),
            self.reordered.len()
        )?;
        for v in self.lost.iter().take(10) {
            writeln!(f, "  lost {:?}", show(v))?;
        }
        for d in self.duplicated.iter().take(10) {
            writeln!(f, "  duplicated {:?} at {:?}", show(&d.value), d.positions)?;
        }
        for v in self.unexpected.iter().take(10) {
            writeln!(f, "  unexpected {:?}", show(v))?;
        }
        for r in self.reordered.iter().take(10) {
            writeln!(
                f,
                "  reordered {:?} on output partition {}: {}",
                show(&r.value),
                r.partition,
                r.detail
            )?;
        }
        Ok(())
    }
}

/// Input records with unique values, and the output read back.
///
/// Usage: [`CopyChecker::input`] for every input record, each input
/// partition in offset order; [`CopyChecker::output`] for every record read
/// from the output (reading a position twice is harmless); then
/// [`CopyChecker::report`].
#[derive(Clone, Debug, Default)]
pub struct CopyChecker {
    /// (input partition, key, value), in the order given.
    input: Vec<(i32, Option<Vec<u8>>, Vec<u8>)>,
    /// Output position → value.
    output: BTreeMap<(i32, i64), Vec<u8>>,
}

impl CopyChecker {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// An input record; call in offset order per input partition.
    pub fn input(&mut self, partition: i32, key: Option<&[u8]>, value: impl Into<Vec<u8>>) {
        self.input
            .push((partition, key.map(<[u8]>::to_vec), value.into()));
    }

    /// A record read from the output at `partition`/`offset`.
    pub fn output(&mut self, partition: i32, offset: i64, value: impl Into<Vec<u8>>) {
        self.output.insert((partition, offset), value.into());
    }

    /// Compares the output with the input.
    ///
    /// # Panics
    ///
    /// If two input records share a value: the checker tells records apart
    /// by value.
    pub fn report(&self) -> CopyReport {
        let mut report = CopyReport {
            input: self.input.len(),
            output: self.output.len(),
            ..CopyReport::default()
        };
        let mut seen_input = HashSet::with_capacity(self.input.len());
        for (_, _, v) in &self.input {
            assert!(
                seen_input.insert(v.as_slice()),
                "input value {:?} given twice: values must be unique",
                show(v)
            );
        }

        // Every output position of each value, in offset order.
        let mut at: HashMap<&[u8], Vec<(i32, i64)>> = HashMap::new();
        for (&pos, v) in &self.output {
            at.entry(v.as_slice()).or_default().push(pos);
            if !seen_input.contains(v.as_slice()) {
                report.unexpected.push(v.clone());
            }
        }
        let mut duplicated: Vec<Duplicate> = at
            .iter()
            .filter(|(_, positions)| positions.len() > 1)
            .map(|(v, positions)| Duplicate {
                value: v.to_vec(),
                positions: positions.clone(),
            })
            .collect();
        duplicated.sort_by(|a, b| a.positions.cmp(&b.positions));
        report.duplicated = duplicated;

        // Per (input partition, key), input order must be output order: one
        // output partition, growing offsets (first copies, when duplicated).
        // (input partition, key) → the output position and value of its
        // latest record so far.
        type Group<'a> = (i32, Option<&'a [u8]>);
        let mut last: HashMap<Group, ((i32, i64), &[u8])> = HashMap::new();
        for (partition, key, value) in &self.input {
            let Some(&first) = at.get(value.as_slice()).and_then(|p| p.first()) else {
                report.lost.push(value.clone());
                continue;
            };
            let group = (*partition, key.as_deref());
            if let Some(&(prev, prev_value)) = last.get(&group) {
                if first.0 != prev.0 || first.1 <= prev.1 {
                    report.reordered.push(Reorder {
                        partition: first.0,
                        value: value.clone(),
                        detail: format!(
                            "at {}/{}, but {:?} of the same key and input partition {} \
                             came before it in the input and is at {}/{}",
                            first.0,
                            first.1,
                            show(prev_value),
                            partition,
                            prev.0,
                            prev.1
                        ),
                    });
                    continue;
                }
            }
            last.insert(group, (first, value.as_slice()));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(input: &[(i32, &str, &str)], output: &[(i32, i64, &str)]) -> CopyReport {
        let mut c = CopyChecker::new();
        for &(p, k, v) in input {
            c.input(p, Some(k.as_bytes()), v);
        }
        for &(p, o, v) in output {
            c.output(p, o, v);
        }
        c.report()
    }

    const INPUT: &[(i32, &str, &str)] =
        &[(0, "a", "1"), (0, "b", "2"), (1, "a", "3"), (0, "a", "4")];

    #[test]
    fn an_exact_copy_is_clean() {
        let r = checker(INPUT, &[(0, 0, "1"), (0, 1, "2"), (1, 0, "3"), (0, 5, "4")]);
        assert!(r.is_clean(), "{r}");
        assert_eq!((r.input, r.output), (4, 4));
        // Another order between keys, and between input partitions, is allowed.
        let r = checker(INPUT, &[(0, 0, "2"), (0, 1, "1"), (0, 2, "4"), (0, 3, "3")]);
        assert!(r.is_clean(), "{r}");
    }

    #[test]
    fn finds_lost_duplicated_and_unexpected_records() {
        let r = checker(
            INPUT,
            &[
                (0, 0, "1"),
                (0, 1, "2"),
                (0, 2, "1"),
                (0, 3, "x"),
                (0, 4, "4"),
            ],
        );
        assert_eq!(r.lost, [b"3".to_vec()]);
        assert_eq!(r.duplicated.len(), 1);
        assert_eq!(r.duplicated[0].positions, [(0, 0), (0, 2)]);
        assert_eq!(r.unexpected, [b"x".to_vec()]);
        assert!(r.reordered.is_empty(), "{r}");
        assert!(!r.is_clean());
        let text = r.to_string();
        assert!(
            text.contains("1 lost, 1 duplicated, 1 unexpected"),
            "{text}"
        );
    }

    #[test]
    fn finds_a_key_out_of_order() {
        // "4" follows "1" (key a, input partition 0) but is written before it.
        let r = checker(INPUT, &[(0, 3, "1"), (0, 1, "2"), (1, 0, "3"), (0, 2, "4")]);
        assert_eq!(r.reordered.len(), 1, "{r}");
        assert_eq!(r.reordered[0].value, b"4");
        // Or on another output partition: no order between partitions.
        let r = checker(INPUT, &[(0, 0, "1"), (0, 1, "2"), (1, 0, "3"), (1, 1, "4")]);
        assert_eq!(r.reordered.len(), 1, "{r}");
    }

    #[test]
    fn a_rewritten_position_counts_once() {
        let mut c = CopyChecker::new();
        c.input(0, None, "v");
        c.output(0, 0, "v");
        c.output(0, 0, "v");
        assert!(c.report().is_clean());
    }

    #[test]
    #[should_panic(expected = "values must be unique")]
    fn input_values_must_be_unique() {
        checker(&[(0, "a", "1"), (1, "b", "1")], &[]);
    }
}
