//! Segment sources end to end: Parquet files (hashed exactly like the equivalent CSV), SQL
//! queries on SQLite (a temporary file) and PostgreSQL (a fresh schema per test at
//! `AUDSYNC_TEST_POSTGRES_URL`, default `postgres://127.0.0.1:5432/test`), globs of files;
//! and `sync` reading each of them against the emulator.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audsync::config::{Config, Environment};
use audsync::hash::{HashJob, hash_source};
use audsync::sources::chunk::RowError;
use audsync::sources::mapping::ColumnMapping;
use audsync::sources::sql::QuerySpec;
use audsync::sources::{SegmentSource, SourceSpec};
use audsync::sync::Outcome;
use audsync::sync::command::segment_spec;
use audsync_core::{EligibilityRule, Engine, NormalizeOptions};
use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::parser::parse_message_type;
use secrecy::SecretString;
use sqlx::Connection;

use crate::support::{PgSchema, TestDir, arg, audsync};
use crate::sync_support::{
    Customer, SyncHarness, assert_same_keys, customers, expected_emails, multi_thread,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Every row of `source` through the hash pipeline (automatic mapping): the members CSV and the
/// rejects CSV.
fn hash_all(mut source: SegmentSource) -> (String, String) {
    let mapping = ColumnMapping::resolve(&mut source, &[], None).expect("the columns map");
    let engine = Engine::new(NormalizeOptions::new(2026), EligibilityRule::default());
    let job = HashJob::new(engine, &mapping, false);
    let mut members = Vec::new();
    let mut rejects = Vec::new();
    hash_source(source, &job, 2, &mut members, Some(&mut rejects)).expect("hashing runs");
    (
        String::from_utf8(members).expect("UTF-8"),
        String::from_utf8(rejects).expect("UTF-8"),
    )
}

/// The rejects CSV without its position column (positions differ between a CSV's lines and
/// other sources' row numbers).
fn reject_reasons(rejects: &str) -> Vec<String> {
    rejects
        .lines()
        .skip(1)
        .map(|line| line.split_once(',').expect("a position").1.to_owned())
        .collect()
}

/// The values of the columns `names` of every row (an error's text for failed rows).
fn values(source: SegmentSource, names: &[&str]) -> Vec<Result<Vec<String>, RowError>> {
    let wanted: Vec<usize> = names
        .iter()
        .map(|name| source.column_index(name).expect("a known column"))
        .collect();
    let mut parser = source.row_parser();
    let mut rows = Vec::new();
    for chunk in source.into_chunks(&wanted) {
        parser.for_each_row(&chunk.expect("a chunk"), &wanted, |(_, values)| {
            rows.push(values.map(|values| values.iter().map(|value| value.to_string()).collect()));
        });
    }
    rows
}

fn query(sql: &str, database: &str) -> SourceSpec {
    SourceSpec::Query(QuerySpec {
        sql: sql.to_owned(),
        database: SecretString::from(database.to_owned()),
    })
}

/// The error of opening or reading `spec` to the end, as text.
fn read_error(spec: &SourceSpec) -> String {
    let source = match SegmentSource::open(spec) {
        Ok(source) => source,
        Err(error) => return format!("{error:#}"),
    };
    let wanted: Vec<usize> = (0..source.columns().len()).collect();
    for chunk in source.into_chunks(&wanted) {
        if let Err(error) = chunk {
            return error.to_string();
        }
    }
    panic!("{spec:?} read without error");
}

fn rows_and_error(spec: &SourceSpec) -> (usize, String) {
    let source = SegmentSource::open(spec).expect("the query prepares");
    let wanted: Vec<usize> = (0..source.columns().len()).collect();
    let mut parser = source.row_parser();
    let mut n_rows = 0;
    for chunk in source.into_chunks(&wanted) {
        match chunk {
            Ok(chunk) => parser.for_each_row(&chunk, &wanted, |_| n_rows += 1),
            Err(error) => return (n_rows, error.to_string()),
        }
    }
    panic!("{spec:?} read without error");
}

// ---------------------------------------------------------------------------------------------
// Parquet

/// One row of the Parquet fixture: its typed values and the text a CSV export holds.
struct TypedRow {
    user_id: i64,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    /// Days since 1970-01-01, and the ISO date.
    dob: Option<(i32, &'static str)>,
    consent: Option<bool>,
    score: Option<f64>,
}

const FIXTURE_SCHEMA: &str = "message customer {
    OPTIONAL INT64 user_id;
    OPTIONAL BYTE_ARRAY email (UTF8);
    OPTIONAL BYTE_ARRAY phone (UTF8);
    OPTIONAL INT32 dob (DATE);
    OPTIONAL BOOLEAN consent;
    OPTIONAL DOUBLE score;
    OPTIONAL INT64 signup (TIMESTAMP_MILLIS);
}";

/// `n_rows` rows: varied emails and phones, some nulls, dates on both sides of 1970.
fn fixture_rows(n_rows: usize) -> Vec<TypedRow> {
    const DATES: [(i32, &str); 4] = [
        (7_441, "1990-05-17"),
        (0, "1970-01-01"),
        (11_016, "2000-02-29"),
        (-3_653, "1960-01-01"),
    ];
    const EMAILS: [&str; 5] = [
        "Ann@Example.com",
        " bob@example.org ",
        "zoë@exämple.de",
        "not an email",
        "carl@example.net",
    ];
    const PHONES: [&str; 3] = ["+1 (650) 555-1234", "06 12 34 56 78", "+44 20 7946 0958"];
    (0..n_rows)
        .map(|row_idx| TypedRow {
            user_id: 1000 + row_idx as i64,
            email: (row_idx % 7 != 3).then_some(EMAILS[row_idx % EMAILS.len()]),
            phone: (row_idx % 5 != 1).then_some(PHONES[row_idx % PHONES.len()]),
            dob: (row_idx % 4 != 2).then_some(DATES[row_idx % DATES.len()]),
            consent: match row_idx % 11 {
                0 => None,
                1 => Some(false),
                _ => Some(true),
            },
            score: (row_idx % 3 == 0).then_some(row_idx as f64 / 4.0),
        })
        .collect()
}

/// The CSV a tool would export from the fixture rows.
fn fixture_csv(rows: &[TypedRow]) -> String {
    let mut text = String::from("user_id,email,phone,dob,consent,score,signup\n");
    for row in rows {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            row.user_id,
            row.email.unwrap_or(""),
            row.phone.unwrap_or(""),
            row.dob.map_or("", |(_, iso)| iso),
            row.consent.map_or(String::new(), |flag| flag.to_string()),
            row.score.map_or(String::new(), |score| score.to_string()),
            "2024-01-02T03:04:05.006",
        ));
    }
    text
}

