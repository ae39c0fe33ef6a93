//! Private serde bodies: the exact JSON Graph sends and receives, and their conversion to our types.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, BodyKind, GraphError, MAX_SNIPPET_CHARS, scrub};
use crate::ids::{AdAccountId, AudienceId};
use crate::objects::{
    AccountStatus, AdAccount, Audience, AudienceStatus, Business, DataSource, Me, NewAudience,
    Permission, SessionStatus, TokenInfo,
};
use crate::users::{Session, UsersBatch, UsersResponse, UsersSchema};

// ---------------------------------------------------------------------------------------
// Requests

/// `{"payload": {...}, "session": {...}}` for `/users` and `/usersreplace` (contract §1.1
/// JSON body, §3, §2.7).
#[derive(Serialize)]
pub(crate) struct UsersRequest<'a> {
    payload: Payload<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<SessionBody>,
}

#[derive(Serialize)]
struct Payload<'a> {
    schema: SchemaBody,
    /// Sent with multi-key schemas (contract §3: "send is_raw: true with multi-key").
    #[serde(skip_serializing_if = "Option::is_none")]
    is_raw: Option<bool>,
    data: &'a [Vec<String>],
}

#[derive(Serialize)]
#[serde(untagged)]
enum SchemaBody {
    Single(&'static str),
    Multi(Vec<&'static str>),
}

#[derive(Serialize)]
struct SessionBody {
    session_id: u64,
    batch_seq: u32,
    last_batch_flag: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_num_total: Option<u64>,
}

impl<'a> UsersRequest<'a> {
    pub(crate) fn new(batch: &'a UsersBatch, session: Option<&Session>) -> UsersRequest<'a> {
        let (schema, is_raw) = match batch.schema() {
            UsersSchema::MultiKey(keys) => (
                SchemaBody::Multi(keys.iter().map(|key| key.wire_name()).collect()),
                Some(true),
            ),
            UsersSchema::SingleKey(key) => (SchemaBody::Single(key.wire_name()), None),
        };
        UsersRequest {
            payload: Payload {
                schema,
                is_raw,
                data: batch.rows(),
            },
            session: session.map(|session| SessionBody {
                session_id: session.session_id,
                batch_seq: session.batch_seq,
                last_batch_flag: session.last_batch_flag,
                estimated_num_total: session.estimated_num_total,
            }),
        }
    }
}

/// `POST /act_{id}/customaudiences` (contract §2.1, F1).
#[derive(Serialize)]
pub(crate) struct CreateAudienceRequest<'a> {
    name: &'a str,
    subtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    customer_file_source: &'static str,
}

impl<'a> CreateAudienceRequest<'a> {
    pub(crate) fn new(name: &'a str, new_audience: &'a NewAudience) -> CreateAudienceRequest<'a> {
        CreateAudienceRequest {
            name,
            subtype: "CUSTOM",
            description: new_audience.description.as_deref(),
            customer_file_source: new_audience.customer_file_source.wire_name(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Responses

/// Turns one HTTP answer into `W` or a [`GraphError`]. `secrets` are scrubbed from any text
/// kept in the error.
pub(crate) fn decode_response<W: DeserializeOwned>(
    http_status: u16,
    body: &[u8],
    regain_access_after: Option<std::time::Duration>,
    secrets: &[&str],
) -> Result<W, GraphError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let is_success = (200..300).contains(&http_status);
    let value = match parsed {
        Ok(value) => value,
        Err(_) => return Err(unexpected_body(http_status, body, secrets)),
    };
    if let Some(error) = value.get("error").filter(|error| error.is_object()) {
        let envelope: ErrorBody = serde_json::from_value(error.clone()).unwrap_or_default();
        return Err(GraphError::Api(Box::new(envelope.into_api_error(
            http_status,
            regain_access_after,
            secrets,
        ))));
    }
    if !is_success {
        return Err(GraphError::UnexpectedBody {
            http_status,
            kind: BodyKind::JsonWithoutEnvelope,
            snippet: scrub(&String::from_utf8_lossy(body), secrets, MAX_SNIPPET_CHARS),
        });
    }
    serde_json::from_value(value).map_err(|error| GraphError::Decode {
        http_status,
        detail: scrub(&error.to_string(), secrets, MAX_SNIPPET_CHARS),
    })
}

fn unexpected_body(http_status: u16, body: &[u8], secrets: &[&str]) -> GraphError {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    let lowercase_start: String = trimmed.chars().take(15).collect::<String>().to_lowercase();
    let kind = if trimmed.is_empty() {
        BodyKind::Empty
    } else if lowercase_start.starts_with("<!doctype html") || lowercase_start.starts_with("<html")
    {
        BodyKind::Html
    } else {
        BodyKind::NotJson
    };
    let snippet = match kind {
        BodyKind::Html => html_text(trimmed),
        _ => trimmed.to_owned(),
    };
    GraphError::UnexpectedBody {
        http_status,
        kind,
        snippet: scrub(&snippet, secrets, MAX_SNIPPET_CHARS),
    }
}

/// The readable text of an HTML page: the tags removed.
fn html_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len().min(4_096));
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(character),
            _ => {}
        }
    }
    text
}

