//! The emulator's world: audiences, members, sessions, buckets, the request log, active
//! scenarios; kept in memory behind one `std::sync::Mutex`, optionally persisted to a file.
//!
//! Why a `std::sync::Mutex` and not `tokio::sync::Mutex`: every critical section is short and
//! synchronous (validate, mutate, read out a response), and no `.await` ever happens while the
//! lock is held: latency and slow answers are slept before taking or after releasing it. The
//! std mutex is cheaper and cannot be held across an await by accident (its guard is not
//! `Send`, so the compiler refuses such a future in axum handlers).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{
    AccessTier, AdAccountConfig, CALLS_PER_HOUR_PER_ACTIVE_AUDIENCE, EmulatorConfig,
    FULL_TIER_BASE_CALLS_PER_HOUR, LIMITED_TIER_BASE_CALLS_PER_HOUR, MAX_CALLS_PER_HOUR,
};
use crate::members::{Member, MemberSet};
use crate::rate::Bucket;
use crate::scenarios::{Effects, Scenario, ScriptedFault};

/// The request log keeps this many entries (oldest dropped first).
const MAX_LOGGED_REQUESTS: usize = 10_000;

/// The state file format version.
const STATE_FILE_VERSION: u32 = 1;

/// The `operation_status` description of a flagged audience (contract §2.2, R-CA example).
pub(crate) const FLAGGED_DESCRIPTION: &str = "The custom audience or lookalike is blocked because it suggests the use of information (e.g., health, financial) not allowed under Meta's terms, and is restricted from running ads. Review the audience and remove prohibited information, or choose a different one.";

/// Shared handle to the emulator's state; cheap to clone. Pass it to [`crate::router`].
#[derive(Clone)]
pub struct EmulatorState {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for EmulatorState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EmulatorState")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    world: Mutex<World>,
    /// Serialises state-file writes; holds the generation last written.
    persisted_generation: Mutex<u64>,
}

/// How a replace session ended, or that it still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReplaceOutcome {
    InProgress,
    Completed,
    TimedOut,
    Failed,
}

/// One upload session of an audience (/users or /usersreplace), as `GET /sessions` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub session_id: String,
    pub start_time: u64,
    pub end_time: u64,
    pub num_received: u64,
    pub num_invalid_entries: u64,
    pub last_batch_seen: bool,
    /// `Some` for replace sessions.
    pub replace: Option<ReplaceOutcome>,
}

/// The running replace of an audience: members staged until the last batch.
#[derive(Clone, Debug)]
pub(crate) struct ActiveReplace {
    pub session_id: String,
    pub started_at: Instant,
    pub staged: MemberSet,
}

#[derive(Clone, Debug)]
pub(crate) struct Audience {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    pub subtype: String,
    pub customer_file_source: String,
    pub is_value_based: bool,
    pub time_created: u64,
    pub time_updated: u64,
    pub time_content_updated: u64,
    /// `data_source.sub_type` once the first upload locked it (contract §3).
    pub data_source_sub_type: Option<String>,
    pub members: MemberSet,
    pub sessions: BTreeMap<String, SessionRecord>,
    pub replace: Option<ActiveReplace>,
    /// Member counts after each change, for the matching delay.
    pub count_history: Vec<(Instant, usize)>,
    pub created_seq: u64,
}

impl Audience {
    /// Records a membership change for the matching delay, pruning history no read needs.
    pub fn content_changed(&mut self, now: Instant, now_unix: u64, delay: Duration) {
        self.time_updated = now_unix;
        self.time_content_updated = now_unix;
        self.count_history.push((now, self.members.len()));
        if let Some(visible_idx) = self
            .count_history
            .iter()
            .rposition(|(changed_at, _)| has_elapsed(*changed_at, delay, now))
        {
            self.count_history.drain(..visible_idx);
        }
    }

    /// The member count visible at `now` under the matching `delay`.
    pub fn visible_count(&self, now: Instant, delay: Duration) -> usize {
        self.count_history
            .iter()
            .rev()
            .find(|(changed_at, _)| has_elapsed(*changed_at, delay, now))
            .map_or(0, |(_, count)| *count)
    }

