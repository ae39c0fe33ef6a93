//! Sending one operation (adds, removals, or a replace) to Meta: batches of at most
//! [`MAX_ROWS_PER_REQUEST`] rows in one Graph session, several requests in flight, every batch
//! journaled before it goes out and committed only after Meta accepted it, and every failure
//! acted on by its [`ErrorAction`].
//!
//! # The order of one batch
//! 1. `UsersBatch::check` checks the rows (a row it refuses is never sent and is reported).
//! 2. `journal_batch_sent` (write-ahead): the journal entry and, for add and replace batches,
//!    the rows as sent (the in-flight rows), in one statement in the store, so a run on any
//!    host sharing the store can settle them after a crash.
//! 3. The request (the client retries transient failures and waits out throttling itself).
//! 4. Accepted: committed (members upserted or deleted, journal accepted and its in-flight rows
//!    forgotten, in one transaction, together with the batches accepted while an earlier commit
//!    ran: `commit_grouped`), the invalid entries recorded with their user ids. **State
//!    advances only here.**
//! 5. Refused: `journal_batch_refused` (its in-flight rows forgotten); the rows stay pending
//!    for the next run. A failure after which Meta may have applied the batch (an answer lost
//!    for good) leaves the journal entry `sent` with its in-flight rows, so the next run treats
//!    the rows as uncertain.
//!
//! # The session
//! Batch 1 goes alone; the others go up to `concurrency` at a time; the last one, flagged
//! `last_batch_flag`, goes only after every other one was accepted. `estimated_num_total` is
//! the operation's row count when known.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audsync_graph::{
    AudienceId, BatchError, DataProblem, ErrorAction, GraphClient, GraphError,
    MAX_ROWS_PER_REQUEST, Session, UsersBatch, UsersResponse, UsersSchema,
};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::store::{AcceptedBatch, BatchRef, MemberRow, Operation, RunId, Store};
use crate::sync::progress::Progress;
use crate::sync::report::{InvalidEntry, MAX_INVALID_SAMPLES_SHOWN, Problem};

/// Environment variable of the crash test hook: abort the process right after Meta accepted
/// this many batches of the run, before committing the last one. **For tests only**: it
/// simulates the worst moment to die (Meta has the change, the store does not).
pub const CRASH_AFTER_BATCHES_ENV: &str = "AUDSYNC_TEST_CRASH_AFTER_BATCHES";

/// How a run waits for an audience another update is running on (2650/1870145): poll
/// `operation_status` with a doubling pause, for at most `max_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictWait {
    pub first_pause: Duration,
    pub max_pause: Duration,
    /// Meta closes a replace session 90 minutes after its first batch (contract §2.6), so an
    /// update in progress ends within that.
    pub max_total: Duration,
}

impl Default for ConflictWait {
    fn default() -> Self {
        ConflictWait {
            first_pause: Duration::from_secs(5),
            max_pause: Duration::from_secs(60),
            max_total: Duration::from_secs(95 * 60),
        }
    }
}

/// Why a run stopped. The problem says it in plain words with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub problem: Problem,
}

/// Everything the sender needs; shared by the batches of one run.
pub struct SendContext<'a> {
    pub store: &'a Store,
    pub graph: &'a GraphClient,
    pub run_id: &'a RunId,
    pub segment: &'a str,
    pub audience: &'a AudienceId,
    pub schema: UsersSchema,
    pub schema_names: &'a [String],
    /// Where spools go (scratch files, unlinked at creation; see `SyncDeps::spool_root`).
    pub spool_dir: &'a Path,
    pub concurrency: usize,
    pub conflict_wait: ConflictWait,
    pub crash_after_batches: Option<u32>,
    pub progress: &'a Progress,
    /// Set by the lease keeper when the lease was lost: no batch may start after that.
    pub lease_lost: &'a AtomicBool,
    /// Whether accepted rows advance the progress (not while the diff's reading is shown).
    pub progress_counts_sends: AtomicBool,
    /// The batches re-add stored members that re-add promises cover
    /// ([`SendContext::promise_readds`]): they are neither journaled nor committed (the members
    /// are stored as they are; the promises stay unsettled until every one was accepted).
    pub readding: AtomicBool,
    next_batch_idx: AtomicU32,
    n_accepted_batches: AtomicU32,
    state: Mutex<SendState>,
    /// Accepted batches waiting for their commit (see [`SendContext::commit_grouped`]).
    commit_queue: Mutex<Vec<QueuedCommit>>,
    /// The turn to commit: its holder commits everything queued.
    commit_turn: tokio::sync::Mutex<()>,
}

