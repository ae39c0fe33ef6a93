//! The state store on both backends: SQLite (a temporary file) and PostgreSQL (a fresh schema
//! per test at `AUDSYNC_TEST_POSTGRES_URL`, default `postgres://127.0.0.1:5432/test`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use audsync::store::{
    AcceptedBatch, AudienceRecord, Backend, BatchRef, BatchState, InflightRows, MemberIndex,
    MemberRow, Observed, Operation, ReplaceSession, RunStatus, Store, StoreError,
};
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::support::PgSchema;

/// A store for one test, and what to delete afterwards (on drop).
struct TestDb {
    store: Store,
    /// Opens a second, independent pool on the same database (another "process").
    url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] PgSchema),
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = Store::connect(&url).await.expect("open the SQLite store");
        assert_eq!(store.backend(), Backend::Sqlite);
        TestDb {
            store,
            url,
            _cleanup: Cleanup::Sqlite(dir),
        }
    }

    async fn postgres() -> TestDb {
        let schema = PgSchema::create().await;
        let url = schema.url.clone();
        let store = Store::connect(&url)
            .await
            .expect("open the PostgreSQL store");
        assert_eq!(store.backend(), Backend::Postgres);
        TestDb {
            store,
            url,
            _cleanup: Cleanup::Postgres(schema),
        }
    }

    async fn second_process(&self) -> Store {
        Store::connect(&self.url).await.expect("open a second pool")
    }
}

/// Runs `scenario(TestDb)` once per backend, as two tests `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(super::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario(super::TestDb::postgres().await).await;
                }
            }
        )*
    };
}

on_both_backends!(
    audience_records_round_trip,
    only_one_of_many_concurrent_acquirers_gets_the_lease,
    expired_leases_are_taken_over_and_the_old_holder_loses_them,
    accepted_batches_add_update_and_remove_members,
    a_failing_statement_mid_batch_leaves_members_and_journal_unchanged,
    committing_a_batch_never_journaled_is_refused,
    batches_committed_together_apply_all_or_nothing,
    refused_batches_leave_members_alone_and_unsent_ones_stay_unsettled,
    runs_are_recorded_and_dead_runs_become_interrupted,
    invalid_entries_are_kept_per_run,
    member_index_of_200k_members_diffs_exactly_in_16_bytes_each,
    reset_segment_forgets_only_that_segment,
    removals_by_user_hash_search_the_user_hash_index,
    inflight_rows_stay_in_the_journal_until_their_batch_is_settled,
    interrupted_replace_sessions_are_kept_per_segment,
    a_dead_holders_lease_is_taken_over_at_once_by_exactly_one_process,
);

/// A database holding only the first migration, as audsync left it before it kept in-flight
/// rows in the store, migrated by `Store::connect`, on each backend.
mod a_database_of_the_first_schema_migrates_and_keeps_its_state {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        super::first_schema_database_migrates_and_keeps_its_state(&url, super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let schema = crate::support::PgSchema::create().await;
        super::first_schema_database_migrates_and_keeps_its_state(
            &schema.url,
            super::Backend::Postgres,
        )
        .await;
    }
}

fn fingerprint(user_idx: u64, version: u8) -> [u8; 16] {
    let mut fingerprint = [version; 16];
    fingerprint[..8].copy_from_slice(&user_idx.to_le_bytes());
    fingerprint
}

/// The audience schema of [`member`]'s rows.
fn schema() -> Vec<String> {
    ["EMAIL", "PHONE", "EXTERN_ID"].map(String::from).to_vec()
}

/// A member shaped like a real one: two hashed keys and an absent one.
fn member(user_idx: u64, version: u8) -> MemberRow {
    MemberRow {
        user_id: format!("user-{user_idx}"),
        fingerprint: fingerprint(user_idx, version),
        wire_row: vec![
            format!("{:056x}{version:08x}", user_idx),
            String::new(),
            format!("{:064x}", user_idx * 31 + 7),
        ],
    }
}

/// Journals a batch as sent and commits it, like the sync engine after Meta's acceptance.
async fn send_and_commit(
    store: &Store,
    run_id: &audsync::store::RunId,
    segment: &str,
    batch_idx: u32,
    operation: Operation,
    rows: &[MemberRow],
) {
    let batch = BatchRef {
        run_id,
        segment,
        batch_idx,
        operation,
    };
    store
        .journal_batch_sent(&batch, &schema(), rows, Some("4242"))
        .await
        .expect("journal the batch");
    store
        .commit_batch(&batch, rows, 0)
        .await
        .expect("commit the batch");
}

