//! `audsync.toml`: the only place user configuration strings are parsed and validated.
//!
//! Two types, after ripgrep's LowArgs → HiArgs: [`RawConfig`] is the file as written (serde,
//! unknown keys refused) and [`Config`] the validated, typed result. [`Config::from_raw`] checks
//! everything and returns every problem at once, each with its path
//! (`segment[1].mode: unknown mode "mirorr" (expected mirror, upsert or replace)`).
//!
//! Secrets: `access_token` and `app_secret` are `"${ENV_VAR}"` or `"encrypted:v1:…"` (written by
//! `audsync connector add`, decrypted here with the secret key, see [`crate::secrets`]); a
//! plain-text secret in the file is refused. URLs (`store`, a source's `database`) may contain
//! `${ENV_VAR}` anywhere, for passwords. A missing variable is a problem naming the variable;
//! no message ever contains a secret or a variable's value.
//!
//! Relative paths (a `sqlite://` store or database, a file source) are relative to the folder
//! of the config file, so `audsync -c /etc/audsync/audsync.toml` works from anywhere.

mod env;
mod raw;
mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use audsync_core::{CountryCode, DateOrder, EligibilityRule, Field, MatchKey, NameScript};
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::{self, SecretKey};
use crate::sources::FileFormat;

pub use crate::sync::SyncMode;
pub use audsync_graph::{AccessTier, CustomerFileSource};
pub use env::Environment;
pub use raw::{RawConfig, RawConnector, RawQuerySource, RawSegment, RawSource};
pub use schedule::{Cron, MIN_INTERVAL, Schedule};

/// The commented example `audsync init` writes (also `docs/config.example.toml`).
pub const EXAMPLE: &str = include_str!("../../../../docs/config.example.toml");

/// The config file name `audsync` looks for by default.
pub const DEFAULT_CONFIG_FILE: &str = "audsync.toml";

/// Meta's Graph API (contract §1).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";

/// The Graph API version audsync is written against: v25.0, released Feb 18 2026, expires
/// Feb 23 2027 (contract §1, "Versions"), the version Meta's Python SDK pins.
pub const DEFAULT_API_VERSION: &str = "v25.0";

/// What a segment's audience is called unless `audience_name` says otherwise (issue 4).
pub const AUDIENCE_NAME_PREFIX: &str = "CA_";

/// Longest connector or segment name. Our own limit, so `CA_<segment>` stays readable in Ads
/// Manager; Meta's own limit on audience names is unconfirmed (contract §9).
pub const MAX_NAME_CHARS: usize = 64;

/// Longest audience name we accept: our own cap while Meta's is unconfirmed (contract §9).
pub const MAX_AUDIENCE_NAME_CHARS: usize = 200;

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The state store URL (`sqlite://…` with an absolute path, or `postgres://…`).
    pub store: DatabaseUrl,
    pub connectors: Vec<Connector>,
    pub segments: Vec<Segment>,
}

/// A database URL that may carry a password: `Debug`/`Display` hide the password.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// The URL to connect with (may contain a password: never log it).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL without password and query, for messages.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "(unparsable URL)".to_owned(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

/// One `[[connector]]`: an ad account and the credentials to use it.
#[derive(Debug)]
pub struct Connector {
    pub name: String,
    pub ad_account_id: AdAccountId,
    pub access_token: SecretString,
    pub app_id: Option<String>,
    /// For `appsecret_proof` (contract §7).
    pub app_secret: Option<SecretString>,
    pub graph_url: url::Url,
    pub api_version: String,
    pub access_tier: AccessTier,
}

/// An ad account id, digits only; `act()` gives the `act_<digits>` form the Graph API paths use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdAccountId(String);

impl AdAccountId {
    pub fn digits(&self) -> &str {
        &self.0
    }

    pub fn act(&self) -> String {
        format!("act_{}", self.0)
    }
}

impl fmt::Display for AdAccountId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "act_{}", self.0)
    }
}