fn write_optional<T: DataType>(column: &mut SerializedColumnWriter<'_>, values: Vec<Option<T::T>>) {
    let levels: Vec<i16> = values
        .iter()
        .map(|value| i16::from(value.is_some()))
        .collect();
    let present: Vec<T::T> = values.into_iter().flatten().collect();
    column
        .typed::<T>()
        .write_batch(&present, Some(&levels), None)
        .expect("write a column");
}

/// Writes `rows` as a Snappy-compressed Parquet file with one row group per slice of
/// `group_sizes` rows.
fn write_parquet(path: &Path, rows: &[TypedRow], group_sizes: &[usize]) {
    let schema = Arc::new(parse_message_type(FIXTURE_SCHEMA).expect("a valid schema"));
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).expect("create the Parquet file");
    let mut writer = SerializedFileWriter::new(file, schema, properties).expect("a writer");
    let mut start = 0;
    for group_size in group_sizes {
        let group = &rows[start..(start + group_size).min(rows.len())];
        start += group_size;
        let mut group_writer = writer.next_row_group().expect("a row group");
        let mut column_idx = 0;
        while let Some(mut column) = group_writer.next_column().expect("a column") {
            match column_idx {
                0 => write_optional::<Int64Type>(
                    &mut column,
                    group.iter().map(|row| Some(row.user_id)).collect(),
                ),
                1 => write_optional::<ByteArrayType>(
                    &mut column,
                    group
                        .iter()
                        .map(|row| row.email.map(ByteArray::from))
                        .collect(),
                ),
                2 => write_optional::<ByteArrayType>(
                    &mut column,
                    group
                        .iter()
                        .map(|row| row.phone.map(ByteArray::from))
                        .collect(),
                ),
                3 => write_optional::<Int32Type>(
                    &mut column,
                    group
                        .iter()
                        .map(|row| row.dob.map(|(days, _)| days))
                        .collect(),
                ),
                4 => write_optional::<BoolType>(
                    &mut column,
                    group.iter().map(|row| row.consent).collect(),
                ),
                5 => write_optional::<DoubleType>(
                    &mut column,
                    group.iter().map(|row| row.score).collect(),
                ),
                // 2024-01-02T03:04:05.006 in milliseconds.
                _ => write_optional::<Int64Type>(
                    &mut column,
                    group.iter().map(|_| Some(1_704_164_645_006)).collect(),
                ),
            }
            column.close().expect("close a column");
            column_idx += 1;
        }
        group_writer.close().expect("close a row group");
    }
    writer.close().expect("close the Parquet file");
}