async fn sorted_rows(store: &Store, segment: &str, user_ids: &[String]) -> Vec<MemberRow> {
    let mut rows = store.member_rows(segment, user_ids).await.unwrap();
    rows.sort_by(|left, right| left.user_id.cmp(&right.user_id));
    rows
}

async fn audience_records_round_trip(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.audience("newsletter").await.unwrap(), None);
    let mut record = AudienceRecord {
        segment: "newsletter".to_owned(),
        connector: "meta".to_owned(),
        ad_account_id: "1234".to_owned(),
        audience_id: "23849182047670582".to_owned(),
        audience_name: "CA_newsletter".to_owned(),
        schema: vec![
            "EXTERN_ID".to_owned(),
            "EMAIL".to_owned(),
            "PHONE".to_owned(),
        ],
        created_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    store.save_audience(&record).await.unwrap();
    assert_eq!(
        store.audience("newsletter").await.unwrap(),
        Some(record.clone())
    );
    record.audience_id = "999".to_owned();
    record.schema.push("FN".to_owned());
    store.save_audience(&record).await.unwrap();
    assert_eq!(store.audience("newsletter").await.unwrap(), Some(record));
    assert_eq!(store.audience("other").await.unwrap(), None);
}

async fn only_one_of_many_concurrent_acquirers_gets_the_lease(db: TestDb) {
    // Two pools stand for two processes; each runs four acquirers released at once.
    let stores = [db.store.clone(), db.second_process().await];
    for round in 0..5 {
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for task_idx in 0..8 {
            let store = stores[task_idx % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let holder = format!("holder-{round}-{task_idx}");
                barrier.wait().await;
                let outcome = store
                    .acquire_lease("newsletter", &holder, Duration::from_secs(60))
                    .await;
                (holder, outcome)
            }));
        }
        let mut winners = Vec::new();
        let mut refused_holders = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (_, Ok(lease)) => winners.push(lease),
                (_, Err(StoreError::LeaseHeld { holder, .. })) => refused_holders.push(holder),
                (holder, Err(error)) => panic!("{holder}: unexpected error {error:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(refused_holders.len(), 7);
        assert!(
            refused_holders
                .iter()
                .all(|holder| *holder == winners[0].holder)
        );
        db.store.release_lease(&winners[0]).await.unwrap();
    }
}

async fn expired_leases_are_taken_over_and_the_old_holder_loses_them(db: TestDb) {
    let store = &db.store;
    // A zero time to live expires at once, so no test has to wait.
    let first = store
        .acquire_lease("newsletter", "first", Duration::ZERO)
        .await
        .unwrap();
    let second = store
        .acquire_lease("newsletter", "second", Duration::from_secs(60))
        .await
        .expect("an expired lease is taken over");
    assert!(matches!(
        store.renew_lease(&first, Duration::from_secs(60)).await,
        Err(StoreError::LeaseLost { .. })
    ));
    match store
        .acquire_lease("newsletter", "first", Duration::from_secs(60))
        .await
    {
        Err(error @ StoreError::LeaseHeld { .. }) => {
            assert!(error.to_string().contains("second"), "{error}");
        }
        other => panic!("expected LeaseHeld, got {other:?}"),
    }
    // Releasing a lease one no longer holds does not release the new holder's.
    store.release_lease(&first).await.unwrap();
    let renewed = store
        .renew_lease(&second, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(renewed.expires_at > second.expires_at);
    // The same holder may acquire again; another segment is independent.
    store
        .acquire_lease("newsletter", "second", Duration::from_secs(60))
        .await
        .unwrap();
    store
        .acquire_lease("churned", "first", Duration::from_secs(60))
        .await
        .unwrap();
    store.release_lease(&renewed).await.unwrap();
    store
        .acquire_lease("newsletter", "first", Duration::from_secs(60))
        .await
        .expect("a released lease is free");
}

async fn accepted_batches_add_update_and_remove_members(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let first: Vec<MemberRow> = (0..1_200).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 0, Operation::Add, &first).await;
    assert_eq!(store.member_count("newsletter").await.unwrap(), 1_200);

    // A changed user: same user id, other keys. A duplicate in one batch keeps its last row.
    let changed = vec![member(5, 2), member(6, 2), member(6, 3)];
    send_and_commit(store, &run_id, "newsletter", 1, Operation::Add, &changed).await;
    let removed: Vec<MemberRow> = (1_000..1_200).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 2, Operation::Remove, &removed).await;
    assert_eq!(store.member_count("newsletter").await.unwrap(), 1_000);

    let asked: Vec<String> = ["user-4", "user-5", "user-6", "user-1100", "nobody"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        sorted_rows(store, "newsletter", &asked).await,
        vec![member(4, 1), member(5, 2), member(6, 3)]
    );

    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal.len(), 3);
    assert!(
        journal
            .iter()
            .all(|entry| entry.state == BatchState::Accepted)
    );
    assert_eq!(journal[1].user_ids, vec!["user-5", "user-6", "user-6"]);
    assert_eq!(journal[2].operation, Operation::Remove);
    assert_eq!(journal[2].n_rows, 200);
    assert_eq!(journal[0].graph_session_id.as_deref(), Some("4242"));
    assert_eq!(journal[0].num_invalid, Some(0));
    assert!(journal[0].settled_at.is_some());
}

