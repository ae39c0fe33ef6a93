//! Membership uploads: invalid rows mapped back to their index, local rejections, the data-source lock, small audiences, full batches.

use audsync_emulator::EmulatorConfig;
use audsync_graph::{
    DataProblem, ErrorAction, GraphError, InvalidSample, MAX_ROWS_PER_REQUEST, MatchKey,
    RowProblem, SingleKey, UsersBatch, UsersSchema,
};

use crate::support::{Harness, batch, code_and_subcode, email_rows, sha};

#[tokio::test]
async fn rows_graph_finds_invalid_are_mapped_back_to_their_index() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Partial").await;
    let schema = UsersSchema::MultiKey(vec![MatchKey::Email, MatchKey::MobileAdvertiserId]);
    let good_madid = "aece52e7-03ee-455a-b3c4-e57283966239";
    // MADID is sent as it is; the emulator, like Graph, refuses malformed ones.
    let rows = vec![
        vec![sha("a@example.com"), good_madid.to_owned()],
        vec![sha("b@example.com"), "NOT-AN-ID".to_owned()],
        vec![sha("c@example.com"), String::new()],
        vec![sha("d@example.com"), good_madid.to_uppercase()],
        vec![sha("b@example.com"), "NOT-AN-ID".to_owned()],
    ];
    let response = harness
        .client
        .add_users(&audience_id, &batch(schema, rows), None)
        .await
        .unwrap();
    assert_eq!(response.num_received, 5);
    assert_eq!(response.num_invalid_entries, 3);
    let indices: Vec<Option<usize>> = response
        .invalid_samples
        .iter()
        .map(|sample| sample.row_index)
        .collect();
    assert_eq!(indices, vec![Some(1), Some(3), Some(4)]);
    assert!(
        response
            .invalid_samples
            .iter()
            .all(|sample| sample.reason.contains("MADID")),
        "{:?}",
        response.invalid_samples
    );
    assert_eq!(harness.members(&audience_id).await.len(), 2);
}

#[tokio::test]
async fn locally_rejected_rows_are_not_sent_and_keep_their_original_index() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Local").await;
    let schema = UsersSchema::MultiKey(vec![MatchKey::ExternId, MatchKey::Email]);
    let rows = vec![
        vec!["crm-1".to_owned(), sha("a@example.com")],
        vec![String::new(), sha("b@example.com")],
        vec!["crm-3".to_owned(), "plain@example.com".to_owned()],
        vec!["crm-4".to_owned(), "NOT-AN-ID".to_owned()],
        vec!["crm-5".to_owned(), String::new()],
    ];
    let (users, rejections) = UsersBatch::build(schema, rows).unwrap();
    let rejected: Vec<(usize, RowProblem)> = rejections
        .into_iter()
        .map(|rejection| (rejection.row_index, rejection.problem))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, RowProblem::EmptyExternId),
            (2, RowProblem::NotHashed { key: "EMAIL" }),
            (3, RowProblem::NotHashed { key: "EMAIL" }),
        ]
    );
    let response = harness
        .client
        .add_users(&audience_id, &users, None)
        .await
        .unwrap();
    assert_eq!(response.num_received, 2);
    assert_eq!(response.invalid_samples, Vec::<InvalidSample>::new());
    let members = harness.members(&audience_id).await;
    let extern_ids: Vec<&str> = members
        .iter()
        .filter_map(|member| member["EXTERN_ID"].as_str())
        .collect();
    assert_eq!(extern_ids.len(), 2);
    assert!(extern_ids.contains(&"crm-1") && extern_ids.contains(&"crm-5"));
}

#[tokio::test]
async fn an_empty_batch_is_refused_before_sending() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Empty").await;
    let (empty, rejections) = UsersBatch::build(
        UsersSchema::SingleKey(SingleKey::EmailSha256),
        vec![vec!["plain@example.com".to_owned()]],
    )
    .unwrap();
    assert_eq!(rejections.len(), 1);
    let error = harness
        .client
        .add_users(&audience_id, &empty, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.action(),
        ErrorAction::DropAndReport(DataProblem::EmptyBatch)
    );
    assert!(harness.outcomes("/users").await.is_empty());
}

#[tokio::test]
async fn a_full_batch_of_10000_rows_is_accepted_in_one_request() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Full").await;
    let rows = batch(
        UsersSchema::SingleKey(SingleKey::EmailSha256),
        email_rows(0, MAX_ROWS_PER_REQUEST),
    );
    let response = harness
        .client
        .add_users(&audience_id, &rows, None)
        .await
        .unwrap();
    assert_eq!(response.num_received, 10_000);
    assert_eq!(harness.members(&audience_id).await.len(), 10_000);
    let audience = harness.client.get_audience(&audience_id).await.unwrap();
    assert!(
        audience
            .approximate_count_lower_bound
            .is_some_and(|lower| lower > 0)
    );
}

#[tokio::test]
async fn the_data_source_lock_refuses_a_single_key_upload_to_a_multi_key_audience() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Locked").await;
    let multi = batch(
        UsersSchema::MultiKey(vec![MatchKey::Email, MatchKey::Phone]),
        vec![vec![sha("a@example.com"), sha("15551234567")]],
    );
    harness
        .client
        .add_users(&audience_id, &multi, None)
        .await
        .unwrap();
    let single = batch(
        UsersSchema::SingleKey(SingleKey::EmailSha256),
        email_rows(0, 1),
    );
    let error = harness
        .client
        .add_users(&audience_id, &single, None)
        .await
        .unwrap_err();
    assert_eq!(error.api().map(|api| api.code), Some(2650));
    assert_eq!(
        error.action(),
        ErrorAction::DropAndReport(DataProblem::AudienceUpdateRejected)
    );
    let audience = harness.client.get_audience(&audience_id).await.unwrap();
    assert_eq!(
        audience.data_source.and_then(|source| source.sub_type),
        Some("MULTI_HASHES".to_owned())
    );
}

#[tokio::test]
async fn a_removal_that_leaves_too_few_members_is_its_own_action() {
    let harness = Harness::start_with(EmulatorConfig::default()).await;
    let audience_id = harness.new_audience("Small").await;
    let schema = UsersSchema::SingleKey(SingleKey::EmailSha256);
    harness
        .client
        .add_users(
            &audience_id,
            &batch(schema.clone(), email_rows(0, 120)),
            None,
        )
        .await
        .unwrap();
    let error = harness
        .client
        .remove_users(
            &audience_id,
            &batch(schema.clone(), email_rows(0, 30)),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((200, Some(1870047))));
    assert_eq!(error.action(), ErrorAction::AudienceTooSmallToRemove);
    assert_eq!(harness.members(&audience_id).await.len(), 120);
    // Leaving 100 is allowed.
    harness
        .client
        .remove_users(&audience_id, &batch(schema, email_rows(0, 20)), None)
        .await
        .unwrap();
    assert_eq!(harness.members(&audience_id).await.len(), 100);
}

#[tokio::test]
async fn errors_never_show_the_token_or_the_rows() {
    let harness = Harness::with_scenario("flagged-audience").await;
    let audience_id = harness.new_audience("Quiet").await;
    let rows = email_rows(0, 3);
    let error: GraphError = harness
        .client
        .add_users(
            &audience_id,
            &batch(UsersSchema::SingleKey(SingleKey::EmailSha256), rows.clone()),
            None,
        )
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(audsync_emulator::DEFAULT_ACCESS_TOKEN));
    for row in rows {
        assert!(!shown.contains(&row[0]));
    }
}