/// One `[[segment]]`: a source of users kept equal to one audience.
#[derive(Debug)]
pub struct Segment {
    pub name: String,
    /// The name of its connector (it exists).
    pub connector: String,
    pub source: Source,
    pub user_id_column: Option<String>,
    /// (column, field) pairs in column-name order; `None` maps columns automatically as
    /// `audsync hash` does.
    pub mapping: Option<Vec<(String, Field)>>,
    pub default_country: Option<CountryCode>,
    pub date_order: Option<DateOrder>,
    pub names: NameScript,
    pub consent_column: Option<String>,
    pub eligibility: EligibilityRule,
    pub mode: SyncMode,
    pub schedule: Option<Schedule>,
    pub audience_name: String,
    pub customer_file_source: CustomerFileSource,
    pub description: Option<String>,
    /// Hash EXTERN_ID too (Meta allows it; it must then always be hashed).
    pub hash_extern_id: bool,
}

impl Segment {
    /// The mapping as (column, key name) pairs, the shape `--map COLUMN=KEY` takes.
    pub fn mapping_pairs(&self) -> Vec<(String, String)> {
        self.mapping
            .iter()
            .flatten()
            .map(|(column, field)| (column.clone(), field.as_str().to_owned()))
            .collect()
    }
}

/// Where a segment's users come from.
#[derive(Debug)]
pub enum Source {
    /// A file or a glob of files, all of one format.
    Files {
        /// As written in the config.
        pattern: String,
        /// Resolved against the config file's folder.
        path: PathBuf,
        /// From the extension (a known one: see [`FileFormat::from_known_extension`]).
        format: FileFormat,
    },
    /// A query against SQLite or PostgreSQL.
    Query { sql: String, database: DatabaseUrl },
}

/// The access tier in the config: `limited` or `full`.
pub(crate) fn parse_access_tier(
    text: &str,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<AccessTier> {
    match text {
        "limited" => Some(AccessTier::Limited),
        "full" => Some(AccessTier::Full),
        other => {
            problems.push(format!(
                "{path}: unknown access tier {other:?} (expected limited or full)"
            ));
            None
        }
    }
}

/// Everything wrong with a config file, each problem as `path: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_ref().map_or_else(
            || "the configuration".to_owned(),
            |file| file.display().to_string(),
        );
        match self.problems.as_slice() {
            [only] => write!(formatter, "{file}: {only}"),
            problems => {
                write!(formatter, "{file} has {} problems:", problems.len())?;
                for problem in problems {
                    write!(formatter, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a config file, with the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, &Environment::from_process())
    }

    /// Reads and validates a config file, with the given environment.
    pub fn load_with(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            file: Some(path.to_owned()),
            problems: vec![format!("cannot read the file: {error}")],
        })?;
        let base_dir = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::parse(&text, base_dir, env).map_err(|error| ConfigError {
            file: Some(path.to_owned()),
            ..error
        })
    }

    /// Parses and validates config text; relative paths are resolved against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let config_error = |problems| ConfigError {
            file: None,
            problems,
        };
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|error| config_error(vec![format!("not valid TOML: {error}")]))?;
        let mut problems = remove_unknown_keys(&mut table);
        let raw = if problems.is_empty() {
            toml::from_str::<RawConfig>(text)
        } else {
            toml::Value::Table(table).try_into::<RawConfig>()
        };
        let raw = match raw {
            Ok(raw) => raw,
            Err(error) => {
                let line = error
                    .span()
                    .map(|span| format!("line {}: ", text[..span.start].lines().count().max(1)))
                    .unwrap_or_default();
                problems.push(format!("{line}{}", error.message().trim_end()));
                return Err(config_error(problems));
            }
        };
        match Config::from_raw(raw, base_dir, env) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(config_error(problems)),
            Err(error) => {
                problems.extend(error.problems);
                Err(config_error(problems))
            }
        }
    }

    /// Validates a raw config: every problem at once.
    pub fn from_raw(
        raw: RawConfig,
        base_dir: &Path,
        env: &Environment,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut secret_key = SecretKeyCache::default();

        let store_text = raw
            .store
            .unwrap_or_else(|| crate::store::DEFAULT_STORE_URL.to_owned());
        let store = check_database_url(&store_text, "store", base_dir, env, &mut problems);

        let mut connectors = Vec::new();
        let mut connector_names: HashMap<String, usize> = HashMap::new();
        for (connector_idx, raw_connector) in raw.connector.into_iter().enumerate() {
            let path = format!("connector[{connector_idx}]");
            if let Some(name) = &raw_connector.name
                && let Some(first_idx) = connector_names.insert(name.clone(), connector_idx)
            {
                problems.push(format!(
                    "{path}.name: {name:?} is already the name of connector[{first_idx}]"
                ));
            }
            if let Some(connector) =
                check_connector(raw_connector, &path, env, &mut secret_key, &mut problems)
            {
                connectors.push(connector);
            }
        }

        let mut segments = Vec::new();
        let mut segment_names: HashMap<String, usize> = HashMap::new();
        let mut audiences: BTreeMap<(String, String), String> = BTreeMap::new();
        let connector_list: Vec<&str> = connector_names.keys().map(String::as_str).collect();
        for (segment_idx, raw_segment) in raw.segment.into_iter().enumerate() {
            let path = format!("segment[{segment_idx}]");
            if let Some(name) = &raw_segment.name
                && let Some(first_idx) = segment_names.insert(name.clone(), segment_idx)
            {
                problems.push(format!(
                    "{path}.name: {name:?} is already the name of segment[{first_idx}]"
                ));
            }
            let Some(segment) = check_segment(
                raw_segment,
                &path,
                &connector_list,
                base_dir,
                env,
                &mut problems,
            ) else {
                continue;
            };
            // Two segments writing one audience would undo each other's changes.
            if let Some(connector) = connectors.iter().find(|c| c.name == segment.connector) {
                let key = (
                    connector.ad_account_id.digits().to_owned(),
                    segment.audience_name.clone(),
                );
                if let Some(other) = audiences.insert(key, segment.name.clone()) {
                    problems.push(format!(
                        "{path}.audience_name: {:?} is also the audience of segment {other:?} on \
                         ad account {}; give each segment its own audience",
                        segment.audience_name, connector.ad_account_id
                    ));
                }
            }
            segments.push(segment);
        }

        match store {
            Some(store) if problems.is_empty() => Ok(Config {
                store,
                connectors,
                segments,
            }),
            _ => Err(ConfigError {
                file: None,
                problems,
            }),
        }
    }

    pub fn connector(&self, name: &str) -> Option<&Connector> {
        self.connectors
            .iter()
            .find(|connector| connector.name == name)
    }

    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|segment| segment.name == name)
    }
}

