//! Scenarios: named TOML overlays (built in from `scenarios/*.toml`, or loaded by path) and the
//! effects they have when combined.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::TokenStatus;

/// A failure the emulator can inject into a Meta-surface request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Code 1 "An unknown error occurred", HTTP 500, `is_transient: true` (contract §5.1 rule).
    UnknownError,
    /// Code 2 "Service temporarily unavailable", HTTP 500, `is_transient: true`.
    ServiceError,
    /// Code 4, application request limit reached.
    AppRateLimit,
    /// Code 17, user request limit reached.
    UserRateLimit,
    /// Code 613, calls to this api have exceeded the rate limit.
    CustomRateLimit,
    /// Code 368, temporarily blocked for policy violations.
    PolicyBlock,
    /// The request is applied, then the answer is held back longer than any sane client timeout.
    SlowAnswer,
    /// The connection is closed without any response (the request is not applied).
    DroppedConnection,
    /// An HTML error page with HTTP 502 instead of JSON (the request is not applied).
    HtmlError,
    /// Only on `/usersreplace`: 2650/1870148, the replace session is aborted.
    ReplaceError,
}

impl FaultKind {
    /// Every kind, in documentation order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::UnknownError,
        FaultKind::ServiceError,
        FaultKind::AppRateLimit,
        FaultKind::UserRateLimit,
        FaultKind::CustomRateLimit,
        FaultKind::PolicyBlock,
        FaultKind::SlowAnswer,
        FaultKind::DroppedConnection,
        FaultKind::HtmlError,
        FaultKind::ReplaceError,
    ];
}

/// Overrides applied to every ad account while the scenario is active.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountOverrides {
    /// Custom Audience terms accepted or not.
    pub tos_accepted: Option<bool>,
    /// `account_status` to report.
    pub account_status: Option<u32>,
    /// `disable_reason` to report.
    pub disable_reason: Option<u32>,
    /// The tasks every token has on every account.
    pub user_tasks: Option<Vec<String>>,
}

/// Overrides applied to every token while the scenario is active.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenOverrides {
    /// Status every user/system-user token takes.
    pub status: Option<TokenStatus>,
    /// Permissions removed from every token (shown as `declined`).
    #[serde(default)]
    pub declined_scopes: Vec<String>,
}

/// Overrides applied to every audience while the scenario is active.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceOverrides {
    /// Every audience reads `operation_status` 471 and refuses uploads (100/1713230).
    pub flagged: Option<bool>,
}

/// Overrides of the rate budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateOverrides {
    /// A fixed quota in calls per hour per ad account.
    pub calls_per_hour: Option<u64>,
    /// How long an exhausted account stays blocked, in seconds (fractions allowed).
    pub regain_seconds: Option<f64>,
}

/// Random fault injection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// The share of Meta-surface requests that fail, 0.0..=1.0.
    pub share: f64,
    /// Seed of the fault generator (default: the config's seed).
    pub seed: Option<u64>,
    /// The kinds drawn from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// How long a `slow-answer` holds its answer, in milliseconds (default 30,000).
    pub slow_answer_ms: Option<u64>,
}

/// Added latency on every Meta-surface request, drawn uniformly from `min_ms..=max_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySettings {
    /// Least added latency in milliseconds.
    pub min_ms: u64,
    /// Most added latency in milliseconds.
    pub max_ms: u64,
}

/// A fault that hits the next `times` matching requests, in script order, before any random
/// fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    /// What happens.
    pub fault: FaultKind,
    /// How many requests it hits.
    #[serde(default = "one")]
    pub times: u32,
    /// Only requests whose path contains this string (e.g. `/users`).
    pub path_contains: Option<String>,
    /// Only requests with this HTTP method (`POST`, `DELETE`, `GET`).
    pub method: Option<String>,
}

fn one() -> u32 {
    1
}