    /// Ends a replace whose time ran out: the audience takes what was uploaded so far
    /// (contract §2.6, 1870158). Returns whether it did.
    pub fn expire_replace(
        &mut self,
        now: Instant,
        now_unix: u64,
        timeout: Duration,
        delay: Duration,
    ) -> bool {
        let expired = self
            .replace
            .as_ref()
            .is_some_and(|active| has_elapsed(active.started_at, timeout, now));
        if !expired {
            return false;
        }
        if let Some(active) = self.replace.take() {
            self.members = active.staged;
            if let Some(record) = self.sessions.get_mut(&active.session_id) {
                record.replace = Some(ReplaceOutcome::TimedOut);
                record.end_time = now_unix;
            }
            self.content_changed(now, now_unix, delay);
        }
        true
    }
}

/// One logged Meta-surface request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub code: Option<u32>,
    pub subcode: Option<u32>,
    pub fault: Option<String>,
}

pub(crate) struct World {
    pub audiences: BTreeMap<String, Audience>,
    pub scenarios: Vec<Scenario>,
    pub effects: Effects,
    pub script: VecDeque<ScriptedFault>,
    pub fault_rng: fastrand::Rng,
    pub id_rng: fastrand::Rng,
    pub buckets: HashMap<String, Bucket>,
    pub app_bucket: Bucket,
    pub requests: VecDeque<LoggedRequest>,
    pub next_request_seq: u64,
    pub next_created_seq: u64,
    /// Bumped on every mutation that the state file holds.
    pub generation: u64,
}

/// The state file: what survives a restart. Rate buckets, running replace sessions, the request
/// log and scenarios do not (scenarios come from the configuration).
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    next_created_seq: u64,
    audiences: Vec<StoredAudience>,
}

#[derive(Serialize, Deserialize)]
struct StoredAudience {
    id: String,
    account_id: String,
    name: String,
    description: String,
    subtype: String,
    customer_file_source: String,
    is_value_based: bool,
    time_created: u64,
    time_updated: u64,
    time_content_updated: u64,
    data_source_sub_type: Option<String>,
    created_seq: u64,
    sessions: Vec<SessionRecord>,
    members: Vec<Member>,
}

/// Whether `duration` has passed since `start` at `now` (never, when the sum overflows).
pub(crate) fn has_elapsed(start: Instant, duration: Duration, now: Instant) -> bool {
    start.checked_add(duration).is_some_and(|end| end <= now)
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl EmulatorState {
    /// Builds the state from a configuration, loading `state_file` when it exists.
    pub fn new(config: EmulatorConfig) -> std::io::Result<Self> {
        let now = Instant::now();
        let mut world = World {
            audiences: BTreeMap::new(),
            effects: Effects::combine(&config.scenarios),
            script: config
                .scenarios
                .iter()
                .flat_map(|scenario| scenario.script.clone())
                .collect(),
            scenarios: config.scenarios.clone(),
            fault_rng: fastrand::Rng::with_seed(config.seed),
            id_rng: fastrand::Rng::with_seed(config.seed ^ 0x5EED),
            buckets: HashMap::new(),
            app_bucket: Bucket::new(now),
            requests: VecDeque::new(),
            next_request_seq: 0,
            next_created_seq: 0,
            generation: 0,
        };
        world.reseed_faults(config.seed);
        if let Some(path) = &config.state_file {
            load_state_file(path, &mut world, now)?;
        }
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                world: Mutex::new(world),
                persisted_generation: Mutex::new(0),
            }),
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The stored members of an audience (key → value maps), `None` for an unknown audience.
    pub fn members(&self, audience_id: &str) -> Option<Vec<BTreeMap<String, String>>> {
        let world = self.shared.lock();
        world
            .audiences
            .get(audience_id)
            .map(|audience| audience.members.members().collect())
    }
}

impl Shared {
    /// Locks the world; a poisoned lock (a panic elsewhere) is taken over, since every mutation
    /// is completed before anything that could panic.
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `snapshot` (taken at `generation`) unless a newer one was already written:
    /// temp file + rename, so a crash never leaves half a file.
    pub fn persist(&self, generation: u64, snapshot: &str) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let mut written = self
            .persisted_generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if generation <= *written {
            return;
        }
        let temp = path.with_extension("tmp");
        let result = std::fs::write(&temp, snapshot).and_then(|()| std::fs::rename(&temp, path));
        match result {
            Ok(()) => *written = generation,
            Err(error) => {
                tracing::warn!(state.path = %path.display(), %error, "cannot persist emulator state")
            }
        }
    }
}

