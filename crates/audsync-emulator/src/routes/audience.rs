//! One audience: read with `fields=`, delete, and its `/sessions` edge (contract §2.2, §2.8, §2.9).

use serde_json::{Map, Value, json};

use super::Ctx;
use crate::config::TokenConfig;
use crate::errors::MetaError;
use crate::state::{Audience, ReplaceOutcome, World};

/// CustomAudience fields the emulator knows but never fills: asked for, they are left out, as
/// Meta leaves out empty fields (contract §2.2).
const EMPTY_FIELDS: &[&str] = &[
    "lookalike_audience_ids",
    "lookalike_spec",
    "fields_violating_integrity_policy",
    "delete_time",
    "permission_for_actions",
    "sharing_status",
    "owner_business",
    "rule",
    "rule_aggregation",
    "opt_out_link",
    "pixel_id",
    "external_event_source",
    "household_audience",
    "included_custom_audiences",
    "excluded_custom_audiences",
    "is_household",
    "page_deletion_marked_delete_time",
];

/// Checks that the audience exists and the token has a role (a write role for writes) on its
/// ad account: 100/33 otherwise (contract §12). Also ends a timed-out replace first.
pub(super) fn find<'world>(
    ctx: &mut Ctx,
    world: &'world mut World,
    token: &TokenConfig,
    audience_id: &str,
    write: bool,
) -> Result<&'world mut Audience, MetaError> {
    let account_id = world
        .audiences
        .get(audience_id)
        .map(|audience| audience.account_id.clone())
        .ok_or_else(|| MetaError::unsupported_request(ctx.method.as_str(), audience_id))?;
    ctx.account(world, token, &format!("act_{account_id}"), write)
        .map_err(|_| MetaError::unsupported_request(ctx.method.as_str(), audience_id))?;
    let audience = world
        .audiences
        .get_mut(audience_id)
        .ok_or_else(|| MetaError::unsupported_request(ctx.method.as_str(), audience_id))?;
    if audience.expire_replace(
        ctx.now,
        ctx.now_unix,
        ctx.config.replace_session_timeout,
        ctx.config.matching_delay,
    ) {
        ctx.mutated = true;
    }
    Ok(audience)
}

/// The audience as JSON with the asked-for fields (`id` always).
pub(super) fn audience_json(
    ctx: &Ctx,
    world: &World,
    audience: &Audience,
    fields: &[String],
) -> Result<Value, MetaError> {
    let visible = audience.visible_count(ctx.now, ctx.config.matching_delay);
    let (lower, upper) = if visible < ctx.config.approximate_count_threshold {
        (-1, -1)
    } else {
        let visible = visible as i64;
        // ±5 %, rounded to the nearest integer (contract §12 rule).
        ((visible * 95 + 50) / 100, (visible * 105 + 50) / 100)
    };
    let mut body = Map::new();
    body.insert("id".into(), json!(audience.id));
    for field in fields {
        let value = match field.as_str() {
            "id" => continue,
            "account_id" => json!(audience.account_id),
            "name" => json!(audience.name),
            "description" => json!(audience.description),
            "subtype" => json!(audience.subtype),
            "customer_file_source" => json!(audience.customer_file_source),
            "approximate_count_lower_bound" => json!(lower),
            "approximate_count_upper_bound" => json!(upper),
            "approximate_count" => json!(lower),
            "data_source" => match &audience.data_source_sub_type {
                Some(sub_type) => {
                    json!({"type": "FILE_IMPORTED", "sub_type": sub_type, "creation_params": "[]"})
                }
                None => json!({"type": "UNKNOWN", "sub_type": "ANYTHING", "creation_params": "[]"}),
            },
            "delivery_status" => {
                if visible >= ctx.config.small_audience_threshold && visible > 0 {
                    json!({"code": 200, "description": "This audience is ready for use."})
                } else {
                    json!({"code": 300, "description": "This audience is too small to be used for ads delivery."})
                }
            }
            "operation_status" => world.operation_status(audience),
            "time_created" => json!(audience.time_created),
            "time_updated" => json!(audience.time_updated),
            "time_content_updated" => json!(audience.time_content_updated),
            "retention_days" => json!(0),
            "is_value_based" => json!(audience.is_value_based),
            known if EMPTY_FIELDS.contains(&known) => continue,
            other => return Err(MetaError::nonexisting_field(other, "CustomAudience")),
        };
        body.insert(field.clone(), value);
    }
    Ok(Value::Object(body))
}

/// `GET /{audience_id}?fields=`.
pub(super) fn read(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.user(audience_id)?;
    find(ctx, world, &token, audience_id, false)?;
    ctx.permit(world)?;
    let fields = ctx.params.fields().unwrap_or_default();
    let audience = &world.audiences[audience_id];
    audience_json(ctx, world, audience, &fields)
}

/// `DELETE /{audience_id}` → `{"success":true}` (contract §2.9).
pub(super) fn delete(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.require_ads_management(audience_id)?;
    find(ctx, world, &token, audience_id, true)?;
    ctx.permit(world)?;
    world.audiences.remove(audience_id);
    ctx.mutated = true;
    Ok(json!({"success": true}))
}

/// `GET /{audience_id}/sessions[?session_id=]` (contract §2.8; every field a string, as in
/// CODEGEN `CustomAudienceSession`).
pub(super) fn sessions(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.user(audience_id)?;
    let audience = find(ctx, world, &token, audience_id, false)?;
    let wanted = ctx.params.text("session_id");
    let mut records: Vec<_> = audience
        .sessions
        .values()
        .filter(|record| {
            wanted
                .as_deref()
                .is_none_or(|wanted| wanted == record.session_id)
        })
        .cloned()
        .collect();
    ctx.permit(world)?;
    records.sort_by_key(|record| std::cmp::Reverse(record.start_time));
    let data: Vec<Value> = records
        .iter()
        .map(|record| {
            let stage = match record.replace {
                Some(ReplaceOutcome::Failed) => "failed",
                Some(ReplaceOutcome::Completed | ReplaceOutcome::TimedOut) => "finished",
                _ if record.last_batch_seen => "finished",
                _ => "uploading",
            };
            json!({
                "session_id": record.session_id,
                "start_time": record.start_time.to_string(),
                "end_time": record.end_time.to_string(),
                "num_received": record.num_received.to_string(),
                "num_invalid_entries": record.num_invalid_entries.to_string(),
                "num_matched": record.num_received.saturating_sub(record.num_invalid_entries).to_string(),
                "progress": if stage == "uploading" { "0" } else { "100" },
                "stage": stage,
            })
        })
        .collect();
    Ok(json!({ "data": data }))
}
