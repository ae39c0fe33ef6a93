//! `audsync plan` and `audsync sync`: keep a segment's Meta custom audience equal to the
//! segment. [`run`] syncs; [`plan`] computes the same counts without sending anything. This is
//! the only module that combines the state store and the Graph client.
//!
//! # Layout
//! - `mod.rs`: [`run`] and [`plan`], the order of a sync, the audience binding, the lease.
//! - `diff.rs`: the streaming diff (the `hash` pipeline, then new / changed / unchanged).
//! - `dedup.rs`: the compact set of user hashes ("first row of a user id wins").
//! - `spool.rs`: spools: scratch files of hashed wire rows waiting to be sent.
//! - `send.rs`: one operation to Meta: batches, session, concurrency, journal, commit, errors.
//! - `shared_keys.rs`: identifying values a removed row shares with staying members: left out
//!   of the removal (or, when nothing else is left, the members re-added after it).
//! - `replace.rs`: `--replace` and `mode = "replace"` (`/usersreplace`).
//! - `report.rs`: [`RunReport`], printed and stored as the run record.
//! - `progress.rs`: a bar on a terminal, plain lines otherwise.
//! - `command.rs`: the `plan` and `sync` subcommands (config, client, store, exit status).
//!
//! # The order of a sync (see ARCHITECTURE.md, "A sync, end to end")
//! 1. Take the segment's lease (a second sync of the segment fails fast, naming the holder),
//!    begin a run.
//! 2. Bind the audience: the stored record, else `find_or_create_audience` (subtype CUSTOM),
//!    saved with its schema: the mapped keys in schema order. Meta locks an audience to the
//!    data it was first filled with, and removals must send exactly the keys that were added,
//!    so a different schema is refused unless `--replace`.
//! 3. Settle what an interrupted run left uncertain (batches journaled `sent`, never settled,
//!    with their in-flight rows, on whichever host that run was): their rows are removed and
//!    their users re-added if they are still members.
//! 4. Stream the diff: load the compact member index, run the source through the pipeline.
//! 5. Mirror: send every removal (users that left, old rows of changed users), **then** the
//!    adds (new and changed users, spooled during the diff). Meta removes every member
//!    matching any identifying key of a removal row, so removing after adding could remove a
//!    changed user right after re-adding them; for the same reason removal rows leave out the
//!    identifying values staying members hold, and the few rows that must go whole have the
//!    staying members they take along promised (journaled) before the removals and re-added
//!    after them (`shared_keys.rs`). Upsert: adds only. Replace: see `replace.rs`.
//! 6. Each batch is journaled before it goes out and committed after Meta accepted it; state
//!    advances only then. A crash anywhere loses nothing: the next run diffs against what was
//!    committed and sends again (adds are upserts, removing an absent member is harmless).
//! 7. Finish the run with its report; release the lease.

pub mod command;
pub mod dedup;
pub mod diff;
pub mod progress;
pub mod replace;
pub mod report;
pub mod send;
pub mod shared_keys;
pub mod spool;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use audsync_core::{EligibilityRule, Engine, Field, MatchKey, NormalizeOptions};
use audsync_graph::{
    AdAccountId, AudienceId, ErrorAction, GraphClient, MAX_ROWS_PER_REQUEST, NewAudience, Session,
    UsersSchema,
};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::hash::HashJob;
use crate::sources::mapping::ColumnMapping;
use crate::sources::{SegmentSource, SourceSpec};
use crate::store::{
    AudienceRecord, BatchRef, JournalEntry, Lease, MemberIndex, MemberRow, Operation, RunId,
    RunStatus, Store, StoreError, lease_holder_id, user_id_hash,
};
use crate::sync::dedup::UserHashSet;
use crate::sync::diff::{DiffInput, DiffOutput, RowSink};
use crate::sync::progress::Progress;
use crate::sync::send::{ConflictWait, SendContext, send_rows};
use crate::sync::shared_keys::{
    IdentifyingColumns, KeyToken, SharedValues, TokenSpoolReader, TokenSpoolWriter, is_sent_whole,
    staying_members_holding, tokens_held_by_staying_members,
};
use crate::sync::spool::{SpoolReader, SpoolWriter};

pub use progress::ProgressMode;
pub use report::{InvalidEntry, MATCHING_NOTE, Outcome, Problem, RunReport};
pub use send::CRASH_AFTER_BATCHES_ENV;

/// How long a sync's lease on its segment lasts without renewal. Our choice: long enough that
/// a busy store never makes a healthy run lose it, short enough that a crashed run on another
/// host blocks the segment only briefly (a crashed run on this host is detected at once).
pub const LEASE_TTL: Duration = Duration::from_secs(120);

/// Requests in flight per ad account while sending. Our choice, within the client's own cap
/// (`RateSettings::max_in_flight`, also 4) and its rate budget.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Rows of changed-member removals and left members fetched from the store at once.
const UNSEEN_FETCH_HASHES: usize = 5_000;

/// How a segment is kept equal to its audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Adds and removes (the default).
    Mirror,
    /// Adds only; users who leave stay in the audience.
    Upsert,
    /// A full `/usersreplace` each run.
    Replace,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Mirror => "mirror",
            SyncMode::Upsert => "upsert",
            SyncMode::Replace => "replace",
        }
    }
}

/// One segment, as a sync needs it (built from the config by `command.rs`, or by tests).
#[derive(Clone)]
pub struct SegmentSpec {
    pub name: String,
    /// The connector's name (stored with the audience record).
    pub connector: String,
    pub ad_account: AdAccountId,
    /// A CSV, JSON Lines or Parquet file, a glob of them, or a SQL query.
    pub source: SourceSpec,
    /// `(COLUMN, KEY)` pairs; empty maps the columns from their names (as `audsync hash`).
    pub mapping: Vec<(String, String)>,
    /// `None`: the column mapped to EXTERN_ID.
    pub user_id_column: Option<String>,
    /// A column saying whether the user consented (a "no" rejects the user), added to the
    /// mapping when the mapping does not map it.
    pub consent_column: Option<String>,
    pub normalize: NormalizeOptions,
    pub rule: EligibilityRule,
    pub mode: SyncMode,
    /// Default `CA_{name}`.
    pub audience_name: String,
    /// Description and `customer_file_source` of a new audience.
    pub new_audience: NewAudience,
}

