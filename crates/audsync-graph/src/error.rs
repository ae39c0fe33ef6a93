//! `GraphError` and its one exhaustive classification, `GraphError::action()`: what the caller does next.

use std::fmt;
use std::time::Duration;

use crate::ids::AdAccountId;

/// The most characters of server text (an error message, an HTML page) kept in an error.
pub const MAX_SNIPPET_CHARS: usize = 300;

/// A failed Graph call. `Display` never contains the access token, the app secret or a
/// payload: server text is scrubbed and truncated when the error is built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with its error envelope (contract §5.1).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No complete answer within the request timeout.
    #[error("the Graph API did not answer in time")]
    Timeout,
    /// No connection could be made; the request never left.
    #[error("could not connect to the Graph API: {detail}")]
    Connect { detail: String },
    /// The connection was reset or closed before the answer was complete.
    #[error("the Graph API connection was reset or closed early: {detail}")]
    ConnectionReset { detail: String },
    /// Any other transport failure.
    #[error("network error talking to the Graph API: {detail}")]
    Network { detail: String },
    /// An answer that is not Graph JSON: an HTML error page, an empty body, plain text.
    #[error(
        "the Graph API answered HTTP {http_status} with {kind} instead of Graph JSON: {snippet:?}"
    )]
    UnexpectedBody {
        http_status: u16,
        kind: BodyKind,
        snippet: String,
    },
    /// JSON that does not have the shape this client expects (the contract drifted).
    #[error("could not read the Graph API answer (HTTP {http_status}): {detail}")]
    Decode { http_status: u16, detail: String },
    /// Refused before sending anything.
    #[error("nothing was sent to the Graph API: {reason}")]
    NotSent { reason: &'static str },
}

/// What an unexpected body looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Html,
    Empty,
    NotJson,
    /// JSON on an error status, but without the `{"error": {...}}` envelope.
    JsonWithoutEnvelope,
}

impl fmt::Display for BodyKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            BodyKind::Html => "an HTML page",
            BodyKind::Empty => "an empty body",
            BodyKind::NotJson => "a body that is not JSON",
            BodyKind::JsonWithoutEnvelope => "JSON without an error object",
        })
    }
}

/// The decoded Graph error envelope (contract §5.1), plus what the response headers said.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub http_status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    /// `type`: usually `OAuthException`, sometimes `GraphMethodException`.
    pub error_type: Option<String>,
    pub message: String,
    pub user_title: Option<String>,
    pub user_message: Option<String>,
    pub fbtrace_id: Option<String>,
    pub is_transient: bool,
    /// `estimated_time_to_regain_access` from the usage headers of the same response.
    pub regain_access_after: Option<Duration>,
    /// The ad account the call was about, when known (for the terms link).
    pub ad_account: Option<AdAccountId>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Graph API error #{}", self.code)?;
        if let Some(subcode) = self.subcode {
            write!(formatter, "/{subcode}")?;
        }
        write!(formatter, " (HTTP {}", self.http_status)?;
        if let Some(error_type) = &self.error_type {
            write!(formatter, ", {error_type}")?;
        }
        write!(formatter, "): {}", self.message)?;
        if let Some(user_message) = &self.user_message {
            write!(formatter, " — {user_message}")?;
        }
        if let Some(fbtrace_id) = &self.fbtrace_id {
            write!(formatter, " [fbtrace_id {fbtrace_id}]")?;
        }
        Ok(())
    }
}

