//! Each built-in scenario, scripted and seeded faults, and switching scenarios at run time.

use std::time::{Duration, Instant};

use audsync_emulator::{DEFAULT_AD_ACCOUNT_ID, DEFAULT_APP_ID, DEFAULT_APP_SECRET, EmulatorConfig};
use serde_json::{Value, json};

use crate::support::{Harness, email};

async fn create(harness: &Harness, name: &str) -> crate::support::Reply {
    harness
        .post(
            &format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
            json!({"name": name, "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
        )
        .await
}

#[tokio::test]
async fn tos_not_accepted_reads_zero_and_refuses_create() {
    let harness = Harness::with_scenario("tos-not-accepted").await;
    let account = harness
        .get(DEFAULT_AD_ACCOUNT_ID, &[("fields", "tos_accepted")])
        .await;
    assert_eq!(account.body["tos_accepted"]["custom_audience_tos"], 0);
    create(&harness, "x")
        .await
        .assert_error(400, 200, Some(1_870_034));
}

#[tokio::test]
async fn expired_token_fails_every_call_and_debug_token_says_invalid() {
    let harness = Harness::with_scenario("expired-token").await;
    harness
        .get("me", &[])
        .await
        .assert_error(400, 190, Some(463));
    create(&harness, "x")
        .await
        .assert_error(400, 190, Some(463));
    let app_token = format!("{DEFAULT_APP_ID}|{DEFAULT_APP_SECRET}");
    let reply = harness
        .send(harness.client.get(harness.url("debug_token")).query(&[
            ("input_token", harness.token.as_str()),
            ("access_token", app_token.as_str()),
        ]))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["is_valid"], false);
    assert_eq!(reply.body["data"]["error"]["subcode"], 463);
    assert!(reply.body["data"]["expires_at"].as_u64().expect("expiry") > 0);
}

#[tokio::test]
async fn revoked_token_is_190_467() {
    let harness = Harness::with_scenario("revoked-token").await;
    harness
        .get(DEFAULT_AD_ACCOUNT_ID, &[])
        .await
        .assert_error(400, 190, Some(467));
}

#[tokio::test]
async fn no_ads_management_refuses_writes_allows_reads_and_shows_declined() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("kept").await;
    harness
        .control_post("scenario", json!({"name": "no-ads-management"}))
        .await;
    create(&harness, "x").await.assert_error(400, 294, None);
    harness
        .delete(&audience_id, json!({}))
        .await
        .assert_error(400, 294, None);
    harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await
        .assert_error(400, 294, None);
    assert_eq!(
        harness.get(&audience_id, &[("fields", "name")]).await.body["name"],
        "kept"
    );
    let permissions = harness.get("me/permissions", &[]).await;
    let data = permissions.body["data"].as_array().expect("data");
    assert!(
        data.contains(&json!({"permission": "ads_management", "status": "declined"})),
        "{data:?}"
    );
    assert!(
        data.contains(&json!({"permission": "ads_read", "status": "granted"})),
        "{data:?}"
    );
}

#[tokio::test]
async fn not_admin_refuses_writes_with_100_33_and_shows_reduced_tasks() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("kept").await;
    harness
        .control_post("scenario", json!({"name": "not-admin"}))
        .await;
    let reply = create(&harness, "x").await;
    reply.assert_error(400, 100, Some(33));
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("Unsupported post request. Object with ID 'act_")
    );
    harness
        .add(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await
        .assert_error(400, 100, Some(33));
    let account = harness
        .get(DEFAULT_AD_ACCOUNT_ID, &[("fields", "user_tasks")])
        .await;
    assert_eq!(account.body["user_tasks"], json!(["DRAFT", "ANALYZE"]));
    assert_eq!(
        harness.get(&audience_id, &[]).await.status,
        200,
        "reads still work"
    );
}

