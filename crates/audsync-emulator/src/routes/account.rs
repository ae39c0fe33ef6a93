//! Token and ad-account endpoints: `debug_token`, `/me`, `/me/permissions`, `act_{id}`, and the
//! audience list and create edge `act_{id}/customaudiences` (contract §2.1, §2.3, §8).

use serde_json::{Map, Value, json};

use super::Ctx;
use super::audience::audience_json;
use crate::auth::{self, Caller};
use crate::config::{TokenConfig, TokenStatus};
use crate::errors::MetaError;
use crate::state::{Audience, World};

/// `limit` of the audience list when none is given (Graph API default page size).
const DEFAULT_PAGE_SIZE: usize = 25;

/// The largest `limit` honoured (Meta documents no maximum; contract §2.3).
const MAX_PAGE_SIZE: usize = 1_000;

/// `subtype` values (contract §2.1, CODEGEN enum_types).
const SUBTYPES: &[&str] = &[
    "APP",
    "BAG_OF_ACCOUNTS",
    "BIDDING",
    "CLAIM",
    "CUSTOM",
    "ENGAGEMENT",
    "EXCLUSION",
    "FOX",
    "LOOKALIKE",
    "MANAGED",
    "MEASUREMENT",
    "MESSENGER_SUBSCRIBER_LIST",
    "OFFLINE_CONVERSION",
    "PARTNER",
    "PRIMARY",
    "REGULATED_CATEGORIES_AUDIENCE",
    "STUDY_RULE_AUDIENCE",
    "VIDEO",
    "WEBSITE",
];

/// `customer_file_source` values (contract §2.1, G-CA).
const CUSTOMER_FILE_SOURCES: &[&str] = &[
    "USER_PROVIDED_ONLY",
    "PARTNER_PROVIDED_ONLY",
    "BOTH_USER_AND_PARTNER_PROVIDED",
];