/// What the caller does with a failed call. Produced only by [`GraphError::action`].
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorAction {
    /// A transient failure: send the same request again after a short backoff.
    RetrySoon,
    /// Throttled: stop calling this ad account, then send again. `duration` is what Graph
    /// announced (`estimated_time_to_regain_access`); `None` means back off.
    Wait { duration: Option<Duration> },
    /// Only a person can fix this (token, permissions, terms, account); retrying won't help.
    StopAndTellUser(UserProblem),
    /// This request's data was refused; record why, do not resend it unchanged.
    DropAndReport(DataProblem),
    /// Removing these users would leave the audience too small (200/1870047): keep them as
    /// members, record it, and carry on.
    AudienceTooSmallToRemove,
    /// Another update is running on the audience (2650/1870145): wait until its
    /// `operation_status` is Normal (200), then start the replace again.
    ReplaceConflict,
    /// The replace failed part-way and the list is not fully updated (2650/1870148):
    /// run the whole replace session again.
    RetryReplace,
}

/// A problem only a person can fix, with plain words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserProblem {
    /// 190/463.
    TokenExpired,
    /// 190 (other subcodes), 102.
    TokenInvalid,
    /// 10, 200, 294, 2654/1713092; `permission` when Graph named it.
    MissingPermission { permission: Option<&'static str> },
    /// 200/1870034, 200/1870090, 2655, 2663.
    TermsNotAccepted { ad_account: Option<AdAccountId> },
    /// 200/1870092 (contract §5.2, UNCONFIRMED).
    BusinessToolsTermsNotAccepted,
    /// 200/1870050.
    BusinessNotLinked,
    /// 100/33.
    NotAdminOrMissing,
    /// 368.
    Blocked,
    /// 100/1713228, 100/1713230, 100/1713231 (operation_status 471).
    AudienceFlagged,
    /// 104, or 100 about `appsecret_proof`.
    InvalidAppSecretProof,
    /// 2650/1870144.
    AudienceTooLargeToReplace,
    /// Graph answered JSON this client cannot read.
    UnreadableAnswer,
}

/// Why Graph refused a request's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataProblem {
    /// 100: invalid parameter, e.g. rows that do not match the schema.
    InvalidParameter,
    /// 105.
    TooManyParameters,
    /// 2650 without a replace subcode, e.g. the data-source lock (multi-key vs single-key).
    AudienceUpdateRejected,
    /// 1/99, observed for oversize uploads.
    UnknownBatchError,
    /// 2654.
    AudienceCreateFailed,
    /// 2650/1870158: the replace session ran over 90 minutes.
    ReplaceSessionTimedOut,
    /// 2650/1870147: a batch arrived before batch 1.
    ReplaceBatchOutOfOrder,
    /// 2650/1870159: a batch arrived after the last one.
    ReplaceSessionAlreadyComplete,
    /// A client error (4xx) whose body is not Graph JSON.
    UnexpectedAnswer,
    /// The batch had no rows left to send.
    EmptyBatch,
    /// A Graph error code this client does not know.
    Unrecognized { code: i64, subcode: Option<i64> },
}

impl GraphError {
    /// The one classification of every failure (contract §5.2 and §6.3).
    pub fn action(&self) -> ErrorAction {
        match self {
            GraphError::Api(api) => classify_api(api),
            GraphError::Timeout
            | GraphError::Connect { .. }
            | GraphError::ConnectionReset { .. }
            | GraphError::Network { .. } => ErrorAction::RetrySoon,
            GraphError::UnexpectedBody { http_status, .. } => match *http_status {
                429 => ErrorAction::Wait { duration: None },
                408 => ErrorAction::RetrySoon,
                400..=499 => ErrorAction::DropAndReport(DataProblem::UnexpectedAnswer),
                _ => ErrorAction::RetrySoon,
            },
            GraphError::Decode { .. } => {
                ErrorAction::StopAndTellUser(UserProblem::UnreadableAnswer)
            }
            GraphError::NotSent { .. } => ErrorAction::DropAndReport(DataProblem::EmptyBatch),
        }
    }

    /// Whether Graph may have carried out the request although it failed: the answer was
    /// lost or unreadable. Requests that are not safe to repeat (creating an audience) are
    /// not retried blindly after such a failure.
    pub fn may_have_been_applied(&self) -> bool {
        match self {
            GraphError::Api(_) | GraphError::Connect { .. } | GraphError::NotSent { .. } => false,
            GraphError::Timeout
            | GraphError::ConnectionReset { .. }
            | GraphError::Network { .. }
            | GraphError::UnexpectedBody { .. }
            | GraphError::Decode { .. } => true,
        }
    }

