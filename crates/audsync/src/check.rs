//! The connector pre-flight behind `audsync check` (contract §8): each check a [`CheckResult`] with its fix in plain words.
//!
//! [`run_checks`] asks Meta (through [`GraphClient`]) and returns one result per check, in a
//! fixed order, so the CLI prints them and a future UI shows the same list. Gathering is
//! separate from judging: each `*_check` function is pure and unit-tested; the integration
//! tests run every emulator scenario through the binary.
//!
//! The checks, in order (each later check is skipped when one it depends on could not run):
//! 1. **access token**: `/me` answers; with `debug_token`, whether and when it expires.
//! 2. **ads_management**: granted (`/me/permissions`, else `debug_token` scopes).
//! 3. **ad account**: found and active (`account_status` 1 or 9).
//! 4. **admin rights**: MANAGE in `user_tasks` (ADVERTISE only warns).
//! 5. **Custom Audience terms**: `tos_accepted.custom_audience_tos == 1`, else the link.
//! 6. **business**: the ad account belongs to a Business Manager (else 200/1870050 risk).
//! 7. **audience count**: fewer than 500 customer-file audiences (warn from 450).

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audsync_graph::{
    AccountStatus, AdAccount, AdAccountId, ErrorAction, GraphClient, GraphError, Me, Permission,
    TokenInfo, UserProblem,
};
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::config::Connector;
use crate::connect;

/// A token expiring within this many days gets a warning: the 60-day user token of Meta's
/// "2nd method" is always within it, a system-user token never is (seed doc, contract §7).
pub const TOKEN_EXPIRY_WARNING_DAYS: u64 = 60;

/// Customer-file ("Standard Data File") custom audiences per ad account (contract §9, G-CA
/// FAQ).
pub const MAX_CUSTOMER_FILE_AUDIENCES: usize = 500;

/// Warn from this many customer-file audiences on. Our choice: 90 % of the limit leaves room
/// for a few more segments while the user cleans up.
pub const AUDIENCE_COUNT_WARNING: usize = 450;

/// The permission audience writes need (contract §7; 294 without it).
const ADS_MANAGEMENT: &str = "ads_management";

/// What to do about a token that expired or stopped working: the seed doc's two ways, the
/// recommended one first.
pub const NEW_TOKEN_FIX: &str = "Generate a new token. Recommended: a system-user token, which \
never expires: in Business Settings (https://business.facebook.com/settings) → Users → System \
users, pick or add a system user with Admin rights on the ad account and on your app, click \
Generate new token, select your app and tick ads_management. (A token from Graph API Explorer or \
Marketing API → Tools expires after 60 days, and clicking Get Token again invalidates the \
previous one.) Then store it with `audsync connector add`, or update the variable the \
configuration names.";

/// What to do when `ads_management` is missing.
pub const ADS_MANAGEMENT_FIX: &str = "Generate the token again with ads_management ticked \
(Business Settings → Users → System users → Generate new token → select your app → \
ads_management). The app needs the Marketing API product and the 'Ads Management Standard \
Access' feature (App Review → Permissions and features).";

/// What to do when the token's user has no admin rights on the ad account (seed doc: "This
/// system user should have admin rights for the ad account").
pub const ADMIN_RIGHTS_FIX: &str = "Ask a Business admin to give your system user Admin rights \
on the ad account: Business Settings → Users → System users → your system user → Assign assets \
→ Ad accounts → the account → Manage ad account (full control).";

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    /// Works today, but something needs attention (an expiring token, few rights, near a
    /// limit).
    Warn,
    /// Syncing will fail until this is fixed.
    Fail,
    /// Not run: a check it depends on failed.
    Skip,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skip => "skip",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One check's outcome: what was checked, how it came out, what was found, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Short and stable, e.g. `access token`, `Custom Audience terms`.
    pub name: &'static str,
    pub status: CheckStatus,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do, for `warn` and `fail` (sometimes a hint on `pass`).
    pub fix: Option<String>,
}

impl CheckResult {
    fn new(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            name,
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn pass(name: &'static str, detail: impl Into<String>) -> CheckResult {
        CheckResult::new(name, CheckStatus::Pass, detail)
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
        CheckResult::new(name, CheckStatus::Warn, detail).with_fix(fix)
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
        CheckResult::new(name, CheckStatus::Fail, detail).with_fix(fix)
    }

    fn skip(name: &'static str, reason: &str) -> CheckResult {
        CheckResult::new(name, CheckStatus::Skip, format!("not run: {reason}"))
    }

    fn with_fix(mut self, fix: impl Into<String>) -> CheckResult {
        self.fix = Some(fix.into());
        self
    }
}

/// The check names, in the order [`run_checks`] returns them.
pub const CHECK_NAMES: [&str; 7] = [
    TOKEN,
    ADS_MANAGEMENT_CHECK,
    AD_ACCOUNT,
    ADMIN_RIGHTS,
    TERMS,
    BUSINESS,
    AUDIENCE_COUNT,
];

const TOKEN: &str = "access token";
const ADS_MANAGEMENT_CHECK: &str = "ads_management permission";
const AD_ACCOUNT: &str = "ad account";
const ADMIN_RIGHTS: &str = "admin rights";
const TERMS: &str = "Custom Audience terms";
const BUSINESS: &str = "business";
const AUDIENCE_COUNT: &str = "audience count";

/// What is checked: the connector's ad account, and what the configuration says about the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTarget {
    pub ad_account: AdAccountId,
    /// The configured app id, if any (compared with the token's app).
    pub app_id: Option<String>,
    /// Both app id and app secret are configured, so `debug_token` runs with the app token.
    pub has_app_credentials: bool,
}

