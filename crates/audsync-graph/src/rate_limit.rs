//! Per-ad-account rate limiting: a token bucket from the hourly budget, an in-flight cap, and a "paused until" instant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::ids::AdAccountId;
use crate::settings::{AccessTier, RateSettings, hourly_call_budget};
use crate::stats::WaitClock;
use crate::usage::UsageReport;

/// Graph's budgets are per rolling hour (contract §6.1).
const ROLLING_WINDOW: Duration = Duration::from_secs(3_600);

/// Shortest usage pause, as a share of the usage window (10 s of an hour). Our choice: at
/// exactly the threshold the proportional pause is zero, yet sending on at full speed would
/// cross it.
const MIN_USAGE_PAUSE_SHARE: f64 = 1.0 / 360.0;

/// The bucket holds at most this share of the hourly budget, so a burst after idling is at
/// most one minute's worth of calls. Our choice.
const BURST_SHARE_OF_HOUR: f64 = 1.0 / 60.0;

/// What the limiter is keyed by: the ad account, or nothing for calls about no ad account
/// (`/me`, `debug_token`, audiences whose account is not known yet).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RateKey {
    AdAccount(AdAccountId),
    Unscoped,
}

impl RateKey {
    pub(crate) fn ad_account(&self) -> Option<&AdAccountId> {
        match self {
            RateKey::AdAccount(ad_account) => Some(ad_account),
            RateKey::Unscoped => None,
        }
    }
}

/// Held while a request is in flight.
pub(crate) struct RatePermit {
    _in_flight: OwnedSemaphorePermit,
}

pub(crate) struct RateLimiter {
    access_tier: AccessTier,
    settings: RateSettings,
    accounts: Mutex<HashMap<RateKey, Arc<AccountLimiter>>>,
}

struct AccountLimiter {
    in_flight: Arc<Semaphore>,
    state: Mutex<AccountState>,
}

struct AccountState {
    calls_per_hour: u32,
    tokens: f64,
    refilled_at: Instant,
    paused_until: Option<Instant>,
}

impl AccountState {
    fn capacity(&self) -> f64 {
        (f64::from(self.calls_per_hour) * BURST_SHARE_OF_HOUR).max(1.0)
    }

    fn tokens_per_second(&self) -> f64 {
        f64::from(self.calls_per_hour) / ROLLING_WINDOW.as_secs_f64()
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.tokens_per_second()).min(self.capacity());
        self.refilled_at = now;
    }

    /// Takes a token, or says how long until one may be taken.
    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(paused_until) = self.paused_until {
            if paused_until > now {
                return Err(paused_until - now);
            }
            self.paused_until = None;
        }
        self.refill(now);
        // The epsilon absorbs float rounding after a sleep of exactly the computed time.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        Err(Duration::from_secs_f64(missing / self.tokens_per_second())
            .max(Duration::from_millis(1)))
    }
}