    /// The decoded Graph error, if Graph sent one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            GraphError::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Attaches the ad account the call was about (the terms link needs it).
    pub fn with_ad_account(mut self, ad_account: &AdAccountId) -> GraphError {
        if let GraphError::Api(api) = &mut self {
            api.ad_account = Some(ad_account.clone());
        }
        self
    }
}

fn classify_api(api: &ApiError) -> ErrorAction {
    use ErrorAction::{
        AudienceTooSmallToRemove, DropAndReport, ReplaceConflict, RetryReplace, RetrySoon,
        StopAndTellUser, Wait,
    };
    let stop = StopAndTellUser;
    let wait = Wait {
        duration: api.regain_access_after,
    };
    match (api.code, api.subcode) {
        // Throttling (contract §5.2, §6.1): app limit, user limit, application limit,
        // custom rate limit, and the 800xx Business Use Case limits.
        (4 | 17 | 341 | 613, _) | (80000..=80099, _) => wait,
        // Authentication (contract §5.2, ERR-GRAPH).
        (190, Some(463)) => stop(UserProblem::TokenExpired),
        (190, _) | (102, _) => stop(UserProblem::TokenInvalid),
        (104, _) => stop(UserProblem::InvalidAppSecretProof),
        // Terms, business and permissions (the 200 family).
        (200, Some(1870034 | 1870090)) | (2655 | 2663, _) => stop(UserProblem::TermsNotAccepted {
            ad_account: api.ad_account.clone(),
        }),
        (200, Some(1870092)) => stop(UserProblem::BusinessToolsTermsNotAccepted),
        (200, Some(1870050)) => stop(UserProblem::BusinessNotLinked),
        (200, Some(1870047)) => AudienceTooSmallToRemove,
        (294, _) => stop(UserProblem::MissingPermission {
            permission: Some("ads_management"),
        }),
        (10 | 200..=299, _) | (2654, Some(1713092)) => {
            stop(UserProblem::MissingPermission { permission: None })
        }
        (368, _) => stop(UserProblem::Blocked),
        // Invalid parameter (100) and its subcodes.
        (100, Some(33)) => stop(UserProblem::NotAdminOrMissing),
        (100, Some(1713228 | 1713230 | 1713231)) => stop(UserProblem::AudienceFlagged),
        (100, _) if api.message.contains("appsecret_proof") => {
            stop(UserProblem::InvalidAppSecretProof)
        }
        (100, _) => DropAndReport(DataProblem::InvalidParameter),
        (105, _) => DropAndReport(DataProblem::TooManyParameters),
        // Replace sessions (contract §2.6): all 2650 with subcodes.
        (2650, Some(1870145)) => ReplaceConflict,
        (2650, Some(1870148)) => RetryReplace,
        (2650, Some(1870158)) => DropAndReport(DataProblem::ReplaceSessionTimedOut),
        (2650, Some(1870147)) => DropAndReport(DataProblem::ReplaceBatchOutOfOrder),
        (2650, Some(1870159)) => DropAndReport(DataProblem::ReplaceSessionAlreadyComplete),
        (2650, Some(1870144)) => stop(UserProblem::AudienceTooLargeToReplace),
        (2650, _) => DropAndReport(DataProblem::AudienceUpdateRejected),
        (2654, _) => DropAndReport(DataProblem::AudienceCreateFailed),
        // Unknown error with subcode 99: seen for oversize uploads; never retried blindly.
        (1, Some(99)) => DropAndReport(DataProblem::UnknownBatchError),
        (1 | 2, _) => RetrySoon,
        _ if api.is_transient || api.http_status >= 500 => RetrySoon,
        (code, subcode) => DropAndReport(DataProblem::Unrecognized { code, subcode }),
    }
}

