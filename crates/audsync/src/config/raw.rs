//! `RawConfig`: `audsync.toml` exactly as written (serde, unknown keys refused), before any
//! validation. Every field is optional here so that a missing one is reported together with
//! every other problem by `Config::from_raw`, not as serde's first error.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub store: Option<String>,
    #[serde(default)]
    pub connector: Vec<RawConnector>,
    #[serde(default)]
    pub segment: Vec<RawSegment>,
}

/// One `[[connector]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnector {
    pub name: Option<String>,
    pub ad_account_id: Option<String>,
    pub access_token: Option<String>,
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub graph_url: Option<String>,
    pub api_version: Option<String>,
    pub access_tier: Option<String>,
}

/// One `[[segment]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    pub name: Option<String>,
    pub connector: Option<String>,
    pub source: Option<RawSource>,
    pub user_id_column: Option<String>,
    /// Column → key (`{ email = "EMAIL" }`).
    pub mapping: Option<BTreeMap<String, String>>,
    pub default_country: Option<String>,
    pub date_order: Option<String>,
    pub names: Option<String>,
    pub consent_column: Option<String>,
    pub eligibility: Option<String>,
    pub mode: Option<String>,
    pub schedule: Option<String>,
    pub audience_name: Option<String>,
    pub customer_file_source: Option<String>,
    pub description: Option<String>,
    pub hash_extern_id: Option<bool>,
}

/// `source = "path/or/*.glob"` or `source = { sql = "…", database = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSource {
    Path(String),
    Query(RawQuerySource),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuerySource {
    pub sql: Option<String>,
    pub database: Option<String>,
}

/// The keys each table accepts, for reporting every unknown key at once (serde stops at the
/// first). Keep in step with the structs above.
pub(super) const TOP_LEVEL_KEYS: &[&str] = &["store", "connector", "segment"];
pub(super) const CONNECTOR_KEYS: &[&str] = &[
    "name",
    "ad_account_id",
    "access_token",
    "app_id",
    "app_secret",
    "graph_url",
    "api_version",
    "access_tier",
];
pub(super) const SEGMENT_KEYS: &[&str] = &[
    "name",
    "connector",
    "source",
    "user_id_column",
    "mapping",
    "default_country",
    "date_order",
    "names",
    "consent_column",
    "eligibility",
    "mode",
    "schedule",
    "audience_name",
    "customer_file_source",
    "description",
    "hash_extern_id",
];
pub(super) const QUERY_SOURCE_KEYS: &[&str] = &["sql", "database"];
