//! SQL query sources: a segment's `{ sql = "SELECT …", database = "postgres://…" | "sqlite://…" }`.
//! The result's column names are the columns; rows stream into [`RowChunk`]s.
//!
//! # How it runs
//! sqlx is async and the hash pipeline reads on a plain thread, so each query gets its own
//! thread (`audsync-sql`) running a current-thread tokio runtime. [`SqlSource::open`] starts
//! it and waits for the columns: the thread connects, opens a read-only transaction
//! (PostgreSQL: `BEGIN TRANSACTION READ ONLY`; SQLite: `PRAGMA query_only = ON`, and a missing
//! database file is an error, never created), prepares the query (a syntax error, an unknown
//! table or an unsupported column type is reported before any row is read) and sends the
//! column names back. [`SqlSource::into_chunks`] tells it which columns to decode; it then
//! streams the rows (`fetch`, row by row, never `fetch_all`) into chunks on a channel of
//! [`SQL_CHUNKS_IN_FLIGHT`]. A full channel blocks the thread, which stops reading the
//! socket (PostgreSQL) or the SQLite worker: memory stays flat whatever the result's size.
//! Blocking inside the runtime is fine there: it is the thread's own runtime, serving this
//! one connection. If the reader goes away, the next send fails and the thread rolls back.
//!
//! # Values
//! Each column is decoded by its type. PostgreSQL: text types, enums and domains as they are;
//! `int2/int4/int8/oid` and `float4/float8` in decimal; `numeric` exactly; `bool` as
//! `true`/`false`; `date` as `YYYY-MM-DD`; `timestamp` as `YYYY-MM-DDTHH:MM:SS[.f]`;
//! `timestamptz` the same in UTC with `Z`; `time` as `HH:MM:SS[.f]`; `uuid` hyphenated; `json`
//! and `jsonb` as their text. Any other type is refused before reading, naming the column and
//! telling to cast it (`col::text`). SQLite: integers, reals and text as they are (a column
//! declared `BOOLEAN` gives `true`/`false`), text blobs as UTF-8. NULL is an empty value.
//!
//! Errors while rows are read can quote a row's value (`invalid input syntax for type date:
//! "…"`): quoted parts of those messages are blanked, since row values are PII.

use std::fmt::Write as _;
use std::io;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};

use anyhow::anyhow;
use futures_util::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgTypeInfo, PgTypeKind, PgValueFormat};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{
    AssertSqlSafe, Column, Connection, Decode, Executor, Row, SqlSafeStr, Statement, TypeInfo,
    ValueRef,
};

use crate::sources::chunk::{
    Chunk, Chunks, RowChunk, RowChunkBuilder, RowError, write_iso_date, write_iso_time,
    write_iso_timestamp,
};

/// Chunks decoded ahead of the pipeline: enough that the pipeline never waits for the
/// database, few enough that a huge result costs a few MiB.
pub const SQL_CHUNKS_IN_FLIGHT: usize = 2;

/// Rows the SQLite worker buffers ahead of the decoder (sqlx's default is 50, which costs a
/// channel hand-off every 50 rows).
const SQLITE_ROW_BUFFER: usize = 1024;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch for dates and timestamps.
const PG_EPOCH_DAYS: i64 = 10_957;

/// A query and the database it runs against.
#[derive(Clone)]
pub struct QuerySpec {
    pub sql: String,
    /// `postgres://…` or `sqlite://…`; may hold a password.
    pub database: SecretString,
}

impl QuerySpec {
    /// The database URL without password or query, for messages.
    pub fn redacted_database(&self) -> String {
        let url = self.database.expose_secret();
        match url::Url::parse(url) {
            Ok(mut parsed) => {
                if parsed.password().is_some() {
                    let _ = parsed.set_password(Some("***"));
                }
                parsed.set_query(None);
                parsed.to_string()
            }
            Err(_) => url.split('?').next().unwrap_or_default().to_owned(),
        }
    }

