//! The sync flow once on PostgreSQL (a fresh schema at `AUDSYNC_TEST_POSTGRES_URL`, default
//! `postgres://127.0.0.1:5432/test`): first sync, then adds, removals and a changed user.

use audsync::store::Store;
use audsync::sync::Outcome;

use crate::support::PgSchema;
use crate::sync_support::{
    SyncHarness, assert_same_keys, customers, expected_emails, multi_thread,
};

#[test]
fn a_sync_on_postgresql_adds_removes_and_changes_exactly() {
    multi_thread().block_on(async {
        let schema = PgSchema::create().await;
        let mut harness = SyncHarness::start().await;
        let store = Store::connect(&schema.url)
            .await
            .expect("the PostgreSQL store opens");
        harness.deps.store = store.clone();

        let spec = harness.spec("pg", &customers(0..400));
        let first = harness.sync(&spec).await;
        assert_eq!(
            (first.outcome, first.added),
            (Outcome::Succeeded, 400),
            "{first}"
        );

        let mut people = customers(50..480);
        people[3].email = "changed@example.org".to_owned();
        harness.set_source(&spec, &people);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!((report.new, report.changed, report.removed), (80, 1, 51));
        let audience_id = report.audience_id.clone().unwrap();
        assert_same_keys(
            &harness.member_emails(&audience_id).await,
            &expected_emails(&people),
        );
        assert_eq!(store.member_count("pg").await.unwrap(), 430);
        store.close().await;
        drop(schema);
    });
}
