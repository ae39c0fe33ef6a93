//! `RunReport`: what a sync or a plan did, printed at the end and stored as the run record.

use std::collections::BTreeMap;
use std::fmt;

use audsync_graph::ClientStats;
use serde::Serialize;

use crate::hash::report::group_digits;

/// The sentence every report of a sync ends with (contract §9: "usually up to 24 hours").
pub const MATCHING_NOTE: &str =
    "Meta takes up to 24 hours to match users; audience size updates then.";

/// Invalid entries listed in a report, at most (all are stored with the run).
pub const MAX_INVALID_SAMPLES_SHOWN: usize = 10;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every change was accepted.
    Succeeded,
    /// Some changes were refused or held back; they stay pending for the next run.
    Partial,
    /// The run stopped; everything not accepted stays pending for the next run.
    Failed,
    /// A dry run (`audsync plan`): nothing was sent.
    Planned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Planned => "planned",
        }
    }
}

/// A problem that stopped the run, in plain words, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub message: String,
    pub fix: String,
}

/// One entry Meta reported invalid, mapped back to its user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidEntry {
    pub user_id: String,
    pub reason: String,
}

/// Everything a run did. Counts are of users (rows of the audience), not of requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub segment: String,
    /// `None` for a plan.
    pub run_id: Option<String>,
    pub outcome: Outcome,
    /// `mirror`, `upsert` or `replace`.
    pub mode: String,
    pub audience_name: String,
    /// `None` until the audience is known (a plan of a segment never synced).
    pub audience_id: Option<String>,
    /// This run created the audience at Meta.
    pub audience_created: bool,
    pub rows_read: u64,
    /// Rows that became members (duplicates excluded).
    pub members: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Members that are new to the audience.
    pub new: u64,
    /// Members whose keys changed (their old row is removed, the new one added).
    pub changed: u64,
    pub unchanged: u64,
    /// Rows accepted by Meta as adds (new, changed, and re-sent after an interrupted run).
    pub added: u64,
    /// Rows accepted by Meta as removals, all kinds.
    pub removed: u64,
    /// Of `removed`: users no longer in the segment's source.
    pub removed_left: u64,
    /// Of `removed`: users still in the source but now rejected (e.g. consent withdrawn).
    pub removed_now_rejected: u64,
    /// Of `removed`: old rows of changed users.
    pub removed_old_keys: u64,
    /// Of `removed`: rows an interrupted run may have left at Meta.
    pub removed_after_interruption: u64,
    /// Of `removed`: rows sent without the identifying values (email, phone, MADID, external
    /// id) that staying members hold, so that Meta keeps the people those values match.
    pub removed_keeping_shared_values: u64,
    /// Staying members re-added because a removal row had to be sent with values they hold (all
    /// of its identifying values were shared), which removes them at Meta too (not in `added`).
    pub readded_shared_key: u64,
    /// Rows sent with `/usersreplace` (replace runs only).
    pub replaced: u64,
    /// Adds not accepted this run; they are sent again by the next run.
    pub pending_adds: u64,
    /// Removals not accepted this run; they are sent again by the next run.
    pub pending_removals: u64,
    /// Meta's `num_invalid_entries`, summed ("not an exact number but a range").
    pub invalid_per_meta: u64,
    /// Up to [`MAX_INVALID_SAMPLES_SHOWN`] invalid entries with their user ids.
    pub invalid_samples: Vec<InvalidEntry>,
    /// Graph requests for memberships (adds, removals, replaces), first attempts.
    pub requests: u64,
    pub batches_accepted: u64,
    pub batches_refused: u64,
    /// Graph requests of this run, any endpoint, that repeated a failed one: after a
    /// transient failure (5xx, timeout, reset) or a throttle. From the Graph client's counters
    /// ([`ClientStats::retries`]). Run records written before they were counted have `null`.
    pub retries: u64,
    /// Wall-clock time during which at least one request of this run was held back by
    /// throttling: Graph's throttle answers, pauses for high usage, our own per-ad-account
    /// budget ([`ClientStats::throttled_time`]).
    pub time_throttled_ms: u64,
    /// Wall-clock time during which at least one request waited before retrying a transient
    /// failure ([`ClientStats::backoff_time`]).
    pub time_backing_off_ms: u64,
    pub duration_ms: u64,
    pub warnings: Vec<String>,
    /// Why the run stopped, for a failed run.
    pub problem: Option<Problem>,
}

