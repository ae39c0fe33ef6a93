//! The emulator's configuration: ad accounts, tokens, apps, limits and the scenarios to start with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenarios::{self, Scenario, ScenarioError};

/// The numeric id (with its `act_` prefix) of the ad account the default configuration holds.
/// The number is the one recorded in the GRP fixtures (contract §10 F1).
pub const DEFAULT_AD_ACCOUNT_ID: &str = "act_542676646349772";

/// The valid, non-expiring system-user token of the default configuration. It has
/// `ads_management` and `ads_read`, and MANAGE on every configured ad account.
pub const DEFAULT_ACCESS_TOKEN: &str =
    "EAAMxEmuLat0rSystemUserT0kenZBaNdZCcustomAudienceZZsandboxZD";

/// The app id of the default app (debug_token's `app_id`, contract §10 F8).
pub const DEFAULT_APP_ID: &str = "874930216603214";

/// The default app's secret; `DEFAULT_APP_ID|DEFAULT_APP_SECRET` is the app access token that
/// `GET /debug_token` accepts (contract §8.1).
pub const DEFAULT_APP_SECRET: &str = "9f2c5d7e1a3b4c6d8e0f1a2b3c4d5e6f";

/// The Custom Audience BUC base quota per hour for the "limited" access tier:
/// `5000 + 40 * active audiences` (contract §6.1, RL-GRAPH).
pub const LIMITED_TIER_BASE_CALLS_PER_HOUR: u64 = 5_000;

/// The Custom Audience BUC base quota per hour for the "full" access tier:
/// `190000 + 40 * active audiences` (contract §6.1, RL-GRAPH).
pub const FULL_TIER_BASE_CALLS_PER_HOUR: u64 = 190_000;

/// Calls per hour added for each active custom audience of the ad account (contract §6.1).
pub const CALLS_PER_HOUR_PER_ACTIVE_AUDIENCE: u64 = 40;

/// The quota never exceeds 700,000 calls per hour (contract §6.1, RL-GRAPH).
pub const MAX_CALLS_PER_HOUR: u64 = 700_000;

/// Replace sessions close 90 minutes after their first batch (contract §2.6, G-CA).
pub const REPLACE_SESSION_TIMEOUT: Duration = Duration::from_secs(90 * 60);

/// Replace is refused for audiences of 100 million users or more (contract §2.6, 1870144).
pub const REPLACE_MAX_AUDIENCE_SIZE: usize = 100_000_000;

/// An ad account holds at most 500 customer-file custom audiences (contract §9, G-CA FAQ).
pub const MAX_AUDIENCES_PER_ACCOUNT: usize = 500;

/// Status of a token in the emulator's token table (contract §12 "Auth").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenStatus {
    /// The token works.
    Valid,
    /// The session expired: 190/463.
    Expired,
    /// The token was invalidated: 190/467.
    Revoked,
}

/// An ad account the emulator serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdAccountConfig {
    /// The bare numeric id, without `act_`.
    pub account_id: String,
    /// `name` field.
    pub name: String,
    /// `account_status` (1 ACTIVE, 2 DISABLED, ... contract §8.2).
    pub account_status: u32,
    /// `disable_reason` (0 NONE).
    pub disable_reason: u32,
    /// `currency` field.
    pub currency: String,
    /// The owning business `(id, name)`; `None` leaves `business` out of reads.
    pub business: Option<(String, String)>,
    /// Whether the Custom Audience terms are accepted (`tos_accepted.custom_audience_tos`).
    pub custom_audience_tos_accepted: bool,
}

impl AdAccountConfig {
    /// An active account with a business and accepted terms. Accepts `act_123` or `123`.
    pub fn active(id: &str, name: &str) -> Self {
        let account_id = id.strip_prefix("act_").unwrap_or(id).to_owned();
        Self {
            business: Some((
                format!(
                    "1{}",
                    account_id
                        .chars()
                        .filter(char::is_ascii_digit)
                        .take(14)
                        .collect::<String>()
                ),
                format!("{name} Inc"),
            )),
            account_id,
            name: name.to_owned(),
            account_status: 1,
            disable_reason: 0,
            currency: "USD".to_owned(),
            custom_audience_tos_accepted: true,
        }
    }

    /// `act_<account_id>`.
    pub fn act_id(&self) -> String {
        format!("act_{}", self.account_id)
    }
}

