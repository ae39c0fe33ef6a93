//! The /usersreplace session state machine: each 2650 subcode of contract §2.6.

use std::time::Duration;

use audsync_emulator::{DEFAULT_AD_ACCOUNT_ID, EmulatorConfig};
use serde_json::{Value, json};

use crate::support::{Harness, Reply, email};

fn batch(session_id: u64, seq: u64, last: bool, from: usize, count: usize) -> Value {
    json!({"session": {"session_id": session_id, "batch_seq": seq, "last_batch_flag": last},
           "payload": {"schema": ["EMAIL"], "data": (from..from + count).map(|idx| json!([email(idx)])).collect::<Vec<_>>()}})
}

async fn replace(harness: &Harness, audience_id: &str, body: Value) -> Reply {
    harness
        .post(&format!("{audience_id}/usersreplace"), body)
        .await
}

async fn emails(harness: &Harness, audience_id: &str) -> Vec<String> {
    harness
        .members(audience_id)
        .await
        .iter()
        .map(|member| member["EMAIL"].as_str().expect("email").to_owned())
        .collect()
}

#[tokio::test]
async fn users_during_a_replace_is_1870145_and_normal_after_it() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("busy").await;
    harness.add_emails(&audience_id, 0, 3).await;
    assert_eq!(
        replace(&harness, &audience_id, batch(1, 1, false, 10, 2))
            .await
            .status,
        200
    );
    harness
        .add(&audience_id, json!(["EMAIL"]), vec![json!([email(99)])])
        .await
        .assert_error(400, 2650, Some(1_870_145));
    harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(0)])])
        .await
        .assert_error(400, 2650, Some(1_870_145));
    assert_eq!(
        emails(&harness, &audience_id).await,
        [email(0), email(1), email(2)],
        "old members until the swap"
    );
    let last = replace(&harness, &audience_id, batch(1, 2, true, 12, 1)).await;
    assert_eq!(last.body["num_received"], 3, "{}", last.text);
    assert_eq!(
        emails(&harness, &audience_id).await,
        [email(10), email(11), email(12)]
    );
    assert_eq!(harness.add_emails(&audience_id, 50, 1).await.status, 200);
}

#[tokio::test]
async fn a_first_batch_that_is_not_batch_one_is_1870147() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("seq").await;
    replace(&harness, &audience_id, batch(2, 2, false, 0, 1))
        .await
        .assert_error(400, 2650, Some(1_870_147));
    let status = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(
        status["operation_status"]["code"], 200,
        "no session started"
    );
}

#[tokio::test]
async fn a_batch_after_the_last_one_is_1870159_and_duplicates_are_allowed() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("complete").await;
    assert_eq!(
        replace(&harness, &audience_id, batch(3, 1, false, 0, 2))
            .await
            .status,
        200
    );
    let duplicate = replace(&harness, &audience_id, batch(3, 1, false, 0, 2)).await;
    assert_eq!(
        (duplicate.status, duplicate.body["num_received"].as_u64()),
        (200, Some(4)),
        "{}",
        duplicate.text
    );
    assert_eq!(
        replace(&harness, &audience_id, batch(3, 2, true, 2, 1))
            .await
            .status,
        200
    );
    assert_eq!(
        emails(&harness, &audience_id).await,
        [email(0), email(1), email(2)]
    );
    replace(&harness, &audience_id, batch(3, 3, false, 5, 1))
        .await
        .assert_error(400, 2650, Some(1_870_159));
    let sessions = harness
        .get(&format!("{audience_id}/sessions"), &[("session_id", "3")])
        .await;
    assert_eq!(sessions.body["data"][0]["stage"], "finished");
    assert_eq!(
        replace(&harness, &audience_id, batch(4, 1, true, 7, 1))
            .await
            .status,
        200,
        "a new session id may start"
    );
    assert_eq!(emails(&harness, &audience_id).await, [email(7)]);
}

#[tokio::test]
async fn a_timed_out_session_keeps_what_was_uploaded_and_refuses_later_batches_with_1870158() {
    let config = EmulatorConfig {
        replace_session_timeout: Duration::ZERO,
        ..EmulatorConfig::default()
    };
    let harness = Harness::with_config(config).await;
    let audience_id = harness.create_audience("timeout").await;
    harness.add_emails(&audience_id, 100, 2).await;
    assert_eq!(
        replace(&harness, &audience_id, batch(5, 1, false, 0, 2))
            .await
            .status,
        200
    );
    replace(&harness, &audience_id, batch(5, 2, true, 2, 1))
        .await
        .assert_error(400, 2650, Some(1_870_158));
    assert_eq!(
        emails(&harness, &audience_id).await,
        [email(0), email(1)],
        "replaced with the first batch"
    );
    let status = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(status["operation_status"]["code"], 200);
}