impl RunReport {
    pub fn new(segment: &str, mode: &str, audience_name: &str, outcome: Outcome) -> RunReport {
        RunReport {
            segment: segment.to_owned(),
            run_id: None,
            outcome,
            mode: mode.to_owned(),
            audience_name: audience_name.to_owned(),
            audience_id: None,
            audience_created: false,
            rows_read: 0,
            members: 0,
            rejected: 0,
            rejected_by_reason: BTreeMap::new(),
            new: 0,
            changed: 0,
            unchanged: 0,
            added: 0,
            removed: 0,
            removed_left: 0,
            removed_now_rejected: 0,
            removed_old_keys: 0,
            removed_after_interruption: 0,
            removed_keeping_shared_values: 0,
            readded_shared_key: 0,
            replaced: 0,
            pending_adds: 0,
            pending_removals: 0,
            invalid_per_meta: 0,
            invalid_samples: Vec::new(),
            requests: 0,
            batches_accepted: 0,
            batches_refused: 0,
            retries: 0,
            time_throttled_ms: 0,
            time_backing_off_ms: 0,
            duration_ms: 0,
            warnings: Vec::new(),
            problem: None,
        }
    }

    /// Records what the Graph client did for this run: `graph` is the difference of the
    /// client's stats at the end and at the start of the run.
    pub fn set_graph_stats(&mut self, graph: &ClientStats) {
        self.retries = graph.retries;
        self.time_throttled_ms = whole_millis(graph.throttled_time);
        self.time_backing_off_ms = whole_millis(graph.backoff_time);
    }

    /// The run record stored with the run.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(
            |error| serde_json::json!({ "error": format!("the report does not encode: {error}") }),
        )
    }

    /// The process exit status for this outcome: 0 succeeded or planned, 1 failed, 3 partial.
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::Succeeded | Outcome::Planned => 0,
            Outcome::Failed => 1,
            Outcome::Partial => 3,
        }
    }
}

fn line(formatter: &mut fmt::Formatter<'_>, label: &str, count: u64) -> fmt::Result {
    writeln!(formatter, "  {label:<24}{:>12}", group_digits(count))
}

fn seconds_line(formatter: &mut fmt::Formatter<'_>, label: &str, millis: u64) -> fmt::Result {
    writeln!(
        formatter,
        "  {label:<24}{:>12}",
        format!("{:.1} s", millis as f64 / 1000.0)
    )
}

