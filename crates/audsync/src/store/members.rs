//! Members: committing accepted batches, reading stored rows, and loading the member index.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::index::{IndexEntry, MemberIndex};
use super::runs::{BatchRef, Operation};
use super::{
    Backend, Fingerprint, MemberRow, ROWS_PER_STATEMENT, Store, StoreError, placeholder_list,
    to_millis, values_with_shared_first,
};

/// Members per aggregated row when loading the index (about 2.5 MB of text per row).
const INDEX_LOAD_ENTRIES_PER_RANGE: u64 = 65_536;

/// At most this many range queries per index load (10M members need 256).
const MAX_INDEX_LOAD_RANGES: u64 = 4_096;

impl Store {
    /// Applies a batch Meta accepted, in ONE transaction: adds (upserts) or removes its members
    /// and moves its journal entry from `sent` to `accepted` with Meta's `num_invalid_entries`,
    /// forgetting its in-flight rows.
    /// If any statement fails nothing changes, so the batch is simply re-sent by the next run.
    ///
    /// `rows` are the batch's members; a removal reads only their `user_id`. A user id that
    /// appears twice in an add keeps its last row. The batch must have been journaled as sent
    /// ([`Store::journal_batch_sent`]), otherwise [`StoreError::UnknownBatch`].
    pub async fn commit_batch(
        &self,
        batch: &BatchRef<'_>,
        rows: &[MemberRow],
        num_invalid: u64,
    ) -> Result<(), StoreError> {
        self.commit_batches(&[AcceptedBatch {
            batch: *batch,
            rows,
            num_invalid,
        }])
        .await
    }

