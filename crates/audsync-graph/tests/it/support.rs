//! The harness: a spawned emulator, a client with fast retry settings, and the emulator's `/_emulator/` inspection.

use std::time::Duration;

use audsync_emulator::{
    DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, EmulatorConfig, RunningEmulator,
};
use audsync_graph::{
    AccessTier, AccessToken, AdAccountId, AudienceId, GraphClient, GraphError, GraphSettings,
    NewAudience, RetryPolicy, Timeouts, UsersBatch, UsersSchema,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Millisecond retries: tests never wait for production backoffs.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        throttle_floor: Duration::from_millis(1),
        throttle_max_delay: Duration::from_millis(20),
        max_total_wait: Duration::from_secs(30),
    }
}

pub struct Harness {
    pub emulator: RunningEmulator,
    pub client: GraphClient,
    http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(EmulatorConfig::default()).await
    }

    pub async fn start_with(config: EmulatorConfig) -> Harness {
        let emulator = audsync_emulator::spawn(config)
            .await
            .expect("the emulator starts");
        let client = client_for(&emulator, |_| {});
        Harness {
            emulator,
            client,
            http: reqwest::Client::new(),
        }
    }

    pub async fn with_scenario(name: &str) -> Harness {
        let config = EmulatorConfig::default()
            .with_scenario(name)
            .expect("a built-in scenario");
        Harness::start_with(config).await
    }

    /// Another client against this emulator, with `edit` applied to the test settings.
    pub fn client_with(&self, edit: impl FnOnce(&mut GraphSettings)) -> GraphClient {
        client_for(&self.emulator, edit)
    }

    /// Adds a built-in scenario at run time.
    pub async fn add_scenario(&self, name: &str) {
        self.post_scenario(serde_json::json!({ "name": name }))
            .await;
    }

    /// Replaces the active scenarios with an inline TOML one (scripted faults start afresh).
    pub async fn set_scenario_toml(&self, toml: &str) {
        self.post_scenario(serde_json::json!({ "clear": true, "toml": toml }))
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

    /// The emulator's log of Meta-surface requests, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        let log = self.control("requests").await;
        log["data"].as_array().cloned().unwrap_or_default()
    }

    /// `(method, status, code)` of logged requests whose path contains `path_part`.
    pub async fn outcomes(&self, path_part: &str) -> Vec<(String, u64, Option<u64>)> {
        self.requests()
            .await
            .iter()
            .filter(|request| {
                request["path"]
                    .as_str()
                    .is_some_and(|path| path.contains(path_part))
            })
            .map(|request| {
                (
                    request["method"].as_str().unwrap_or("").to_owned(),
                    request["status"].as_u64().unwrap_or(0),
                    request["code"].as_u64(),
                )
            })
            .collect()
    }

    /// The HTTP statuses of logged requests whose path contains `path_part`.
    pub async fn statuses(&self, path_part: &str) -> Vec<u64> {
        let outcomes = self.outcomes(path_part).await;
        outcomes.into_iter().map(|(_, status, _)| status).collect()
    }

    /// The Graph error codes (`None` for successes) of logged requests whose path contains
    /// `path_part`.
    pub async fn codes(&self, path_part: &str) -> Vec<Option<u64>> {
        let outcomes = self.outcomes(path_part).await;
        outcomes.into_iter().map(|(_, _, code)| code).collect()
    }

    /// The stored members of an audience, as key → value maps.
    pub async fn members(&self, audience: &AudienceId) -> Vec<Value> {
        let body = self.control(&format!("audiences/{audience}/members")).await;
        body["members"].as_array().cloned().unwrap_or_default()
    }

    /// Every audience the emulator holds.
    pub async fn audiences(&self) -> Vec<Value> {
        let body = self.control("audiences").await;
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Creates an audience through the client.
    pub async fn new_audience(&self, name: &str) -> AudienceId {
        self.client
            .create_audience(&ad_account(), name, &NewAudience::default())
            .await
            .expect("the audience is created")
    }
}

fn client_for(emulator: &RunningEmulator, edit: impl FnOnce(&mut GraphSettings)) -> GraphClient {
    let mut settings = GraphSettings::new(AccessToken::new(DEFAULT_ACCESS_TOKEN));
    settings.base_url = emulator.base_url();
    settings.retry = fast_retry();
    settings.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(5),
    };
    // Our own limiter must not be what slows a test down.
    settings.access_tier = AccessTier::Full;
    // The emulator's tiny test budgets report 100 % after a few calls: a one-second window
    // keeps the proportional pause at a tenth of a second.
    settings.rate.usage_window = Duration::from_secs(1);
    edit(&mut settings);
    GraphClient::new(settings).expect("valid test settings")
}

/// `(code, subcode)` of a Graph error.
pub fn code_and_subcode(error: &GraphError) -> Option<(i64, Option<i64>)> {
    error.api().map(|api| (api.code, api.subcode))
}

pub fn ad_account() -> AdAccountId {
    AdAccountId::parse(DEFAULT_AD_ACCOUNT_ID).expect("the emulator's id parses")
}

/// SHA-256 hex of a normalized value, as the core would send it.
pub fn sha(normalized: &str) -> String {
    const_hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// A batch that must have no local rejections.
pub fn batch(schema: UsersSchema, rows: Vec<Vec<String>>) -> UsersBatch {
    let (batch, rejections) = UsersBatch::build(schema, rows).expect("a valid batch");
    assert_eq!(rejections, vec![], "the test rows are valid");
    batch
}

/// `n` single-column rows of hashed e-mail addresses `user{i}@example.com`, from `first`.
pub fn email_rows(first: usize, n: usize) -> Vec<Vec<String>> {
    (first..first + n)
        .map(|index| vec![sha(&format!("user{index}@example.com"))])
        .collect()
}
