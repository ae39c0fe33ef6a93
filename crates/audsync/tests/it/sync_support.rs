//! Support for the sync tests: a spawned emulator, an SQLite store in a temporary folder, a
//! Graph client with millisecond retries, customer files, and the emulator's membership.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use audsync::sources::SourceSpec;
use audsync::store::Store;
use audsync::sync::send::ConflictWait;
use audsync::sync::{ProgressMode, RunReport, SegmentSpec, SyncDeps, SyncMode, SyncOptions};
use audsync_core::{EligibilityRule, NormalizeOptions};
use audsync_emulator::{
    DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, EmulatorConfig, RunningEmulator,
};
use audsync_graph::{
    AccessTier, AccessToken, AdAccountId, GraphClient, GraphSettings, NewAudience, RetryPolicy,
    Timeouts,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One customer of a test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub user_id: String,
    pub email: String,
    pub phone: String,
    pub consent: &'static str,
}

impl Customer {
    /// Customer `n`: `user{n}@example.com`, a US phone number of their own, consent given.
    pub fn numbered(n: usize) -> Customer {
        Customer {
            user_id: format!("u{n}"),
            email: format!("User{n}@Example.com "),
            // Unique per customer (the emulator merges members sharing a phone number).
            phone: format!("({}) 555-{:04}", 201 + n / 10_000, n % 10_000),
            consent: "yes",
        }
    }

    /// A customer with nothing to match on (rejected).
    pub fn thin(n: usize) -> Customer {
        Customer {
            user_id: format!("thin{n}"),
            email: String::new(),
            phone: String::new(),
            consent: "yes",
        }
    }

    /// The EMAIL key Meta receives for this customer (`None` when rejected).
    pub fn email_hash(&self) -> Option<String> {
        let normalized = self.email.trim().to_lowercase();
        (!normalized.is_empty()).then(|| sha256_hex(&normalized))
    }
}

/// The PHONE key Meta receives for a test customer (a US number).
pub fn phone_hash(customer: &Customer) -> String {
    let digits: String = customer
        .phone
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    sha256_hex(&format!("1{digits}"))
}

pub fn sha256_hex(text: &str) -> String {
    const_hex::encode(Sha256::digest(text.as_bytes()))
}

/// Customers `range`.
pub fn customers(range: std::ops::Range<usize>) -> Vec<Customer> {
    range.map(Customer::numbered).collect()
}

/// The CSV of a customer list (`user_id,email,phone,consent`).
pub fn csv(customers: &[Customer]) -> String {
    let mut text = String::from("user_id,email,phone,consent\n");
    for customer in customers {
        let _ = writeln!(
            text,
            "{},{},{},{}",
            customer.user_id, customer.email, customer.phone, customer.consent
        );
    }
    text
}

/// The EMAIL hashes of the customers that are members (consented, with an email).
pub fn expected_emails(customers: &[Customer]) -> BTreeSet<String> {
    customers
        .iter()
        .filter(|customer| customer.consent == "yes")
        .filter_map(Customer::email_hash)
        .collect()
}

/// Asserts two sets of keys are equal, printing only their sizes and a few differences.
#[track_caller]
pub fn assert_same_keys(actual: &BTreeSet<String>, expected: &BTreeSet<String>) {
    if actual != expected {
        let missing: Vec<&String> = expected.difference(actual).take(5).collect();
        let extra: Vec<&String> = actual.difference(expected).take(5).collect();
        panic!(
            "{} keys held, {} expected; missing {} (e.g. {missing:?}), extra {} (e.g. {extra:?})",
            actual.len(),
            expected.len(),
            expected.difference(actual).count(),
            actual.difference(expected).count()
        );
    }
}

/// A two-thread runtime for a test (the sync runs its diff on blocking threads).
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Millisecond retries: tests never wait for production backoffs.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        throttle_floor: Duration::from_millis(1),
        throttle_max_delay: Duration::from_millis(20),
        max_total_wait: Duration::from_secs(30),
    }
}

/// The emulator with no small-audience rule (most tests sync a few hundred users).
pub fn emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        small_audience_threshold: 0,
        ..EmulatorConfig::default()
    }
}

pub struct SyncHarness {
    pub emulator: RunningEmulator,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub deps: SyncDeps,
    http: reqwest::Client,
}

impl SyncHarness {
    pub async fn start() -> SyncHarness {
        SyncHarness::start_with(emulator_config()).await
    }

    pub async fn start_with(config: EmulatorConfig) -> SyncHarness {
        let emulator = audsync_emulator::spawn(config)
            .await
            .expect("the emulator starts");
        let dir = tempfile::Builder::new()
            .prefix("audsync-sync-")
            .tempdir()
            .expect("a temporary folder");
        let store_url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = Store::connect(&store_url).await.expect("the store opens");
        let graph = graph_client(&emulator.base_url());
        let deps = SyncDeps {
            store: store.clone(),
            graph,
            spool_root: dir.path().join("spool"),
        };
        SyncHarness {
            emulator,
            dir,
            store,
            deps,
            http: reqwest::Client::new(),
        }
    }