    /// Applies several accepted batches in ONE transaction, in order, each as
    /// [`Store::commit_batch`] does (a group commit: SQLite has one writer, and every commit
    /// rewrites the user-hash index pages it touches, so batches accepted while another commit
    /// ran are cheaper together). All or nothing.
    pub async fn commit_batches(&self, batches: &[AcceptedBatch<'_>]) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        for accepted in batches {
            commit_in(
                &mut transaction,
                &accepted.batch,
                accepted.rows,
                accepted.num_invalid,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The stored rows of these user ids (those that are members), in no particular order:
    /// the old keys of changed users. Queried in chunks of [`ROWS_PER_STATEMENT`].
    pub async fn member_rows<S: AsRef<str>>(
        &self,
        segment: &str,
        user_ids: &[S],
    ) -> Result<Vec<MemberRow>, StoreError> {
        let user_ids: Vec<&str> = user_ids.iter().map(AsRef::as_ref).collect();
        self.members_where_in(segment, "members", "user_id", &user_ids)
            .await
    }

    /// The stored rows with these user hashes that `index` still holds as unseen: the members
    /// that left the segment, with exactly the keys that were sent for them. Feed it chunks of
    /// [`MemberIndex::unseen_user_hashes`]; queried in chunks of [`ROWS_PER_STATEMENT`].
    pub async fn unseen_member_rows(
        &self,
        segment: &str,
        index: &MemberIndex,
        user_hashes: &[u64],
    ) -> Result<Vec<MemberRow>, StoreError> {
        let mut rows = self.member_rows_by_user_hash(segment, user_hashes).await?;
        rows.retain(|row| index.is_unseen(row));
        Ok(rows)
    }

    /// The stored rows with these user hashes (see [`user_id_hash`](super::user_id_hash)), in
    /// no particular order; queried in chunks of [`ROWS_PER_STATEMENT`].
    pub async fn member_rows_by_user_hash(
        &self,
        segment: &str,
        user_hashes: &[u64],
    ) -> Result<Vec<MemberRow>, StoreError> {
        let user_hashes: Vec<i64> = user_hashes.iter().map(|hash| *hash as i64).collect();
        self.members_where_in(
            segment,
            self.members_by_user_hash_table(),
            "user_hash",
            &user_hashes,
        )
        .await
    }

    /// The `FROM` table of a query by user hash. SQLite, without statistics, plans
    /// `segment = ? AND user_hash IN (…)` on the primary key `(segment, user_id)`, a scan of
    /// the whole segment (0.96 s per 500 hashes at 8.8M members, 0.001 s through the index:
    /// BENCHMARKS.md "Sync"), so it is told which index to use. PostgreSQL picks
    /// `members_by_user_hash` by itself (`EXPLAIN`: an index or bitmap index scan on it, with
    /// and without `ANALYZE`), and knows no `INDEXED BY`.
    fn members_by_user_hash_table(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "members INDEXED BY members_by_user_hash",
            Backend::Postgres => "members",
        }
    }

    /// The database's plan for the statement [`Store::unseen_member_rows`] runs (SQLite's
    /// `EXPLAIN QUERY PLAN` details or PostgreSQL's `EXPLAIN` lines, one per line), to check
    /// that it searches `members_by_user_hash` rather than scanning the segment.
    pub async fn unseen_member_rows_plan(&self, segment: &str) -> Result<String, StoreError> {
        let explain = match self.backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN",
            Backend::Postgres => "EXPLAIN",
        };
        let sql = format!(
            "{explain} {}",
            members_where_in_sql(self.members_by_user_hash_table(), "user_hash", 2)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(segment)
            .bind(1i64)
            .bind(2i64)
            .fetch_all(&self.pool)
            .await?;
        // SQLite's detail is the last of its four columns; PostgreSQL has one.
        let lines = rows
            .iter()
            .map(|row| row.try_get::<String, _>(row.len() - 1))
            .collect::<Result<Vec<String>, _>>()?;
        Ok(lines.join("\n"))
    }

    /// The segment's members whose `column` is one of `values`, in chunked `IN (…)` queries
    /// on `table` (`members`, with an index hint on SQLite).
    async fn members_where_in<'q, T>(
        &self,
        segment: &'q str,
        table: &'static str,
        column: &'static str,
        values: &'q [T],
    ) -> Result<Vec<MemberRow>, StoreError>
    where
        T: sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Sync + 'q,
    {
        let mut found = Vec::with_capacity(values.len());
        for chunk in values.chunks(ROWS_PER_STATEMENT) {
            let sql = members_where_in_sql(table, column, chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(segment);
            for value in chunk {
                query = query.bind(value);
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(member_from_row(&row)?);
            }
        }
        Ok(found)
    }

    /// Loads the segment's members into a [`MemberIndex`] (about 16 bytes per member, see the
    /// index's module doc), streaming: never all rows at once.
    ///
    /// Measured on 1M members (`store_figures_for_one_million_members`): PostgreSQL streams
    /// one row per member (about 1 µs each). On SQLite a row costs sqlx about 0.7 µs, so members
    /// are read instead in [`INDEX_LOAD_ENTRIES_PER_RANGE`]-sized user-hash ranges, each one row
    /// of `string_agg`-ed integers from the covering index: 0.8 s → 0.26 s per 1M members.
    /// (The same ranges on PostgreSQL were twice as slow as streaming.)
    pub async fn load_member_index(&self, segment: &str) -> Result<MemberIndex, StoreError> {
        // Reserve exactly, so the vector never doubles (a doubling at 10M members would briefly
        // hold 400 MB).
        let expected = self.member_count(segment).await?;
        let mut entries = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        match self.backend {
            Backend::Sqlite => {
                self.read_index_ranges(segment, expected, &mut entries)
                    .await?
            }
            Backend::Postgres => self.read_index_rows(segment, &mut entries).await?,
        }
        Ok(MemberIndex::from_entries(entries))
    }

    /// Appends the segment's index entries, one row per member.
    async fn read_index_rows(
        &self,
        segment: &str,
        entries: &mut Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query("SELECT user_hash, index_check FROM members WHERE segment = $1")
            .bind(segment)
            .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let user_hash: i64 = row.try_get(0)?;
            let check: i64 = row.try_get(1)?;
            entries.push(IndexEntry {
                user_hash: user_hash as u64,
                check: check as u64,
            });
        }
        Ok(())
    }

    /// Appends the segment's index entries, one aggregated row per user-hash range.
    async fn read_index_ranges(
        &self,
        segment: &str,
        expected: u64,
        entries: &mut Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        let n_ranges = expected
            .div_ceil(INDEX_LOAD_ENTRIES_PER_RANGE)
            .next_power_of_two()
            .clamp(2, MAX_INDEX_LOAD_RANGES);
        let range_width = u64::MAX / n_ranges + 1;
        for range_idx in 0..n_ranges {
            // Unsigned ranges that never straddle 2^63 are contiguous in the signed BIGINT
            // order the database sorts by.
            let low = range_idx * range_width;
            let high = low + (range_width - 1);
            let packed: Option<String> = sqlx::query_scalar(
                "SELECT string_agg(user_hash || ' ' || index_check, ' ') FROM members \
                 WHERE segment = $1 AND user_hash BETWEEN $2 AND $3",
            )
            .bind(segment)
            .bind(low as i64)
            .bind(high as i64)
            .fetch_one(&self.pool)
            .await?;
            let Some(packed) = packed else {
                continue;
            };
            let mut numbers = packed.split(' ').map(|number| number.parse::<i64>());
            while let Some(user_hash) = numbers.next() {
                let (Ok(user_hash), Some(Ok(check))) = (user_hash, numbers.next()) else {
                    return Err(StoreError::Corrupt(
                        "a member's user_hash or index_check is not an integer".to_owned(),
                    ));
                };
                entries.push(IndexEntry {
                    user_hash: user_hash as u64,
                    check: check as u64,
                });
            }
        }
        Ok(())
    }

    /// Number of stored members of the segment.
    pub async fn member_count(&self, segment: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE segment = $1")
            .bind(segment)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Forgets every stored member of the segment (for `--replace`); returns how many.
    /// The audience record, runs and journal stay.
    pub async fn reset_segment(&self, segment: &str) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM members WHERE segment = $1")
            .bind(segment)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

/// `SELECT` of the segment's (`$1`) member rows whose `column` is one of `n_values` values.
fn members_where_in_sql(table: &str, column: &str, n_values: usize) -> String {
    format!(
        "SELECT user_id, fingerprint, wire_row FROM {table} \
         WHERE segment = $1 AND {column} IN ({})",
        placeholder_list(2, n_values)
    )
}

/// The rows with the last occurrence of each user id, in their original order (PostgreSQL
/// refuses an upsert that touches one key twice; SQLite would keep the last).
fn last_row_per_user(rows: &[MemberRow]) -> Vec<&MemberRow> {
    let mut last_idx: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (row_idx, row) in rows.iter().enumerate() {
        last_idx.insert(row.user_id.as_str(), row_idx);
    }
    rows.iter()
        .enumerate()
        .filter(|(row_idx, row)| last_idx.get(row.user_id.as_str()) == Some(row_idx))
        .map(|(_, row)| row)
        .collect()
}

fn encode_wire_row(wire_row: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(wire_row)
        .map_err(|error| StoreError::Corrupt(format!("wire row does not encode: {error}")))
}

fn decode_fingerprint(bytes: Vec<u8>) -> Result<Fingerprint, StoreError> {
    let n_bytes = bytes.len();
    bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!("a fingerprint has {n_bytes} bytes instead of 16"))
    })
}