/// The Graph error envelope's inner object (contract §5.1). Lenient: Graph has sent codes as
/// strings and `is_transient` as a string.
#[derive(Deserialize, Default)]
struct ErrorBody {
    message: Option<String>,
    #[serde(rename = "type")]
    error_type: Option<String>,
    code: Option<Value>,
    error_subcode: Option<Value>,
    error_user_title: Option<String>,
    error_user_msg: Option<String>,
    fbtrace_id: Option<String>,
    is_transient: Option<Value>,
}

impl ErrorBody {
    fn into_api_error(
        self,
        http_status: u16,
        regain_access_after: Option<std::time::Duration>,
        secrets: &[&str],
    ) -> ApiError {
        let text =
            |value: Option<String>| value.map(|text| scrub(&text, secrets, MAX_SNIPPET_CHARS));
        ApiError {
            http_status,
            code: self.code.as_ref().and_then(as_i64).unwrap_or(0),
            subcode: self.error_subcode.as_ref().and_then(as_i64),
            error_type: self.error_type,
            message: text(self.message).unwrap_or_default(),
            user_title: text(self.error_user_title),
            user_message: text(self.error_user_msg),
            fbtrace_id: text(self.fbtrace_id),
            is_transient: match self.is_transient {
                Some(Value::Bool(flag)) => flag,
                Some(Value::String(text)) => text == "true",
                _ => false,
            },
            regain_access_after,
            ad_account: None,
        }
    }
}

/// `{"id": "..."}` from a create.
#[derive(Deserialize)]
pub(crate) struct CreatedBody {
    id: Value,
}

impl CreatedBody {
    pub(crate) fn audience_id(&self) -> Result<AudienceId, String> {
        as_string(&self.id)
            .and_then(|id| AudienceId::parse(&id).ok())
            .ok_or_else(|| "the created audience id is not a number".to_owned())
    }
}

/// `{"success": true}` from a delete.
#[derive(Deserialize, Debug)]
pub(crate) struct SuccessBody {
    pub(crate) success: bool,
}

/// A page of a list: `{"data": [...], "paging": {"cursors": {"after": ...}, "next": ...}}`.
#[derive(Deserialize)]
pub(crate) struct PageBody<T> {
    pub(crate) data: Vec<T>,
    #[serde(default)]
    paging: Option<PagingBody>,
}

#[derive(Deserialize)]
struct PagingBody {
    #[serde(default)]
    cursors: Option<CursorsBody>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct CursorsBody {
    #[serde(default)]
    after: Option<String>,
}

impl<T> PageBody<T> {
    /// The cursor of the next page: present only when Graph says there is one (`next`).
    pub(crate) fn next_cursor(&self) -> Option<&str> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.as_deref()
    }
}

#[derive(Deserialize)]
pub(crate) struct AudienceBody {
    id: Value,
    name: Option<String>,
    description: Option<String>,
    subtype: Option<String>,
    account_id: Option<Value>,
    customer_file_source: Option<String>,
    approximate_count_lower_bound: Option<Value>,
    approximate_count_upper_bound: Option<Value>,
    operation_status: Option<StatusBody>,
    delivery_status: Option<StatusBody>,
    data_source: Option<DataSourceBody>,
    time_updated: Option<Value>,
}