/// Where a person accepts the Custom Audience terms for an ad account (contract §8.3).
pub fn terms_url(ad_account: &AdAccountId) -> String {
    format!(
        "https://business.facebook.com/ads/manage/customaudiences/tos/?act={}",
        ad_account.numeric()
    )
}

impl UserProblem {
    /// What is wrong, in plain words.
    pub fn message(&self) -> String {
        match self {
            UserProblem::TokenExpired => "The Facebook access token has expired.".to_owned(),
            UserProblem::TokenInvalid => {
                "The Facebook access token is no longer valid (revoked, password changed, or malformed).".to_owned()
            }
            UserProblem::MissingPermission { permission: Some(permission) } => {
                format!("The Facebook access token lacks the {permission} permission.")
            }
            UserProblem::MissingPermission { permission: None } => {
                "The Facebook access token is not allowed to do this.".to_owned()
            }
            UserProblem::TermsNotAccepted { ad_account: Some(ad_account) } => format!(
                "The Custom Audience terms have not been accepted for ad account {ad_account}."
            ),
            UserProblem::TermsNotAccepted { ad_account: None } => {
                "The Custom Audience terms have not been accepted for this ad account.".to_owned()
            }
            UserProblem::BusinessToolsTermsNotAccepted => {
                "The Meta Business Tools terms have not been accepted.".to_owned()
            }
            UserProblem::BusinessNotLinked => {
                "The ad account is not linked to a Business Manager.".to_owned()
            }
            UserProblem::NotAdminOrMissing => {
                "The audience or ad account does not exist, or the token's user is not an admin of the ad account that owns it.".to_owned()
            }
            UserProblem::Blocked => {
                "Facebook has blocked this action as abusive or against its policies.".to_owned()
            }
            UserProblem::AudienceFlagged => {
                "Facebook has restricted this audience for integrity reasons (for example health or financial terms); uploads are blocked.".to_owned()
            }
            UserProblem::InvalidAppSecretProof => {
                "Facebook rejected the appsecret_proof: the app secret does not belong to the token's app.".to_owned()
            }
            UserProblem::AudienceTooLargeToReplace => {
                "The audience is too large to be replaced (100 million people or more).".to_owned()
            }
            UserProblem::UnreadableAnswer => {
                "Facebook answered in a shape audsync does not understand.".to_owned()
            }
        }
    }

    /// What the person does about it.
    pub fn fix(&self) -> String {
        match self {
            UserProblem::TokenExpired | UserProblem::TokenInvalid => {
                "Create a new token (a system user token does not expire) and update the settings.".to_owned()
            }
            UserProblem::MissingPermission { .. } => {
                "Grant ads_management to the app and token, and give its user a role on the ad account.".to_owned()
            }
            UserProblem::TermsNotAccepted { ad_account } => match ad_account {
                Some(ad_account) => format!(
                    "Open {} while logged in as a person of the business and accept the terms.",
                    terms_url(ad_account)
                ),
                None => "Accept the Custom Audience terms in Ads Manager → Audiences for the ad account's business.".to_owned(),
            },
            UserProblem::BusinessToolsTermsNotAccepted => {
                "Accept the Meta Business Tools terms in Business Settings.".to_owned()
            }
            UserProblem::BusinessNotLinked => {
                "Add the ad account to a Business Manager in Business Settings.".to_owned()
            }
            UserProblem::NotAdminOrMissing => {
                "Check the id, and make the token's (system) user an Admin of the ad account.".to_owned()
            }
            UserProblem::Blocked => {
                "Wait before trying again, and review the account's policy notices.".to_owned()
            }
            UserProblem::AudienceFlagged => {
                "Appeal in Audience Manager, or create a new audience without the restricted data.".to_owned()
            }
            UserProblem::InvalidAppSecretProof => {
                "Set the app secret of the app that issued the token, or remove it.".to_owned()
            }
            UserProblem::AudienceTooLargeToReplace => {
                "Use incremental adds and removes for this audience instead of a replace.".to_owned()
            }
            UserProblem::UnreadableAnswer => {
                "Report it to the audsync maintainers with the fbtrace id from the log.".to_owned()
            }
        }
    }