/// What a sync works with.
#[derive(Clone, Debug)]
pub struct SyncDeps {
    pub store: Store,
    pub graph: GraphClient,
    /// Where spools go: scratch files of rows waiting to be sent, unlinked as soon as they are
    /// created, so nothing in this folder outlives the run or is needed by the next one (what a
    /// crashed run leaves for the next, in-flight rows and an interrupted replace session, is
    /// in the store, so a run on another host sharing the store settles it too).
    pub spool_root: PathBuf,
}

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// `--replace`: a full `/usersreplace`, whatever the segment's mode.
    pub replace: bool,
    pub progress: ProgressMode,
    /// Normalize+hash worker threads.
    pub n_workers: usize,
    /// Requests in flight.
    pub concurrency: usize,
    pub lease_ttl: Duration,
    pub conflict_wait: ConflictWait,
    /// Test hook, see [`CRASH_AFTER_BATCHES_ENV`].
    pub crash_after_batches: Option<u32>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            replace: false,
            progress: ProgressMode::Auto,
            n_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            concurrency: DEFAULT_CONCURRENCY,
            lease_ttl: LEASE_TTL,
            conflict_wait: ConflictWait::default(),
            crash_after_batches: None,
        }
    }
}

/// The source opened and mapped, and what follows from the mapping.
pub(crate) struct Prepared {
    source: SegmentSource,
    job: Arc<HashJob>,
    /// The audience schema: the mapped keys in Meta's schema order.
    schema: Vec<MatchKey>,
    schema_names: Vec<String>,
    graph_schema: UsersSchema,
}

fn prepare(spec: &SegmentSpec) -> anyhow::Result<Prepared> {
    let mut source = SegmentSource::open(&spec.source)
        .with_context(|| format!("segment {}: cannot open its source", spec.name))?;
    let mut mapping =
        ColumnMapping::resolve(&mut source, &spec.mapping, spec.user_id_column.as_deref())
            .with_context(|| {
                format!(
                    "segment {}: cannot map the columns of its source",
                    spec.name
                )
            })?;
    if let Some(column) = &spec.consent_column {
        let Some(index) = source.column_index_or_add(column) else {
            bail!(
                "segment {}: consent_column {column:?} is not a column of {}",
                spec.name,
                source.name()
            );
        };
        if !mapping
            .mapped
            .iter()
            .any(|(_, field)| *field == Field::Consent)
        {
            mapping.mapped.retain(|(mapped, _)| *mapped != index);
            mapping.mapped.push((index, Field::Consent));
            mapping.mapped.sort_by_key(|(mapped, _)| *mapped);
        }
    }
    let schema = mapping.output_keys();
    let graph_keys = schema
        .iter()
        .map(|key| graph_key(*key))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("segment {}", spec.name))?;
    let engine = Engine::new(spec.normalize.clone(), spec.rule.clone());
    Ok(Prepared {
        source,
        job: Arc::new(HashJob::new(engine, &mapping, false)),
        schema_names: schema.iter().map(|key| key.as_str().to_owned()).collect(),
        schema,
        graph_schema: UsersSchema::MultiKey(graph_keys),
    })
}

/// The Graph client's name for a core match key.
fn graph_key(key: MatchKey) -> anyhow::Result<audsync_graph::MatchKey> {
    use audsync_graph::MatchKey as Graph;
    Ok(match key {
        MatchKey::ExternId => Graph::ExternId,
        MatchKey::Email => Graph::Email,
        MatchKey::Phone => Graph::Phone,
        MatchKey::Gen => Graph::Gender,
        MatchKey::Doby => Graph::BirthYear,
        MatchKey::Dobm => Graph::BirthMonth,
        MatchKey::Dobd => Graph::BirthDay,
        MatchKey::Ln => Graph::LastName,
        MatchKey::Fn => Graph::FirstName,
        MatchKey::Fi => Graph::FirstInitial,
        MatchKey::Ct => Graph::City,
        MatchKey::St => Graph::State,
        MatchKey::Zip => Graph::Zip,
        MatchKey::Country => Graph::Country,
        MatchKey::Madid => Graph::MobileAdvertiserId,
        MatchKey::LookalikeValue => bail!(
            "LOOKALIKE_VALUE is mapped, but it needs a value-based audience, which audsync \
             does not create; remove it from the mapping"
        ),
    })
}

/// Syncs a segment: see the module doc for the order. Returns the report; a run that Meta
/// stopped (token, terms, …) is a report with outcome `Failed` and the problem with its fix.
/// An `Err` is a failure of audsync's own side (source unreadable, store unreachable, lease
/// held by another process); a run record is kept for it when the run had begun.
pub async fn run(
    deps: &SyncDeps,
    spec: &SegmentSpec,
    options: &SyncOptions,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let prepared = prepare(spec)?;
    let lease = take_lease(&deps.store, &spec.name, options.lease_ttl).await?;
    let lease_lost = Arc::new(AtomicBool::new(false));
    let keeper = tokio::spawn(keep_lease(
        deps.store.clone(),
        lease.clone(),
        options.lease_ttl,
        lease_lost.clone(),
    ));
    let result = run_leased(deps, spec, options, prepared, &lease_lost, started).await;
    keeper.abort();
    if let Err(error) = deps.store.release_lease(&lease).await {
        tracing::warn!(%error, "cannot release the segment's lease; it expires by itself");
    }
    result
}