/// A scenario: overlays on the configured world, active until cleared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (the file stem for files).
    #[serde(default)]
    pub name: String,
    /// What it does, one sentence.
    #[serde(default)]
    pub description: String,
    /// Built-in or sibling scenarios this one combines (applied before this one).
    #[serde(default)]
    pub include: Vec<String>,
    /// Ad-account overrides.
    #[serde(default)]
    pub accounts: AccountOverrides,
    /// Token overrides.
    #[serde(default)]
    pub tokens: TokenOverrides,
    /// Audience overrides.
    #[serde(default)]
    pub audiences: AudienceOverrides,
    /// Rate budget overrides.
    #[serde(default)]
    pub rate: RateOverrides,
    /// Random faults.
    pub faults: Option<FaultSettings>,
    /// Added latency.
    pub latency: Option<LatencySettings>,
    /// Scripted faults, consumed in order.
    #[serde(default)]
    pub script: Vec<ScriptedFault>,
}

/// Why a scenario could not be loaded; the caller fixes the name or the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in name nor a readable `.toml` path.
    #[error("unknown scenario `{name}`; built-in scenarios: {}", BUILT_IN.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is invalid.
    #[error("invalid scenario `{name}`: {message}")]
    Parse {
        /// The scenario name or path.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// Includes form a cycle or nest too deep.
    #[error("scenario `{name}` includes itself or nests deeper than {MAX_INCLUDE_DEPTH} levels")]
    IncludeCycle {
        /// The scenario name.
        name: String,
    },
}

/// Includes nest at most this deep (a guard against cycles).
const MAX_INCLUDE_DEPTH: usize = 8;

/// The built-in scenarios: name and TOML text, from `scenarios/*.toml`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "tos-not-accepted",
        include_str!("../scenarios/tos-not-accepted.toml"),
    ),
    (
        "expired-token",
        include_str!("../scenarios/expired-token.toml"),
    ),
    (
        "revoked-token",
        include_str!("../scenarios/revoked-token.toml"),
    ),
    (
        "no-ads-management",
        include_str!("../scenarios/no-ads-management.toml"),
    ),
    ("not-admin", include_str!("../scenarios/not-admin.toml")),
    (
        "disabled-account",
        include_str!("../scenarios/disabled-account.toml"),
    ),
    (
        "flagged-audience",
        include_str!("../scenarios/flagged-audience.toml"),
    ),
    ("throttled", include_str!("../scenarios/throttled.toml")),
    ("flaky", include_str!("../scenarios/flaky.toml")),
    ("slow", include_str!("../scenarios/slow.toml")),
    (
        "transient-burst",
        include_str!("../scenarios/transient-burst.toml"),
    ),
    (
        "flaky-and-throttled",
        include_str!("../scenarios/flaky-and-throttled.toml"),
    ),
];

/// The names of the built-in scenarios.
pub fn scenario_names() -> &'static [&'static str] {
    const NAMES: [&str; BUILT_IN.len()] = {
        let mut names = [""; BUILT_IN.len()];
        let mut idx = 0;
        while idx < BUILT_IN.len() {
            names[idx] = BUILT_IN[idx].0;
            idx += 1;
        }
        names
    };
    &NAMES
}

/// Loads a scenario by built-in name or by path, resolving includes; the returned list is in
/// application order (includes first).
pub fn load(name_or_path: &str) -> Result<Vec<Scenario>, ScenarioError> {
    let mut resolved = Vec::new();
    load_into(name_or_path, None, 0, &mut resolved)?;
    Ok(resolved)
}

/// Parses a scenario from TOML text (for `POST /_emulator/scenario` with inline TOML).
pub fn parse(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut scenario: Scenario = toml::from_str(text).map_err(|error| ScenarioError::Parse {
        name: name.to_owned(),
        message: error.message().to_owned(),
    })?;
    if scenario.name.is_empty() {
        scenario.name = name.to_owned();
    }
    Ok(scenario)
}

fn load_into(
    name_or_path: &str,
    directory: Option<&Path>,
    depth: usize,
    resolved: &mut Vec<Scenario>,
) -> Result<(), ScenarioError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(ScenarioError::IncludeCycle {
            name: name_or_path.to_owned(),
        });
    }
    let (scenario, own_directory) =
        if let Some((name, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            (parse(name, text)?, None)
        } else {
            let path = if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
                Path::new(name_or_path).to_path_buf()
            } else if let Some(directory) = directory {
                directory.join(format!("{name_or_path}.toml"))
            } else {
                return Err(ScenarioError::Unknown {
                    name: name_or_path.to_owned(),
                });
            };
            let text = std::fs::read_to_string(&path).map_err(|source| ScenarioError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let stem = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or(name_or_path);
            (parse(stem, &text)?, path.parent().map(Path::to_path_buf))
        };
    for include in &scenario.include {
        load_into(
            include,
            own_directory.as_deref().or(directory),
            depth + 1,
            resolved,
        )?;
    }
    resolved.push(scenario);
    Ok(())
}

