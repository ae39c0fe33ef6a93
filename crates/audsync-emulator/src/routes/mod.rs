//! The Meta surface: one catch-all `/{version}/{*path}` handler that parses parameters,
//! authenticates, injects faults and latency, dispatches by path and method (contract §12), and
//! adds `facebook-api-version`, `x-app-usage`, `x-business-use-case-usage` and `x-ad-account-usage`.

mod account;
mod audience;
mod users;

use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth::{self, Caller};
use crate::config::{AdAccountConfig, EmulatorConfig, TokenConfig};
use crate::errors::{ErrorCodes, MetaError};
use crate::params::Params;
use crate::scenarios::FaultKind;
use crate::server::ConnectionInfo;
use crate::state::{EmulatorState, LoggedRequest, World, unix_now};

/// Bodies up to 64 MiB are read (10,000 multi-key rows are about 10 MB of JSON).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A `slow-answer` fault holds its answer this long unless the scenario says otherwise: longer
/// than any sane client timeout.
const DEFAULT_SLOW_ANSWER: Duration = Duration::from_secs(30);

/// The HTML page of the `html-error` fault (contract §5.1: HTML error pages happen).
const HTML_ERROR_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\" id=\"facebook\"><head><title>Facebook | Error</title><meta charset=\"utf-8\"></head><body><div id=\"content\"><h1>Sorry, something went wrong.</h1><p>We're working on it and we'll get it fixed as soon as we can.</p></div></body></html>\n";

/// Builds the full router: the Meta surface plus `/_emulator/`.
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .merge(crate::control::routes())
        .route("/{version}/{*path}", any(graph))
        .fallback(unknown_path)
        .with_state(state)
}

async fn unknown_path(request: Request) -> Response {
    MetaError::unknown_path(request.uri().path()).into_response()
}

/// Everything a Meta handler needs besides the world.
pub(crate) struct Ctx<'a> {
    pub config: &'a EmulatorConfig,
    pub method: Method,
    pub params: Params,
    pub caller: Caller,
    pub now: Instant,
    pub now_unix: u64,
    /// `http://host/vNN.N`, for paging links.
    pub base: String,
    /// The token came as a parameter (then paging links carry it, as Meta's do).
    pub token_in_params: bool,
    /// A `replace-error` fault hits this request.
    pub replace_fault: bool,
    /// The numeric ad account the request concerns: adds `x-business-use-case-usage`.
    pub account: Option<String>,
    /// The request changed what the state file holds.
    pub mutated: bool,
}

impl Ctx<'_> {
    /// The user token, or 100/33 for app tokens (which cannot act on ad objects).
    pub fn user(&self, object_id: &str) -> Result<TokenConfig, MetaError> {
        self.caller
            .user()
            .cloned()
            .ok_or_else(|| MetaError::unsupported_request(self.method.as_str(), object_id))
    }

    /// 294 unless the token has `ads_management`.
    pub fn require_ads_management(&self, object_id: &str) -> Result<TokenConfig, MetaError> {
        let token = self.user(object_id)?;
        if auth::can_manage_ads(&token) {
            Ok(token)
        } else {
            Err(MetaError::missing_ads_management())
        }
    }

    /// Resolves `act_<id>`: it must exist and the token must have a role on it (a write role
    /// for writes), else 100/33. Returns the account as the active scenarios show it.
    pub fn account(
        &mut self,
        world: &World,
        token: &TokenConfig,
        act_id: &str,
        write: bool,
    ) -> Result<AdAccountConfig, MetaError> {
        let unsupported = || MetaError::unsupported_request(self.method.as_str(), act_id);
        let account_id = act_id.strip_prefix("act_").ok_or_else(unsupported)?;
        let account = self
            .config
            .ad_accounts
            .iter()
            .find(|account| account.account_id == account_id)
            .ok_or_else(unsupported)?;
        self.account = Some(account.account_id.clone());
        let allowed = if write {
            auth::can_write_account(token, account_id)
        } else {
            auth::can_read_account(token, account_id)
        };
        if !allowed {
            return Err(unsupported());
        }
        Ok(world.effective_account(account))
    }

    /// Takes one call from the account's BUC budget: 80003/2446079 when exhausted.
    pub fn permit(&self, world: &mut World) -> Result<(), MetaError> {
        let Some(account_id) = &self.account else {
            return Ok(());
        };
        if world.take_permit(self.config, account_id, self.now) {
            Ok(())
        } else {
            Err(MetaError::custom_audience_throttled())
        }
    }
}

