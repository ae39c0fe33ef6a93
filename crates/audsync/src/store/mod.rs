//! The sync state store: audiences, members, runs, journal and leases, on SQLite or PostgreSQL.
//!
//! # Layout
//! - `mod.rs`: [`Store`], connecting, migrations, [`StoreError`] and the audience records.
//! - `members.rs`: committing accepted batches and reading stored member rows.
//! - `index.rs`: [`MemberIndex`], the compact in-memory view of a segment's members used by
//!   the streaming diff.
//! - `runs.rs`: runs, the batch journal (with the in-flight rows of batches not yet settled),
//!   interrupted replace sessions and Meta's invalid entries.
//! - `packed_rows.rs`: the compact binary form of wire rows (in-flight rows, spools).
//! - `lease.rs`: the per-segment lease that keeps two syncs of one segment apart.
//!
//! # Invariants
//! - **Never raw PII.** Members hold the source's user id, a 128-bit fingerprint and the
//!   hashed keys exactly as they were sent to Meta (the wire row), nothing else.
//! - **State advances only after acceptance.** [`Store::commit_batch`] is the only write to
//!   `members`; it runs in one transaction with the journal entry moving from `sent` to
//!   `accepted`, and the caller calls it only after Meta accepted the batch.
//! - **One writer per segment.** Callers hold a [`Lease`] for the segment while they sync it.
//!
//! Both backends go through sqlx's `Any` driver with the same SQL (`$N` placeholders); only
//! the migrations differ (`BLOB` vs `BYTEA`), one folder per backend under `migrations/`.

mod index;
mod lease;
mod members;
pub(crate) mod packed_rows;
mod runs;

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row, SqlSafeStr};

pub use index::{MemberIndex, Observed, UserKey, user_id_hash};
pub use lease::{Lease, lease_holder_id};
pub use members::AcceptedBatch;
pub use packed_rows::InflightRows;
pub use runs::{
    BatchRef, BatchState, JournalEntry, Operation, ReplaceSession, RunId, RunRecord, RunStatus,
};

/// A member's 128-bit fingerprint of its keys (computed by `audsync-core`), stored as 16 bytes.
pub type Fingerprint = [u8; 16];

/// The default store: an SQLite file next to the working directory (issue 4, "Config").
pub const DEFAULT_STORE_URL: &str = "sqlite://audsync.db";

/// Rows per multi-row `INSERT`/`DELETE`/`IN (…)` statement. crate-choices.md §1 measured
/// 88–113k rows/s on SQLite with 500-row statements against 12–16k rows/s with one statement per
/// row; 500 rows × 4 bound values stays far below SQLite's 32,766 and PostgreSQL's 65,535
/// parameters per statement.
pub const ROWS_PER_STATEMENT: usize = 500;

/// How long a new SQLite connection waits for another writer before failing with "database is
/// locked". Two processes on one file serialize their writes; a commit of 10,000 members takes
/// about 0.1 s, so 10 s is generous.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite page cache per connection, in KiB. The default 2 MiB makes every commit re-read the
/// pages of the user-hash index it touches; 16 MiB made 10,000-row commits about 15% faster on
/// a 1M-member table, and 4 connections stay under 64 MiB.
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// Connections per pool. SQLite has one writer at a time anyway; PostgreSQL gets a few for
/// concurrent reads.
const MAX_CONNECTIONS: u32 = 4;

/// The database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// What went wrong in the store, named after what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`; tell the user.
    #[error(
        "unsupported store URL scheme {scheme:?}: expected sqlite://PATH or postgres://HOST/DB"
    )]
    UnsupportedUrl { scheme: String },
    /// The database could not be opened or reached; tell the user (the location has no password).
    #[error("cannot open the {backend} state store at {location}")]
    Connect {
        backend: Backend,
        location: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date (for example a newer audsync migrated it).
    #[error("cannot bring the state store schema up to date")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Another process holds the segment's lease; wait until it expires or stop.
    #[error(
        "segment {segment:?} is being synced by {holder} (its lease runs until {} UTC)",
        format_time(*expires_at)
    )]
    LeaseHeld {
        segment: String,
        holder: String,
        expires_at: SystemTime,
    },
    /// The lease expired and someone else took it (or it was released); stop writing.
    #[error("lost the lease on segment {segment:?}: it expired or another process took it")]
    LeaseLost { segment: String },
    /// `commit_batch`/`journal_batch_refused` for a batch never recorded as sent; a caller bug.
    #[error("run {run_id} batch {batch_idx} was never journaled as sent")]
    UnknownBatch { run_id: String, batch_idx: u32 },
    /// A stored value does not decode (a wire row that is not a JSON array, a bad fingerprint).
    #[error("the state store holds a malformed value: {0}")]
    Corrupt(String),
    /// Any other database failure; usually worth a retry of the whole operation.
    #[error("state store query failed")]
    Database(#[from] sqlx::Error),
}

