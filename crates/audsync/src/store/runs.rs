//! Runs, the batch journal, and the entries Meta reported invalid.
//!
//! The journal is written ahead: a batch is recorded `sent` before its request goes out, then
//! `accepted` (by `Store::commit_batch`, with the members) or `refused`. A crash leaves it
//! `sent`: the members were not touched, so the next run's diff sends it again, which is
//! harmless because Meta's add and remove act on sets.
//!
//! An add or replace batch also keeps its rows as sent ([`InflightRows`], packed) in its
//! journal entry while it is `sent`: after a crash Meta may hold them although the store does
//! not, so the next run, on whichever host shares the store, removes them and re-adds whoever
//! is still in the segment. Settling the entry clears them (a `CHECK` constraint refuses an
//! entry that is settled and still holds rows), so the journal keeps no rows once it is
//! settled. The session of a replace that has not completed is kept here too
//! ([`ReplaceSession`]).

use std::fmt;
use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::packed_rows::{InflightRows, pack_inflight, unpack_inflight};
use super::{
    MemberRow, ROWS_PER_STATEMENT, Store, StoreError, from_millis, to_millis,
    values_with_shared_first,
};

/// A run's id: a UUID v7 (sorts by start time), stored as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an id read elsewhere (a CLI argument, an API path).
    pub fn from_string(id: String) -> RunId {
        RunId(id)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    /// Every change was accepted.
    Succeeded,
    /// The run stopped on an error; pending changes wait for the next run.
    Failed,
    /// Some batches were refused (for example a removal on a small audience); they stay
    /// pending.
    Partial,
    /// A later run found it still `running`: the process died.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
            RunStatus::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Result<RunStatus, StoreError> {
        Ok(match text {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "partial" => RunStatus::Partial,
            "interrupted" => RunStatus::Interrupted,
            other => return Err(StoreError::Corrupt(format!("unknown run status {other:?}"))),
        })
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub segment: String,
    pub started_at: SystemTime,
    pub finished_at: Option<SystemTime>,
    pub status: RunStatus,
    /// The final report (`finish_run`), `None` while running.
    pub report: Option<serde_json::Value>,
}

/// What a batch does to the audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /{audience}/users`: members are upserted on acceptance.
    Add,
    /// `DELETE /{audience}/users`: members are deleted on acceptance.
    Remove,
    /// `POST /{audience}/usersreplace`: members are upserted on acceptance (the caller
    /// resets the segment at the start of the replace).
    Replace,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Remove => "remove",
            Operation::Replace => "replace",
        }
    }

    fn parse(text: &str) -> Result<Operation, StoreError> {
        Ok(match text {
            "add" => Operation::Add,
            "remove" => Operation::Remove,
            "replace" => Operation::Replace,
            other => return Err(StoreError::Corrupt(format!("unknown operation {other:?}"))),
        })
    }
}

/// Names one batch of one run.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    pub run_id: &'a RunId,
    pub segment: &'a str,
    /// 0-based position of the batch in the run (Meta's `batch_seq` is this + 1).
    pub batch_idx: u32,
    pub operation: Operation,
}

/// Where a journaled batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Recorded before the request went out; not known to be applied.
    Sent,
    /// Meta accepted it and the members were committed.
    Accepted,
    /// Meta refused it; its changes stay pending.
    Refused,
}

impl BatchState {
    fn parse(text: &str) -> Result<BatchState, StoreError> {
        Ok(match text {
            "sent" => BatchState::Sent,
            "accepted" => BatchState::Accepted,
            "refused" => BatchState::Refused,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown batch state {other:?}"
                )));
            }
        })
    }
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub run_id: RunId,
    pub batch_idx: u32,
    pub operation: Operation,
    pub n_rows: u64,
    pub user_ids: Vec<String>,
    pub state: BatchState,
    pub graph_session_id: Option<String>,
    /// Meta's `num_invalid_entries`, once accepted.
    pub num_invalid: Option<u64>,
    /// Why Meta refused it, once refused.
    pub refusal: Option<String>,
    pub sent_at: SystemTime,
    pub settled_at: Option<SystemTime>,
    /// The rows of an add or replace batch that is still `sent`, as they were sent; `None` for
    /// removals (their rows are the stored members), settled batches, and entries written
    /// before audsync kept them in the store.
    pub inflight: Option<InflightRows>,
}

/// A replace session that was opened and has not completed (see `replace.rs` in `sync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceSession {
    /// The audience the session replaces.
    pub audience_id: String,
    /// Meta's `session_id` (the Graph client's `Session::session_id`).
    pub session_id: u64,
    pub started_at: SystemTime,
}