/// The catch-all Meta handler.
async fn graph(
    State(state): State<EmulatorState>,
    Path((version, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    let kill_switch = request
        .extensions()
        .get::<ConnectInfo<ConnectionInfo>>()
        .map(|info| info.0.clone());
    let (parts, body) = request.into_parts();
    let method_for_log = parts.method.to_string();
    let path_for_log = redacted_path(parts.uri.path(), parts.uri.query());
    if !is_version(&version) {
        let response = MetaError::unknown_path(parts.uri.path()).into_response();
        log(&state, &method_for_log, &path_for_log, &response, None);
        return response;
    }
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return finish(
                &state,
                &version,
                &method_for_log,
                &path_for_log,
                MetaError::invalid_parameter("The request body is too large").into_response(),
                None,
            );
        }
    };

    // Latency and the fault decision, under a short lock; sleeping happens outside it.
    let (latency, fault, slow_answer) = {
        let mut world = state.shared.lock();
        let latency = world.effects.latency.clone().map(|latency| {
            let low = latency.min_ms.min(latency.max_ms);
            Duration::from_millis(world.fault_rng.u64(low..=latency.max_ms.max(low)))
        });
        let fault = pick_fault(&mut world, parts.method.as_str(), parts.uri.path());
        let slow_answer = world
            .effects
            .faults
            .as_ref()
            .and_then(|faults| faults.slow_answer_ms)
            .map_or(DEFAULT_SLOW_ANSWER, Duration::from_millis);
        (latency, fault, slow_answer)
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    if let Some(response) = fault.and_then(|fault| fault_response(fault, kill_switch.as_ref())) {
        return finish(
            &state,
            &version,
            &method_for_log,
            &path_for_log,
            response,
            fault,
        );
    }

    let segments: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .collect();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let response = match Params::parse(parts.uri.query(), content_type, &body) {
        Err(error) => error.into_response(),
        Ok(params) => process(
            &state,
            &parts.method,
            &parts.headers,
            params,
            &segments,
            format!("http://{host}/{version}"),
            fault == Some(FaultKind::ReplaceError),
        ),
    };
    if fault == Some(FaultKind::SlowAnswer) {
        tokio::time::sleep(slow_answer).await;
    }
    finish(
        &state,
        &version,
        &method_for_log,
        &path_for_log,
        response,
        fault,
    )
}

/// Authenticates, dispatches and builds the response under one lock; persists afterwards.
fn process(
    state: &EmulatorState,
    method: &Method,
    headers: &HeaderMap,
    params: Params,
    segments: &[String],
    base: String,
    replace_fault: bool,
) -> Response {
    let config = &state.shared.config;
    let now = Instant::now();
    let now_unix = unix_now();
    let (response, snapshot) = {
        let mut world = state.shared.lock();
        let caller = match auth::authenticate(config, &world.effects, &params, headers, now_unix) {
            Ok(caller) => caller,
            Err(error) => return error.into_response(),
        };
        let method = match (
            method,
            params.text("method").map(|name| name.to_ascii_uppercase()),
        ) {
            (&Method::POST, Some(name)) if name == "DELETE" => Method::DELETE,
            (&Method::POST, Some(name)) if name == "GET" => Method::GET,
            _ => method.clone(),
        };
        let token_in_params = params.contains("access_token");
        let mut ctx = Ctx {
            config,
            method,
            params,
            caller,
            now,
            now_unix,
            base,
            token_in_params,
            replace_fault,
            account: None,
            mutated: false,
        };
        let result = dispatch(&mut ctx, &mut world, segments);
        let mut response = match result {
            Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
            Err(error) => error.into_response(),
        };
        if let Some(account_id) = &ctx.account {
            let (business, ad_account) = world.usage_headers(config, account_id, now);
            for (name, value) in [
                ("x-business-use-case-usage", business),
                ("x-ad-account-usage", ad_account),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        let snapshot = if ctx.mutated {
            world.generation += 1;
            config
                .state_file
                .as_ref()
                .map(|_| (world.generation, world.snapshot()))
        } else {
            None
        };
        (response, snapshot)
    };
    if let Some((generation, snapshot)) = snapshot {
        state.shared.persist(generation, &snapshot);
    }
    response
}

/// Routes by path shape and method.
fn dispatch(ctx: &mut Ctx, world: &mut World, segments: &[String]) -> Result<Value, MetaError> {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = ctx.method.clone();
    match (segments.as_slice(), &method) {
        (["debug_token"], &Method::GET) => account::debug_token(ctx, world),
        (["me"], &Method::GET) => account::me(ctx),
        (["me", "permissions"], &Method::GET) => account::permissions(ctx),
        ([act], &Method::GET) if act.starts_with("act_") => account::read_account(ctx, world, act),
        ([act, "customaudiences"], &Method::GET) if act.starts_with("act_") => {
            account::list_audiences(ctx, world, act)
        }
        ([act, "customaudiences"], &Method::POST) if act.starts_with("act_") => {
            account::create_audience(ctx, world, act)
        }
        ([act, "usersofanyaudience"], &Method::DELETE) if act.starts_with("act_") => {
            users::remove_from_any_audience(ctx, world, act)
        }
        ([id], &Method::GET) if is_numeric(id) => audience::read(ctx, world, id),
        ([id], &Method::DELETE) if is_numeric(id) => audience::delete(ctx, world, id),
        ([id, "sessions"], &Method::GET) if is_numeric(id) => audience::sessions(ctx, world, id),
        ([id, "users"], &Method::POST) if is_numeric(id) => users::add(ctx, world, id),
        ([id, "users"], &Method::DELETE) if is_numeric(id) => users::remove(ctx, world, id),
        ([id, "usersreplace"], &Method::POST) if is_numeric(id) => users::replace(ctx, world, id),
        ([id, edge], _)
            if is_numeric(id)
                && world.audiences.contains_key(*id)
                && !["users", "usersreplace", "sessions"].contains(edge) =>
        {
            Err(MetaError::nonexisting_field(edge, "CustomAudience"))
        }
        ([], _) => Err(MetaError::unknown_path("/")),
        ([object, ..], _) => Err(MetaError::unsupported_request(method.as_str(), object)),
    }
}

fn is_numeric(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit())
}

/// `v\d+\.\d+`.
fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| is_numeric(major) && is_numeric(minor))
}