    fn backend(&self) -> anyhow::Result<Backend> {
        let url = self.database.expose_secret();
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(anyhow!(
                "unsupported database {} (expected postgres://… or sqlite://…)",
                self.redacted_database()
            ))
        }
    }
}

impl std::fmt::Debug for QuerySpec {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("QuerySpec")
            .field("sql", &self.sql)
            .field("database", &self.redacted_database())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
}

/// What the query thread sends.
enum Message {
    Chunk(RowChunk),
    /// Every row was sent.
    Done,
    Failed(String),
}

/// A query whose columns are known and whose rows are not read yet.
pub struct SqlSource {
    /// `query on postgres://host/db`, for messages.
    pub name: String,
    pub columns: Vec<String>,
    start: SyncSender<Vec<usize>>,
    messages: Receiver<Message>,
}

impl std::fmt::Debug for SqlSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SqlSource")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl SqlSource {
    /// Connects, prepares the query and returns its columns (see the module doc).
    pub fn open(spec: &QuerySpec) -> anyhow::Result<SqlSource> {
        let backend = spec.backend()?;
        let name = format!("query on {}", spec.redacted_database());
        let (ready_sender, ready) = mpsc::sync_channel::<Result<Vec<String>, String>>(1);
        let (start, start_receiver) = mpsc::sync_channel::<Vec<usize>>(1);
        let (message_sender, messages) = mpsc::sync_channel::<Message>(SQL_CHUNKS_IN_FLIGHT);
        let link = Link {
            ready: Some(ready_sender),
            start: start_receiver,
            messages: message_sender,
        };
        let spec = spec.clone();
        std::thread::Builder::new()
            .name("audsync-sql".to_owned())
            .spawn(move || run_thread(backend, &spec, link))
            .map_err(|error| anyhow!("cannot start the query thread: {error}"))?;
        match ready.recv() {
            Ok(Ok(columns)) => Ok(SqlSource {
                name,
                columns,
                start,
                messages,
            }),
            Ok(Err(message)) => Err(anyhow!("{name}: {message}")),
            Err(_) => Err(anyhow!("{name}: the query thread stopped (internal error)")),
        }
    }

    /// Runs the query and streams the columns at `wanted` (positions in
    /// [`SqlSource::columns`]).
    pub fn into_chunks(self, wanted: &[usize]) -> Chunks {
        if self.start.send(wanted.to_vec()).is_err() {
            return Chunks::failed(io::Error::other(format!(
                "{}: the query thread stopped (internal error)",
                self.name
            )));
        }
        let name = self.name;
        let messages = self.messages;
        let mut finished = false;
        Chunks::new(std::iter::from_fn(move || {
            if finished {
                return None;
            }
            let message = messages.recv();
            if !matches!(message, Ok(Message::Chunk(_))) {
                finished = true;
            }
            match message {
                Ok(Message::Chunk(chunk)) => Some(Ok(Chunk::Rows(chunk))),
                Ok(Message::Done) => None,
                Ok(Message::Failed(error)) => {
                    Some(Err(io::Error::other(format!("{name}: {error}"))))
                }
                Err(_) => Some(Err(io::Error::other(format!(
                    "{name}: the query thread stopped before the last row (internal error)"
                )))),
            }
        }))
    }
}

/// The query thread's ends of the channels.
struct Link {
    ready: Option<SyncSender<Result<Vec<String>, String>>>,
    start: Receiver<Vec<usize>>,
    messages: SyncSender<Message>,
}

impl Link {
    /// Sends the columns and waits for the wanted ones; `None` if the source was dropped.
    fn columns_ready(&mut self, columns: Vec<String>) -> Option<Vec<usize>> {
        let ready = self.ready.take()?;
        ready.send(Ok(columns)).ok()?;
        self.start.recv().ok()
    }

    /// Sends the columns, waits for the wanted ones and returns the held ones (source order)
    /// with a builder for their rows.
    fn start_rows(&mut self, names: &[String]) -> Result<(Arc<[usize]>, RowChunkBuilder), Stop> {
        let wanted = self.columns_ready(names.to_vec()).ok_or(Stop::Dropped)?;
        let (held, held_names) = held_columns(&wanted, names);
        Ok((
            held.clone(),
            RowChunkBuilder::new(1, None, held, held_names),
        ))
    }

