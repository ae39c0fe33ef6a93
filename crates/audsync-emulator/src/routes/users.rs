//! Membership writes: `/users` add and remove, the `/usersreplace` session state machine and
//! `act_{id}/usersofanyaudience`, checked in the order of contract §12.

use serde_json::{Value, json};

use super::Ctx;
use super::audience::find;
use crate::config::TokenConfig;
use crate::errors::{MetaError, ReplaceFailure};
use crate::payload::{self, Payload, RowOutcome};
use crate::state::{ActiveReplace, Audience, ReplaceOutcome, SessionRecord, World};

/// The `session` object of contract §2.7.
#[derive(Clone, Debug, PartialEq)]
struct Session {
    session_id: String,
    batch_seq: u64,
    last_batch_flag: bool,
}

/// Reads `session`; `required` for /usersreplace (CODEGEN marks it required there).
fn parse_session(ctx: &Ctx, required: bool) -> Result<Option<Session>, MetaError> {
    let Some(value) = ctx.params.object("session") else {
        return if required {
            Err(MetaError::missing_parameter("session"))
        } else {
            Ok(None)
        };
    };
    let object = value
        .as_object()
        .ok_or_else(|| MetaError::invalid_parameter("param session must be a JSON object"))?;
    let positive = |key: &str| -> Result<Option<u64>, MetaError> {
        let parsed = match object.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(number)) => number.as_u64(),
            Some(Value::String(text)) => text.parse::<u64>().ok(),
            Some(_) => None,
        };
        parsed.filter(|value| *value > 0).map(Some).ok_or_else(|| {
            MetaError::invalid_parameter(format!("param session[{key}] must be a positive integer"))
        })
    };
    let session_id = positive("session_id")?
        .ok_or_else(|| MetaError::missing_parameter("session[session_id]"))?;
    let batch_seq = match positive("batch_seq")? {
        Some(batch_seq) => batch_seq,
        None if required => return Err(MetaError::missing_parameter("session[batch_seq]")),
        None => 1,
    };
    let last_batch_flag = match object.get("last_batch_flag") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) if text == "true" || text == "false" => text == "true",
        Some(_) => {
            return Err(MetaError::invalid_parameter(
                "param session[last_batch_flag] must be a boolean",
            ));
        }
    };
    Ok(Some(Session {
        session_id: session_id.to_string(),
        batch_seq,
        last_batch_flag,
    }))
}

/// Existence and ownership (100/33) → terms (200/1870034) → integrity flag (100/1713230) →
/// rate limit (80003) — contract §12.
fn upload_preconditions(
    ctx: &mut Ctx,
    world: &mut World,
    token: &TokenConfig,
    audience_id: &str,
) -> Result<(), MetaError> {
    let account_id = find(ctx, world, token, audience_id, true)?
        .account_id
        .clone();
    let terms_accepted = ctx
        .config
        .ad_accounts
        .iter()
        .find(|account| account.account_id == account_id)
        .is_some_and(|account| {
            world
                .effective_account(account)
                .custom_audience_tos_accepted
        });
    if !terms_accepted {
        return Err(MetaError::terms_not_accepted());
    }
    if world.effects.flagged {
        return Err(MetaError::audience_upload_blocked());
    }
    ctx.permit(world)
}

/// The data-source lock: an audience first filled multi-key refuses single-key uploads and the
/// other way round (contract §3, §10 F6).
fn check_data_source(audience: &Audience, payload: &Payload) -> Result<(), MetaError> {
    match &audience.data_source_sub_type {
        Some(locked) if locked != payload.style.sub_type() => Err(MetaError::data_source_mismatch(
            locked,
            payload.style.sub_type(),
        )),
        _ => Ok(()),
    }
}

/// Adds the request's rows to the session record and returns the session's cumulative
/// `num_received`.
fn record_session(
    audience: &mut Audience,
    session_id: &str,
    now_unix: u64,
    payload: &Payload,
    outcome: &RowOutcome,
    last_batch: bool,
) -> u64 {
    let record = audience
        .sessions
        .entry(session_id.to_owned())
        .or_insert_with(|| SessionRecord {
            session_id: session_id.to_owned(),
            start_time: now_unix,
            end_time: 0,
            num_received: 0,
            num_invalid_entries: 0,
            last_batch_seen: false,
            replace: None,
        });
    record.num_received += payload.rows.len() as u64;
    record.num_invalid_entries += outcome.n_invalid as u64;
    if last_batch {
        record.last_batch_seen = true;
        record.end_time = now_unix;
    }
    record.num_received
}