    /// The terms link, when the problem is unaccepted terms and the ad account is known.
    pub fn terms_url(&self) -> Option<String> {
        match self {
            UserProblem::TermsNotAccepted {
                ad_account: Some(ad_account),
            } => Some(terms_url(ad_account)),
            _ => None,
        }
    }
}

impl fmt::Display for UserProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.message(), self.fix())
    }
}

impl DataProblem {
    /// Why the data was refused, in plain words.
    pub fn reason(&self) -> String {
        match self {
            DataProblem::InvalidParameter => {
                "Facebook refused a parameter (for example rows that do not match the schema).".to_owned()
            }
            DataProblem::TooManyParameters => "The request had too many parameters.".to_owned(),
            DataProblem::AudienceUpdateRejected => {
                "Facebook refused to update the audience (for example a single-key upload to a multi-key audience).".to_owned()
            }
            DataProblem::UnknownBatchError => {
                "Facebook failed on this batch with an unknown error (seen for oversize batches).".to_owned()
            }
            DataProblem::AudienceCreateFailed => "Facebook could not create the audience.".to_owned(),
            DataProblem::ReplaceSessionTimedOut => {
                "The replace session ran past 90 minutes; the audience holds what was uploaded until then.".to_owned()
            }
            DataProblem::ReplaceBatchOutOfOrder => {
                "A replace batch arrived before batch 1 of its session.".to_owned()
            }
            DataProblem::ReplaceSessionAlreadyComplete => {
                "A replace batch arrived after the session's last batch.".to_owned()
            }
            DataProblem::UnexpectedAnswer => {
                "Facebook refused the request without a Graph error (the request may be too large).".to_owned()
            }
            DataProblem::EmptyBatch => "The batch had no rows to send.".to_owned(),
            DataProblem::Unrecognized { code, subcode } => match subcode {
                Some(subcode) => format!("Facebook returned error #{code}/{subcode}, which audsync does not know."),
                None => format!("Facebook returned error #{code}, which audsync does not know."),
            },
        }
    }
}

impl fmt::Display for DataProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.reason())
    }
}

