//! `GraphClient::stats` against the emulator under a paused clock: requests, retries, time throttled and time backing off.

use std::time::Duration;

use audsync_graph::{ClientStats, RetryPolicy};
use tokio::time::Instant;

use crate::support::{Harness, ad_account};

#[tokio::test(start_paused = true)]
async fn a_clean_run_counts_every_request_and_no_retry() {
    let harness = Harness::start().await;
    let before = harness.client.stats();
    let audience_id = harness.new_audience("Clean").await;
    harness.client.ad_account(&ad_account()).await.unwrap();
    harness.client.get_audience(&audience_id).await.unwrap();
    let stats = harness.client.stats().since(&before);
    let n_logged = harness.requests().await.len() as u64;
    assert_eq!(n_logged, 3);
    assert_eq!(
        stats,
        ClientStats {
            requests: n_logged,
            retries: 0,
            throttled_time: Duration::ZERO,
            backoff_time: Duration::ZERO,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_call_counts_its_retry_and_the_time_it_waited() {
    // Five calls per hour; the sixth is refused with 80003 and access comes back after 2 s.
    let harness = Harness::with_scenario("throttled").await;
    // Production retry settings: the paused clock makes the 60 s throttle floor free.
    let client = harness.client_with(|settings| settings.retry = RetryPolicy::default());
    let started = Instant::now();
    for _ in 0..6 {
        client.ad_account(&ad_account()).await.unwrap();
    }
    let stats = client.stats();
    assert_eq!(
        harness.codes("act_").await,
        vec![None, None, None, None, None, Some(80003), None]
    );
    assert_eq!(stats.requests, 7);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.backoff_time, Duration::ZERO);
    // The wait after the throttle is at least the floor, and nothing is counted twice: the
    // total cannot pass the time that went by.
    assert!(
        stats.throttled_time >= RetryPolicy::default().throttle_floor,
        "{stats:?}"
    );
    assert!(stats.throttled_time <= started.elapsed(), "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_5xx_burst_is_time_backing_off_not_time_throttled() {
    // Three answers of HTTP 500 with code 2, then success.
    let harness = Harness::with_scenario("transient-burst").await;
    let policy = RetryPolicy::default();
    let client = harness.client_with(|settings| settings.retry = policy);
    let started = Instant::now();
    client.ad_account(&ad_account()).await.unwrap();
    let stats = client.stats();
    assert_eq!(harness.statuses("act_").await, vec![500, 500, 500, 200]);
    assert_eq!((stats.requests, stats.retries), (4, 3));
    assert_eq!(stats.throttled_time, Duration::ZERO);
    // Full jitter: each of the three backoffs is at most 2, 4 and 8 s.
    assert!(
        stats.backoff_time > Duration::ZERO
            && stats.backoff_time <= policy.base_delay * (1 + 2 + 4),
        "{stats:?}"
    );
    assert_eq!(stats.backoff_time, started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_retried_and_counted() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(
            "[[script]]\nfault = \"dropped-connection\"\ntimes = 1\npath_contains = \"act_\"\n",
        )
        .await;
    harness.client.ad_account(&ad_account()).await.unwrap();
    let stats = harness.client.stats();
    assert_eq!((stats.requests, stats.retries), (2, 1));
    assert_eq!(stats.throttled_time, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_usage_pause_is_time_throttled_without_a_retry() {
    // Ten calls per hour: the ninth answer reports 90 % used, so the client pauses the ad
    // account for the shortest usage pause, 1/360 of the hour, before the tenth call.
    let harness = Harness::start().await;
    harness
        .set_scenario_toml("[rate]\ncalls_per_hour = 10\nregain_seconds = 3600\n")
        .await;
    let client = harness.client_with(|settings| {
        settings.rate.usage_window = Duration::from_secs(3_600);
    });
    for _ in 0..9 {
        client.ad_account(&ad_account()).await.unwrap();
    }
    assert_eq!(client.stats().throttled_time, Duration::ZERO);
    let before = client.stats();
    client.ad_account(&ad_account()).await.unwrap();
    let stats = client.stats().since(&before);
    assert_eq!(
        stats,
        ClientStats {
            requests: 1,
            retries: 0,
            throttled_time: Duration::from_secs(10),
            backoff_time: Duration::ZERO,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn clones_share_the_counters_and_concurrent_waits_count_once() {
    // Two calls per hour; access comes back 30 s after the third (the client waits the 60 s
    // floor).
    let harness = Harness::start().await;
    harness
        .set_scenario_toml("[rate]\ncalls_per_hour = 2\nregain_seconds = 30\n")
        .await;
    let client = harness.client_with(|settings| {
        settings.retry = RetryPolicy::default();
    });
    let clone = client.clone();
    client.ad_account(&ad_account()).await.unwrap();
    client.ad_account(&ad_account()).await.unwrap();
    let account = ad_account();
    let started = Instant::now();
    // Both are sent at once, both are throttled, and both wait out the 60 s floor together.
    let (first, second) = tokio::join!(client.ad_account(&account), clone.ad_account(&account));
    first.unwrap();
    second.unwrap();
    assert_eq!(
        harness.codes("act_").await,
        vec![None, None, Some(80003), Some(80003), None, None]
    );
    let stats = clone.stats();
    assert_eq!(stats, client.stats());
    assert_eq!((stats.requests, stats.retries), (6, 2));
    assert!(
        stats.throttled_time >= RetryPolicy::default().throttle_floor,
        "{stats:?}"
    );
    // Two requests waiting the same minute make one minute throttled, not two.
    assert!(stats.throttled_time <= started.elapsed(), "{stats:?}");
}