async fn a_failing_statement_mid_batch_leaves_members_and_journal_unchanged(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let existing: Vec<MemberRow> = (0..10).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 0, Operation::Add, &existing).await;

    // 1,200 rows = three statements; the first updates the ten existing members, the third
    // holds a row the schema refuses (an empty user id), so the third statement fails.
    let mut batch_rows: Vec<MemberRow> = (0..1_200).map(|user_idx| member(user_idx, 2)).collect();
    batch_rows[1_100].user_id = String::new();
    let batch = BatchRef {
        run_id: &run_id,
        segment: "newsletter",
        batch_idx: 1,
        operation: Operation::Add,
    };
    store
        .journal_batch_sent(&batch, &schema(), &[member(0, 2)], None)
        .await
        .unwrap();
    let outcome = store.commit_batch(&batch, &batch_rows, 3).await;
    assert!(
        matches!(outcome, Err(StoreError::Database(_))),
        "{outcome:?}"
    );

    assert_eq!(store.member_count("newsletter").await.unwrap(), 10);
    let ids: Vec<String> = (0..10).map(|user_idx| format!("user-{user_idx}")).collect();
    assert_eq!(sorted_rows(store, "newsletter", &ids).await, {
        let mut expected = existing.clone();
        expected.sort_by(|left, right| left.user_id.cmp(&right.user_id));
        expected
    });
    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal[1].state, BatchState::Sent);
    assert_eq!(journal[1].num_invalid, None);
    // A commit whose operation is not the journaled one is refused and deletes nothing.
    let removal = BatchRef {
        batch_idx: 2,
        operation: Operation::Remove,
        ..batch
    };
    store
        .journal_batch_sent(&removal, &schema(), &[member(0, 1)], None)
        .await
        .unwrap();
    let unknown = BatchRef {
        run_id: &run_id,
        batch_idx: 2,
        operation: Operation::Add,
        ..batch
    };
    assert!(store.commit_batch(&unknown, &existing, 0).await.is_err());
    assert_eq!(store.member_count("newsletter").await.unwrap(), 10);
}

async fn committing_a_batch_never_journaled_is_refused(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let batch = BatchRef {
        run_id: &run_id,
        segment: "newsletter",
        batch_idx: 7,
        operation: Operation::Add,
    };
    let outcome = store.commit_batch(&batch, &[member(1, 1)], 0).await;
    assert!(
        matches!(outcome, Err(StoreError::UnknownBatch { batch_idx: 7, .. })),
        "{outcome:?}"
    );
    assert_eq!(store.member_count("newsletter").await.unwrap(), 0);
    assert!(matches!(
        store.journal_batch_refused(&batch, "nope").await,
        Err(StoreError::UnknownBatch { .. })
    ));
}

/// A group commit: accepted batches (an add and a removal) applied in one transaction, and a
/// group holding a batch never journaled changes nothing at all.
async fn batches_committed_together_apply_all_or_nothing(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    send_and_commit(
        store,
        &run_id,
        "newsletter",
        0,
        Operation::Add,
        &[member(1, 1)],
    )
    .await;
    let batch = |batch_idx, operation| BatchRef {
        run_id: &run_id,
        segment: "newsletter",
        batch_idx,
        operation,
    };
    let (adds, removals) = ([member(2, 1), member(3, 1)], [member(1, 1)]);
    for (batch_idx, operation, rows) in [
        (1, Operation::Add, &adds[..]),
        (2, Operation::Remove, &removals[..]),
    ] {
        store
            .journal_batch_sent(&batch(batch_idx, operation), &schema(), rows, None)
            .await
            .unwrap();
    }
    let never_journaled = [member(9, 1)];
    let group = |with_unknown: bool| {
        let mut group = vec![
            AcceptedBatch {
                batch: batch(1, Operation::Add),
                rows: &adds,
                num_invalid: 0,
            },
            AcceptedBatch {
                batch: batch(2, Operation::Remove),
                rows: &removals,
                num_invalid: 1,
            },
        ];
        if with_unknown {
            group.push(AcceptedBatch {
                batch: batch(3, Operation::Add),
                rows: &never_journaled,
                num_invalid: 0,
            });
        }
        group
    };
    let outcome = store.commit_batches(&group(true)).await;
    assert!(
        matches!(outcome, Err(StoreError::UnknownBatch { batch_idx: 3, .. })),
        "{outcome:?}"
    );
    let user_ids: Vec<String> = (1..=3).map(|n| format!("user-{n}")).collect();
    assert_eq!(
        sorted_rows(store, "newsletter", &user_ids).await,
        vec![member(1, 1)]
    );
    assert_eq!(
        store.unsettled_batches("newsletter").await.unwrap().len(),
        2
    );

    store.commit_batches(&group(false)).await.unwrap();
    assert_eq!(
        sorted_rows(store, "newsletter", &user_ids).await,
        vec![member(2, 1), member(3, 1)]
    );
    assert!(
        store
            .unsettled_batches("newsletter")
            .await
            .unwrap()
            .is_empty()
    );
    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal[2].num_invalid, Some(1));
}