/// The state store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// What a segment is bound to at Meta: written after the audience is created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceRecord {
    pub segment: String,
    pub connector: String,
    /// Digits only, without `act_`.
    pub ad_account_id: String,
    /// Meta's custom audience id.
    pub audience_id: String,
    pub audience_name: String,
    /// The schema (key names, in order) every row sent to this audience uses: Meta locks an
    /// audience to its data source, so a change needs a replace or a new audience.
    pub schema: Vec<String>,
    pub created_at: SystemTime,
}

/// One stored member: exactly what was sent to Meta for this user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The source's user id (never PII by contract of the config's `user_id_column`).
    pub user_id: String,
    pub fingerprint: Fingerprint,
    /// The row's values as sent (hashed keys, or `""` for absent keys), in the audience schema
    /// order; a removal sends exactly these strings.
    pub wire_row: Vec<String>,
}

impl Store {
    /// Opens (creating an SQLite file if missing) and migrates the store at `url`:
    /// `sqlite://PATH` (relative to the working directory), `sqlite:///ABSOLUTE/PATH`, or
    /// `postgres://USER@HOST:PORT/DB` (add `?options=-c%20search_path%3DSCHEMA` for a schema).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, connect_url, location) = resolve_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |connection, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; NORMAL is durable in WAL
                        // mode except for the last transactions on power loss, which the
                        // journal makes harmless (a lost commit is a re-sent batch).
                        connection.execute("PRAGMA journal_mode = WAL").await?;
                        connection.execute("PRAGMA synchronous = NORMAL").await?;
                        connection.execute("PRAGMA foreign_keys = ON").await?;
                        let cache_size = format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}");
                        connection.execute(sqlx::AssertSqlSafe(cache_size)).await?;
                        let busy_timeout =
                            format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis());
                        connection
                            .execute(sqlx::AssertSqlSafe(busy_timeout))
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect {
                backend,
                location: location.clone(),
                source,
            })?;
        migrator(backend)
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Store { pool, backend })
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The audience a segment is bound to, if it was created or found before.
    pub async fn audience(&self, segment: &str) -> Result<Option<AudienceRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT segment, connector, ad_account_id, audience_id, audience_name, schema_keys, \
             created_at FROM audiences WHERE segment = $1",
        )
        .bind(segment)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| audience_from_row(&row)).transpose()
    }

    /// Records (or replaces) the audience a segment is bound to.
    pub async fn save_audience(&self, record: &AudienceRecord) -> Result<(), StoreError> {
        let schema_json = serde_json::to_string(&record.schema)
            .map_err(|error| StoreError::Corrupt(format!("schema does not encode: {error}")))?;
        sqlx::query(
            "INSERT INTO audiences (segment, connector, ad_account_id, audience_id, audience_name, \
             schema_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (segment) DO UPDATE SET connector = excluded.connector, \
             ad_account_id = excluded.ad_account_id, audience_id = excluded.audience_id, \
             audience_name = excluded.audience_name, schema_keys = excluded.schema_keys, \
             created_at = excluded.created_at",
        )
        .bind(&record.segment)
        .bind(&record.connector)
        .bind(&record.ad_account_id)
        .bind(&record.audience_id)
        .bind(&record.audience_name)
        .bind(schema_json)
        .bind(to_millis(record.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The embedded, append-only migrations of one backend, as (version, description, SQL).
const MIGRATIONS: [(i64, &str, [&str; 2]); 2] = [
    (
        1,
        "state",
        [
            include_str!("../../migrations/sqlite/0001_state.sql"),
            include_str!("../../migrations/postgres/0001_state.sql"),
        ],
    ),
    (
        2,
        "inflight in store",
        [
            include_str!("../../migrations/sqlite/0002_inflight_in_store.sql"),
            include_str!("../../migrations/postgres/0002_inflight_in_store.sql"),
        ],
    ),
];

/// The embedded migrations of one backend.
fn migrator(backend: Backend) -> Migrator {
    let flavour = match backend {
        Backend::Sqlite => 0,
        Backend::Postgres => 1,
    };
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql[flavour].into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Splits a store URL into its backend, the URL sqlx should open, and a password-free
/// location for messages. Relative SQLite paths are made absolute here, because sqlx reads
/// `sqlite://NAME` through a URL parser that lowercases the "host" part.
fn resolve_url(url: &str) -> Result<(Backend, String, String), StoreError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => {
            let rest = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or_default();
            let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
            let absolute =
                std::path::absolute(Path::new(path)).map_err(|error| StoreError::Connect {
                    backend: Backend::Sqlite,
                    location: path.to_owned(),
                    source: sqlx::Error::Configuration(error.into()),
                })?;
            let file_url =
                url::Url::from_file_path(&absolute).map_err(|()| StoreError::Connect {
                    backend: Backend::Sqlite,
                    location: path.to_owned(),
                    source: sqlx::Error::Configuration("not an absolute path".into()),
                })?;
            let mut connect_url = format!("sqlite://{}", file_url.path());
            // Create the file on first use unless the user chose a mode.
            if params.is_empty() {
                connect_url.push_str("?mode=rwc");
            } else {
                connect_url.push('?');
                connect_url.push_str(params);
                if !params.contains("mode=") {
                    connect_url.push_str("&mode=rwc");
                }
            }
            Ok((Backend::Sqlite, connect_url, absolute.display().to_string()))
        }
        "postgres" | "postgresql" => {
            let location = match url::Url::parse(url) {
                Ok(mut parsed) => {
                    let _ = parsed.set_password(None);
                    parsed.set_query(None);
                    parsed.to_string()
                }
                Err(_) => "an unparsable postgres:// URL".to_owned(),
            };
            Ok((Backend::Postgres, url.to_owned(), location))
        }
        other => Err(StoreError::UnsupportedUrl {
            scheme: other.chars().take(20).collect(),
        }),
    }
}

fn audience_from_row(row: &AnyRow) -> Result<AudienceRecord, StoreError> {
    let schema_json: String = row.try_get(5)?;
    let schema = serde_json::from_str(&schema_json).map_err(|error| {
        StoreError::Corrupt(format!("audience schema is not a JSON list: {error}"))
    })?;
    Ok(AudienceRecord {
        segment: row.try_get(0)?,
        connector: row.try_get(1)?,
        ad_account_id: row.try_get(2)?,
        audience_id: row.try_get(3)?,
        audience_name: row.try_get(4)?,
        schema,
        created_at: from_millis(row.try_get(6)?),
    })
}

/// Unix milliseconds, the store's time format (the `Any` driver has no timestamp type).
pub(crate) fn to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since_epoch) => i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX),
        Err(before_epoch) => {
            -i64::try_from(before_epoch.duration().as_millis()).unwrap_or(i64::MAX)
        }
    }
}

