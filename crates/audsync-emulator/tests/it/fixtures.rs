//! Replays of the contract's fixtures F1–F8 (graph-api-contract.md §10): status, body shape and
//! headers.

use audsync_emulator::{DEFAULT_AD_ACCOUNT_ID, DEFAULT_APP_ID, DEFAULT_APP_SECRET, EmulatorConfig};
use serde_json::{Value, json};

use crate::support::{Harness, account_number, email};

const F2_ROW_1: [&str; 5] = [
    "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
    "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599",
    "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
    "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
    "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
];
const MARY: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

#[tokio::test]
async fn f1_create_audience_answers_an_id_with_version_and_usage_headers() {
    let harness = Harness::start().await;
    let reply = harness
        .post(
            &format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
            json!({"name": "(test) Group 1", "subtype": "CUSTOM", "description": "Created from Grouparoo", "customer_file_source": "USER_PROVIDED_ONLY"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.body["id"].as_str().expect("id is a string");
    assert!(
        id.len() >= 15 && id.bytes().all(|byte| byte.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(reply.body.as_object().map(|body| body.len()), Some(1));
    assert_eq!(reply.header("facebook-api-version"), Some("v25.0"));
    let usage: Value = serde_json::from_str(
        reply
            .header("x-business-use-case-usage")
            .expect("BUC header"),
    )
    .expect("json");
    let entry = &usage[account_number()][0];
    assert_eq!(entry["type"], "custom_audience");
    for key in [
        "call_count",
        "total_cputime",
        "total_time",
        "estimated_time_to_regain_access",
    ] {
        assert!(entry[key].is_number(), "{key} in {usage}");
    }
    let account_usage: Value = serde_json::from_str(
        reply
            .header("x-ad-account-usage")
            .expect("ad account usage"),
    )
    .expect("json");
    assert!(
        account_usage["acc_id_util_pct"].is_number(),
        "{account_usage}"
    );
    let app_usage: Value =
        serde_json::from_str(reply.header("x-app-usage").expect("app usage")).expect("json");
    assert!(app_usage["call_count"].is_number());
    assert!(
        reply.header("www-authenticate").is_none(),
        "only errors carry WWW-Authenticate"
    );
}

#[tokio::test]
async fn f2_multi_key_add_with_session_echoes_the_session_as_a_string() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f2").await;
    let reply = harness
        .post(
            &format!("{audience_id}/users"),
            json!({
                "payload": {"schema": ["EMAIL", "PHONE", "FN", "LN", "COUNTRY"], "is_raw": true,
                            "data": [F2_ROW_1, [MARY, "", "", "", ""]]},
                "session": {"session_id": 9778993, "batch_seq": 1, "last_batch_flag": true, "estimated_num_total": 2}
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"audience_id": audience_id, "session_id": "9778993", "num_received": 2, "num_invalid_entries": 0, "invalid_entry_samples": {}})
    );
    let members = harness.members(&audience_id).await;
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["PHONE"], F2_ROW_1[1]);
    assert_eq!(members[1], json!({"EMAIL": MARY}));
}

#[tokio::test]
async fn f3_partial_invalid_counts_and_samples_the_row_without_external_id() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f3").await;
    let bad_row = json!([
        "e190e9b20a82820ff09d873ae4dfe092b21bd625c259d54ab8773ff022eb08e0",
        "",
        "e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605",
        "",
        ""
    ]);
    let good_row = json!([MARY, "crm-42", "", "", ""]);
    let reply = harness
        .add(
            &audience_id,
            json!(["EMAIL", "EXTERN_ID", "FN", "LN", "ZIP"]),
            vec![good_row, bad_row],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["num_received"], 2);
    assert_eq!(reply.body["num_invalid_entries"], 1);
    let session_id = reply.body["session_id"]
        .as_str()
        .expect("generated session id");
    assert!(
        session_id.len() >= 10 && session_id.bytes().all(|byte| byte.is_ascii_digit()),
        "{session_id}"
    );
    let expected_key = "[\"e190e9b20a82820ff09d873ae4dfe092b21bd625c259d54ab8773ff022eb08e0\",\"\",\"e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605\",\"\",\"\"]";
    assert_eq!(
        reply.body["invalid_entry_samples"],
        json!({ expected_key: "empty external ID" })
    );
    assert_eq!(
        harness.members(&audience_id).await,
        [json!({"EMAIL": MARY, "EXTERN_ID": "crm-42"})]
    );
}

#[tokio::test]
async fn f4_delete_with_payload_in_the_query_string_and_the_small_audience_refusal() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f4").await;
    harness.add_emails(&audience_id, 0, 150).await;
    let payload = json!({"schema": ["EMAIL"], "data": [[email(7)]]}).to_string();
    let request = harness
        .client
        .delete(harness.url(&format!("{audience_id}/users")))
        .query(&[
            ("payload", payload.as_str()),
            ("access_token", harness.token.as_str()),
        ]);
    let reply = harness.send(request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["audience_id"], audience_id.as_str());
    assert_eq!(
        (
            reply.body["num_received"].as_u64(),
            reply.body["num_invalid_entries"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(reply.body["invalid_entry_samples"], json!({}));
    assert_eq!(harness.members(&audience_id).await.len(), 149);
    assert!(reply.header("x-business-use-case-usage").is_some());

    let tiny = harness.create_audience("f4 tiny").await;
    harness.add_emails(&tiny, 0, 3).await;
    let reply = harness
        .remove(&tiny, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    reply.assert_error(400, 200, Some(1_870_047));
    let error = &reply.body["error"];
    assert_eq!(error["message"], "Permissions error");
    assert_eq!(error["type"], "OAuthException");
    assert_eq!(error["is_transient"], false);
    assert_eq!(error["error_user_title"], "Audience Size too Low");
    assert_eq!(
        error["error_user_msg"],
        "You cannot remove users from this audience because it will result in a low audience size."
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("OAuth \"Facebook Platform\" \"invalid_request\" \"Permissions error\"")
    );
    assert_eq!(
        harness.members(&tiny).await.len(),
        3,
        "a refused removal removes nobody"
    );
}

#[tokio::test]
async fn f5_replace_in_two_batches_is_cumulative_and_a_concurrent_replace_is_refused() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f5").await;
    harness
        .add(&audience_id, json!("EMAIL_SHA256"), vec![json!(email(900))])
        .await;
    let batch = |seq: u64, last: bool, rows: Vec<String>| {
        json!({"session": {"session_id": 424242, "batch_seq": seq, "last_batch_flag": last, "estimated_num_total": 3},
               "payload": {"schema": "EMAIL_SHA256", "data": rows.into_iter().map(|row| json!([row])).collect::<Vec<_>>()}})
    };
    let path = format!("{audience_id}/usersreplace");
    let reply = harness
        .post(&path, batch(1, false, vec![email(1), email(2)]))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"audience_id": audience_id, "account_id": account_number(), "session_id": "424242",
               "num_received": 2, "num_invalid_entries": 0, "invalid_entry_samples": {}})
    );
    let status = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(
        status["operation_status"],
        json!({"code": 300, "description": "Replace in progress"})
    );

    let concurrent = harness
        .post(&path, json!({"session": {"session_id": 777, "batch_seq": 1, "last_batch_flag": true}, "payload": {"schema": "EMAIL_SHA256", "data": [email(5)]}}))
        .await;
    concurrent.assert_error(400, 2650, Some(1_870_145));
    assert_eq!(
        concurrent.body["error"]["message"],
        "(#2650) Failed to update the custom audience"
    );

    let reply = harness.post(&path, batch(2, true, vec![email(3)])).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["num_received"], 3);
    let members: Vec<Value> = harness.members(&audience_id).await;
    assert_eq!(
        members,
        [
            json!({"EMAIL": email(1)}),
            json!({"EMAIL": email(2)}),
            json!({"EMAIL": email(3)})
        ]
    );
    let status = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(
        status["operation_status"],
        json!({"code": 200, "description": "Normal"})
    );
}