/// `audsync init`: writes the commented example to `path`; refuses to overwrite a file.
pub fn write_example(path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| {
            anyhow::Error::new(error).context(format!("cannot create {}", path.display()))
        })?;
    file.write_all(EXAMPLE.as_bytes()).map_err(|error| {
        anyhow::Error::new(error).context(format!("cannot write {}", path.display()))
    })
}

/// Reports and removes every key the file's tables do not know (serde would stop at the first).
fn remove_unknown_keys(table: &mut toml::Table) -> Vec<String> {
    let mut problems = Vec::new();
    strip_table(table, "", raw::TOP_LEVEL_KEYS, &mut problems);
    for (list, known) in [
        ("connector", raw::CONNECTOR_KEYS),
        ("segment", raw::SEGMENT_KEYS),
    ] {
        let Some(toml::Value::Array(entries)) = table.get_mut(list) else {
            continue;
        };
        for (entry_idx, entry) in entries.iter_mut().enumerate() {
            let Some(entry) = entry.as_table_mut() else {
                continue;
            };
            let path = format!("{list}[{entry_idx}].");
            strip_table(entry, &path, known, &mut problems);
            if let Some(toml::Value::Table(source)) = entry.get_mut("source") {
                let path = format!("{path}source.");
                strip_table(source, &path, raw::QUERY_SOURCE_KEYS, &mut problems);
            }
        }
    }
    problems
}

fn strip_table(table: &mut toml::Table, path: &str, known: &[&str], problems: &mut Vec<String>) {
    let unknown: Vec<String> = table
        .keys()
        .filter(|key| !known.contains(&key.as_str()))
        .cloned()
        .collect();
    for key in unknown {
        table.remove(&key);
        let hint = closest(&key, known)
            .map(|close| format!("did you mean {close:?}? "))
            .unwrap_or_default();
        problems.push(format!(
            "{path}{key}: unknown key ({hint}known keys: {})",
            known.join(", ")
        ));
    }
}