/// `GET /debug_token?input_token=` (contract §8.1, §10 F8).
pub(super) fn debug_token(ctx: &mut Ctx, world: &World) -> Result<Value, MetaError> {
    let input = ctx
        .params
        .text("input_token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| MetaError::missing_parameter("input_token"))?;
    if let Some((app_id, secret)) = input.split_once('|')
        && let Some(app) = ctx
            .config
            .apps
            .iter()
            .find(|app| app.app_id == app_id && app.secret.as_deref() == Some(secret))
    {
        return Ok(
            json!({"data": {"app_id": app.app_id, "type": "APP", "application": app.name, "is_valid": true, "scopes": []}}),
        );
    }
    let Some(configured) = ctx.config.tokens.iter().find(|token| token.token == input) else {
        return Ok(json!({"data": {
            "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
            "is_valid": false,
            "scopes": [],
        }}));
    };
    let token = auth::effective_token(configured, &world.effects);
    let application = ctx
        .config
        .apps
        .iter()
        .find(|app| app.app_id == token.app_id)
        .map_or("", |app| app.name.as_str());
    let target_ids: Vec<&str> = ctx
        .config
        .ad_accounts
        .iter()
        .filter(|account| auth::can_read_account(&token, &account.account_id))
        .map(|account| account.account_id.as_str())
        .collect();
    let granular: Vec<Value> = token
        .scopes
        .iter()
        .filter(|scope| scope.starts_with("ads_"))
        .map(|scope| json!({"scope": scope, "target_ids": target_ids}))
        .collect();
    let mut data = json!({
        "app_id": token.app_id,
        "type": token.token_type,
        "application": application,
        "data_access_expires_at": 0,
        "expires_at": token.expires_at,
        "is_valid": token.status == TokenStatus::Valid,
        "issued_at": token.issued_at,
        "scopes": token.scopes,
        "granular_scopes": granular,
        "user_id": token.user_id,
    });
    let error = match token.status {
        TokenStatus::Valid => None,
        TokenStatus::Expired => {
            data["expires_at"] = json!(auth::expired_at(&token, ctx.now_unix));
            Some(MetaError::token_expired(
                auth::expired_at(&token, ctx.now_unix),
                ctx.now_unix,
            ))
        }
        TokenStatus::Revoked => Some(MetaError::token_revoked()),
    };
    if let Some(error) = error {
        data["error"] =
            json!({"code": error.code, "subcode": error.subcode, "message": error.message});
    }
    Ok(json!({ "data": data }))
}

/// `GET /me` (contract §8.1).
pub(super) fn me(ctx: &mut Ctx) -> Result<Value, MetaError> {
    let Caller::User(token) = &ctx.caller else {
        return Err(MetaError {
            message:
                "An active access token must be used to query information about the current user."
                    .to_owned(),
            ..MetaError::unknown_path("/me")
        });
    };
    let fields = ctx
        .params
        .fields()
        .unwrap_or_else(|| vec!["id".to_owned(), "name".to_owned()]);
    let mut body = Map::new();
    body.insert("id".into(), json!(token.user_id));
    for field in fields {
        match field.as_str() {
            "id" => {}
            "name" => {
                body.insert("name".into(), json!(token.user_name));
            }
            other => return Err(MetaError::nonexisting_field(other, "User")),
        }
    }
    Ok(Value::Object(body))
}

/// `GET /me/permissions` (contract §8.1).
pub(super) fn permissions(ctx: &mut Ctx) -> Result<Value, MetaError> {
    let token = ctx.user("me")?;
    let granted = token
        .scopes
        .iter()
        .map(|scope| json!({"permission": scope, "status": "granted"}));
    let declined = token
        .declined_scopes
        .iter()
        .map(|scope| json!({"permission": scope, "status": "declined"}));
    Ok(json!({"data": granted.chain(declined).collect::<Vec<_>>()}))
}

/// `GET /act_{id}?fields=` (contract §8.2, §10 F7).
pub(super) fn read_account(
    ctx: &mut Ctx,
    world: &mut World,
    act_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.user(act_id)?;
    let account = ctx.account(world, &token, act_id, false)?;
    ctx.permit(world)?;
    let fields = ctx.params.fields().unwrap_or_default();
    let mut body = Map::new();
    body.insert("id".into(), json!(account.act_id()));
    let tos = json!({
        "custom_audience_tos": u8::from(account.custom_audience_tos_accepted),
        "web_custom_audience_tos": u8::from(account.custom_audience_tos_accepted),
    });
    for field in fields {
        let value = match field.as_str() {
            "id" => continue,
            "account_id" => json!(account.account_id),
            "name" => json!(account.name),
            "account_status" => json!(account.account_status),
            "disable_reason" => json!(account.disable_reason),
            "currency" => json!(account.currency),
            "timezone_name" => json!("America/Los_Angeles"),
            "amount_spent" => json!("0"),
            "business" => match &account.business {
                Some((id, name)) => json!({"id": id, "name": name}),
                None => continue,
            },
            "user_tasks" => json!(token.tasks_on(&account.account_id)),
            "tos_accepted" | "user_tos_accepted" => tos.clone(),
            other => return Err(MetaError::nonexisting_field(other, "AdAccount")),
        };
        body.insert(field, value);
    }
    Ok(Value::Object(body))
}

/// `GET /act_{id}/customaudiences` with cursor paging (contract §2.3).
pub(super) fn list_audiences(
    ctx: &mut Ctx,
    world: &mut World,
    act_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.user(act_id)?;
    let account = ctx.account(world, &token, act_id, false)?;
    ctx.permit(world)?;
    let limit = match ctx.params.text("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| *limit > 0)
            .ok_or_else(|| MetaError::invalid_parameter("param limit must be a positive integer"))?
            .min(MAX_PAGE_SIZE),
    };
    let after = match ctx.params.text("after") {
        None => None,
        Some(cursor) => Some(
            decode_cursor(&cursor)
                .ok_or_else(|| MetaError::invalid_parameter("Invalid cursor: after"))?,
        ),
    };
    let fields = ctx.params.fields().unwrap_or_default();
    // Newest first; the cursor is the creation sequence, so deletions never shift pages.
    let mut audiences: Vec<&Audience> = world
        .audiences
        .values()
        .filter(|audience| audience.account_id == account.account_id)
        .filter(|audience| after.is_none_or(|after| audience.created_seq < after))
        .collect();
    audiences.sort_by_key(|audience| std::cmp::Reverse(audience.created_seq));
    let has_more = audiences.len() > limit;
    audiences.truncate(limit);
    let data = audiences
        .iter()
        .map(|audience| audience_json(ctx, world, audience, &fields))
        .collect::<Result<Vec<Value>, MetaError>>()?;
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (audiences.first(), audiences.last()) {
        let mut paging = json!({"cursors": {"before": encode_cursor(first.created_seq), "after": encode_cursor(last.created_seq)}});
        if has_more {
            paging["next"] = json!(next_link(
                ctx,
                act_id,
                limit,
                &encode_cursor(last.created_seq)
            ));
        }
        body["paging"] = paging;
    }
    Ok(body)
}

fn encode_cursor(created_seq: u64) -> String {
    const_hex::encode(format!("seq:{created_seq}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = const_hex::decode(cursor).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("seq:")?
        .parse()
        .ok()
}

/// The `next` link: same fields and limit, the new cursor, and the token only if the request
/// carried it as a parameter (as Meta's links do).
fn next_link(ctx: &Ctx, act_id: &str, limit: usize, after: &str) -> String {
    let mut query = Vec::new();
    if let Some(fields) = ctx.params.get("fields") {
        let fields = match fields {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        query.push(format!("fields={}", percent_encode(&fields)));
    }
    query.push(format!("limit={limit}"));
    query.push(format!("after={after}"));
    if ctx.token_in_params
        && let Some(token) = ctx.params.text("access_token")
    {
        query.push(format!("access_token={}", percent_encode(&token)));
    }
    format!("{}/{act_id}/customaudiences?{}", ctx.base, query.join("&"))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `POST /act_{id}/customaudiences` (contract §2.1, §10 F1).
pub(super) fn create_audience(
    ctx: &mut Ctx,
    world: &mut World,
    act_id: &str,
) -> Result<Value, MetaError> {
    let token: TokenConfig = ctx.require_ads_management(act_id)?;
    let account = ctx.account(world, &token, act_id, true)?;
    if !account.custom_audience_tos_accepted {
        return Err(MetaError::terms_not_accepted());
    }
    ctx.permit(world)?;
    let name = ctx
        .params
        .text("name")
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| MetaError::missing_parameter("name"))?;
    let subtype = ctx
        .params
        .text("subtype")
        .unwrap_or_else(|| "CUSTOM".to_owned());
    if !SUBTYPES.contains(&subtype.as_str()) {
        return Err(MetaError::invalid_parameter(format!(
            "Param subtype must be one of {{{}}}",
            SUBTYPES.join(", ")
        )));
    }
    if subtype != "CUSTOM" {
        return Err(MetaError::invalid_parameter(
            "The emulator serves customer-file audiences only: subtype must be CUSTOM",
        ));
    }
    let customer_file_source = ctx
        .params
        .text("customer_file_source")
        .ok_or_else(|| MetaError::missing_parameter("customer_file_source"))?;
    if !CUSTOMER_FILE_SOURCES.contains(&customer_file_source.as_str()) {
        return Err(MetaError::invalid_parameter(format!(
            "Param customer_file_source must be one of {{{}}}",
            CUSTOMER_FILE_SOURCES.join(", ")
        )));
    }
    let is_value_based = match ctx.params.get("is_value_based") {
        None => false,
        Some(_) => ctx.params.flag("is_value_based").ok_or_else(|| {
            MetaError::invalid_parameter("param is_value_based must be a boolean")
        })?,
    };
    let n_audiences = world
        .audiences
        .values()
        .filter(|audience| audience.account_id == account.account_id)
        .count();
    if n_audiences >= ctx.config.max_audiences_per_account {
        return Err(MetaError::create_failed(&format!(
            "This ad account has reached the limit of {} customer file custom audiences",
            ctx.config.max_audiences_per_account
        )));
    }
    let id = loop {
        let id = world.numeric_id("2385", 17);
        if !world.audiences.contains_key(&id) {
            break id;
        }
    };
    world.next_created_seq += 1;
    let audience = Audience {
        id: id.clone(),
        account_id: account.account_id.clone(),
        name,
        description: ctx.params.text("description").unwrap_or_default(),
        subtype,
        customer_file_source,
        is_value_based,
        time_created: ctx.now_unix,
        time_updated: ctx.now_unix,
        time_content_updated: ctx.now_unix,
        data_source_sub_type: None,
        members: Default::default(),
        sessions: Default::default(),
        replace: None,
        count_history: vec![(ctx.now, 0)],
        created_seq: world.next_created_seq,
    };
    world.audiences.insert(id.clone(), audience);
    ctx.mutated = true;
    Ok(json!({ "id": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&const_hex::encode("other:1")), None);
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(percent_encode("id,name a/b"), "id%2Cname%20a%2Fb");
    }
}