/// True when any result is a failure (the CLI then exits 1).
pub fn any_failed(results: &[CheckResult]) -> bool {
    results
        .iter()
        .any(|result| result.status == CheckStatus::Fail)
}

/// Runs every check against Meta; never fails as a whole: a Graph error becomes the failing
/// check with its classified message, and the checks that depend on it are skipped.
pub async fn run_checks(
    client: &GraphClient,
    target: &CheckTarget,
    now: SystemTime,
) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(CHECK_NAMES.len());
    let me = connect::within_deadline(client.me()).await;
    // With app credentials `debug_token` is authoritative even when /me fails (it says when
    // the token expired); without, the token inspects itself, which works only while valid.
    let token_info = if me.is_ok() || target.has_app_credentials {
        Some(connect::within_deadline(client.debug_token()).await)
    } else {
        None
    };
    results.push(token_check(&me, token_info.as_ref(), target, now));
    if let Err(error) = &me {
        let reason = match error.action() {
            ErrorAction::StopAndTellUser(_) => "needs a working access token",
            _ => "Meta could not be reached",
        };
        results.extend(
            CHECK_NAMES[1..]
                .iter()
                .map(|name| CheckResult::skip(name, reason)),
        );
        return results;
    }

    let permissions = connect::within_deadline(client.me_permissions()).await;
    let valid_info = token_info.and_then(Result::ok).filter(|info| info.is_valid);
    results.push(ads_management_check(
        &permissions,
        valid_info.as_ref(),
        &target.ad_account,
    ));

    let account = connect::within_deadline(client.ad_account(&target.ad_account)).await;
    results.push(ad_account_check(&account, &target.ad_account));
    let account = match account {
        Ok(account) => account,
        Err(_) => {
            let reason = "needs the ad account";
            results.extend(
                CHECK_NAMES[3..]
                    .iter()
                    .map(|name| CheckResult::skip(name, reason)),
            );
            return results;
        }
    };
    results.push(admin_rights_check(&account));
    results.push(terms_check(&account));
    results.push(business_check(&account));
    results.push(
        match connect::within_deadline(client.list_custom_audiences(&target.ad_account)).await {
            Ok(audiences) => audience_count_check(
                audiences
                    .iter()
                    .filter(|audience| audience.is_customer_file())
                    .count(),
            ),
            Err(error) => error_result(AUDIENCE_COUNT, &error, &target.ad_account),
        },
    );
    results
}

/// A Graph failure as the failing check, with the classified message and fix.
pub fn error_result(
    name: &'static str,
    error: &GraphError,
    ad_account: &AdAccountId,
) -> CheckResult {
    let error = error.clone().with_ad_account(ad_account);
    match error.action() {
        ErrorAction::StopAndTellUser(problem) => {
            CheckResult::fail(name, problem.message(), problem.fix())
        }
        ErrorAction::Wait { duration } => CheckResult::fail(
            name,
            format!("Meta is throttling calls to this ad account ({error})."),
            match duration {
                Some(duration) => format!(
                    "Run the check again in {} (syncs wait on their own).",
                    plain_duration(duration)
                ),
                None => {
                    "Run the check again in a few minutes (syncs wait on their own).".to_owned()
                }
            },
        ),
        ErrorAction::RetrySoon => CheckResult::fail(
            name,
            format!("Meta could not be reached: {error}."),
            "Check the network and the connector's graph_url, then run the check again; \
             a temporary error at Meta passes within minutes.",
        ),
        ErrorAction::DropAndReport(problem) => CheckResult::fail(
            name,
            format!("{} ({error})", problem.reason()),
            "Report it to the audsync maintainers with the fbtrace id above.",
        ),
        ErrorAction::AudienceTooSmallToRemove
        | ErrorAction::ReplaceConflict
        | ErrorAction::RetryReplace => CheckResult::fail(
            name,
            format!("Meta refused the request: {error}."),
            "Run the check again; report it if it persists.",
        ),
    }
}

/// Check 1: the token works, and when it expires.
pub fn token_check(
    me: &Result<Me, GraphError>,
    token_info: Option<&Result<TokenInfo, GraphError>>,
    target: &CheckTarget,
    now: SystemTime,
) -> CheckResult {
    let info = token_info.and_then(|info| info.as_ref().ok());
    let me = match me {
        Ok(me) => me,
        Err(error) => {
            return match error.action() {
                ErrorAction::StopAndTellUser(
                    UserProblem::TokenExpired | UserProblem::TokenInvalid,
                ) => CheckResult::fail(TOKEN, token_failure(error, info), NEW_TOKEN_FIX),
                _ => error_result(TOKEN, error, &target.ad_account),
            };
        }
    };
    let who = match &me.name {
        Some(name) => format!("{name:?} (user {})", me.id),
        None => format!("user {}", me.id),
    };
    let Some(info) = info else {
        let mut result = CheckResult::pass(TOKEN, format!("valid, for {who}"));
        if !target.has_app_credentials {
            result.detail.push_str("; its expiry could not be read");
            result.fix = Some(
                "Set app_id and app_secret on the connector so the check can read when the \
                 token expires."
                    .to_owned(),
            );
        }
        return result;
    };
    judge_token_info(info, &who, target, now)
}

