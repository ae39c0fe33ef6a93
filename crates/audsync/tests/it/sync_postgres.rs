//! The sync flow once on PostgreSQL (a fresh schema at `AUDSYNC_TEST_POSTGRES_URL`, default
//! `postgres://127.0.0.1:5432/test`): first sync, then adds, removals and a changed user.

use audsync::store::Store;
use audsync::sync::Outcome;
use sqlx::Connection;

use crate::sync_support::{SyncHarness, assert_same_keys, customers, expected_emails};

const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://127.0.0.1:5432/test";

/// A schema created for one test and dropped after it.
struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    /// Creates the schema; returns it with a store URL whose `search_path` is that schema.
    async fn create() -> (Schema, String) {
        sqlx::any::install_default_drivers();
        let mut admin_url = std::env::var("AUDSYNC_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        if let Ok(mut parsed) = url::Url::parse(&admin_url)
            && parsed.username().is_empty()
        {
            let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".to_owned());
            let _ = parsed.set_username(&user);
            admin_url = parsed.to_string();
        }
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL is not reachable at {admin_url}: {error}"));
        let name = format!("audsync_sync_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.ok();
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
        (Schema { admin_url, name }, url)
    }

    async fn drop_it(self) {
        let mut admin = sqlx::AnyConnection::connect(&self.admin_url)
            .await
            .expect("reconnect to drop the schema");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test schema");
        admin.close().await.ok();
    }
}

#[test]
fn a_sync_on_postgresql_adds_removes_and_changes_exactly() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (schema, url) = Schema::create().await;
        let mut harness = SyncHarness::start().await;
        let store = Store::connect(&url)
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
        schema.drop_it().await;
    });
}
