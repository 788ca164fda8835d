//! Counts of lines that produced no event, by reason and program, with the
//! first example of each for the run summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::event::{FileId, Skip, SkipReason};

/// Where a skipped line was first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstExample {
    pub file: FileId,
    pub line: u64,
}

/// One (reason, program) bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipBucket {
    pub count: u64,
    pub first: FirstExample,
}

/// Per-run line accounting. Merging is commutative except for which first
/// example wins, and the pipeline merges in input order, so the earliest
/// example is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Lines read, including skipped ones.
    pub lines: u64,
    /// Lines that became events.
    pub events: u64,
    /// Events left out by `RunConfig::exclude`.
    pub excluded: u64,
    /// Skipped lines by reason, then program (`-` when unknown).
    pub skipped: BTreeMap<&'static str, BTreeMap<String, SkipBucket>>,
    /// Lines with bytes that are not UTF-8 (replaced, then decoded).
    pub invalid_utf8: u64,
}

impl LineStats {
    pub fn record_skip(&mut self, skip: &Skip<'_>, file: FileId, line: u64) {
        let program = skip.program.as_deref().unwrap_or("-");
        let by_program = self.skipped.entry(skip.reason.as_str()).or_default();
        if let Some(bucket) = by_program.get_mut(program) {
            bucket.count += 1;
        } else {
            by_program.insert(
                program.to_owned(),
                SkipBucket {
                    count: 1,
                    first: FirstExample { file, line },
                },
            );
        }
    }

    /// Adds `later`'s counts; `self` holds the earlier input.
    pub fn merge(&mut self, later: LineStats) {
        self.lines += later.lines;
        self.events += later.events;
        self.excluded += later.excluded;
        self.invalid_utf8 += later.invalid_utf8;
        for (reason, programs) in later.skipped {
            let mine = self.skipped.entry(reason).or_default();
            for (program, bucket) in programs {
                match mine.get_mut(&program) {
                    Some(b) => b.count += bucket.count,
                    None => {
                        mine.insert(program, bucket);
                    }
                }
            }
        }
    }

    /// Skipped lines for one reason.
    pub fn skipped_for(&self, reason: SkipReason) -> u64 {
        self.skipped
            .get(reason.as_str())
            .map(|m| m.values().map(|b| b.count).sum())
            .unwrap_or(0)
    }

    /// Lines that are malformed (not merely unrecognized or blank).
    pub fn malformed(&self) -> u64 {
        [
            SkipReason::Malformed,
            SkipReason::BadTimestamp,
            SkipReason::Truncated,
            SkipReason::MissingField,
        ]
        .into_iter()
        .map(|r| self.skipped_for(r))
        .sum::<u64>()
    }

    /// Share of non-blank lines that produced no event.
    pub fn unrecognized_share(&self) -> f64 {
        let blank = self.skipped_for(SkipReason::Empty);
        let content = self.lines.saturating_sub(blank);
        if content == 0 {
            0.0
        } else {
            1.0 - self.events as f64 / content as f64
        }
    }

    /// A human-readable table; `file_name` turns a file id into its path.
    pub fn render(&self, file_name: &dyn Fn(FileId) -> String) -> String {
        let mut out = String::new();
        for (reason, programs) in &self.skipped {
            if *reason == SkipReason::Empty.as_str() {
                continue;
            }
            let total: u64 = programs.values().map(|b| b.count).sum();
            let _ = writeln!(out, "  {reason}: {total}");
            let mut rows: Vec<_> = programs.iter().collect();
            rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            for (program, b) in rows.into_iter().take(10) {
                let _ = writeln!(
                    out,
                    "    {:<24} {:>10}  first at {}:{}",
                    crate::output::escape_terminal(program),
                    b.count,
                    crate::output::escape_terminal(&file_name(b.first.file)),
                    b.first.line
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_that_are_not_about_authentication_are_not_malformed() {
        let mut stats = LineStats {
            lines: 4,
            events: 1,
            ..Default::default()
        };
        stats.record_skip(&Skip::with_program(SkipReason::NotAuth, "SYSCALL"), 0, 1);
        stats.record_skip(&Skip::with_program(SkipReason::NotAuth, "PATH"), 0, 2);
        stats.record_skip(&Skip::new(SkipReason::Malformed), 0, 3);
        assert_eq!(stats.skipped_for(SkipReason::NotAuth), 2);
        assert_eq!(stats.malformed(), 1);
        assert!(!SkipReason::NotAuth.is_malformed());
        let table = stats.render(&|_| "audit.log".to_owned());
        assert!(table.contains("not-auth: 2"), "{table}");
        assert!(
            table.contains("SYSCALL") && table.contains("first at audit.log:1"),
            "{table}"
        );
    }
}