pub(crate) fn from_millis(millis: i64) -> SystemTime {
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, for messages.
pub(crate) fn format_time(time: SystemTime) -> String {
    let seconds = to_millis(time).div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `$first, $first+1, …` for `count` placeholders, for `IN (…)` lists.
fn placeholder_list(first: usize, count: usize) -> String {
    let mut sql = String::with_capacity(count * 6);
    for idx in 0..count {
        if idx > 0 {
            sql.push_str(", ");
        }
        sql.push('$');
        sql.push_str(&(first + idx).to_string());
    }
    sql
}

/// `($1, $2, …), ($1, $k, …)` for `n_rows` rows of `n_columns` bound values each, where
/// `$1` (the segment or run id) is shared by every row.
fn values_with_shared_first(n_rows: usize, n_columns: usize) -> String {
    let mut sql = String::with_capacity(n_rows * (n_columns * 7 + 8));
    let mut next = 2;
    for row_idx in 0..n_rows {
        if row_idx > 0 {
            sql.push_str(", ");
        }
        sql.push_str("($1");
        for _ in 0..n_columns {
            sql.push_str(", $");
            sql.push_str(&next.to_string());
            next += 1;
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_given_start() {
        assert_eq!(placeholder_list(2, 3), "$2, $3, $4");
        assert_eq!(values_with_shared_first(2, 2), "($1, $2, $3), ($1, $4, $5)");
    }

    #[test]
    fn relative_sqlite_paths_become_absolute_and_keep_their_case() {
        let (backend, url, location) = resolve_url("sqlite://State.DB").unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert!(url.starts_with("sqlite:///"), "{url}");
        assert!(url.ends_with("/State.DB?mode=rwc"), "{url}");
        assert!(location.ends_with("/State.DB"));
        let (_, url, _) = resolve_url("sqlite:/tmp/a b.db?mode=ro").unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b.db?mode=ro");
    }

    #[test]
    fn postgres_locations_hide_the_password() {
        let (backend, url, location) =
            resolve_url("postgres://user:hunter2@db.example:5432/app?sslmode=require").unwrap();
        assert_eq!(backend, Backend::Postgres);
        assert!(url.contains("hunter2"));
        assert!(!location.contains("hunter2"), "{location}");
        assert!(matches!(
            resolve_url("mysql://x"),
            Err(StoreError::UnsupportedUrl { .. })
        ));
    }

    #[test]
    fn times_format_as_utc_dates() {
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00");
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(format_time(time), "2023-11-14 22:13:20");
        assert_eq!(from_millis(to_millis(time)), time);
    }
}
