//! The retry policy and the one loop that applies it, `send_with_retry`.

use std::future::Future;
use std::time::Duration;

use crate::error::{ErrorAction, GraphError};
use crate::stats::Counters;

/// Attempts per request, first included: the first try plus three retries (contract §6.3:
/// "retry ≤3 times").
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;

/// First transient backoff ceiling (contract §6.3: "2–15 s backoff").
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(2);

/// Largest transient backoff (contract §6.3: "2–15 s backoff").
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(15);

/// Shortest wait after a throttle (contract §6.3: "wait max(estimated_time_to_regain_access
/// minutes, 60 s)").
pub const DEFAULT_THROTTLE_FLOOR: Duration = Duration::from_secs(60);

/// Largest throttle backoff when Graph announced no time (contract §6.3: "60 s ×2 up to
/// 15 min").
pub const DEFAULT_THROTTLE_MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// Most time one request may spend waiting between attempts. Our choice: two full throttle
/// backoffs; past that the caller should decide (end the run, try the next audience).
pub const DEFAULT_MAX_TOTAL_WAIT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Ceiling of the first transient backoff; doubles per retry.
    pub base_delay: Duration,
    /// Cap of the transient backoff ceiling.
    pub max_delay: Duration,
    /// No throttle wait is shorter than this.
    pub throttle_floor: Duration,
    /// Cap of the throttle backoff when Graph announced no time.
    pub throttle_max_delay: Duration,
    /// Most total waiting per request; a wait that would pass it is not started.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            throttle_floor: DEFAULT_THROTTLE_FLOOR,
            throttle_max_delay: DEFAULT_THROTTLE_MAX_DELAY,
            max_total_wait: DEFAULT_MAX_TOTAL_WAIT,
        }
    }
}

impl RetryPolicy {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_attempts == 0 {
            problems.push("retry.max_attempts must be at least 1".to_owned());
        }
        if self.base_delay > self.max_delay {
            problems.push("retry.base_delay must not exceed retry.max_delay".to_owned());
        }
        if self.throttle_floor > self.throttle_max_delay {
            problems
                .push("retry.throttle_floor must not exceed retry.throttle_max_delay".to_owned());
        }
        problems
    }

    /// The transient backoff before retry number `n_retry` (1-based): full jitter, uniform in
    /// `[0, min(max_delay, base_delay · 2^(n_retry−1))]`.
    pub fn transient_delay(&self, n_retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = exponential(self.base_delay, n_retry, self.max_delay);
        uniform(Duration::ZERO, ceiling, rng)
    }

    /// The wait before retrying throttle number `n_throttled` (1-based). An announced time
    /// is honoured exactly, raised to `throttle_floor`. Without one: the floor plus full
    /// jitter up to `min(throttle_max_delay, throttle_floor · 2^(n_throttled−1))`.
    pub fn throttle_delay(
        &self,
        announced: Option<Duration>,
        n_throttled: u32,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        match announced {
            Some(announced) => announced.max(self.throttle_floor),
            None => {
                let ceiling =
                    exponential(self.throttle_floor, n_throttled, self.throttle_max_delay);
                uniform(self.throttle_floor, ceiling.max(self.throttle_floor), rng)
            }
        }
    }
}

/// Whether repeating a request whose answer was lost could do the work twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Sending it twice has the effect of sending it once (adds and removes act on sets).
    Safe,
    /// Sending it twice could do it twice (creating an audience).
    NotSafe,
}

