//! `sync::run` and `sync::plan` end to end against a spawned emulator and an SQLite store:
//! first sync, incremental adds, removals and changes, rejects, consent withdrawal, modes,
//! replace, the schema lock, Meta's errors, the lease.

use std::time::Duration;

use audsync::sync::{MATCHING_NOTE, Outcome, SyncMode};
use audsync_emulator::EmulatorConfig;

use crate::sync_support::{
    Customer, SyncHarness, assert_same_keys, customers, emulator_config, expected_emails,
    multi_thread,
};

#[test]
fn first_sync_creates_the_audience_and_uploads_every_member() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let mut people = customers(0..250);
        people.push(Customer::thin(1));
        people.push(Customer::thin(2));
        let spec = harness.spec("news", &people);
        let report = harness.sync(&spec).await;

        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert!(report.audience_created);
        let audiences = harness.audiences().await;
        let audience_id = audiences.get("CA_news").expect("CA_news was created");
        assert_eq!(report.audience_id.as_deref(), Some(audience_id.as_str()));
        assert_same_keys(
            &harness.member_emails(audience_id).await,
            &expected_emails(&people),
        );
        assert_eq!(
            (
                report.rows_read,
                report.members,
                report.rejected,
                report.added
            ),
            (252, 250, 2, 250)
        );
        assert_eq!(report.rejected_by_reason.values().sum::<u64>(), 2);
        assert_eq!(harness.store.member_count("news").await.unwrap(), 250);
        assert!(report.to_string().contains(MATCHING_NOTE));
        let last = harness.store.last_run("news").await.unwrap().unwrap();
        assert_eq!(last.report.unwrap()["added"], 250);

        // A rerun with nothing changed sends nothing.
        let rerun = harness.sync(&spec).await;
        assert_eq!(rerun.outcome, Outcome::Succeeded, "{rerun}");
        assert_eq!(
            (rerun.unchanged, rerun.added, rerun.removed, rerun.requests),
            (250, 0, 0, 0)
        );
        assert!(!rerun.audience_created);
    });
}

#[test]
fn incremental_runs_add_remove_and_change_users_exactly() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("crm", &customers(0..300));
        assert_eq!(harness.sync(&spec).await.outcome, Outcome::Succeeded);

        // 20 leave, 30 enter, 10 change their email (same user id).
        let mut people = customers(20..330);
        for customer in people.iter_mut().take(10) {
            customer.email = format!("changed.{}@example.org", customer.user_id);
        }
        harness.set_source(&spec, &people);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(
            (report.new, report.changed, report.unchanged),
            (30, 10, 270),
            "{report}"
        );
        assert_eq!(report.removed, 30, "20 who left and 10 old rows: {report}");
        assert_eq!((report.removed_left, report.removed_old_keys), (20, 10));
        assert_eq!(report.added, 40);
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
        assert_eq!(harness.store.member_count("crm").await.unwrap(), 310);
    });
}

#[test]
fn duplicates_and_consent_withdrawal() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let mut people = customers(0..150);
        // A second row for u5 with another email: the first row wins.
        let mut duplicate = Customer::numbered(5);
        duplicate.email = "other@example.com".to_owned();
        people.push(duplicate);
        let spec = harness.spec("consent", &people);
        let first = harness.sync(&spec).await;
        assert_eq!(
            first.rejected_by_reason.get("duplicate user id"),
            Some(&1),
            "{first}"
        );
        assert_eq!(first.members, 150);
        let audience_id = first.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people[..150]),
        );

        // u7 withdraws consent: still in the file, now rejected, so removed.
        people[7].consent = "no";
        harness.set_source(&spec, &people[..150]);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(
            (report.removed, report.removed_now_rejected),
            (1, 1),
            "{report}"
        );
        assert!(report.to_string().contains("because now rejected"));
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people[..150]),
        );
    });
}

#[test]
fn upsert_mode_never_removes() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let mut spec = harness.spec("upsert", &customers(0..120));
        spec.mode = SyncMode::Upsert;
        harness.sync(&spec).await;
        harness.set_source(&spec, &customers(60..200));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!((report.added, report.removed), (80, 0));
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&customers(0..200)),
        );
        assert!(
            !harness
                .requests()
                .await
                .iter()
                .any(|(method, _, _)| method == "DELETE"),
            "upsert sent a removal"
        );
    });
}