impl World {
    /// Re-seeds the fault generator (the active faults' own seed wins over the config's).
    pub fn reseed_faults(&mut self, config_seed: u64) {
        let seed = self
            .effects
            .faults
            .as_ref()
            .and_then(|faults| faults.seed)
            .unwrap_or(config_seed);
        self.fault_rng = fastrand::Rng::with_seed(seed);
    }

    /// Replaces the active scenarios.
    pub fn set_scenarios(&mut self, scenarios: Vec<Scenario>, config_seed: u64) {
        self.effects = Effects::combine(&scenarios);
        self.script = scenarios
            .iter()
            .flat_map(|scenario| scenario.script.clone())
            .collect();
        self.scenarios = scenarios;
        self.reseed_faults(config_seed);
    }

    /// A fresh numeric id: `prefix` followed by random digits up to `n_digits` digits.
    pub fn numeric_id(&mut self, prefix: &str, n_digits: usize) -> String {
        let mut id = prefix.to_owned();
        while id.len() < n_digits {
            id.push(char::from(b'0' + self.id_rng.u8(0..10)));
        }
        id
    }

    /// Logs a request, dropping the oldest entries past the cap.
    pub fn log_request(&mut self, mut entry: LoggedRequest) {
        self.next_request_seq += 1;
        entry.seq = self.next_request_seq;
        if self.requests.len() == MAX_LOGGED_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back(entry);
    }

    /// The BUC quota of an ad account in calls per hour (contract §6.1).
    pub fn calls_per_hour(&self, config: &EmulatorConfig, account_id: &str) -> u64 {
        if let Some(calls) = self.effects.calls_per_hour.or(config.rate.calls_per_hour) {
            return calls.max(1);
        }
        let base = match config.rate.access_tier {
            AccessTier::Limited => LIMITED_TIER_BASE_CALLS_PER_HOUR,
            AccessTier::Full => FULL_TIER_BASE_CALLS_PER_HOUR,
        };
        let n_active = self
            .audiences
            .values()
            .filter(|audience| audience.account_id == account_id)
            .count() as u64;
        (base + CALLS_PER_HOUR_PER_ACTIVE_AUDIENCE * n_active).min(MAX_CALLS_PER_HOUR)
    }

    /// How long an exhausted account stays blocked.
    pub fn regain_after(&self, config: &EmulatorConfig) -> Duration {
        self.effects
            .regain_seconds
            .map_or(config.rate.regain_after, |seconds| {
                Duration::try_from_secs_f64(seconds).unwrap_or(if seconds > 0.0 {
                    Duration::MAX
                } else {
                    Duration::ZERO
                })
            })
    }

    /// Takes one call from the account's budget; `false` when throttled.
    pub fn take_permit(&mut self, config: &EmulatorConfig, account_id: &str, now: Instant) -> bool {
        let calls_per_hour = self.calls_per_hour(config, account_id);
        let regain_after = self.regain_after(config);
        self.buckets
            .entry(account_id.to_owned())
            .or_insert_with(|| Bucket::new(now))
            .take(now, calls_per_hour, regain_after)
    }

    /// The `x-business-use-case-usage` and `x-ad-account-usage` header values for an account.
    pub fn usage_headers(
        &mut self,
        config: &EmulatorConfig,
        account_id: &str,
        now: Instant,
    ) -> (String, String) {
        let calls_per_hour = self.calls_per_hour(config, account_id);
        let bucket = self
            .buckets
            .entry(account_id.to_owned())
            .or_insert_with(|| Bucket::new(now));
        let percent = bucket.percent_used(now, calls_per_hour);
        let remaining = bucket.time_to_regain(now);
        (
            crate::rate::business_use_case_usage(account_id, percent, remaining),
            crate::rate::ad_account_usage(percent, remaining),
        )
    }