/// Takes the segment's lease. A lease held by a process of this host that no longer exists
/// (it was killed) is taken over at once instead of waiting for it to expire.
async fn take_lease(store: &Store, segment: &str, ttl: Duration) -> anyhow::Result<Lease> {
    let holder = lease_holder_id();
    match store.acquire_lease(segment, &holder, ttl).await {
        Ok(lease) => Ok(lease),
        Err(StoreError::LeaseHeld {
            holder: current, ..
        }) if holder_is_dead(&current) => {
            tracing::info!(previous_holder = %current, "taking over the lease of a process that is gone");
            Ok(store
                .take_over_lease(segment, &current, &holder, ttl)
                .await?)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether a lease holder id (`pid N on HOST (…)`, from [`lease_holder_id`]) names a process
/// of this host that does not exist any more. Only Linux can tell (`/proc`); elsewhere the
/// lease is left to expire.
fn holder_is_dead(holder: &str) -> bool {
    let mine = lease_holder_id();
    let host_of = |id: &str| -> Option<String> {
        let rest = id.strip_prefix("pid ")?;
        let (_, host) = rest.split_once(" on ")?;
        Some(host.rsplit_once(" (")?.0.to_owned())
    };
    let Some(pid) = holder
        .strip_prefix("pid ")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(pid, _)| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if host_of(holder).is_none() || host_of(holder) != host_of(&mine) {
        return false;
    }
    let proc_root = std::path::Path::new("/proc");
    pid != std::process::id()
        && proc_root.join("self").exists()
        && !proc_root.join(pid.to_string()).exists()
}

/// Renews the lease every third of its time to live; flags the run when it is lost.
async fn keep_lease(store: Store, mut lease: Lease, ttl: Duration, lost: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        match store.renew_lease(&lease, ttl).await {
            Ok(renewed) => lease = renewed,
            Err(StoreError::LeaseLost { .. }) => {
                tracing::error!("lost the segment's lease; no batch will be sent any more");
                lost.store(true, Ordering::Relaxed);
                return;
            }
            Err(error) => tracing::warn!(%error, "cannot renew the segment's lease; retrying"),
        }
    }
}

async fn run_leased(
    deps: &SyncDeps,
    spec: &SegmentSpec,
    options: &SyncOptions,
    prepared: Prepared,
    lease_lost: &AtomicBool,
    started: Instant,
) -> anyhow::Result<RunReport> {
    let store = &deps.store;
    let run_id = store.begin_run(&spec.name).await?;
    let mode = effective_mode(spec, options);
    let mut report = RunReport::new(
        &spec.name,
        mode.as_str(),
        &spec.audience_name,
        Outcome::Succeeded,
    );
    report.run_id = Some(run_id.to_string());
    let span = tracing::info_span!(
        "sync",
        segment.name = %spec.name,
        run.id = %run_id,
        audience.id = tracing::field::Empty,
    );
    let progress = Arc::new(Progress::new(options.progress, &spec.name));
    let graph_before = deps.graph.stats();
    let body = sync_body(
        deps,
        spec,
        options,
        prepared,
        &run_id,
        &mut report,
        lease_lost,
        progress.clone(),
    )
    .instrument(span)
    .await;
    progress.finish();
    report.set_graph_stats(&deps.graph.stats().since(&graph_before));
    if lease_lost.load(Ordering::Relaxed) && report.problem.is_none() {
        report.problem = Some(Problem {
            message: "The run lost its lease on the segment (the store was unreachable for too \
                      long, or another process took it over)."
                .to_owned(),
            fix: "Nothing is lost: run the sync again.".to_owned(),
        });
    }
    if let Err(error) = &body {
        report.problem = Some(Problem {
            message: format!("{error:#}"),
            fix: "Nothing sent is lost: fix the cause and run the sync again.".to_owned(),
        });
    }
    if report.problem.is_some() {
        report.outcome = Outcome::Failed;
    } else if report.pending_adds + report.pending_removals > 0 || report.batches_refused > 0 {
        report.outcome = Outcome::Partial;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    let status = match report.outcome {
        Outcome::Succeeded => RunStatus::Succeeded,
        Outcome::Partial => RunStatus::Partial,
        Outcome::Failed | Outcome::Planned => RunStatus::Failed,
    };
    store
        .finish_run(&run_id, status, &report.to_json())
        .await
        .context("cannot record the end of the run")?;
    body.map(|()| report)
}

/// Replace when asked (`--replace` or the segment's mode), else the segment's mode.
fn effective_mode(spec: &SegmentSpec, options: &SyncOptions) -> SyncMode {
    if options.replace {
        SyncMode::Replace
    } else {
        spec.mode
    }
}

/// The audience a run syncs to.
struct Binding {
    audience_id: AudienceId,
}

#[allow(clippy::too_many_arguments)]
async fn sync_body(
    deps: &SyncDeps,
    spec: &SegmentSpec,
    options: &SyncOptions,
    prepared: Prepared,
    run_id: &RunId,
    report: &mut RunReport,
    lease_lost: &AtomicBool,
    progress: Arc<Progress>,
) -> anyhow::Result<()> {
    let store = &deps.store;
    let mut mode = effective_mode(spec, options);
    let interrupted_replace = store
        .replace_session(&spec.name)
        .await
        .context("cannot read the segment's interrupted replace session")?;
    if interrupted_replace.is_some() && mode != SyncMode::Replace {
        report.warnings.push(
            "a replace of this segment was interrupted; this run replaces the audience again \
             (a half-done replace must be completed before anything else)"
                .to_owned(),
        );
        mode = SyncMode::Replace;
        report.mode = mode.as_str().to_owned();
    }
    let Some(binding) = bind_audience(deps, spec, &prepared, mode, report).await? else {
        return Ok(());
    };
    tracing::Span::current().record("audience.id", tracing::field::display(&binding.audience_id));
    let schema_names = prepared.schema_names.clone();
    let mut ctx = SendContext::new(
        store,
        &deps.graph,
        run_id,
        &spec.name,
        &binding.audience_id,
        prepared.graph_schema.clone(),
        &schema_names,
        &deps.spool_root,
        &progress,
        lease_lost,
    );
    ctx.concurrency = options.concurrency;
    ctx.conflict_wait = options.conflict_wait;
    ctx.crash_after_batches = options.crash_after_batches;
    let uncertain = Uncertain::load(store, &spec.name, &schema_names).await?;
    if uncertain.n_rows_unknown > 0 && mode != SyncMode::Replace {
        report.warnings.push(format!(
            "an interrupted run was adding {} users whose rows the store does not hold (an \
             audsync before 0002 of the store kept them in a file beside it); if some of them \
             left the segment since, Meta may still hold them: run `audsync sync {} --replace` \
             once to make the audience exact",
            uncertain.n_rows_unknown, spec.name
        ));
    }
    let index = Arc::new(
        store
            .load_member_index(&spec.name)
            .await
            .context("cannot load the stored members")?,
    );
    let outcome = if mode == SyncMode::Replace {
        replace::run(
            &ctx,
            options,
            prepared,
            index,
            &uncertain,
            report,
            progress.clone(),
        )
        .await?
    } else {
        incremental(
            &ctx,
            options,
            prepared,
            mode,
            index,
            &uncertain,
            report,
            progress.clone(),
        )
        .await?
    };
    let state = ctx.state();
    report.requests = state.requests;
    report.batches_accepted = state.batches_accepted;
    report.batches_refused = state.batches_refused;
    report.invalid_per_meta = state.invalid_per_meta;
    report.invalid_samples = state.invalid_samples;
    if let Some(stop) = state.stop {
        report.problem = Some(stop.problem);
    }
    if outcome == Settled::Complete && report.problem.is_none() {
        uncertain.settle(store, &spec.name, run_id).await;
    }
    Ok(())
}

/// Whether a run sent everything it had to (so what an interrupted run left uncertain is
/// settled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Complete,
    Incomplete,
}

/// Binds the segment to its audience (see the module doc). `None` when the run must stop; the
/// report then says why.
async fn bind_audience(
    deps: &SyncDeps,
    spec: &SegmentSpec,
    prepared: &Prepared,
    mode: SyncMode,
    report: &mut RunReport,
) -> anyhow::Result<Option<Binding>> {
    let store = &deps.store;
    let stored = store.audience(&spec.name).await?;
    if let Some(record) = &stored
        && record.audience_name == spec.audience_name
        && record.ad_account_id == spec.ad_account.numeric()
    {
        let audience_id = AudienceId::parse(&record.audience_id)
            .map_err(|error| anyhow::anyhow!("the stored audience id is invalid: {error}"))?;
        deps.graph.bind_audience(&audience_id, &spec.ad_account);
        report.audience_id = Some(record.audience_id.clone());
        if record.schema != prepared.schema_names {
            if mode != SyncMode::Replace {
                report.problem = Some(schema_change_problem(spec, record, &prepared.schema_names));
                return Ok(None);
            }
            store
                .save_audience(&AudienceRecord {
                    schema: prepared.schema_names.clone(),
                    ..record.clone()
                })
                .await?;
            report.warnings.push(format!(
                "the audience's keys change from {} to {}: the replace uploads every member with \
                 the new keys",
                record.schema.join(","),
                prepared.schema_names.join(",")
            ));
        }
        return Ok(Some(Binding { audience_id }));
    }
    if let Some(old) = &stored {
        report.warnings.push(format!(
            "segment {} now syncs to audience {} of {}; the audience it synced to before ({}, id \
             {}) keeps its members and is no longer updated",
            spec.name, spec.audience_name, spec.ad_account, old.audience_name, old.audience_id
        ));
        store.reset_segment(&spec.name).await?;
    }
    let found = match deps
        .graph
        .find_or_create_audience(&spec.ad_account, &spec.audience_name, &spec.new_audience)
        .await
    {
        Ok(found) => found,
        Err(error) => {
            report.problem = Some(match error.action() {
                ErrorAction::StopAndTellUser(problem) => Problem {
                    message: problem.message(),
                    fix: problem.fix(),
                },
                _ => Problem {
                    message: format!(
                        "cannot find or create audience {}: {error}",
                        spec.audience_name
                    ),
                    fix: "Nothing was changed: run the sync again later.".to_owned(),
                },
            });
            return Ok(None);
        }
    };
    if !found.created && mode != SyncMode::Replace {
        report.warnings.push(format!(
            "audience {} already existed at Meta and this store never synced it: members it held \
             before that are not in the segment are not removed; run `audsync sync {} --replace` \
             once to make it exact",
            spec.audience_name, spec.name
        ));
    }
    report.audience_created = found.created;
    report.audience_id = Some(found.audience_id.to_string());
    store
        .save_audience(&AudienceRecord {
            segment: spec.name.clone(),
            connector: spec.connector.clone(),
            ad_account_id: spec.ad_account.numeric().to_owned(),
            audience_id: found.audience_id.to_string(),
            audience_name: spec.audience_name.clone(),
            schema: prepared.schema_names.clone(),
            created_at: std::time::SystemTime::now(),
        })
        .await?;
    Ok(Some(Binding {
        audience_id: found.audience_id,
    }))
}

fn schema_change_problem(
    spec: &SegmentSpec,
    record: &AudienceRecord,
    schema: &[String],
) -> Problem {
    Problem {
        message: format!(
            "the mapping of segment {} now gives the keys {}, but audience {} (id {}) was filled \
             with {}. Meta locks an audience to the data it was first filled with (its data \
             source), and audsync removes users with exactly the keys it added, so an audience's \
             keys cannot change in place",
            spec.name,
            schema.join(","),
            record.audience_name,
            record.audience_id,
            record.schema.join(",")
        ),
        fix: format!(
            "either run `audsync sync {} --replace` once (one replace session uploads every \
             member with the new keys; Meta swaps the members without resetting ad set learning), \
             or give the segment a new audience_name (a new audience; the old one stays as it is)",
            spec.name
        ),
    }
}

/// What an interrupted run left uncertain: batches journaled `sent` and never settled.
#[derive(Default)]
pub(crate) struct Uncertain {
    entries: Vec<JournalEntry>,
    /// Rows of uncertain adds and replaces (their in-flight rows in the journal): Meta may hold
    /// them although the store's members do not say so.
    rows: Vec<MemberRow>,
    /// Users of uncertain batches: sent again when they are members.
    force_add: HashSet<String>,
    /// Rows of uncertain adds whose in-flight rows the journal does not hold (journaled by an
    /// audsync that kept them in a file).
    n_rows_unknown: u64,
}

impl Uncertain {
    async fn load(store: &Store, segment: &str, schema: &[String]) -> anyhow::Result<Uncertain> {
        let mut entries = store
            .unsettled_batches(segment)
            .await
            .context("cannot read the unsettled batches")?;
        let mut uncertain = Uncertain::default();
        for entry in &mut entries {
            uncertain.force_add.extend(entry.user_ids.iter().cloned());
            if entry.operation == Operation::Remove {
                // Removal rows come from the store, which still has them.
                continue;
            }
            match entry.inflight.take() {
                Some(inflight) if inflight.schema == schema => uncertain.rows.extend(inflight.rows),
                // Another schema: only a replace follows, which supersedes it.
                Some(_) => {}
                None => uncertain.n_rows_unknown += entry.n_rows,
            }
        }
        uncertain.entries = entries;
        Ok(uncertain)
    }

    /// Marks the uncertain batches settled (this run re-sent their effect), which forgets their
    /// in-flight rows.
    async fn settle(&self, store: &Store, segment: &str, run_id: &RunId) {
        let reason = format!("superseded: run {run_id} sent its changes again");
        for entry in &self.entries {
            let batch = BatchRef {
                run_id: &entry.run_id,
                segment,
                batch_idx: entry.batch_idx,
                operation: entry.operation,
            };
            if let Err(error) = store.journal_batch_refused(&batch, &reason).await {
                tracing::warn!(%error, "cannot settle an interrupted batch");
            }
        }
    }
}

/// Runs the diff on a blocking thread.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_diff(
    ctx: &SendContext<'_>,
    source: SegmentSource,
    job: Arc<HashJob>,
    schema: Vec<MatchKey>,
    index: Arc<MemberIndex>,
    send_all: bool,
    force_add: HashSet<String>,
    n_workers: usize,
    progress: Arc<Progress>,
    adds: RowSink,
    removals: RowSink,
    staying_tokens: Option<(IdentifyingColumns, TokenSpoolWriter)>,
) -> anyhow::Result<DiffOutput> {
    let (identifying, token_spool) = staying_tokens.unzip();
    let input = DiffInput {
        job,
        schema,
        index,
        send_all,
        force_add,
        store: ctx.store.clone(),
        segment: ctx.segment.to_owned(),
        runtime: tokio::runtime::Handle::current(),
        n_workers,
        progress,
        identifying,
    };
    spawn_blocking_in_context(move || diff::run(source, &input, adds, removals, token_spool))
        .await
        .context("the diff thread failed")?
}

/// Runs `work` on tokio's blocking pool inside the caller's tracing dispatcher and span, so
/// what the diff and the spool readers log (batches they send, settled members) lands where
/// the run's own lines do: in the run's span, and in a test's scoped subscriber.
fn spawn_blocking_in_context<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    let dispatch = tracing::dispatcher::get_default(|dispatch| dispatch.clone());
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || span.in_scope(work))
    })
}