/// The known key within edit distance 2 of a misspelt one.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (left_idx, left_char) in left.chars().enumerate() {
        let mut current = vec![left_idx + 1];
        for (right_idx, right_char) in right.iter().enumerate() {
            let substitution = previous[right_idx] + usize::from(left_char != *right_char);
            current.push(
                substitution
                    .min(previous[right_idx + 1] + 1)
                    .min(current[right_idx] + 1),
            );
        }
        previous = current;
    }
    previous[right.len()]
}

/// The secret key, looked up once and only if an encrypted value needs it.
#[derive(Default)]
struct SecretKeyCache {
    looked_up: Option<Result<Option<SecretKey>, String>>,
}

impl SecretKeyCache {
    fn get(&mut self, env: &Environment) -> &Result<Option<SecretKey>, String> {
        self.looked_up
            .get_or_insert_with(|| SecretKey::find(env).map_err(|error| error.to_string()))
    }
}

/// Records a problem and gives nothing.
fn fail<T>(problems: &mut Vec<String>, problem: String) -> Option<T> {
    problems.push(problem);
    None
}

/// The value of a required key, or a `path: missing` problem.
fn required<T>(value: Option<T>, path: &str, problems: &mut Vec<String>) -> Option<T> {
    if value.is_none() {
        problems.push(format!("{path}: missing"));
    }
    value
}

fn check_connector(
    raw: RawConnector,
    path: &str,
    env: &Environment,
    secret_key: &mut SecretKeyCache,
    problems: &mut Vec<String>,
) -> Option<Connector> {
    let name = required(raw.name, &format!("{path}.name"), problems)
        .inspect(|name| check_name(name, &format!("{path}.name"), problems));
    let ad_account_id = required(
        raw.ad_account_id,
        &format!("{path}.ad_account_id"),
        problems,
    )
    .and_then(|text| parse_ad_account_id(&text, &format!("{path}.ad_account_id"), problems))
    .map(AdAccountId);
    let access_token = match raw.access_token {
        Some(text) => resolve_secret(
            &text,
            &format!("{path}.access_token"),
            env,
            secret_key,
            problems,
        ),
        None => {
            problems.push(format!(
                "{path}.access_token: missing (write \"${{ENV_VAR}}\" or store it with \
                 `audsync connector add`)"
            ));
            None
        }
    };
    let app_secret_path = format!("{path}.app_secret");
    let app_secret = raw
        .app_secret
        .map(|text| resolve_secret(&text, &app_secret_path, env, secret_key, problems));
    if let Some(app_id) = &raw.app_id
        && (app_id.is_empty() || !app_id.bytes().all(|byte| byte.is_ascii_digit()))
    {
        problems.push(format!(
            "{path}.app_id: {app_id:?} is not an app id (digits)"
        ));
    }
    let graph_url = parse_graph_url(
        raw.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH_URL),
        &format!("{path}.graph_url"),
        problems,
    );
    let api_version = raw
        .api_version
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
    check_api_version(&api_version, &format!("{path}.api_version"), problems);
    let access_tier = match raw.access_tier {
        Some(text) => parse_access_tier(&text, &format!("{path}.access_tier"), problems),
        None => Some(AccessTier::default()),
    };
    Some(Connector {
        name: name?,
        ad_account_id: ad_account_id?,
        access_token: access_token?,
        app_id: raw.app_id,
        app_secret: match app_secret {
            Some(resolved) => Some(resolved?),
            None => None,
        },
        graph_url: graph_url?,
        api_version,
        access_tier: access_tier?,
    })
}