#[test]
fn parquet_rows_hash_exactly_like_the_equivalent_csv() {
    let dir = TestDir::new();
    let rows = fixture_rows(20_000);
    let parquet = dir.path("customers.parquet");
    // Uneven row groups, one larger than a chunk, one tiny.
    write_parquet(&parquet, &rows, &[9_000, 3, 10_997]);
    let csv = dir.write("customers.csv", fixture_csv(&rows));

    let (parquet_members, parquet_rejects) =
        hash_all(SegmentSource::open_files(&parquet, None).expect("the Parquet file opens"));
    let (csv_members, csv_rejects) =
        hash_all(SegmentSource::open_files(&csv, None).expect("the CSV file opens"));
    assert_eq!(parquet_members.lines().count(), csv_members.lines().count());
    assert!(
        parquet_members.lines().count() > 10_000,
        "most rows are members"
    );
    assert_eq!(parquet_members, csv_members);
    assert_eq!(
        reject_reasons(&parquet_rejects),
        reject_reasons(&csv_rejects)
    );
    assert!(
        !reject_reasons(&parquet_rejects).is_empty(),
        "some rows are rejected"
    );
    // Parquet rejects name the row number: row 1 (user 1000) has no consent.
    assert!(
        parquet_rejects
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1,1000,")
    );

    // The binary reads the file by its extension and prints the same output.
    let from_parquet = audsync(["hash", arg(&parquet)]).success();
    let from_csv = audsync(["hash", arg(&csv)]).success();
    assert_eq!(from_parquet.stdout, from_csv.stdout);
    assert_eq!(from_parquet.stdout, csv_members);
}

