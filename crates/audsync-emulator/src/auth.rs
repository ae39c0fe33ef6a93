//! Who is calling: the token from `access_token` or `Authorization`, its status under the active
//! scenarios, `appsecret_proof` (contract §1.2, §7) and the permission checks of contract §12.

use axum::http::{HeaderMap, header};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::{AppConfig, EmulatorConfig, TokenConfig, TokenStatus};
use crate::errors::MetaError;
use crate::params::Params;
use crate::scenarios::Effects;

/// A timestamped proof is valid for 5 minutes either way (contract §7, SEC).
pub(crate) const APPSECRET_TIME_TOLERANCE_SECONDS: u64 = 300;

/// Tasks that allow audience writes (contract §8.2: MANAGE or ADVERTISE; §12 rule).
const WRITE_TASKS: &[&str] = &["MANAGE", "ADVERTISE"];

/// The caller of a request.
#[derive(Clone, Debug)]
pub(crate) enum Caller {
    /// A user or system-user token, as the active scenarios show it.
    User(Box<TokenConfig>),
    /// An app token `APP_ID|APP_SECRET` (good for `debug_token` only).
    App,
}

impl Caller {
    /// The user token, or `None` for an app token.
    pub fn user(&self) -> Option<&TokenConfig> {
        match self {
            Caller::User(token) => Some(token.as_ref()),
            Caller::App => None,
        }
    }
}