#[tokio::test]
async fn f6_expired_token_has_the_recorded_wording() {
    let harness = Harness::with_scenario("expired-token").await;
    let reply = harness
        .get(DEFAULT_AD_ACCOUNT_ID, &[("fields", "id")])
        .await;
    reply.assert_error(400, 190, Some(463));
    let message = reply.body["error"]["message"].as_str().expect("message");
    let rest = message
        .strip_prefix("Error validating access token: Session has expired on ")
        .expect(message);
    let (expired, now) = rest.split_once(". The current time is ").expect(message);
    for stamp in [expired, now.trim_end_matches('.')] {
        // "Saturday, 13-Jun-26 05:00:00 PDT"
        let (weekday, date_time) = stamp.split_once(", ").expect(stamp);
        assert!(weekday.ends_with("day"), "{stamp}");
        assert_eq!(date_time.len(), "13-Jun-26 05:00:00 PDT".len(), "{stamp}");
        assert!(date_time.ends_with(" PDT"), "{stamp}");
    }
    assert_eq!(reply.body["error"]["type"], "OAuthException");
}

#[tokio::test]
async fn f6_data_source_mismatch_has_the_recorded_message() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f6 lock").await;
    harness
        .add(
            &audience_id,
            json!(["EMAIL", "PHONE"]),
            vec![json!([email(1), ""])],
        )
        .await;
    let reply = harness
        .add(&audience_id, json!("EMAIL_SHA256"), vec![json!(email(2))])
        .await;
    reply.assert_error(400, 2650, None);
    assert_eq!(
        reply.body["error"]["message"],
        "(#2650) Failed to update the custom audience: This audience was created from data source FILE_IMPORTED.MULTI_HASHES, which does not support data source FILE_IMPORTED.HASHES_OR_USER_IDS."
    );
}