const JOURNAL_COLUMNS: &str = "journal.run_id, journal.batch_idx, journal.operation, \
     journal.n_rows, journal.user_ids, journal.state, journal.graph_session_id, \
     journal.num_invalid, journal.refusal, journal.sent_at, journal.settled_at, \
     journal.inflight_rows";

impl Store {
    /// Starts a run of the segment and returns its id. Runs of the segment still marked
    /// `running` become `interrupted` (call this while holding the segment's lease).
    pub async fn begin_run(&self, segment: &str) -> Result<RunId, StoreError> {
        let run_id = RunId(uuid::Uuid::now_v7().to_string());
        let now = to_millis(SystemTime::now());
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "UPDATE runs SET status = 'interrupted', finished_at = $2 \
             WHERE segment = $1 AND status = 'running'",
        )
        .bind(segment)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO runs (id, segment, started_at, status) VALUES ($1, $2, $3, 'running')",
        )
        .bind(run_id.as_str())
        .bind(segment)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(run_id)
    }

    /// Ends a run with its status and final report (kept as the run record).
    pub async fn finish_run(
        &self,
        run_id: &RunId,
        status: RunStatus,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $2, finished_at = $3, report = $4 WHERE id = $1")
            .bind(run_id.as_str())
            .bind(status.as_str())
            .bind(to_millis(SystemTime::now()))
            .bind(report.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The segment's most recent run.
    pub async fn last_run(&self, segment: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.runs(segment, 1).await?.into_iter().next())
    }

    /// The segment's most recent runs, newest first.
    pub async fn runs(&self, segment: &str, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, segment, started_at, finished_at, status, report FROM runs \
             WHERE segment = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(segment)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Records a batch as sent, before its request goes out (write-ahead): its user ids and,
    /// in the same statement, when it adds or replaces, its rows as sent (packed), kept until
    /// the batch is settled; after a crash they say what Meta may hold that the store does not.
    /// A removal keeps only its user ids: its rows are the stored members. `schema` is the
    /// audience schema the rows are sent with. Sending the same batch again (a retry) records
    /// it again.
    pub async fn journal_batch_sent(
        &self,
        batch: &BatchRef<'_>,
        schema: &[String],
        rows: &[MemberRow],
        graph_session_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let user_ids: Vec<&str> = rows.iter().map(|row| row.user_id.as_str()).collect();
        let inflight_rows = match batch.operation {
            Operation::Add | Operation::Replace => Some(pack_inflight(schema, rows)?),
            Operation::Remove => None,
        };
        let user_ids_json = serde_json::to_string(&user_ids)
            .map_err(|error| StoreError::Corrupt(format!("user ids do not encode: {error}")))?;
        sqlx::query(
            "INSERT INTO journal (run_id, batch_idx, operation, n_rows, user_ids, state, \
             graph_session_id, sent_at, inflight_rows) \
             VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7, $8) \
             ON CONFLICT (run_id, batch_idx) DO UPDATE SET operation = excluded.operation, \
             n_rows = excluded.n_rows, user_ids = excluded.user_ids, state = 'sent', \
             graph_session_id = excluded.graph_session_id, sent_at = excluded.sent_at, \
             inflight_rows = excluded.inflight_rows, num_invalid = NULL, refusal = NULL, \
             settled_at = NULL",
        )
        .bind(batch.run_id.as_str())
        .bind(i64::from(batch.batch_idx))
        .bind(batch.operation.as_str())
        .bind(user_ids.len() as i64)
        .bind(user_ids_json)
        .bind(graph_session_id)
        .bind(to_millis(SystemTime::now()))
        .bind(inflight_rows)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that Meta refused a batch (or that a later run settled it); its members stay as
    /// they were and its in-flight rows are forgotten.
    pub async fn journal_batch_refused(
        &self,
        batch: &BatchRef<'_>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let refused = sqlx::query(
            "UPDATE journal SET state = 'refused', refusal = $3, settled_at = $4, \
             inflight_rows = NULL WHERE run_id = $1 AND batch_idx = $2",
        )
        .bind(batch.run_id.as_str())
        .bind(i64::from(batch.batch_idx))
        .bind(reason)
        .bind(to_millis(SystemTime::now()))
        .execute(&self.pool)
        .await?;
        if refused.rows_affected() == 0 {
            return Err(StoreError::UnknownBatch {
                run_id: batch.run_id.to_string(),
                batch_idx: batch.batch_idx,
            });
        }
        Ok(())
    }

    /// A run's journal, by batch index.
    pub async fn journal(&self, run_id: &RunId) -> Result<Vec<JournalEntry>, StoreError> {
        let sql = format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE journal.run_id = $1 \
             ORDER BY journal.batch_idx"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(journal_from_row).collect()
    }

    /// The segment's batches still `sent`: sent by a run that died or is running, not known
    /// to be applied, with the in-flight rows of adds and replaces. Oldest first.
    pub async fn unsettled_batches(&self, segment: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let sql = format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal JOIN runs ON runs.id = journal.run_id \
             WHERE runs.segment = $1 AND journal.state = 'sent' \
             ORDER BY journal.sent_at, journal.run_id, journal.batch_idx"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(segment)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(journal_from_row).collect()
    }

    /// Records the session of a replace of the segment before its first batch goes out,
    /// replacing any previous one: until [`Store::forget_replace_session`], the next run knows
    /// a replace was interrupted and closes this session first.
    pub async fn record_replace_session(
        &self,
        segment: &str,
        audience_id: &str,
        session_id: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO replace_sessions (segment, audience_id, session_id, started_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (segment) DO UPDATE SET \
             audience_id = excluded.audience_id, session_id = excluded.session_id, \
             started_at = excluded.started_at",
        )
        .bind(segment)
        .bind(audience_id)
        .bind(session_id.to_string())
        .bind(to_millis(SystemTime::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The segment's replace session that did not complete, if any.
    pub async fn replace_session(
        &self,
        segment: &str,
    ) -> Result<Option<ReplaceSession>, StoreError> {
        let row = sqlx::query(
            "SELECT audience_id, session_id, started_at FROM replace_sessions \
             WHERE segment = $1",
        )
        .bind(segment)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session_text: String = row.try_get(1)?;
        let session_id = session_text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("replace session id {session_text:?}")))?;
        Ok(Some(ReplaceSession {
            audience_id: row.try_get(0)?,
            session_id,
            started_at: from_millis(row.try_get(2)?),
        }))
    }

    /// The segment's replace completed (or was given up for a fresh one).
    pub async fn forget_replace_session(&self, segment: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replace_sessions WHERE segment = $1")
            .bind(segment)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the entries Meta reported invalid (`invalid_entry_samples`, mapped back to user
    /// ids) with their reasons.
    pub async fn record_invalid_entries<U: AsRef<str>, R: AsRef<str>>(
        &self,
        run_id: &RunId,
        entries: &[(U, R)],
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO invalid_entries (run_id, user_id, reason) VALUES {}",
                values_with_shared_first(chunk.len(), 2)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(run_id.as_str());
            for (user_id, reason) in chunk {
                query = query.bind(user_id.as_ref()).bind(reason.as_ref());
            }
            query.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The invalid entries recorded for a run, as (user id, reason), at most `limit`.
    pub async fn invalid_entries(
        &self,
        run_id: &RunId,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, reason FROM invalid_entries WHERE run_id = $1 \
             ORDER BY user_id LIMIT $2",
        )
        .bind(run_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }
}

fn run_from_row(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let report: Option<String> = row.try_get(5)?;
    let report = report
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| StoreError::Corrupt(format!("a run report is not JSON: {error}")))?;
    let finished_at: Option<i64> = row.try_get(3)?;
    Ok(RunRecord {
        id: RunId(row.try_get(0)?),
        segment: row.try_get(1)?,
        started_at: from_millis(row.try_get(2)?),
        finished_at: finished_at.map(from_millis),
        status: RunStatus::parse(row.try_get(4)?)?,
        report,
    })
}

fn journal_from_row(row: &AnyRow) -> Result<JournalEntry, StoreError> {
    let user_ids_json: String = row.try_get(4)?;
    let user_ids = serde_json::from_str(&user_ids_json).map_err(|error| {
        StoreError::Corrupt(format!("journal user ids are not a list: {error}"))
    })?;
    let batch_idx: i64 = row.try_get(1)?;
    let n_rows: i64 = row.try_get(3)?;
    let num_invalid: Option<i64> = row.try_get(7)?;
    let settled_at: Option<i64> = row.try_get(10)?;
    let inflight_rows: Option<Vec<u8>> = row.try_get(11)?;
    Ok(JournalEntry {
        run_id: RunId(row.try_get(0)?),
        batch_idx: u32::try_from(batch_idx)
            .map_err(|_| StoreError::Corrupt(format!("batch index {batch_idx}")))?,
        operation: Operation::parse(row.try_get(2)?)?,
        n_rows: n_rows.max(0).unsigned_abs(),
        user_ids,
        state: BatchState::parse(row.try_get(5)?)?,
        graph_session_id: row.try_get(6)?,
        num_invalid: num_invalid.map(|n| n.max(0).unsigned_abs()),
        refusal: row.try_get(8)?,
        sent_at: from_millis(row.try_get(9)?),
        settled_at: settled_at.map(from_millis),
        inflight: inflight_rows
            .map(|packed| unpack_inflight(&packed))
            .transpose()?,
    })
}
