//! `ClientStats`: what a client and its clones sent, retried and waited, counted as it happens and read as a snapshot.

use std::ops::Sub;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A snapshot of a client's counters, from [`GraphClient::stats`](crate::GraphClient::stats).
/// The counters are shared by every clone of the client and only grow; what a stretch of work
/// did is the difference of two snapshots: `later.since(&earlier)` or `later - earlier`.
///
/// The two times are wall-clock time, not a sum over requests: while four requests wait out
/// the same pause, a second passes once, not four times. So neither can exceed the time that
/// passed. A wait counts while it lasts, so a snapshot taken during one includes it so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// HTTP requests sent to Graph, each attempt counted, first or retried. A call refused
    /// before sending (an empty batch, an invalid URL) is not a request.
    pub requests: u64,
    /// Attempts that repeated a failed one: after a transient failure (a 5xx, an HTML page,
    /// a timeout, a reset or refused connection: [`ErrorAction::RetrySoon`]) or a throttle
    /// ([`ErrorAction::Wait`]). Counted when the repeat starts, so a call abandoned during
    /// its wait adds none.
    ///
    /// [`ErrorAction::RetrySoon`]: crate::ErrorAction::RetrySoon
    /// [`ErrorAction::Wait`]: crate::ErrorAction::Wait
    pub retries: u64,
    /// Time during which at least one request was held back by throttling: waiting out a
    /// throttle answer (Graph's announced `estimated_time_to_regain_access`, or the throttle
    /// backoff), a pause the usage headers called for, or a token from the client's own
    /// per-ad-account budget. Waiting for an in-flight slot is not counted: that is
    /// concurrency, not throttling.
    pub throttled_time: Duration,
    /// Time during which at least one request was in the backoff before retrying a transient
    /// failure (and no longer than that backoff).
    pub backoff_time: Duration,
}

impl ClientStats {
    /// What happened between `earlier` and `self` (saturating, so snapshots passed in the
    /// wrong order give zeros rather than a panic).
    pub fn since(&self, earlier: &ClientStats) -> ClientStats {
        ClientStats {
            requests: self.requests.saturating_sub(earlier.requests),
            retries: self.retries.saturating_sub(earlier.retries),
            throttled_time: self.throttled_time.saturating_sub(earlier.throttled_time),
            backoff_time: self.backoff_time.saturating_sub(earlier.backoff_time),
        }
    }
}

impl Sub for ClientStats {
    type Output = ClientStats;

    /// `later - earlier` is `later.since(&earlier)`.
    fn sub(self, earlier: ClientStats) -> ClientStats {
        self.since(&earlier)
    }
}

/// The live counters behind [`ClientStats`], one set per client, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    pub(crate) throttled: WaitClock,
    pub(crate) backoff: WaitClock,
}

impl Counters {
    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let now = Instant::now();
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled_time: self.throttled.elapsed(now),
            backoff_time: self.backoff.elapsed(now),
        }
    }
}

/// Wall-clock time during which at least one waiter was inside: overlapping waits count once.
#[derive(Debug, Default)]
pub(crate) struct WaitClock {
    state: Mutex<WaitClockState>,
}

#[derive(Debug, Default)]
struct WaitClockState {
    n_waiting: u32,
    /// When `n_waiting` last rose from zero; meaningful while it is above zero.
    waiting_since: Option<Instant>,
    /// Time of the waits that have ended.
    total: Duration,
}

/// One wait; it ends when dropped (a cancelled request ends its wait too).
pub(crate) struct Waiting<'clock> {
    clock: &'clock WaitClock,
}

impl WaitClock {
    /// Starts a wait.
    pub(crate) fn start(&self) -> Waiting<'_> {
        let mut state = self.lock();
        if state.n_waiting == 0 {
            state.waiting_since = Some(Instant::now());
        }
        state.n_waiting += 1;
        Waiting { clock: self }
    }

    /// Time waited up to `now`, the wait under way included.
    pub(crate) fn elapsed(&self, now: Instant) -> Duration {
        let state = self.lock();
        let under_way = match state.waiting_since {
            Some(since) if state.n_waiting > 0 => now.saturating_duration_since(since),
            _ => Duration::ZERO,
        };
        state.total + under_way
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WaitClockState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.clock.lock();
        state.n_waiting = state.n_waiting.saturating_sub(1);
        if state.n_waiting == 0
            && let Some(since) = state.waiting_since.take()
        {
            state.total += Instant::now().saturating_duration_since(since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn overlapping_waits_count_once_and_gaps_not_at_all() {
        let clock = WaitClock::default();
        let started = Instant::now();
        let first = clock.start();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let second = clock.start();
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(first);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(clock.elapsed(Instant::now()), Duration::from_secs(6));
        drop(second);
        // A gap with nobody waiting adds nothing.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let third = clock.start();
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(clock.elapsed(Instant::now()), Duration::from_secs(10));
        drop(third);
        assert_eq!(clock.elapsed(Instant::now()), Duration::from_secs(10));
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }

    #[test]
    fn a_difference_is_per_field_and_never_negative() {
        let earlier = ClientStats {
            requests: 10,
            retries: 2,
            throttled_time: Duration::from_secs(60),
            backoff_time: Duration::from_millis(500),
        };
        let later = ClientStats {
            requests: 15,
            retries: 5,
            throttled_time: Duration::from_secs(180),
            backoff_time: Duration::from_millis(500),
        };
        let expected = ClientStats {
            requests: 5,
            retries: 3,
            throttled_time: Duration::from_secs(120),
            backoff_time: Duration::ZERO,
        };
        assert_eq!(later.since(&earlier), expected);
        assert_eq!(later - earlier, expected);
        assert_eq!(earlier - later, ClientStats::default());
    }
}
