//! Counts of one `audsync hash` run (rows, members, rejects by reason, absent values by key
//! and reason) and the summary printed from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use audsync_core::key::N_KEYS;
use audsync_core::{AbsentReason, MatchKey};

/// Reject reasons listed one by one in the summary; the rarer ones are added up. Reasons name
/// the keys a user had (`only LN, CT and ZIP (email invalid)`), so a messy file has hundreds.
const MAX_REASONS_LISTED: usize = 12;

/// What happened to the rows of a run (or of one chunk, merged into the run's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashCounts {
    pub n_rows: u64,
    pub n_members: u64,
    /// Rejected rows by reason kind (`only ZIP`, `no user id`, `wrong column count`, …).
    pub rejected: BTreeMap<String, u64>,
    /// Per key (index in `MatchKey::ALL`), members whose value is absent, by reason. A handful
    /// of reasons per key, so a vector beats a map here (this is counted for every cell).
    pub absent: [Vec<(AbsentReason, u64)>; N_KEYS],
}

impl HashCounts {
    pub fn count_reject(&mut self, reason: &str) {
        match self.rejected.get_mut(reason) {
            Some(count) => *count += 1,
            None => {
                self.rejected.insert(reason.to_string(), 1);
            }
        }
    }

    pub fn count_absent(&mut self, key: MatchKey, reason: AbsentReason) {
        add_reason(&mut self.absent[key.index()], reason, 1);
    }

    pub fn n_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds the counts of `other` (a chunk) to these.
    pub fn merge(&mut self, other: &HashCounts) {
        self.n_rows += other.n_rows;
        self.n_members += other.n_members;
        for (reason, count) in &other.rejected {
            *self.rejected.entry(reason.clone()).or_default() += count;
        }
        for (mine, theirs) in self.absent.iter_mut().zip(&other.absent) {
            for (reason, count) in theirs {
                add_reason(mine, *reason, *count);
            }
        }
    }

    /// The summary people read on stderr: rows, members, rejects by reason, absent values of
    /// each output key with reasons, speed.
    pub fn summary(&self, output_keys: &[MatchKey], elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let rows_per_second = if seconds > 0.0 {
            self.n_rows as f64 / seconds
        } else {
            0.0
        };
        let mut text = String::new();
        let _ = writeln!(text, "summary:");
        let _ = writeln!(text, "  rows read      {:>12}", group_digits(self.n_rows));
        let _ = writeln!(
            text,
            "  members        {:>12}",
            group_digits(self.n_members)
        );
        let _ = writeln!(
            text,
            "  rejected       {:>12}",
            group_digits(self.n_rejected())
        );
        let mut rejected: Vec<(&String, &u64)> = self.rejected.iter().collect();
        rejected.sort_by(|left, right| right.1.cmp(left.1).then(left.0.cmp(right.0)));
        for (reason, count) in rejected.iter().take(MAX_REASONS_LISTED) {
            let _ = writeln!(text, "    {:>10}  {reason}", group_digits(**count));
        }
        if rejected.len() > MAX_REASONS_LISTED {
            let rest = &rejected[MAX_REASONS_LISTED..];
            let n_rest: u64 = rest.iter().map(|(_, count)| **count).sum();
            let _ = writeln!(
                text,
                "    {:>10}  ({} other reasons; the rejects file has each row's)",
                group_digits(n_rest),
                rest.len()
            );
        }
        let _ = writeln!(text, "  absent values (of members), by key:");
        for key in output_keys {
            let reasons = &self.absent[key.index()];
            let n_absent: u64 = reasons.iter().map(|(_, count)| count).sum();
            let mut reasons = reasons.clone();
            reasons.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
            let details: Vec<String> = reasons
                .iter()
                .map(|(reason, count)| format!("{reason}: {}", group_digits(*count)))
                .collect();
            let details = if details.is_empty() {
                String::new()
            } else {
                format!("  ({})", details.join("; "))
            };
            let _ = writeln!(
                text,
                "    {:<16} {:>10}{details}",
                key.as_str(),
                group_digits(n_absent)
            );
        }
        let _ = writeln!(
            text,
            "  elapsed {seconds:.2} s, {} rows/s",
            group_digits(rows_per_second.round() as u64)
        );
        text
    }
}

fn add_reason(reasons: &mut Vec<(AbsentReason, u64)>, reason: AbsentReason, n: u64) {
    match reasons
        .iter_mut()
        .find(|(known, _)| same_reason(known, &reason))
    {
        Some((_, count)) => *count += n,
        None => reasons.push((reason, n)),
    }
}

/// `a == b`, without comparing the text when both point at the same static reason (they nearly
/// always do: each normalizer has a few constant reasons). This runs for every absent cell.
fn same_reason(a: &AbsentReason, b: &AbsentReason) -> bool {
    match (a, b) {
        (AbsentReason::Invalid(a), AbsentReason::Invalid(b)) => std::ptr::eq(*a, *b) || a == b,
        _ => a == b,
    }
}

/// `1234567` → `1,234,567`.
pub fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_thousands() {
        let table = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
        ];
        for (number, expected) in table {
            assert_eq!(group_digits(number), expected);
        }
    }

    #[test]
    fn merged_counts_add_up_and_the_summary_lists_them() {
        let mut run = HashCounts::default();
        let mut chunk = HashCounts {
            n_rows: 3,
            n_members: 2,
            ..HashCounts::default()
        };
        chunk.count_reject("only ZIP");
        chunk.count_absent(MatchKey::Email, AbsentReason::Empty);
        chunk.count_absent(
            MatchKey::Email,
            AbsentReason::Invalid("not an email address"),
        );
        run.merge(&chunk);
        run.merge(&chunk);
        assert_eq!(run.n_rows, 6);
        assert_eq!(run.n_members, 4);
        assert_eq!(run.n_rejected(), 2);
        let summary = run.summary(&[MatchKey::Email, MatchKey::Phone], Duration::from_secs(2));
        assert!(summary.contains("only ZIP"), "{summary}");
        assert!(
            summary.contains("EMAIL                     4  (empty: 2; not an email address: 2)"),
            "{summary}"
        );
        assert!(
            summary.contains("PHONE                     0\n"),
            "{summary}"
        );
        assert!(summary.contains("3 rows/s"), "{summary}");
    }
}