#[tokio::test]
async fn an_audience_too_big_for_replace_is_1870144() {
    let config = EmulatorConfig {
        replace_max_audience_size: 3,
        ..EmulatorConfig::default()
    };
    let harness = Harness::with_config(config).await;
    let audience_id = harness.create_audience("big").await;
    harness.add_emails(&audience_id, 0, 3).await;
    replace(&harness, &audience_id, batch(6, 1, true, 10, 1))
        .await
        .assert_error(400, 2650, Some(1_870_144));
    assert_eq!(harness.members(&audience_id).await.len(), 3);
}

#[tokio::test]
async fn a_replace_error_aborts_the_session_with_1870148_and_a_retry_works() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("error").await;
    harness.add_emails(&audience_id, 0, 2).await;
    assert_eq!(
        replace(&harness, &audience_id, batch(8, 1, false, 10, 1))
            .await
            .status,
        200
    );
    harness
        .control_post("scenario", json!({"toml": "description = \"replace fails\"\n[[script]]\nfault = \"replace-error\"\n"}))
        .await;
    assert_eq!(
        harness.get("me", &[]).await.status,
        200,
        "replace-error only hits /usersreplace"
    );
    replace(&harness, &audience_id, batch(8, 2, true, 11, 1))
        .await
        .assert_error(400, 2650, Some(1_870_148));
    assert_eq!(
        emails(&harness, &audience_id).await,
        [email(0), email(1)],
        "unchanged"
    );
    let status = harness.audience(&audience_id, "operation_status").await;
    assert_eq!(status["operation_status"]["code"], 200);
    replace(&harness, &audience_id, batch(8, 2, true, 11, 1))
        .await
        .assert_error(400, 2650, Some(1_870_147));
    assert_eq!(
        replace(&harness, &audience_id, batch(8, 1, true, 20, 1))
            .await
            .status,
        200,
        "retry from batch 1"
    );
    assert_eq!(emails(&harness, &audience_id).await, [email(20)]);
}

#[tokio::test]
async fn replace_requires_a_session_and_keeps_invalid_rows_out() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("strict").await;
    let reply = replace(
        &harness,
        &audience_id,
        json!({"payload": {"schema": ["EMAIL"], "data": [[email(1)]]}}),
    )
    .await;
    reply.assert_error(400, 100, None);
    assert_eq!(
        reply.body["error"]["message"],
        "(#100) The parameter session is required"
    );
    let reply = replace(
        &harness,
        &audience_id,
        json!({"session": {"session_id": 9, "batch_seq": 1, "last_batch_flag": true}, "payload": {"schema": ["EMAIL"], "data": [[email(1)], ["nope"]]}}),
    )
    .await;
    assert_eq!(
        (
            reply.body["num_received"].as_u64(),
            reply.body["num_invalid_entries"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(emails(&harness, &audience_id).await, [email(1)]);
}

#[tokio::test]
async fn staged_rows_are_members_of_their_own_and_the_opt_out_removes_direct_sharers() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("staged rows").await;
    let session = |seq: u64, last: bool, data: Value| {
        json!({"session": {"session_id": 9, "batch_seq": seq, "last_batch_flag": last},
               "payload": {"schema": ["EMAIL", "EXTERN_ID"], "data": data}})
    };
    let first = session(
        1,
        false,
        json!([
            [email(1), "crm-1"],
            [email(1), "crm-2"],
            [email(2), "crm-2"],
            [email(1), "crm-1"]
        ]),
    );
    assert_eq!(replace(&harness, &audience_id, first).await.status, 200);
    let opt_out = harness
        .delete(
            &format!("{DEFAULT_AD_ACCOUNT_ID}/usersofanyaudience"),
            json!({"payload": {"schema": "EMAIL_SHA256", "data": [email(1)]}}),
        )
        .await;
    assert_eq!(opt_out.status, 200, "{}", opt_out.text);
    let last = session(2, true, json!([[email(3), "crm-3"]]));
    assert_eq!(replace(&harness, &audience_id, last).await.status, 200);
    // The rows holding email 1 are gone; crm-2's other row shares no value with the opt-out.
    assert_eq!(
        harness.members(&audience_id).await,
        [
            json!({"EMAIL": email(2), "EXTERN_ID": "crm-2"}),
            json!({"EMAIL": email(3), "EXTERN_ID": "crm-3"})
        ]
    );
}
