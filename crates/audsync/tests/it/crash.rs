//! Crash injection: the real `audsync sync` binary is killed (SIGKILL) at random moments, and
//! aborted at the worst one (Meta accepted a batch, the store did not commit it), with the
//! segment's source churning between runs; a final run must leave the emulator's audience
//! holding exactly the segment's members.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use audsync::store::{Backend, Store};
use audsync::sync::CRASH_AFTER_BATCHES_ENV;
use audsync_emulator::{DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, Scenario};

use crate::support::PgSchema;
use crate::sync_support::{
    Customer, SyncHarness, assert_same_keys, csv, customers, expected_emails, multi_thread,
    phone_hash,
};

/// The environment variable the test config reads the token from.
const TOKEN_ENV: &str = "AUDSYNC_CRASH_TEST_TOKEN";

/// Seed of the kill delays and the churn; set `AUDSYNC_CRASH_SEED` to replay a run.
const DEFAULT_SEED: u64 = 0x5EED_CA5E;

/// A small xorshift generator: the test needs reproducible numbers, not good ones.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// Writes `audsync.toml` for segment `crash` reading `users.csv`, against the emulator.
fn write_config(dir: &Path, graph_url: &str) -> PathBuf {
    write_config_with_store(dir, graph_url, "sqlite://state.db")
}

/// [`write_config`] with another store.
fn write_config_with_store(dir: &Path, graph_url: &str, store_url: &str) -> PathBuf {
    let config = format!(
        r#"store = "{store_url}"

[[connector]]
name = "meta"
ad_account_id = "{DEFAULT_AD_ACCOUNT_ID}"
access_token = "${{{TOKEN_ENV}}}"
graph_url = "{graph_url}"
access_tier = "full"

[[segment]]
name = "crash"
connector = "meta"
source = "users.csv"
user_id_column = "user_id"
mapping = {{ email = "EMAIL", phone = "PHONE" }}
consent_column = "consent"
default_country = "US"
mode = "mirror"
"#
    );
    let path = dir.join("audsync.toml");
    std::fs::write(&path, config).expect("write the config");
    path
}

fn spawn_sync(config: &Path, crash_after: Option<u32>) -> Child {
    spawn_sync_with(config, crash_after, &[])
}