    /// Sends a chunk; `false` if the reader went away.
    fn send(&self, chunk: RowChunk) -> bool {
        self.messages.send(Message::Chunk(chunk)).is_ok()
    }
}

/// Why the thread stopped early.
enum Stop {
    /// Before the columns were sent: goes back to [`SqlSource::open`].
    Open(String),
    /// While rows were read: ends the chunk stream.
    Read(String),
    /// The source or its reader went away: nothing to report.
    Dropped,
}

fn run_thread(backend: Backend, spec: &QuerySpec, mut link: Link) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            if let Some(ready) = link.ready.take() {
                let _ = ready.send(Err(format!("cannot start the query runtime: {error}")));
            }
            return;
        }
    };
    let outcome = runtime.block_on(async {
        match backend {
            Backend::Postgres => run_postgres(spec, &mut link).await,
            Backend::Sqlite => run_sqlite(spec, &mut link).await,
        }
    });
    match outcome {
        Ok(()) => {
            let _ = link.messages.send(Message::Done);
        }
        Err(Stop::Open(message)) => {
            if let Some(ready) = link.ready.take() {
                let _ = ready.send(Err(message));
            }
        }
        Err(Stop::Read(message)) => {
            let _ = link.messages.send(Message::Failed(message));
        }
        Err(Stop::Dropped) => {}
    }
}

/// An error of the database before any row was read: the message refers to the query, not
/// to data.
fn open_error(what: &str, error: sqlx::Error) -> Stop {
    Stop::Open(format!("{what}: {}", database_message(&error)))
}

/// An error while rows were read: quoted parts may be a row's values and are blanked.
fn read_error(error: sqlx::Error) -> Stop {
    Stop::Read(format!(
        "the query failed while reading rows: {}",
        blank_quoted(&database_message(&error))
    ))
}

fn database_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => match database.code() {
            Some(code) => format!("{} (SQLSTATE {code})", database.message()),
            None => database.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// `invalid input syntax for type date: "x@y.z"` → `… date: "…"`.
fn blank_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        out.push('"');
        out.push_str(if inside { "…" } else { part });
        inside = !inside;
    }
    out
}

/// Which columns of a result to decode, in source order, and their names.
fn held_columns(wanted: &[usize], names: &[String]) -> (Arc<[usize]>, Arc<[String]>) {
    let mut held: Vec<usize> = wanted
        .iter()
        .copied()
        .filter(|column| *column < names.len())
        .collect();
    held.sort_unstable();
    held.dedup();
    let held_names: Vec<String> = held.iter().map(|column| names[*column].clone()).collect();
    (held.into(), held_names.into())
}

/// Prepares the query: its syntax, tables and columns are checked before any row is read.
async fn prepare<'c, C: Executor<'c>>(
    connection: C,
    sql: &str,
) -> Result<(<C::Database as sqlx::Database>::Statement, Vec<String>), Stop> {
    let statement = connection
        .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
        .await
        .map_err(|error| open_error("the query failed", error))?;
    let names = statement
        .columns()
        .iter()
        .map(|column| column.name().to_owned())
        .collect();
    Ok((statement, names))
}