/// Runs `attempt` until it succeeds or the policy gives up. The policy, exactly:
///
/// - Every attempt, the first and each retry, goes through `attempt`, which takes a
///   rate-limit permit for the ad account before sending; so retries count against the
///   budget just as Graph counts them.
/// - The failure is classified once, by [`GraphError::action`]:
///   - `RetrySoon` (codes 1 and 2, `is_transient`, 5xx or HTML answers, timeouts, resets,
///     refused connections): retried after a capped exponential backoff with **full
///     jitter**: uniform in `[0, min(max_delay, base_delay · 2^(n−1))]` for the n-th retry.
///   - `Wait { duration }` (codes 4, 17, 341, 613, 800xx): retried after exactly the
///     announced `estimated_time_to_regain_access`, never less than `throttle_floor`; with
///     no announced time, `throttle_floor` plus full jitter up to
///     `min(throttle_max_delay, throttle_floor · 2^(n−1))` for the n-th throttle. Before
///     waiting, `before_wait` is told, so the client pauses the whole ad account (other
///     requests wait too; calls made while throttled still count, contract §6.1).
///   - Anything else (stop and tell the user, drop and report, replace conflicts): returned
///     at once, never retried.
/// - What overrides the backoff: an announced wait replaces it. The usage headers of every
///   response also pause the ad account in the rate limiter (for an announced
///   `estimated_time_to_regain_access`, or proportionally at 90 % usage and above), and the
///   next attempt's permit waits for that pause on top of the backoff.
/// - A request that is not safe to repeat ([`Idempotency::NotSafe`]) is not retried after a
///   failure that may have been applied (the answer was lost: timeout, reset, HTML).
/// - It gives up, returning the last error unchanged (so the caller can still act on it),
///   when `max_attempts` attempts have failed or when the next wait would take the total
///   waiting past `max_total_wait`.
/// - `counters` learn each retry as it starts, and the wait before it: a throttle wait as
///   time throttled, a transient backoff as time backing off.
pub(crate) async fn send_with_retry<T, Attempt, AttemptFuture, BeforeWait>(
    policy: &RetryPolicy,
    rng: &mut fastrand::Rng,
    idempotency: Idempotency,
    counters: &Counters,
    mut attempt: Attempt,
    mut before_wait: BeforeWait,
) -> Result<T, GraphError>
where
    Attempt: FnMut(u32) -> AttemptFuture,
    AttemptFuture: Future<Output = Result<T, GraphError>>,
    BeforeWait: FnMut(&GraphError, Duration),
{
    let mut total_wait = Duration::ZERO;
    let mut n_transient = 0;
    let mut n_throttled = 0;
    let mut attempt_idx = 0;
    loop {
        let error = match attempt(attempt_idx).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        attempt_idx += 1;
        let (delay, clock) = match error.action() {
            ErrorAction::RetrySoon
                if idempotency == Idempotency::NotSafe && error.may_have_been_applied() =>
            {
                tracing::warn!(%error, "not retrying a request that may already have been applied");
                return Err(error);
            }
            ErrorAction::RetrySoon => {
                n_transient += 1;
                (policy.transient_delay(n_transient, rng), &counters.backoff)
            }
            ErrorAction::Wait { duration } => {
                n_throttled += 1;
                (
                    policy.throttle_delay(duration, n_throttled, rng),
                    &counters.throttled,
                )
            }
            _ => return Err(error),
        };
        if attempt_idx >= policy.max_attempts {
            tracing::warn!(%error, n_attempts = attempt_idx, "giving up on a Graph request after the last attempt");
            return Err(error);
        }
        if total_wait + delay > policy.max_total_wait {
            tracing::warn!(
                %error,
                n_attempts = attempt_idx,
                wait_ms = delay.as_millis() as u64,
                "giving up on a Graph request: the next wait would pass the total wait limit"
            );
            return Err(error);
        }
        let api = error.api();
        tracing::info!(
            graph.code = api.map(|api| api.code),
            graph.subcode = api.and_then(|api| api.subcode),
            graph.fbtrace_id = api.and_then(|api| api.fbtrace_id.as_deref()),
            wait_ms = delay.as_millis() as u64,
            n_attempts = attempt_idx,
            %error,
            "retrying a Graph request"
        );
        before_wait(&error, delay);
        let waiting = clock.start();
        tokio::time::sleep(delay).await;
        drop(waiting);
        total_wait += delay;
        counters.count_retry();
    }
}

