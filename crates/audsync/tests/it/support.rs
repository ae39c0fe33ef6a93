//! Test support: runs the built `audsync` binary on files in a temporary directory; gives a
//! test a fresh PostgreSQL schema and drops it afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sqlx::Connection;

/// A temporary directory for one test's input and output files, removed on drop.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::Builder::new()
                .prefix("audsync-it-")
                .tempdir()
                .expect("create a temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to the file `name` and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write a fixture file");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read an output file")
    }
}

/// What one run of the binary did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Panics with both streams unless the run exited 0.
    pub fn success(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "audsync failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The stdout lines, split at commas (the tests' CSV holds no quoted commas).
    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .map(|line| line.split(',').map(str::to_string).collect())
            .collect()
    }
}

/// Runs `audsync ARGS…`.
pub fn audsync<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    audsync_with_stdin(args, b"")
}

/// Runs `audsync ARGS…` with `stdin` as standard input.
pub fn audsync_with_stdin<I, S>(args: I, stdin: &[u8]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_audsync"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start audsync");
    let mut child_stdin = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may exit before reading everything (e.g. on a usage error).
        let _ = child_stdin.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("wait for audsync");
    writer.join().expect("stdin writer");
    Run::from_output(output)
}

/// The path as an argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Where the PostgreSQL tests run unless `AUDSYNC_TEST_POSTGRES_URL` says otherwise.
const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://127.0.0.1:5432/test";

/// A PostgreSQL schema created for one test and dropped (with everything in it) when this value
/// is dropped.
pub struct PgSchema {
    admin_url: String,
    schema: String,
    /// The database URL whose search path is the schema.
    pub url: String,
}

impl PgSchema {
    /// Creates a schema with a new name in the database at `AUDSYNC_TEST_POSTGRES_URL`
    /// (default [`DEFAULT_TEST_POSTGRES_URL`]).
    pub async fn create() -> PgSchema {
        let admin_url = std::env::var("AUDSYNC_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        let admin_url = with_default_user(&admin_url);
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is not reachable at {admin_url} ({error}). The PostgreSQL tests \
                     need it: start PostgreSQL (scripts/test does) or point \
                     AUDSYNC_TEST_POSTGRES_URL at a database where this user may create schemas."
                )
            });
        let schema = format!("audsync_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.ok();
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        PgSchema {
            admin_url,
            schema,
            url,
        }
    }

    /// Runs `sql` (one or more statements) in the schema.
    pub async fn execute(&self, sql: &str) {
        let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        connection.close().await.ok();
    }

    /// The number of rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let (count,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut connection)
                .await
                .unwrap();
        connection.close().await.ok();
        count
    }
}

/// The URL with a user name: `PGUSER`, else `USER`, else `postgres`, when it names none
/// (sqlx's own fallback finds no name on some machines and logs in as "anonymous").
fn with_default_user(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.username().is_empty() {
        let user = ["PGUSER", "USER"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|user| !user.is_empty())
            .unwrap_or_else(|| "postgres".to_owned());
        if parsed.set_username(&user).is_ok() {
            return parsed.to_string();
        }
    }
    url.to_owned()
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP SCHEMA {} CASCADE", self.schema);
        // Drop may run inside a test's runtime, which must not block on itself: drop the schema
        // from a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop test schema {}: {dropped:?}", self.schema);
        }
    }
}