/// The token check from `debug_token` alone (for `status`, which does not call `/me`).
pub fn token_info_check(
    token_info: &Result<TokenInfo, GraphError>,
    target: &CheckTarget,
    now: SystemTime,
) -> CheckResult {
    match token_info {
        Ok(info) => {
            let who = match &info.user_id {
                Some(user_id) => format!("user {user_id}"),
                None => "its user".to_owned(),
            };
            judge_token_info(info, &who, target, now)
        }
        Err(error) => match error.action() {
            ErrorAction::StopAndTellUser(UserProblem::TokenExpired | UserProblem::TokenInvalid) => {
                CheckResult::fail(TOKEN, token_failure(error, None), NEW_TOKEN_FIX)
            }
            _ => error_result(TOKEN, error, &target.ad_account),
        },
    }
}

/// Validity, kind, app and expiry of a token `debug_token` described.
fn judge_token_info(
    info: &TokenInfo,
    who: &str,
    target: &CheckTarget,
    now: SystemTime,
) -> CheckResult {
    if !info.is_valid {
        return CheckResult::fail(TOKEN, token_failure_words(info, now), NEW_TOKEN_FIX);
    }
    let kind = token_kind(info);
    let app_mismatch = match (&target.app_id, &info.app_id) {
        (Some(configured), Some(issuer)) if configured != issuer => Some(format!(
            "The token was issued for app {issuer}, but the connector's app_id is {configured}: \
             Meta refuses an appsecret_proof made with another app's secret."
        )),
        _ => None,
    };
    let expiry = earliest_expiry(info);
    let result = match expiry {
        None => CheckResult::pass(TOKEN, format!("valid {kind} for {who}, never expires")),
        Some((what, expires_at)) => {
            let seconds_left = seconds_until(expires_at, now);
            let days_left = seconds_left.max(0).unsigned_abs() / SECONDS_PER_DAY;
            let when = format!("{} UTC", utc_date(expires_at));
            if seconds_left <= 0 {
                CheckResult::fail(
                    TOKEN,
                    format!("the {kind} for {who} {} {when}", past_tense(what)),
                    NEW_TOKEN_FIX,
                )
            } else if days_left < TOKEN_EXPIRY_WARNING_DAYS {
                let in_days = match days_left {
                    0 => "within a day".to_owned(),
                    1 => "in 1 day".to_owned(),
                    days => format!("in {days} days"),
                };
                CheckResult::warn(
                    TOKEN,
                    format!("valid {kind} for {who}; {what} {in_days}, on {when}"),
                    format!(
                        "Replace it before then with a system-user token, which never expires. \
                         {NEW_TOKEN_FIX}"
                    ),
                )
            } else {
                CheckResult::pass(
                    TOKEN,
                    format!("valid {kind} for {who}; {what} in {days_left} days, on {when}"),
                )
            }
        }
    };
    match app_mismatch {
        Some(mismatch) if result.status == CheckStatus::Pass => CheckResult::warn(
            TOKEN,
            result.detail,
            format!("{mismatch} Set the app_id and app_secret of the token's app."),
        ),
        Some(mismatch) => {
            let fix = result.fix.unwrap_or_default();
            CheckResult {
                fix: Some(format!("{mismatch} {fix}")),
                ..result
            }
        }
        None => result,
    }
}

/// Check 2: `ads_management` is granted.
pub fn ads_management_check(
    permissions: &Result<Vec<Permission>, GraphError>,
    token_info: Option<&TokenInfo>,
    ad_account: &AdAccountId,
) -> CheckResult {
    let status = match permissions {
        Ok(permissions) => permissions
            .iter()
            .find(|permission| permission.permission == ADS_MANAGEMENT)
            .map(|permission| permission.status.clone()),
        Err(error) => match token_info {
            Some(info) => info.has_scope(ADS_MANAGEMENT).then(|| "granted".to_owned()),
            None => return error_result(ADS_MANAGEMENT_CHECK, error, ad_account),
        },
    };
    match status.as_deref() {
        Some("granted") => CheckResult::pass(ADS_MANAGEMENT_CHECK, "granted"),
        Some(other) => CheckResult::fail(
            ADS_MANAGEMENT_CHECK,
            format!(
                "ads_management is {other} for this token: audiences cannot be created or \
                 changed (Meta answers error 294)"
            ),
            ADS_MANAGEMENT_FIX,
        ),
        None => CheckResult::fail(
            ADS_MANAGEMENT_CHECK,
            "the token does not have ads_management: audiences cannot be created or changed \
             (Meta answers error 294)",
            ADS_MANAGEMENT_FIX,
        ),
    }
}

/// Check 3: the ad account exists, the token can read it, and it is active.
pub fn ad_account_check(
    account: &Result<AdAccount, GraphError>,
    ad_account: &AdAccountId,
) -> CheckResult {
    let account = match account {
        Ok(account) => account,
        Err(error) => {
            return match error.action() {
                ErrorAction::StopAndTellUser(UserProblem::NotAdminOrMissing) => CheckResult::fail(
                    AD_ACCOUNT,
                    format!(
                        "ad account {ad_account} was not found, or the token's user has no \
                             role on it"
                    ),
                    format!(
                        "Check the Ad Account ID (Business Settings → Accounts → Ad \
                             accounts, or the account menu in Ads Manager), then give the \
                             system user access to it. {ADMIN_RIGHTS_FIX}"
                    ),
                ),
                _ => error_result(AD_ACCOUNT, error, ad_account),
            };
        }
    };
    let label = match &account.name {
        Some(name) => format!("{} {name:?}", account.id),
        None => account.id.to_string(),
    };
    let Some(status) = account.account_status else {
        return CheckResult::warn(
            AD_ACCOUNT,
            format!("{label}: Meta did not report its status"),
            "Check the account in Ads Manager → Account overview.",
        );
    };
    match status {
        AccountStatus::Active => CheckResult::pass(AD_ACCOUNT, format!("{label} is active")),
        AccountStatus::InGracePeriod => CheckResult::pass(
            AD_ACCOUNT,
            format!("{label} is active, in its payment grace period (account_status 9)"),
        )
        .with_fix(
            "Settle the outstanding payment in Ads Manager → Billing before the grace period ends.",
        ),
        unusable => {
            let (name, code) = account_status_words(unusable);
            let reason = match account.disable_reason.filter(|reason| *reason != 0) {
                Some(reason) => {
                    let (words, meta_name) = disable_reason_words(reason);
                    format!(", reason: {words} (disable_reason {reason}, {meta_name})")
                }
                None => String::new(),
            };
            CheckResult::fail(
                AD_ACCOUNT,
                format!(
                    "{label} is {name} (account_status {code}){reason}: Meta does not let it use audiences"
                ),
                account_status_fix(unusable),
            )
        }
    }
}