/// An access token the emulator accepts (or knows, for expired and revoked ones).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenConfig {
    /// The token string itself. Redacted in `Debug`.
    pub token: String,
    /// Valid, expired or revoked.
    pub status: TokenStatus,
    /// `debug_token` `type`: `SYSTEM_USER`, `USER` or `PAGE`.
    pub token_type: String,
    /// The app the token was issued for (must be one of the configured apps for proofs).
    pub app_id: String,
    /// The user or system user behind the token (`/me` `id`).
    pub user_id: String,
    /// `/me` `name`.
    pub user_name: String,
    /// Granted permissions (`scopes` of debug_token; `granted` in /me/permissions).
    pub scopes: Vec<String>,
    /// Permissions the user declined (`declined` in /me/permissions).
    pub declined_scopes: Vec<String>,
    /// Ad-account tasks by bare numeric account id; the key `*` applies to every account.
    pub account_tasks: BTreeMap<String, Vec<String>>,
    /// Unix seconds the token was issued.
    pub issued_at: u64,
    /// Unix seconds the token expires; 0 = never (system users).
    pub expires_at: u64,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenConfig")
            .field("token", &redact(&self.token))
            .field("status", &self.status)
            .field("token_type", &self.token_type)
            .field("app_id", &self.app_id)
            .field("user_id", &self.user_id)
            .field("scopes", &self.scopes)
            .field("declined_scopes", &self.declined_scopes)
            .field("account_tasks", &self.account_tasks)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl TokenConfig {
    /// A valid non-expiring system-user token with `ads_management` + `ads_read` and MANAGE on
    /// every ad account.
    pub fn system_user(token: &str) -> Self {
        Self {
            token: token.to_owned(),
            status: TokenStatus::Valid,
            token_type: "SYSTEM_USER".to_owned(),
            app_id: DEFAULT_APP_ID.to_owned(),
            user_id: "122094883214567890".to_owned(),
            user_name: "audsync system user".to_owned(),
            scopes: vec![
                "ads_management".to_owned(),
                "ads_read".to_owned(),
                "business_management".to_owned(),
                "public_profile".to_owned(),
            ],
            declined_scopes: Vec::new(),
            account_tasks: BTreeMap::from([(
                "*".to_owned(),
                ["DRAFT", "ANALYZE", "ADVERTISE", "MANAGE"]
                    .map(str::to_owned)
                    .to_vec(),
            )]),
            issued_at: 1_767_225_600,
            expires_at: 0,
        }
    }

    /// The tasks this token has on `account_id` (bare numeric id).
    pub fn tasks_on(&self, account_id: &str) -> Vec<String> {
        self.account_tasks
            .get(account_id)
            .or_else(|| self.account_tasks.get("*"))
            .cloned()
            .unwrap_or_default()
    }
}

/// An app: its id, its secret (for app tokens and `appsecret_proof`) and whether it requires a
/// proof on every call ("Require App Secret", contract §7).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    /// The app id.
    pub app_id: String,
    /// The app's display name (`debug_token` `application`).
    pub name: String,
    /// The app secret. Redacted in `Debug`.
    pub secret: Option<String>,
    /// Refuse user/system-user calls that carry no `appsecret_proof`.
    pub require_appsecret_proof: bool,
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AppConfig")
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_deref().map(redact))
            .field("require_appsecret_proof", &self.require_appsecret_proof)
            .finish()
    }
}

/// The Marketing API access tier that sets the Custom Audience BUC quota (contract §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessTier {
    /// "Limited access" (formerly Standard): 5000 + 40·N per hour.
    Limited,
    /// "Full access" (formerly Advanced): 190000 + 40·N per hour.
    Full,
}

/// The per-ad-account rate budget (contract §6.1).
#[derive(Clone, Debug, PartialEq)]
pub struct RateConfig {
    /// The access tier that sets the default quota.
    pub access_tier: AccessTier,
    /// A fixed quota in calls per hour instead of the tier formula.
    pub calls_per_hour: Option<u64>,
    /// How long an ad account stays blocked once its budget ran out. Reported in
    /// `estimated_time_to_regain_access` as minutes (fractional below one minute).
    pub regain_after: Duration,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            access_tier: AccessTier::Limited,
            calls_per_hour: None,
            // The ad-account scoring block of the standard tier is 60 s (contract §6.1, RL-MKT).
            regain_after: Duration::from_secs(60),
        }
    }
}