#[test]
fn replace_makes_the_audience_exactly_the_segment_without_users_calls() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("swap", &customers(0..200));
        harness.sync(&spec).await;
        let n_before = harness.requests().await.len();
        let people = customers(150..420);
        harness.set_source(&spec, &people);
        let mut options = harness.options();
        options.replace = true;
        let report = harness.sync_with(&spec, &options).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.replaced, 270);
        assert_eq!(report.removed_left, 150);
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
        let requests = harness.requests().await;
        let during: Vec<&(String, String, u64)> = requests[n_before..]
            .iter()
            .filter(|(_, path, _)| path.ends_with("/users") || path.ends_with("/usersreplace"))
            .collect();
        assert_eq!(during.len(), 1, "one batch of 270 rows: {during:?}");
        assert!(
            during
                .iter()
                .all(|(_, path, _)| path.ends_with("/usersreplace")),
            "a /users call during a replace: {during:?}"
        );
        assert_eq!(harness.store.member_count("swap").await.unwrap(), 270);
        // The store holds what was sent: a mirror rerun has nothing to do.
        let rerun = harness.sync(&spec).await;
        assert_eq!(
            (rerun.added, rerun.removed, rerun.unchanged),
            (0, 0, 270),
            "{rerun}"
        );
    });
}

#[test]
fn a_schema_change_is_refused_without_replace() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let mut spec = harness.spec("keys", &customers(0..120));
        spec.mapping.truncate(1);
        let first = harness.sync(&spec).await;
        assert_eq!(first.outcome, Outcome::Succeeded, "{first}");

        let spec = harness.spec("keys", &customers(0..120));
        let refused = harness.sync(&spec).await;
        assert_eq!(refused.outcome, Outcome::Failed, "{refused}");
        assert_eq!(refused.exit_code(), 1);
        let problem = refused.problem.clone().unwrap();
        assert!(
            problem.message.contains("data source"),
            "{}",
            problem.message
        );
        assert!(problem.fix.contains("--replace") && problem.fix.contains("audience_name"));
        assert_eq!(refused.requests, 0);

        let mut options = harness.options();
        options.replace = true;
        let replaced = harness.sync_with(&spec, &options).await;
        assert_eq!(replaced.outcome, Outcome::Succeeded, "{replaced}");
        let members = harness.members(&replaced.audience_id.unwrap()).await;
        assert_eq!(members.len(), 120);
        assert!(members.iter().all(|member| member.contains_key("PHONE")));
    });
}

#[test]
fn unaccepted_terms_stop_the_run_with_the_link_and_commit_nothing() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("terms", &customers(0..120));
        harness.sync(&spec).await;
        harness.set_source(&spec, &customers(0..150));
        harness.set_scenario("tos-not-accepted").await;
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Failed, "{report}");
        let problem = report.problem.clone().unwrap();
        assert!(
            problem.fix.contains(
                "https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772"
            ),
            "{}",
            problem.fix
        );
        assert_eq!(report.added, 0);
        assert_eq!(harness.store.member_count("terms").await.unwrap(), 120);

        // Accepted: the pending adds go out.
        harness.set_scenario_toml(None).await;
        let after = harness.sync(&spec).await;
        assert_eq!(
            (after.outcome, after.added),
            (Outcome::Succeeded, 30),
            "{after}"
        );
    });
}

#[test]
fn an_expired_token_stops_the_run() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        harness.set_scenario("expired-token").await;
        let spec = harness.spec("expired", &customers(0..50));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Failed, "{report}");
        assert!(report.problem.unwrap().message.contains("expired"));
        assert_eq!(harness.store.member_count("expired").await.unwrap(), 0);
    });
}

