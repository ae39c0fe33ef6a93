//! Client settings: where Graph lives, which version, the secrets (redacted), timeouts, retries and rate budgets.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::retry::RetryPolicy;

/// Where the real Graph API lives (contract §1, "Base URL").
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// The Graph API version sent in every path. Contract §1 (VER): v25.0 was released
/// Feb 18 2026 and **expires Feb 23 2027**; Meta's Python and PHP SDKs pin it too.
/// Move to a newer version before that date.
pub const DEFAULT_API_VERSION: &str = "v25.0";

/// How long to wait for a TCP/TLS connection. Our choice: a healthy Graph edge connects in
/// well under a second; ten seconds separates "down" from "slow".
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take, upload included. Our choice: a 10,000-row multi-key batch
/// (contract §9) is a few megabytes; two minutes covers a slow uplink.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Custom Audience calls per hour per ad account with "Limited access" (formerly Standard
/// access): `5000 + 40 · active audiences` (contract §6.1, RL-GRAPH).
pub const LIMITED_TIER_BASE_CALLS_PER_HOUR: u32 = 5_000;

/// Custom Audience calls per hour per ad account with "Full access" (formerly Advanced
/// access): `190000 + 40 · active audiences` (contract §6.1, RL-GRAPH).
pub const FULL_TIER_BASE_CALLS_PER_HOUR: u32 = 190_000;

/// Extra calls per hour for each active custom audience (contract §6.1, RL-GRAPH).
pub const CALLS_PER_HOUR_PER_ACTIVE_AUDIENCE: u32 = 40;

/// The Custom Audience budget is "never above 700 000" calls per hour (contract §6.1).
pub const MAX_CALLS_PER_HOUR: u32 = 700_000;

/// Requests in flight per ad account. Our choice (the contract names no limit): enough to keep
/// a 10,000-row-per-request pipeline busy without bursting the hourly budget.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// A Graph access token. `Debug` never shows it; it leaves this crate only in the
/// `Authorization` header.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> AccessToken {
        AccessToken(SecretString::from(token.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AccessToken(**redacted**)")
    }
}

/// The app secret, used only to compute `appsecret_proof` (contract §7). Never sent.
#[derive(Clone)]
pub struct AppSecret(SecretString);

impl AppSecret {
    pub fn new(secret: impl Into<String>) -> AppSecret {
        AppSecret(SecretString::from(secret.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AppSecret(**redacted**)")
    }
}

/// Which form of `appsecret_proof` to send when an app secret is set (contract §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProofMode {
    /// `HMAC_SHA256(secret, token + "|" + time)` with `appsecret_time`; expires after 5 minutes.
    #[default]
    Timestamped,
    /// The older `HMAC_SHA256(secret, token)` without `appsecret_time`.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_CONNECT_TIMEOUT,
            request: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// The app's Marketing API access tier (contract §1 rename, §6.1 budgets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTier {
    /// "Limited access" (formerly Standard access).
    #[default]
    Limited,
    /// "Full access" (formerly Advanced access).
    Full,
}

/// Pause an ad account once any usage header reaches this percentage (contract §6.3: "if any
/// percentage ≥ 90, pause that ad account's queue proportionally").
pub const DEFAULT_USAGE_PAUSE_THRESHOLD_PCT: f64 = 90.0;

/// The window Graph's usage percentages refer to: a rolling hour (contract §6.1).
pub const DEFAULT_USAGE_WINDOW: Duration = Duration::from_secs(3_600);

/// Rate settings applied to each ad account separately (contract §6.1: the budget is per ad
/// account).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSettings {
    /// Active custom audiences assumed per ad account until
    /// `GraphClient::set_active_audience_count` says otherwise; each adds 40 calls per hour.
    pub n_active_audiences: u32,
    /// Requests in flight per ad account.
    pub max_in_flight: usize,
    /// Usage percentage at which the ad account is paused.
    pub usage_pause_threshold_pct: f64,
    /// The window the usage percentages refer to; the proportional pause is a share of it.
    /// Only tests against an emulator with a tiny budget change it.
    pub usage_window: Duration,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            n_active_audiences: 0,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            usage_pause_threshold_pct: DEFAULT_USAGE_PAUSE_THRESHOLD_PCT,
            usage_window: DEFAULT_USAGE_WINDOW,
        }
    }
}