#[test]
fn parquet_values_are_text_with_iso_dates_and_nulls_empty() {
    let dir = TestDir::new();
    let rows = fixture_rows(12);
    let parquet = dir.path("typed.parquet");
    write_parquet(&parquet, &rows, &[5, 7]);
    let source = SegmentSource::open_files(&parquet, None).unwrap();
    assert_eq!(
        source.columns(),
        [
            "user_id", "email", "phone", "dob", "consent", "score", "signup"
        ]
    );
    let read = values(
        source,
        &["signup", "dob", "consent", "score", "user_id", "email"],
    );
    assert_eq!(read.len(), 12);
    let text = |row: usize| read[row].as_ref().unwrap().join("|");
    assert_eq!(
        text(0),
        "2024-01-02T03:04:05.006|1990-05-17||0|1000|Ann@Example.com"
    );
    assert_eq!(
        text(2),
        "2024-01-02T03:04:05.006||true||1002|zoë@exämple.de"
    );
    assert_eq!(
        text(3),
        "2024-01-02T03:04:05.006|1960-01-01|true|0.75|1003|"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_a_clear_error() {
    let dir = TestDir::new();
    let fake = dir.write("fake.parquet", "user_id,email\n1,a@b.co\n");
    let run = audsync(["hash", arg(&fake)]);
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr
            .contains("fake.parquet is not a readable Parquet file"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Globs

#[test]
fn a_glob_reads_every_file_in_sorted_order_as_one_segment() {
    let dir = TestDir::new();
    let exports = dir.path("exports");
    std::fs::create_dir(&exports).unwrap();
    let part = |name: &str, text: &str| std::fs::write(exports.join(name), text).unwrap();
    // Each file keeps its own delimiter.
    part("b.csv", "ref;email\nu3;c@example.com\nu4;\n");
    part("a.csv", "ref,email\nu1,a@example.com\nu2,b@example.com\n");
    part("notes.txt", "not part of the glob\n");
    let whole = dir.write(
        "whole.csv",
        "ref,email\nu1,a@example.com\nu2,b@example.com\nu3,c@example.com\nu4,\n",
    );

    let pattern = exports.join("*.csv");
    let glob_rejects = dir.path("glob-rejects.csv");
    let whole_rejects = dir.path("whole-rejects.csv");
    let args = |input: &Path, rejects: &Path| -> Vec<String> {
        [
            "hash",
            arg(input),
            "--user-id-column",
            "ref",
            "--rejects",
            arg(rejects),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = audsync(args(&pattern, &glob_rejects)).success();
    let expected = audsync(args(&whole, &whole_rejects)).success();
    assert_eq!(run.stdout, expected.stdout);
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    // The reject of u4 names its file and line there.
    let whole_text = dir.read("whole-rejects.csv");
    assert!(whole_text.contains("\n5,u4,"), "{whole_text}");
    assert_eq!(
        dir.read("glob-rejects.csv"),
        whole_text.replace("\n5,u4,", "\nb.csv:3,u4,")
    );
}

#[test]
fn a_glob_whose_files_disagree_on_columns_names_the_file() {
    let dir = TestDir::new();
    dir.write("part-1.csv", "user_id,email\nu1,a@example.com\n");
    dir.write("part-2.csv", "user_id,mail\nu2,b@example.com\n");
    let pattern = dir.path("part-*.csv");
    let run = audsync(["hash", arg(&pattern)]);
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr
            .contains("part-2.csv: its columns (user_id, mail)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("same header"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing is hashed: {}", run.stdout);

    let nothing = audsync(["hash", arg(&dir.path("none-*.csv"))]);
    assert_ne!(nothing.code, Some(0));
    assert!(
        nothing.stderr.contains("no file matches"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn a_glob_of_parquet_files_reads_each_row_group_of_each_file() {
    let dir = TestDir::new();
    let rows = fixture_rows(300);
    write_parquet(&dir.path("p-1.parquet"), &rows[..120], &[50, 70]);
    write_parquet(&dir.path("p-2.parquet"), &rows[120..], &[100, 80]);
    let csv = dir.write("all.csv", fixture_csv(&rows));
    let (glob_members, glob_rejects) =
        hash_all(SegmentSource::open_files(&dir.path("p-*.parquet"), None).unwrap());
    let (csv_members, csv_rejects) = hash_all(SegmentSource::open_files(&csv, None).unwrap());
    assert_eq!(glob_members, csv_members);
    assert_eq!(reject_reasons(&glob_rejects), reject_reasons(&csv_rejects));
    assert!(glob_rejects.contains("\np-2.parquet:"), "{glob_rejects}");
}

// ---------------------------------------------------------------------------------------------
// SQLite

/// A connection to the SQLite database at `url`, creating the file if missing.
async fn sqlite_connection(url: &str) -> sqlx::SqliteConnection {
    let options = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

/// A SQLite database file with a typed `customers` table.
async fn sqlite_customers(dir: &Path) -> String {
    let path = dir.join("crm.db");
    let url = format!("sqlite://{}", path.display());
    let mut connection = sqlite_connection(&url).await;
    sqlx::raw_sql(
        "CREATE TABLE customers (id INTEGER, email TEXT, phone TEXT, dob DATE, signup DATETIME,
                                 consent BOOLEAN, balance REAL, note BLOB);
         INSERT INTO customers VALUES
           (1, 'Ann@Example.com', '+1 650 555 0101', '1990-05-17', '2024-01-02 03:04:05', 1, 12.5, x'6869'),
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (3, 'bob@example.org', '+44 20 7946 0958', '1960-01-01', NULL, 0, -0.25, x'ff'),
           (4, 'carl@example.net', NULL, '2000-02-29', NULL, 1, 3, NULL);",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_query_values_are_typed_text_and_null_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_customers(dir.path()).await;
    let spec = query(
        "SELECT id AS user_id, email, phone, dob, signup, consent, balance, note \
         FROM customers ORDER BY id",
        &url,
    );
    let source = SegmentSource::open(&spec).expect("the query prepares");
    assert_eq!(source.name(), format!("query on {url}"));
    let read = values(
        source,
        &[
            "user_id", "email", "dob", "signup", "consent", "balance", "note",
        ],
    );
    let text = |row: usize| read[row].as_ref().map(|values| values.join("|"));
    assert_eq!(
        text(0).unwrap(),
        "1|Ann@Example.com|1990-05-17|2024-01-02 03:04:05|true|12.5|hi"
    );
    assert_eq!(text(1).unwrap(), "2||||||");
    // A blob that is not text fails its row only, naming the column.
    assert_eq!(
        read[2],
        Err(RowError::InvalidUtf8 {
            column: "note".to_owned()
        })
    );
    assert_eq!(text(3).unwrap(), "4|carl@example.net|2000-02-29||true|3|");

    // Hashed like the same rows in a CSV file.
    let csv = dir.path().join("same.csv");
    std::fs::write(
        &csv,
        "user_id,email,phone,dob,consent\n\
         1,Ann@Example.com,+1 650 555 0101,1990-05-17,true\n\
         2,,,,\n\
         3,bob@example.org,+44 20 7946 0958,1960-01-01,false\n\
         4,carl@example.net,,2000-02-29,true\n",
    )
    .unwrap();
    let sql = "SELECT id AS user_id, email, phone, dob, consent FROM customers ORDER BY id";
    let (sql_members, sql_rejects) = hash_all(SegmentSource::open(&query(sql, &url)).unwrap());
    let (csv_members, csv_rejects) = hash_all(SegmentSource::open_files(&csv, None).unwrap());
    assert_eq!(sql_members, csv_members);
    assert_eq!(sql_members.lines().count(), 3, "{sql_members}");
    assert_eq!(reject_reasons(&sql_rejects), reject_reasons(&csv_rejects));
    assert!(
        sql_rejects.starts_with("line,user_id,reason\n2,2,"),
        "{sql_rejects}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_errors_are_clear_and_queries_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_customers(dir.path()).await;

    let broken = read_error(&query("SELECT nope FROM missing_table", &url));
    assert!(broken.contains("the query failed"), "{broken}");
    assert!(broken.contains("missing_table"), "{broken}");

    let missing = format!("sqlite://{}", dir.path().join("absent.db").display());
    let absent = read_error(&query("SELECT 1 AS user_id", &missing));
    assert!(absent.contains("cannot open the database"), "{absent}");
    assert!(
        !dir.path().join("absent.db").exists(),
        "no database is created"
    );

    let write = read_error(&query(
        "DELETE FROM customers RETURNING id AS user_id, email",
        &url,
    ));
    assert!(write.contains("readonly"), "{write}");
    let mut connection = sqlite_connection(&url).await;
    let (n_rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM customers")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(n_rows, 4, "the rows are still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_stream_before_a_late_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_customers(dir.path()).await;
    // Row 50,000 fails: rows before it arrive first (a `fetch_all` would give only the error).
    let spec = query(
        "WITH RECURSIVE serial(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM serial WHERE n < 60000) \
         SELECT n AS user_id, 'u' || n || '@example.com' AS email, \
                CASE WHEN n = 50000 THEN json('{' || n) END AS dob \
         FROM serial",
        &url,
    );
    let (n_rows, error) = rows_and_error(&spec);
    assert!(
        (40_000..50_000).contains(&n_rows),
        "{n_rows} rows before the error"
    );
    assert!(
        error.contains("the query failed while reading rows"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_CUSTOMERS: &str = "
    CREATE TYPE tier AS ENUM ('gold', 'silver');
    CREATE DOMAIN email_address AS text;
    CREATE TABLE customers (
        id bigint, email email_address, phone varchar(40), dob date, signup timestamptz,
        last_seen timestamp, consent boolean, balance numeric(10, 2), ratio real,
        ref uuid, level tier, age smallint);
    INSERT INTO customers VALUES
        (1, 'Ann@Example.com', '+1 650 555 0101', '1990-05-17', '2024-01-02 03:04:05.5+02',
         '2024-01-02 03:04:05', true, 12.5, 0.25, '00010203-0405-0607-0809-0a0b0c0d0e0f',
         'gold', 34),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 'bob@example.org', '+44 20 7946 0958', '1960-01-01', NULL, NULL, false, -0.01,
         NULL, NULL, 'silver', NULL);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_columns_are_decoded_by_type() {
    let db = PgSchema::create().await;
    db.execute(PG_CUSTOMERS).await;
    let spec = query(
        "SELECT id AS user_id, email, phone, dob, signup, last_seen, consent, balance, ratio, \
                ref, level, age FROM customers ORDER BY id",
        &db.url,
    );
    let source = SegmentSource::open(&spec).expect("the query prepares");
    assert!(
        source.name().starts_with("query on postgres://"),
        "{}",
        source.name()
    );
    assert!(!source.name().contains("search_path"), "{}", source.name());
    let read = values(
        source,
        &[
            "user_id",
            "email",
            "dob",
            "signup",
            "last_seen",
            "consent",
            "balance",
            "ratio",
            "ref",
            "level",
            "age",
        ],
    );
    let text = |row: usize| read[row].as_ref().unwrap().join("|");
    assert_eq!(
        text(0),
        "1|Ann@Example.com|1990-05-17|2024-01-02T01:04:05.5Z|2024-01-02T03:04:05|true|12.50|0.25|\
         00010203-0405-0607-0809-0a0b0c0d0e0f|gold|34"
    );
    assert_eq!(text(1), "2||||||||||");
    assert_eq!(
        text(2),
        "3|bob@example.org|1960-01-01|||false|-0.01|||silver|"
    );

    // Hashed like the same rows in a CSV file.
    let dir = TestDir::new();
    let csv = dir.write(
        "same.csv",
        "user_id,email,phone,dob,consent\n\
         1,Ann@Example.com,+1 650 555 0101,1990-05-17,true\n\
         2,,,,\n\
         3,bob@example.org,+44 20 7946 0958,1960-01-01,false\n",
    );
    let sql = "SELECT id AS user_id, email, phone, dob, consent FROM customers ORDER BY id";
    let (sql_members, sql_rejects) = hash_all(SegmentSource::open(&query(sql, &db.url)).unwrap());
    let (csv_members, csv_rejects) = hash_all(SegmentSource::open_files(&csv, None).unwrap());
    assert_eq!(sql_members, csv_members);
    assert_eq!(sql_members.lines().count(), 2, "{sql_members}");
    assert_eq!(reject_reasons(&sql_rejects), reject_reasons(&csv_rejects));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_are_clear_and_queries_cannot_write() {
    let db = PgSchema::create().await;
    db.execute(PG_CUSTOMERS).await;

    let broken = read_error(&query("SELECT nope FROM missing_table", &db.url));
    assert!(broken.contains("the query failed"), "{broken}");
    assert!(broken.contains("missing_table"), "{broken}");
    assert!(broken.contains("does not exist"), "{broken}");

    let unsupported = read_error(&query(
        "SELECT id AS user_id, interval '1 day' * id AS wait FROM customers",
        &db.url,
    ));
    assert!(
        unsupported.contains("cannot read column wait"),
        "{unsupported}"
    );
    assert!(unsupported.contains("::text"), "{unsupported}");

    let write = read_error(&query(
        "DELETE FROM customers RETURNING id AS user_id, email",
        &db.url,
    ));
    assert!(write.contains("read-only transaction"), "{write}");
    assert_eq!(db.count("customers").await, 3, "the rows are still there");

    let unreachable = read_error(&query(
        "SELECT 1 AS user_id",
        "postgres://u:secret@127.0.0.1:1/x",
    ));
    assert!(unreachable.contains("cannot connect"), "{unreachable}");
    assert!(!unreachable.contains("secret"), "{unreachable}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_stream_and_late_errors_hide_values() {
    let db = PgSchema::create().await;
    // Row 100,000 fails on a value that looks like PII: rows before it arrive first (a
    // `fetch_all` would give only the error), and the error does not quote the value.
    let spec = query(
        "SELECT g AS user_id, 'u' || g || '@example.com' AS email, \
                CASE WHEN g = 100000 THEN ('leaked.' || g || '@example.com')::date END AS dob \
         FROM generate_series(1, 120000) AS g",
        &db.url,
    );
    let (n_rows, error) = rows_and_error(&spec);
    assert!(
        (80_000..100_000).contains(&n_rows),
        "{n_rows} rows before the error"
    );
    assert!(
        error.contains("invalid input syntax for type date"),
        "{error}"
    );
    assert!(!error.contains("leaked"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Sync reads every kind of source

/// The harness's spec for `people`, reading `source` instead of its CSV file.
fn spec_reading(
    harness: &SyncHarness,
    name: &str,
    source: SourceSpec,
) -> audsync::sync::SegmentSpec {
    let mut spec = harness.spec(name, &[]);
    spec.source = source;
    spec
}

/// A SQLite table of `people` (the harness's columns).
async fn sqlite_people(path: &Path, people: &[Customer]) -> String {
    let url = format!("sqlite://{}", path.display());
    let mut connection = sqlite_connection(&url).await;
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS people;
         CREATE TABLE people (user_id TEXT, email TEXT, phone TEXT, consent TEXT)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    for person in people {
        sqlx::query("INSERT INTO people VALUES ($1, $2, $3, $4)")
            .bind(&person.user_id)
            .bind(&person.email)
            .bind(&person.phone)
            .bind(person.consent)
            .execute(&mut connection)
            .await
            .unwrap();
    }
    connection.close().await.unwrap();
    url
}

#[test]
fn sync_follows_a_sqlite_query_as_it_changes() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let db_path = harness.dir.path().join("crm.db");
        let people = customers(0..400);
        let url = sqlite_people(&db_path, &people).await;
        let spec = spec_reading(
            &harness,
            "sqlite",
            query("SELECT user_id, email, phone, consent FROM people", &url),
        );
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!((report.rows_read, report.added), (400, 400));
        let audience_id = harness.audiences().await["CA_sqlite"].clone();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );

        // 40 leave, 25 enter.
        let people = customers(40..425);
        sqlite_people(&db_path, &people).await;
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!((report.added, report.removed), (25, 40), "{report}");
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
    });
}

#[test]
fn sync_reads_postgres_parquet_and_globs() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let people = customers(0..300);

        // PostgreSQL.
        let db = PgSchema::create().await;
        db.execute("CREATE TABLE people (user_id text, email text, phone text, consent boolean)")
            .await;
        let mut insert = String::from("INSERT INTO people VALUES ");
        for (idx, person) in people.iter().enumerate() {
            if idx > 0 {
                insert.push(',');
            }
            insert.push_str(&format!(
                "('{}', '{}', '{}', true)",
                person.user_id, person.email, person.phone
            ));
        }
        db.execute(&insert).await;
        let spec = spec_reading(
            &harness,
            "pg",
            query("SELECT user_id, email, phone, consent FROM people", &db.url),
        );
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.added, 300, "{report}");
        let audience_id = harness.audiences().await["CA_pg"].clone();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );

        // Parquet: the harness's CSV columns as a Parquet file.
        let parquet = harness.dir.path().join("people.parquet");
        write_people_parquet(&parquet, &people);
        let spec = spec_reading(&harness, "pq", SourceSpec::file(parquet));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        let audience_id = harness.audiences().await["CA_pq"].clone();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );

        // A glob of two CSV files.
        let parts = harness.dir.path().join("parts");
        std::fs::create_dir(&parts).unwrap();
        std::fs::write(
            parts.join("1.csv"),
            crate::sync_support::csv(&people[..120]),
        )
        .unwrap();
        std::fs::write(
            parts.join("2.csv"),
            crate::sync_support::csv(&people[120..]),
        )
        .unwrap();
        let spec = spec_reading(&harness, "glob", SourceSpec::file(parts.join("*.csv")));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.rows_read, 300, "{report}");
        let audience_id = harness.audiences().await["CA_glob"].clone();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
    });
}

fn write_people_parquet(path: &Path, people: &[Customer]) {
    let schema = Arc::new(
        parse_message_type(
            "message people { REQUIRED BYTE_ARRAY user_id (UTF8); REQUIRED BYTE_ARRAY email (UTF8);
             REQUIRED BYTE_ARRAY phone (UTF8); REQUIRED BOOLEAN consent; }",
        )
        .unwrap(),
    );
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut writer =
        SerializedFileWriter::new(File::create(path).unwrap(), schema, properties).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let texts: [fn(&Customer) -> &str; 3] = [
        |person| person.user_id.as_str(),
        |person| person.email.as_str(),
        |person| person.phone.as_str(),
    ];
    let mut column_idx = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        if column_idx < 3 {
            let values: Vec<ByteArray> = people
                .iter()
                .map(|person| ByteArray::from(texts[column_idx](person)))
                .collect();
            column
                .typed::<ByteArrayType>()
                .write_batch(&values, None, None)
                .unwrap();
        } else {
            let values: Vec<bool> = people
                .iter()
                .map(|person| person.consent == "yes")
                .collect();
            column
                .typed::<BoolType>()
                .write_batch(&values, None, None)
                .unwrap();
        }
        column.close().unwrap();
        column_idx += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn configured_sources_become_sync_sources() {
    let env = Environment::from_vars([("FB_ACCESS_TOKEN", "EAAtoken"), ("HOME", "/nonexistent")]);
    let text = r#"
        [[connector]]
        name = "meta"
        ad_account_id = "act_1234"
        access_token = "${FB_ACCESS_TOKEN}"

        [[segment]]
        name = "lake"
        connector = "meta"
        source = "exports/*.parquet"

        [[segment]]
        name = "crm"
        connector = "meta"
        source = { sql = "SELECT id AS user_id, email FROM customers", database = "sqlite://crm.db" }
    "#;
    let config = Config::parse(text, Path::new("/srv/audsync"), &env).expect("a valid config");
    let lake = segment_spec(&config, "lake").expect("a Parquet glob is accepted");
    assert!(matches!(
        &lake.source,
        SourceSpec::Files { path, format: Some(audsync::sources::FileFormat::Parquet) }
            if path == &PathBuf::from("/srv/audsync/exports/*.parquet")
    ));
    let crm = segment_spec(&config, "crm").expect("a query is accepted");
    let SourceSpec::Query(query) = &crm.source else {
        panic!("{:?}", crm.source);
    };
    assert_eq!(query.sql, "SELECT id AS user_id, email FROM customers");
    assert_eq!(query.redacted_database(), "sqlite:///srv/audsync/crm.db");
}