async fn refused_batches_leave_members_alone_and_unsent_ones_stay_unsettled(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let rows: Vec<MemberRow> = (0..50).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 0, Operation::Add, &rows).await;

    let refused = BatchRef {
        run_id: &run_id,
        segment: "newsletter",
        batch_idx: 1,
        operation: Operation::Remove,
    };
    store
        .journal_batch_sent(
            &refused,
            &schema(),
            &[member(1, 1), member(2, 1)],
            Some("77"),
        )
        .await
        .unwrap();
    store
        .journal_batch_refused(
            &refused,
            "Meta 200/1870047: the audience would become too small",
        )
        .await
        .unwrap();
    let in_doubt = BatchRef {
        batch_idx: 2,
        ..refused
    };
    store
        .journal_batch_sent(&in_doubt, &schema(), &[member(3, 1)], Some("77"))
        .await
        .unwrap();

    assert_eq!(store.member_count("newsletter").await.unwrap(), 50);
    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal[1].state, BatchState::Refused);
    assert!(journal[1].refusal.as_deref().unwrap().contains("1870047"));
    let unsettled = store.unsettled_batches("newsletter").await.unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].batch_idx, 2);
    assert_eq!(unsettled[0].user_ids, vec!["user-3"]);
    assert!(store.unsettled_batches("other").await.unwrap().is_empty());
}

async fn runs_are_recorded_and_dead_runs_become_interrupted(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.last_run("newsletter").await.unwrap(), None);
    let dead = store.begin_run("newsletter").await.unwrap();
    let other_segment = store.begin_run("churned").await.unwrap();
    let finished = store.begin_run("newsletter").await.unwrap();
    let report = serde_json::json!({"added": 12, "removed": 3, "rejected": {"only ZIP": 2}});
    store
        .finish_run(&finished, RunStatus::Partial, &report)
        .await
        .unwrap();

    let runs = store.runs("newsletter", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, finished);
    assert_eq!(runs[0].status, RunStatus::Partial);
    assert_eq!(runs[0].report, Some(report));
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[1].id, dead);
    assert_eq!(runs[1].status, RunStatus::Interrupted);
    assert_eq!(runs[1].report, None);
    assert_eq!(store.runs("newsletter", 1).await.unwrap().len(), 1);
    assert_eq!(
        store.last_run("newsletter").await.unwrap().unwrap().id,
        finished
    );
    let churned = store.last_run("churned").await.unwrap().unwrap();
    assert_eq!(churned.id, other_segment);
    assert_eq!(churned.status, RunStatus::Running);
}

async fn invalid_entries_are_kept_per_run(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let other_run = store.begin_run("churned").await.unwrap();
    let entries: Vec<(String, &str)> = (0..1_001)
        .map(|user_idx| (format!("user-{user_idx:04}"), "invalid PHONE"))
        .collect();
    store
        .record_invalid_entries(&run_id, &entries)
        .await
        .unwrap();
    store
        .record_invalid_entries(&other_run, &[("x", "invalid EMAIL")])
        .await
        .unwrap();
    let stored = store.invalid_entries(&run_id, 5_000).await.unwrap();
    assert_eq!(stored.len(), 1_001);
    assert_eq!(
        stored[0],
        ("user-0000".to_owned(), "invalid PHONE".to_owned())
    );
    assert_eq!(store.invalid_entries(&run_id, 3).await.unwrap().len(), 3);
    assert_eq!(
        store.invalid_entries(&other_run, 10).await.unwrap(),
        vec![("x".to_owned(), "invalid EMAIL".to_owned())]
    );
}