/// Check 4: the token's user is an admin (MANAGE) of the ad account.
pub fn admin_rights_check(account: &AdAccount) -> CheckResult {
    let tasks = if account.user_tasks.is_empty() {
        "none".to_owned()
    } else {
        account.user_tasks.join(", ")
    };
    if account.can_manage() {
        CheckResult::pass(
            ADMIN_RIGHTS,
            format!("the token's user is an admin of {} (MANAGE)", account.id),
        )
    } else if account.user_tasks.iter().any(|task| task == "ADVERTISE") {
        CheckResult::warn(
            ADMIN_RIGHTS,
            format!(
                "the token's user can advertise on {} but is not an admin (tasks: {tasks}); \
                 some audience changes may be refused (error 100/33)",
                account.id
            ),
            ADMIN_RIGHTS_FIX,
        )
    } else {
        CheckResult::fail(
            ADMIN_RIGHTS,
            format!(
                "the token's user has no admin or advertiser role on {} (tasks: {tasks}): \
                 audience changes are refused (error 100/33)",
                account.id
            ),
            ADMIN_RIGHTS_FIX,
        )
    }
}

/// Check 5: the Custom Audience terms are accepted (contract §8.3).
pub fn terms_check(account: &AdAccount) -> CheckResult {
    if account.custom_audience_terms_accepted() {
        return CheckResult::pass(TERMS, "accepted");
    }
    CheckResult::fail(
        TERMS,
        format!(
            "the Custom Audience terms are not accepted for ad account {}: Meta refuses to \
             create or change audiences (error 200/1870034)",
            account.id
        ),
        format!(
            "Open {} while logged in to Facebook as a person of the business that owns the ad \
             account, and accept the terms (a system user cannot: a person of its business \
             accepts them). Then run the check again.",
            account.terms_url()
        ),
    )
}

/// Check 6: the ad account belongs to a Business Manager.
pub fn business_check(account: &AdAccount) -> CheckResult {
    match &account.business {
        Some(business) => CheckResult::pass(
            BUSINESS,
            match &business.name {
                Some(name) => format!("owned by the business {name:?} ({})", business.id),
                None => format!("owned by the business {}", business.id),
            },
        ),
        None => CheckResult::warn(
            BUSINESS,
            format!(
                "ad account {} does not belong to a Business Manager: Meta may refuse audience \
                 changes (error 200/1870050), and system-user tokens need one",
                account.id
            ),
            "Add the ad account to your business: Business Settings → Accounts → Ad accounts → \
             Add → Add an ad account.",
        ),
    }
}

/// Check 7: room for more customer-file audiences (contract §8.5, §9).
pub fn audience_count_check(n_customer_file_audiences: usize) -> CheckResult {
    let detail = format!(
        "{n_customer_file_audiences} customer-file audiences of Meta's limit of \
         {MAX_CUSTOMER_FILE_AUDIENCES} per ad account"
    );
    let fix = "Delete customer-file audiences you no longer use (Ads Manager → Audiences), or \
               use another ad account for new segments.";
    if n_customer_file_audiences >= MAX_CUSTOMER_FILE_AUDIENCES {
        CheckResult::fail(
            AUDIENCE_COUNT,
            format!("{detail}: no new audience can be created"),
            fix,
        )
    } else if n_customer_file_audiences >= AUDIENCE_COUNT_WARNING {
        CheckResult::warn(
            AUDIENCE_COUNT,
            format!(
                "{detail}: room for {} more",
                MAX_CUSTOMER_FILE_AUDIENCES - n_customer_file_audiences
            ),
            fix,
        )
    } else {
        CheckResult::pass(AUDIENCE_COUNT, detail)
    }
}

/// Why a token failed, with the date it expired when `debug_token` said.
fn token_failure(error: &GraphError, info: Option<&TokenInfo>) -> String {
    let expired_on = info
        .and_then(|info| info.expires_at)
        .map(|expires_at| format!(" on {} UTC", utc_date(expires_at)))
        .unwrap_or_default();
    match error.action() {
        ErrorAction::StopAndTellUser(UserProblem::TokenExpired) => {
            format!("the access token expired{expired_on} (Meta error 190/463)")
        }
        _ => {
            let code = error
                .api()
                .map(|api| match api.subcode {
                    Some(subcode) => format!(" (Meta error {}/{subcode})", api.code),
                    None => format!(" (Meta error {})", api.code),
                })
                .unwrap_or_default();
            format!(
                "the access token is no longer valid: it was revoked, replaced by a newer one, \
                 its user changed password, or it was mistyped{code}"
            )
        }
    }
}