fn spawn_sync_with(config: &Path, crash_after: Option<u32>, extra_args: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audsync"));
    command
        .args(["sync", "crash", "--quiet", "--config"])
        .arg(config)
        .args(extra_args)
        .env(TOKEN_ENV, DEFAULT_ACCESS_TOKEN)
        .env_remove(CRASH_AFTER_BATCHES_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(n_batches) = crash_after {
        command.env(CRASH_AFTER_BATCHES_ENV, n_batches.to_string());
    }
    command.spawn().expect("the audsync binary starts")
}

/// Runs a sync to its end and returns (exit code, stdout, stderr).
fn run_sync(config: &Path, crash_after: Option<u32>) -> (Option<i32>, String, String) {
    run_sync_with(config, crash_after, &[])
}

fn run_sync_with(
    config: &Path,
    crash_after: Option<u32>,
    extra_args: &[&str],
) -> (Option<i32>, String, String) {
    let output = spawn_sync_with(config, crash_after, extra_args)
        .wait_with_output()
        .expect("the sync ends");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Members of the final source, and the emulator's and store's view of the audience.
async fn assert_exact(harness: &SyncHarness, dir: &Path, people: &[Customer]) {
    let store_url = format!("sqlite://{}", dir.join("state.db").display());
    assert_exact_in(harness, &store_url, people).await;
}

/// [`assert_exact`] with the store at `store_url`.
async fn assert_exact_in(harness: &SyncHarness, store_url: &str, people: &[Customer]) {
    let audience_id = harness
        .audiences()
        .await
        .get("CA_crash")
        .cloned()
        .expect("CA_crash exists");
    let expected = expected_emails(people);
    assert_same_keys(&harness.member_emails(&audience_id).await, &expected);
    // Row for row: each member's (EMAIL, PHONE), as many times as Meta holds it.
    let mut at_meta: Vec<(String, String)> = harness
        .members(&audience_id)
        .await
        .into_iter()
        .map(|member| {
            let key = |name: &str| member.get(name).cloned().unwrap_or_default();
            (key("EMAIL"), key("PHONE"))
        })
        .collect();
    let mut rows: Vec<(String, String)> = people
        .iter()
        .filter(|customer| customer.consent == "yes")
        .filter_map(|customer| Some((customer.email_hash()?, phone_hash(customer))))
        .collect();
    at_meta.sort_unstable();
    rows.sort_unstable();
    assert!(
        at_meta == rows,
        "Meta holds {} rows, {} expected",
        at_meta.len(),
        rows.len()
    );
    let store = Store::connect(store_url).await.expect("the store opens");
    assert_eq!(
        store.member_count("crash").await.unwrap(),
        rows.len() as u64
    );
    assert!(store.unsettled_batches("crash").await.unwrap().is_empty());
    store.close().await;
}

/// A harness whose emulator answers after 10 to 80 ms (so kills land during requests too).
async fn slow_harness() -> SyncHarness {
    let scenario = Scenario {
        name: "crash-latency".to_owned(),
        latency: Some(audsync_emulator::LatencySettings {
            min_ms: 10,
            max_ms: 80,
        }),
        ..Scenario::default()
    };
    let mut config = crate::sync_support::emulator_config();
    config.scenarios.push(scenario);
    SyncHarness::start_with(config).await
}

#[test]
fn a_crash_between_acceptance_and_commit_loses_nothing() {
    crash_before_a_commit_then_rerun(Backend::Sqlite, Rerun::OnTheSameHost);
}

/// A run on another host sharing the store settles what a run that died on the first host left
/// (the store keeps the in-flight rows, the spool folder holds nothing a rerun needs).
#[test]
fn a_batch_interrupted_on_one_host_is_settled_from_another_on_sqlite() {
    crash_before_a_commit_then_rerun(Backend::Sqlite, Rerun::OnAnotherHost);
}

/// [`a_batch_interrupted_on_one_host_is_settled_from_another_on_sqlite`] on PostgreSQL, the
/// store that several hosts really share.
#[test]
fn a_batch_interrupted_on_one_host_is_settled_from_another_on_postgresql() {
    crash_before_a_commit_then_rerun(Backend::Postgres, Rerun::OnAnotherHost);
}

/// Where the run after a crash runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rerun {
    OnTheSameHost,
    /// From another folder with its own config and spool folder, after the first host's spool
    /// folder is gone.
    OnAnotherHost,
}

/// A first sync of 25,000 users dies after Meta accepted batches 1 and 2 and before batch 2 was
/// committed; users of that batch leave or change their email; the rerun must leave Meta
/// holding exactly the segment.
fn crash_before_a_commit_then_rerun(backend: Backend, rerun: Rerun) {
    let runtime = multi_thread();
    let harness = runtime.block_on(SyncHarness::start());
    let postgres = (backend == Backend::Postgres).then(|| runtime.block_on(PgSchema::create()));
    let dir = harness.dir.path();
    let store_url = match &postgres {
        Some(schema) => schema.url.clone(),
        None => format!("sqlite://{}", dir.join("state.db").display()),
    };
    let graph_url = harness.emulator.base_url();
    let config = write_config_with_store(dir, &graph_url, &store_url);
    let people = customers(0..25_000);
    std::fs::write(dir.join("users.csv"), csv(&people)).unwrap();

    // Batches 1 and 2 (users 0..20,000 in source order) are accepted; batch 2 is never
    // committed.
    let (code, _, stderr) = run_sync(&config, Some(2));
    assert_eq!(code, None, "the test hook aborts the process: {stderr}");
    assert!(stderr.contains(CRASH_AFTER_BATCHES_ENV), "{stderr}");
    runtime.block_on(async {
        let audience_id = harness.audiences().await["CA_crash"].clone();
        assert_eq!(harness.members(&audience_id).await.len(), 20_000);
        let store = Store::connect(&store_url).await.unwrap();
        assert_eq!(store.member_count("crash").await.unwrap(), 10_000);
        let unsettled = store.unsettled_batches("crash").await.unwrap();
        assert_eq!(unsettled.len(), 1);
        // The batch's rows are in the store, for whichever host runs next.
        let inflight = unsettled[0].inflight.as_ref().expect("its in-flight rows");
        assert_eq!(inflight.rows.len(), 10_000);
        store.close().await;
    });

    let rerun_config = match rerun {
        Rerun::OnTheSameHost => config,
        Rerun::OnAnotherHost => {
            // The first host's spool folder (beside an SQLite store, else beside the config)
            // holds nothing after the crash; it goes, and the rerun runs from elsewhere.
            let spool_folder = match backend {
                Backend::Sqlite => dir.join("state.db.spool"),
                Backend::Postgres => dir.join(".audsync-spool"),
            };
            let left_behind = std::fs::read_dir(&spool_folder)
                .expect("the first host's spool folder")
                .count();
            assert_eq!(left_behind, 0, "{}", spool_folder.display());
            std::fs::remove_dir_all(&spool_folder).unwrap();
            let other_host = dir.join("other-host");
            std::fs::create_dir(&other_host).unwrap();
            write_config_with_store(&other_host, &graph_url, &store_url)
        }
    };

    // Before the rerun, some users of the uncommitted batch leave and some change their
    // email: Meta holds rows the store never heard of.
    let mut churned: Vec<Customer> = people
        .iter()
        .filter(|customer| {
            let n: usize = customer.user_id[1..].parse().unwrap();
            !(10_000..10_100).contains(&n)
        })
        .cloned()
        .collect();
    for customer in churned.iter_mut().skip(10_100).take(50) {
        customer.email = format!("moved.{}@example.org", customer.user_id);
    }
    let rerun_dir = rerun_config.parent().expect("the config's folder");
    std::fs::write(rerun_dir.join("users.csv"), csv(&churned)).unwrap();
    let (code, stdout, stderr) = run_sync(&rerun_config, None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("after an interruption"), "{stdout}");
    assert!(
        !stdout.contains("--replace"),
        "no warning to replace: {stdout}"
    );
    runtime.block_on(assert_exact_in(&harness, &store_url, &churned));
}

#[test]
fn an_interrupted_replace_is_replaced_again_by_the_next_run() {
    let runtime = multi_thread();
    let harness = runtime.block_on(SyncHarness::start());
    let dir = harness.dir.path();
    let config = write_config(dir, &harness.emulator.base_url());
    std::fs::write(dir.join("users.csv"), csv(&customers(0..25_000))).unwrap();
    let (code, stdout, stderr) = run_sync(&config, None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");

    // A replace with other users dies after Meta accepted its second batch: the session stays
    // open at Meta with 20,000 rows staged, the audience still holds the old members.
    let replacement = customers(5_000..30_000);
    std::fs::write(dir.join("users.csv"), csv(&replacement)).unwrap();
    let (code, _, stderr) = run_sync_with(&config, Some(2), &["--replace"]);
    assert_eq!(code, None, "the test hook aborts the process: {stderr}");
    let audience_id = runtime.block_on(harness.audiences())["CA_crash"].clone();
    runtime.block_on(async {
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&customers(0..25_000)),
        );
    });

    // Users leave before the rerun. A plain sync (mode mirror) must finish the replace: it
    // closes the open session and replaces again with the segment as it is now.
    let people = customers(6_000..30_000);
    std::fs::write(dir.join("users.csv"), csv(&people)).unwrap();
    let (code, stdout, stderr) = run_sync(&config, None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("mode replace"), "{stdout}");
    assert!(
        stdout.contains("a replace of this segment was interrupted"),
        "{stdout}"
    );
    runtime.block_on(assert_exact(&harness, dir, &people));
    // The replace is complete: the next run is an ordinary mirror run with nothing to do.
    let (code, stdout, _) = run_sync(&config, None);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("mode mirror"), "{stdout}");
}