fn member_from_row(row: &AnyRow) -> Result<MemberRow, StoreError> {
    let user_id: String = row.try_get(0)?;
    let fingerprint = decode_fingerprint(row.try_get(1)?)?;
    let wire_json: String = row.try_get(2)?;
    let wire_row = serde_json::from_str(&wire_json).map_err(|error| {
        StoreError::Corrupt(format!(
            "the wire row of user {user_id:?} is not a JSON list of strings: {error}"
        ))
    })?;
    Ok(MemberRow {
        user_id,
        fingerprint,
        wire_row,
    })
}

/// One accepted batch of [`Store::commit_batches`].
#[derive(Debug, Clone, Copy)]
pub struct AcceptedBatch<'a> {
    pub batch: BatchRef<'a>,
    pub rows: &'a [MemberRow],
    /// Meta's `num_invalid_entries` for it.
    pub num_invalid: u64,
}

/// The statements of one accepted batch, within the caller's transaction.
async fn commit_in(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    batch: &BatchRef<'_>,
    rows: &[MemberRow],
    num_invalid: u64,
) -> Result<(), StoreError> {
    let accepted = sqlx::query(
        "UPDATE journal SET state = 'accepted', num_invalid = $3, settled_at = $4, \
         refusal = NULL, inflight_rows = NULL \
         WHERE run_id = $1 AND batch_idx = $2 AND operation = $5",
    )
    .bind(batch.run_id.as_str())
    .bind(i64::from(batch.batch_idx))
    .bind(i64::try_from(num_invalid).unwrap_or(i64::MAX))
    .bind(to_millis(std::time::SystemTime::now()))
    .bind(batch.operation.as_str())
    .execute(&mut **transaction)
    .await?;
    if accepted.rows_affected() == 0 {
        return Err(StoreError::UnknownBatch {
            run_id: batch.run_id.to_string(),
            batch_idx: batch.batch_idx,
        });
    }
    match batch.operation {
        Operation::Add | Operation::Replace => {
            for chunk in last_row_per_user(rows).chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO members (segment, user_id, user_hash, index_check, \
                     fingerprint, wire_row) VALUES {} ON CONFLICT (segment, user_id) DO \
                     UPDATE SET index_check = excluded.index_check, \
                     fingerprint = excluded.fingerprint, wire_row = excluded.wire_row",
                    values_with_shared_first(chunk.len(), 5)
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(batch.segment);
                for row in chunk {
                    let entry = IndexEntry::new(&row.user_id, &row.fingerprint);
                    query = query
                        .bind(row.user_id.as_str())
                        .bind(entry.user_hash as i64)
                        .bind(entry.check as i64)
                        .bind(row.fingerprint.to_vec())
                        .bind(encode_wire_row(&row.wire_row)?);
                }
                query.execute(&mut **transaction).await?;
            }
        }
        Operation::Remove => {
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "DELETE FROM members WHERE segment = $1 AND user_id IN ({})",
                    placeholder_list(2, chunk.len())
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(batch.segment);
                for row in chunk {
                    query = query.bind(row.user_id.as_str());
                }
                query.execute(&mut **transaction).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_user_ids_keep_their_last_row() {
        let row = |user_id: &str, byte: u8| MemberRow {
            user_id: user_id.to_owned(),
            fingerprint: [byte; 16],
            wire_row: vec![],
        };
        let rows = [row("a", 1), row("b", 2), row("a", 3)];
        let kept: Vec<(&str, u8)> = last_row_per_user(&rows)
            .iter()
            .map(|row| (row.user_id.as_str(), row.fingerprint[0]))
            .collect();
        assert_eq!(kept, vec![("b", 2), ("a", 3)]);
    }
}
