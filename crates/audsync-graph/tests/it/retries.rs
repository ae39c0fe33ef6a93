//! The retry policy against real failures: 5xx bursts, HTML pages, dropped connections, throttles, auth errors, lost answers.

use std::time::Duration;

use audsync_graph::{BodyKind, ErrorAction, GraphError, NewAudience, UserProblem};

use crate::support::{Harness, ad_account};

fn script(fault: &str, times: u32, path_contains: &str) -> String {
    format!(
        "[[script]]\nfault = \"{fault}\"\ntimes = {times}\npath_contains = \"{path_contains}\"\n"
    )
}

#[tokio::test]
async fn a_5xx_burst_is_retried_until_it_passes() {
    let harness = Harness::with_scenario("transient-burst").await;
    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(account.id, ad_account());
    assert_eq!(harness.statuses("act_").await, vec![500, 500, 500, 200]);
}

#[tokio::test]
async fn a_longer_5xx_burst_gives_up_after_max_attempts_with_the_last_error() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(&script("service-error", 10, "act_"))
        .await;
    let error = harness.client.ad_account(&ad_account()).await.unwrap_err();
    let api = error.api().expect("a Graph error");
    assert_eq!(
        (api.code, api.http_status, api.is_transient),
        (2, 500, true)
    );
    assert_eq!(error.action(), ErrorAction::RetrySoon);
    assert_eq!(harness.outcomes("act_").await.len(), 4, "max_attempts");
}

#[tokio::test]
async fn an_auth_failure_is_not_retried() {
    let harness = Harness::with_scenario("expired-token").await;
    let error = harness.client.ad_account(&ad_account()).await.unwrap_err();
    assert!(matches!(
        error.action(),
        ErrorAction::StopAndTellUser(UserProblem::TokenExpired)
    ));
    assert_eq!(
        harness.outcomes("act_").await,
        vec![("GET".to_owned(), 400, Some(190))],
        "exactly one request"
    );
}

#[tokio::test]
async fn an_html_error_page_is_retried_and_named_when_it_persists() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(&script("html-error", 1, "act_"))
        .await;
    harness.client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(harness.outcomes("act_").await.len(), 2);

    harness
        .set_scenario_toml(&script("html-error", 10, "act_"))
        .await;
    let error = harness.client.ad_account(&ad_account()).await.unwrap_err();
    let GraphError::UnexpectedBody {
        http_status,
        kind,
        snippet,
    } = &error
    else {
        panic!("expected an unexpected body, got {error:?}");
    };
    assert_eq!((*http_status, *kind), (502, BodyKind::Html));
    assert!(snippet.contains("Sorry, something went wrong"), "{snippet}");
    assert!(!snippet.contains('<'), "tags are stripped: {snippet}");
}

#[tokio::test]
async fn a_dropped_connection_is_a_reset_and_is_retried() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(&script("dropped-connection", 1, "act_"))
        .await;
    harness.client.ad_account(&ad_account()).await.unwrap();

    harness
        .set_scenario_toml(&script("dropped-connection", 1, "act_"))
        .await;
    let once = harness.client_with(|settings| settings.retry.max_attempts = 1);
    let error = once.ad_account(&ad_account()).await.unwrap_err();
    assert!(
        matches!(error, GraphError::ConnectionReset { .. }),
        "{error:?}"
    );
    assert_eq!(error.action(), ErrorAction::RetrySoon);
}

#[tokio::test]
async fn scripted_throttle_codes_wait_and_succeed() {
    let harness = Harness::start().await;
    for fault in ["app-rate-limit", "user-rate-limit", "custom-rate-limit"] {
        harness.set_scenario_toml(&script(fault, 2, "act_")).await;
        harness.client.ad_account(&ad_account()).await.unwrap();
    }
    assert_eq!(
        harness.codes("act_").await,
        vec![
            Some(4),
            Some(4),
            None,
            Some(17),
            Some(17),
            None,
            Some(613),
            Some(613),
            None
        ]
    );
}

#[tokio::test]
async fn a_policy_block_is_told_to_the_user_without_retrying() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(&script("policy-block", 5, "act_"))
        .await;
    let error = harness.client.ad_account(&ad_account()).await.unwrap_err();
    assert_eq!(
        error.action(),
        ErrorAction::StopAndTellUser(UserProblem::Blocked)
    );
    assert_eq!(harness.outcomes("act_").await.len(), 1);
}

#[tokio::test]
async fn a_throttle_pauses_other_calls_of_the_ad_account() {
    // Two calls per hour, regained after half a second.
    let harness = Harness::start().await;
    harness
        .set_scenario_toml("[rate]\ncalls_per_hour = 2\nregain_seconds = 0.5\n")
        .await;
    let client = harness.client_with(|settings| settings.retry.max_attempts = 1);
    client.ad_account(&ad_account()).await.unwrap();
    client.ad_account(&ad_account()).await.unwrap();
    let error = client.ad_account(&ad_account()).await.unwrap_err();
    let ErrorAction::Wait { duration } = error.action() else {
        panic!("expected a wait, got {error}");
    };
    let announced = duration.expect("the usage header announces the time");
    assert!(
        announced >= Duration::from_millis(400) && announced <= Duration::from_millis(600),
        "{announced:?}"
    );
    // The next call waits for the pause instead of hitting the block: no second 80003.
    client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(
        harness.codes("act_").await,
        vec![None, None, Some(80003), None]
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_created_twice() {
    let harness = Harness::start().await;
    harness
        .set_scenario_toml(
            "[faults]\nshare = 0.0\nkinds = []\nslow_answer_ms = 3000\n\n[[script]]\nfault = \"slow-answer\"\ntimes = 1\nmethod = \"POST\"\npath_contains = \"customaudiences\"\n",
        )
        .await;
    let client = harness.client_with(|settings| {
        settings.timeouts.request = Duration::from_millis(300);
    });
    let error = client
        .create_audience(&ad_account(), "Once", &NewAudience::default())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GraphError::Timeout,
        "a create is not retried blindly"
    );
    assert_eq!(harness.audiences().await.len(), 1, "yet it was applied");

    harness
        .set_scenario_toml(
            "[faults]\nshare = 0.0\nkinds = []\nslow_answer_ms = 3000\n\n[[script]]\nfault = \"slow-answer\"\ntimes = 1\nmethod = \"POST\"\npath_contains = \"customaudiences\"\n",
        )
        .await;
    let result = client
        .find_or_create_audience(&ad_account(), "Twice", &NewAudience::default())
        .await
        .unwrap();
    assert!(result.created);
    let names: Vec<String> = harness
        .audiences()
        .await
        .iter()
        .map(|audience| audience["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(names.iter().filter(|name| *name == "Twice").count(), 1);
}