/// Records the session and builds the /users answer.
fn users_reply(
    ctx: &mut Ctx,
    audience: &mut Audience,
    session_id: &str,
    payload: &Payload,
    outcome: RowOutcome,
    last_batch: bool,
) -> Value {
    let num_received = record_session(
        audience,
        session_id,
        ctx.now_unix,
        payload,
        &outcome,
        last_batch,
    );
    ctx.mutated = true;
    users_response(&audience.id, session_id, num_received, outcome)
}

fn users_response(
    audience_id: &str,
    session_id: &str,
    num_received: u64,
    outcome: RowOutcome,
) -> Value {
    json!({
        "audience_id": audience_id,
        "session_id": session_id,
        "num_received": num_received,
        "num_invalid_entries": outcome.n_invalid,
        "invalid_entry_samples": outcome.samples,
    })
}

/// Shared front half of /users add and remove: preconditions, no running replace, payload
/// structure, the data-source lock (adds only), session, row checks.
fn users_request(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
    adding: bool,
) -> Result<(Payload, RowOutcome, String, bool), MetaError> {
    let token = ctx.require_ads_management(audience_id)?;
    upload_preconditions(ctx, world, &token, audience_id)?;
    if world.audiences[audience_id].replace.is_some() {
        return Err(MetaError::replace(ReplaceFailure::UpdateInProgress));
    }
    let payload = payload::parse(ctx.params.get("payload"))?;
    if adding {
        check_data_source(&world.audiences[audience_id], &payload)?;
    }
    let session = parse_session(ctx, false)?;
    let (session_id, last_batch) = match session {
        Some(session) => (session.session_id, session.last_batch_flag),
        None => (world.numeric_id("4", 19), false),
    };
    let outcome = payload::check_rows(&payload);
    Ok((payload, outcome, session_id, last_batch))
}

/// `POST /{audience_id}/users`: upserts the valid rows, each one member (contract §2.4, §12;
/// `members.rs`).
pub(super) fn add(ctx: &mut Ctx, world: &mut World, audience_id: &str) -> Result<Value, MetaError> {
    let (payload, outcome, session_id, last_batch) = users_request(ctx, world, audience_id, true)?;
    let delay = ctx.config.matching_delay;
    let audience = world
        .audiences
        .get_mut(audience_id)
        .ok_or_else(MetaError::unknown)?;
    if !outcome.valid.is_empty() {
        audience
            .data_source_sub_type
            .get_or_insert_with(|| payload.style.sub_type().to_owned());
        for member in outcome.valid.iter().cloned() {
            audience.members.upsert(member);
        }
        audience.content_changed(ctx.now, ctx.now_unix, delay);
    }
    Ok(users_reply(
        ctx,
        audience,
        &session_id,
        &payload,
        outcome,
        last_batch,
    ))
}

/// `DELETE /{audience_id}/users` (or POST with `method=DELETE`): removes every member sharing
/// an identifying value with a valid row (or, for a row without one, of the same attributes),
/// unless that leaves the audience too small (contract §2.5, §12; `members.rs`).
pub(super) fn remove(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
) -> Result<Value, MetaError> {
    let (payload, outcome, session_id, last_batch) = users_request(ctx, world, audience_id, false)?;
    let threshold = ctx.config.small_audience_threshold;
    let delay = ctx.config.matching_delay;
    let audience = world
        .audiences
        .get_mut(audience_id)
        .ok_or_else(MetaError::unknown)?;
    let matching = audience.members.matching(&outcome.valid);
    if !matching.is_empty() {
        let n_after = audience.members.len() - matching.len();
        if threshold > 0 && n_after < threshold {
            return Err(MetaError::audience_size_too_low());
        }
        audience.members.remove_ids(&matching);
        audience.content_changed(ctx.now, ctx.now_unix, delay);
    }
    Ok(users_reply(
        ctx,
        audience,
        &session_id,
        &payload,
        outcome,
        last_batch,
    ))
}