/// An accepted batch waiting for its commit.
struct QueuedCommit {
    batch_idx: u32,
    operation: Operation,
    rows: Arc<Vec<MemberRow>>,
    num_invalid: u64,
    committed: oneshot::Sender<Result<(), Problem>>,
}

/// What the run's batches did, for the report.
#[derive(Debug, Default, Clone)]
pub struct SendState {
    pub stop: Option<Stop>,
    pub requests: u64,
    pub batches_accepted: u64,
    pub batches_refused: u64,
    pub invalid_per_meta: u64,
    pub invalid_samples: Vec<InvalidEntry>,
}

/// What one operation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OperationResult {
    /// Rows in batches Meta accepted.
    pub rows_accepted: u64,
    /// Rows refused, or never sent because the operation stopped.
    pub rows_not_accepted: u64,
    /// A removal was refused because the audience would get too small (200/1870047); the
    /// other removals were not tried.
    pub too_small: bool,
    /// Meta aborted the replace (2650/1870148): it must be sent again, whole.
    pub retry_replace: bool,
}

/// What one batch did.
enum BatchOutcome {
    Accepted {
        n_rows: u64,
    },
    Refused {
        n_rows: u64,
    },
    TooSmall {
        n_rows: u64,
    },
    RetryReplace {
        n_rows: u64,
    },
    /// The replace session is not open at Meta (timed out, complete, or never started).
    SessionGone {
        n_rows: u64,
    },
}