#[tokio::test]
async fn f6_terms_not_accepted_on_create_and_upload() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("before the terms scenario").await;
    let (status, _) = harness
        .control_post("scenario", json!({"name": "tos-not-accepted"}))
        .await;
    assert_eq!(status, 200);
    let create = harness
        .post(
            &format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
            json!({"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
        )
        .await;
    let upload = harness
        .add(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    for reply in [create, upload] {
        reply.assert_error(400, 200, Some(1_870_034));
        let error = &reply.body["error"];
        assert_eq!(error["message"], "Permissions error");
        assert_eq!(
            error["error_user_title"],
            "Custom Audience Terms Not Accepted"
        );
        assert_eq!(
            error["error_user_msg"],
            "You'll need to agree to the Custom Audience terms before you can create or edit an audience or an ad set."
        );
    }
}

#[tokio::test]
async fn f6_missing_permission_flagged_audience_and_throttled_bodies() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("f6").await;

    harness
        .control_post(
            "scenario",
            json!({"clear": true, "name": "no-ads-management"}),
        )
        .await;
    let reply = harness
        .add(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    reply.assert_error(400, 294, None);
    assert_eq!(reply.body["error"]["type"], "GraphMethodException");
    assert_eq!(
        reply.body["error"]["message"],
        "Missing permission. Please make sure you have ads_management permission and the application is included in the allowlist"
    );

    harness
        .control_post(
            "scenario",
            json!({"clear": true, "name": "flagged-audience"}),
        )
        .await;
    let reply = harness
        .add(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    reply.assert_error(400, 100, Some(1_713_230));
    assert_eq!(reply.body["error"]["message"], "Invalid parameter");
    assert_eq!(
        reply.body["error"]["error_user_title"],
        "Audience Upload Blocked"
    );

    harness
        .control_post("scenario", json!({"clear": true, "name": "throttled"}))
        .await;
    let mut throttled = None;
    for _ in 0..10 {
        let reply = harness
            .add(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
            .await;
        if reply.status != 200 {
            throttled = Some(reply);
            break;
        }
    }
    let reply = throttled.expect("a 5-call budget runs out within 10 calls");
    reply.assert_error(400, 80_003, Some(2_446_079));
    assert_eq!(reply.body["error"]["is_transient"], true);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("(#80003) There have been too many calls to this ad-account.")
    );
    let usage: Value = serde_json::from_str(
        reply
            .header("x-business-use-case-usage")
            .expect("BUC header"),
    )
    .expect("json");
    let entry = &usage[account_number()][0];
    assert_eq!(entry["call_count"], 100);
    assert!(
        entry["estimated_time_to_regain_access"]
            .as_f64()
            .expect("minutes")
            > 0.0,
        "{usage}"
    );
}

#[tokio::test]
async fn f7_ad_account_pre_flight_fields() {
    let harness = Harness::start().await;
    let reply = harness
        .get(
            DEFAULT_AD_ACCOUNT_ID,
            &[(
                "fields",
                "id,account_id,name,account_status,business,user_tasks,tos_accepted",
            )],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &reply.body;
    assert_eq!(body["id"], DEFAULT_AD_ACCOUNT_ID);
    assert_eq!(body["account_id"], account_number());
    assert_eq!(body["account_status"], 1);
    assert!(body["name"].is_string());
    assert!(
        body["business"]["id"].is_string() && body["business"]["name"].is_string(),
        "{body}"
    );
    assert_eq!(
        body["user_tasks"],
        json!(["DRAFT", "ANALYZE", "ADVERTISE", "MANAGE"])
    );
    assert_eq!(
        body["tos_accepted"],
        json!({"custom_audience_tos": 1, "web_custom_audience_tos": 1})
    );
    assert_eq!(body.as_object().map(|body| body.len()), Some(7));
    assert!(reply.header("x-business-use-case-usage").is_some());
}

#[tokio::test]
async fn f8_debug_token_with_an_app_token() {
    let harness = Harness::with_config(EmulatorConfig::default()).await;
    let app_token = format!("{DEFAULT_APP_ID}|{DEFAULT_APP_SECRET}");
    let request = harness.client.get(harness.url("debug_token")).query(&[
        ("input_token", harness.token.as_str()),
        ("access_token", app_token.as_str()),
    ]);
    let reply = harness.send(request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let data = &reply.body["data"];
    assert_eq!(data["app_id"], DEFAULT_APP_ID);
    assert_eq!(data["type"], "SYSTEM_USER");
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["expires_at"], 0);
    assert_eq!(data["data_access_expires_at"], 0);
    assert!(
        data["issued_at"].is_u64()
            && data["user_id"].is_string()
            && data["application"].is_string()
    );
    let scopes: Vec<&str> = data["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        scopes.contains(&"ads_management") && scopes.contains(&"ads_read"),
        "{scopes:?}"
    );
    let unknown = harness
        .send(harness.client.get(harness.url("debug_token")).query(&[
            ("input_token", "EAAnope"),
            ("access_token", app_token.as_str()),
        ]))
        .await;
    assert_eq!(unknown.body["data"]["is_valid"], false);
    assert_eq!(unknown.body["data"]["error"]["code"], 190);
}