/// Mirror and upsert runs.
#[allow(clippy::too_many_arguments)]
async fn incremental(
    ctx: &SendContext<'_>,
    options: &SyncOptions,
    prepared: Prepared,
    mode: SyncMode,
    index: Arc<MemberIndex>,
    uncertain: &Uncertain,
    report: &mut RunReport,
    progress: Arc<Progress>,
) -> anyhow::Result<Settled> {
    let spool_dir = ctx.spool_dir.to_owned();
    // The first sync of an empty audience has nothing to remove: adds go out while reading.
    let stream_adds = index.is_empty() && uncertain.force_add.is_empty();
    // Removals to come: the diff notes who they could take along at Meta.
    let identifying = IdentifyingColumns::of_schema(&prepared.schema);
    let staying_tokens = if mode == SyncMode::Mirror && !stream_adds && !identifying.is_empty() {
        let spool = TokenSpoolWriter::create(&spool_dir, identifying.len())
            .context("cannot create a spool")?;
        Some((identifying.clone(), spool))
    } else {
        None
    };
    let removals_sink = if mode == SyncMode::Mirror {
        RowSink::Spool(SpoolWriter::create(&spool_dir).context("cannot create a spool")?)
    } else {
        RowSink::Count { n_rows: 0 }
    };
    progress.start("reading", None, "rows");
    let (adds_sink, streamed) = if stream_adds {
        let (sender, receiver) = mpsc::channel(2);
        let stream = diff::BatchStream::new(sender, MAX_ROWS_PER_REQUEST);
        (RowSink::Stream(stream), Some(receiver))
    } else {
        let spool = SpoolWriter::create(&spool_dir).context("cannot create a spool")?;
        (RowSink::Spool(spool), None)
    };
    let diff = run_diff(
        ctx,
        prepared.source,
        prepared.job,
        prepared.schema,
        index.clone(),
        false,
        uncertain.force_add.clone(),
        options.n_workers,
        progress.clone(),
        adds_sink,
        removals_sink,
        staying_tokens,
    );
    let (diff_output, add_result) = match streamed {
        Some(receiver) => {
            // The bar counts rows read; the adds sent meanwhile are in the report.
            ctx.progress_counts_sends.store(false, Ordering::Relaxed);
            let send = ctx.send_operation(Operation::Add, receiver, Session::start(None));
            let (diff, sent) = tokio::join!(diff, send);
            ctx.progress_counts_sends.store(true, Ordering::Relaxed);
            (diff?, Some(sent))
        }
        None => (diff.await?, None),
    };
    fill_diff_counts(report, &diff_output);
    let DiffOutput {
        adds,
        removals,
        source_users,
        n_removed_rejected,
        stopped_early,
        staying_tokens,
        ..
    } = diff_output;
    if let Some(sent) = add_result {
        report.added = sent.rows_accepted;
        report.pending_adds = adds.n_rows() - sent.rows_accepted;
        if stopped_early || ctx.stopped() {
            report.pending_adds = report.pending_adds.max(1);
            return Ok(Settled::Incomplete);
        }
        return Ok(if report.pending_adds == 0 {
            Settled::Complete
        } else {
            Settled::Incomplete
        });
    }

    // Removals first (mirror only), after promising to re-add the staying members they take
    // along.
    let mut removals_complete = true;
    let mut readds: Option<Readds> = None;
    let mut shared_values: Option<Arc<SharedValues>> = None;
    if mode == SyncMode::Mirror {
        let removal_spool = match removals {
            RowSink::Spool(spool) => spool.finish().context("cannot read back a spool")?,
            _ => unreachable!("mirror runs spool their removals"),
        };
        report.removed_old_keys = removal_spool.n_rows() - n_removed_rejected;
        report.removed_now_rejected = n_removed_rejected;
        report.removed_after_interruption = uncertain.rows.len() as u64;
        let mut removals = gather_removals(
            ctx.store,
            ctx.segment,
            ctx.spool_dir,
            removal_spool,
            uncertain.rows.clone(),
            &index,
            &source_users,
            staying_tokens.as_ref().map(|_| &identifying),
        )
        .await?;
        report.removed_left = removals.n_left;
        report.removed_now_rejected += removals.n_now_rejected;
        let total = removals.n_rows();
        if total > 0 && !ctx.stopped() {
            if let Some(spool) = staying_tokens {
                let tokens = std::mem::take(&mut removals.tokens);
                match spare_staying_members(ctx, spool, &identifying, tokens, &index).await? {
                    Some((values, promised)) => {
                        shared_values = Some(Arc::new(values));
                        readds = Some(promised);
                    }
                    None => {
                        report.pending_removals = total;
                        report.pending_adds = adds.n_rows();
                        return Ok(Settled::Incomplete);
                    }
                }
            }
            progress.start("removing", Some(total), "rows");
            let (sender, receiver) = mpsc::channel(2);
            let produce = produce_removals(sender, removals, shared_values.clone());
            let send = ctx.send_operation(Operation::Remove, receiver, Session::start(Some(total)));
            let (produced, sent) = tokio::join!(produce, send);
            produced?;
            report.removed_keeping_shared_values = shared_values
                .as_ref()
                .map_or(0, |values| values.n_stripped());
            report.removed = sent.rows_accepted;
            report.pending_removals = total - sent.rows_accepted;
            removals_complete = sent.rows_accepted == total;
            if sent.too_small {
                report.warnings.push(format!(
                    "Meta refused to remove users because the audience would become too small \
                     (200/1870047); {} users stay in the audience for now and a later run removes \
                     them, once the audience is larger",
                    report.pending_removals
                ));
            }
        }
    }
    // Then the adds.
    let adds = match adds {
        RowSink::Spool(spool) => spool.finish().context("cannot read back a spool")?,
        _ => unreachable!("this path spools its adds"),
    };
    let n_adds = adds.n_rows();
    let n_readds = readds.as_ref().map_or(0, |readds| readds.rows.n_rows());
    if ctx.stopped() {
        report.pending_adds = n_adds + n_readds;
        return Ok(Settled::Incomplete);
    }
    if n_adds > 0 {
        // A changed user's new row waits while their old row may still be at Meta.
        let hold_changed = !removals_complete;
        progress.start("adding", Some(n_adds), "rows");
        let (sender, receiver) = mpsc::channel(2);
        let produce = produce_from_spool(adds, sender, hold_changed);
        let send = ctx.send_operation(Operation::Add, receiver, Session::start(Some(n_adds)));
        let (produced, sent) = tokio::join!(produce, send);
        let n_held = match produced?.1 {
            u64::MAX => 0,
            n_held => n_held,
        };
        report.added = sent.rows_accepted;
        report.pending_adds = n_adds - sent.rows_accepted;
        if n_held > 0 {
            report.warnings.push(format!(
                "{n_held} changed users keep their old keys at Meta until a later run can remove \
                 those (their new keys are added then)"
            ));
        }
    }
    if let Some(readds) = readds
        && n_readds > 0
        && !ctx.stopped()
    {
        progress.start("re-adding", Some(n_readds), "rows");
        let (sender, receiver) = mpsc::channel(2);
        ctx.readding.store(true, Ordering::Relaxed);
        let produce = produce_from_spool(readds.rows, sender, false);
        let send = ctx.send_operation(Operation::Add, receiver, Session::start(Some(n_readds)));
        let (produced, sent) = tokio::join!(produce, send);
        ctx.readding.store(false, Ordering::Relaxed);
        produced?;
        report.readded_shared_key = sent.rows_accepted;
        report.pending_adds += n_readds - sent.rows_accepted;
        if sent.rows_accepted == n_readds {
            for batch_idx in readds.promises {
                ctx.keep_readd_promise(batch_idx).await;
            }
        }
    } else {
        report.pending_adds += n_readds;
    }
    Ok(
        if removals_complete && report.pending_adds == 0 && !ctx.stopped() {
            Settled::Complete
        } else {
            Settled::Incomplete
        },
    )
}