/// `debug_token` said `is_valid: false` although `/me` answered (or /me was not asked).
fn token_failure_words(info: &TokenInfo, now: SystemTime) -> String {
    match info.expires_at {
        Some(expires_at) if seconds_until(expires_at, now) <= 0 => {
            format!("the access token expired on {} UTC", utc_date(expires_at))
        }
        _ => "Meta's token debugger says the access token is not valid".to_owned(),
    }
}

/// "system-user token", "user token", ...
fn token_kind(info: &TokenInfo) -> &'static str {
    match info.token_type.as_deref() {
        Some("SYSTEM_USER") => "system-user token",
        Some("USER") => "user token",
        Some("PAGE") => "page token",
        Some("APP") => "app token",
        _ => "token",
    }
}

/// The earliest of the token's expiry and its data-access expiry, with what expires.
fn earliest_expiry(info: &TokenInfo) -> Option<(&'static str, i64)> {
    let token = info.expires_at.map(|at| ("expires", at));
    let data = info
        .data_access_expires_at
        .map(|at| ("loses data access", at));
    match (token, data) {
        (Some(token), Some(data)) => Some(if data.1 < token.1 { data } else { token }),
        (token, data) => token.or(data),
    }
}

const SECONDS_PER_DAY: u64 = 86_400;

/// Seconds from `now` until the unix time `at` (negative when past).
fn seconds_until(at: i64, now: SystemTime) -> i64 {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    });
    at.saturating_sub(now)
}

/// "expired on", "lost data access on".
fn past_tense(what: &str) -> &'static str {
    if what == "expires" {
        "expired on"
    } else {
        "lost data access on"
    }
}

/// `YYYY-MM-DD` of a unix time, in UTC.
pub fn utc_date(unix_seconds: i64) -> String {
    let time = if unix_seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix_seconds.unsigned_abs())
    } else {
        UNIX_EPOCH
    };
    let formatted = crate::store::format_time(time);
    formatted
        .split_once(' ')
        .map_or(formatted.clone(), |(date, _)| date.to_owned())
}

/// "2 minutes", "45 seconds".
fn plain_duration(duration: Duration) -> String {
    let seconds = duration.as_secs().max(1);
    if seconds == 1 {
        "1 second".to_owned()
    } else if seconds < 120 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", seconds.div_ceil(60))
    }
}

/// The status name and code Meta uses (contract §8.2).
fn account_status_words(status: AccountStatus) -> (&'static str, u32) {
    match status {
        AccountStatus::Active => ("ACTIVE", 1),
        AccountStatus::Disabled => ("DISABLED", 2),
        AccountStatus::Unsettled => ("UNSETTLED", 3),
        AccountStatus::PendingRiskReview => ("PENDING_RISK_REVIEW", 7),
        AccountStatus::PendingSettlement => ("PENDING_SETTLEMENT", 8),
        AccountStatus::InGracePeriod => ("IN_GRACE_PERIOD", 9),
        AccountStatus::PendingClosure => ("PENDING_CLOSURE", 100),
        AccountStatus::Closed => ("CLOSED", 101),
        AccountStatus::AnyActive => ("ANY_ACTIVE", 201),
        AccountStatus::AnyClosed => ("ANY_CLOSED", 202),
        AccountStatus::Other(code) => ("in an unknown state", code),
    }
}

fn account_status_fix(status: AccountStatus) -> String {
    match status {
        AccountStatus::Disabled => "Open Account Quality (https://www.facebook.com/accountquality) to see why Meta disabled the ad account and request a review, or use another ad account.".to_owned(),
        AccountStatus::Unsettled | AccountStatus::PendingSettlement => "Settle the outstanding balance in Ads Manager → Billing & payments, then run the check again.".to_owned(),
        AccountStatus::PendingRiskReview => "Wait for Meta's review of the ad account to finish (Account Quality shows its progress), then run the check again.".to_owned(),
        AccountStatus::PendingClosure | AccountStatus::Closed | AccountStatus::AnyClosed => "The ad account is closed or closing: use another ad account.".to_owned(),
        _ => "Check the ad account in Ads Manager → Account overview and Account Quality.".to_owned(),
    }
}

/// `disable_reason` in words and Meta's name for it (Meta's Ad Account reference,
/// `disable_reason` field).
fn disable_reason_words(reason: u32) -> (&'static str, &'static str) {
    match reason {
        1 => ("ads integrity policy", "ADS_INTEGRITY_POLICY"),
        2 => ("intellectual property review", "ADS_IP_REVIEW"),
        3 => ("payment risk", "RISK_PAYMENT"),
        4 => ("gray account shut down", "GRAY_ACCOUNT_SHUT_DOWN"),
        5 => ("ads AFC review", "ADS_AFC_REVIEW"),
        6 => ("business integrity", "BUSINESS_INTEGRITY_RAR"),
        7 => ("permanently closed", "PERMANENT_CLOSE"),
        8 => ("unused reseller account", "UNUSED_RESELLER_ACCOUNT"),
        9 => ("unused account", "UNUSED_ACCOUNT"),
        10 => ("umbrella ad account", "UMBRELLA_AD_ACCOUNT"),
        11 => (
            "Business Manager integrity policy",
            "BUSINESS_MANAGER_INTEGRITY_POLICY",
        ),
        12 => ("misrepresented ad account", "MISREPRESENTED_AD_ACCOUNT"),
        13 => ("legal entity de-share", "AOAB_DESHARE_LEGAL_ENTITY"),
        14 => ("thread review", "CTX_THREAD_REVIEW"),
        15 => ("compromised ad account", "COMPROMISED_AD_ACCOUNT"),
        _ => ("an unknown reason", "UNKNOWN"),
    }
}