#[tokio::test]
async fn disabled_account_reads_status_2_with_a_reason() {
    let harness = Harness::with_scenario("disabled-account").await;
    let account = harness
        .get(
            DEFAULT_AD_ACCOUNT_ID,
            &[("fields", "account_status,disable_reason")],
        )
        .await;
    assert_eq!(
        (
            account.body["account_status"].as_u64(),
            account.body["disable_reason"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn flagged_audience_reads_471_and_refuses_uploads_and_replace() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("flagged").await;
    harness
        .control_post("scenario", json!({"name": "flagged-audience"}))
        .await;
    let read = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(read["operation_status"]["code"], 471);
    harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await
        .assert_error(400, 100, Some(1_713_230));
    let replace = harness
        .post(&format!("{audience_id}/usersreplace"), json!({"session": {"session_id": 1, "batch_seq": 1}, "payload": {"schema": ["EMAIL"], "data": [[email(1)]]}}))
        .await;
    replace.assert_error(400, 100, Some(1_713_230));
}

#[tokio::test]
async fn throttled_budget_runs_out_and_comes_back_after_the_regain_time() {
    let config = EmulatorConfig::default()
        .with_scenario("throttled")
        .expect("built in");
    let harness = Harness::with_config(config).await;
    // Regain at once, so the test needs no waiting: throttled, then success.
    harness
        .control_post(
            "scenario",
            json!({"toml": "description = \"regain now\"\n[rate]\nregain_seconds = 0.0\n"}),
        )
        .await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await.codes());
    }
    assert_eq!(&statuses[..5], &[(None, None); 5]);
    assert_eq!(statuses[5], (Some(80_003), Some(2_446_079)));
    assert_eq!(statuses[6], (None, None), "access regained");
}

#[tokio::test]
async fn throttled_reports_fractional_regain_minutes_and_calls_while_blocked_still_fail() {
    let harness = Harness::with_scenario("throttled").await;
    for _ in 0..5 {
        assert_eq!(harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await.status, 200);
    }
    let usage = |reply: &crate::support::Reply| -> Value {
        serde_json::from_str::<Value>(reply.header("x-business-use-case-usage").expect("header"))
            .expect("json")[crate::support::account_number()][0]
            .clone()
    };
    let first = harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await;
    first.assert_error(400, 80_003, Some(2_446_079));
    let regain = usage(&first)["estimated_time_to_regain_access"]
        .as_f64()
        .expect("number");
    assert!(
        regain > 0.0 && regain <= 0.034,
        "2 s is at most 0.034 minutes, got {regain}"
    );
    let second = harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await;
    second.assert_error(400, 80_003, Some(2_446_079));
}

#[tokio::test]
async fn scripted_faults_answer_each_failure_kind() {
    let harness = Harness::start().await;
    let script = r#"
description = "one of each"
[[script]]
fault = "unknown-error"
[[script]]
fault = "service-error"
[[script]]
fault = "html-error"
[[script]]
fault = "app-rate-limit"
[[script]]
fault = "dropped-connection"
"#;
    harness
        .control_post("scenario", json!({"toml": script}))
        .await;
    let reply = harness.get("me", &[]).await;
    reply.assert_error(500, 1, None);
    assert_eq!(reply.body["error"]["is_transient"], true);
    let reply = harness.get("me", &[]).await;
    reply.assert_error(500, 2, None);
    assert_eq!(reply.body["error"]["is_transient"], true);
    let reply = harness.get("me", &[]).await;
    assert_eq!(reply.status, 502);
    assert!(
        reply
            .header("content-type")
            .expect("type")
            .starts_with("text/html")
    );
    assert!(reply.text.starts_with("<!DOCTYPE html>"));
    harness.get("me", &[]).await.assert_error(400, 4, None);
    let dropped = harness
        .client
        .get(harness.url("me"))
        .bearer_auth(&harness.token)
        .send()
        .await;
    let error = dropped.expect_err("the connection is closed without a response");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    assert_eq!(
        harness.get("me", &[]).await.status,
        200,
        "the script is used up"
    );
    let log = harness.control("requests").await;
    let faults: Vec<&str> = log["data"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|entry| entry["fault"].as_str())
        .collect();
    assert_eq!(
        faults,
        [
            "unknown-error",
            "service-error",
            "html-error",
            "app-rate-limit",
            "dropped-connection"
        ]
    );
}

#[tokio::test]
async fn slow_answer_applies_the_request_then_answers_too_late() {
    let harness = Harness::start().await;
    harness.control_post("scenario", json!({"toml": "description = \"slow create\"\n[[script]]\nfault = \"slow-answer\"\npath_contains = \"/customaudiences\"\n"})).await;
    let request = harness
        .client
        .post(harness.url(&format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences")))
        .bearer_auth(&harness.token)
        .timeout(Duration::from_millis(300))
        .json(&json!({"name": "late", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}));
    let error = request.send().await.expect_err("times out");
    assert!(error.is_timeout(), "{error:?}");
    let audiences = harness.control("audiences").await;
    assert_eq!(
        audiences["data"][0]["name"], "late",
        "the request was applied before the late answer"
    );
}

#[tokio::test]
async fn transient_burst_fails_three_times_then_works() {
    let harness = Harness::with_scenario("transient-burst").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await.status);
    }
    assert_eq!(statuses, [500, 500, 500, 200]);
}

#[tokio::test]
async fn seeded_random_faults_hit_a_share_and_repeat_with_the_seed() {
    let flaky = "description = \"half\"\n[faults]\nshare = 0.5\nseed = 7\nkinds = [\"unknown-error\", \"service-error\", \"html-error\"]\n";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let harness = Harness::start().await;
        harness
            .control_post("scenario", json!({"toml": flaky}))
            .await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(harness.get("me", &[]).await.status);
        }
        runs.push(statuses);
    }
    let n_failed = runs[0].iter().filter(|status| **status != 200).count();
    assert!(
        (8..=32).contains(&n_failed),
        "about half of 40 fail, got {n_failed}: {:?}",
        runs[0]
    );
    assert!(
        runs[0]
            .iter()
            .all(|status| [200, 500, 502].contains(status))
    );
    assert_eq!(runs[0], runs[1], "same seed, same faults");
}