/// `POST /{audience_id}/usersreplace`: the replace session state machine of contract §2.6.
///
/// - No running replace: a known completed session id → 1870159; a timed-out one → 1870158;
///   `batch_seq != 1` → 1870147; an audience of `replace_max_audience_size` or more → 1870144;
///   otherwise batch 1 starts the session (`operation_status` 300 "Replace in progress").
/// - A running replace with another session id → 1870145; with the same id, any batch is
///   staged (duplicates allowed). A replace running longer than the timeout ends first, the
///   audience taking what was staged, and its later batches get 1870158.
/// - `last_batch_flag` swaps the staged members in and ends the session (back to Normal).
/// - A `replace-error` fault aborts the session: 1870148, the audience is unchanged.
pub(super) fn replace(
    ctx: &mut Ctx,
    world: &mut World,
    audience_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.require_ads_management(audience_id)?;
    upload_preconditions(ctx, world, &token, audience_id)?;
    let session =
        parse_session(ctx, true)?.ok_or_else(|| MetaError::missing_parameter("session"))?;
    let payload = payload::parse(ctx.params.get("payload"))?;
    let delay = ctx.config.matching_delay;
    let max_size = ctx.config.replace_max_audience_size;
    let audience = world
        .audiences
        .get_mut(audience_id)
        .ok_or_else(MetaError::unknown)?;
    check_data_source(audience, &payload)?;
    match &audience.replace {
        Some(active) if active.session_id != session.session_id => {
            return Err(MetaError::replace(ReplaceFailure::UpdateInProgress));
        }
        Some(_) => {}
        None => {
            match audience
                .sessions
                .get(&session.session_id)
                .and_then(|record| record.replace)
            {
                Some(ReplaceOutcome::Completed) => {
                    return Err(MetaError::replace(ReplaceFailure::SessionComplete));
                }
                Some(ReplaceOutcome::TimedOut) => {
                    return Err(MetaError::replace(ReplaceFailure::SessionTimedOut));
                }
                _ => {}
            }
            if session.batch_seq != 1 {
                return Err(MetaError::replace(ReplaceFailure::InvalidBatch));
            }
            if audience.members.len() >= max_size {
                return Err(MetaError::replace(ReplaceFailure::SizeNotSupported));
            }
            audience.replace = Some(ActiveReplace {
                session_id: session.session_id.clone(),
                started_at: ctx.now,
                staged: Default::default(),
            });
            // A fresh record: a failed earlier attempt with the same id starts over.
            audience.sessions.insert(
                session.session_id.clone(),
                SessionRecord {
                    session_id: session.session_id.clone(),
                    start_time: ctx.now_unix,
                    end_time: 0,
                    num_received: 0,
                    num_invalid_entries: 0,
                    last_batch_seen: false,
                    replace: Some(ReplaceOutcome::InProgress),
                },
            );
        }
    }
    ctx.mutated = true;
    if ctx.replace_fault {
        audience.replace = None;
        if let Some(record) = audience.sessions.get_mut(&session.session_id) {
            record.replace = Some(ReplaceOutcome::Failed);
            record.end_time = ctx.now_unix;
        }
        return Err(MetaError::replace(ReplaceFailure::ListNotFullyUpdated));
    }
    let outcome = payload::check_rows(&payload);
    if !outcome.valid.is_empty() {
        audience
            .data_source_sub_type
            .get_or_insert_with(|| payload.style.sub_type().to_owned());
    }
    if let Some(active) = audience.replace.as_mut() {
        for member in outcome.valid.iter().cloned() {
            active.staged.upsert(member);
        }
    }
    let num_received = record_session(
        audience,
        &session.session_id,
        ctx.now_unix,
        &payload,
        &outcome,
        session.last_batch_flag,
    );
    if session.last_batch_flag
        && let Some(active) = audience.replace.take()
    {
        audience.members = active.staged;
        if let Some(record) = audience.sessions.get_mut(&session.session_id) {
            record.replace = Some(ReplaceOutcome::Completed);
        }
        audience.content_changed(ctx.now, ctx.now_unix, delay);
    }
    let mut body = users_response(audience_id, &session.session_id, num_received, outcome);
    body["account_id"] = json!(audience.account_id);
    Ok(body)
}

/// `DELETE /act_{id}/usersofanyaudience`: removes the members a `/users` removal would (those
/// sharing a value with a row) from every audience of the account, staged replace rows
/// included; the small-audience rule does not apply to this opt-out (README "Emulator rules").
pub(super) fn remove_from_any_audience(
    ctx: &mut Ctx,
    world: &mut World,
    act_id: &str,
) -> Result<Value, MetaError> {
    let token = ctx.require_ads_management(act_id)?;
    let account = ctx.account(world, &token, act_id, true)?;
    if !account.custom_audience_tos_accepted {
        return Err(MetaError::terms_not_accepted());
    }
    ctx.permit(world)?;
    let payload = payload::parse(ctx.params.get("payload"))?;
    let outcome = payload::check_rows(&payload);
    let delay = ctx.config.matching_delay;
    for audience in world
        .audiences
        .values_mut()
        .filter(|audience| audience.account_id == account.account_id)
    {
        let matching = audience.members.matching(&outcome.valid);
        if !matching.is_empty() {
            audience.members.remove_ids(&matching);
            audience.content_changed(ctx.now, ctx.now_unix, delay);
        }
        if let Some(active) = audience.replace.as_mut() {
            let staged = active.staged.matching(&outcome.valid);
            active.staged.remove_ids(&staged);
        }
    }
    ctx.mutated = true;
    Ok(json!({"success": true}))
}
