//! The membership model: members are rows, upserted by identity and removed by any shared key
//! value; approximate counts, the matching delay and the small-audience rule.

use std::time::Duration;

use audsync_emulator::EmulatorConfig;
use serde_json::json;

use crate::support::{Harness, email, sha256};

fn no_small_audience_rule() -> EmulatorConfig {
    EmulatorConfig {
        small_audience_threshold: 0,
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn add_updates_a_row_of_the_same_identity_and_never_merges_rows_sharing_a_value() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("upsert").await;
    let schema = json!(["EXTERN_ID", "EMAIL", "PHONE", "FN"]);
    let first_name = sha256("anna");
    let steps = [
        json!(["crm-1", email(1), "", ""]),
        // The same identity (FN is no identifying key): the member's values are replaced.
        json!(["crm-1", email(1), "", first_name]),
        // Shares an email with crm-1: another member.
        json!(["crm-2", email(1), sha256("+15550100"), ""]),
        // crm-1 with a new email: a new member, the row with the old email stays.
        json!(["crm-1", email(101), "", ""]),
    ];
    for row in steps {
        let reply = harness.add(&audience_id, schema.clone(), vec![row]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(
        harness.members(&audience_id).await,
        [
            json!({"EXTERN_ID": "crm-1", "EMAIL": email(1), "FN": first_name}),
            json!({"EXTERN_ID": "crm-2", "EMAIL": email(1), "PHONE": sha256("+15550100")}),
            json!({"EXTERN_ID": "crm-1", "EMAIL": email(101)}),
        ]
    );
}

#[tokio::test]
async fn remove_deletes_the_members_sharing_a_value_with_a_removal_row_and_no_others() {
    let harness = Harness::with_config(no_small_audience_rule()).await;
    let audience_id = harness.create_audience("remove").await;
    let schema = json!(["EXTERN_ID", "EMAIL", "PHONE"]);
    let phone = sha256("+15550100");
    let mut rows: Vec<_> = (0..5)
        .map(|idx| json!([format!("crm-{idx}"), email(idx), ""]))
        .collect();
    // crm-5 shares crm-2's email, crm-6 shares crm-5's phone: linked to crm-2 only through crm-5.
    rows.push(json!(["crm-5", email(2), phone]));
    rows.push(json!(["crm-6", "", phone]));
    harness.add(&audience_id, schema, rows).await;
    // Removal by EXTERN_ID alone (single key) on a multi-key audience, and by email.
    let reply = harness
        .remove(
            &audience_id,
            json!("EXTERN_ID"),
            vec![json!("crm-0"), json!("crm-404")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["num_received"], 2);
    let reply = harness
        .remove(
            &audience_id,
            json!(["EMAIL", "PHONE"]),
            vec![json!([email(1), ""]), json!([email(2), ""])],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let remaining: Vec<String> = harness
        .members(&audience_id)
        .await
        .iter()
        .map(|member| member["EXTERN_ID"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(remaining, ["crm-3", "crm-4", "crm-6"]);
}

#[tokio::test]
async fn counts_are_minus_one_below_one_thousand_then_bounds() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("counts").await;
    harness.add_emails(&audience_id, 0, 999).await;
    let fields = "approximate_count_lower_bound,approximate_count_upper_bound,delivery_status";
    let body = harness.audience(&audience_id, fields).await;
    assert_eq!(
        (
            body["approximate_count_lower_bound"].as_i64(),
            body["approximate_count_upper_bound"].as_i64()
        ),
        (Some(-1), Some(-1))
    );
    assert_eq!(
        body["delivery_status"]["code"], 200,
        "999 members are above the small-audience threshold"
    );
    harness.add_emails(&audience_id, 999, 1001).await;
    let body = harness.audience(&audience_id, fields).await;
    assert_eq!(
        (
            body["approximate_count_lower_bound"].as_i64(),
            body["approximate_count_upper_bound"].as_i64()
        ),
        (Some(1900), Some(2100))
    );
}

#[tokio::test]
async fn counts_wait_for_the_matching_delay() {
    let config = EmulatorConfig {
        matching_delay: Duration::from_secs(3600),
        approximate_count_threshold: 1,
        ..EmulatorConfig::default()
    };
    let harness = Harness::with_config(config).await;
    let audience_id = harness.create_audience("delayed").await;
    harness.add_emails(&audience_id, 0, 10).await;
    let body = harness
        .audience(
            &audience_id,
            "approximate_count_lower_bound,time_content_updated",
        )
        .await;
    assert_eq!(body["approximate_count_lower_bound"], -1, "not matched yet");
    assert_eq!(
        harness.members(&audience_id).await.len(),
        10,
        "stored at once"
    );

    let config = EmulatorConfig {
        approximate_count_threshold: 1,
        ..EmulatorConfig::default()
    };
    let harness = Harness::with_config(config).await;
    let audience_id = harness.create_audience("immediate").await;
    harness.add_emails(&audience_id, 0, 10).await;
    let body = harness
        .audience(&audience_id, "approximate_count_lower_bound")
        .await;
    assert_eq!(body["approximate_count_lower_bound"], 10);
}

#[tokio::test]
async fn small_audience_rule_refuses_removals_that_leave_too_few_members() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("threshold").await;
    harness.add_emails(&audience_id, 0, 101).await;
    let one = harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(0)])])
        .await;
    assert_eq!(one.status, 200, "101 → 100 is allowed: {}", one.text);
    let another = harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    another.assert_error(400, 200, Some(1_870_047));
    let nobody = harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(5000)])])
        .await;
    assert_eq!(
        nobody.status, 200,
        "a removal matching nobody removes nobody: {}",
        nobody.text
    );
    assert_eq!(harness.members(&audience_id).await.len(), 100);
}