#[derive(Deserialize)]
struct StatusBody {
    code: Option<Value>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct DataSourceBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    sub_type: Option<String>,
}

impl StatusBody {
    fn into_status(self) -> Option<AudienceStatus> {
        Some(AudienceStatus {
            code: as_i64(self.code.as_ref()?)?,
            description: self.description.unwrap_or_default(),
        })
    }
}

impl AudienceBody {
    pub(crate) fn into_audience(self) -> Result<Audience, String> {
        let id = as_string(&self.id)
            .and_then(|id| AudienceId::parse(&id).ok())
            .ok_or_else(|| "an audience id is not a number".to_owned())?;
        let count = |value: Option<Value>| {
            value
                .as_ref()
                .and_then(as_i64)
                .and_then(|n| u64::try_from(n).ok())
        };
        Ok(Audience {
            id,
            name: self.name,
            description: self.description,
            subtype: self.subtype,
            ad_account: self
                .account_id
                .as_ref()
                .and_then(as_string)
                .and_then(|id| AdAccountId::parse(&id).ok()),
            customer_file_source: self.customer_file_source,
            approximate_count_lower_bound: count(self.approximate_count_lower_bound),
            approximate_count_upper_bound: count(self.approximate_count_upper_bound),
            operation_status: self.operation_status.and_then(StatusBody::into_status),
            delivery_status: self.delivery_status.and_then(StatusBody::into_status),
            data_source: self.data_source.map(|source| DataSource {
                kind: source.kind,
                sub_type: source.sub_type,
            }),
            time_updated: self.time_updated.as_ref().and_then(as_i64),
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct AdAccountBody {
    id: Option<Value>,
    account_id: Option<Value>,
    name: Option<String>,
    account_status: Option<Value>,
    disable_reason: Option<Value>,
    business: Option<BusinessBody>,
    #[serde(default)]
    user_tasks: Vec<String>,
    #[serde(default)]
    tos_accepted: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct BusinessBody {
    id: Value,
    name: Option<String>,
}

impl AdAccountBody {
    pub(crate) fn into_ad_account(self) -> Result<AdAccount, String> {
        let id = self
            .account_id
            .as_ref()
            .or(self.id.as_ref())
            .and_then(as_string)
            .and_then(|id| AdAccountId::parse(&id).ok())
            .ok_or_else(|| "the ad account id is missing or not a number".to_owned())?;
        let small = |value: Option<Value>| {
            value
                .as_ref()
                .and_then(as_i64)
                .and_then(|n| u32::try_from(n).ok())
        };
        Ok(AdAccount {
            id,
            name: self.name,
            account_status: small(self.account_status).map(AccountStatus::from_code),
            disable_reason: small(self.disable_reason),
            business: self.business.and_then(|business| {
                Some(Business {
                    id: as_string(&business.id)?,
                    name: business.name,
                })
            }),
            user_tasks: self.user_tasks,
            tos_accepted: self
                .tos_accepted
                .into_iter()
                .filter_map(|(name, value)| Some((name, as_i64(&value)?)))
                .collect(),
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct DebugTokenBody {
    data: TokenDataBody,
}

#[derive(Deserialize)]
struct TokenDataBody {
    #[serde(default)]
    is_valid: bool,
    app_id: Option<Value>,
    #[serde(rename = "type")]
    token_type: Option<String>,
    application: Option<String>,
    user_id: Option<Value>,
    #[serde(default)]
    scopes: Vec<String>,
    expires_at: Option<Value>,
    data_access_expires_at: Option<Value>,
    issued_at: Option<Value>,
}

impl DebugTokenBody {
    pub(crate) fn into_token_info(self) -> TokenInfo {
        let data = self.data;
        let time = |value: Option<Value>| value.as_ref().and_then(as_i64).filter(|time| *time > 0);
        TokenInfo {
            is_valid: data.is_valid,
            app_id: data.app_id.as_ref().and_then(as_string),
            token_type: data.token_type,
            application: data.application,
            user_id: data.user_id.as_ref().and_then(as_string),
            scopes: data.scopes,
            expires_at: time(data.expires_at),
            data_access_expires_at: time(data.data_access_expires_at),
            issued_at: time(data.issued_at),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct MeBody {
    id: Value,
    name: Option<String>,
}

impl MeBody {
    pub(crate) fn into_me(self) -> Result<Me, String> {
        Ok(Me {
            id: as_string(&self.id).ok_or_else(|| "/me has no id".to_owned())?,
            name: self.name,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct PermissionBody {
    permission: String,
    status: String,
}

impl PermissionBody {
    pub(crate) fn into_permission(self) -> Permission {
        Permission {
            permission: self.permission,
            status: self.status,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct SessionStatusBody {
    session_id: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    num_received: Option<Value>,
    num_invalid_entries: Option<Value>,
    num_matched: Option<Value>,
    progress: Option<Value>,
    stage: Option<Value>,
}

impl SessionStatusBody {
    pub(crate) fn into_status(self) -> SessionStatus {
        let count = |value: Option<Value>| value.as_ref().and_then(as_u64);
        let time = |value: Option<Value>| value.as_ref().and_then(as_i64);
        SessionStatus {
            session_id: count(self.session_id),
            start_time: time(self.start_time),
            end_time: time(self.end_time),
            num_received: count(self.num_received),
            num_invalid_entries: count(self.num_invalid_entries),
            num_matched: count(self.num_matched),
            progress: count(self.progress),
            stage: self.stage.as_ref().and_then(as_string),
        }
    }
}

/// The `/users`, `DELETE /users` and `/usersreplace` answer (contract §2.4, §2.6).
#[derive(Deserialize)]
pub(crate) struct UsersResponseBody {
    audience_id: Option<Value>,
    session_id: Option<Value>,
    num_received: Option<Value>,
    num_invalid_entries: Option<Value>,
    invalid_entry_samples: Option<Value>,
}

impl UsersResponseBody {
    pub(crate) fn into_response(self, batch: &UsersBatch) -> Result<UsersResponse, String> {
        let num_received = self
            .num_received
            .as_ref()
            .and_then(as_u64)
            .ok_or_else(|| "num_received is missing or not a count".to_owned())?;
        let samples: Vec<(String, String)> = match self.invalid_entry_samples {
            // `{row_json: reason}` as recorded; PHP-style `[]` when empty.
            Some(Value::Object(samples)) => samples
                .into_iter()
                .map(|(key, reason)| (key, as_string(&reason).unwrap_or_default()))
                .collect(),
            Some(Value::Array(samples)) if samples.is_empty() => Vec::new(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err("invalid_entry_samples is not an object".to_owned()),
        };
        Ok(UsersResponse {
            audience_id: self
                .audience_id
                .as_ref()
                .and_then(as_string)
                .and_then(|id| AudienceId::parse(&id).ok()),
            session_id: self.session_id.as_ref().and_then(as_u64),
            num_received,
            num_invalid_entries: self
                .num_invalid_entries
                .as_ref()
                .and_then(as_u64)
                .unwrap_or(0),
            invalid_samples: batch.map_samples(samples),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Lenient scalars: Graph sends ids and counts as strings or numbers.

fn as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::CustomerFileSource;
    use crate::users::{MatchKey, SingleKey};
    use std::time::Duration;

    const JOHN_EMAIL: &str = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
    const MARY_EMAIL: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn fixture_f1_create_body() {
        let new_audience = NewAudience {
            description: Some("Created from Grouparoo".to_owned()),
            customer_file_source: CustomerFileSource::UserProvidedOnly,
        };
        let body =
            serde_json::to_value(CreateAudienceRequest::new("(test) Group 1", &new_audience))
                .unwrap();
        assert_eq!(
            body,
            json(
                r#"{"name":"(test) Group 1","subtype":"CUSTOM","description":"Created from Grouparoo","customer_file_source":"USER_PROVIDED_ONLY"}"#
            )
        );
        let created: CreatedBody =
            decode_response(200, br#"{"id":"23849182047670582"}"#, None, &[]).unwrap();
        assert_eq!(created.audience_id().unwrap().as_str(), "23849182047670582");
    }

    #[test]
    fn fixture_f2_multi_key_body_with_session() {
        let schema = UsersSchema::MultiKey(vec![
            MatchKey::Email,
            MatchKey::Phone,
            MatchKey::FirstName,
            MatchKey::LastName,
            MatchKey::Country,
        ]);
        let rows = vec![
            vec![
                JOHN_EMAIL.to_owned(),
                "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599".to_owned(),
                "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a".to_owned(),
                "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f".to_owned(),
                "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621".to_owned(),
            ],
            vec![
                MARY_EMAIL.to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        ];
        let (batch, rejections) = UsersBatch::build(schema, rows).unwrap();
        assert!(rejections.is_empty());
        let session = Session {
            session_id: 9778993,
            batch_seq: 1,
            last_batch_flag: true,
            estimated_num_total: Some(2),
        };
        let body = serde_json::to_value(UsersRequest::new(&batch, Some(&session))).unwrap();
        assert_eq!(
            body,
            json(
                r#"{"payload":{"schema":["EMAIL","PHONE","FN","LN","COUNTRY"],"is_raw":true,
                  "data":[["836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
                           "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599",
                           "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
                           "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
                           "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"],
                          ["f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79","","","",""]]},
                 "session":{"session_id":9778993,"batch_seq":1,"last_batch_flag":true,"estimated_num_total":2}}"#
            )
        );
        let answer = br#"{"audience_id":"23849182047670582","session_id":"9778993","num_received":2,"num_invalid_entries":0,"invalid_entry_samples":{}}"#;
        let response = decode_response::<UsersResponseBody>(200, answer, None, &[])
            .unwrap()
            .into_response(&batch)
            .unwrap();
        assert_eq!(
            response,
            UsersResponse {
                audience_id: Some(AudienceId::parse("23849182047670582").unwrap()),
                session_id: Some(9778993),
                num_received: 2,
                num_invalid_entries: 0,
                invalid_samples: vec![],
            }
        );
    }

    #[test]
    fn fixture_f5_single_key_replace_body() {
        let rows = vec![vec![JOHN_EMAIL.to_owned()], vec![MARY_EMAIL.to_owned()]];
        let (batch, _) =
            UsersBatch::build(UsersSchema::SingleKey(SingleKey::EmailSha256), rows).unwrap();
        let session = Session {
            session_id: 424242,
            batch_seq: 1,
            last_batch_flag: false,
            estimated_num_total: Some(15000),
        };
        let body = serde_json::to_value(UsersRequest::new(&batch, Some(&session))).unwrap();
        assert_eq!(
            body,
            json(
                r#"{"session":{"session_id":424242,"batch_seq":1,"last_batch_flag":false,"estimated_num_total":15000},
                 "payload":{"schema":"EMAIL_SHA256","data":[["836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"],
                                                            ["f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"]]}}"#
            )
        );
        // The replace answer carries account_id too; session_id is a string.
        let answer = br#"{"audience_id":"23849182047670582","account_id":"542676646349772","session_id":"424242","num_received":10000,"num_invalid_entries":0,"invalid_entry_samples":{}}"#;
        let response = decode_response::<UsersResponseBody>(200, answer, None, &[])
            .unwrap()
            .into_response(&batch)
            .unwrap();
        assert_eq!(
            (response.session_id, response.num_received),
            (Some(424242), 10000)
        );
    }

    #[test]
    fn a_session_is_left_out_when_not_given() {
        let (batch, _) = UsersBatch::build(
            UsersSchema::SingleKey(SingleKey::ExternId),
            vec![vec!["crm-1".to_owned()]],
        )
        .unwrap();
        let body = serde_json::to_string(&UsersRequest::new(&batch, None)).unwrap();
        assert_eq!(
            body,
            r#"{"payload":{"schema":"EXTERN_ID","data":[["crm-1"]]}}"#
        );
    }

    #[test]
    fn session_id_is_read_as_a_string_or_a_number() {
        let (batch, _) = UsersBatch::build(
            UsersSchema::SingleKey(SingleKey::ExternId),
            vec![vec!["a".to_owned()]],
        )
        .unwrap();
        for answer in [
            r#"{"session_id":"4229955495815004260","num_received":1}"#,
            r#"{"session_id":4229955495815004260,"num_received":"1","invalid_entry_samples":[]}"#,
        ] {
            let response = decode_response::<UsersResponseBody>(200, answer.as_bytes(), None, &[])
                .unwrap()
                .into_response(&batch)
                .unwrap();
            assert_eq!(response.session_id, Some(4229955495815004260), "{answer}");
            assert_eq!(response.num_received, 1);
        }
    }

    #[test]
    fn fixture_f4_error_envelope_is_decoded() {
        let body = br#"{"error":{"message":"Permissions error","type":"OAuthException","code":200,"error_subcode":1870047,"is_transient":false,
 "error_user_title":"Audience Size too Low","error_user_msg":"You cannot remove users from this audience because it will result in a low audience size.","fbtrace_id":"AbvQD8UhfOHtz62_lTVTH1Y"}}"#;
        let error = decode_response::<SuccessBody>(400, body, None, &[]).unwrap_err();
        let GraphError::Api(api) = error else {
            panic!("expected an API error");
        };
        assert_eq!(
            *api,
            ApiError {
                http_status: 400,
                code: 200,
                subcode: Some(1870047),
                error_type: Some("OAuthException".to_owned()),
                message: "Permissions error".to_owned(),
                user_title: Some("Audience Size too Low".to_owned()),
                user_message: Some("You cannot remove users from this audience because it will result in a low audience size.".to_owned()),
                fbtrace_id: Some("AbvQD8UhfOHtz62_lTVTH1Y".to_owned()),
                is_transient: false,
                regain_access_after: None,
                ad_account: None,
            }
        );
    }

    #[test]
    fn fixture_f6_throttle_keeps_the_announced_wait_and_transient_flag() {
        let body = br#"{"error":{"message":"(#80003) There have been too many calls to this ad-account.","type":"OAuthException","code":80003,"error_subcode":2446079,"is_transient":true,"fbtrace_id":"x"}}"#;
        let error = decode_response::<SuccessBody>(400, body, Some(Duration::from_secs(300)), &[])
            .unwrap_err();
        let api = error.api().unwrap();
        assert_eq!(
            (api.code, api.subcode, api.is_transient),
            (80003, Some(2446079), true)
        );
        assert_eq!(api.regain_access_after, Some(Duration::from_secs(300)));
    }

    #[test]
    fn missing_permission_without_subcode_or_trace_is_decoded() {
        let body = br#"{"error":{"code":294,"message":"Missing permission. Please make sure you have ads_management permission","type":"GraphMethodException"}}"#;
        let api = decode_response::<SuccessBody>(400, body, None, &[])
            .unwrap_err()
            .api()
            .cloned()
            .unwrap();
        assert_eq!((api.code, api.subcode, api.fbtrace_id), (294, None, None));
    }

    #[test]
    fn bodies_that_are_not_graph_json_are_named() {
        let table: &[(u16, &[u8], BodyKind, &str)] = &[
            (
                502,
                b"<!DOCTYPE html><html><head><title>Error</title></head><body><p>Sorry, something went wrong.</p></body></html>",
                BodyKind::Html,
                "Error Sorry, something went wrong.",
            ),
            (500, b"<HTML><body>Oops</body></HTML>", BodyKind::Html, "Oops"),
            (500, b"", BodyKind::Empty, ""),
            (503, b"   \n", BodyKind::Empty, ""),
            (500, b"upstream connect error", BodyKind::NotJson, "upstream connect error"),
            (200, b"{\"id\":", BodyKind::NotJson, "{\"id\":"),
            (404, b"{\"message\":\"no\"}", BodyKind::JsonWithoutEnvelope, "{\"message\":\"no\"}"),
        ];
        for (http_status, body, kind, snippet) in table {
            let error = decode_response::<SuccessBody>(*http_status, body, None, &[]).unwrap_err();
            assert_eq!(
                error,
                GraphError::UnexpectedBody {
                    http_status: *http_status,
                    kind: *kind,
                    snippet: snippet.to_string(),
                },
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn secrets_and_hashes_are_scrubbed_from_server_text() {
        let body = format!(
            r#"{{"error":{{"message":"bad token EAAsecret in [\"{JOHN_EMAIL}\"]","code":100}}}}"#
        );
        let error =
            decode_response::<SuccessBody>(400, body.as_bytes(), None, &["EAAsecret"]).unwrap_err();
        let text = error.to_string();
        assert!(
            !text.contains("EAAsecret") && !text.contains(JOHN_EMAIL),
            "{text}"
        );
        let html = format!("<html>token EAAsecret {JOHN_EMAIL}</html>");
        let text = decode_response::<SuccessBody>(500, html.as_bytes(), None, &["EAAsecret"])
            .unwrap_err()
            .to_string();
        assert!(
            !text.contains("EAAsecret") && !text.contains(JOHN_EMAIL),
            "{text}"
        );
    }

    #[test]
    fn wrong_shapes_on_success_are_decode_errors() {
        let error = decode_response::<SuccessBody>(200, br#"{"ok":1}"#, None, &[]).unwrap_err();
        assert!(
            matches!(
                error,
                GraphError::Decode {
                    http_status: 200,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn fixture_f7_ad_account_is_read() {
        let body = br#"{"id":"act_542676646349772","account_id":"542676646349772","name":"Acme","account_status":1,"business":{"id":"1111","name":"Acme Inc"},"user_tasks":["DRAFT","ANALYZE","ADVERTISE","MANAGE"],"tos_accepted":{"custom_audience_tos":1,"web_custom_audience_tos":"1"}}"#;
        let account = decode_response::<AdAccountBody>(200, body, None, &[])
            .unwrap()
            .into_ad_account()
            .unwrap();
        assert_eq!(account.id.numeric(), "542676646349772");
        assert_eq!(account.account_status, Some(AccountStatus::Active));
        assert!(account.custom_audience_terms_accepted());
        assert!(account.can_manage());
        assert_eq!(
            account.tos_accepted.get("web_custom_audience_tos"),
            Some(&1)
        );
        assert_eq!(account.business.unwrap().id, "1111");
    }

    #[test]
    fn fixture_f8_debug_token_is_read() {
        let body = br#"{"data":{"app_id":"1234","type":"SYSTEM_USER","application":"My CDP","data_access_expires_at":0,"expires_at":0,"is_valid":true,"issued_at":1767225600,"scopes":["ads_management","ads_read"],"user_id":"9876"}}"#;
        let info = decode_response::<DebugTokenBody>(200, body, None, &[])
            .unwrap()
            .into_token_info();
        assert!(info.is_valid && info.has_scope("ads_management"));
        assert_eq!(info.expires_at, None);
        assert_eq!(info.issued_at, Some(1767225600));
        assert_eq!(info.user_id.as_deref(), Some("9876"));
    }

    #[test]
    fn flagged_audience_read_example_is_read() {
        let body = br#"{"account_id":"542676646349772","approximate_count_lower_bound":4900,"approximate_count_upper_bound":5100,
 "customer_file_source":"USER_PROVIDED_ONLY","description":"Audience Description",
 "fields_violating_integrity_policy":["<FIELD>"],"id":"23849182047670582","name":"Audience Name",
 "operation_status":{"code":471,"description":"blocked"},
 "retention_days":0,"subtype":"CUSTOM","time_created":1755083743,"time_updated":1755083943,"time_content_updated":1755083943}"#;
        let audience = decode_response::<AudienceBody>(200, body, None, &[])
            .unwrap()
            .into_audience()
            .unwrap();
        assert!(audience.is_flagged() && audience.is_customer_file());
        assert_eq!(audience.approximate_count_lower_bound, Some(4900));
        assert_eq!(audience.ad_account.unwrap().numeric(), "542676646349772");
        assert_eq!(audience.time_updated, Some(1755083943));
        let small =
            br#"{"id":"1","approximate_count_lower_bound":-1,"approximate_count_upper_bound":-1}"#;
        let audience = decode_response::<AudienceBody>(200, small, None, &[])
            .unwrap()
            .into_audience()
            .unwrap();
        assert_eq!(audience.approximate_count_lower_bound, None);
    }

    #[test]
    fn paging_has_a_next_cursor_only_when_next_is_present() {
        let more: PageBody<Value> = serde_json::from_str(
            r#"{"data":[{"id":"1"}],"paging":{"cursors":{"before":"a","after":"b"},"next":"https://x"}}"#,
        )
        .unwrap();
        assert_eq!(more.next_cursor(), Some("b"));
        let last: PageBody<Value> = serde_json::from_str(
            r#"{"data":[{"id":"1"}],"paging":{"cursors":{"before":"a","after":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(last.next_cursor(), None);
        let bare: PageBody<Value> = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert_eq!(bare.next_cursor(), None);
    }
}