    /// The ad account as the active scenarios show it.
    pub fn effective_account(&self, account: &AdAccountConfig) -> AdAccountConfig {
        let mut account = account.clone();
        if let Some(accepted) = self.effects.tos_accepted {
            account.custom_audience_tos_accepted = accepted;
        }
        if let Some(status) = self.effects.account_status {
            account.account_status = status;
        }
        if let Some(reason) = self.effects.disable_reason {
            account.disable_reason = reason;
        }
        account
    }

    /// `operation_status` of an audience (contract §2.2, §12 rule).
    pub fn operation_status(&self, audience: &Audience) -> Value {
        if self.effects.flagged {
            json!({"code": 471, "description": FLAGGED_DESCRIPTION})
        } else if audience.replace.is_some() {
            json!({"code": 300, "description": "Replace in progress"})
        } else {
            json!({"code": 200, "description": "Normal"})
        }
    }

    /// Removes audiences, sessions and usage; keeps the scenarios.
    pub fn reset(&mut self, now: Instant) {
        self.audiences.clear();
        self.buckets.clear();
        self.app_bucket = Bucket::new(now);
        self.requests.clear();
        self.next_created_seq = 0;
        self.generation += 1;
    }

    /// The state file text.
    pub fn snapshot(&self) -> String {
        let audiences = self
            .audiences
            .values()
            .map(|audience| StoredAudience {
                id: audience.id.clone(),
                account_id: audience.account_id.clone(),
                name: audience.name.clone(),
                description: audience.description.clone(),
                subtype: audience.subtype.clone(),
                customer_file_source: audience.customer_file_source.clone(),
                is_value_based: audience.is_value_based,
                time_created: audience.time_created,
                time_updated: audience.time_updated,
                time_content_updated: audience.time_content_updated,
                data_source_sub_type: audience.data_source_sub_type.clone(),
                created_seq: audience.created_seq,
                sessions: audience.sessions.values().cloned().collect(),
                members: audience.members.members().collect(),
            })
            .collect();
        let file = StateFile {
            version: STATE_FILE_VERSION,
            next_created_seq: self.next_created_seq,
            audiences,
        };
        serde_json::to_string(&file).unwrap_or_default()
    }
}

