//! Inspection and control under `/_emulator/` (outside Meta's surface): audiences, members,
//! the request log, reset, and switching scenarios at run time.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::scenarios::{self, Scenario};
use crate::state::EmulatorState;

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route("/_emulator/audiences", get(audiences))
        .route("/_emulator/audiences/{audience_id}/members", get(members))
        .route("/_emulator/requests", get(requests))
        .route("/_emulator/reset", post(reset))
        .route(
            "/_emulator/scenario",
            get(active_scenarios).post(set_scenario),
        )
}

fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `GET /_emulator/audiences`: id, name, account, member count (immediate, no matching delay).
async fn audiences(State(state): State<EmulatorState>) -> Json<Value> {
    let world = state.shared.lock();
    let list: Vec<Value> = world
        .audiences
        .values()
        .map(|audience| {
            json!({
                "id": audience.id,
                "name": audience.name,
                "account_id": format!("act_{}", audience.account_id),
                "member_count": audience.members.len(),
                "data_source": audience.data_source_sub_type,
                "operation_status": world.operation_status(audience),
                "replace_in_progress": audience.replace.as_ref().map(|active| json!({
                    "session_id": active.session_id,
                    "staged_count": active.staged.len(),
                })),
            })
        })
        .collect();
    Json(json!({ "data": list }))
}

/// `GET /_emulator/audiences/{id}/members`: the stored rows, each a key → value map.
async fn members(State(state): State<EmulatorState>, Path(audience_id): Path<String>) -> Response {
    match state.members(&audience_id) {
        Some(members) => {
            Json(json!({"audience_id": audience_id, "count": members.len(), "members": members}))
                .into_response()
        }
        None => control_error(StatusCode::NOT_FOUND, format!("no audience {audience_id}")),
    }
}

/// `GET /_emulator/requests`: the Meta-surface request log (tokens redacted).
async fn requests(State(state): State<EmulatorState>) -> Json<Value> {
    let world = state.shared.lock();
    Json(json!({ "data": world.requests.iter().collect::<Vec<_>>() }))
}

/// `POST /_emulator/reset`: forgets audiences, usage and the log; restores the configured
/// scenarios.
async fn reset(State(state): State<EmulatorState>) -> Json<Value> {
    let snapshot = {
        let mut world = state.shared.lock();
        world.reset(Instant::now());
        world.set_scenarios(
            state.shared.config.scenarios.clone(),
            state.shared.config.seed,
        );
        (world.generation, world.snapshot())
    };
    state.shared.persist(snapshot.0, &snapshot.1);
    Json(json!({"success": true}))
}

/// The body of `POST /_emulator/scenario`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioRequest {
    /// A built-in name or a path: added to the active scenarios.
    name: Option<String>,
    /// Inline TOML of a scenario: added to the active scenarios.
    toml: Option<String>,
    /// Remove every active scenario first.
    #[serde(default)]
    clear: bool,
}

async fn active_scenarios(State(state): State<EmulatorState>) -> Json<Value> {
    let world = state.shared.lock();
    Json(scenario_listing(&world.scenarios))
}

fn scenario_listing(active: &[Scenario]) -> Value {
    json!({
        "active": active.iter().map(|scenario| scenario.name.as_str()).collect::<Vec<_>>(),
        "available": scenarios::scenario_names(),
    })
}

/// `POST /_emulator/scenario` with `{"name": "..."}`, `{"toml": "..."}` or `{"clear": true}`
/// (combinable: clear first, then add).
async fn set_scenario(
    State(state): State<EmulatorState>,
    Json(request): Json<ScenarioRequest>,
) -> Response {
    let mut added = Vec::new();
    if let Some(name) = &request.name {
        match scenarios::load(name) {
            Ok(loaded) => added.extend(loaded),
            Err(error) => return control_error(StatusCode::BAD_REQUEST, error.to_string()),
        }
    }
    if let Some(text) = &request.toml {
        match scenarios::parse("inline", text) {
            Ok(scenario) => added.push(scenario),
            Err(error) => return control_error(StatusCode::BAD_REQUEST, error.to_string()),
        }
    }
    if added.is_empty() && !request.clear {
        return control_error(
            StatusCode::BAD_REQUEST,
            "give `name`, `toml` or `clear: true`",
        );
    }
    let mut world = state.shared.lock();
    let mut active = if request.clear {
        Vec::new()
    } else {
        world.scenarios.clone()
    };
    active.extend(added);
    world.set_scenarios(active, state.shared.config.seed);
    Json(scenario_listing(&world.scenarios)).into_response()
}