/// The next fault: the script first (in order), then the random share.
fn pick_fault(world: &mut World, method: &str, path: &str) -> Option<FaultKind> {
    let is_replace = path.trim_end_matches('/').ends_with("/usersreplace");
    let applies = |fault: FaultKind| fault != FaultKind::ReplaceError || is_replace;
    let scripted_idx = world.script.iter().position(|scripted| {
        applies(scripted.fault)
            && scripted.times > 0
            && scripted
                .path_contains
                .as_deref()
                .is_none_or(|needle| path.contains(needle))
            && scripted
                .method
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
    });
    if let Some(idx) = scripted_idx {
        let scripted = &mut world.script[idx];
        scripted.times -= 1;
        let fault = scripted.fault;
        if scripted.times == 0 {
            world.script.remove(idx);
        }
        return Some(fault);
    }
    let faults = world.effects.faults.clone()?;
    let kinds: Vec<FaultKind> = faults
        .kinds
        .iter()
        .copied()
        .filter(|kind| applies(*kind))
        .collect();
    if kinds.is_empty() || world.fault_rng.f64() >= faults.share {
        return None;
    }
    Some(kinds[world.fault_rng.usize(..kinds.len())])
}

/// The response of a fault that answers before the request is applied; `None` for faults that
/// let the request through (slow answer, replace error).
fn fault_response(fault: FaultKind, connection: Option<&ConnectionInfo>) -> Option<Response> {
    let error = match fault {
        FaultKind::UnknownError => MetaError::unknown(),
        FaultKind::ServiceError => MetaError::service_unavailable(),
        FaultKind::AppRateLimit => MetaError::app_rate_limit(),
        FaultKind::UserRateLimit => MetaError::user_rate_limit(),
        FaultKind::CustomRateLimit => MetaError::custom_rate_limit(),
        FaultKind::PolicyBlock => MetaError::policy_block(),
        FaultKind::HtmlError => {
            let mut response = (StatusCode::BAD_GATEWAY, HTML_ERROR_PAGE).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return Some(response);
        }
        FaultKind::DroppedConnection => {
            return Some(match connection {
                Some(connection) => {
                    connection.drop_connection();
                    Response::new(Body::empty())
                }
                // Served without `crate::serve` (e.g. `router().oneshot`): no socket to drop.
                None => (StatusCode::BAD_GATEWAY, "dropped connection (emulated)").into_response(),
            });
        }
        FaultKind::SlowAnswer | FaultKind::ReplaceError => return None,
    };
    Some(error.into_response())
}