fn load_state_file(path: &Path, world: &mut World, now: Instant) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("state file {}: {error}", path.display()),
        )
    })?;
    if file.version != STATE_FILE_VERSION {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "state file {} has version {}, expected {STATE_FILE_VERSION}",
                path.display(),
                file.version
            ),
        ));
    }
    world.next_created_seq = file.next_created_seq;
    // Generated ids must not repeat those of the earlier run that used the same seed.
    let n_sessions: u64 = file
        .audiences
        .iter()
        .map(|audience| audience.sessions.len() as u64)
        .sum();
    world.id_rng = fastrand::Rng::with_seed(
        world.id_rng.u64(..) ^ file.next_created_seq.rotate_left(29) ^ n_sessions.rotate_left(47),
    );
    for stored in file.audiences {
        let members = MemberSet::from_members(stored.members);
        let n_members = members.len();
        let sessions = stored
            .sessions
            .into_iter()
            .map(|mut record| {
                // A replace that was running when the emulator stopped is gone with its staged rows.
                if record.replace == Some(ReplaceOutcome::InProgress) {
                    record.replace = Some(ReplaceOutcome::Failed);
                }
                (record.session_id.clone(), record)
            })
            .collect();
        world.audiences.insert(
            stored.id.clone(),
            Audience {
                id: stored.id,
                account_id: stored.account_id,
                name: stored.name,
                description: stored.description,
                subtype: stored.subtype,
                customer_file_source: stored.customer_file_source,
                is_value_based: stored.is_value_based,
                time_created: stored.time_created,
                time_updated: stored.time_updated,
                time_content_updated: stored.time_content_updated,
                data_source_sub_type: stored.data_source_sub_type,
                members,
                sessions,
                replace: None,
                count_history: vec![(
                    now.checked_sub(Duration::from_secs(365 * 86_400))
                        .unwrap_or(now),
                    n_members,
                )],
                created_seq: stored.created_seq,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(now: Instant) -> Audience {
        Audience {
            id: "1".into(),
            account_id: "2".into(),
            name: "n".into(),
            description: String::new(),
            subtype: "CUSTOM".into(),
            customer_file_source: "USER_PROVIDED_ONLY".into(),
            is_value_based: false,
            time_created: 0,
            time_updated: 0,
            time_content_updated: 0,
            data_source_sub_type: None,
            members: MemberSet::default(),
            sessions: BTreeMap::new(),
            replace: None,
            count_history: vec![(now, 0)],
            created_seq: 1,
        }
    }

    #[test]
    fn counts_appear_only_after_the_matching_delay() {
        let start = Instant::now();
        let mut audience = audience(start);
        audience
            .members
            .upsert(Member::from([("EMAIL".to_owned(), "a".repeat(64))]));
        let changed_at = start + Duration::from_secs(10);
        audience.content_changed(changed_at, 10, Duration::from_secs(60));
        let delay = Duration::from_secs(60);
        assert_eq!(audience.visible_count(changed_at, delay), 0);
        assert_eq!(
            audience.visible_count(changed_at + Duration::from_secs(59), delay),
            0
        );
        assert_eq!(audience.visible_count(changed_at + delay, delay), 1);
        assert_eq!(audience.visible_count(changed_at, Duration::ZERO), 1);
    }

    #[test]
    fn huge_delays_mean_never_instead_of_overflowing() {
        let start = Instant::now();
        assert!(!has_elapsed(start, Duration::MAX, start));
        assert!(has_elapsed(start, Duration::ZERO, start));
    }

    #[test]
    fn an_expired_replace_swaps_in_what_was_staged() {
        let start = Instant::now();
        let mut audience = audience(start);
        audience
            .members
            .upsert(Member::from([("EMAIL".to_owned(), "old".to_owned())]));
        let mut staged = MemberSet::default();
        staged.upsert(Member::from([("EMAIL".to_owned(), "new".to_owned())]));
        audience.replace = Some(ActiveReplace {
            session_id: "7".into(),
            started_at: start,
            staged,
        });
        audience.sessions.insert(
            "7".into(),
            SessionRecord {
                session_id: "7".into(),
                start_time: 0,
                end_time: 0,
                num_received: 1,
                num_invalid_entries: 0,
                last_batch_seen: false,
                replace: Some(ReplaceOutcome::InProgress),
            },
        );
        let timeout = Duration::from_secs(90 * 60);
        assert!(!audience.expire_replace(
            start + Duration::from_secs(60),
            60,
            timeout,
            Duration::ZERO
        ));
        assert!(audience.expire_replace(start + timeout, 5400, timeout, Duration::ZERO));
        assert!(audience.replace.is_none());
        assert_eq!(
            audience
                .members
                .members()
                .next()
                .map(|member| member["EMAIL"].clone()),
            Some("new".to_owned())
        );
        assert_eq!(
            audience.sessions["7"].replace,
            Some(ReplaceOutcome::TimedOut)
        );
    }

    #[test]
    fn a_state_file_loads_its_members_as_rows() {
        let path =
            std::env::temp_dir().join(format!("audsync-emulator-rows-{}.json", std::process::id()));
        // Two rows sharing an email (written by the row model), and a member an emulator that
        // merged members wrote: one value per key.
        let stored = json!([
            {"EMAIL": "e1", "EXTERN_ID": "x1"},
            {"EMAIL": "e1", "EXTERN_ID": "x2"},
            {"EMAIL": "e2", "EXTERN_ID": "x9", "PHONE": "p1"},
        ]);
        let file = json!({
            "version": STATE_FILE_VERSION,
            "next_created_seq": 1,
            "audiences": [{
                "id": "7", "account_id": "2", "name": "n", "description": "",
                "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY",
                "is_value_based": false, "time_created": 0, "time_updated": 0,
                "time_content_updated": 0, "data_source_sub_type": "MULTI_HASHES",
                "created_seq": 1, "sessions": [], "members": stored,
            }],
        });
        std::fs::write(&path, file.to_string()).expect("temp file");
        let loaded = EmulatorState::new(EmulatorConfig::default().with_state_file(&path));
        let _ = std::fs::remove_file(&path);
        let state = loaded.expect("the state file loads");
        assert_eq!(json!(state.members("7")), stored);
        let snapshot: Value = serde_json::from_str(&state.shared.lock().snapshot()).expect("JSON");
        assert_eq!(snapshot["audiences"][0]["members"], stored);
    }
}