/// Everything the emulator starts with.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Ad accounts served.
    pub ad_accounts: Vec<AdAccountConfig>,
    /// Tokens known (valid, expired or revoked).
    pub tokens: Vec<TokenConfig>,
    /// Apps known (for app tokens and proofs).
    pub apps: Vec<AppConfig>,
    /// Scenarios active from the start (in order; later ones override earlier ones).
    pub scenarios: Vec<Scenario>,
    /// Load state from this file at start and persist it after each mutation.
    pub state_file: Option<PathBuf>,
    /// Member counts become visible this long after a change (real Meta: up to 24 h).
    pub matching_delay: Duration,
    /// A removal that would leave fewer members than this is refused with 200/1870047;
    /// 0 disables the rule (contract §12).
    pub small_audience_threshold: usize,
    /// Below this many members `approximate_count_*` read −1 (contract §12).
    pub approximate_count_threshold: usize,
    /// The per-ad-account rate budget.
    pub rate: RateConfig,
    /// The app-level call budget per hour that `x-app-usage` reports against.
    pub app_calls_per_hour: u64,
    /// Replace sessions time out this long after their first batch (2650/1870158).
    pub replace_session_timeout: Duration,
    /// Replace is refused for audiences of this many members or more (2650/1870144).
    pub replace_max_audience_size: usize,
    /// Creating more audiences than this in one ad account fails (2654).
    pub max_audiences_per_account: usize,
    /// Seed for generated ids and for fault injection, so runs are reproducible.
    pub seed: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            ad_accounts: vec![AdAccountConfig::active(DEFAULT_AD_ACCOUNT_ID, "Acme")],
            tokens: vec![TokenConfig::system_user(DEFAULT_ACCESS_TOKEN)],
            apps: vec![AppConfig {
                app_id: DEFAULT_APP_ID.to_owned(),
                name: "audsync".to_owned(),
                secret: Some(DEFAULT_APP_SECRET.to_owned()),
                require_appsecret_proof: false,
            }],
            scenarios: Vec::new(),
            state_file: None,
            matching_delay: Duration::ZERO,
            small_audience_threshold: 100,
            approximate_count_threshold: 1_000,
            rate: RateConfig::default(),
            app_calls_per_hour: 200_000,
            replace_session_timeout: REPLACE_SESSION_TIMEOUT,
            replace_max_audience_size: REPLACE_MAX_AUDIENCE_SIZE,
            max_audiences_per_account: MAX_AUDIENCES_PER_ACCOUNT,
            seed: 0x00A0_D5E1,
        }
    }
}

impl EmulatorConfig {
    /// Adds a scenario, by built-in name (see [`crate::scenario_names`]) or by path to a TOML
    /// file.
    pub fn with_scenario(mut self, name: &str) -> Result<Self, ScenarioError> {
        self.scenarios.extend(scenarios::load(name)?);
        Ok(self)
    }

    /// Adds an active ad account (`act_123` or `123`). The first call replaces the default
    /// account, later calls add more.
    pub fn with_ad_account(mut self, id: &str) -> Self {
        let account = AdAccountConfig::active(id, "Sandbox");
        if self.ad_accounts == vec![AdAccountConfig::active(DEFAULT_AD_ACCOUNT_ID, "Acme")] {
            self.ad_accounts.clear();
        }
        if !self
            .ad_accounts
            .iter()
            .any(|known| known.account_id == account.account_id)
        {
            self.ad_accounts.push(account);
        }
        self
    }

    /// Adds a valid system-user token with MANAGE on every account. The first call replaces
    /// the default token, later calls add more.
    pub fn with_token(mut self, token: &str) -> Self {
        if self.tokens.len() == 1 && self.tokens[0].token == DEFAULT_ACCESS_TOKEN {
            self.tokens.clear();
        }
        if !self.tokens.iter().any(|known| known.token == token) {
            self.tokens.push(TokenConfig::system_user(token));
        }
        self
    }

    /// Persists state to `path` (loaded at start, written after each mutation).
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
}

/// Shows the first 6 characters of a secret and its length, never the rest.
pub(crate) fn redact(secret: &str) -> String {
    let prefix: String = secret.chars().take(6).collect();
    format!("{prefix}…<redacted {} chars>", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token_or_the_secret() {
        let config = EmulatorConfig::default();
        let debug = format!("{config:?}");
        assert!(!debug.contains(DEFAULT_ACCESS_TOKEN));
        assert!(!debug.contains(DEFAULT_APP_SECRET));
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn with_ad_account_replaces_the_default_then_adds() {
        let config = EmulatorConfig::default()
            .with_ad_account("act_1")
            .with_ad_account("2");
        let ids: Vec<String> = config
            .ad_accounts
            .iter()
            .map(AdAccountConfig::act_id)
            .collect();
        assert_eq!(ids, ["act_1", "act_2"]);
    }

    #[test]
    fn with_token_replaces_the_default_then_adds() {
        let config = EmulatorConfig::default()
            .with_token("EAAone")
            .with_token("EAAtwo");
        let tokens: Vec<&str> = config
            .tokens
            .iter()
            .map(|token| token.token.as_str())
            .collect();
        assert_eq!(tokens, ["EAAone", "EAAtwo"]);
        assert_eq!(
            config.tokens[1].tasks_on("999"),
            ["DRAFT", "ANALYZE", "ADVERTISE", "MANAGE"]
        );
    }
}