async fn run_postgres(spec: &QuerySpec, link: &mut Link) -> Result<(), Stop> {
    let options = PgConnectOptions::from_str(spec.database.expose_secret())
        .map_err(|error| open_error("invalid database URL", error))?;
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| open_error("cannot connect", error))?;
    connection
        .execute("BEGIN TRANSACTION READ ONLY")
        .await
        .map_err(|error| open_error("cannot begin a read-only transaction", error))?;
    let (statement, names) = prepare(&mut connection, &spec.sql).await?;
    let mut decoders = Vec::with_capacity(names.len());
    let mut unsupported = Vec::new();
    for column in statement.columns() {
        match pg_decoder(column.type_info()) {
            Some(decoder) => decoders.push(decoder),
            None => {
                decoders.push(PgDecoder::Text);
                unsupported.push(format!("{} ({})", column.name(), column.type_info().name()));
            }
        }
    }
    if !unsupported.is_empty() {
        return Err(Stop::Open(format!(
            "cannot read column {} as text; cast it in the query (e.g. `SELECT col::text AS col`)",
            unsupported.join(", ")
        )));
    }
    let (held, mut builder) = link.start_rows(&names)?;
    {
        let mut rows = connection.fetch(statement.query());
        while let Some(row) = rows.try_next().await.map_err(read_error)? {
            for (value_idx, column) in held.iter().enumerate() {
                let decoded = row
                    .try_get_raw(*column)
                    .map_err(|error| error.to_string())
                    .and_then(|value| {
                        if value.is_null() {
                            return Ok(Ok(()));
                        }
                        let bytes = value.as_bytes().map_err(|error| error.to_string())?;
                        Ok(match value.format() {
                            PgValueFormat::Text => write_utf8(builder.text(), bytes),
                            PgValueFormat::Binary => {
                                write_pg_binary(builder.text(), decoders[*column], bytes)
                            }
                        })
                    })
                    .map_err(|error| Stop::Read(format!("cannot read a value: {error}")))?;
                end_value(&mut builder, value_idx, decoded);
            }
            end_row(&mut builder, link)?;
        }
    }
    send_rest(builder, link)?;
    // Nothing was written; ending the transaction either way is the same.
    let _ = connection.execute("ROLLBACK").await;
    let _ = connection.close().await;
    Ok(())
}

async fn run_sqlite(spec: &QuerySpec, link: &mut Link) -> Result<(), Stop> {
    let options = SqliteConnectOptions::from_str(spec.database.expose_secret())
        .map_err(|error| open_error("invalid database URL", error))?
        .create_if_missing(false)
        .pragma("query_only", "ON")
        .row_buffer_size(SQLITE_ROW_BUFFER);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| open_error("cannot open the database", error))?;
    let (statement, names) = prepare(&mut connection, &spec.sql).await?;
    let declared_bool: Vec<bool> = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name() == "BOOLEAN")
        .collect();
    let (held, mut builder) = link.start_rows(&names)?;
    {
        let mut rows = connection.fetch(statement.query());
        while let Some(row) = rows.try_next().await.map_err(read_error)? {
            for (value_idx, column) in held.iter().enumerate() {
                let value = row
                    .try_get_raw(*column)
                    .map_err(|error| Stop::Read(format!("cannot read a value: {error}")))?;
                let written = write_sqlite_value(builder.text(), value, declared_bool[*column]);
                end_value(&mut builder, value_idx, written);
            }
            end_row(&mut builder, link)?;
        }
    }
    send_rest(builder, link)?;
    let _ = connection.close().await;
    Ok(())
}

/// Ends the `value_idx`-th value of a row, failing the row if it could not be written.
fn end_value(builder: &mut RowChunkBuilder, value_idx: usize, written: Result<(), ValueError>) {
    if let Err(error) = written {
        let column = builder.column_name(value_idx);
        builder.fail_row(error.into_row_error(column));
    }
    builder.end_value();
}

/// Ends the row just decoded; sends the chunk once it is full.
fn end_row(builder: &mut RowChunkBuilder, link: &Link) -> Result<(), Stop> {
    builder.end_row();
    if builder.is_full() && !link.send(builder.take_chunk()) {
        return Err(Stop::Dropped);
    }
    Ok(())
}

/// Sends the last rows.
fn send_rest(builder: RowChunkBuilder, link: &Link) -> Result<(), Stop> {
    if builder.n_rows() > 0 && !link.send(builder.finish().0) {
        return Err(Stop::Dropped);
    }
    Ok(())
}