/// The combined effect of the active scenarios, later ones overriding earlier ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Effects {
    pub tos_accepted: Option<bool>,
    pub account_status: Option<u32>,
    pub disable_reason: Option<u32>,
    pub user_tasks: Option<Vec<String>>,
    pub token_status: Option<TokenStatus>,
    pub declined_scopes: Vec<String>,
    pub flagged: bool,
    pub calls_per_hour: Option<u64>,
    pub regain_seconds: Option<f64>,
    pub faults: Option<FaultSettings>,
    pub latency: Option<LatencySettings>,
}

impl Effects {
    /// Folds the scenarios in order.
    pub fn combine(scenarios: &[Scenario]) -> Self {
        let mut effects = Effects::default();
        for scenario in scenarios {
            let accounts = &scenario.accounts;
            effects.tos_accepted = accounts.tos_accepted.or(effects.tos_accepted);
            effects.account_status = accounts.account_status.or(effects.account_status);
            effects.disable_reason = accounts.disable_reason.or(effects.disable_reason);
            if let Some(tasks) = &accounts.user_tasks {
                effects.user_tasks = Some(tasks.clone());
            }
            effects.token_status = scenario.tokens.status.or(effects.token_status);
            effects
                .declined_scopes
                .extend(scenario.tokens.declined_scopes.iter().cloned());
            effects.flagged = scenario.audiences.flagged.unwrap_or(effects.flagged);
            effects.calls_per_hour = scenario.rate.calls_per_hour.or(effects.calls_per_hour);
            effects.regain_seconds = scenario.rate.regain_seconds.or(effects.regain_seconds);
            if scenario.faults.is_some() {
                effects.faults = scenario.faults.clone();
            }
            if scenario.latency.is_some() {
                effects.latency = scenario.latency.clone();
            }
        }
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses_and_is_documented() {
        for name in scenario_names() {
            let scenarios = load(name).unwrap_or_else(|error| panic!("{name}: {error}"));
            let own = scenarios.last().expect("at least the scenario itself");
            assert_eq!(own.name, *name);
            assert!(!own.description.is_empty(), "{name} has no description");
        }
    }

    #[test]
    fn combination_file_applies_its_includes_first() {
        let scenarios = load("flaky-and-throttled").expect("built in");
        let names: Vec<&str> = scenarios
            .iter()
            .map(|scenario| scenario.name.as_str())
            .collect();
        assert_eq!(names, ["flaky", "throttled", "flaky-and-throttled"]);
        let effects = Effects::combine(&scenarios);
        assert!(effects.faults.is_some());
        assert!(effects.calls_per_hour.is_some());
    }

    #[test]
    fn unknown_name_lists_the_built_in_ones() {
        let error = load("no-such-scenario").expect_err("unknown");
        assert!(error.to_string().contains("tos-not-accepted"), "{error}");
    }

    #[test]
    fn scenario_files_load_by_path_with_sibling_includes() {
        let directory = std::env::temp_dir().join(format!("audsync-scn-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        std::fs::write(
            directory.join("base.toml"),
            "description = \"base\"\n[rate]\ncalls_per_hour = 7\n",
        )
        .expect("write");
        std::fs::write(
            directory.join("top.toml"),
            "description = \"top\"\ninclude = [\"base\", \"slow\"]\n",
        )
        .expect("write");
        let scenarios = load(directory.join("top.toml").to_str().expect("utf-8")).expect("loads");
        let names: Vec<&str> = scenarios
            .iter()
            .map(|scenario| scenario.name.as_str())
            .collect();
        assert_eq!(names, ["base", "slow", "top"]);
        assert_eq!(Effects::combine(&scenarios).calls_per_hour, Some(7));
        std::fs::remove_dir_all(&directory).expect("clean up");
    }

    #[test]
    fn unknown_keys_in_a_scenario_are_refused() {
        let error = parse("typo", "descripton = \"x\"").expect_err("typo");
        assert!(matches!(error, ScenarioError::Parse { .. }));
    }
}