/// Adds the headers every Meta-surface response carries, then logs.
fn finish(
    state: &EmulatorState,
    version: &str,
    method: &str,
    path: &str,
    mut response: Response,
    fault: Option<FaultKind>,
) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(version) {
        headers.insert("facebook-api-version", value);
    }
    let app_usage = {
        let mut world = state.shared.lock();
        let now = Instant::now();
        let calls_per_hour = state.shared.config.app_calls_per_hour.max(1);
        world.app_bucket.count(now, calls_per_hour);
        crate::rate::app_usage(world.app_bucket.percent_used(now, calls_per_hour))
    };
    if let Ok(value) = HeaderValue::from_str(&app_usage) {
        headers.insert("x-app-usage", value);
    }
    log(state, method, path, &response, fault);
    response
}

fn log(
    state: &EmulatorState,
    method: &str,
    path: &str,
    response: &Response,
    fault: Option<FaultKind>,
) {
    let codes = response.extensions().get::<ErrorCodes>().copied();
    // The TOML name of the fault, e.g. `unknown-error`.
    let fault = fault.and_then(|fault| {
        serde_json::to_value(fault)
            .ok()?
            .as_str()
            .map(str::to_owned)
    });
    state.shared.lock().log_request(LoggedRequest {
        seq: 0,
        method: method.to_owned(),
        path: path.to_owned(),
        status: response.status().as_u16(),
        code: codes.map(|codes| codes.code),
        subcode: codes.and_then(|codes| codes.subcode),
        fault,
    });
}

/// The path with secrets in the query replaced and long values shortened.
fn redacted_path(path: &str, query: Option<&str>) -> String {
    let Some(query) = query else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _))
                if [
                    "access_token",
                    "appsecret_proof",
                    "input_token",
                    "client_secret",
                ]
                .contains(&key) =>
            {
                format!("{key}=REDACTED")
            }
            Some((key, value)) if value.len() > 200 => format!("{key}=<{} bytes>", value.len()),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_v_digits_dot_digits() {
        for good in ["v25.0", "v3.3", "v100.12"] {
            assert!(is_version(good), "{good}");
        }
        for bad in ["25.0", "v25", "v25.", "v.0", "vX.0", "me"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn request_log_paths_never_hold_tokens() {
        let path = redacted_path(
            "/v25.0/1/users",
            Some("access_token=EAAsecret&appsecret_proof=abc&limit=5"),
        );
        assert_eq!(
            path,
            "/v25.0/1/users?access_token=REDACTED&appsecret_proof=REDACTED&limit=5"
        );
        let long = format!("payload={}", "x".repeat(300));
        assert_eq!(redacted_path("/p", Some(&long)), "/p?payload=<300 bytes>");
    }
}
