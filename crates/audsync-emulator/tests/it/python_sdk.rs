//! Meta's Python SDK on the wire: form-encoded params with JSON-string values, a trailing slash,
//! and DELETE with every parameter in the query string (contract §1.1).

use audsync_emulator::{DEFAULT_AD_ACCOUNT_ID, EmulatorConfig};
use serde_json::json;

use crate::support::{Harness, email};

/// `json.dumps(value, sort_keys=True, separators=(',', ':'))` for the shapes used here: the
/// SDK's `_top_level_param_json_encode`.
fn python_dumps(value: &serde_json::Value) -> String {
    // serde_json's map is sorted (no preserve_order feature) and compact.
    value.to_string()
}

#[tokio::test]
async fn python_sdk_form_post_and_query_string_delete_work_unchanged() {
    let harness = Harness::with_config(EmulatorConfig {
        small_audience_threshold: 0,
        ..EmulatorConfig::default()
    })
    .await;
    let token = harness.token.clone();

    // AdAccount.create_custom_audience: form-encoded POST, trailing slash.
    let create = harness
        .send(
            harness
                .client
                .post(format!(
                    "{}/",
                    harness.url(&format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences"))
                ))
                .form(&[
                    ("name", "python sdk"),
                    ("subtype", "CUSTOM"),
                    ("customer_file_source", "USER_PROVIDED_ONLY"),
                    ("access_token", token.as_str()),
                ]),
        )
        .await;
    assert_eq!(create.status, 200, "{}", create.text);
    let audience_id = create.body["id"].as_str().expect("id").to_owned();

    // CustomAudience.add_users: POST /v25.0/{id}/users/ with payload and session as JSON strings.
    let payload = python_dumps(
        &json!({"data": [[email(1), ""], [email(2), email(102)]], "is_raw": true, "schema": ["EMAIL", "PHONE"]}),
    );
    let session = python_dumps(
        &json!({"batch_seq": 1, "estimated_num_total": 2, "last_batch_flag": true, "session_id": 12345}),
    );
    let add = harness
        .send(
            harness
                .client
                .post(format!("{}/", harness.url(&format!("{audience_id}/users"))))
                .form(&[
                    ("payload", payload.as_str()),
                    ("session", session.as_str()),
                    ("access_token", token.as_str()),
                ]),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.text);
    assert_eq!(add.body["session_id"], "12345");
    assert_eq!(
        (
            add.body["num_received"].as_u64(),
            add.body["num_invalid_entries"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(harness.members(&audience_id).await.len(), 2);

    // CustomAudience.remove_users: DELETE with payload and access_token in the query string.
    let payload = python_dumps(
        &json!({"data": [[email(1), ""]], "is_raw": true, "schema": ["EMAIL", "PHONE"]}),
    );
    let remove = harness
        .send(
            harness
                .client
                .delete(format!("{}/", harness.url(&format!("{audience_id}/users"))))
                .query(&[
                    ("payload", payload.as_str()),
                    ("access_token", token.as_str()),
                ]),
        )
        .await;
    assert_eq!(remove.status, 200, "{}", remove.text);
    assert_eq!(remove.body["num_received"], 1);
    assert_eq!(
        harness.members(&audience_id).await,
        [json!({"EMAIL": email(2), "PHONE": email(102)})]
    );

    // AbstractCrudObject.api_get with fields as a comma list in the query string.
    let read = harness
        .send(
            harness
                .client
                .get(format!("{}/", harness.url(&audience_id)))
                .query(&[
                    ("fields", "name,data_source"),
                    ("access_token", token.as_str()),
                ]),
        )
        .await;
    assert_eq!(read.body["name"], "python sdk");
    assert_eq!(read.body["data_source"]["sub_type"], "MULTI_HASHES");
}
