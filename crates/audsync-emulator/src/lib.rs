//! An independent emulator of the Graph API's customer-file Custom Audience surface, for tests
//! and sandboxes.
//!
//! It is a second reading of `shared/docs/graph-api-contract.md`, sharing no code with the
//! client (`audsync-graph`), so that a wire mistake in one shows up as a test failure against
//! the other. It validates as Meta does (tokens, permissions, terms, payload shape, hashes,
//! data-source lock, replace sessions, rate budgets) and answers with Meta's error envelope and
//! usage headers. Where Meta is silent it follows the contract's "Emulator rule"s, listed in
//! the README's emulator section ("Emulator rules").
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let emulator = audsync_emulator::spawn(audsync_emulator::EmulatorConfig::default()).await?;
//! let url = format!("{}/v25.0/{}", emulator.base_url(), audsync_emulator::DEFAULT_AD_ACCOUNT_ID);
//! // GET url with `Authorization: Bearer DEFAULT_ACCESS_TOKEN` ...
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `config`: [`EmulatorConfig`], accounts, tokens, apps, limits.
//! - `scenarios`: named TOML overlays (`scenarios/*.toml`) and their combined effects.
//! - `state`: the world behind one `std::sync::Mutex`; persistence to the state file.
//! - `params`: query + form + multipart + JSON parameters, merged.
//! - `auth`: tokens, `appsecret_proof`, permission checks.
//! - `payload`, `members`: payload validation and the membership model.
//! - `rate`: BUC and app budgets, usage headers.
//! - `errors`: Meta's error envelope and every error sent.
//! - `routes`: the Meta surface; `control`: `/_emulator/`; `server`: serving and `spawn`.

mod auth;
mod config;
mod control;
mod errors;
mod members;
mod params;
mod payload;
mod rate;
mod routes;
mod scenarios;
mod server;
mod state;

pub use config::{
    AccessTier, AdAccountConfig, AppConfig, DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID,
    DEFAULT_APP_ID, DEFAULT_APP_SECRET, EmulatorConfig, RateConfig, TokenConfig, TokenStatus,
};
pub use errors::{MetaError, ReplaceFailure};
pub use routes::router;
pub use scenarios::{
    AccountOverrides, AudienceOverrides, FaultKind, FaultSettings, LatencySettings, RateOverrides,
    Scenario, ScenarioError, ScriptedFault, TokenOverrides, scenario_names,
};
pub use server::{RunningEmulator, serve, spawn};
pub use state::EmulatorState;

/// What `audsync emulator` prints at start: the base URL and every credential it accepts.
/// (These are sandbox credentials of the emulator itself, printed on purpose.)
pub fn describe(base_url: &str, config: &EmulatorConfig) -> String {
    let mut lines = vec![
        format!("Graph API emulator listening on {base_url}"),
        format!("  use it as the Graph base URL, with any version: {base_url}/v25.0/..."),
        "  ad accounts:".to_owned(),
    ];
    for account in &config.ad_accounts {
        lines.push(format!(
            "    {} \"{}\" (account_status {}, terms {})",
            account.act_id(),
            account.name,
            account.account_status,
            if account.custom_audience_tos_accepted {
                "accepted"
            } else {
                "not accepted"
            }
        ));
    }
    lines.push(
        "  access tokens (param access_token or header Authorization: Bearer <token>):".to_owned(),
    );
    for token in &config.tokens {
        let tasks: Vec<String> = token
            .account_tasks
            .iter()
            .map(|(account, tasks)| format!("{account}: {}", tasks.join("/")))
            .collect();
        lines.push(format!(
            "    {}  ({}, {:?}, scopes {}, tasks {}, {})",
            token.token,
            token.token_type,
            token.status,
            token.scopes.join(","),
            tasks.join("; "),
            if token.expires_at == 0 {
                "never expires".to_owned()
            } else {
                format!("expires at {}", token.expires_at)
            }
        ));
    }
    for app in &config.apps {
        match &app.secret {
            Some(secret) => lines.push(format!(
                "  app {} \"{}\": app token for debug_token {}|{}{}",
                app.app_id,
                app.name,
                app.app_id,
                secret,
                if app.require_appsecret_proof {
                    " (appsecret_proof required)"
                } else {
                    ""
                }
            )),
            None => lines.push(format!("  app {} \"{}\"", app.app_id, app.name)),
        }
    }
    let active: Vec<&str> = config
        .scenarios
        .iter()
        .map(|scenario| scenario.name.as_str())
        .collect();
    lines.push(format!(
        "  scenarios: {}",
        if active.is_empty() {
            "none".to_owned()
        } else {
            active.join(", ")
        }
    ));
    if let Some(path) = &config.state_file {
        lines.push(format!("  state file: {}", path.display()));
    } else {
        lines.push("  state: in memory".to_owned());
    }
    lines.push(format!(
        "  inspect: {base_url}/_emulator/audiences, {base_url}/_emulator/requests"
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_url_account_token_and_app_token() {
        let text = describe(
            "http://127.0.0.1:4010",
            &EmulatorConfig::default()
                .with_scenario("slow")
                .expect("built in"),
        );
        for expected in [
            "http://127.0.0.1:4010",
            DEFAULT_AD_ACCOUNT_ID,
            DEFAULT_ACCESS_TOKEN,
            &format!("{DEFAULT_APP_ID}|{DEFAULT_APP_SECRET}"),
            "scenarios: slow",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }
}