fn check_segment(
    raw: RawSegment,
    path: &str,
    connectors: &[&str],
    base_dir: &Path,
    env: &Environment,
    problems: &mut Vec<String>,
) -> Option<Segment> {
    let name = required(raw.name, &format!("{path}.name"), problems)
        .inspect(|name| check_name(name, &format!("{path}.name"), problems));
    let connector = match (raw.connector, connectors) {
        (Some(connector), _) if connectors.contains(&connector.as_str()) => Some(connector),
        (Some(connector), _) => {
            let mut known: Vec<&str> = connectors.to_vec();
            known.sort_unstable();
            problems.push(format!(
                "{path}.connector: no connector named {connector:?} (connectors: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
            None
        }
        // With a single connector, segments may leave it out.
        (None, [only]) => Some((*only).to_owned()),
        (None, _) => {
            problems.push(format!(
                "{path}.connector: missing (needed when there is not exactly one connector)"
            ));
            None
        }
    };
    let source = required(raw.source, &format!("{path}.source"), problems).and_then(|source| {
        check_source(source, &format!("{path}.source"), base_dir, env, problems)
    });
    let mapping = raw
        .mapping
        .map(|mapping| check_mapping(mapping, &format!("{path}.mapping"), problems));
    if let Some(Some(mapping)) = &mapping {
        let has_user_id = mapping
            .iter()
            .any(|(_, field)| *field == Field::Key(MatchKey::ExternId));
        if !has_user_id && raw.user_id_column.is_none() {
            problems.push(format!(
                "{path}: no user id: set user_id_column, or map a column to EXTERN_ID"
            ));
        }
        let consent_in_mapping = mapping.iter().find(|(_, field)| *field == Field::Consent);
        if let (Some((column, _)), Some(consent_column)) = (consent_in_mapping, &raw.consent_column)
            && column != consent_column
        {
            problems.push(format!(
                "{path}.consent_column: {consent_column:?}, but the mapping sends {column:?} to \
                 CONSENT; keep one"
            ));
        }
    }
    for (column, key) in [
        (&raw.user_id_column, "user_id_column"),
        (&raw.consent_column, "consent_column"),
    ] {
        if column
            .as_deref()
            .is_some_and(|column| column.trim().is_empty())
        {
            problems.push(format!("{path}.{key}: empty column name"));
        }
    }
    let default_country = raw.default_country.map(|text| {
        CountryCode::parse(&text).ok_or_else(|| {
            problems.push(format!(
                "{path}.default_country: unknown country {text:?} (expected an ISO 3166 code \
                 like \"FR\" or a country name)"
            ));
        })
    });
    let date_order = raw.date_order.map(|text| {
        DateOrder::parse(&text).ok_or_else(|| {
            problems.push(format!(
                "{path}.date_order: unknown date order {text:?} (expected dmy, mdy or ymd)"
            ));
        })
    });
    let names = match raw.names {
        Some(text) => NameScript::parse(&text).ok_or_else(|| {
            problems.push(format!(
                "{path}.names: unknown name script {text:?} (expected unicode or ascii)"
            ));
        }),
        None => Ok(NameScript::default()),
    };
    let eligibility = match raw.eligibility {
        Some(text) => EligibilityRule::parse(&text)
            .map_err(|error| problems.push(format!("{path}.eligibility: {error}"))),
        None => Ok(EligibilityRule::default()),
    };
    let mode = match raw.mode.as_deref() {
        None | Some("mirror") => Some(SyncMode::Mirror),
        Some("upsert") => Some(SyncMode::Upsert),
        Some("replace") => Some(SyncMode::Replace),
        Some(other) => fail(
            problems,
            format!("{path}.mode: unknown mode {other:?} (expected mirror, upsert or replace)"),
        ),
    };
    let schedule = raw.schedule.map(|text| {
        Schedule::parse(&text).map_err(|error| problems.push(format!("{path}.schedule: {error}")))
    });
    let audience_name = match (raw.audience_name, &name) {
        (Some(audience_name), _) => {
            check_audience_name(&audience_name, &format!("{path}.audience_name"), problems);
            Some(audience_name)
        }
        (None, Some(name)) => Some(format!("{AUDIENCE_NAME_PREFIX}{name}")),
        (None, None) => None,
    };
    let customer_file_source = match raw.customer_file_source.as_deref() {
        None | Some("USER_PROVIDED_ONLY") => Some(CustomerFileSource::UserProvidedOnly),
        Some("PARTNER_PROVIDED_ONLY") => Some(CustomerFileSource::PartnerProvidedOnly),
        Some("BOTH_USER_AND_PARTNER_PROVIDED") => {
            Some(CustomerFileSource::BothUserAndPartnerProvided)
        }
        Some(other) => fail(
            problems,
            format!(
                "{path}.customer_file_source: unknown value {other:?} (expected \
                 USER_PROVIDED_ONLY, PARTNER_PROVIDED_ONLY or BOTH_USER_AND_PARTNER_PROVIDED)"
            ),
        ),
    };
    let mapping = match mapping {
        Some(Some(mapping)) => Some(mapping),
        Some(None) => return None,
        None => None,
    };
    Some(Segment {
        name: name?,
        connector: connector?,
        source: source?,
        user_id_column: raw.user_id_column,
        mapping,
        default_country: default_country.transpose().ok()?,
        date_order: date_order.transpose().ok()?,
        names: names.ok()?,
        consent_column: raw.consent_column,
        eligibility: eligibility.ok()?,
        mode: mode?,
        schedule: schedule.transpose().ok()?,
        audience_name: audience_name?,
        customer_file_source: customer_file_source?,
        description: raw.description,
        hash_extern_id: raw.hash_extern_id.unwrap_or(false),
    })
}

fn check_source(
    raw: RawSource,
    path: &str,
    base_dir: &Path,
    env: &Environment,
    problems: &mut Vec<String>,
) -> Option<Source> {
    match raw {
        RawSource::Path(pattern) => {
            if pattern.trim().is_empty() {
                problems.push(format!("{path}: empty path"));
                return None;
            }
            let Some(format) = FileFormat::from_known_extension(Path::new(&pattern)) else {
                let extension = Path::new(&pattern)
                    .extension()
                    .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                problems.push(format!(
                    "{path}: cannot tell the format of {pattern:?} from its extension \
                     {extension:?} (expected .csv, .tsv, .txt, .jsonl, .ndjson or .parquet)"
                ));
                return None;
            };
            Some(Source::Files {
                path: base_dir.join(&pattern),
                pattern,
                format,
            })
        }
        RawSource::Query(query) => {
            let sql = required(query.sql, &format!("{path}.sql"), problems).and_then(|sql| {
                if sql.trim().is_empty() {
                    fail(problems, format!("{path}.sql: empty query"))
                } else {
                    Some(sql)
                }
            });
            let database = match query.database {
                Some(database) => check_database_url(
                    &database,
                    &format!("{path}.database"),
                    base_dir,
                    env,
                    problems,
                ),
                None => {
                    problems.push(format!(
                        "{path}.database: missing (a sql source needs \"postgres://…\" or \
                         \"sqlite://…\")"
                    ));
                    None
                }
            };
            Some(Source::Query {
                sql: sql?,
                database: database?,
            })
        }
    }
}

fn check_mapping(
    mapping: BTreeMap<String, String>,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<(String, Field)>> {
    let n_problems = problems.len();
    let mut fields = Vec::with_capacity(mapping.len());
    let mut columns_of: HashMap<Field, &str> = HashMap::new();
    for (column, target) in &mapping {
        if column.trim().is_empty() {
            problems.push(format!("{path}: empty column name"));
            continue;
        }
        let Some(field) = Field::parse(target) else {
            let known: Vec<&str> = MatchKey::ALL.iter().map(|key| key.as_str()).collect();
            problems.push(format!(
                "{path}.{column}: unknown key {target:?} (expected {}, DOB or CONSENT)",
                known.join(", ")
            ));
            continue;
        };
        if let Some(first) = columns_of.insert(field, column) {
            problems.push(format!(
                "{path}.{column}: {} is already fed by column {first:?}",
                field.as_str()
            ));
        }
        fields.push((column.clone(), field));
    }
    if mapping.is_empty() {
        problems.push(format!(
            "{path}: empty (leave the key out to map columns automatically)"
        ));
    }
    (problems.len() == n_problems).then_some(fields)
}

fn check_audience_name(audience_name: &str, path: &str, problems: &mut Vec<String>) {
    let n_chars = audience_name.chars().count();
    if audience_name.trim().is_empty() {
        problems.push(format!("{path}: empty"));
    } else if n_chars > MAX_AUDIENCE_NAME_CHARS {
        problems.push(format!(
            "{path}: {n_chars} characters, more than the {MAX_AUDIENCE_NAME_CHARS} allowed"
        ));
    } else if audience_name.chars().any(char::is_control) {
        problems.push(format!("{path}: contains a control character"));
    }
}

/// Connector and segment names: 1 to [`MAX_NAME_CHARS`] of `A-Z a-z 0-9 _ - .`, so that
/// `CA_<name>` is a clean audience name and names work as CLI arguments.
pub(crate) fn check_name(name: &str, path: &str, problems: &mut Vec<String>) {
    let allowed = |character: char| character.is_ascii_alphanumeric() || "_-.".contains(character);
    if name.is_empty() {
        problems.push(format!("{path}: empty"));
    } else if name.chars().count() > MAX_NAME_CHARS {
        problems.push(format!(
            "{path}: {name:?} is longer than {MAX_NAME_CHARS} characters"
        ));
    } else if !name.chars().all(allowed) {
        problems.push(format!(
            "{path}: {name:?} may only hold letters, digits, '_', '-' and '.'"
        ));
    }
}

/// `act_1234` or `1234` → `1234`.
pub(crate) fn parse_ad_account_id(
    text: &str,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let digits = text.trim().strip_prefix("act_").unwrap_or(text.trim());
    if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        Some(digits.to_owned())
    } else {
        problems.push(format!(
            "{path}: {text:?} is not an ad account id (digits, with or without act_, like \
             \"act_1234567890\")"
        ));
        None
    }
}

/// `v<major>.<minor>` (contract §1).
pub(crate) fn check_api_version(text: &str, path: &str, problems: &mut Vec<String>) {
    let valid = text
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor].iter().all(|part| {
                !part.is_empty()
                    && part.len() <= 3
                    && part.bytes().all(|byte| byte.is_ascii_digit())
            })
        });
    if !valid {
        problems.push(format!(
            "{path}: {text:?} is not a Graph API version (like \"{DEFAULT_API_VERSION}\")"
        ));
    }
}

