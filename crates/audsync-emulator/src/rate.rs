//! Rate budgets and usage headers: the per-ad-account Custom Audience BUC bucket and the app
//! bucket behind `x-business-use-case-usage` and `x-app-usage` (contract §6).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

const SECONDS_PER_HOUR: f64 = 3_600.0;

/// A leaky bucket of calls in the rolling hour, with a block once it overflows.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    used: f64,
    updated_at: Instant,
    blocked_until: Option<Instant>,
}

impl Bucket {
    /// An empty bucket.
    pub fn new(now: Instant) -> Self {
        Self {
            used: 0.0,
            updated_at: now,
            blocked_until: None,
        }
    }

    fn leak(&mut self, now: Instant, calls_per_hour: u64) {
        let elapsed = now.saturating_duration_since(self.updated_at).as_secs_f64();
        self.used = (self.used - elapsed * calls_per_hour as f64 / SECONDS_PER_HOUR).max(0.0);
        self.updated_at = now;
        if self.blocked_until.is_some_and(|until| until <= now) {
            // Access regained: the budget starts over.
            self.blocked_until = None;
            self.used = 0.0;
        }
    }

    /// Takes one call. `false` when the account is (or becomes) blocked; calls made while
    /// blocked still count (contract §6.3, RL-GRAPH best practice), so they never shorten it.
    pub fn take(&mut self, now: Instant, calls_per_hour: u64, regain_after: Duration) -> bool {
        self.leak(now, calls_per_hour);
        if self.blocked_until.is_some() {
            return false;
        }
        if self.used + 1.0 > calls_per_hour as f64 {
            // A block too long for the clock lasts "forever": a century.
            let century = Duration::from_secs(100 * 365 * 86_400);
            self.blocked_until = Some(
                now.checked_add(regain_after.min(century))
                    .unwrap_or(now + Duration::from_secs(86_400)),
            );
            return false;
        }
        self.used += 1.0;
        true
    }

    /// Counts one call without ever blocking (the app bucket).
    pub fn count(&mut self, now: Instant, calls_per_hour: u64) {
        self.leak(now, calls_per_hour);
        self.used += 1.0;
    }

    /// Percent of the budget used, 0–100.
    pub fn percent_used(&mut self, now: Instant, calls_per_hour: u64) -> u64 {
        self.leak(now, calls_per_hour);
        if self.blocked_until.is_some() {
            return 100;
        }
        ((self.used * 100.0 / calls_per_hour.max(1) as f64).ceil() as u64).min(100)
    }

    /// Time left until access is regained; zero when not blocked.
    pub fn time_to_regain(&self, now: Instant) -> Duration {
        self.blocked_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }
}

/// `estimated_time_to_regain_access` in minutes: an integer when whole, otherwise rounded up to
/// a thousandth of a minute so sub-minute test budgets stay visible (README "Rate limits").
pub(crate) fn regain_minutes(remaining: Duration) -> Value {
    let seconds = remaining.as_secs_f64();
    if seconds == 0.0 {
        return json!(0);
    }
    if remaining.subsec_nanos() == 0 && remaining.as_secs().is_multiple_of(60) {
        return json!(remaining.as_secs() / 60);
    }
    json!((seconds / 60.0 * 1000.0).ceil() / 1000.0)
}

/// The `x-business-use-case-usage` value for one ad account (contract §6.2, keyed by the numeric
/// ad account id as recorded).
pub(crate) fn business_use_case_usage(
    account_id: &str,
    percent: u64,
    remaining: Duration,
) -> String {
    json!({
        account_id: [{
            "type": "custom_audience",
            "call_count": percent,
            "total_cputime": percent.div_ceil(2),
            "total_time": percent.div_ceil(2),
            "estimated_time_to_regain_access": regain_minutes(remaining),
        }]
    })
    .to_string()
}

/// The `x-ad-account-usage` value (contract §6.2): the same percentage as the BUC header and
/// the seconds until access is regained.
pub(crate) fn ad_account_usage(percent: u64, remaining: Duration) -> String {
    json!({
        "acc_id_util_pct": percent,
        "reset_time_duration": remaining.as_secs(),
        "ads_api_access_tier": "standard_access",
    })
    .to_string()
}

/// The `x-app-usage` value (contract §6.2).
pub(crate) fn app_usage(percent: u64) -> String {
    json!({"call_count": percent, "total_cputime": percent.div_ceil(4), "total_time": percent.div_ceil(3)}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_blocks_when_full_and_regains_after_the_block() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        let regain = Duration::from_secs(2);
        assert!(bucket.take(start, 2, regain));
        assert!(bucket.take(start, 2, regain));
        assert_eq!(bucket.percent_used(start, 2), 100);
        assert!(
            !bucket.take(start, 2, regain),
            "third call of a 2-call budget"
        );
        assert_eq!(bucket.time_to_regain(start), regain);
        let later = start + Duration::from_secs(1);
        assert!(!bucket.take(later, 2, regain), "still blocked");
        assert_eq!(bucket.time_to_regain(later), Duration::from_secs(1));
        let after = start + regain;
        assert!(bucket.take(after, 2, regain), "regained");
        assert_eq!(bucket.percent_used(after, 2), 50);
    }

    #[test]
    fn an_endless_block_does_not_overflow_the_clock() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        assert!(!bucket.take(start, 0, Duration::MAX));
        assert!(bucket.time_to_regain(start) > Duration::from_secs(365 * 86_400));
    }

    #[test]
    fn bucket_leaks_over_the_hour() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        for _ in 0..100 {
            assert!(bucket.take(start, 100, Duration::from_secs(60)));
        }
        assert_eq!(bucket.percent_used(start, 100), 100);
        assert_eq!(
            bucket.percent_used(start + Duration::from_secs(1800), 100),
            50
        );
    }

    #[test]
    fn regain_is_whole_minutes_or_a_rounded_up_fraction() {
        assert_eq!(regain_minutes(Duration::ZERO), json!(0));
        assert_eq!(regain_minutes(Duration::from_secs(300)), json!(5));
        assert_eq!(regain_minutes(Duration::from_secs(2)), json!(0.034));
        assert_eq!(regain_minutes(Duration::from_secs(90)), json!(1.5));
    }

    #[test]
    fn usage_header_is_keyed_by_the_numeric_account_id() {
        let header = business_use_case_usage("542676646349772", 2, Duration::ZERO);
        let value: Value = serde_json::from_str(&header).expect("json");
        assert_eq!(value["542676646349772"][0]["type"], "custom_audience");
        assert_eq!(value["542676646349772"][0]["call_count"], 2);
        assert_eq!(
            value["542676646349772"][0]["estimated_time_to_regain_access"],
            0
        );
    }
}