#[test]
fn flaky_answers_are_ridden_out() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("flaky", &customers(0..5_000));
        assert_eq!(harness.sync(&spec).await.outcome, Outcome::Succeeded);
        // A quarter of the requests fail: 5xx, dropped connections, HTML pages.
        harness
            .set_scenario_toml(Some(
                "[faults]\nshare = 0.25\nseed = 7\n\
                 kinds = [\"unknown-error\", \"service-error\", \"dropped-connection\", \"html-error\"]\n",
            ))
            .await;
        let people = customers(2_000..37_000);
        harness.set_source(&spec, &people);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!((report.added, report.removed), (32_000, 2_000));
        let failures = harness
            .requests()
            .await
            .iter()
            .filter(|(_, _, status)| *status >= 400)
            .count();
        assert!(failures > 0, "the scenario injected no failure");
        harness.set_scenario_toml(None).await;
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(&harness.member_emails(&audience_id).await, &expected_emails(&people));
    });
}

#[test]
fn a_throttled_run_completes() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        // 5 calls per hour, then 80003 until 2 s have passed.
        harness.set_scenario("throttled").await;
        let people = customers(0..60_000);
        let spec = harness.spec("throttled", &people);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.added, 60_000);
        let throttled = harness
            .requests()
            .await
            .iter()
            .filter(|(_, _, status)| *status == 400)
            .count();
        assert!(throttled > 0, "nothing was throttled");
        harness.set_scenario_toml(None).await;
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
    });
}

#[test]
fn the_report_counts_the_graph_clients_retries_and_time_throttled() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("counted", &customers(0..300));
        let clean = harness.sync(&spec).await;
        assert_eq!(clean.outcome, Outcome::Succeeded, "{clean}");
        assert_eq!(
            (
                clean.retries,
                clean.time_throttled_ms,
                clean.time_backing_off_ms
            ),
            (0, 0, 0),
            "{clean}"
        );
        let n_requests_before = harness.requests().await.len();
        // 5 calls per hour, then 80003 until 2 s have passed. A new audience of three
        // batches takes more calls than that.
        harness.set_scenario("throttled").await;
        let spec = harness.spec("throttled", &customers(0..25_000));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.added, 25_000);
        let n_throttled = harness.requests().await[n_requests_before..]
            .iter()
            .filter(|(_, _, status)| *status == 400)
            .count() as u64;
        assert!(n_throttled > 0, "nothing was throttled");
        // Every throttled answer was retried, and nothing else failed.
        assert_eq!(report.retries, n_throttled, "{report}");
        // The client waited out the announced 2 s at least once, within the run.
        assert!(
            report.time_throttled_ms >= 1_900 && report.time_throttled_ms <= report.duration_ms,
            "{report}"
        );
        assert_eq!(report.time_backing_off_ms, 0, "{report}");
        let stored = harness
            .store
            .last_run("throttled")
            .await
            .expect("the store answers")
            .and_then(|run| run.report)
            .expect("the run record has its report");
        assert_eq!(stored["retries"], report.retries);
        assert_eq!(stored["time_throttled_ms"], report.time_throttled_ms);
        harness.set_scenario_toml(None).await;
    });
}

#[test]
fn removals_refused_on_a_small_audience_stay_pending() {
    multi_thread().block_on(async {
        // The emulator's default: a removal leaving fewer than 100 members is refused.
        let harness = SyncHarness::start_with(EmulatorConfig::default()).await;
        let spec = harness.spec("small", &customers(0..120));
        harness.sync(&spec).await;
        harness.set_source(&spec, &customers(0..90));
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Partial, "{report}");
        assert_eq!(report.exit_code(), 3);
        assert_eq!(report.pending_removals, 30);
        assert!(
            report
                .warnings
                .iter()
                .any(|warning| warning.contains("too small"))
        );
        assert_eq!(harness.store.member_count("small").await.unwrap(), 120);
        let audience_id = report.audience_id.clone().unwrap();
        assert_eq!(harness.member_emails(&audience_id).await.len(), 120);

        // New users come: the removal is refused again (removals go first), the adds go
        // through and the audience grows; the run after that can remove.
        let people: Vec<_> = customers(0..90)
            .into_iter()
            .chain(customers(500..560))
            .collect();
        harness.set_source(&spec, &people);
        let grown = harness.sync(&spec).await;
        assert_eq!(
            (grown.outcome, grown.added),
            (Outcome::Partial, 60),
            "{grown}"
        );
        assert_eq!(harness.member_emails(&audience_id).await.len(), 180);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(report.removed, 30);
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
    });
}