/// The results as the CLI prints them: one line per check, the fix indented below.
pub fn render(results: &[CheckResult]) -> String {
    let width = results
        .iter()
        .map(|result| result.name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for result in results {
        text.push_str(&format!(
            "  {:<4}  {:<width$}  {}\n",
            result.status.as_str(),
            result.name,
            result.detail
        ));
        if let Some(fix) = &result.fix {
            text.push_str(&format!("        {:width$}  fix: {fix}\n", ""));
        }
    }
    let count = |status| {
        results
            .iter()
            .filter(|result| result.status == status)
            .count()
    };
    text.push_str(&format!(
        "  {} passed, {} warnings, {} failed, {} skipped\n",
        count(CheckStatus::Pass),
        count(CheckStatus::Warn),
        count(CheckStatus::Fail),
        count(CheckStatus::Skip)
    ));
    text
}

/// `audsync check [CONNECTOR]`: checks one connector, or every connector of the file.
pub fn command(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    connect::init_logging(connect::INTERACTIVE_LOG_LEVEL);
    let config = connect::load_config(&args.config.config)?;
    let connectors = connect::select_named(
        &config.connectors,
        |connector| &connector.name,
        args.connector.as_deref(),
        "connector",
        &args.config.config,
        "add one with `audsync connector add NAME --ad-account-id ID --access-token-env VAR`",
    )?;
    check_and_print(&connectors)
}

/// Checks each connector and prints its results; exit status 1 when any check failed.
pub fn check_and_print(connectors: &[&Connector]) -> anyhow::Result<ExitCode> {
    let runtime = connect::runtime()?;
    let mut any_failure = false;
    for (connector_idx, connector) in connectors.iter().enumerate() {
        if connector_idx > 0 {
            println!();
        }
        println!("{}", connect::describe_connector(connector));
        let results = runtime.block_on(check_connector(connector))?;
        print!("{}", render(&results));
        any_failure |= any_failed(&results);
    }
    Ok(if any_failure {
        ExitCode::from(connect::EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs every check on one configured connector.
pub async fn check_connector(connector: &Connector) -> anyhow::Result<Vec<CheckResult>> {
    let client = connect::interactive_graph_client(connector)?;
    let target = CheckTarget {
        ad_account: connect::ad_account_id(connector)?,
        app_id: connector.app_id.clone(),
        has_app_credentials: connect::has_app_credentials(connector),
    };
    Ok(run_checks(&client, &target, SystemTime::now()).await)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use audsync_graph::{ApiError, Business};

    use super::*;

    /// 2026-01-01 00:00:00 UTC.
    const NOW_UNIX: u64 = 1_767_225_600;
    const DAY: i64 = 86_400;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
    }

    fn ad_account_id() -> AdAccountId {
        AdAccountId::parse("act_542676646349772").expect("digits")
    }

    fn target(app_id: Option<&str>, has_app_credentials: bool) -> CheckTarget {
        CheckTarget {
            ad_account: ad_account_id(),
            app_id: app_id.map(str::to_owned),
            has_app_credentials,
        }
    }

    fn api_error(code: i64, subcode: Option<i64>) -> GraphError {
        GraphError::Api(Box::new(ApiError {
            http_status: 400,
            code,
            subcode,
            error_type: Some("OAuthException".to_owned()),
            message: "Error validating access token".to_owned(),
            user_title: None,
            user_message: None,
            fbtrace_id: Some("Atrace".to_owned()),
            is_transient: false,
            regain_access_after: None,
            ad_account: None,
        }))
    }

    fn me() -> Result<Me, GraphError> {
        Ok(Me {
            id: "9876".to_owned(),
            name: Some("sync bot".to_owned()),
        })
    }

    fn token_info(token_type: &str, expires_in: Option<i64>, app_id: &str) -> TokenInfo {
        TokenInfo {
            is_valid: true,
            app_id: Some(app_id.to_owned()),
            token_type: Some(token_type.to_owned()),
            application: Some("audsync".to_owned()),
            user_id: Some("9876".to_owned()),
            scopes: vec!["ads_management".to_owned()],
            expires_at: expires_in.map(|seconds| NOW_UNIX as i64 + seconds),
            data_access_expires_at: None,
            issued_at: None,
        }
    }

    fn account(status: u32, disable_reason: u32, tasks: &[&str]) -> AdAccount {
        AdAccount {
            id: ad_account_id(),
            name: Some("Acme".to_owned()),
            account_status: Some(AccountStatus::from_code(status)),
            disable_reason: Some(disable_reason),
            business: Some(Business {
                id: "1111".to_owned(),
                name: Some("Acme Inc".to_owned()),
            }),
            user_tasks: tasks.iter().map(|task| task.to_string()).collect(),
            tos_accepted: BTreeMap::from([("custom_audience_tos".to_owned(), 1)]),
        }
    }

    fn assert_result(result: &CheckResult, status: CheckStatus, words: &[&str]) {
        assert_eq!(result.status, status, "{result:?}");
        let text = format!("{} {}", result.detail, result.fix.as_deref().unwrap_or(""));
        for word in words {
            assert!(text.contains(word), "{word:?} missing from {text:?}");
        }
    }

    /// A case name, what `/me` and `debug_token` answered, the status and words expected.
    type TokenCase = (
        &'static str,
        Result<Me, GraphError>,
        Option<TokenInfo>,
        CheckStatus,
        Vec<&'static str>,
    );

    #[test]
    fn token_check_covers_validity_and_expiry() {
        let app = "874930216603214";
        let cases: Vec<TokenCase> = vec![
            (
                "system user",
                me(),
                Some(token_info("SYSTEM_USER", None, app)),
                CheckStatus::Pass,
                vec!["valid system-user token", "\"sync bot\"", "never expires"],
            ),
            (
                "60-day token, new",
                me(),
                Some(token_info("USER", Some(60 * DAY - 60), app)),
                CheckStatus::Warn,
                vec![
                    "user token",
                    "expires in 59 days",
                    "2026-03-01 UTC",
                    "system-user token, which never expires",
                ],
            ),
            (
                "one day left",
                me(),
                Some(token_info("USER", Some(DAY + 5), app)),
                CheckStatus::Warn,
                vec!["expires in 1 day,"],
            ),
            (
                "hours left",
                me(),
                Some(token_info("USER", Some(3_600), app)),
                CheckStatus::Warn,
                vec!["expires within a day"],
            ),
            (
                "far future",
                me(),
                Some(token_info("USER", Some(90 * DAY), app)),
                CheckStatus::Pass,
                vec!["expires in 90 days"],
            ),
            (
                "expired per debug_token",
                me(),
                Some(token_info("USER", Some(-DAY), app)),
                CheckStatus::Fail,
                vec!["expired on 2025-12-31 UTC", "Generate a new token"],
            ),
            (
                "expired per /me",
                Err(api_error(190, Some(463))),
                Some(TokenInfo {
                    is_valid: false,
                    ..token_info("USER", Some(-2 * DAY), app)
                }),
                CheckStatus::Fail,
                vec!["expired on 2025-12-30 UTC", "190/463", "60 days"],
            ),
            (
                "expired, no debug_token",
                Err(api_error(190, Some(463))),
                None,
                CheckStatus::Fail,
                vec!["the access token expired (Meta error 190/463)"],
            ),
            (
                "revoked",
                Err(api_error(190, Some(467))),
                None,
                CheckStatus::Fail,
                vec!["no longer valid", "190/467", "system-user token"],
            ),
            (
                "invalid per debug_token",
                me(),
                Some(TokenInfo {
                    is_valid: false,
                    ..token_info("USER", None, app)
                }),
                CheckStatus::Fail,
                vec!["not valid"],
            ),
            (
                "unreachable",
                Err(GraphError::Connect {
                    detail: "connection refused".to_owned(),
                }),
                None,
                CheckStatus::Fail,
                vec!["could not be reached", "graph_url"],
            ),
            (
                "other app",
                me(),
                Some(token_info("SYSTEM_USER", None, "111")),
                CheckStatus::Warn,
                vec!["issued for app 111", "app_id is 874930216603214"],
            ),
        ];
        for (case, me, info, status, words) in cases {
            let info = info.map(Ok);
            let result = token_check(&me, info.as_ref(), &target(Some(app), true), now());
            assert_eq!(result.status, status, "{case}: {result:?}");
            let text = format!("{} {}", result.detail, result.fix.as_deref().unwrap_or(""));
            for word in words {
                assert!(
                    text.contains(word),
                    "{case}: {word:?} missing from {text:?}"
                );
            }
        }
    }

    #[test]
    fn token_check_without_app_credentials_says_the_expiry_is_unknown() {
        let failed = Err(api_error(190, None));
        let result = token_check(&me(), Some(&failed), &target(None, false), now());
        assert_result(
            &result,
            CheckStatus::Pass,
            &["valid", "expiry could not be read", "app_secret"],
        );
    }

    #[test]
    fn data_access_expiry_counts_when_earlier() {
        let info = TokenInfo {
            data_access_expires_at: Some(NOW_UNIX as i64 + 10 * DAY + 60),
            ..token_info("USER", Some(50 * DAY), "1")
        };
        let result = token_check(&me(), Some(&Ok(info)), &target(None, false), now());
        assert_result(
            &result,
            CheckStatus::Warn,
            &["loses data access in 10 days"],
        );
    }

    #[test]
    fn ads_management_from_permissions_or_scopes() {
        let permission = |status: &str| Permission {
            permission: "ads_management".to_owned(),
            status: status.to_owned(),
        };
        let id = ad_account_id();
        assert_result(
            &ads_management_check(&Ok(vec![permission("granted")]), None, &id),
            CheckStatus::Pass,
            &["granted"],
        );
        assert_result(
            &ads_management_check(&Ok(vec![permission("declined")]), None, &id),
            CheckStatus::Fail,
            &["declined", "294", "ads_management ticked"],
        );
        assert_result(
            &ads_management_check(&Ok(vec![]), None, &id),
            CheckStatus::Fail,
            &["does not have ads_management"],
        );
        let unreadable = Err(api_error(200, None));
        let info = token_info("SYSTEM_USER", None, "1");
        assert_result(
            &ads_management_check(&unreadable, Some(&info), &id),
            CheckStatus::Pass,
            &["granted"],
        );
        let no_scope = TokenInfo {
            scopes: vec![],
            ..info
        };
        assert_result(
            &ads_management_check(&unreadable, Some(&no_scope), &id),
            CheckStatus::Fail,
            &["does not have"],
        );
    }

    #[test]
    fn ad_account_status_and_reason_in_words() {
        let id = ad_account_id();
        let cases = [
            (
                1,
                0,
                CheckStatus::Pass,
                vec!["act_542676646349772 \"Acme\" is active"],
            ),
            (9, 0, CheckStatus::Pass, vec!["grace period", "Billing"]),
            (
                2,
                1,
                CheckStatus::Fail,
                vec![
                    "DISABLED (account_status 2)",
                    "ads integrity policy (disable_reason 1, ADS_INTEGRITY_POLICY)",
                    "Account Quality",
                ],
            ),
            (
                3,
                0,
                CheckStatus::Fail,
                vec!["UNSETTLED (account_status 3)", "Settle"],
            ),
            (
                7,
                0,
                CheckStatus::Fail,
                vec!["PENDING_RISK_REVIEW", "review"],
            ),
            (
                101,
                7,
                CheckStatus::Fail,
                vec![
                    "CLOSED (account_status 101)",
                    "PERMANENT_CLOSE",
                    "another ad account",
                ],
            ),
        ];
        for (status, reason, expected, words) in cases {
            let result = ad_account_check(&Ok(account(status, reason, &["MANAGE"])), &id);
            assert_result(&result, expected, &words);
        }
        let missing = ad_account_check(&Err(api_error(100, Some(33))), &id);
        assert_result(
            &missing,
            CheckStatus::Fail,
            &[
                "was not found, or the token's user has no role",
                "Admin rights",
            ],
        );
    }

    #[test]
    fn admin_rights_terms_and_business() {
        assert_result(
            &admin_rights_check(&account(1, 0, &["DRAFT", "ANALYZE", "ADVERTISE", "MANAGE"])),
            CheckStatus::Pass,
            &["MANAGE"],
        );
        assert_result(
            &admin_rights_check(&account(1, 0, &["ANALYZE", "ADVERTISE"])),
            CheckStatus::Warn,
            &["not an admin", "ANALYZE, ADVERTISE", "Ask a Business admin"],
        );
        assert_result(
            &admin_rights_check(&account(1, 0, &["DRAFT", "ANALYZE"])),
            CheckStatus::Fail,
            &[
                "no admin or advertiser role",
                "100/33",
                "give your system user Admin rights on the ad account",
            ],
        );
        assert_result(
            &admin_rights_check(&account(1, 0, &[])),
            CheckStatus::Fail,
            &["tasks: none"],
        );

        let mut unaccepted = account(1, 0, &["MANAGE"]);
        assert_result(&terms_check(&unaccepted), CheckStatus::Pass, &["accepted"]);
        unaccepted
            .tos_accepted
            .insert("custom_audience_tos".to_owned(), 0);
        assert_result(
            &terms_check(&unaccepted),
            CheckStatus::Fail,
            &[
                "not accepted",
                "https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772 ",
            ],
        );
        unaccepted.tos_accepted.clear();
        assert_eq!(terms_check(&unaccepted).status, CheckStatus::Fail);

        let mut without_business = account(1, 0, &["MANAGE"]);
        assert_result(
            &business_check(&without_business),
            CheckStatus::Pass,
            &["\"Acme Inc\" (1111)"],
        );
        without_business.business = None;
        assert_result(
            &business_check(&without_business),
            CheckStatus::Warn,
            &[
                "does not belong to a Business Manager",
                "1870050",
                "Business Settings",
            ],
        );
    }

    #[test]
    fn audience_count_thresholds() {
        for (n_audiences, status) in [
            (0, CheckStatus::Pass),
            (449, CheckStatus::Pass),
            (450, CheckStatus::Warn),
            (499, CheckStatus::Warn),
            (500, CheckStatus::Fail),
            (731, CheckStatus::Fail),
        ] {
            let result = audience_count_check(n_audiences);
            assert_eq!(result.status, status, "{n_audiences}: {result:?}");
            assert!(
                result
                    .detail
                    .starts_with(&format!("{n_audiences} customer-file audiences"))
            );
        }
        assert!(
            audience_count_check(450)
                .detail
                .contains("room for 50 more")
        );
    }

    #[test]
    fn graph_errors_become_failures_with_their_fix() {
        let id = ad_account_id();
        let terms = error_result(TERMS, &api_error(200, Some(1870034)), &id);
        assert_result(&terms, CheckStatus::Fail, &["tos/?act=542676646349772"]);
        let mut throttled = api_error(80003, Some(2446079));
        if let GraphError::Api(api) = &mut throttled {
            api.regain_access_after = Some(Duration::from_secs(300));
        }
        assert_result(
            &error_result(AUDIENCE_COUNT, &throttled, &id),
            CheckStatus::Fail,
            &["throttling", "in 5 minutes"],
        );
        assert_result(
            &error_result(AUDIENCE_COUNT, &GraphError::Timeout, &id),
            CheckStatus::Fail,
            &["could not be reached", "did not answer in time"],
        );
    }

    #[test]
    fn render_prints_one_line_per_check_and_the_fix_below() {
        let results = vec![
            CheckResult::pass(TOKEN, "valid"),
            CheckResult::fail(TERMS, "not accepted", "open the link"),
            CheckResult::skip(BUSINESS, "needs the ad account"),
        ];
        let text = render(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  pass  access token           valid");
        assert_eq!(lines[1], "  fail  Custom Audience terms  not accepted");
        assert_eq!(lines[2].trim(), "fix: open the link");
        assert_eq!(
            lines[3],
            "  skip  business               not run: needs the ad account"
        );
        assert_eq!(lines[4], "  1 passed, 0 warnings, 1 failed, 1 skipped");
        assert!(any_failed(&results));
        assert!(!any_failed(&results[..1]));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(NOW_UNIX as i64), "2026-01-01");
        assert_eq!(utc_date(NOW_UNIX as i64 + 59 * DAY), "2026-03-01");
    }
}