impl RateLimiter {
    pub(crate) fn new(access_tier: AccessTier, settings: RateSettings) -> RateLimiter {
        RateLimiter {
            access_tier,
            settings,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for an in-flight slot, then for a pause to end and a token. Every attempt calls
    /// this. The wait for the pause and the token runs on `throttled`; the wait for the slot
    /// does not (it is concurrency, not throttling).
    pub(crate) async fn acquire(&self, key: &RateKey, throttled: &WaitClock) -> RatePermit {
        let account = self.account(key);
        let in_flight = Arc::clone(&account.in_flight)
            .acquire_owned()
            .await
            .expect("the in-flight semaphore is never closed");
        let mut waiting = None;
        loop {
            let wait = account.lock().try_take(Instant::now());
            match wait {
                Ok(()) => {
                    return RatePermit {
                        _in_flight: in_flight,
                    };
                }
                Err(wait) => {
                    waiting.get_or_insert_with(|| throttled.start());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Stops calls for `key` for `duration` (extends an existing pause, never shortens it).
    pub(crate) fn pause_for(&self, key: &RateKey, duration: Duration) {
        let until = Instant::now() + duration;
        let account = self.account(key);
        let mut state = account.lock();
        if state.paused_until.is_none_or(|current| current < until) {
            tracing::info!(
                ad_account.id = key.ad_account().map(tracing::field::display),
                pause_ms = duration.as_millis() as u64,
                "pausing Graph calls for this ad account"
            );
            state.paused_until = Some(until);
        }
    }

    /// Reads one response's usage headers. When Graph announces a time to regain access
    /// (`estimated_time_to_regain_access` > 0) it pauses the ad account for exactly that.
    /// Otherwise, at or above the threshold (90 %) it pauses proportionally: as long as an
    /// evenly spread window needs to fall back below the threshold,
    /// `window · (1 − threshold / usage)` (6 minutes at 100 % of an hour), at least 1/360 of
    /// the window.
    pub(crate) fn observe_usage(&self, key: &RateKey, usage: &UsageReport) {
        let threshold = self.settings.usage_pause_threshold_pct;
        let window = self.settings.usage_window;
        let pause = match (
            usage.regain_access_after(key.ad_account()),
            usage.highest_pct(key.ad_account()),
        ) {
            (Some(announced), _) => announced,
            (None, Some(highest_pct)) if highest_pct >= threshold => window
                .mul_f64(1.0 - threshold / highest_pct)
                .max(window.mul_f64(MIN_USAGE_PAUSE_SHARE)),
            _ => return,
        };
        self.pause_for(key, pause);
    }

    /// Sets the number of active audiences, which raises the hourly budget (contract §6.1).
    pub(crate) fn set_active_audience_count(&self, key: &RateKey, n_active_audiences: u32) {
        let account = self.account(key);
        let mut state = account.lock();
        state.refill(Instant::now());
        state.calls_per_hour = hourly_call_budget(self.access_tier, n_active_audiences);
    }

    #[cfg(test)]
    pub(crate) fn paused_until(&self, key: &RateKey) -> Option<Instant> {
        self.account(key).lock().paused_until
    }

    fn account(&self, key: &RateKey) -> Arc<AccountLimiter> {
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let account = accounts.entry(key.clone()).or_insert_with(|| {
            let calls_per_hour =
                hourly_call_budget(self.access_tier, self.settings.n_active_audiences);
            let mut state = AccountState {
                calls_per_hour,
                tokens: 0.0,
                refilled_at: Instant::now(),
                paused_until: None,
            };
            state.tokens = state.capacity();
            Arc::new(AccountLimiter {
                in_flight: Arc::new(Semaphore::new(self.settings.max_in_flight.max(1))),
                state: Mutex::new(state),
            })
        });
        Arc::clone(account)
    }
}

impl AccountLimiter {
    fn lock(&self) -> MutexGuard<'_, AccountState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::BusinessUseCaseUsage;

    fn account_key(id: &str) -> RateKey {
        RateKey::AdAccount(AdAccountId::parse(id).unwrap())
    }

    fn limiter(max_in_flight: usize) -> RateLimiter {
        RateLimiter::new(
            AccessTier::Limited,
            RateSettings {
                max_in_flight,
                ..RateSettings::default()
            },
        )
    }

    fn usage(id: &str, call_count_pct: f64, regain_minutes: Option<u64>) -> UsageReport {
        UsageReport {
            business_use_cases: vec![BusinessUseCaseUsage {
                id: id.to_owned(),
                use_case: "custom_audience".to_owned(),
                call_count_pct,
                total_cputime_pct: 0.0,
                total_time_pct: 0.0,
                regain_access_after: regain_minutes.map(|m| Duration::from_secs(m * 60)),
                access_tier: None,
            }],
            app: None,
            ad_account: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate_follows_the_hourly_budget() {
        // Limited tier, no audiences: 5,000 calls per hour = one per 0.72 s; burst 83.
        let limiter = limiter(1_000);
        let key = account_key("1");
        let throttled = WaitClock::default();
        let started = Instant::now();
        let mut permits = Vec::new();
        for _ in 0..83 {
            permits.push(limiter.acquire(&key, &throttled).await);
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(throttled.elapsed(Instant::now()), Duration::ZERO);
        for _ in 0..10 {
            permits.push(limiter.acquire(&key, &throttled).await);
        }
        let elapsed = started.elapsed().as_secs_f64();
        assert!((elapsed - 7.2).abs() < 0.72, "{elapsed}");
        // Every moment after the burst was spent waiting for a token of our own budget.
        assert_eq!(throttled.elapsed(Instant::now()), started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn each_ad_account_has_its_own_budget() {
        let limiter = limiter(1_000);
        let throttled = WaitClock::default();
        for _ in 0..83 {
            let _permit = limiter.acquire(&account_key("1"), &throttled).await;
        }
        let started = Instant::now();
        let _permit = limiter.acquire(&account_key("2"), &throttled).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_cap_holds_requests_until_a_permit_is_dropped() {
        let limiter = Arc::new(limiter(2));
        let throttled = Arc::new(WaitClock::default());
        let key = account_key("1");
        let first = limiter.acquire(&key, &throttled).await;
        let _second = limiter.acquire(&key, &throttled).await;
        let waiting = {
            let limiter = Arc::clone(&limiter);
            let throttled = Arc::clone(&throttled);
            let key = key.clone();
            tokio::spawn(async move {
                let _third = limiter.acquire(&key, &throttled).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished());
        let released_at = Instant::now();
        drop(first);
        assert_eq!(waiting.await.unwrap(), released_at);
        // Waiting for a slot is concurrency, not throttling.
        assert_eq!(throttled.elapsed(Instant::now()), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_delays_the_next_permit() {
        let limiter = limiter(4);
        let key = account_key("1");
        let throttled = WaitClock::default();
        let started = Instant::now();
        limiter.pause_for(&key, Duration::from_secs(300));
        limiter.pause_for(&key, Duration::from_secs(60)); // never shortens
        let _permit = limiter.acquire(&key, &throttled).await;
        assert_eq!(started.elapsed(), Duration::from_secs(300));
        let _other = limiter.acquire(&account_key("2"), &throttled).await;
        assert_eq!(started.elapsed(), Duration::from_secs(300));
        assert_eq!(throttled.elapsed(Instant::now()), Duration::from_secs(300));
    }

    #[tokio::test(start_paused = true)]
    async fn high_usage_pauses_proportionally() {
        let limiter = limiter(4);
        let key = account_key("42");
        let now = Instant::now();
        limiter.observe_usage(&key, &usage("42", 89.9, None));
        assert_eq!(limiter.paused_until(&key), None);
        // At 95 %: 3600 s · (1 − 90/95) ≈ 189.5 s.
        limiter.observe_usage(&key, &usage("42", 95.0, None));
        let paused = limiter.paused_until(&key).unwrap() - now;
        assert!((paused.as_secs_f64() - 189.47).abs() < 0.1, "{paused:?}");
        // At 100 %: 360 s.
        let key = account_key("43");
        limiter.observe_usage(&key, &usage("43", 100.0, None));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_secs(360)
        );
        // Exactly at the threshold: the minimum pause, 10 s of an hour.
        let key = account_key("44");
        limiter.observe_usage(&key, &usage("44", 90.0, None));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_secs(10)
        );
        // An announced time replaces the estimate, longer or shorter.
        let key = account_key("45");
        limiter.observe_usage(&key, &usage("45", 100.0, Some(30)));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_secs(1_800)
        );
        let key = account_key("46");
        limiter.observe_usage(&key, &usage("46", 100.0, Some(1)));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_secs(60)
        );
        // An announced time pauses even below the threshold: Graph says access is lost.
        let key = account_key("47");
        limiter.observe_usage(&key, &usage("47", 50.0, Some(5)));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_secs(300)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_usage_window_scales_the_pause() {
        let limiter = RateLimiter::new(
            AccessTier::Limited,
            RateSettings {
                usage_window: Duration::from_secs(36),
                ..RateSettings::default()
            },
        );
        let key = account_key("1");
        let now = Instant::now();
        limiter.observe_usage(&key, &usage("1", 100.0, None));
        assert_eq!(
            limiter.paused_until(&key).unwrap() - now,
            Duration::from_millis(3_600)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn more_active_audiences_raise_the_budget() {
        let limiter = RateLimiter::new(AccessTier::Limited, RateSettings::default());
        let key = account_key("7");
        // 5,000 + 40 · 1,000 = 45,000 per hour: burst 750.
        limiter.set_active_audience_count(&key, 1_000);
        let account = limiter.account(&key);
        assert_eq!(account.lock().calls_per_hour, 45_000);
        account.lock().tokens = 0.0;
        let started = Instant::now();
        let _permit = limiter.acquire(&key, &WaitClock::default()).await;
        // One token at 12.5 per second: 80 ms (plus the timer's millisecond rounding).
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(80) && elapsed <= Duration::from_millis(82),
            "{elapsed:?}"
        );
    }
}