async fn member_index_of_200k_members_diffs_exactly_in_16_bytes_each(db: TestDb) {
    const N_MEMBERS: u64 = 200_000;
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    for batch_idx in 0..(N_MEMBERS / 10_000) {
        let rows: Vec<MemberRow> = (batch_idx * 10_000..(batch_idx + 1) * 10_000)
            .map(|user_idx| member(user_idx, 1))
            .collect();
        send_and_commit(
            store,
            &run_id,
            "newsletter",
            batch_idx as u32,
            Operation::Add,
            &rows,
        )
        .await;
    }
    // Another segment's members must not leak into this index.
    let other: Vec<MemberRow> = (0..100).map(|user_idx| member(user_idx, 9)).collect();
    send_and_commit(store, &run_id, "churned", 999, Operation::Add, &other).await;

    let index = store.load_member_index("newsletter").await.unwrap();
    assert_eq!(index.len(), N_MEMBERS as usize);
    let bytes_per_member = index.heap_bytes() as f64 / N_MEMBERS as f64;
    // 16 bytes of entry, 1/8 of a seen bit, at most 1/4 of directory (index.rs module doc).
    assert!(
        bytes_per_member <= 16.38,
        "{bytes_per_member} bytes per member ({} bytes)",
        index.heap_bytes()
    );

    // The new source: members 0..190,000 (every 1,000th with changed keys) plus 500 new users;
    // members 190,000..200,000 left.
    let mut possibly_changed = Vec::new();
    for user_idx in 0..190_000 {
        let version = if user_idx % 1_000 == 0 { 2 } else { 1 };
        let user = member(user_idx, version);
        match index.observe(&user.user_id, &user.fingerprint) {
            Observed::Unchanged => assert_eq!(version, 1, "user {user_idx}"),
            Observed::PossiblyChanged => {
                assert_eq!(version, 2, "user {user_idx}");
                possibly_changed.push(user.user_id);
            }
            Observed::New => panic!("user {user_idx} is a member"),
        }
    }
    for user_idx in N_MEMBERS..N_MEMBERS + 500 {
        let user = member(user_idx, 1);
        assert_eq!(
            index.observe(&user.user_id, &user.fingerprint),
            Observed::New
        );
    }
    assert_eq!(possibly_changed.len(), 190);
    let old_rows = store
        .member_rows("newsletter", &possibly_changed)
        .await
        .unwrap();
    assert_eq!(old_rows.len(), 190);
    for old_row in &old_rows {
        assert!(index.mark_seen(old_row));
    }
    assert_eq!(index.unseen_count(), 10_000);

    let unseen: Vec<u64> = index.unseen_user_hashes().collect();
    let mut leaving = Vec::new();
    for chunk in unseen.chunks(2_000) {
        leaving.extend(
            store
                .unseen_member_rows("newsletter", &index, chunk)
                .await
                .unwrap(),
        );
    }
    leaving.sort_by_key(|row| row.user_id[5..].parse::<u64>().unwrap());
    let expected: Vec<MemberRow> = (190_000..N_MEMBERS)
        .map(|user_idx| member(user_idx, 1))
        .collect();
    assert_eq!(
        leaving, expected,
        "removals carry exactly the stored wire rows"
    );

    // An index built from rows agrees with the loaded one.
    let small = MemberIndex::from_rows(&expected[..3]);
    assert_eq!(
        small.observe("user-190000", &fingerprint(190_000, 1)),
        Observed::Unchanged
    );
}

async fn removals_by_user_hash_search_the_user_hash_index(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let rows: Vec<MemberRow> = (0..2_000).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 0, Operation::Add, &rows).await;
    let plan = store.unseen_member_rows_plan("newsletter").await.unwrap();
    match store.backend() {
        // Without the hint SQLite says `SEARCH members USING PRIMARY KEY (segment=?)`.
        Backend::Sqlite => assert!(
            plan.contains("USING INDEX members_by_user_hash (segment=? AND user_hash=?)"),
            "{plan}"
        ),
        Backend::Postgres => assert!(
            plan.contains("Index Scan on members_by_user_hash")
                || plan.contains("Index Scan using members_by_user_hash"),
            "{plan}"
        ),
    }
}