    /// Writes a source file and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a source file");
        path
    }

    /// A mirror segment `name` reading `customers.csv` with email and phone mapped (no
    /// EXTERN_ID, so that only removals can take a changed email away).
    pub fn spec(&self, name: &str, customers: &[Customer]) -> SegmentSpec {
        let source = self.write(&format!("{name}.csv"), &csv(customers));
        SegmentSpec {
            name: name.to_owned(),
            connector: "meta".to_owned(),
            ad_account: AdAccountId::parse(DEFAULT_AD_ACCOUNT_ID).expect("valid"),
            source: SourceSpec::file(source),
            mapping: vec![
                ("email".to_owned(), "EMAIL".to_owned()),
                ("phone".to_owned(), "PHONE".to_owned()),
            ],
            user_id_column: Some("user_id".to_owned()),
            consent_column: Some("consent".to_owned()),
            normalize: NormalizeOptions {
                default_country: audsync_core::CountryCode::parse("US"),
                ..NormalizeOptions::new(2026)
            },
            rule: EligibilityRule::default(),
            mode: SyncMode::Mirror,
            audience_name: format!("CA_{name}"),
            new_audience: NewAudience::default(),
        }
    }

    /// Rewrites the source of `spec` with `customers`.
    pub fn set_source(&self, spec: &SegmentSpec, customers: &[Customer]) {
        let path = spec.source.path().expect("a file source");
        std::fs::write(path, csv(customers)).expect("rewrite the source");
    }

    pub fn options(&self) -> SyncOptions {
        SyncOptions {
            progress: ProgressMode::Off,
            n_workers: 2,
            conflict_wait: ConflictWait {
                first_pause: Duration::from_millis(20),
                max_pause: Duration::from_millis(200),
                max_total: Duration::from_secs(20),
            },
            ..SyncOptions::default()
        }
    }

    pub async fn sync(&self, spec: &SegmentSpec) -> RunReport {
        self.sync_with(spec, &self.options()).await
    }

    pub async fn sync_with(&self, spec: &SegmentSpec, options: &SyncOptions) -> RunReport {
        audsync::sync::run(&self.deps, spec, options)
            .await
            .expect("the sync runs")
    }

    async fn control(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{path}", self.emulator.base_url()))
            .send()
            .await
            .expect("the control endpoint answers")
            .json()
            .await
            .expect("control answers are JSON")
    }

    /// The audience ids the emulator holds by name.
    pub async fn audiences(&self) -> BTreeMap<String, String> {
        let body = self.control("audiences").await;
        body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|audience| {
                (
                    audience["name"].as_str().unwrap_or_default().to_owned(),
                    audience["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The members of an audience, as key → value maps.
    pub async fn members(&self, audience_id: &str) -> Vec<BTreeMap<String, String>> {
        let body = self
            .control(&format!("audiences/{audience_id}/members"))
            .await;
        serde_json::from_value(body["members"].clone()).expect("members are maps")
    }

    /// The EMAIL values of an audience's members.
    pub async fn member_emails(&self, audience_id: &str) -> BTreeSet<String> {
        self.members(audience_id)
            .await
            .into_iter()
            .filter_map(|member| member.get("EMAIL").cloned())
            .collect()
    }

    /// The emulator's log: `(method, path, status)` of each Meta-surface request.
    pub async fn requests(&self) -> Vec<(String, String, u64)> {
        let body = self.control("requests").await;
        body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|request| {
                (
                    request["method"].as_str().unwrap_or_default().to_owned(),
                    request["path"].as_str().unwrap_or_default().to_owned(),
                    request["status"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Switches the emulator's scenarios: clears them, then adds inline TOML (if any).
    pub async fn set_scenario_toml(&self, toml: Option<&str>) {
        let body = match toml {
            Some(toml) => serde_json::json!({ "clear": true, "toml": toml }),
            None => serde_json::json!({ "clear": true }),
        };
        self.post_scenario(body).await;
    }

    /// Clears the scenarios and adds a built-in one.
    pub async fn set_scenario(&self, name: &str) {
        self.post_scenario(serde_json::json!({ "clear": true, "name": name }))
            .await;
    }

    async fn post_scenario(&self, body: Value) {
        let response = self
            .http
            .post(format!("{}/_emulator/scenario", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .expect("the control endpoint answers");
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}

/// A Graph client for the emulator with millisecond retries.
pub fn graph_client(base_url: &str) -> GraphClient {
    let mut settings = GraphSettings::new(AccessToken::new(DEFAULT_ACCESS_TOKEN));
    settings.base_url = base_url.to_owned();
    settings.retry = fast_retry();
    settings.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(10),
    };
    settings.access_tier = AccessTier::Full;
    // The emulator's tiny test budgets report 100 % after a few calls: a one-second window keeps
    // the proportional pause short.
    settings.rate.usage_window = Duration::from_secs(1);
    GraphClient::new(settings).expect("valid test settings")
}