#[tokio::test]
async fn small_audience_rule_counts_every_member_sharing_a_value_with_the_removal() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("shared threshold").await;
    harness.add_emails(&audience_id, 0, 101).await;
    // A second row with email 0: removing email 0 would take both and leave 100.
    harness
        .add(
            &audience_id,
            json!(["EMAIL", "EXTERN_ID"]),
            vec![json!([email(0), "crm-0"])],
        )
        .await;
    harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await;
    assert_eq!(harness.members(&audience_id).await.len(), 101);
    harness
        .remove(&audience_id, json!(["EMAIL"]), vec![json!([email(0)])])
        .await
        .assert_error(400, 200, Some(1_870_047));
    let by_extern_id = harness
        .remove(&audience_id, json!("EXTERN_ID"), vec![json!("crm-0")])
        .await;
    assert_eq!(by_extern_id.status, 200, "{}", by_extern_id.text);
    assert_eq!(harness.members(&audience_id).await.len(), 100);
}

#[tokio::test]
async fn threshold_zero_disables_the_small_audience_rule() {
    let harness = Harness::with_config(no_small_audience_rule()).await;
    let audience_id = harness.create_audience("tiny").await;
    harness.add_emails(&audience_id, 0, 2).await;
    let reply = harness
        .remove(
            &audience_id,
            json!(["EMAIL"]),
            vec![json!([email(0)]), json!([email(1)])],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(harness.members(&audience_id).await.is_empty());
}

#[tokio::test]
async fn num_received_is_cumulative_per_session_and_fresh_without_one() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("sessions").await;
    let with_session = |seq: u64| {
        json!({"session": {"session_id": "321", "batch_seq": seq, "last_batch_flag": false},
               "payload": {"schema": ["EMAIL"], "data": [[email(seq as usize)], [email(100 + seq as usize)]]}})
    };
    let path = format!("{audience_id}/users");
    assert_eq!(
        harness.post(&path, with_session(1)).await.body["num_received"],
        2
    );
    assert_eq!(
        harness.post(&path, with_session(2)).await.body["num_received"],
        4
    );
    let first = harness.add_emails(&audience_id, 500, 3).await;
    let second = harness.add_emails(&audience_id, 600, 3).await;
    assert_eq!(
        (
            first.body["num_received"].as_u64(),
            second.body["num_received"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_ne!(first.body["session_id"], second.body["session_id"]);
}