async fn reset_segment_forgets_only_that_segment(db: TestDb) {
    let store = &db.store;
    let run_id = store.begin_run("newsletter").await.unwrap();
    let rows: Vec<MemberRow> = (0..30).map(|user_idx| member(user_idx, 1)).collect();
    send_and_commit(store, &run_id, "newsletter", 0, Operation::Add, &rows).await;
    send_and_commit(store, &run_id, "churned", 1, Operation::Add, &rows[..5]).await;
    assert_eq!(store.reset_segment("newsletter").await.unwrap(), 30);
    assert_eq!(store.member_count("newsletter").await.unwrap(), 0);
    assert_eq!(store.member_count("churned").await.unwrap(), 5);
    assert!(
        store
            .load_member_index("newsletter")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A pool of its own on the test's database, for SQL the store does not offer.
async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    sqlx::AnyPool::connect(&url).await.expect("a raw pool")
}

/// Journal entries that hold in-flight rows.
async fn entries_holding_rows(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE inflight_rows IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn inflight_rows_stay_in_the_journal_until_their_batch_is_settled(db: TestDb) {
    let store = &db.store;
    let schema = schema();
    let run_id = store.begin_run("newsletter").await.unwrap();
    let rows: Vec<MemberRow> = (0..2_000).map(|user_idx| member(user_idx, 1)).collect();
    let add = BatchRef {
        run_id: &run_id,
        segment: "newsletter",
        batch_idx: 0,
        operation: Operation::Add,
    };
    let removal = BatchRef {
        batch_idx: 1,
        operation: Operation::Remove,
        ..add
    };
    let replace = BatchRef {
        batch_idx: 2,
        operation: Operation::Replace,
        ..add
    };
    store
        .journal_batch_sent(&add, &schema, &rows, Some("11"))
        .await
        .unwrap();
    store
        .journal_batch_sent(&removal, &schema, &rows[..10], Some("12"))
        .await
        .unwrap();
    store
        .journal_batch_sent(&replace, &schema, &rows[..3], Some("13"))
        .await
        .unwrap();

    // Another process (another host sharing the store) reads the rows back exactly.
    let other_host = db.second_process().await;
    let unsettled = other_host.unsettled_batches("newsletter").await.unwrap();
    let by_idx = |batch_idx: u32| {
        unsettled
            .iter()
            .find(|entry| entry.batch_idx == batch_idx)
            .expect("the batch is unsettled")
    };
    assert_eq!(unsettled.len(), 3);
    assert_eq!(
        by_idx(0).inflight,
        Some(InflightRows {
            schema: schema.clone(),
            rows: rows.clone()
        })
    );
    assert_eq!(by_idx(0).user_ids.len(), 2_000);
    // A removal keeps only its user ids: its rows are the stored members.
    assert_eq!(by_idx(1).inflight, None);
    assert_eq!(by_idx(1).user_ids[9], "user-9");
    assert_eq!(by_idx(2).inflight.as_ref().unwrap().rows, rows[..3]);

    // Packed: a row (user id, fingerprint and three values) takes fewer bytes than the hex
    // digits of its two digests alone.
    let pool = raw_pool(&db.url).await;
    let packed_bytes: i64 = sqlx::query_scalar(
        "SELECT length(inflight_rows) FROM journal WHERE run_id = $1 AND batch_idx = 0",
    )
    .bind(run_id.as_str())
    .fetch_one(&pool)
    .await
    .unwrap();
    let hex_digits_per_row = 2 * 64;
    assert!(
        packed_bytes < 2_000 * hex_digits_per_row,
        "{packed_bytes} bytes for 2,000 rows"
    );

    // A retry records the batch again, with the rows it sends now.
    store
        .journal_batch_sent(&add, &schema, &rows[..5], Some("14"))
        .await
        .unwrap();
    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal[0].inflight.as_ref().unwrap().rows, rows[..5]);
    assert_eq!(journal[0].graph_session_id.as_deref(), Some("14"));

    // Settling forgets them.
    store
        .journal_batch_refused(&add, "superseded: run R sent its changes again")
        .await
        .unwrap();
    let journal = store.journal(&run_id).await.unwrap();
    assert_eq!(journal[0].state, BatchState::Refused);
    assert_eq!(journal[0].inflight, None);
    assert_eq!(
        entries_holding_rows(&pool).await,
        1,
        "only the replace still holds rows"
    );

    // The schema refuses a settled entry that still holds rows.
    let settled_with_rows =
        sqlx::query("UPDATE journal SET state = 'accepted' WHERE run_id = $1 AND batch_idx = 2")
            .bind(run_id.as_str())
            .execute(&pool)
            .await;
    assert!(settled_with_rows.is_err(), "{settled_with_rows:?}");
    // Committing the accepted replace forgets them too: the journal holds no rows any more.
    store.commit_batch(&replace, &rows[..3], 0).await.unwrap();
    assert_eq!(entries_holding_rows(&pool).await, 0);
    // The removal is still unsettled.
    assert_eq!(
        store.unsettled_batches("newsletter").await.unwrap().len(),
        1
    );
    pool.close().await;
}

async fn replace_session_id(store: &Store, segment: &str) -> Option<u64> {
    let session = store.replace_session(segment).await.unwrap();
    session.map(|session| session.session_id)
}

async fn interrupted_replace_sessions_are_kept_per_segment(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.replace_session("newsletter").await.unwrap(), None);
    let before = SystemTime::now() - Duration::from_secs(1);
    // Session ids are positive 63-bit numbers (the Graph client's `Session::start`).
    let big_session = i64::MAX as u64;
    store
        .record_replace_session("newsletter", "23849182047670582", big_session)
        .await
        .unwrap();
    store
        .record_replace_session("churned", "777", 5)
        .await
        .unwrap();

    let other_host = db.second_process().await;
    let session = other_host
        .replace_session("newsletter")
        .await
        .unwrap()
        .expect("the interrupted session");
    assert_eq!(
        (session.audience_id.as_str(), session.session_id),
        ("23849182047670582", big_session)
    );
    assert!(session.started_at >= before && session.started_at <= SystemTime::now());

    // A new session of the segment takes the place of the old one.
    store
        .record_replace_session("newsletter", "23849182047670582", 42)
        .await
        .unwrap();
    assert_eq!(
        replace_session_id(&other_host, "newsletter").await,
        Some(42)
    );
    store.forget_replace_session("newsletter").await.unwrap();
    store.forget_replace_session("newsletter").await.unwrap();
    assert_eq!(
        other_host.replace_session("newsletter").await.unwrap(),
        None
    );
    assert!(matches!(
        store.replace_session("churned").await.unwrap(),
        Some(ReplaceSession { session_id: 5, .. })
    ));
}