/// The token of a request: the `access_token` parameter, else `Authorization: Bearer|OAuth`.
pub(crate) fn presented_token(params: &Params, headers: &HeaderMap) -> Option<String> {
    if let Some(token) = params
        .text("access_token")
        .filter(|token| !token.is_empty())
    {
        return Some(token);
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// A token as the active scenarios show it: status, scopes and tasks overridden.
pub(crate) fn effective_token(token: &TokenConfig, effects: &Effects) -> TokenConfig {
    let mut token = token.clone();
    if let Some(status) = effects.token_status {
        token.status = status;
    }
    for declined in &effects.declined_scopes {
        token.scopes.retain(|scope| scope != declined);
        if !token.declined_scopes.contains(declined) {
            token.declined_scopes.push(declined.clone());
        }
    }
    if let Some(tasks) = &effects.user_tasks {
        token.account_tasks = [("*".to_owned(), tasks.clone())].into();
    }
    token
}

/// When an expired token expired: its `expires_at`, or three hours ago for tokens that were
/// configured as never expiring and are expired by a scenario.
pub(crate) fn expired_at(token: &TokenConfig, now_unix: u64) -> u64 {
    if token.expires_at != 0 {
        token.expires_at
    } else {
        (now_unix - now_unix % 3600).saturating_sub(3 * 3600)
    }
}

/// Authenticates a request: the token must be known and valid, and its proof right.
pub(crate) fn authenticate(
    config: &EmulatorConfig,
    effects: &Effects,
    params: &Params,
    headers: &HeaderMap,
    now_unix: u64,
) -> Result<Caller, MetaError> {
    let presented = presented_token(params, headers).ok_or_else(MetaError::token_required)?;
    if let Some((app_id, secret)) = presented.split_once('|') {
        return config
            .apps
            .iter()
            .find(|app| app.app_id == app_id && app.secret.as_deref() == Some(secret))
            .map(|_| Caller::App)
            .ok_or_else(MetaError::token_unparsable);
    }
    let configured = config
        .tokens
        .iter()
        .find(|token| token.token == presented)
        .ok_or_else(MetaError::token_unparsable)?;
    let token = effective_token(configured, effects);
    match token.status {
        TokenStatus::Valid => {}
        TokenStatus::Expired => {
            return Err(MetaError::token_expired(
                expired_at(&token, now_unix),
                now_unix,
            ));
        }
        TokenStatus::Revoked => return Err(MetaError::token_revoked()),
    }
    if let Some(app) = config.apps.iter().find(|app| app.app_id == token.app_id) {
        check_proof(app, &token.token, params, now_unix)?;
    }
    Ok(Caller::User(Box::new(token)))
}

/// Checks `appsecret_proof` when the token's app has a secret: a proof that is sent must be
/// right (timestamped or plain form, contract §7); a missing one fails only when the app
/// requires proofs.
fn check_proof(
    app: &AppConfig,
    token: &str,
    params: &Params,
    now_unix: u64,
) -> Result<(), MetaError> {
    let Some(secret) = &app.secret else {
        return Ok(());
    };
    let Some(proof) = params.text("appsecret_proof") else {
        return if app.require_appsecret_proof {
            Err(MetaError::appsecret_proof_required())
        } else {
            Ok(())
        };
    };
    let message = match params.text("appsecret_time") {
        Some(time) => {
            let time: u64 = time
                .parse()
                .map_err(|_| MetaError::appsecret_proof_invalid())?;
            if time.abs_diff(now_unix) > APPSECRET_TIME_TOLERANCE_SECONDS {
                return Err(MetaError::appsecret_proof_invalid());
            }
            format!("{token}|{time}")
        }
        None => token.to_owned(),
    };
    let proof =
        const_hex::decode(proof.trim()).map_err(|_| MetaError::appsecret_proof_invalid())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| MetaError::appsecret_proof_invalid())?;
    mac.update(message.as_bytes());
    mac.verify_slice(&proof)
        .map_err(|_| MetaError::appsecret_proof_invalid())
}

/// Whether the token has `ads_management` (writes need it: 294 otherwise).
pub(crate) fn can_manage_ads(token: &TokenConfig) -> bool {
    token.scopes.iter().any(|scope| scope == "ads_management")
}

/// Whether the token has any task on the account (reads).
pub(crate) fn can_read_account(token: &TokenConfig, account_id: &str) -> bool {
    !token.tasks_on(account_id).is_empty()
}

/// Whether the token has MANAGE or ADVERTISE on the account (writes: 100/33 otherwise).
pub(crate) fn can_write_account(token: &TokenConfig, account_id: &str) -> bool {
    token
        .tasks_on(account_id)
        .iter()
        .any(|task| WRITE_TASKS.contains(&task.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config_with_secret(require: bool) -> EmulatorConfig {
        let mut config = EmulatorConfig {
            tokens: vec![TokenConfig::system_user("EAAtoken123")],
            ..EmulatorConfig::default()
        };
        config.apps[0].secret = Some("app_secret_123".to_owned());
        config.apps[0].require_appsecret_proof = require;
        config
    }

    fn authenticate_with(
        config: &EmulatorConfig,
        pairs: &[(&str, &str)],
        now: u64,
    ) -> Result<Caller, MetaError> {
        authenticate(
            config,
            &Effects::default(),
            &Params::from_pairs(pairs),
            &HeaderMap::new(),
            now,
        )
    }

    #[test]
    fn proofs_of_contract_section_7_are_accepted() {
        let config = config_with_secret(true);
        let plain = [
            ("access_token", "EAAtoken123"),
            (
                "appsecret_proof",
                "fe9e12f5eade8f5c2722789f6dec67ec304378a658316335bb7a42e95af6165e",
            ),
        ];
        assert!(authenticate_with(&config, &plain, 1_700_000_000).is_ok());
        let timed = [
            ("access_token", "EAAtoken123"),
            (
                "appsecret_proof",
                "07e4519cbdf2afaa378b5a40a304510669fa9d65ab7058854558953910a26241",
            ),
            ("appsecret_time", "1700000000"),
        ];
        assert!(authenticate_with(&config, &timed, 1_700_000_300).is_ok());
        let stale =
            authenticate_with(&config, &timed, 1_700_000_301).expect_err("older than 300 s");
        assert_eq!(
            stale.message,
            "Invalid appsecret_proof provided in the API argument"
        );
        let wrong = [("access_token", "EAAtoken123"), ("appsecret_proof", "00")];
        assert_eq!(
            authenticate_with(&config, &wrong, 1_700_000_000)
                .expect_err("wrong")
                .code,
            100
        );
        let missing = authenticate_with(&config, &[("access_token", "EAAtoken123")], 1)
            .expect_err("required");
        assert_eq!(
            missing.message,
            "API calls from the server require an appsecret_proof argument"
        );
        assert!(
            authenticate_with(
                &config_with_secret(false),
                &[("access_token", "EAAtoken123")],
                1
            )
            .is_ok()
        );
    }

    #[test]
    fn tokens_come_from_the_param_or_the_authorization_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("OAuth EAAheader"),
        );
        assert_eq!(
            presented_token(&Params::default(), &headers).as_deref(),
            Some("EAAheader")
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer EAAheader2"),
        );
        assert_eq!(
            presented_token(&Params::default(), &headers).as_deref(),
            Some("EAAheader2")
        );
        let params = Params::from_pairs(&[("access_token", "EAAparam")]);
        assert_eq!(
            presented_token(&params, &headers).as_deref(),
            Some("EAAparam")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_token(&Params::default(), &headers), None);
    }

    #[test]
    fn token_status_errors() {
        let config = EmulatorConfig::default();
        let pairs = [("access_token", crate::DEFAULT_ACCESS_TOKEN)];
        let params = Params::from_pairs(&pairs);
        let expired = Effects {
            token_status: Some(TokenStatus::Expired),
            ..Effects::default()
        };
        let error = authenticate(&config, &expired, &params, &HeaderMap::new(), 1_781_364_292)
            .expect_err("expired");
        assert_eq!((error.code, error.subcode), (190, Some(463)));
        assert!(
            error
                .message
                .starts_with("Error validating access token: Session has expired on"),
            "{}",
            error.message
        );
        let revoked = Effects {
            token_status: Some(TokenStatus::Revoked),
            ..Effects::default()
        };
        let error =
            authenticate(&config, &revoked, &params, &HeaderMap::new(), 1).expect_err("revoked");
        assert_eq!((error.code, error.subcode), (190, Some(467)));
        let error =
            authenticate_with(&config, &[("access_token", "EAAnope")], 1).expect_err("unknown");
        assert_eq!((error.code, error.subcode), (190, None));
        assert_eq!(
            authenticate_with(&config, &[], 1).expect_err("none").code,
            104
        );
    }

    #[test]
    fn write_needs_manage_or_advertise() {
        let mut token = TokenConfig::system_user("EAAx");
        assert!(can_write_account(&token, "1"));
        token.account_tasks = [("*".to_owned(), vec!["ANALYZE".to_owned()])].into();
        assert!(!can_write_account(&token, "1"));
        assert!(can_read_account(&token, "1"));
    }
}