fn whole_millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl fmt::Display for RunReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let planned = self.outcome == Outcome::Planned;
        let audience = match &self.audience_id {
            Some(id) if self.audience_created => {
                format!("{} (id {id}, created now)", self.audience_name)
            }
            Some(id) => format!("{} (id {id})", self.audience_name),
            None if planned => format!("{} (not created yet)", self.audience_name),
            None => self.audience_name.clone(),
        };
        let title = if planned { "plan" } else { "sync" };
        writeln!(
            formatter,
            "{title} of segment {} → audience {audience}, mode {}",
            self.segment, self.mode
        )?;
        if let Some(run_id) = &self.run_id {
            writeln!(formatter, "  run {run_id}: {}", self.outcome.as_str())?;
        }
        line(formatter, "rows read", self.rows_read)?;
        line(formatter, "members", self.members)?;
        line(formatter, "rejected", self.rejected)?;
        let mut reasons: Vec<(&String, &u64)> = self.rejected_by_reason.iter().collect();
        reasons.sort_by(|left, right| right.1.cmp(left.1).then(left.0.cmp(right.0)));
        for (reason, count) in reasons.iter().take(12) {
            writeln!(formatter, "    {:>10}  {reason}", group_digits(**count))?;
        }
        if reasons.len() > 12 {
            writeln!(formatter, "    … and {} other reasons", reasons.len() - 12)?;
        }
        line(formatter, "new", self.new)?;
        line(formatter, "changed", self.changed)?;
        line(formatter, "unchanged", self.unchanged)?;
        let (add_label, remove_label) = if planned {
            ("would add", "would remove")
        } else {
            ("added", "removed")
        };
        if self.mode == "replace" {
            let label = if planned {
                "would replace with"
            } else {
                "replaced with"
            };
            line(formatter, label, self.replaced)?;
        } else {
            line(formatter, add_label, self.added)?;
        }
        line(formatter, remove_label, self.removed)?;
        for (label, count) in [
            ("left the segment", self.removed_left),
            ("because now rejected", self.removed_now_rejected),
            ("old keys of changed", self.removed_old_keys),
            ("after an interruption", self.removed_after_interruption),
        ] {
            if count > 0 {
                writeln!(formatter, "    {:>10}  {label}", group_digits(count))?;
            }
        }
        // Not a kind of removal but a property of some: printed apart from the kinds above,
        // which add up to the removals.
        if self.removed_keeping_shared_values > 0 {
            writeln!(
                formatter,
                "    ({} of them sent without shared values: staying users hold those)",
                group_digits(self.removed_keeping_shared_values)
            )?;
        }
        if self.readded_shared_key > 0 {
            let label = if planned {
                "would re-add (shared)"
            } else {
                "re-added (shared key)"
            };
            line(formatter, label, self.readded_shared_key)?;
        }
        if self.pending_adds + self.pending_removals > 0 {
            writeln!(
                formatter,
                "  pending for the next run: {} adds, {} removals",
                group_digits(self.pending_adds),
                group_digits(self.pending_removals)
            )?;
        }
        if !planned {
            line(formatter, "invalid per Meta", self.invalid_per_meta)?;
            for entry in self.invalid_samples.iter().take(MAX_INVALID_SAMPLES_SHOWN) {
                writeln!(formatter, "    user {}: {}", entry.user_id, entry.reason)?;
            }
            line(formatter, "requests", self.requests)?;
            line(formatter, "retries", self.retries)?;
            seconds_line(formatter, "time throttled", self.time_throttled_ms)?;
            if self.time_backing_off_ms > 0 {
                seconds_line(formatter, "time backing off", self.time_backing_off_ms)?;
            }
        }
        seconds_line(formatter, "duration", self.duration_ms)?;
        for warning in &self.warnings {
            writeln!(formatter, "warning: {warning}")?;
        }
        if let Some(problem) = &self.problem {
            writeln!(formatter, "stopped: {}", problem.message)?;
            writeln!(formatter, "fix: {}", problem.fix)?;
        }
        if !planned && self.outcome != Outcome::Failed {
            writeln!(formatter, "{MATCHING_NOTE}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_report_names_every_count_and_ends_with_the_matching_note() {
        let mut report =
            RunReport::new("newsletter", "mirror", "CA_newsletter", Outcome::Succeeded);
        report.run_id = Some("run-1".to_owned());
        report.audience_id = Some("123".to_owned());
        report.rows_read = 1_200;
        report.removed = 7;
        report.removed_now_rejected = 2;
        report.rejected_by_reason.insert("no consent".to_owned(), 3);
        report.invalid_samples.push(InvalidEntry {
            user_id: "u-9".to_owned(),
            reason: "empty external ID".to_owned(),
        });
        let text = report.to_string();
        for expected in [
            "sync of segment newsletter → audience CA_newsletter (id 123), mode mirror",
            "rows read                      1,200",
            "because now rejected",
            "no consent",
            "user u-9: empty external ID",
            "retries                            0",
            "time throttled                 0.0 s",
            MATCHING_NOTE,
        ] {
            assert!(text.contains(expected), "{expected:?} missing in\n{text}");
        }
        assert!(
            !text.contains("time backing off"),
            "shown only when not zero"
        );
        assert_eq!(report.to_json()["removed_now_rejected"], 2);
        assert_eq!(report.to_json()["outcome"], "succeeded");
        report.outcome = Outcome::Planned;
        assert!(report.to_string().contains("would remove"));
        assert!(!report.to_string().contains(MATCHING_NOTE));
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn the_graph_clients_retries_and_waits_are_printed_and_stored() {
        let mut report = RunReport::new("news", "mirror", "CA_news", Outcome::Succeeded);
        report.set_graph_stats(&ClientStats {
            requests: 9,
            retries: 3,
            throttled_time: std::time::Duration::from_millis(61_250),
            backoff_time: std::time::Duration::from_millis(1_500),
        });
        let text = report.to_string();
        for expected in [
            "retries                            3",
            "time throttled                61.2 s",
            "time backing off               1.5 s",
        ] {
            assert!(text.contains(expected), "{expected:?} missing in\n{text}");
        }
        let json = report.to_json();
        assert_eq!(json["retries"], 3);
        assert_eq!(json["time_throttled_ms"], 61_250);
        assert_eq!(json["time_backing_off_ms"], 1_500);
    }
}