impl<'a> SendContext<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &'a Store,
        graph: &'a GraphClient,
        run_id: &'a RunId,
        segment: &'a str,
        audience: &'a AudienceId,
        schema: UsersSchema,
        schema_names: &'a [String],
        spool_dir: &'a Path,
        progress: &'a Progress,
        lease_lost: &'a AtomicBool,
    ) -> SendContext<'a> {
        SendContext {
            store,
            graph,
            run_id,
            segment,
            audience,
            schema,
            schema_names,
            spool_dir,
            concurrency: audsync_graph::RateSettings::default().max_in_flight,
            conflict_wait: ConflictWait::default(),
            crash_after_batches: None,
            progress,
            lease_lost,
            progress_counts_sends: AtomicBool::new(true),
            readding: AtomicBool::new(false),
            next_batch_idx: AtomicU32::new(0),
            n_accepted_batches: AtomicU32::new(0),
            state: Mutex::new(SendState::default()),
            commit_queue: Mutex::new(Vec::new()),
            commit_turn: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SendState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of what the batches did so far.
    pub fn state(&self) -> SendState {
        self.lock().clone()
    }

    /// Whether the run must not start another batch.
    pub fn stopped(&self) -> bool {
        self.lease_lost.load(Ordering::Relaxed) || self.lock().stop.is_some()
    }

    /// Stops the run (the first reason wins).
    pub fn stop(&self, problem: Problem) {
        let mut state = self.lock();
        if state.stop.is_none() {
            tracing::warn!(reason = %problem.message, "stopping the run");
            state.stop = Some(Stop { problem });
        }
    }

    /// Sends the rows received on `batches` as one operation in the session `first_session`
    /// (its `estimated_num_total` is the operation's row count when known).
    pub async fn send_operation(
        &self,
        operation: Operation,
        mut batches: mpsc::Receiver<Vec<MemberRow>>,
        first_session: Session,
    ) -> OperationResult {
        let mut result = OperationResult::default();
        let mut session = first_session;
        let mut held: Option<Vec<MemberRow>> = None;
        let mut first_sent = false;
        let mut in_flight = FuturesUnordered::new();
        let mut halted = false;
        loop {
            if halted || self.stopped() {
                break;
            }
            let Some(batch) = batches.recv().await else {
                break;
            };
            if batch.is_empty() {
                continue;
            }
            let Some(previous) = held.replace(batch) else {
                continue;
            };
            if !first_sent {
                let outcome = self.send_batch(operation, previous, session).await;
                halted |= self.absorb(&mut result, outcome);
                first_sent = true;
            } else {
                while in_flight.len() >= self.concurrency.max(1) {
                    if let Some(outcome) = in_flight.next().await {
                        halted |= self.absorb(&mut result, outcome);
                    }
                }
                in_flight.push(self.send_batch(operation, previous, session));
            }
            session = session.next_batch();
        }
        while let Some(outcome) = in_flight.next().await {
            halted |= self.absorb(&mut result, outcome);
        }
        if let Some(last) = held {
            if halted || self.stopped() {
                result.rows_not_accepted += last.len() as u64;
            } else {
                let outcome = self.send_batch(operation, last, session.last()).await;
                self.absorb(&mut result, outcome);
            }
        }
        // Rows the producer still had: not sent this run.
        batches.close();
        while let Some(batch) = batches.recv().await {
            result.rows_not_accepted += batch.len() as u64;
        }
        result
    }

    /// Ends the replace session `session_id` that an interrupted run left open, by sending
    /// `row` (a member of the new replace) as its last batch: Meta then applies that session
    /// and a fresh one can start. True when the session is closed (or was not open any more).
    pub async fn close_replace_session(&self, session_id: u64, row: MemberRow) -> bool {
        let session = Session {
            session_id,
            batch_seq: 2,
            last_batch_flag: true,
            estimated_num_total: None,
        };
        match self
            .send_batch(Operation::Replace, vec![row], session)
            .await
        {
            BatchOutcome::Accepted { .. } | BatchOutcome::SessionGone { .. } => true,
            BatchOutcome::RetryReplace { .. } => !self.stopped(),
            BatchOutcome::Refused { .. } | BatchOutcome::TooSmall { .. } => false,
        }
    }

    /// Counts an outcome; true when the operation must not go on.
    fn absorb(&self, result: &mut OperationResult, outcome: BatchOutcome) -> bool {
        match outcome {
            BatchOutcome::Accepted { n_rows } => {
                result.rows_accepted += n_rows;
                false
            }
            BatchOutcome::Refused { n_rows } => {
                result.rows_not_accepted += n_rows;
                false
            }
            BatchOutcome::TooSmall { n_rows } => {
                result.rows_not_accepted += n_rows;
                result.too_small = true;
                true
            }
            BatchOutcome::RetryReplace { n_rows } => {
                result.rows_not_accepted += n_rows;
                result.retry_replace = true;
                true
            }
            BatchOutcome::SessionGone { n_rows } => {
                result.rows_not_accepted += n_rows;
                self.stop(Problem {
                    message: "Meta closed the replace session before it was complete.".to_owned(),
                    fix: "Run the sync again: it starts a new replace session.".to_owned(),
                });
                true
            }
        }
    }

    /// One batch, from checking its rows to committing its effect.
    async fn send_batch(
        &self,
        operation: Operation,
        rows: Vec<MemberRow>,
        session: Session,
    ) -> BatchOutcome {
        let batch_idx = self.next_batch_idx.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "batch",
            batch.idx = batch_idx,
            batch.n_rows = rows.len(),
            batch.operation = operation.as_str(),
            session.batch_seq = session.batch_seq,
        );
        self.send_batch_inner(operation, rows, session, batch_idx)
            .instrument(span)
            .await
    }

    async fn send_batch_inner(
        &self,
        operation: Operation,
        rows: Vec<MemberRow>,
        session: Session,
        batch_idx: u32,
    ) -> BatchOutcome {
        let n_rows_given = rows.len() as u64;
        let wire_rows = rows.iter().map(|row| row.wire_row.as_slice());
        let local_rejections = match UsersBatch::check(&self.schema, wire_rows) {
            Ok(rejections) => rejections,
            Err(error) => return self.unbuildable(&error, n_rows_given),
        };
        // Rows the batch refused are never sent: report them, keep them pending.
        let mut sent_rows = Vec::with_capacity(rows.len());
        let mut refused_idx = local_rejections
            .iter()
            .map(|rejection| rejection.row_index)
            .peekable();
        let mut local_invalid = Vec::new();
        for (row_index, row) in rows.into_iter().enumerate() {
            if refused_idx.peek() == Some(&row_index) {
                refused_idx.next();
                let problem = &local_rejections
                    .iter()
                    .find(|rejection| rejection.row_index == row_index)
                    .map(|rejection| rejection.problem.to_string())
                    .unwrap_or_default();
                local_invalid.push((row.user_id, format!("not sent: {problem}")));
            } else {
                sent_rows.push(row);
            }
        }
        if !local_invalid.is_empty() {
            self.record_invalid(&local_invalid, 0).await;
        }
        if sent_rows.is_empty() {
            return BatchOutcome::Refused {
                n_rows: n_rows_given,
            };
        }
        let n_rows = sent_rows.len() as u64;
        let batch_ref = self.batch_ref(batch_idx, operation);
        let session_text = session.session_id.to_string();
        let readding = self.readding.load(Ordering::Relaxed);
        if !readding
            && !self
                .journal_before_sending(&batch_ref, &sent_rows, Some(&session_text))
                .await
        {
            return BatchOutcome::Refused { n_rows };
        }
        // The batch takes the journaled rows' wire rows (a batch of 14 keys is about 14 MB:
        // not copied) and gives them back for the commit.
        let wire_rows = sent_rows
            .iter_mut()
            .map(|row| std::mem::take(&mut row.wire_row))
            .collect();
        let batch = match UsersBatch::build(self.schema.clone(), wire_rows) {
            Ok((batch, _checked_above)) => batch,
            Err(error) => return self.unbuildable(&error, n_rows),
        };
        let mut waited_for_conflict = false;
        loop {
            self.lock().requests += 1;
            let answer = match operation {
                Operation::Add => {
                    self.graph
                        .add_users(self.audience, &batch, Some(&session))
                        .await
                }
                Operation::Remove => {
                    self.graph
                        .remove_users(self.audience, &batch, Some(&session))
                        .await
                }
                Operation::Replace => {
                    self.graph
                        .replace_users(self.audience, &batch, &session)
                        .await
                }
            };
            match answer {
                Ok(response) => {
                    for (row, wire_row) in sent_rows.iter_mut().zip(batch.into_rows()) {
                        row.wire_row = wire_row;
                    }
                    return self.accepted(&batch_ref, sent_rows, &response).await;
                }
                Err(error) => {
                    if matches!(error.action(), ErrorAction::ReplaceConflict)
                        && !waited_for_conflict
                        && !self.stopped()
                    {
                        waited_for_conflict = true;
                        if self.wait_until_normal().await {
                            continue;
                        }
                    }
                    return self.refused(&batch_ref, sent_rows, &error).await;
                }
            }
        }
    }

    /// Stops the run on a batch `UsersBatch` refuses as a whole (a bug of ours: the sender
    /// never makes more than `MAX_ROWS_PER_REQUEST` rows or a bad schema).
    fn unbuildable(&self, error: &BatchError, n_rows: u64) -> BatchOutcome {
        self.stop(Problem {
            message: format!("audsync could not build a batch: {error}."),
            fix: "Please report this to the audsync maintainers.".to_owned(),
        });
        BatchOutcome::Refused { n_rows }
    }

    /// Journals a batch as sent, with its rows as in-flight rows unless it is a removal
    /// (write-ahead: before its request goes out). False, with the run stopped, when the store
    /// cannot write it.
    async fn journal_before_sending(
        &self,
        batch_ref: &BatchRef<'_>,
        rows: &[MemberRow],
        graph_session_id: Option<&str>,
    ) -> bool {
        if let Err(error) = self
            .store
            .journal_batch_sent(batch_ref, self.schema_names, rows, graph_session_id)
            .await
        {
            self.stop(store_problem("journal the batch", &error));
            return false;
        }
        true
    }

    /// Records that the staying `members` may leave Meta's audience with this run's
    /// removals (they share an identifying key with a removed row, `shared_keys.rs`) and will be
    /// re-added: a removal batch journaled as sent, **before** the first removal goes out. That
    /// is what it means: Meta may have removed them. Until [`SendContext::keep_readd_promise`]
    /// settles it, a later run treats it as an interrupted removal (it re-adds whoever of them
    /// is still a member). `None`, with the run stopped, when it cannot be recorded: then no
    /// removal may be sent.
    pub async fn promise_readds(&self, members: &[MemberRow]) -> Option<u32> {
        let batch_idx = self.next_batch_idx.fetch_add(1, Ordering::Relaxed);
        let batch_ref = self.batch_ref(batch_idx, Operation::Remove);
        self.journal_before_sending(&batch_ref, members, None)
            .await
            .then_some(batch_idx)
    }

    /// Settles a promise of [`SendContext::promise_readds`] once every member of it was re-added
    /// (it changes no member: they are stored as they are).
    pub async fn keep_readd_promise(&self, batch_idx: u32) {
        let batch_ref = self.batch_ref(batch_idx, Operation::Remove);
        if let Err(error) = self.store.commit_batch(&batch_ref, &[], 0).await {
            // Left unsettled: the next run re-adds these members once more, which is harmless.
            tracing::warn!(%error, "cannot settle the re-add of shared-key members");
        }
    }

    fn batch_ref(&self, batch_idx: u32, operation: Operation) -> BatchRef<'a> {
        BatchRef {
            run_id: self.run_id,
            segment: self.segment,
            batch_idx,
            operation,
        }
    }

    async fn accepted(
        &self,
        batch_ref: &BatchRef<'_>,
        rows: Vec<MemberRow>,
        response: &UsersResponse,
    ) -> BatchOutcome {
        let n_accepted = self.n_accepted_batches.fetch_add(1, Ordering::SeqCst) + 1;
        if self.crash_after_batches == Some(n_accepted) {
            eprintln!(
                "audsync: {CRASH_AFTER_BATCHES_ENV}={n_accepted}: aborting after Meta accepted \
                 batch {} and before committing it (test hook)",
                batch_ref.batch_idx
            );
            std::process::abort();
        }
        let rows = Arc::new(rows);
        if !self.readding.load(Ordering::Relaxed)
            && let Err(problem) = self
                .commit_grouped(batch_ref, rows.clone(), response.num_invalid_entries)
                .await
        {
            // Meta has the change, the store does not: the journal entry stays `sent` with its
            // in-flight rows, so the next run settles these rows.
            self.stop(problem);
            return BatchOutcome::Refused {
                n_rows: rows.len() as u64,
            };
        }
        let invalid: Vec<(String, String)> = response
            .invalid_samples
            .iter()
            .map(|sample| {
                let user_id = sample
                    .row_index
                    .and_then(|index| rows.get(index))
                    .map_or_else(|| "(unknown row)".to_owned(), |row| row.user_id.clone());
                (user_id, sample.reason.clone())
            })
            .collect();
        self.record_invalid(&invalid, response.num_invalid_entries)
            .await;
        {
            let mut state = self.lock();
            state.batches_accepted += 1;
        }
        if self.progress_counts_sends.load(Ordering::Relaxed) {
            self.progress.advance(rows.len() as u64);
        }
        tracing::info!(
            num_received = response.num_received,
            num_invalid_entries = response.num_invalid_entries,
            "batch accepted and committed"
        );
        BatchOutcome::Accepted {
            n_rows: rows.len() as u64,
        }
    }

    /// Commits an accepted batch together with the batches accepted while an earlier commit
    /// ran (a group commit, [`Store::commit_batches`]): the batch joins the queue, then waits
    /// for the turn to commit; whoever holds the turn commits everything queued in one
    /// transaction, so a batch committed by an earlier holder finds the queue without it. A
    /// batch is still committed only after Meta accepted it, and as soon as the store is free.
    async fn commit_grouped(
        &self,
        batch_ref: &BatchRef<'_>,
        rows: Arc<Vec<MemberRow>>,
        num_invalid: u64,
    ) -> Result<(), Problem> {
        let (committed, outcome) = oneshot::channel();
        self.queue_lock().push(QueuedCommit {
            batch_idx: batch_ref.batch_idx,
            operation: batch_ref.operation,
            rows,
            num_invalid,
            committed,
        });
        {
            let _turn = self.commit_turn.lock().await;
            let queued = std::mem::take(&mut *self.queue_lock());
            if !queued.is_empty() {
                let batches: Vec<AcceptedBatch<'_>> = queued
                    .iter()
                    .map(|queued| AcceptedBatch {
                        batch: self.batch_ref(queued.batch_idx, queued.operation),
                        rows: &queued.rows,
                        num_invalid: queued.num_invalid,
                    })
                    .collect();
                let result = self
                    .store
                    .commit_batches(&batches)
                    .await
                    .map_err(|error| store_problem("commit an accepted batch", &error));
                if batches.len() > 1 {
                    tracing::debug!(
                        n_batches = batches.len(),
                        "accepted batches committed together"
                    );
                }
                drop(batches);
                for queued in queued {
                    let _ = queued.committed.send(result.clone());
                }
            }
        }
        outcome.await.unwrap_or_else(|_| {
            Err(Problem {
                message: "the commit of an accepted batch was interrupted".to_owned(),
                fix: "Nothing is lost: run the sync again.".to_owned(),
            })
        })
    }

    fn queue_lock(&self) -> std::sync::MutexGuard<'_, Vec<QueuedCommit>> {
        self.commit_queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn record_invalid(&self, entries: &[(String, String)], num_invalid: u64) {
        {
            let mut state = self.lock();
            state.invalid_per_meta += num_invalid;
            for (user_id, reason) in entries {
                if state.invalid_samples.len() < MAX_INVALID_SAMPLES_SHOWN {
                    state.invalid_samples.push(InvalidEntry {
                        user_id: user_id.clone(),
                        reason: reason.clone(),
                    });
                }
            }
        }
        if entries.is_empty() {
            return;
        }
        if let Err(error) = self
            .store
            .record_invalid_entries(self.run_id, entries)
            .await
        {
            tracing::warn!(error = %error, "cannot record Meta's invalid entries");
        }
    }

    /// Acts on a failed batch.
    async fn refused(
        &self,
        batch_ref: &BatchRef<'_>,
        rows: Vec<MemberRow>,
        error: &GraphError,
    ) -> BatchOutcome {
        let n_rows = rows.len() as u64;
        let action = error.action();
        tracing::warn!(%error, ?action, "Graph did not accept the batch");
        if error.may_have_been_applied() {
            // The answer was lost: Meta may have applied the batch. Leave it `sent` with its
            // in-flight rows; the next run settles it.
            self.stop(Problem {
                message: format!("Meta did not answer in the end ({error})."),
                fix: "Nothing is lost: run the sync again later; it re-sends what is pending."
                    .to_owned(),
            });
            return BatchOutcome::Refused { n_rows };
        }
        let reason = error.to_string();
        if !self.readding.load(Ordering::Relaxed)
            && let Err(store_error) = self.store.journal_batch_refused(batch_ref, &reason).await
        {
            tracing::warn!(error = %store_error, "cannot journal the refusal");
        }
        self.lock().batches_refused += 1;
        match action {
            ErrorAction::StopAndTellUser(problem) => {
                self.stop(Problem {
                    message: problem.message(),
                    fix: problem.fix(),
                });
                BatchOutcome::Refused { n_rows }
            }
            ErrorAction::AudienceTooSmallToRemove => BatchOutcome::TooSmall { n_rows },
            ErrorAction::RetryReplace => BatchOutcome::RetryReplace { n_rows },
            ErrorAction::DropAndReport(
                DataProblem::ReplaceSessionTimedOut
                | DataProblem::ReplaceSessionAlreadyComplete
                | DataProblem::ReplaceBatchOutOfOrder,
            ) if batch_ref.operation == Operation::Replace => BatchOutcome::SessionGone { n_rows },
            ErrorAction::DropAndReport(DataProblem::AudienceUpdateRejected) => {
                self.stop(Problem {
                    message: format!(
                        "Meta refused to update the audience ({error}). Meta locks an audience \
                         to the kind of data it was first filled with (its data source): rows \
                         of another kind are refused."
                    ),
                    fix: "Sync this segment to a new audience (set another audience_name), or \
                          check that the audience was not filled by another tool."
                        .to_owned(),
                });
                BatchOutcome::Refused { n_rows }
            }
            ErrorAction::DropAndReport(problem) => {
                if batch_ref.operation == Operation::Replace {
                    // A replace cannot skip a batch: that would drop its users from the audience.
                    self.stop(Problem {
                        message: format!("Meta refused a replace batch: {problem}"),
                        fix: "Run the sync again; if it happens again, report it with the log."
                            .to_owned(),
                    });
                } else {
                    tracing::warn!(reason = %problem, "batch refused; its rows stay pending");
                }
                BatchOutcome::Refused { n_rows }
            }
            ErrorAction::ReplaceConflict => {
                self.stop(Problem {
                    message: "Another update of the audience has been running for too long \
                              (Meta answered 2650/1870145)."
                        .to_owned(),
                    fix: "Wait until the audience's operation status is Normal in Ads Manager, \
                          then run the sync again."
                        .to_owned(),
                });
                BatchOutcome::Refused { n_rows }
            }
            ErrorAction::RetrySoon | ErrorAction::Wait { .. } => {
                self.stop(Problem {
                    message: format!("Meta kept refusing after every retry: {error}"),
                    fix: "Nothing is lost: run the sync again later; it re-sends what is pending."
                        .to_owned(),
                });
                BatchOutcome::Refused { n_rows }
            }
        }
    }

    /// Polls the audience until its `operation_status` is Normal; false when it did not get
    /// there within `conflict_wait.max_total` or the run stopped.
    async fn wait_until_normal(&self) -> bool {
        let started = tokio::time::Instant::now();
        let mut pause = self.conflict_wait.first_pause;
        self.progress
            .note("another update is running on the audience; waiting until it is done");
        loop {
            if started.elapsed() + pause > self.conflict_wait.max_total || self.stopped() {
                return false;
            }
            tokio::time::sleep(pause).await;
            match self.graph.get_audience(self.audience).await {
                Ok(audience) if audience.is_operation_normal() => return true,
                Ok(_) => {}
                Err(error) => {
                    if let ErrorAction::StopAndTellUser(problem) = error.action() {
                        self.stop(Problem {
                            message: problem.message(),
                            fix: problem.fix(),
                        });
                        return false;
                    }
                }
            }
            pause = (pause * 2).min(self.conflict_wait.max_pause);
        }
    }
}

/// The problem of a store failure during sending.
pub fn store_problem(doing: &str, error: &crate::store::StoreError) -> Problem {
    Problem {
        message: format!("The state store failed to {doing}: {error}."),
        fix: "Nothing is lost: fix the store (disk space, database reachable) and run the sync \
              again."
            .to_owned(),
    }
}

/// Splits rows into batches of at most [`MAX_ROWS_PER_REQUEST`] and sends them on `sender`
/// (false once nobody listens).
pub async fn send_rows(sender: &mpsc::Sender<Vec<MemberRow>>, rows: Vec<MemberRow>) -> bool {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<MemberRow> = rows.by_ref().take(MAX_ROWS_PER_REQUEST).collect();
        if sender.send(batch).await.is_err() {
            return false;
        }
    }
    true
}