/// An http(s) base URL without query or fragment.
pub(crate) fn parse_graph_url(
    text: &str,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host().is_some()
                && parsed.query().is_none()
                && parsed.fragment().is_none() =>
        {
            Some(parsed)
        }
        Ok(_) => {
            problems.push(format!(
                "{path}: {text:?} must be an http:// or https:// base URL without query \
                 (like \"{DEFAULT_GRAPH_URL}\")"
            ));
            None
        }
        Err(error) => {
            problems.push(format!("{path}: {text:?} is not a URL ({error})"));
            None
        }
    }
}

/// A `${VAR}` or `encrypted:v1:…` secret; a plain value is refused.
fn resolve_secret(
    text: &str,
    path: &str,
    env: &Environment,
    secret_key: &mut SecretKeyCache,
    problems: &mut Vec<String>,
) -> Option<SecretString> {
    if let Some(name) = text
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    {
        if !is_variable_name(name) {
            problems.push(format!("{path}: \"${{{name}}}\" is not a variable name"));
            return None;
        }
        return match env.var(name) {
            Some(value) if !value.is_empty() => Some(SecretString::from(value)),
            Some(_) => {
                problems.push(format!("{path}: environment variable {name} is empty"));
                None
            }
            None => {
                problems.push(format!("{path}: environment variable {name} is not set"));
                None
            }
        };
    }
    if secrets::is_encrypted(text) {
        return match secret_key.get(env) {
            Ok(Some(key)) => key
                .decrypt(text)
                .map_err(|error| problems.push(format!("{path}: {error}")))
                .ok(),
            Ok(None) => {
                let encrypted_with = secrets::encrypted_key_id(text)
                    .map(|key_id| format!("encrypted with key {key_id}, but "))
                    .unwrap_or_default();
                let no_key = secrets::SecretError::NoKey {
                    default_file: SecretKey::default_key_file(env),
                };
                problems.push(format!("{path}: {encrypted_with}{no_key}"));
                None
            }
            Err(error) => {
                problems.push(format!("{path}: {error}"));
                None
            }
        };
    }
    problems.push(format!(
        "{path}: a plain-text secret is not accepted in the config file; write \"${{ENV_VAR}}\" \
         or store it encrypted with `audsync connector add`"
    ));
    None
}