pub(crate) fn fill_diff_counts(report: &mut RunReport, diff: &DiffOutput) {
    report.rows_read = diff.counts.n_rows;
    report.members = diff.counts.n_members;
    report.rejected = diff.counts.n_rejected();
    report.rejected_by_reason = diff.counts.rejected.clone();
    report.new = diff.n_new;
    report.changed = diff.n_changed;
    report.unchanged = diff.n_unchanged;
}

/// The removal rows of a mirror run, ready to send: old rows of changed users and rows of
/// rejected duplicates (spooled by the diff), rows an interrupted run may have left, and the
/// stored rows of the members that left (fetched from the store into a spool of their own).
struct Removals {
    spooled: SpoolReader,
    uncertain: Vec<MemberRow>,
    left: SpoolReader,
    /// Of `left`: members no longer in the source, and members whose rows are now rejected.
    n_left: u64,
    n_now_rejected: u64,
    /// The identifying-key tokens of every row (when asked for): who else they remove at Meta.
    tokens: Vec<KeyToken>,
}

impl Removals {
    fn n_rows(&self) -> u64 {
        self.spooled.n_rows() + self.uncertain.len() as u64 + self.left.n_rows()
    }
}

/// Collects the removals before any is sent, with their tokens when `identifying` is given.
#[allow(clippy::too_many_arguments)]
async fn gather_removals(
    store: &Store,
    segment: &str,
    spool_dir: &Path,
    mut spooled: SpoolReader,
    uncertain: Vec<MemberRow>,
    index: &MemberIndex,
    source_users: &UserHashSet,
    identifying: Option<&IdentifyingColumns>,
) -> anyhow::Result<Removals> {
    let mut tokens = Vec::new();
    if let Some(identifying) = identifying {
        loop {
            let batch = spooled
                .next_batch(MAX_ROWS_PER_REQUEST, false, &mut 0)
                .context("cannot read back a spool")?;
            if batch.is_empty() {
                break;
            }
            for row in &batch {
                identifying.push_row_tokens(&row.wire_row, &mut tokens);
            }
        }
        spooled.rewind().context("cannot read back a spool")?;
        for row in &uncertain {
            identifying.push_row_tokens(&row.wire_row, &mut tokens);
        }
    }
    let mut left = SpoolWriter::create(spool_dir).context("cannot create a spool")?;
    let (mut n_left, mut n_now_rejected) = (0, 0);
    let mut hashes = index.unseen_user_hashes();
    loop {
        let chunk: Vec<u64> = hashes.by_ref().take(UNSEEN_FETCH_HASHES).collect();
        if chunk.is_empty() {
            break;
        }
        let rows = store
            .unseen_member_rows(segment, index, &chunk)
            .await
            .context("cannot read the stored rows of members who left")?;
        for row in rows {
            if source_users.contains(user_id_hash(&row.user_id)) {
                n_now_rejected += 1;
            } else {
                n_left += 1;
            }
            if let Some(identifying) = identifying {
                identifying.push_row_tokens(&row.wire_row, &mut tokens);
            }
            left.push(&row, false)
                .context("cannot write the spool of rows to send")?;
        }
    }
    Ok(Removals {
        spooled,
        uncertain,
        left: left.finish().context("cannot read back a spool")?,
        n_left,
        n_now_rejected,
        tokens,
    })
}