/// Why one value could not be written as text.
#[derive(Debug, PartialEq, Eq)]
enum ValueError {
    InvalidUtf8,
    Malformed(&'static str),
}

impl ValueError {
    fn into_row_error(self, column: String) -> RowError {
        match self {
            ValueError::InvalidUtf8 => RowError::InvalidUtf8 { column },
            ValueError::Malformed(what) => RowError::Unreadable { column, what },
        }
    }
}

fn write_utf8(out: &mut String, bytes: &[u8]) -> Result<(), ValueError> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => {
            out.push_str(text);
            Ok(())
        }
        Err(_) => Err(ValueError::InvalidUtf8),
    }
}

fn write_sqlite_value(
    out: &mut String,
    value: sqlx::sqlite::SqliteValueRef<'_>,
    declared_bool: bool,
) -> Result<(), ValueError> {
    if value.is_null() {
        return Ok(());
    }
    let storage = value.type_info().name().to_owned();
    let malformed = |_| ValueError::Malformed("undecodable SQLite value");
    match storage.as_str() {
        "INTEGER" => {
            let number = <i64 as Decode<sqlx::Sqlite>>::decode(value).map_err(malformed)?;
            if declared_bool && (number == 0 || number == 1) {
                out.push_str(if number == 1 { "true" } else { "false" });
            } else {
                let _ = write!(out, "{number}");
            }
        }
        "REAL" => {
            let number = <f64 as Decode<sqlx::Sqlite>>::decode(value).map_err(malformed)?;
            let _ = write!(out, "{number}");
        }
        "BLOB" => {
            let bytes = <&[u8] as Decode<sqlx::Sqlite>>::decode(value).map_err(malformed)?;
            write_utf8(out, bytes)?;
        }
        _ => {
            let bytes = <&[u8] as Decode<sqlx::Sqlite>>::decode(value).map_err(malformed)?;
            write_utf8(out, bytes)?;
        }
    }
    Ok(())
}

/// How a PostgreSQL column's binary values become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PgDecoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Jsonb,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
}

/// The decoder of a column type, `None` for types audsync does not read (cast them to text).
fn pg_decoder(type_info: &PgTypeInfo) -> Option<PgDecoder> {
    match type_info.kind() {
        PgTypeKind::Enum(_) => return Some(PgDecoder::Text),
        PgTypeKind::Domain(base) => return pg_decoder(base),
        _ => {}
    }
    if type_info.name().eq_ignore_ascii_case("citext") {
        return Some(PgDecoder::Text);
    }
    // Built-in type OIDs are fixed (PostgreSQL's pg_type.dat).
    Some(match type_info.oid()?.0 {
        16 => PgDecoder::Bool,
        21 => PgDecoder::Int2,
        23 => PgDecoder::Int4,
        20 => PgDecoder::Int8,
        26 => PgDecoder::Oid,
        700 => PgDecoder::Float4,
        701 => PgDecoder::Float8,
        1700 => PgDecoder::Numeric,
        // text, varchar, bpchar, name, "char", unknown, json, xml
        25 | 1043 | 1042 | 19 | 18 | 705 | 114 | 142 => PgDecoder::Text,
        3802 => PgDecoder::Jsonb,
        1082 => PgDecoder::Date,
        1083 => PgDecoder::Time,
        1114 => PgDecoder::Timestamp,
        1184 => PgDecoder::TimestampTz,
        2950 => PgDecoder::Uuid,
        _ => return None,
    })
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], ValueError> {
    bytes
        .try_into()
        .map_err(|_| ValueError::Malformed("wrong length"))
}