fn is_variable_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// Replaces every `${VAR}` in `text`; problems name the variables, never their values.
fn interpolate(
    text: &str,
    path: &str,
    env: &Environment,
    problems: &mut Vec<String>,
) -> Option<String> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    let mut complete = true;
    while let Some(start) = rest.find("${") {
        output.push_str(&rest[..start]);
        let Some(length) = rest[start + 2..].find('}') else {
            problems.push(format!("{path}: \"${{\" without a closing \"}}\""));
            return None;
        };
        let name = &rest[start + 2..start + 2 + length];
        match env.var(name) {
            Some(value) if is_variable_name(name) => output.push_str(&value),
            _ if !is_variable_name(name) => {
                problems.push(format!("{path}: \"${{{name}}}\" is not a variable name"));
                complete = false;
            }
            _ => {
                problems.push(format!("{path}: environment variable {name} is not set"));
                complete = false;
            }
        }
        rest = &rest[start + 2 + length + 1..];
    }
    output.push_str(rest);
    complete.then_some(output)
}

/// A `sqlite:` or `postgres:` URL, interpolated; relative SQLite paths are made relative to
/// `base_dir`.
fn check_database_url(
    text: &str,
    path: &str,
    base_dir: &Path,
    env: &Environment,
    problems: &mut Vec<String>,
) -> Option<DatabaseUrl> {
    let url = interpolate(text, path, env, problems)?;
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let (file, params) = match rest.split_once('?') {
            Some((file, params)) => (file, format!("?{params}")),
            None => (rest, String::new()),
        };
        if file.is_empty() {
            problems.push(format!(
                "{path}: no file in {text:?} (like \"sqlite://audsync.db\")"
            ));
            return None;
        }
        if file == ":memory:" || Path::new(file).is_absolute() {
            return Some(DatabaseUrl(SecretString::from(format!(
                "sqlite://{file}{params}"
            ))));
        }
        let resolved = base_dir.join(file);
        let resolved = std::path::absolute(&resolved).unwrap_or(resolved);
        return Some(DatabaseUrl(SecretString::from(format!(
            "sqlite://{}{params}",
            resolved.display()
        ))));
    }
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "postgres" | "postgresql") => {
            Some(DatabaseUrl(SecretString::from(url)))
        }
        _ => {
            // The text as written, never the interpolated URL (it may hold a password).
            let scheme = text.split(':').next().unwrap_or_default();
            problems.push(format!(
                "{path}: unsupported database URL (scheme {scheme:?}); expected \
                 \"sqlite://FILE\" or \"postgres://USER@HOST:PORT/DATABASE\""
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_keys_get_a_suggestion() {
        assert_eq!(closest("mdoe", raw::SEGMENT_KEYS), Some("mode"));
        assert_eq!(closest("zzzzzz", raw::SEGMENT_KEYS), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn ad_account_ids_keep_their_digits() {
        let mut problems = Vec::new();
        assert_eq!(
            parse_ad_account_id("act_1234", "x", &mut problems).as_deref(),
            Some("1234")
        );
        assert_eq!(
            parse_ad_account_id("1234", "x", &mut problems).as_deref(),
            Some("1234")
        );
        assert!(problems.is_empty());
        for bad in ["act_", "act_12a", "12 34", "", "act_123456789012345678901"] {
            assert_eq!(parse_ad_account_id(bad, "x", &mut problems), None, "{bad}");
        }
        assert_eq!(problems.len(), 5);
    }

    #[test]
    fn interpolation_names_missing_variables_and_never_values() {
        let env = Environment::from_vars([("PGPASSWORD", "hunter2")]);
        let mut problems = Vec::new();
        assert_eq!(
            interpolate(
                "postgres://u:${PGPASSWORD}@h/db",
                "store",
                &env,
                &mut problems
            )
            .as_deref(),
            Some("postgres://u:hunter2@h/db")
        );
        assert_eq!(
            interpolate("a${NOPE}b${PGPASSWORD}", "store", &env, &mut problems),
            None
        );
        assert_eq!(interpolate("a${oops", "store", &env, &mut problems), None);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("NOPE") && !problems.concat().contains("hunter2"));
    }

    #[test]
    fn api_versions_need_the_v_and_both_numbers() {
        let mut problems = Vec::new();
        for good in ["v25.0", "v9.12"] {
            check_api_version(good, "x", &mut problems);
        }
        assert!(problems.is_empty());
        for bad in ["25.0", "v25", "v25.", "va.b", "v25.0.1"] {
            check_api_version(bad, "x", &mut problems);
        }
        assert_eq!(problems.len(), 5);
    }
}