/// Staying members to re-add after the removals: their stored rows, spooled, and the journal
/// entries promising them.
struct Readds {
    rows: SpoolReader,
    promises: Vec<u32>,
}

/// Decides how the removals spare the staying members (`shared_keys.rs`), before any is sent:
/// reads the diff's token spool on a blocking thread for the removal values staying members
/// hold (left out of the removal rows) and, for rows sent whole, the members holding one of
/// their values; those are spooled and journaled as re-add promises,
/// [`MAX_ROWS_PER_REQUEST`] members per promise, holding one promise's rows at a time. `None`
/// when a promise cannot be journaled (the run stopped: no removal may go out).
async fn spare_staying_members(
    ctx: &SendContext<'_>,
    mut spool: TokenSpoolReader,
    identifying: &IdentifyingColumns,
    removal_tokens: Vec<KeyToken>,
    index: &MemberIndex,
) -> anyhow::Result<Option<(SharedValues, Readds)>> {
    let tokens_per_row = identifying.len();
    let outcome = spawn_blocking_in_context(move || {
        shared_values_outcome(&mut spool, &removal_tokens, tokens_per_row)
    })
    .await
    .context("the token spool reader failed")?
    .context("cannot read back the token spool")?;
    let SharedValuesOutcome { shared, hit, .. } = outcome;
    let shared = SharedValues::new(identifying.clone(), shared);
    Ok(promise_readds(ctx, hit, index)
        .await?
        .map(|readds| (shared, readds)))
}

