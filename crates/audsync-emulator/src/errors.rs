//! Meta's error envelope (contract §5.1) and every error the emulator answers with (§5.2, §10 F3–F6).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A Graph API error as the emulator sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaError {
    /// `message`.
    pub message: String,
    /// `type` (`OAuthException`, `GraphMethodException`).
    pub error_type: &'static str,
    /// `code`.
    pub code: u32,
    /// `error_subcode`, when there is one.
    pub subcode: Option<u32>,
    /// `error_user_title`, when there is one.
    pub user_title: Option<&'static str>,
    /// `error_user_msg`, when there is one.
    pub user_msg: Option<&'static str>,
    /// `is_transient`.
    pub is_transient: bool,
}

/// The codes of the error a response carried, for the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ErrorCodes {
    pub code: u32,
    pub subcode: Option<u32>,
}

/// The doc link Meta appends to "Unsupported ... request" messages.
const GRAPH_DOCS_HINT: &str =
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api";

/// The rate-limit doc link of the 80003 message (contract §10 F6).
const RATE_LIMIT_DOCS: &str =
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting";

impl MetaError {
    fn new(
        code: u32,
        subcode: Option<u32>,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            error_type,
            code,
            subcode,
            user_title: None,
            user_msg: None,
            is_transient: false,
        }
    }

    fn with_user(mut self, title: &'static str, message: &'static str) -> Self {
        self.user_title = Some(title);
        self.user_msg = Some(message);
        self
    }

    /// HTTP status: 500 for codes 1 and 2, 400 otherwise (contract §5.1 emulator rule).
    pub fn status(&self) -> StatusCode {
        match self.code {
            1 | 2 => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON envelope with a fresh `fbtrace_id`.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        error.insert("type".into(), json!(self.error_type));
        error.insert("code".into(), json!(self.code));
        if let Some(subcode) = self.subcode {
            error.insert("error_subcode".into(), json!(subcode));
        }
        error.insert("is_transient".into(), json!(self.is_transient));
        if let Some(title) = self.user_title {
            error.insert("error_user_title".into(), json!(title));
        }
        if let Some(user_msg) = self.user_msg {
            error.insert("error_user_msg".into(), json!(user_msg));
        }
        error.insert("fbtrace_id".into(), json!(fbtrace_id()));
        json!({ "error": error })
    }

    // ---- 1, 2: transient (contract §5.2) ----

    /// 1: "An unknown error occurred" (HTTP 500, transient).
    pub fn unknown() -> Self {
        let mut error = Self::new(1, None, "OAuthException", "An unknown error occurred");
        error.is_transient = true;
        error
    }

    /// 2: "Service temporarily unavailable" (HTTP 500, transient).
    pub fn service_unavailable() -> Self {
        let mut error = Self::new(
            2,
            None,
            "OAuthException",
            "An unexpected error has occurred. Please retry your request later.",
        );
        error.is_transient = true;
        error
    }

    // ---- auth (190, 104, 2500, appsecret_proof) ----

    /// 104: no token at all.
    pub fn token_required() -> Self {
        Self::new(
            104,
            None,
            "OAuthException",
            "An access token is required to request this resource.",
        )
    }

    /// 190 without subcode: a token the emulator does not know.
    pub fn token_unparsable() -> Self {
        Self::new(
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    /// 190/463 with the wording of contract §10 F6.
    pub fn token_expired(expired_at_unix: u64, now_unix: u64) -> Self {
        Self::new(
            190,
            Some(463),
            "OAuthException",
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                pacific_time(expired_at_unix),
                pacific_time(now_unix)
            ),
        )
    }

    /// 190/467: invalidated token.
    pub fn token_revoked() -> Self {
        Self::new(
            190,
            Some(467),
            "OAuthException",
            "Error validating access token: The session is invalid because the user logged out.",
        )
    }

    /// 100: the app requires a proof and none was sent.
    pub fn appsecret_proof_required() -> Self {
        Self::new(
            100,
            None,
            "GraphMethodException",
            "API calls from the server require an appsecret_proof argument",
        )
    }

    /// 100: wrong or stale proof (contract §7 emulator rule wording).
    pub fn appsecret_proof_invalid() -> Self {
        Self::new(
            100,
            None,
            "GraphMethodException",
            "Invalid appsecret_proof provided in the API argument",
        )
    }

    /// 2500: a path the Graph API does not have.
    pub fn unknown_path(path: &str) -> Self {
        Self::new(
            2500,
            None,
            "OAuthException",
            format!("Unknown path components: {path}"),
        )
    }

    // ---- permissions (294, 100/33, 200/1870034) ----

    /// 294 with the wording of contract §10 F6.
    pub fn missing_ads_management() -> Self {
        Self::new(
            294,
            None,
            "GraphMethodException",
            "Missing permission. Please make sure you have ads_management permission and the application is included in the allowlist",
        )
    }

    /// 100/33: the object does not exist or the token may not act on it (contract §5.2, §8.4).
    pub fn unsupported_request(method: &str, object_id: &str) -> Self {
        Self::new(
            100,
            Some(33),
            "GraphMethodException",
            format!(
                "Unsupported {} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. {GRAPH_DOCS_HINT}",
                method.to_ascii_lowercase()
            ),
        )
    }

    /// 200/1870034 with the wording of contract §10 F6.
    pub fn terms_not_accepted() -> Self {
        Self::new(200, Some(1_870_034), "OAuthException", "Permissions error").with_user(
            "Custom Audience Terms Not Accepted",
            "You'll need to agree to the Custom Audience terms before you can create or edit an audience or an ad set.",
        )
    }

    /// 200/1870047 with the body of contract §10 F4.
    pub fn audience_size_too_low() -> Self {
        Self::new(200, Some(1_870_047), "OAuthException", "Permissions error").with_user(
            "Audience Size too Low",
            "You cannot remove users from this audience because it will result in a low audience size.",
        )
    }

    // ---- 100: invalid parameters ----

    /// 100 with a free message, prefixed `(#100) `.
    pub fn invalid_parameter(detail: impl AsRef<str>) -> Self {
        Self::new(
            100,
            None,
            "OAuthException",
            format!("(#100) {}", detail.as_ref()),
        )
    }

    /// 100: a required parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!("The parameter {name} is required"))
    }

    /// 100: rows do not fit the schema (contract §3).
    pub fn schema_mismatch() -> Self {
        Self::invalid_parameter("Data is missing or does not match schema")
    }

    /// 100: unknown field in `fields=`.
    pub fn nonexisting_field(field: &str, node_type: &str) -> Self {
        Self::invalid_parameter(format!(
            "Tried accessing nonexisting field ({field}) on node type ({node_type})"
        ))
    }

    /// 100/1713230 with the body of contract §10 F6.
    pub fn audience_upload_blocked() -> Self {
        Self::new(100, Some(1_713_230), "OAuthException", "Invalid parameter").with_user(
            "Audience Upload Blocked",
            "Before updating user memberships, you must resolve integrity restrictions on this Data File Custom Audience. Go to Audience Manager to appeal the restrictions or create a new audience with updated data",
        )
    }

    // ---- 2650, 2654: audience updates ----

    /// 2650 data-source lock with the wording of contract §10 F6.
    pub fn data_source_mismatch(locked: &str, incoming: &str) -> Self {
        Self::new(
            2650,
            None,
            "OAuthException",
            format!(
                "(#2650) Failed to update the custom audience: This audience was created from data source FILE_IMPORTED.{locked}, which does not support data source FILE_IMPORTED.{incoming}."
            ),
        )
    }

    /// 2650 with a replace subcode (contract §2.6).
    pub fn replace(subcode: ReplaceFailure) -> Self {
        let (title, user_msg) = match subcode {
            ReplaceFailure::UpdateInProgress => (
                "Audience Update In Progress",
                "This audience is being updated. Wait until its operation status is Normal, then try again.",
            ),
            ReplaceFailure::SizeNotSupported => (
                "Audience Size Not Supported",
                "Replacing users is only available for audiences with fewer than 100 million people.",
            ),
            ReplaceFailure::InvalidBatch => (
                "Invalid Batch Upload",
                "The first batch of a replace session must have batch_seq 1.",
            ),
            ReplaceFailure::ListNotFullyUpdated => (
                "Audience Not Fully Updated",
                "An error occurred and your list was not fully updated. Try the replace again.",
            ),
            ReplaceFailure::SessionTimedOut => (
                "Replace Session Timed Out",
                "The replace session timed out 90 minutes after its first batch. The audience now holds the users uploaded before the timeout.",
            ),
            ReplaceFailure::SessionComplete => (
                "Replace Session Already Complete",
                "This replace session already received its last batch.",
            ),
        };
        Self::new(
            2650,
            Some(subcode as u32),
            "OAuthException",
            "(#2650) Failed to update the custom audience",
        )
        .with_user(title, user_msg)
    }

    /// 2654: audience creation refused.
    pub fn create_failed(detail: &str) -> Self {
        Self::new(
            2654,
            None,
            "OAuthException",
            format!("(#2654) Failed to create custom audience: {detail}"),
        )
    }

    // ---- throttling (80003, 4, 17, 613, 368) ----

    /// 80003/2446079 with the wording of contract §10 F6.
    pub fn custom_audience_throttled() -> Self {
        let mut error = Self::new(
            80_003,
            Some(2_446_079),
            "OAuthException",
            format!(
                "(#80003) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to {RATE_LIMIT_DOCS}."
            ),
        );
        error.is_transient = true;
        error
    }

    /// 4: application request limit reached.
    pub fn app_rate_limit() -> Self {
        let mut error = Self::new(
            4,
            None,
            "OAuthException",
            "(#4) Application request limit reached",
        );
        error.is_transient = true;
        error
    }

    /// 17: user request limit reached.
    pub fn user_rate_limit() -> Self {
        let mut error = Self::new(
            17,
            None,
            "OAuthException",
            "(#17) User request limit reached",
        );
        error.is_transient = true;
        error
    }

    /// 613: custom rate limit.
    pub fn custom_rate_limit() -> Self {
        let mut error = Self::new(
            613,
            None,
            "OAuthException",
            "(#613) Calls to this api have exceeded the rate limit.",
        );
        error.is_transient = true;
        error
    }

    /// 368: temporarily blocked for policy violations.
    pub fn policy_block() -> Self {
        Self::new(
            368,
            None,
            "OAuthException",
            "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
        )
    }
}