async fn a_dead_holders_lease_is_taken_over_at_once_by_exactly_one_process(db: TestDb) {
    let store = &db.store;
    let dead = store
        .acquire_lease("newsletter", "dead", Duration::from_secs(600))
        .await
        .unwrap();
    assert!(matches!(
        store.acquire_lease("newsletter", "impatient", Duration::from_secs(60)).await,
        Err(StoreError::LeaseHeld { holder, .. }) if holder == "dead"
    ));

    // Several processes find the dead holder at once: one takes its lease over, the others are
    // told who did.
    let stores = [db.store.clone(), db.second_process().await];
    let barrier = Arc::new(tokio::sync::Barrier::new(6));
    let mut tasks = Vec::new();
    for task_idx in 0..6 {
        let store = stores[task_idx % 2].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("heir-{task_idx}");
            barrier.wait().await;
            store
                .take_over_lease("newsletter", "dead", &holder, Duration::from_secs(60))
                .await
        }));
    }
    let mut winners = Vec::new();
    let mut told = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(lease) => winners.push(lease),
            Err(StoreError::LeaseHeld { holder, .. }) => told.push(holder),
            Err(error) => panic!("unexpected error {error:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(winners[0].holder.starts_with("heir-"));
    assert!(winners[0].expires_at < dead.expires_at);
    assert_eq!(told, vec![winners[0].holder.clone(); 5]);
    assert!(matches!(
        store.renew_lease(&dead, Duration::from_secs(60)).await,
        Err(StoreError::LeaseLost { .. })
    ));
    store
        .renew_lease(&winners[0], Duration::from_secs(60))
        .await
        .expect("the heir holds the lease");

    // A holder that is gone from the table: the lease is acquired as usual.
    store.release_lease(&winners[0]).await.unwrap();
    let late = store
        .take_over_lease("newsletter", "dead", "late", Duration::from_secs(60))
        .await
        .expect("a free lease is taken");
    assert_eq!(late.holder, "late");
    store
        .take_over_lease("churned", "dead", "late", Duration::from_secs(60))
        .await
        .expect("a segment without a lease");
}