/// `base · 2^(n−1)`, capped at `cap` without overflowing.
fn exponential(base: Duration, n: u32, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1));
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// Uniform in `[low, high]`, at millisecond resolution.
fn uniform(low: Duration, high: Duration, rng: &mut fastrand::Rng) -> Duration {
    let low_ms = low.as_millis() as u64;
    let high_ms = (high.as_millis() as u64).max(low_ms);
    Duration::from_millis(rng.u64(low_ms..=high_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use tokio::time::Instant;

    fn api_error(code: i64, subcode: Option<i64>, wait: Option<Duration>) -> GraphError {
        GraphError::Api(Box::new(ApiError {
            http_status: 400,
            code,
            subcode,
            error_type: None,
            message: String::new(),
            user_title: None,
            user_message: None,
            fbtrace_id: None,
            is_transient: false,
            regain_access_after: wait,
            ad_account: None,
        }))
    }

    fn fast_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
            throttle_floor: Duration::from_secs(60),
            throttle_max_delay: Duration::from_secs(900),
            max_total_wait: Duration::from_secs(3_600),
        }
    }

    /// Plays scripted outcomes and records when each attempt started.
    struct Script {
        outcomes: RefCell<VecDeque<Result<&'static str, GraphError>>>,
        started_at: RefCell<Vec<Instant>>,
    }

    impl Script {
        fn new(outcomes: Vec<Result<&'static str, GraphError>>) -> Script {
            Script {
                outcomes: RefCell::new(outcomes.into()),
                started_at: RefCell::new(Vec::new()),
            }
        }

        async fn attempt(&self) -> Result<&'static str, GraphError> {
            self.started_at.borrow_mut().push(Instant::now());
            self.outcomes
                .borrow_mut()
                .pop_front()
                .expect("the loop made more attempts than scripted")
        }

        fn gaps(&self) -> Vec<Duration> {
            let started_at = self.started_at.borrow();
            started_at
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .collect()
        }
    }

    async fn run(
        policy: &RetryPolicy,
        idempotency: Idempotency,
        script: &Script,
        waits: &mut Vec<Duration>,
    ) -> Result<&'static str, GraphError> {
        run_counted(policy, idempotency, script, waits, &Counters::default()).await
    }

    async fn run_counted(
        policy: &RetryPolicy,
        idempotency: Idempotency,
        script: &Script,
        waits: &mut Vec<Duration>,
        counters: &Counters,
    ) -> Result<&'static str, GraphError> {
        let mut rng = fastrand::Rng::with_seed(7);
        send_with_retry(
            policy,
            &mut rng,
            idempotency,
            counters,
            |_| script.attempt(),
            |_, delay| waits.push(delay),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_twice_then_success_waits_the_announced_time() {
        let five_minutes = Duration::from_secs(300);
        let script = Script::new(vec![
            Err(api_error(80003, Some(2446079), Some(five_minutes))),
            Err(api_error(80003, Some(2446079), Some(five_minutes))),
            Ok("done"),
        ]);
        let mut waits = Vec::new();
        let counters = Counters::default();
        let result = run_counted(
            &fast_policy(),
            Idempotency::Safe,
            &script,
            &mut waits,
            &counters,
        )
        .await;
        assert_eq!(result, Ok("done"));
        assert_eq!(script.gaps(), vec![five_minutes, five_minutes]);
        assert_eq!(waits, vec![five_minutes, five_minutes]);
        let stats = counters.snapshot();
        assert_eq!(stats.retries, 2);
        assert_eq!(stats.throttled_time, five_minutes * 2);
        assert_eq!(stats.backoff_time, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_abandoned_during_its_wait_counts_the_wait_so_far_and_no_retry() {
        let script = Script::new(vec![Err(api_error(
            80003,
            Some(2446079),
            Some(Duration::from_secs(300)),
        ))]);
        let counters = Counters::default();
        let mut waits = Vec::new();
        let policy = fast_policy();
        let call = run_counted(&policy, Idempotency::Safe, &script, &mut waits, &counters);
        let abandoned = tokio::time::timeout(Duration::from_secs(100), call).await;
        assert!(abandoned.is_err(), "the call was still waiting");
        tokio::time::sleep(Duration::from_secs(500)).await;
        let stats = counters.snapshot();
        assert_eq!(stats.retries, 0);
        assert_eq!(stats.throttled_time, Duration::from_secs(100));
    }

    #[tokio::test(start_paused = true)]
    async fn announced_waits_are_raised_to_the_floor() {
        let script = Script::new(vec![
            Err(api_error(613, None, Some(Duration::from_secs(1)))),
            Ok("done"),
        ]);
        let result = run(&fast_policy(), Idempotency::Safe, &script, &mut Vec::new()).await;
        assert_eq!(result, Ok("done"));
        assert_eq!(script.gaps(), vec![Duration::from_secs(60)]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_burst_is_retried_then_gives_up_after_max_attempts() {
        let script = Script::new(vec![
            Err(api_error(2, None, None)),
            Err(GraphError::Timeout),
            Err(api_error(1, None, None)),
            Err(api_error(2, None, None)),
        ]);
        let policy = fast_policy();
        let mut waits = Vec::new();
        let counters = Counters::default();
        let result = run_counted(&policy, Idempotency::Safe, &script, &mut waits, &counters).await;
        assert_eq!(result, Err(api_error(2, None, None)));
        assert_eq!(script.started_at.borrow().len(), 4);
        assert_eq!(waits.len(), 3);
        let stats = counters.snapshot();
        assert_eq!(stats.retries, 3);
        assert_eq!(stats.backoff_time, waits.iter().sum::<Duration>());
        assert_eq!(stats.throttled_time, Duration::ZERO);
        for (retry_idx, wait) in waits.iter().enumerate() {
            let ceiling = exponential(policy.base_delay, retry_idx as u32 + 1, policy.max_delay);
            assert!(
                *wait <= ceiling,
                "retry {retry_idx}: {wait:?} > {ceiling:?}"
            );
        }
        assert_eq!(script.gaps(), waits);
    }

    #[tokio::test(start_paused = true)]
    async fn auth_errors_are_not_retried() {
        let script = Script::new(vec![Err(api_error(190, Some(463), None))]);
        let mut waits = Vec::new();
        let result = run(&fast_policy(), Idempotency::Safe, &script, &mut waits).await;
        assert_eq!(result, Err(api_error(190, Some(463), None)));
        assert_eq!(script.started_at.borrow().len(), 1);
        assert!(waits.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn replace_conflicts_and_small_audiences_are_returned_at_once() {
        for error in [
            api_error(2650, Some(1870145), None),
            api_error(2650, Some(1870148), None),
            api_error(200, Some(1870047), None),
            api_error(100, None, None),
        ] {
            let script = Script::new(vec![Err(error.clone())]);
            let result = run(&fast_policy(), Idempotency::Safe, &script, &mut Vec::new()).await;
            assert_eq!(result, Err(error));
            assert_eq!(script.started_at.borrow().len(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unsafe_requests_are_not_repeated_after_a_lost_answer() {
        let script = Script::new(vec![Err(GraphError::Timeout)]);
        let result = run(
            &fast_policy(),
            Idempotency::NotSafe,
            &script,
            &mut Vec::new(),
        )
        .await;
        assert_eq!(result, Err(GraphError::Timeout));
        // But a refused connection never reached Graph, so it is retried.
        let script = Script::new(vec![
            Err(GraphError::Connect {
                detail: "refused".to_owned(),
            }),
            Ok("created"),
        ]);
        let result = run(
            &fast_policy(),
            Idempotency::NotSafe,
            &script,
            &mut Vec::new(),
        )
        .await;
        assert_eq!(result, Ok("created"));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_next_wait_passes_the_total_limit() {
        let mut policy = fast_policy();
        policy.max_total_wait = Duration::from_secs(400);
        let five_minutes = Some(Duration::from_secs(300));
        let script = Script::new(vec![
            Err(api_error(80004, None, five_minutes)),
            Err(api_error(80004, None, five_minutes)),
        ]);
        let started = Instant::now();
        let counters = Counters::default();
        let result = run_counted(
            &policy,
            Idempotency::Safe,
            &script,
            &mut Vec::new(),
            &counters,
        )
        .await;
        assert_eq!(result, Err(api_error(80004, None, five_minutes)));
        assert_eq!(started.elapsed(), Duration::from_secs(300));
        // One retry was made; the wait that was not started is not time throttled.
        assert_eq!(counters.snapshot().retries, 1);
        assert_eq!(counters.snapshot().throttled_time, Duration::from_secs(300));
    }

    #[test]
    fn backoff_grows_to_the_cap_without_overflow() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(1_000);
        let ceilings: Vec<_> = (1..=6)
            .map(|n| exponential(base, n, cap).as_millis())
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(exponential(base, u32::MAX, cap), cap);
        assert_eq!(
            exponential(Duration::MAX, 3, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn jitter_stays_within_bounds_and_is_reproducible_with_a_seed() {
        let policy = fast_policy();
        let mut rng = fastrand::Rng::with_seed(42);
        let mut seen_low = false;
        let mut seen_high = false;
        for n_retry in 1..=8 {
            let ceiling = exponential(policy.base_delay, n_retry, policy.max_delay);
            for _ in 0..200 {
                let delay = policy.transient_delay(n_retry, &mut rng);
                assert!(delay <= ceiling, "{delay:?} > {ceiling:?}");
                seen_low |= delay < ceiling / 4;
                seen_high |= delay > ceiling * 3 / 4;
            }
        }
        assert!(seen_low && seen_high, "full jitter spans the whole range");
        let delays_with_seed = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (1..5)
                .map(|n| policy.transient_delay(n, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(delays_with_seed(9), delays_with_seed(9));
    }

    #[test]
    fn throttle_backoff_without_announcement_stays_between_floor_and_cap() {
        let policy = fast_policy();
        let mut rng = fastrand::Rng::with_seed(1);
        for n_throttled in 1..=10 {
            let ceiling = exponential(
                policy.throttle_floor,
                n_throttled,
                policy.throttle_max_delay,
            );
            for _ in 0..100 {
                let delay = policy.throttle_delay(None, n_throttled, &mut rng);
                assert!(delay >= policy.throttle_floor && delay <= ceiling);
            }
        }
        assert_eq!(
            policy.throttle_delay(None, 1, &mut rng),
            policy.throttle_floor
        );
        assert_eq!(
            policy.throttle_delay(Some(Duration::from_secs(600)), 1, &mut rng),
            Duration::from_secs(600)
        );
    }
}
