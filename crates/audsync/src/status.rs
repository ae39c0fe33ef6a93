//! `audsync status [SEGMENT]`: each segment's audience from the state store and, when reachable, from Meta, in plain words.
//!
//! [`segment_status`] gathers a [`SegmentStatus`] (store first, then Meta, which may be
//! unreachable); [`status_lines`] turns it into labelled lines, purely, so a future UI can
//! show the same; [`command`] prints them.
//!
//! # When is matching "in progress"?
//! Meta matches uploaded users against its accounts "usually within 24 hours" (contract §9)
//! and exposes no flag that says it has finished. So the rule is time-based: matching is
//! **in progress for 24 hours after the last upload**, the later of Meta's `time_updated` for
//! the audience (when Meta was reached) and the end of the last run that sent changes (from
//! the store; the only signal offline). After that it is reported done. Before audsync sent
//! anything (no member held, no run with changes) it is "nothing uploaded yet", whatever
//! `time_updated` says (it also moves when the audience is created or renamed).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use audsync_graph::{
    Audience, AudienceId, AudienceStatus, ErrorAction, GraphClient, GraphError, UserProblem,
};
use serde_json::Value;

use crate::check::{self, CheckResult, CheckStatus, CheckTarget};
use crate::cli::StatusArgs;
use crate::config::{Config, Connector, Segment};
use crate::connect;
use crate::hash::report::group_digits;
use crate::store::{AudienceRecord, RunRecord, RunStatus, Store, StoreError};