/// Custom Audience calls per hour for one ad account (contract §6.1).
pub fn hourly_call_budget(access_tier: AccessTier, n_active_audiences: u32) -> u32 {
    let base = match access_tier {
        AccessTier::Limited => LIMITED_TIER_BASE_CALLS_PER_HOUR,
        AccessTier::Full => FULL_TIER_BASE_CALLS_PER_HOUR,
    };
    base.saturating_add(n_active_audiences.saturating_mul(CALLS_PER_HOUR_PER_ACTIVE_AUDIENCE))
        .min(MAX_CALLS_PER_HOUR)
}

/// Everything the client needs. Build with [`GraphSettings::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// Default [`DEFAULT_BASE_URL`]; tests point it at the emulator.
    pub base_url: String,
    /// Default [`DEFAULT_API_VERSION`]; sent in every path.
    pub api_version: String,
    pub access_token: AccessToken,
    /// When set, every call carries `appsecret_proof` (contract §7).
    pub app_secret: Option<AppSecret>,
    /// With `app_secret`, lets `debug_token` use the app token `APP_ID|APP_SECRET`.
    pub app_id: Option<String>,
    pub appsecret_proof: ProofMode,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub access_tier: AccessTier,
    pub rate: RateSettings,
}

impl GraphSettings {
    pub fn new(access_token: AccessToken) -> GraphSettings {
        GraphSettings {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            access_token,
            app_secret: None,
            app_id: None,
            appsecret_proof: ProofMode::default(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            access_tier: AccessTier::default(),
            rate: RateSettings::default(),
        }
    }

    /// Every problem with these settings, in plain words (empty when usable).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match reqwest::Url::parse(&self.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
            Ok(_) => problems.push("base_url must be an http(s) URL without a query".to_owned()),
            Err(error) => problems.push(format!("base_url is not a URL: {error}")),
        }
        if !is_api_version(&self.api_version) {
            problems.push("api_version must look like v25.0".to_owned());
        }
        if self.access_token.expose().trim().is_empty() {
            problems.push("access_token is empty".to_owned());
        }
        if self.rate.max_in_flight == 0 {
            problems.push("rate.max_in_flight must be at least 1".to_owned());
        }
        let threshold = self.rate.usage_pause_threshold_pct;
        if !threshold.is_finite() || threshold <= 0.0 || self.rate.usage_window.is_zero() {
            problems.push(
                "rate.usage_pause_threshold_pct and rate.usage_window must be positive".to_owned(),
            );
        }
        problems.extend(self.retry.problems());
        problems
    }
}

fn is_api_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let is_number = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    is_number(parts.next()) && is_number(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut settings = GraphSettings::new(AccessToken::new("EAAtoken123"));
        settings.app_secret = Some(AppSecret::new("app_secret_123"));
        let debug = format!("{settings:?}");
        assert!(debug.contains("AccessToken(**redacted**)"), "{debug}");
        assert!(debug.contains("AppSecret(**redacted**)"), "{debug}");
        assert!(!debug.contains("EAAtoken123"));
        assert!(!debug.contains("app_secret_123"));
    }

    #[test]
    fn hourly_budget_follows_contract_6_1() {
        assert_eq!(hourly_call_budget(AccessTier::Limited, 0), 5_000);
        assert_eq!(hourly_call_budget(AccessTier::Limited, 10), 5_400);
        assert_eq!(hourly_call_budget(AccessTier::Full, 10), 190_400);
        assert_eq!(hourly_call_budget(AccessTier::Full, 20_000), 700_000);
        assert_eq!(hourly_call_budget(AccessTier::Full, u32::MAX), 700_000);
    }

    #[test]
    fn defaults_are_usable_and_bad_settings_are_all_reported() {
        let settings = GraphSettings::new(AccessToken::new("t"));
        assert_eq!(settings.base_url, "https://graph.facebook.com");
        assert_eq!(settings.api_version, "v25.0");
        assert_eq!(settings.problems(), Vec::<String>::new());

        let mut bad = GraphSettings::new(AccessToken::new(" "));
        bad.base_url = "ftp://example.com".to_owned();
        bad.api_version = "25.0".to_owned();
        bad.rate.max_in_flight = 0;
        assert_eq!(bad.problems().len(), 4, "{:?}", bad.problems());
    }

    #[test]
    fn api_versions_are_checked() {
        for good in ["v25.0", "v3.3", "v100.10"] {
            assert!(is_api_version(good), "{good}");
        }
        for bad in ["25.0", "v25", "v25.", "v.0", "v25.0.1", "vX.0", ""] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }
}