#[test]
fn a_second_sync_of_a_segment_is_refused_while_the_first_runs() {
    multi_thread().block_on(async {
        let harness =
            SyncHarness::start_with(emulator_config().with_scenario("slow").expect("built in"))
                .await;
        let spec = harness.spec("busy", &customers(0..50));
        let options = harness.options();
        let (first, second) =
            tokio::join!(audsync::sync::run(&harness.deps, &spec, &options), async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                audsync::sync::run(&harness.deps, &spec, &options).await
            });
        let first = first.expect("the first sync runs");
        assert_eq!(first.outcome, Outcome::Succeeded, "{first}");
        let error = second.expect_err("the second sync is refused").to_string();
        assert!(
            error.contains("segment \"busy\" is being synced by pid"),
            "{error}"
        );
        // Once the first is done the segment is free again.
        assert_eq!(harness.sync(&spec).await.outcome, Outcome::Succeeded);
    });
}

#[test]
fn plan_counts_without_sending() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("dry", &customers(0..200));
        let options = harness.options();
        let first_plan = audsync::sync::plan(&harness.store, &spec, &options)
            .await
            .unwrap();
        assert_eq!(
            (first_plan.outcome, first_plan.added),
            (Outcome::Planned, 200)
        );
        assert!(harness.requests().await.is_empty(), "a plan called Meta");
        harness.sync(&spec).await;

        let mut people = customers(10..230);
        people[0].email = "new.address@example.com".to_owned();
        harness.set_source(&spec, &people);
        let n_requests = harness.requests().await.len();
        let plan = audsync::sync::plan(&harness.store, &spec, &options)
            .await
            .unwrap();
        assert_eq!(
            harness.requests().await.len(),
            n_requests,
            "a plan called Meta"
        );
        let report = harness.sync(&spec).await;
        assert_eq!(
            (
                plan.new,
                plan.changed,
                plan.unchanged,
                plan.added,
                plan.removed
            ),
            (
                report.new,
                report.changed,
                report.unchanged,
                report.added,
                report.removed
            ),
            "plan:\n{plan}\nsync:\n{report}"
        );
        assert_eq!((plan.new, plan.changed, plan.removed), (30, 1, 11));
        assert!(plan.to_string().contains("would remove"));
    });
}

/// A writer the test's log lines go to.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test binary: a DEBUG subscriber installed as the global one on first use.
/// A scoped (`with_default`) subscriber can miss events while other tests run in parallel
/// (tracing caches per call site whether anyone listens); a global one hears every thread, so
/// the other tests' lines land here too, which only makes the "never" checks stronger.
fn captured_log() -> &'static CapturedLog {
    static LOG: std::sync::OnceLock<CapturedLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        log
    })
}

#[test]
fn logs_name_the_run_and_its_batches_but_never_a_person_a_key_or_the_token() {
    let log = captured_log();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let people = customers(0..150);
    runtime.block_on(async {
        let harness = SyncHarness::start().await;
        let spec = harness.spec("logged", &people);
        assert_eq!(harness.sync(&spec).await.outcome, Outcome::Succeeded);
        harness.set_source(&spec, &people[10..]);
        assert_eq!(harness.sync(&spec).await.outcome, Outcome::Succeeded);
    });
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    for expected in [
        "segment.name=logged",
        "run.id=",
        "audience.id=",
        "batch.idx=",
        "batch.n_rows=",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the log:\n{text}"
        );
    }
    assert!(
        !text.contains(audsync_emulator::DEFAULT_ACCESS_TOKEN),
        "the token was logged"
    );
    for customer in &people {
        let email = customer.email.trim().to_lowercase();
        assert!(!text.to_lowercase().contains(&email), "an email was logged");
        assert!(
            !text.contains(&customer.email_hash().unwrap()),
            "a hashed key was logged"
        );
    }
}