#[tokio::test]
async fn built_in_flaky_fails_a_share_with_every_kind_of_failure() {
    let harness = Harness::with_scenario("flaky").await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..80 {
        let request = harness
            .client
            .get(harness.url("me"))
            .bearer_auth(&harness.token)
            .timeout(Duration::from_millis(500));
        let outcome = match request.send().await {
            Ok(response) => response.status().as_u16().to_string(),
            Err(error) if error.is_timeout() => "timeout".to_owned(),
            Err(_) => "dropped".to_owned(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let n_failed = 80 - outcomes.get("200").copied().unwrap_or(0);
    assert!(
        (5..=40).contains(&n_failed),
        "about a quarter of 80 fail: {outcomes:?}"
    );
    for outcome in outcomes.keys() {
        assert!(
            ["200", "500", "502", "timeout", "dropped"].contains(&outcome.as_str()),
            "{outcomes:?}"
        );
    }
}

#[tokio::test]
async fn slow_adds_at_least_the_minimum_latency() {
    let harness = Harness::with_scenario("slow").await;
    let started = Instant::now();
    assert_eq!(harness.get("me", &[]).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn combination_file_activates_both_scenarios_and_clear_restores_normal() {
    let harness = Harness::with_scenario("flaky-and-throttled").await;
    let listing = harness.control("scenario").await;
    assert_eq!(
        listing["active"],
        json!(["flaky", "throttled", "flaky-and-throttled"])
    );
    let (status, listing) = harness
        .control_post("scenario", json!({"clear": true}))
        .await;
    assert_eq!((status, listing["active"].clone()), (200, json!([])));
    for _ in 0..10 {
        assert_eq!(harness.get(DEFAULT_AD_ACCOUNT_ID, &[]).await.status, 200);
    }
    let (status, body) = harness
        .control_post("scenario", json!({"name": "no-such"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .expect("message")
            .contains("tos-not-accepted")
    );
}