/// Meta "usually" applies an upload within 24 hours (contract §9, G-CA, R-USERS).
pub const MATCHING_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Runs looked through for the last one that sent changes (older ones do not matter: the
/// 24-hour window is long past for any of them in practice).
const RUNS_LOOKED_BACK: u32 = 20;

/// Below this many people Meta reports no size (−1): the emulator's rule and Meta's observed
/// behaviour (contract §2.2, §12).
pub const SMALLEST_REPORTED_SIZE: u64 = 1_000;

/// What Meta said about the audience.
#[derive(Debug, Clone)]
pub enum MetaStatus {
    /// `--offline`: Meta was not asked.
    NotAsked,
    /// The segment was never synced: there is no audience id to ask about.
    NoAudienceYet,
    /// Meta could not be reached or refused: what happened, and what to do.
    Unavailable { detail: String, fix: Option<String> },
    /// The audience as Meta reads it.
    Found(Box<Audience>),
}

/// Everything `status` shows for one segment.
#[derive(Debug, Clone)]
pub struct SegmentStatus {
    pub segment: String,
    pub connector: String,
    /// The audience name the configuration asks for (`CA_<segment>` by default).
    pub audience_name: String,
    /// What the segment is bound to at Meta, once synced.
    pub audience: Option<AudienceRecord>,
    /// Members in the state store: what audsync sent and Meta accepted.
    pub members_held: u64,
    pub last_run: Option<RunRecord>,
    /// When the last run that sent changes ended.
    pub last_change_run_at: Option<SystemTime>,
    pub meta: MetaStatus,
    /// The connector's token: validity and expiry (`debug_token`), when Meta was asked.
    pub token: Option<CheckResult>,
}

/// `audsync status [SEGMENT]`.
pub fn command(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    connect::init_logging(connect::INTERACTIVE_LOG_LEVEL);
    let config = connect::load_config(&args.config.config)?;
    let segments = connect::select_named(
        &config.segments,
        |segment| &segment.name,
        args.segment.as_deref(),
        "segment",
        &args.config.config,
        "add a [[segment]] (`audsync init` writes an example)",
    )?;
    let runtime = connect::runtime()?;
    runtime.block_on(print_statuses(&config, &segments, !args.offline))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the status of each of `segments`, asking Meta when `ask_meta` (`audsync status`, and
/// `audsync demo` after its syncs).
pub(crate) async fn print_statuses(
    config: &Config,
    segments: &[&Segment],
    ask_meta: bool,
) -> anyhow::Result<()> {
    let store = Store::connect(config.store.expose())
        .await
        .with_context(|| format!("state store {}", config.store))?;
    // One client and one token check per connector, shared by its segments.
    let mut connections: BTreeMap<String, Connection> = BTreeMap::new();
    for (segment_idx, segment) in segments.iter().enumerate() {
        let connector = config.connector(&segment.connector).with_context(|| {
            format!(
                "segment {:?}: no connector {:?}",
                segment.name, segment.connector
            )
        })?;
        let connection = if ask_meta {
            if !connections.contains_key(&connector.name) {
                let connection = Connection::open(connector).await?;
                connections.insert(connector.name.clone(), connection);
            }
            connections.get(&connector.name)
        } else {
            None
        };
        let status = segment_status(&store, segment, connection)
            .await
            .with_context(|| format!("segment {:?}", segment.name))?;
        if segment_idx > 0 {
            println!();
        }
        print!("{}", render(&status, SystemTime::now()));
    }
    store.close().await;
    Ok(())
}

/// A connector's client and its token check.
pub struct Connection {
    pub client: GraphClient,
    pub token: CheckResult,
}

impl Connection {
    /// Builds the interactive client and checks the token (`debug_token`).
    pub async fn open(connector: &Connector) -> anyhow::Result<Connection> {
        let client = connect::interactive_graph_client(connector)?;
        let target = CheckTarget {
            ad_account: connect::ad_account_id(connector)?,
            app_id: connector.app_id.clone(),
            has_app_credentials: connect::has_app_credentials(connector),
        };
        let token = check::token_info_check(
            &connect::within_deadline(client.debug_token()).await,
            &target,
            SystemTime::now(),
        );
        Ok(Connection { client, token })
    }
}

/// Gathers one segment's status: the store always; Meta through `connection` when given.
pub async fn segment_status(
    store: &Store,
    segment: &Segment,
    connection: Option<&Connection>,
) -> Result<SegmentStatus, StoreError> {
    let audience = store.audience(&segment.name).await?;
    let members_held = store.member_count(&segment.name).await?;
    let runs = store.runs(&segment.name, RUNS_LOOKED_BACK).await?;
    let last_change_run_at = runs
        .iter()
        .filter(|run| run_sent_changes(run))
        .find_map(|run| run.finished_at);
    let meta = match (&audience, connection) {
        (_, None) => MetaStatus::NotAsked,
        (None, Some(_)) => MetaStatus::NoAudienceYet,
        (Some(record), Some(connection)) => meta_status(record, &connection.client).await,
    };
    Ok(SegmentStatus {
        segment: segment.name.clone(),
        connector: segment.connector.clone(),
        audience_name: segment.audience_name.clone(),
        audience,
        members_held,
        last_run: runs.into_iter().next(),
        last_change_run_at,
        meta,
        token: connection.map(|connection| connection.token.clone()),
    })
}

async fn meta_status(record: &AudienceRecord, client: &GraphClient) -> MetaStatus {
    let audience_id = match AudienceId::parse(&record.audience_id) {
        Ok(audience_id) => audience_id,
        Err(error) => {
            return MetaStatus::Unavailable {
                detail: format!("the stored audience id is unusable: {error}"),
                fix: None,
            };
        }
    };
    if let Ok(ad_account) = audsync_graph::AdAccountId::parse(&record.ad_account_id) {
        client.bind_audience(&audience_id, &ad_account);
    }
    match connect::within_deadline(client.get_audience(&audience_id)).await {
        Ok(audience) => MetaStatus::Found(Box::new(audience)),
        Err(error) => unavailable(&error, record),
    }
}

/// A failed audience read in words.
fn unavailable(error: &GraphError, record: &AudienceRecord) -> MetaStatus {
    match error.action() {
        ErrorAction::StopAndTellUser(UserProblem::NotAdminOrMissing) => MetaStatus::Unavailable {
            detail: format!(
                "Meta does not show audience {} to this token: it was deleted, or the token's \
                 user lost access to ad account act_{}",
                record.audience_id, record.ad_account_id
            ),
            fix: Some(format!(
                "Run `audsync check {}`; if the audience was deleted in Ads Manager, the state \
                 store still holds its members: ask the team before syncing again.",
                record.connector
            )),
        },
        ErrorAction::StopAndTellUser(problem) => MetaStatus::Unavailable {
            detail: problem.message(),
            fix: Some(problem.fix()),
        },
        _ => MetaStatus::Unavailable {
            detail: format!(
                "Meta could not be reached ({error}); showing what the state store holds"
            ),
            fix: Some(
                "Check the network and the connector's graph_url, or use --offline.".to_owned(),
            ),
        },
    }
}

/// Whether a run sent changes to Meta (adds, removals or a replace), from its report.
fn run_sent_changes(run: &RunRecord) -> bool {
    let Some(report) = &run.report else {
        return false;
    };
    ["added", "removed", "replaced"]
        .iter()
        .any(|key| report_count(report, key).is_some_and(|count| count > 0))
}

fn report_count(report: &Value, key: &str) -> Option<u64> {
    report.get(key).and_then(Value::as_u64)
}

/// The labelled lines `status` prints for one segment: (label, text, what to do).
pub fn status_lines(
    status: &SegmentStatus,
    now: SystemTime,
) -> Vec<(&'static str, String, Option<String>)> {
    let mut lines = Vec::new();
    let sync_hint = format!("Run `audsync sync {}`.", status.segment);
    lines.push((
        "members held",
        format!(
            "{} (in the state store: what audsync sent and Meta accepted)",
            group_digits(status.members_held)
        ),
        None,
    ));
    lines.push(match &status.last_run {
        None => ("last run", "none yet".to_owned(), Some(sync_hint)),
        Some(run) => {
            let (text, fix) = run_summary(run);
            ("last run", text, fix)
        }
    });
    let meta_audience = match &status.meta {
        MetaStatus::NotAsked => {
            lines.push(("Meta", "not asked (--offline)".to_owned(), None));
            None
        }
        MetaStatus::NoAudienceYet => {
            lines.push((
                "Meta",
                format!(
                    "no audience yet: the first sync creates {:?}",
                    status.audience_name
                ),
                None,
            ));
            None
        }
        MetaStatus::Unavailable { detail, fix } => {
            lines.push(("Meta", detail.clone(), fix.clone()));
            None
        }
        MetaStatus::Found(audience) => Some(audience.as_ref()),
    };
    if let Some(audience) = meta_audience {
        let stored_name = status
            .audience
            .as_ref()
            .map(|record| record.audience_name.as_str());
        if let Some(meta_name) = audience.name.as_deref()
            && stored_name.is_some_and(|stored| stored != meta_name)
        {
            lines.push((
                "name at Meta",
                format!("{meta_name:?} (renamed at Meta; audsync keeps using the audience id)"),
                None,
            ));
        }
        lines.push((
            "size at Meta",
            size_words(audience, status.members_held),
            None,
        ));
        if let Some(operation) = &audience.operation_status {
            let (text, fix) = operation_status_words(operation, &status.segment);
            lines.push(("audience status", text, fix));
        }
        if let Some(delivery) = &audience.delivery_status {
            let (text, fix) = delivery_status_words(delivery);
            lines.push(("delivery", text, fix));
        }
    }
    // Meta's `time_updated` also moves when the audience is created or renamed: it counts only
    // once audsync has uploaded something.
    let uploaded = status.members_held > 0 || status.last_change_run_at.is_some();
    let meta_updated = meta_audience
        .filter(|_| uploaded)
        .and_then(|audience| audience.time_updated)
        .filter(|time| *time > 0)
        .map(|time| UNIX_EPOCH + Duration::from_secs(time.unsigned_abs()));
    lines.push((
        "matching",
        matching_words(meta_updated, status.last_change_run_at, now),
        None,
    ));
    if let Some(token) = &status.token {
        let fix = (token.status != CheckStatus::Pass)
            .then(|| token.fix.clone())
            .flatten();
        lines.push(("token", format!("{}: {}", token.status, token.detail), fix));
    }
    lines
}

/// The status as printed: a heading, then one line per field and the fix below.
pub fn render(status: &SegmentStatus, now: SystemTime) -> String {
    let mut text = match &status.audience {
        Some(record) => format!(
            "Segment {:?} → audience {:?} (Meta id {}) in ad account act_{}, connector {:?}\n",
            status.segment,
            record.audience_name,
            record.audience_id,
            record.ad_account_id,
            status.connector
        ),
        None => format!(
            "Segment {:?} → audience {:?}, not created yet, connector {:?}\n",
            status.segment, status.audience_name, status.connector
        ),
    };
    for (label, line, fix) in status_lines(status, now) {
        text.push_str(&format!("  {label:<16} {line}\n"));
        if let Some(fix) = fix {
            text.push_str(&format!("  {:<16} fix: {fix}\n", ""));
        }
    }
    text
}

/// "succeeded 2026-11-29 10:00:00 UTC, took 3 s: 2,100 read, …".
fn run_summary(run: &RunRecord) -> (String, Option<String>) {
    let when = format!("{} UTC", crate::store::format_time(run.started_at));
    let took = run
        .finished_at
        .and_then(|finished| finished.duration_since(run.started_at).ok())
        .map(|took| format!(", took {}", plain_seconds(took)))
        .unwrap_or_default();
    let mut text = format!("{} {when}{took}", run.status.as_str());
    let mut fix = None;
    if let Some(report) = &run.report {
        let counts: Vec<String> = [
            ("rows_read", "read"),
            ("members", "members"),
            ("rejected", "rejected"),
            ("added", "added"),
            ("removed", "removed"),
            ("replaced", "replaced"),
            ("pending_adds", "adds pending"),
            ("pending_removals", "removals pending"),
            ("invalid_per_meta", "invalid per Meta"),
        ]
        .iter()
        .filter_map(|(key, words)| {
            let count = report_count(report, key)?;
            let always = matches!(*key, "rows_read" | "added" | "removed");
            (always || count > 0).then(|| format!("{} {words}", group_digits(count)))
        })
        .collect();
        if !counts.is_empty() {
            text.push_str(": ");
            text.push_str(&counts.join(", "));
        }
        if let Some(problem) = report.get("problem").filter(|problem| !problem.is_null()) {
            if let Some(message) = problem.get("message").and_then(Value::as_str) {
                text.push_str(&format!("; stopped: {message}"));
            }
            fix = problem
                .get("fix")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
    }
    match run.status {
        RunStatus::Running => text.push_str(" (still running, or the process died: the next sync takes over once its lease expires)"),
        RunStatus::Interrupted => {
            text.push_str(" (the process died; the next sync resumes, losing nothing)");
        }
        _ => {}
    }
    (text, fix)
}

fn plain_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 10.0 {
        format!("{seconds:.1} s")
    } else if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

/// Meta's approximate size, with the share of the members held it represents.
pub fn size_words(audience: &Audience, members_held: u64) -> String {
    match (
        audience.approximate_count_lower_bound,
        audience.approximate_count_upper_bound,
    ) {
        (Some(lower), Some(upper)) => {
            let mut text = format!(
                "about {}–{} people (Meta's estimate of matched people)",
                group_digits(lower),
                group_digits(upper)
            );
            if members_held > 0 {
                let share = |count: u64| (count.saturating_mul(100) / members_held).min(100);
                text.push_str(&format!(
                    ", {}–{} % of the members held",
                    share(lower),
                    share(upper)
                ));
            }
            text
        }
        (Some(count), None) | (None, Some(count)) => {
            format!("about {} people (Meta's estimate)", group_digits(count))
        }
        (None, None) => format!(
            "fewer than {} matched people so far (Meta reports no size below that, and \
             matching takes up to 24 hours)",
            group_digits(SMALLEST_REPORTED_SIZE)
        ),
    }
}

/// `operation_status` in words, with what to do (contract §2.2; codes other than 200 and 471
/// come from older docs and third-party code).
pub fn operation_status_words(status: &AudienceStatus, segment: &str) -> (String, Option<String>) {
    let code = status.code;
    let (words, fix): (&str, Option<String>) = match code {
        0 => ("status not available yet", None),
        200 => ("Normal: ready", None),
        300 | 414 => (
            "replace in progress",
            Some("Wait for the replace to finish; other changes to the audience are refused meanwhile.".to_owned()),
        ),
        400 => (
            "warning",
            Some("Open the audience in Ads Manager → Audiences to read Meta's warning.".to_owned()),
        ),
        410 => (
            "no upload: the audience holds no users yet",
            Some(format!("Run `audsync sync {segment}`.")),
        ),
        411 => (
            "low match rate: few uploaded users matched Facebook accounts",
            Some("Send more keys per user (email, phone, names with city or ZIP, birth date, country) and check default_country; `audsync plan` shows the rejects.".to_owned()),
        ),
        412 => (
            "high invalid rate: many uploaded rows were invalid",
            Some("Check the invalid entries of the last run (`audsync sync` prints samples with user ids) and the column mapping.".to_owned()),
        ),
        421..=423 => ("pixel problem (not expected for a customer list)", None),
        431..=434 => ("lookalike problem (not expected for a customer list)", None),
        471 => (
            "flagged: Meta restricted this audience for integrity reasons (it suggests health, financial or other information Meta's terms forbid); it cannot run ads and uploads are blocked",
            Some(format!("Review the segment's data for prohibited information, then appeal in Ads Manager → Audiences, or create a new audience without it (set a new audience_name for segment {segment:?} and sync).")),
        ),
        500 => (
            "error at Meta",
            Some("Try again later; contact Meta support if it stays.".to_owned()),
        ),
        _ => ("", None),
    };
    let text = if words.is_empty() {
        format!("{code}: {}", status.description)
    } else {
        format!("{code} {words}")
    };
    (text, fix)
}

/// `delivery_status` in words (contract §2.2).
pub fn delivery_status_words(status: &AudienceStatus) -> (String, Option<String>) {
    match status.code {
        200 => (format!("{}: ready for use in ads", status.code), None),
        300 => (
            format!(
                "{}: too small to deliver ads yet (Meta needs more matched people)",
                status.code
            ),
            Some("Add users to the segment, or wait: matching takes up to 24 hours.".to_owned()),
        ),
        code if code >= 400 => (
            format!("{code}: cannot be used for ads: {}", status.description),
            Some("Open the audience in Ads Manager → Audiences for Meta's reason.".to_owned()),
        ),
        code => (format!("{code}: {}", status.description), None),
    }
}

/// The matching rule of the module doc.
pub fn matching_words(
    meta_updated: Option<SystemTime>,
    last_change_run_at: Option<SystemTime>,
    now: SystemTime,
) -> String {
    let last_upload = match (meta_updated, last_change_run_at) {
        (Some(meta), Some(run)) => meta.max(run),
        (meta, run) => match meta.or(run) {
            Some(time) => time,
            None => return "nothing uploaded yet".to_owned(),
        },
    };
    let at = format!("{} UTC", crate::store::format_time(last_upload));
    match now.duration_since(last_upload) {
        Ok(elapsed) if elapsed >= MATCHING_WINDOW => {
            format!("done: the last upload ({at}) is more than 24 hours old")
        }
        _ => format!(
            "in progress (Meta takes up to 24 hours): last upload {at}, done by {} UTC at the latest",
            crate::store::format_time(last_upload + MATCHING_WINDOW)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunId;

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> SystemTime {
        // 2026-01-02 00:00:00 UTC.
        UNIX_EPOCH + Duration::from_secs(1_767_312_000)
    }

    fn audience(lower: Option<u64>, upper: Option<u64>, operation: i64, delivery: i64) -> Audience {
        Audience {
            id: AudienceId::parse("23849182047670582").expect("digits"),
            name: Some("CA_newsletter".to_owned()),
            description: None,
            subtype: Some("CUSTOM".to_owned()),
            ad_account: None,
            customer_file_source: None,
            approximate_count_lower_bound: lower,
            approximate_count_upper_bound: upper,
            operation_status: Some(AudienceStatus {
                code: operation,
                description: "Normal".to_owned(),
            }),
            delivery_status: Some(AudienceStatus {
                code: delivery,
                description: "This audience is ready for use.".to_owned(),
            }),
            data_source: None,
            time_updated: Some(1_767_312_000 - 2 * 3600),
        }
    }

    fn status(meta: MetaStatus, last_run: Option<RunRecord>) -> SegmentStatus {
        SegmentStatus {
            segment: "newsletter".to_owned(),
            connector: "meta".to_owned(),
            audience_name: "CA_newsletter".to_owned(),
            audience: None,
            members_held: 2_000,
            last_run,
            last_change_run_at: None,
            meta,
            token: None,
        }
    }

    fn run(report: Value, status: RunStatus) -> RunRecord {
        RunRecord {
            id: RunId::from_string("run-1".to_owned()),
            segment: "newsletter".to_owned(),
            started_at: now() - 3 * HOUR,
            finished_at: Some(now() - 3 * HOUR + Duration::from_secs(4)),
            status,
            report: Some(report),
        }
    }

    fn line<'a>(
        lines: &'a [(&str, String, Option<String>)],
        label: &str,
    ) -> &'a (&'a str, String, Option<String>) {
        lines
            .iter()
            .find(|(name, _, _)| *name == label)
            .unwrap_or_else(|| panic!("no {label} line in {lines:?}"))
    }

    #[test]
    fn matching_is_in_progress_for_24_hours_after_the_last_upload() {
        assert_eq!(matching_words(None, None, now()), "nothing uploaded yet");
        let recent = matching_words(Some(now() - 2 * HOUR), None, now());
        assert!(
            recent.starts_with("in progress (Meta takes up to 24 hours)"),
            "{recent}"
        );
        assert!(
            recent.contains("last upload 2026-01-01 22:00:00 UTC"),
            "{recent}"
        );
        assert!(
            recent.contains("done by 2026-01-02 22:00:00 UTC"),
            "{recent}"
        );
        let old = matching_words(Some(now() - 30 * HOUR), None, now());
        assert!(old.starts_with("done:"), "{old}");
        // The later of Meta's time and the last run that sent changes wins.
        let later_run = matching_words(Some(now() - 30 * HOUR), Some(now() - HOUR), now());
        assert!(later_run.starts_with("in progress"), "{later_run}");
        let exactly = matching_words(None, Some(now() - 24 * HOUR), now());
        assert!(exactly.starts_with("done:"), "{exactly}");
    }

    #[test]
    fn sizes_in_words() {
        let small = size_words(&audience(None, None, 200, 300), 120);
        assert!(
            small.starts_with("fewer than 1,000 matched people so far"),
            "{small}"
        );
        let sized = size_words(&audience(Some(1_900), Some(2_100), 200, 200), 2_000);
        assert_eq!(
            sized,
            "about 1,900–2,100 people (Meta's estimate of matched people), 95–100 % of the members held"
        );
        let no_members = size_words(&audience(Some(4_900), Some(5_100), 200, 200), 0);
        assert!(!no_members.contains('%'), "{no_members}");
    }

    #[test]
    fn statuses_in_words_with_what_to_do() {
        let status = |code: i64, description: &str| AudienceStatus {
            code,
            description: description.to_owned(),
        };
        let cases: [(i64, &str, bool); 7] = [
            (200, "200 Normal: ready", false),
            (300, "300 replace in progress", true),
            (410, "410 no upload", true),
            (411, "411 low match rate", true),
            (412, "412 high invalid rate", true),
            (471, "471 flagged: Meta restricted this audience", true),
            (999, "999: Something new", false),
        ];
        for (code, words, has_fix) in cases {
            let (text, fix) = operation_status_words(&status(code, "Something new"), "newsletter");
            assert!(text.starts_with(words), "{code}: {text}");
            assert_eq!(fix.is_some(), has_fix, "{code}: {fix:?}");
        }
        let (_, fix) = operation_status_words(&status(471, ""), "newsletter");
        assert!(fix.expect("a fix").contains("appeal"));
        assert_eq!(
            delivery_status_words(&status(200, "ready")).0,
            "200: ready for use in ads"
        );
        assert!(
            delivery_status_words(&status(300, ""))
                .0
                .contains("too small")
        );
        let (text, fix) = delivery_status_words(&status(400, "Policy problem"));
        assert!(text.contains("cannot be used for ads: Policy problem") && fix.is_some());
    }

    #[test]
    fn lines_from_store_and_meta() {
        let report = serde_json::json!({
            "rows_read": 2_100, "members": 2_000, "rejected": 100, "added": 2_000,
            "removed": 0, "replaced": 0, "pending_adds": 0, "invalid_per_meta": 3,
            "problem": null,
        });
        let found = status(
            MetaStatus::Found(Box::new(audience(Some(1_900), Some(2_100), 200, 200))),
            Some(run(report, RunStatus::Succeeded)),
        );
        let lines = status_lines(&found, now());
        assert_eq!(
            line(&lines, "members held").1,
            "2,000 (in the state store: what audsync sent and Meta accepted)"
        );
        assert_eq!(
            line(&lines, "last run").1,
            "succeeded 2026-01-01 21:00:00 UTC, took 4.0 s: 2,100 read, 2,000 members, 100 rejected, 2,000 added, 0 removed, 3 invalid per Meta"
        );
        assert!(
            line(&lines, "size at Meta")
                .1
                .starts_with("about 1,900–2,100 people")
        );
        assert_eq!(line(&lines, "audience status").1, "200 Normal: ready");
        assert_eq!(line(&lines, "delivery").1, "200: ready for use in ads");
        assert!(
            line(&lines, "matching").1.starts_with("in progress"),
            "{lines:?}"
        );

        let failed_report = serde_json::json!({
            "rows_read": 10, "added": 0, "removed": 0,
            "problem": {"message": "The Facebook access token has expired.", "fix": "Create a new token."},
        });
        let offline = status(
            MetaStatus::NotAsked,
            Some(run(failed_report, RunStatus::Failed)),
        );
        let lines = status_lines(&offline, now());
        let (_, text, fix) = line(&lines, "last run");
        assert!(
            text.starts_with("failed ")
                && text.ends_with("; stopped: The Facebook access token has expired."),
            "{text}"
        );
        assert_eq!(fix.as_deref(), Some("Create a new token."));
        assert_eq!(line(&lines, "Meta").1, "not asked (--offline)");
        assert!(lines.iter().all(|(label, _, _)| *label != "size at Meta"));

        let unreachable = status(
            MetaStatus::Unavailable {
                detail: "Meta could not be reached (x)".to_owned(),
                fix: None,
            },
            None,
        );
        let lines = status_lines(&unreachable, now());
        assert_eq!(line(&lines, "last run").1, "none yet");
        assert_eq!(
            line(&lines, "last run").2.as_deref(),
            Some("Run `audsync sync newsletter`.")
        );
        assert_eq!(line(&lines, "Meta").1, "Meta could not be reached (x)");
        assert_eq!(line(&lines, "matching").1, "nothing uploaded yet");
    }

    #[test]
    fn an_audience_created_but_never_filled_has_nothing_to_match() {
        let mut empty = status(
            MetaStatus::Found(Box::new(audience(None, None, 200, 300))),
            None,
        );
        empty.members_held = 0;
        let lines = status_lines(&empty, now());
        assert_eq!(line(&lines, "matching").1, "nothing uploaded yet");
        empty.members_held = 1;
        let lines = status_lines(&empty, now());
        assert!(
            line(&lines, "matching").1.starts_with("in progress"),
            "{lines:?}"
        );
    }

    #[test]
    fn only_runs_that_sent_changes_start_the_matching_window() {
        let quiet = run(
            serde_json::json!({"added": 0, "removed": 0, "replaced": 0}),
            RunStatus::Succeeded,
        );
        let busy = run(
            serde_json::json!({"added": 0, "removed": 5}),
            RunStatus::Partial,
        );
        let no_report = RunRecord {
            report: None,
            ..quiet.clone()
        };
        assert!(!run_sent_changes(&quiet));
        assert!(run_sent_changes(&busy));
        assert!(!run_sent_changes(&no_report));
    }
}