/// The subcodes of 2650 on `/usersreplace` (contract §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceFailure {
    /// 1870145: another replace is running (also for /users during a replace).
    UpdateInProgress = 1_870_145,
    /// 1870144: the audience is too big for replace.
    SizeNotSupported = 1_870_144,
    /// 1870147: the first batch was not batch_seq 1.
    InvalidBatch = 1_870_147,
    /// 1870148: an error occurred; the list was not fully updated.
    ListNotFullyUpdated = 1_870_148,
    /// 1870158: the session timed out.
    SessionTimedOut = 1_870_158,
    /// 1870159: the session already received its last batch.
    SessionComplete = 1_870_159,
}

impl IntoResponse for MetaError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.to_json())).into_response();
        let challenge = format!(
            "OAuth \"Facebook Platform\" \"invalid_request\" \"{}\"",
            self.message.replace(['"', '\\'], "'")
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response.extensions_mut().insert(ErrorCodes {
            code: self.code,
            subcode: self.subcode,
        });
        response
    }
}

/// An 11-character trace id like Meta's `fbtrace_id`.
fn fbtrace_id() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(11)
        .collect()
}

/// Formats unix seconds like the 190/463 message: `Saturday, 13-Jun-26 05:00:00 PDT`
/// (a fixed UTC−7 offset, as in the recorded text of contract §10 F6).
pub(crate) fn pacific_time(unix_seconds: u64) -> String {
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = unix_seconds.saturating_sub(7 * 3600);
    let days = local / 86_400;
    let seconds_of_day = local % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02}-{}-{:02} {:02}:{:02}:{:02} PDT",
        WEEKDAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year % 100,
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's civil-from-days algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacific_time_matches_the_recorded_wording() {
        // 2026-06-13 12:00:00 UTC = Saturday 05:00:00 at UTC−7 (contract §10 F6).
        assert_eq!(
            pacific_time(1_781_352_000),
            "Saturday, 13-Jun-26 05:00:00 PDT"
        );
        assert_eq!(
            pacific_time(365 * 86_400),
            "Thursday, 31-Dec-70 17:00:00 PDT"
        );
    }

    #[test]
    fn transient_codes_are_500_and_everything_else_400() {
        assert_eq!(
            MetaError::unknown().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            MetaError::service_unavailable().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert!(MetaError::unknown().is_transient);
        assert_eq!(MetaError::token_revoked().status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            MetaError::custom_audience_throttled().status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn envelope_carries_subcode_and_user_fields_only_when_set() {
        let body = MetaError::audience_size_too_low().to_json();
        assert_eq!(body["error"]["error_subcode"], 1_870_047);
        assert_eq!(body["error"]["error_user_title"], "Audience Size too Low");
        assert_eq!(body["error"]["fbtrace_id"].as_str().map(str::len), Some(11));
        let body = MetaError::missing_ads_management().to_json();
        assert!(body["error"].get("error_subcode").is_none());
        assert!(body["error"].get("error_user_title").is_none());
    }

    #[test]
    fn www_authenticate_quotes_the_message() {
        let response = MetaError::audience_size_too_low().into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "OAuth \"Facebook Platform\" \"invalid_request\" \"Permissions error\""
        );
    }
}