/// Writes one binary-format PostgreSQL value as text (see the module doc).
fn write_pg_binary(out: &mut String, decoder: PgDecoder, bytes: &[u8]) -> Result<(), ValueError> {
    match decoder {
        PgDecoder::Bool => out.push_str(if fixed::<1>(bytes)?[0] != 0 {
            "true"
        } else {
            "false"
        }),
        PgDecoder::Int2 => {
            let _ = write!(out, "{}", i16::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Int4 => {
            let _ = write!(out, "{}", i32::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Int8 => {
            let _ = write!(out, "{}", i64::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Oid => {
            let _ = write!(out, "{}", u32::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Float4 => {
            let _ = write!(out, "{}", f32::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Float8 => {
            let _ = write!(out, "{}", f64::from_be_bytes(fixed(bytes)?));
        }
        PgDecoder::Numeric => write_pg_numeric(out, bytes)?,
        PgDecoder::Text => write_utf8(out, bytes)?,
        // A version byte (1), then the JSON text.
        PgDecoder::Jsonb => match bytes.split_first() {
            Some((1, text)) => write_utf8(out, text)?,
            _ => return Err(ValueError::Malformed("unknown jsonb version")),
        },
        PgDecoder::Date => match i32::from_be_bytes(fixed(bytes)?) {
            i32::MAX => out.push_str("infinity"),
            i32::MIN => out.push_str("-infinity"),
            days => write_iso_date(out, i64::from(days) + PG_EPOCH_DAYS),
        },
        PgDecoder::Time => write_iso_time(out, i64::from_be_bytes(fixed(bytes)?)),
        PgDecoder::Timestamp | PgDecoder::TimestampTz => match i64::from_be_bytes(fixed(bytes)?) {
            i64::MAX => out.push_str("infinity"),
            i64::MIN => out.push_str("-infinity"),
            micros => {
                let micros = micros
                    .checked_add(PG_EPOCH_DAYS * 86_400 * 1_000_000)
                    .ok_or(ValueError::Malformed("timestamp out of range"))?;
                write_iso_timestamp(out, micros);
                if decoder == PgDecoder::TimestampTz {
                    out.push('Z');
                }
            }
        },
        PgDecoder::Uuid => {
            let bytes: [u8; 16] = fixed(bytes)?;
            let hex = const_hex::encode(bytes);
            let _ = write!(
                out,
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
        }
    }
    Ok(())
}

/// Writes a binary `numeric`: a header of four 16-bit words (digit count, weight of the first
/// digit in powers of 10,000, sign, display scale), then base-10,000 digits.
fn write_pg_numeric(out: &mut String, bytes: &[u8]) -> Result<(), ValueError> {
    const MALFORMED: ValueError = ValueError::Malformed("malformed numeric");
    let word = |index: usize| -> Result<u16, ValueError> {
        bytes
            .get(index * 2..index * 2 + 2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .ok_or(MALFORMED)
    };
    let n_digits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = usize::from(word(3)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => {
            out.push_str("NaN");
            return Ok(());
        }
        0xD000 => {
            out.push_str("Infinity");
            return Ok(());
        }
        0xF000 => {
            out.push_str("-Infinity");
            return Ok(());
        }
        _ => return Err(MALFORMED),
    }
    let mut digits = Vec::with_capacity(n_digits);
    for index in 0..n_digits {
        let digit = word(4 + index)?;
        if digit >= 10_000 {
            return Err(MALFORMED);
        }
        digits.push(digit);
    }
    // The digit of weight `power` (10,000^power), zero outside the stored ones.
    let digit_at = |power: i64| -> u16 {
        usize::try_from(weight - power)
            .ok()
            .and_then(|index| digits.get(index).copied())
            .unwrap_or(0)
    };
    if sign == 0x4000 && digits.iter().any(|digit| *digit != 0) {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        let _ = write!(out, "{}", digit_at(weight));
        for power in (0..weight).rev() {
            let _ = write!(out, "{:04}", digit_at(power));
        }
    }
    if scale > 0 {
        out.push('.');
        let fraction_start = out.len();
        let mut power = -1;
        while out.len() - fraction_start < scale {
            let _ = write!(out, "{:04}", digit_at(power));
            power -= 1;
        }
        out.truncate(fraction_start + scale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary numeric of base-10,000 `digits`.
    fn numeric(digits: &[u16], weight: i16, negative: bool, scale: u16) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend((digits.len() as u16).to_be_bytes());
        bytes.extend(weight.to_be_bytes());
        bytes.extend((if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        bytes.extend(scale.to_be_bytes());
        for digit in digits {
            bytes.extend(digit.to_be_bytes());
        }
        bytes
    }

    fn pg(decoder: PgDecoder, bytes: &[u8]) -> Result<String, ValueError> {
        let mut out = String::new();
        write_pg_binary(&mut out, decoder, bytes).map(|()| out)
    }

    #[test]
    fn postgres_binary_values_become_text() {
        let table: Vec<(PgDecoder, Vec<u8>, &str)> = vec![
            (PgDecoder::Bool, vec![1], "true"),
            (PgDecoder::Bool, vec![0], "false"),
            (PgDecoder::Int2, (-7i16).to_be_bytes().to_vec(), "-7"),
            (
                PgDecoder::Int8,
                1234567890123i64.to_be_bytes().to_vec(),
                "1234567890123",
            ),
            (PgDecoder::Float8, 2.5f64.to_be_bytes().to_vec(), "2.5"),
            (PgDecoder::Text, "Zoë".as_bytes().to_vec(), "Zoë"),
            (PgDecoder::Jsonb, b"\x01{\"a\":1}".to_vec(), "{\"a\":1}"),
            // 1990-05-17 is 3,516 days before 2000-01-01.
            (
                PgDecoder::Date,
                (-3516i32).to_be_bytes().to_vec(),
                "1990-05-17",
            ),
            (PgDecoder::Date, i32::MAX.to_be_bytes().to_vec(), "infinity"),
            (
                PgDecoder::Time,
                45_296_000_001i64.to_be_bytes().to_vec(),
                "12:34:56.000001",
            ),
            (
                PgDecoder::Timestamp,
                ((-3516i64 * 86_400 + 45_000) * 1_000_000)
                    .to_be_bytes()
                    .to_vec(),
                "1990-05-17T12:30:00",
            ),
            (
                PgDecoder::TimestampTz,
                0i64.to_be_bytes().to_vec(),
                "2000-01-01T00:00:00Z",
            ),
            (
                PgDecoder::Uuid,
                (0u8..16).collect(),
                "00010203-0405-0607-0809-0a0b0c0d0e0f",
            ),
        ];
        for (decoder, bytes, expected) in table {
            assert_eq!(pg(decoder, &bytes).as_deref(), Ok(expected), "{decoder:?}");
        }
        assert_eq!(
            pg(PgDecoder::Int4, &[1, 2]),
            Err(ValueError::Malformed("wrong length"))
        );
        assert_eq!(pg(PgDecoder::Text, &[0xff]), Err(ValueError::InvalidUtf8));
    }

    #[test]
    fn numerics_are_exact() {
        let table: Vec<(Vec<u8>, String)> = vec![
            (numeric(&[], 0, false, 0), "0".to_owned()),
            (numeric(&[12, 3456], 1, false, 0), "123456".to_owned()),
            (
                numeric(&[12, 3456, 7800], 1, false, 3),
                "123456.780".to_owned(),
            ),
            (numeric(&[5], -1, true, 4), "-0.0005".to_owned()),
            (numeric(&[1], -2, false, 8), "0.00000001".to_owned()),
            (numeric(&[1], 2, false, 2), "100000000.00".to_owned()),
        ];
        for (bytes, expected) in table {
            assert_eq!(
                pg(PgDecoder::Numeric, &bytes).as_deref(),
                Ok(expected.as_str())
            );
        }
    }

    #[test]
    fn quoted_parts_of_read_errors_are_blanked() {
        assert_eq!(
            blank_quoted("invalid input syntax for type date: \"ann@example.com\""),
            "invalid input syntax for type date: \"…\""
        );
        assert_eq!(blank_quoted("division by zero"), "division by zero");
    }

    #[test]
    fn database_urls_are_redacted_for_messages() {
        let spec = QuerySpec {
            sql: "SELECT 1".to_owned(),
            database: SecretString::from("postgres://app:hunter2@db:5432/crm?sslmode=require"),
        };
        let text = format!("{spec:?} {}", spec.redacted_database());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("postgres://app:***@db:5432/crm"), "{text}");
    }
}