/// Makes server or transport text safe to keep in an error or a log line: every secret is
/// replaced, every 64-hex run (a hashed key, i.e. payload) is replaced, whitespace is
/// collapsed and the result is cut at `max_chars`.
pub(crate) fn scrub(text: &str, secrets: &[&str], max_chars: usize) -> String {
    let mut cleaned = text.to_owned();
    for secret in secrets.iter().filter(|secret| secret.len() >= 4) {
        cleaned = cleaned.replace(secret, "**redacted**");
    }
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len().min(max_chars + 3));
    let mut n_chars = 0;
    let mut chars = collapsed.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        if n_chars >= max_chars {
            out.push('…');
            break;
        }
        let hex_run = collapsed[index..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        let starts_run = index == 0 || !collapsed.as_bytes()[index - 1].is_ascii_hexdigit();
        if starts_run && hex_run >= 64 {
            out.push_str("<hash>");
            n_chars += 6;
            for _ in 1..hex_run {
                chars.next();
            }
            continue;
        }
        out.push(character);
        n_chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(http_status: u16, code: i64, subcode: Option<i64>) -> ApiError {
        ApiError {
            http_status,
            code,
            subcode,
            error_type: Some("OAuthException".to_owned()),
            message: format!("(#{code}) something"),
            user_title: None,
            user_message: None,
            fbtrace_id: Some("AbC".to_owned()),
            is_transient: false,
            regain_access_after: None,
            ad_account: None,
        }
    }

    fn action(http_status: u16, code: i64, subcode: Option<i64>) -> ErrorAction {
        GraphError::Api(Box::new(api(http_status, code, subcode))).action()
    }

    fn stop(problem: UserProblem) -> ErrorAction {
        ErrorAction::StopAndTellUser(problem)
    }

    fn drop(problem: DataProblem) -> ErrorAction {
        ErrorAction::DropAndReport(problem)
    }

    const WAIT: ErrorAction = ErrorAction::Wait { duration: None };
    const MISSING: UserProblem = UserProblem::MissingPermission { permission: None };

    /// Every code/subcode row of contract §5.2, in its order.
    #[test]
    fn every_code_of_contract_5_2_is_classified() {
        use ErrorAction::{AudienceTooSmallToRemove, ReplaceConflict, RetryReplace, RetrySoon};
        let table: &[(i64, Option<i64>, ErrorAction)] = &[
            (1, None, RetrySoon),
            (1, Some(99), drop(DataProblem::UnknownBatchError)),
            (2, None, RetrySoon),
            (4, None, WAIT),
            (4, Some(1504022), WAIT),
            (4, Some(1504039), WAIT),
            (10, None, stop(MISSING)),
            (17, None, WAIT),
            (17, Some(2446079), WAIT),
            (100, None, drop(DataProblem::InvalidParameter)),
            (100, Some(33), stop(UserProblem::NotAdminOrMissing)),
            (100, Some(1713098), drop(DataProblem::InvalidParameter)),
            (100, Some(1713228), stop(UserProblem::AudienceFlagged)),
            (100, Some(1713230), stop(UserProblem::AudienceFlagged)),
            (100, Some(1713231), stop(UserProblem::AudienceFlagged)),
            (102, None, stop(UserProblem::TokenInvalid)),
            (104, None, stop(UserProblem::InvalidAppSecretProof)),
            (105, None, drop(DataProblem::TooManyParameters)),
            (190, None, stop(UserProblem::TokenInvalid)),
            (190, Some(458), stop(UserProblem::TokenInvalid)),
            (190, Some(459), stop(UserProblem::TokenInvalid)),
            (190, Some(460), stop(UserProblem::TokenInvalid)),
            (190, Some(463), stop(UserProblem::TokenExpired)),
            (190, Some(464), stop(UserProblem::TokenInvalid)),
            (190, Some(467), stop(UserProblem::TokenInvalid)),
            (190, Some(492), stop(UserProblem::TokenInvalid)),
            (200, None, stop(MISSING)),
            (
                200,
                Some(1870034),
                stop(UserProblem::TermsNotAccepted { ad_account: None }),
            ),
            (
                200,
                Some(1870090),
                stop(UserProblem::TermsNotAccepted { ad_account: None }),
            ),
            (
                200,
                Some(1870092),
                stop(UserProblem::BusinessToolsTermsNotAccepted),
            ),
            (200, Some(1870047), AudienceTooSmallToRemove),
            (200, Some(1870050), stop(UserProblem::BusinessNotLinked)),
            (
                294,
                None,
                stop(UserProblem::MissingPermission {
                    permission: Some("ads_management"),
                }),
            ),
            (341, None, WAIT),
            (368, None, stop(UserProblem::Blocked)),
            (613, None, WAIT),
            (613, Some(1487742), WAIT),
            (613, Some(1996), WAIT),
            (2650, None, drop(DataProblem::AudienceUpdateRejected)),
            (2650, Some(1870145), ReplaceConflict),
            (
                2650,
                Some(1870158),
                drop(DataProblem::ReplaceSessionTimedOut),
            ),
            (
                2650,
                Some(1870147),
                drop(DataProblem::ReplaceBatchOutOfOrder),
            ),
            (
                2650,
                Some(1870159),
                drop(DataProblem::ReplaceSessionAlreadyComplete),
            ),
            (2650, Some(1870148), RetryReplace),
            (
                2650,
                Some(1870144),
                stop(UserProblem::AudienceTooLargeToReplace),
            ),
            (2654, None, drop(DataProblem::AudienceCreateFailed)),
            (2654, Some(1713092), stop(MISSING)),
            (
                2655,
                None,
                stop(UserProblem::TermsNotAccepted { ad_account: None }),
            ),
            (
                2663,
                None,
                stop(UserProblem::TermsNotAccepted { ad_account: None }),
            ),
            (80003, Some(2446079), WAIT),
            (80004, Some(2446079), WAIT),
            (80000, Some(2446079), WAIT),
        ];
        for (code, subcode, expected) in table {
            assert_eq!(
                &action(400, *code, *subcode),
                expected,
                "code {code} subcode {subcode:?}"
            );
        }
    }

    #[test]
    fn codes_1_and_2_are_transient_on_http_500_too() {
        assert_eq!(action(500, 1, None), ErrorAction::RetrySoon);
        assert_eq!(action(500, 2, None), ErrorAction::RetrySoon);
        assert_eq!(
            action(500, 1, Some(99)),
            drop(DataProblem::UnknownBatchError)
        );
    }

    #[test]
    fn unknown_codes_follow_is_transient_then_http_status() {
        let mut transient = api(400, 12345, None);
        transient.is_transient = true;
        assert_eq!(
            GraphError::Api(Box::new(transient)).action(),
            ErrorAction::RetrySoon
        );
        assert_eq!(action(503, 12345, None), ErrorAction::RetrySoon);
        assert_eq!(
            action(400, 12345, Some(7)),
            drop(DataProblem::Unrecognized {
                code: 12345,
                subcode: Some(7)
            })
        );
        // A stop code stays a stop even when Graph marks it transient.
        let mut expired = api(400, 190, Some(463));
        expired.is_transient = true;
        assert_eq!(
            GraphError::Api(Box::new(expired)).action(),
            stop(UserProblem::TokenExpired)
        );
    }

    #[test]
    fn throttles_carry_the_announced_wait() {
        let mut throttled = api(400, 80003, Some(2446079));
        throttled.is_transient = true;
        throttled.regain_access_after = Some(Duration::from_secs(300));
        assert_eq!(
            GraphError::Api(Box::new(throttled)).action(),
            ErrorAction::Wait {
                duration: Some(Duration::from_secs(300))
            }
        );
    }

    #[test]
    fn terms_problem_links_the_ad_account_when_known() {
        let ad_account = AdAccountId::parse("act_542676646349772").unwrap();
        let error =
            GraphError::Api(Box::new(api(400, 200, Some(1870034)))).with_ad_account(&ad_account);
        let ErrorAction::StopAndTellUser(problem) = error.action() else {
            panic!("expected a stop");
        };
        assert_eq!(
            problem.terms_url().as_deref(),
            Some(
                "https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772"
            )
        );
        assert!(problem.fix().contains("tos/?act=542676646349772"));
    }

    #[test]
    fn invalid_appsecret_proof_is_a_user_problem() {
        let mut invalid = api(400, 100, None);
        invalid.message = "Invalid appsecret_proof provided in the API argument".to_owned();
        assert_eq!(
            GraphError::Api(Box::new(invalid)).action(),
            stop(UserProblem::InvalidAppSecretProof)
        );
    }

    #[test]
    fn bodies_and_transport_failures_are_classified() {
        use ErrorAction::RetrySoon;
        let body = |http_status, kind| GraphError::UnexpectedBody {
            http_status,
            kind,
            snippet: String::new(),
        };
        let table: &[(GraphError, ErrorAction)] = &[
            (body(502, BodyKind::Html), RetrySoon),
            (body(500, BodyKind::Empty), RetrySoon),
            (body(503, BodyKind::NotJson), RetrySoon),
            (body(500, BodyKind::JsonWithoutEnvelope), RetrySoon),
            (body(200, BodyKind::Html), RetrySoon),
            (body(200, BodyKind::Empty), RetrySoon),
            (body(408, BodyKind::Html), RetrySoon),
            (body(429, BodyKind::Empty), WAIT),
            (
                body(413, BodyKind::Html),
                drop(DataProblem::UnexpectedAnswer),
            ),
            (
                body(404, BodyKind::NotJson),
                drop(DataProblem::UnexpectedAnswer),
            ),
            (
                body(400, BodyKind::Empty),
                drop(DataProblem::UnexpectedAnswer),
            ),
            (GraphError::Timeout, RetrySoon),
            (
                GraphError::Connect {
                    detail: "refused".to_owned(),
                },
                RetrySoon,
            ),
            (
                GraphError::ConnectionReset {
                    detail: "reset".to_owned(),
                },
                RetrySoon,
            ),
            (
                GraphError::Network {
                    detail: "other".to_owned(),
                },
                RetrySoon,
            ),
            (
                GraphError::Decode {
                    http_status: 200,
                    detail: "missing field".to_owned(),
                },
                stop(UserProblem::UnreadableAnswer),
            ),
            (
                GraphError::NotSent {
                    reason: "the batch is empty",
                },
                drop(DataProblem::EmptyBatch),
            ),
        ];
        for (error, expected) in table {
            assert_eq!(&error.action(), expected, "{error}");
        }
    }

    #[test]
    fn only_lost_answers_may_have_been_applied() {
        assert!(GraphError::Timeout.may_have_been_applied());
        assert!(
            GraphError::ConnectionReset {
                detail: String::new()
            }
            .may_have_been_applied()
        );
        assert!(
            !GraphError::Connect {
                detail: String::new()
            }
            .may_have_been_applied()
        );
        assert!(!GraphError::Api(Box::new(api(500, 2, None))).may_have_been_applied());
    }

    #[test]
    fn every_user_problem_has_plain_words() {
        let problems = [
            UserProblem::TokenExpired,
            UserProblem::TokenInvalid,
            UserProblem::MissingPermission {
                permission: Some("ads_management"),
            },
            MISSING,
            UserProblem::TermsNotAccepted { ad_account: None },
            UserProblem::BusinessToolsTermsNotAccepted,
            UserProblem::BusinessNotLinked,
            UserProblem::NotAdminOrMissing,
            UserProblem::Blocked,
            UserProblem::AudienceFlagged,
            UserProblem::InvalidAppSecretProof,
            UserProblem::AudienceTooLargeToReplace,
            UserProblem::UnreadableAnswer,
        ];
        for problem in problems {
            let text = problem.to_string();
            assert!(text.len() > 40 && text.ends_with('.'), "{text}");
            assert!(!text.contains('#'), "{text}");
        }
    }

    #[test]
    fn scrub_removes_secrets_and_hashes_and_truncates() {
        let hash = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
        let text = format!("token EAAtoken123 in  \n url, row [\"{hash}\",\"\"] done");
        let scrubbed = scrub(&text, &["EAAtoken123"], 300);
        assert_eq!(
            scrubbed,
            "token **redacted** in url, row [\"<hash>\",\"\"] done"
        );
        let long = "é".repeat(400);
        let cut = scrub(&long, &[], 10);
        assert_eq!(cut.chars().count(), 11);
        assert!(cut.ends_with('…'));
        // Short hex (an fbtrace id, an audience id) is kept.
        assert_eq!(
            scrub("id 23849182047670582", &[], 300),
            "id 23849182047670582"
        );
    }

    #[test]
    fn display_shows_code_subcode_and_trace_but_nothing_else() {
        let mut error = api(400, 190, Some(463));
        error.message = "Error validating access token: Session has expired".to_owned();
        let text = GraphError::Api(Box::new(error)).to_string();
        assert_eq!(
            text,
            "Graph API error #190/463 (HTTP 400, OAuthException): Error validating access token: Session has expired [fbtrace_id AbC]"
        );
    }
}