/// Opens `url` with only the first migration (the schema of audsync before in-flight rows and
/// replace sessions were kept in the store), writes state as that audsync did, then lets
/// `Store::connect` migrate it.
async fn first_schema_database_migrates_and_keeps_its_state(url: &str, backend: Backend) {
    let pool = raw_pool(url).await;
    let first_sql = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0001_state.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0001_state.sql"),
    };
    Migrator::with_migrations(vec![Migration::new(
        1,
        "state".into(),
        MigrationType::Simple,
        first_sql.into_sql_str(),
        false,
    )])
    .run(&pool)
    .await
    .expect("the first migration runs");
    let old = member(1, 1);
    let statements = [
        "INSERT INTO audiences VALUES ('newsletter', 'meta', '1234', '2384', \
         'CA_newsletter', '[\"EMAIL\",\"PHONE\",\"EXTERN_ID\"]', 1700000000000)",
        "INSERT INTO runs (id, segment, started_at, status) \
         VALUES ('old-run', 'newsletter', 1700000000000, 'running')",
        "INSERT INTO journal (run_id, batch_idx, operation, n_rows, user_ids, state, \
         graph_session_id, sent_at) \
         VALUES ('old-run', 3, 'add', 1, '[\"user-1\"]', 'sent', '99', 1700000000001)",
        "INSERT INTO leases VALUES ('newsletter', 'pid 1 on gone (0)', 1700000000000)",
    ];
    for sql in statements {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    sqlx::query(
        "INSERT INTO members (segment, user_id, user_hash, index_check, fingerprint, wire_row) \
         VALUES ('newsletter', $1, 5, 6, $2, $3)",
    )
    .bind(old.user_id.as_str())
    .bind(old.fingerprint.to_vec())
    .bind(serde_json::to_string(&old.wire_row).unwrap())
    .execute(&pool)
    .await
    .expect("an old member");
    pool.close().await;

    let store = Store::connect(url)
        .await
        .expect("the old database migrates");
    assert_eq!(
        store.audience("newsletter").await.unwrap().unwrap().schema,
        ["EMAIL", "PHONE", "EXTERN_ID"]
    );
    assert_eq!(
        store.member_rows("newsletter", &["user-1"]).await.unwrap(),
        vec![old.clone()]
    );
    // The old run's batch is unsettled, without rows: they were in a file of that host.
    let unsettled = store.unsettled_batches("newsletter").await.unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].user_ids, ["user-1"]);
    assert_eq!(unsettled[0].inflight, None);
    // The new run settles it, keeps rows of its own batches, replace sessions and leases.
    let run_id = store.begin_run("newsletter").await.unwrap();
    let old_run = audsync::store::RunId::from_string("old-run".to_owned());
    let old_batch = BatchRef {
        run_id: &old_run,
        segment: "newsletter",
        batch_idx: 3,
        operation: Operation::Add,
    };
    store
        .journal_batch_refused(&old_batch, "superseded")
        .await
        .unwrap();
    let batch = BatchRef {
        run_id: &run_id,
        ..old_batch
    };
    store
        .journal_batch_sent(&batch, &schema(), &[member(2, 1)], None)
        .await
        .unwrap();
    let unsettled = store.unsettled_batches("newsletter").await.unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].inflight.as_ref().unwrap().rows, [member(2, 1)]);
    store
        .record_replace_session("newsletter", "2384", 7)
        .await
        .unwrap();
    assert_eq!(replace_session_id(&store, "newsletter").await, Some(7));
    store
        .acquire_lease("newsletter", "new", Duration::from_secs(60))
        .await
        .expect("the old lease expired long ago");
    store.close().await;
    // Connecting again finds every migration applied.
    Store::connect(url)
        .await
        .expect("an up-to-date database opens")
        .close()
        .await;
}

/// Not a test but a measurement (`cargo test -p audsync --release --test it --
/// --ignored --nocapture store_figures`): commits 1M members in 10,000-row batches and loads
/// the index, on SQLite and on PostgreSQL, and prints the rates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it with --ignored --nocapture"]
async fn store_figures_for_one_million_members() {
    const N_MEMBERS: u64 = 1_000_000;
    const BATCH_ROWS: u64 = 10_000;
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        let store = &db.store;
        let run_id = store.begin_run("bench").await.unwrap();
        let started = Instant::now();
        let mut slowest_batch = Duration::ZERO;
        for batch_idx in 0..N_MEMBERS / BATCH_ROWS {
            let rows: Vec<MemberRow> = (batch_idx * BATCH_ROWS..(batch_idx + 1) * BATCH_ROWS)
                .map(|user_idx| member(user_idx, 1))
                .collect();
            let batch_started = Instant::now();
            send_and_commit(
                store,
                &run_id,
                "bench",
                batch_idx as u32,
                Operation::Add,
                &rows,
            )
            .await;
            slowest_batch = slowest_batch.max(batch_started.elapsed());
        }
        let commit_elapsed = started.elapsed();
        let started = Instant::now();
        let index = store.load_member_index("bench").await.unwrap();
        let load_elapsed = started.elapsed();
        println!(
            "{}: committed {N_MEMBERS} members in {:.1} s ({:.0} rows/s, slowest 10k batch \
             {:.0} ms incl. journal); loaded the index in {:.2} s ({:.0} rows/s), {} bytes \
             ({:.2} bytes/member)",
            store.backend(),
            commit_elapsed.as_secs_f64(),
            N_MEMBERS as f64 / commit_elapsed.as_secs_f64(),
            slowest_batch.as_secs_f64() * 1e3,
            load_elapsed.as_secs_f64(),
            N_MEMBERS as f64 / load_elapsed.as_secs_f64(),
            index.heap_bytes(),
            index.heap_bytes() as f64 / N_MEMBERS as f64,
        );
        assert_eq!(index.len(), N_MEMBERS as usize);
    }
}