/// What the token spool says of the removal rows (their tokens, `tokens_per_row` per row).
struct SharedValuesOutcome {
    /// The removal values staying members hold.
    shared: UserHashSet,
    /// The staying members holding a value of a row sent whole.
    hit: UserHashSet,
    /// Removal rows that go without some of their values.
    n_stripped: u64,
}

/// Reads the token spool for [`SharedValuesOutcome`] (once, and once more when some row is sent
/// whole).
fn shared_values_outcome(
    spool: &mut TokenSpoolReader,
    removal_tokens: &[KeyToken],
    tokens_per_row: usize,
) -> std::io::Result<SharedValuesOutcome> {
    let mut removal_set = UserHashSet::with_capacity(removal_tokens.len());
    for token in removal_tokens.iter().filter(|token| **token != 0) {
        removal_set.insert(*token);
    }
    let shared = tokens_held_by_staying_members(spool, &removal_set)?;
    drop(removal_set);
    let mut whole = UserHashSet::with_capacity(16);
    let mut n_stripped = 0;
    for row_tokens in removal_tokens.chunks(tokens_per_row.max(1)) {
        if is_sent_whole(row_tokens, &shared) {
            for token in row_tokens.iter().filter(|token| **token != 0) {
                whole.insert(*token);
            }
        } else if row_tokens
            .iter()
            .any(|token| *token != 0 && shared.contains(*token))
        {
            n_stripped += 1;
        }
    }
    let hit = staying_members_holding(spool, &whole)?;
    Ok(SharedValuesOutcome {
        shared,
        hit,
        n_stripped,
    })
}

/// Spools the stored rows of the members `hit` and journals them as re-add promises (see
/// [`spare_staying_members`]).
async fn promise_readds(
    ctx: &SendContext<'_>,
    hit: UserHashSet,
    index: &MemberIndex,
) -> anyhow::Result<Option<Readds>> {
    let mut rows = SpoolWriter::create(ctx.spool_dir).context("cannot create a spool")?;
    let mut promises = Vec::new();
    let mut promised = Vec::with_capacity(MAX_ROWS_PER_REQUEST.min(hit.len()));
    let hashes: Vec<u64> = hit.iter().collect();
    drop(hit);
    for (position, chunk) in hashes.chunks(UNSEEN_FETCH_HASHES).enumerate() {
        let fetched = ctx
            .store
            .member_rows_by_user_hash(ctx.segment, chunk)
            .await
            .context("cannot read the stored rows of members sharing a key with a removed one")?;
        // A user hash shared with a member who left (a 64-bit collision): that one is removed.
        for row in fetched.into_iter().filter(|row| !index.is_unseen(row)) {
            rows.push(&row, false)
                .context("cannot write the spool of rows to send")?;
            promised.push(row);
        }
        let last = (position + 1) * UNSEEN_FETCH_HASHES >= hashes.len();
        while promised.len() >= MAX_ROWS_PER_REQUEST || (last && !promised.is_empty()) {
            let n_taken = promised.len().min(MAX_ROWS_PER_REQUEST);
            let Some(batch_idx) = ctx.promise_readds(&promised[..n_taken]).await else {
                return Ok(None);
            };
            promises.push(batch_idx);
            promised.drain(..n_taken);
        }
    }
    let rows = rows.finish().context("cannot read back a spool")?;
    if rows.n_rows() > 0 {
        tracing::info!(
            n_members = rows.n_rows(),
            "staying members share an identifying key with a removed row: they are re-added \
             after the removals"
        );
    }
    Ok(Some(Readds { rows, promises }))
}

/// Feeds the removals to the sender, in the order of [`Removals`], leaving out of each row the
/// values staying members hold (`shared`).
async fn produce_removals(
    sender: mpsc::Sender<Vec<MemberRow>>,
    removals: Removals,
    shared: Option<Arc<SharedValues>>,
) -> anyhow::Result<()> {
    let strip = move |batch: &mut Vec<MemberRow>| {
        if let Some(shared) = &shared {
            batch.iter_mut().for_each(|row| shared.strip(row));
        }
    };
    if produce_from_spool_with(removals.spooled, sender.clone(), false, strip.clone())
        .await?
        .1
        == u64::MAX
    {
        return Ok(());
    }
    let mut uncertain = removals.uncertain;
    strip(&mut uncertain);
    if !send_rows(&sender, uncertain).await {
        return Ok(());
    }
    produce_from_spool_with(removals.left, sender, false, strip).await?;
    Ok(())
}

