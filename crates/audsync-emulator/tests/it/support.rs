//! Test harness: a spawned emulator, a raw reqwest client and small request helpers.

use audsync_emulator::{
    DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, EmulatorConfig, RunningEmulator,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The numeric part of the default ad account.
pub fn account_number() -> &'static str {
    DEFAULT_AD_ACCOUNT_ID.trim_start_matches("act_")
}

/// SHA-256 lowercase hex.
pub fn sha256(text: &str) -> String {
    const_hex::encode(Sha256::digest(text.as_bytes()))
}

/// The hashed email of test user `idx`.
pub fn email(idx: usize) -> String {
    sha256(&format!("user{idx}@example.com"))
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// `error.code` and `error.error_subcode`.
    pub fn codes(&self) -> (Option<u64>, Option<u64>) {
        (
            self.body["error"]["code"].as_u64(),
            self.body["error"]["error_subcode"].as_u64(),
        )
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts a Meta error envelope with these codes and the `WWW-Authenticate` header.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64, subcode: Option<u64>) {
        assert_eq!(
            (self.status, self.codes()),
            (status, (Some(code), subcode)),
            "{}",
            self.text
        );
        let error = &self.body["error"];
        assert!(
            error["message"].is_string() && error["type"].is_string(),
            "{}",
            self.text
        );
        assert_eq!(
            error["fbtrace_id"].as_str().map(str::len),
            Some(11),
            "{}",
            self.text
        );
        let challenge = self
            .header("www-authenticate")
            .expect("WWW-Authenticate on errors");
        assert!(
            challenge.starts_with("OAuth \"Facebook Platform\" \"invalid_request\" \""),
            "{challenge}"
        );
    }
}

pub struct Harness {
    pub emulator: RunningEmulator,
    pub client: reqwest::Client,
    pub token: String,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(EmulatorConfig::default()).await
    }

    pub async fn with_config(config: EmulatorConfig) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emulator = audsync_emulator::spawn(config)
            .await
            .expect("emulator starts");
        let client = reqwest::Client::builder().build().expect("client");
        Self {
            emulator,
            client,
            token: DEFAULT_ACCESS_TOKEN.to_owned(),
        }
    }

    pub async fn with_scenario(name: &str) -> Self {
        Self::with_config(
            EmulatorConfig::default()
                .with_scenario(name)
                .expect("built-in scenario"),
        )
        .await
    }

    /// `base/v25.0/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v25.0/{path}", self.emulator.base_url())
    }

    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Self::read(request.send().await.expect("request sent")).await
    }

    /// GET with the token in the `Authorization` header.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(
            self.client
                .get(self.url(path))
                .bearer_auth(&self.token)
                .query(query),
        )
        .await
    }

    /// POST a JSON body with the token in the header.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await
    }

    /// DELETE with a JSON body and the token in the header.
    pub async fn delete(&self, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .delete(self.url(path))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await
    }

    /// GET on the control surface.
    pub async fn control(&self, path: &str) -> Value {
        let url = format!("{}/_emulator/{path}", self.emulator.base_url());
        self.client
            .get(url)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// POST on the control surface.
    pub async fn control_post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/_emulator/{path}", self.emulator.base_url());
        let response = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("sent");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    /// Creates a customer-file audience and returns its id.
    pub async fn create_audience(&self, name: &str) -> String {
        let reply = self
            .post(
                &format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
                json!({"name": name, "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Adds multi-key rows.
    pub async fn add(&self, audience_id: &str, schema: Value, data: Vec<Value>) -> Reply {
        self.post(
            &format!("{audience_id}/users"),
            json!({"payload": {"schema": schema, "data": data}}),
        )
        .await
    }

    /// Removes multi-key rows.
    pub async fn remove(&self, audience_id: &str, schema: Value, data: Vec<Value>) -> Reply {
        self.delete(
            &format!("{audience_id}/users"),
            json!({"payload": {"schema": schema, "data": data}}),
        )
        .await
    }

    /// Adds `count` EMAIL rows starting at user `from`.
    pub async fn add_emails(&self, audience_id: &str, from: usize, count: usize) -> Reply {
        let rows = (from..from + count)
            .map(|idx| json!([email(idx)]))
            .collect();
        let reply = self.add(audience_id, json!(["EMAIL"]), rows).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply
    }

    /// The stored members through `/_emulator/`.
    pub async fn members(&self, audience_id: &str) -> Vec<Value> {
        self.control(&format!("audiences/{audience_id}/members"))
            .await["members"]
            .as_array()
            .expect("members")
            .clone()
    }

    /// Reads fields of an audience.
    pub async fn audience(&self, audience_id: &str, fields: &str) -> Value {
        let reply = self.get(audience_id, &[("fields", fields)]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }
}