#[test]
fn random_kills_with_churn_converge_to_the_segment() {
    let seed = std::env::var("AUDSYNC_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("crash test seed {seed} (replay with AUDSYNC_CRASH_SEED={seed})");
    let mut rng = Rng(seed | 1);
    let runtime = multi_thread();
    let harness = runtime.block_on(slow_harness());
    let dir = harness.dir.path();
    let config = write_config(dir, &harness.emulator.base_url());
    let mut people = customers(0..24_000);
    std::fs::write(dir.join("users.csv"), csv(&people)).unwrap();
    let mut next_user = 24_000;
    let n_rounds = 12;
    let mut max_at_meta = 0;
    for round in 0..n_rounds {
        if round % 2 == 1 {
            // Churn: some leave, some enter, some change email, one withdraws consent.
            let n_leave = rng.below(800) as usize;
            for _ in 0..n_leave {
                let victim = rng.below(people.len() as u64) as usize;
                people.swap_remove(victim);
            }
            let n_enter = rng.below(1_200) as usize;
            for n in next_user..next_user + n_enter {
                let mut customer = Customer::numbered(n);
                // One in eight shares the email of someone already in (a household).
                if rng.below(8) == 0 {
                    let other = rng.below(people.len() as u64) as usize;
                    customer.email = people[other].email.clone();
                }
                people.push(customer);
            }
            next_user += n_enter;
            for _ in 0..rng.below(400) {
                let changed = rng.below(people.len() as u64) as usize;
                people[changed].email = format!("r{round}.{}@example.net", people[changed].user_id);
            }
            let withdrawn = rng.below(people.len() as u64) as usize;
            people[withdrawn].consent = "no";
            std::fs::write(dir.join("users.csv"), csv(&people)).unwrap();
        }
        let delay = Duration::from_millis(rng.below(4_000));
        let mut child = spawn_sync(&config, None);
        std::thread::sleep(delay);
        let finished = child
            .try_wait()
            .expect("the child can be waited on")
            .is_some();
        child.kill().ok();
        child.wait().expect("the child ends");
        let n_at_meta = runtime.block_on(async {
            match harness.audiences().await.get("CA_crash") {
                Some(audience_id) => harness.members(audience_id).await.len(),
                None => 0,
            }
        });
        max_at_meta = max_at_meta.max(n_at_meta);
        eprintln!(
            "round {round}: {} users in the source, {} at Meta, {} after {delay:?}",
            people.len(),
            n_at_meta,
            if finished { "finished" } else { "killed" },
        );
    }
    // The kills must have hit runs that were sending, or the test proves nothing.
    assert!(max_at_meta > 0, "no run reached Meta before it was killed");
    let (code, stdout, stderr) = run_sync(&config, None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    runtime.block_on(assert_exact(&harness, dir, &people));
}

/// Users who leave share their email with users who stay, half of them their phone too (so
/// their rows go whole and take the stayers holding those values out at Meta); the run dies
/// right after such a removal (before its commit, and after it with the re-adds not yet sent).
/// The rerun must still re-add everyone who stays.
#[test]
fn a_crash_after_a_removal_that_took_along_staying_users_loses_nobody() {
    let runtime = multi_thread();
    for crash_after in [1, 2] {
        let harness = runtime.block_on(SyncHarness::start());
        let dir = harness.dir.path();
        let config = write_config(dir, &harness.emulator.base_url());
        let stay = customers(0..300);
        let leave: Vec<Customer> = (0..20)
            .map(|n| {
                let own = Customer::numbered(1_000 + n);
                Customer {
                    email: stay[n * 7].email.clone(),
                    phone: if n % 2 == 0 {
                        stay[n * 7 + 3].phone.clone()
                    } else {
                        own.phone.clone()
                    },
                    ..own
                }
            })
            .collect();
        let everyone: Vec<Customer> = stay.iter().chain(&leave).cloned().collect();
        std::fs::write(dir.join("users.csv"), csv(&everyone)).unwrap();
        let (code, stdout, stderr) = run_sync(&config, None);
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");

        // The leavers go and new users come (so that an add batch follows the removals).
        let people: Vec<Customer> = stay
            .iter()
            .cloned()
            .chain(customers(2_000..2_050))
            .collect();
        std::fs::write(dir.join("users.csv"), csv(&people)).unwrap();
        let (code, _, stderr) = run_sync(&config, Some(crash_after));
        assert_eq!(code, None, "the test hook aborts the process: {stderr}");
        let audience_id = runtime.block_on(harness.audiences())["CA_crash"].clone();
        let at_meta = runtime.block_on(harness.member_emails(&audience_id));
        assert!(
            !at_meta.contains(&stay[0].email_hash().unwrap()),
            "the removal took u0 along (it shares an email with a leaver)"
        );

        let (code, stdout, stderr) = run_sync(&config, None);
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");
        runtime.block_on(assert_exact(&harness, dir, &people));
    }
}