/// Feeds a spool to the sender in batches, from a blocking thread. With `hold_changed`, rows of
/// changed users are held back. Returns the spool (to read again) and how many rows were held
/// back, `u64::MAX` when the sender stopped listening.
pub(crate) async fn produce_from_spool(
    spool: SpoolReader,
    sender: mpsc::Sender<Vec<MemberRow>>,
    hold_changed: bool,
) -> anyhow::Result<(SpoolReader, u64)> {
    produce_from_spool_with(spool, sender, hold_changed, |_| {}).await
}

/// [`produce_from_spool`], with `edit` applied to each batch before it is sent.
async fn produce_from_spool_with(
    mut spool: SpoolReader,
    sender: mpsc::Sender<Vec<MemberRow>>,
    hold_changed: bool,
    edit: impl Fn(&mut Vec<MemberRow>) + Send + 'static,
) -> anyhow::Result<(SpoolReader, u64)> {
    spawn_blocking_in_context(move || -> anyhow::Result<(SpoolReader, u64)> {
        let mut n_held = 0;
        loop {
            let mut batch = spool
                .next_batch(MAX_ROWS_PER_REQUEST, hold_changed, &mut n_held)
                .context("cannot read back a spool")?;
            if batch.is_empty() {
                return Ok((spool, n_held));
            }
            edit(&mut batch);
            if sender.blocking_send(batch).is_err() {
                return Ok((spool, u64::MAX));
            }
        }
    })
    .await
    .context("the spool reader failed")?
}

/// A dry run: the counts of a sync, computed against the store, sending nothing and writing
/// nothing to the store (Meta is not called: a plan works without a token). Like a sync, it
/// reads the stored rows of the members who left and spools hashed tokens (unlinked scratch
/// files in the temporary folder) to count the removals that leave shared values out and the
/// members a whole removal row would take along.
pub async fn plan(
    store: &Store,
    spec: &SegmentSpec,
    options: &SyncOptions,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let prepared = prepare(spec)?;
    let mode = effective_mode(spec, options);
    let mut report = RunReport::new(
        &spec.name,
        mode.as_str(),
        &spec.audience_name,
        Outcome::Planned,
    );
    let stored = store.audience(&spec.name).await?;
    let bound = stored.as_ref().filter(|record| {
        record.audience_name == spec.audience_name
            && record.ad_account_id == spec.ad_account.numeric()
    });
    let index = match bound {
        Some(record) => {
            report.audience_id = Some(record.audience_id.clone());
            if record.schema != prepared.schema_names && mode != SyncMode::Replace {
                let problem = schema_change_problem(spec, record, &prepared.schema_names);
                report.warnings.push(format!(
                    "a sync would stop: {} ({})",
                    problem.message, problem.fix
                ));
            }
            store.load_member_index(&spec.name).await?
        }
        None => MemberIndex::from_rows(&[]),
    };
    let unsettled = store.unsettled_batches(&spec.name).await?;
    if !unsettled.is_empty() {
        report.warnings.push(format!(
            "{} batches of an interrupted run are not settled; the next sync re-sends their \
             changes",
            unsettled.len()
        ));
    }
    let progress = Arc::new(Progress::new(options.progress, &spec.name));
    progress.start("reading", None, "rows");
    let index = Arc::new(index);
    // Which removals would leave shared values out is known from the same spools a sync
    // writes: unlinked scratch files in the temporary folder (hashed values only).
    let scratch = std::env::temp_dir();
    let identifying = IdentifyingColumns::of_schema(&prepared.schema);
    let shared_values = mode == SyncMode::Mirror && !index.is_empty() && !identifying.is_empty();
    let (removals_sink, staying_tokens) = if shared_values {
        let tokens = TokenSpoolWriter::create(&scratch, identifying.len())
            .context("cannot create a spool")?;
        let removals = SpoolWriter::create(&scratch).context("cannot create a spool")?;
        (RowSink::Spool(removals), Some(tokens))
    } else {
        (RowSink::Count { n_rows: 0 }, None)
    };
    let input = DiffInput {
        job: prepared.job,
        schema: prepared.schema,
        index: index.clone(),
        send_all: false,
        force_add: HashSet::new(),
        store: store.clone(),
        segment: spec.name.clone(),
        runtime: tokio::runtime::Handle::current(),
        n_workers: options.n_workers,
        progress: progress.clone(),
        identifying: shared_values.then(|| identifying.clone()),
    };
    let source = prepared.source;
    let mut diff = spawn_blocking_in_context(move || {
        diff::run(
            source,
            &input,
            RowSink::Count { n_rows: 0 },
            removals_sink,
            staying_tokens,
        )
    })
    .await
    .context("the diff thread failed")??;
    progress.finish();
    fill_diff_counts(&mut report, &diff);
    match mode {
        SyncMode::Replace => report.replaced = diff.counts.n_members,
        SyncMode::Upsert => report.added = diff.adds.n_rows(),
        SyncMode::Mirror => {
            report.added = diff.adds.n_rows();
            let mut n_now_rejected = 0;
            let mut n_left = 0;
            for user_hash in index.unseen_user_hashes() {
                if diff.source_users.contains(user_hash) {
                    n_now_rejected += 1;
                } else {
                    n_left += 1;
                }
            }
            report.removed_old_keys = diff.removals.n_rows() - diff.n_removed_rejected;
            report.removed_now_rejected = n_now_rejected + diff.n_removed_rejected;
            report.removed_left = n_left;
            report.removed = diff.removals.n_rows() + n_left + n_now_rejected;
            let removals = std::mem::replace(&mut diff.removals, RowSink::Count { n_rows: 0 });
            if let (RowSink::Spool(spool), Some(mut tokens)) =
                (removals, diff.staying_tokens.take())
            {
                let spool = spool.finish().context("cannot read back a spool")?;
                let removals = gather_removals(
                    store,
                    &spec.name,
                    &scratch,
                    spool,
                    Vec::new(),
                    &index,
                    &diff.source_users,
                    Some(&identifying),
                )
                .await?;
                let tokens_per_row = identifying.len();
                let outcome = spawn_blocking_in_context(move || {
                    shared_values_outcome(&mut tokens, &removals.tokens, tokens_per_row)
                })
                .await
                .context("the token spool reader failed")?
                .context("cannot read back the token spool")?;
                report.removed_keeping_shared_values = outcome.n_stripped;
                report.readded_shared_key = outcome.hit.len() as u64;
            }
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
