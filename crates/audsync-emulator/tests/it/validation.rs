//! Validation errors of /users in the order of contract §12.

use serde_json::{Value, json};

use crate::support::{Harness, email};

#[tokio::test]
async fn a_row_of_the_wrong_length_refuses_the_whole_request() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("length").await;
    let reply = harness
        .add(
            &audience_id,
            json!(["EMAIL", "PHONE"]),
            vec![json!([email(1), ""]), json!([email(2)])],
        )
        .await;
    reply.assert_error(400, 100, None);
    assert_eq!(
        reply.body["error"]["message"],
        "(#100) Data is missing or does not match schema"
    );
    assert!(
        harness.members(&audience_id).await.is_empty(),
        "nothing is applied"
    );
}

#[tokio::test]
async fn more_than_ten_thousand_rows_are_refused() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("big").await;
    let row = json!([email(1)]);
    let reply = harness
        .add(&audience_id, json!(["EMAIL"]), vec![row.clone(); 10_001])
        .await;
    reply.assert_error(400, 100, None);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("at most 10000 rows")
    );
    let reply = harness
        .add(&audience_id, json!(["EMAIL"]), vec![row; 10_000])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["num_received"], 10_000);
}

#[tokio::test]
async fn bad_hashes_and_empty_external_ids_are_invalid_rows_not_errors() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("rows").await;
    let rows = vec![
        json!([email(1), "crm-1", "aece52e7-03ee-455a-b3c4-e57283966239"]),
        json!([email(2).to_uppercase(), "crm-2", ""]),
        json!(["john@example.com", "crm-3", ""]),
        json!([email(4), "", ""]),
        json!([email(5), "crm-5", email(5)]),
        json!(["", "crm-6", ""]),
    ];
    let reply = harness
        .add(
            &audience_id,
            json!(["EMAIL", "EXTERN_ID", "MADID"]),
            rows.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["num_received"], 6);
    assert_eq!(reply.body["num_invalid_entries"], 4);
    let samples = reply.body["invalid_entry_samples"]
        .as_object()
        .expect("samples");
    let reason = |row: &Value| {
        samples
            .get(&serde_json::to_string(row).expect("json"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    assert!(
        reason(&rows[1])
            .expect("uppercase hex")
            .starts_with("invalid EMAIL hash")
    );
    assert!(
        reason(&rows[2])
            .expect("plaintext")
            .starts_with("invalid EMAIL hash")
    );
    assert_eq!(reason(&rows[3]).as_deref(), Some("empty external ID"));
    assert!(
        reason(&rows[4])
            .expect("hashed MADID")
            .starts_with("invalid MADID")
    );
    assert_eq!(samples.len(), 4);
    let members = harness.members(&audience_id).await;
    assert_eq!(members.len(), 2, "rows 1 and 6 are stored: {members:?}");
    assert_eq!(members[1], json!({"EXTERN_ID": "crm-6"}));
}

#[tokio::test]
async fn an_all_empty_row_is_invalid() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("empty").await;
    let reply = harness
        .add(
            &audience_id,
            json!(["EMAIL", "PHONE"]),
            vec![json!(["", ""])],
        )
        .await;
    assert_eq!(reply.body["num_invalid_entries"], 1, "{}", reply.text);
    assert_eq!(
        reply.body["invalid_entry_samples"],
        json!({"[\"\",\"\"]": "empty row: no key has a value"})
    );
}

#[tokio::test]
async fn the_data_source_lock_works_both_ways_and_not_for_removals() {
    let harness = Harness::start().await;
    let single = harness.create_audience("single").await;
    harness
        .add(&single, json!("EMAIL_SHA256"), vec![json!(email(1))])
        .await;
    let reply = harness
        .add(&single, json!(["EMAIL"]), vec![json!([email(2)])])
        .await;
    reply.assert_error(400, 2650, None);
    assert_eq!(
        reply.body["error"]["message"],
        "(#2650) Failed to update the custom audience: This audience was created from data source FILE_IMPORTED.HASHES_OR_USER_IDS, which does not support data source FILE_IMPORTED.MULTI_HASHES."
    );
    let multi = harness.create_audience("multi").await;
    harness.add_emails(&multi, 0, 150).await;
    let reply = harness
        .remove(&multi, json!("EMAIL_SHA256"), vec![json!(email(3))])
        .await;
    assert_eq!(
        reply.status, 200,
        "single-key removal from a multi-key audience: {}",
        reply.text
    );
}

#[tokio::test]
async fn payload_problems_are_100() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("payload").await;
    let path = format!("{audience_id}/users");
    let cases = [
        (json!({}), "(#100) The parameter payload is required"),
        (
            json!({"payload": "{not json"}),
            "(#100) param payload must be a valid JSON object",
        ),
        (
            json!({"payload": {"schema": ["EMAIL", "NAME"], "data": []}}),
            "(#100) Invalid schema: NAME",
        ),
        (
            json!({"payload": {"schema": ["EMAIL"]}}),
            "(#100) The parameter payload.data is required",
        ),
        (
            json!({"payload": {"schema": ["EMAIL"], "data": []}, "session": {"session_id": -4}}),
            "(#100) param session[session_id] must be a positive integer",
        ),
    ];
    for (body, message) in cases {
        let reply = harness.post(&path, body).await;
        reply.assert_error(400, 100, None);
        assert_eq!(reply.body["error"]["message"], message);
    }
}
