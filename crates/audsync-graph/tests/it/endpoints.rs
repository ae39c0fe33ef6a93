//! Every endpoint on the happy path, checked against what the emulator stored and logged.

use audsync_emulator::{DEFAULT_APP_ID, DEFAULT_APP_SECRET, EmulatorConfig};
use audsync_graph::{
    AccountStatus, AppSecret, CustomerFileSource, ErrorAction, MatchKey, NewAudience,
    OPERATION_STATUS_NORMAL, ProofMode, Session, SingleKey, UserProblem, UsersSchema,
};

use crate::support::{Harness, ad_account, batch, code_and_subcode, email_rows, sha};

#[tokio::test]
async fn me_and_permissions_describe_the_system_user() {
    let harness = Harness::start().await;
    let me = harness.client.me().await.unwrap();
    assert!(!me.id.is_empty());
    let permissions = harness.client.me_permissions().await.unwrap();
    let ads_management = permissions
        .iter()
        .find(|permission| permission.permission == "ads_management")
        .expect("ads_management is listed");
    assert!(ads_management.is_granted());
}

#[tokio::test]
async fn debug_token_with_the_app_token_reports_a_valid_non_expiring_token() {
    let harness = Harness::start().await;
    let client = harness.client_with(|settings| {
        settings.app_id = Some(DEFAULT_APP_ID.to_owned());
        settings.app_secret = Some(AppSecret::new(DEFAULT_APP_SECRET));
    });
    let info = client.debug_token().await.unwrap();
    assert!(info.is_valid);
    assert!(info.has_scope("ads_management"));
    assert_eq!(info.expires_at, None, "a system user token never expires");
    assert_eq!(info.app_id.as_deref(), Some(DEFAULT_APP_ID));
}

#[tokio::test]
async fn debug_token_without_app_credentials_inspects_the_token_with_itself() {
    let harness = Harness::start().await;
    let info = harness.client.debug_token().await.unwrap();
    assert!(info.is_valid);
}

#[tokio::test]
async fn ad_account_pre_flight_reads_status_business_tasks_and_terms() {
    let harness = Harness::start().await;
    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(account.id, ad_account());
    assert_eq!(account.account_status, Some(AccountStatus::Active));
    assert!(account.account_status.unwrap().is_usable());
    assert!(account.business.is_some());
    assert!(account.can_manage());
    assert!(account.custom_audience_terms_accepted());
}

#[tokio::test]
async fn create_read_list_and_delete_an_audience() {
    let harness = Harness::start().await;
    let new_audience = NewAudience {
        description: Some("segment: buyers".to_owned()),
        customer_file_source: CustomerFileSource::BothUserAndPartnerProvided,
    };
    let audience_id = harness
        .client
        .create_audience(&ad_account(), "Buyers", &new_audience)
        .await
        .unwrap();
    let audience = harness.client.get_audience(&audience_id).await.unwrap();
    assert_eq!(audience.id, audience_id);
    assert_eq!(audience.name.as_deref(), Some("Buyers"));
    assert_eq!(audience.description.as_deref(), Some("segment: buyers"));
    assert!(audience.is_customer_file());
    assert_eq!(audience.ad_account, Some(ad_account()));
    assert_eq!(
        audience.customer_file_source.as_deref(),
        Some("BOTH_USER_AND_PARTNER_PROVIDED")
    );
    assert_eq!(
        audience.operation_status.as_ref().map(|status| status.code),
        Some(OPERATION_STATUS_NORMAL)
    );
    assert_eq!(
        audience.approximate_count_lower_bound, None,
        "an empty audience reads -1"
    );

    let listed = harness
        .client
        .list_custom_audiences(&ad_account())
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|audience| &audience.id)
            .collect::<Vec<_>>(),
        vec![&audience_id]
    );

    harness.client.delete_audience(&audience_id).await.unwrap();
    assert!(harness.audiences().await.is_empty());
    let error = harness.client.get_audience(&audience_id).await.unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((100, Some(33))));
}

#[tokio::test]
async fn listing_follows_cursor_paging_and_find_or_create_never_duplicates() {
    let harness = Harness::start().await;
    let n_audiences = audsync_graph::LIST_PAGE_SIZE as usize + 5;
    for audience_idx in 0..n_audiences {
        harness
            .new_audience(&format!("segment {audience_idx}"))
            .await;
    }
    let listed = harness
        .client
        .list_custom_audiences(&ad_account())
        .await
        .unwrap();
    assert_eq!(listed.len(), n_audiences);
    let list_calls = harness.outcomes("/customaudiences").await;
    assert_eq!(
        list_calls
            .iter()
            .filter(|(method, ..)| method == "GET")
            .count(),
        2,
        "two pages"
    );

    // The last one is on the second page: found, not created again.
    let last_name = format!("segment {}", n_audiences - 1);
    let found = harness
        .client
        .find_or_create_audience(&ad_account(), &last_name, &NewAudience::default())
        .await
        .unwrap();
    assert!(!found.created);
    assert_eq!(
        Some(&found.audience_id),
        listed
            .iter()
            .find(|audience| audience.name.as_deref() == Some(last_name.as_str()))
            .map(|audience| &audience.id)
    );
    // A new name is created once, then found.
    let created = harness
        .client
        .find_or_create_audience(&ad_account(), "brand new", &NewAudience::default())
        .await
        .unwrap();
    assert!(created.created);
    let again = harness
        .client
        .find_or_create_audience(&ad_account(), "brand new", &NewAudience::default())
        .await
        .unwrap();
    assert_eq!(again.audience_id, created.audience_id);
    assert!(!again.created);
    assert_eq!(harness.audiences().await.len(), n_audiences + 1);
}

#[tokio::test]
async fn find_or_create_matches_the_exact_name_only() {
    let harness = Harness::start().await;
    let similar = harness.new_audience("Buyers ").await;
    let result = harness
        .client
        .find_or_create_audience(&ad_account(), "Buyers", &NewAudience::default())
        .await
        .unwrap();
    assert!(result.created);
    assert_ne!(result.audience_id, similar);
}

#[tokio::test]
async fn add_and_remove_multi_key_users_with_a_session() {
    let config = EmulatorConfig {
        small_audience_threshold: 0,
        ..EmulatorConfig::default()
    };
    let harness = Harness::start_with(config).await;
    let audience_id = harness.new_audience("Multi").await;
    let schema = UsersSchema::MultiKey(vec![MatchKey::Email, MatchKey::Phone, MatchKey::Country]);
    let rows = vec![
        vec![sha("john.doe@example.com"), sha("16505551234"), sha("us")],
        vec![sha("mary@example.com"), String::new(), String::new()],
        vec![String::new(), sha("15559876543"), sha("us")],
    ];
    let session = Session::start(Some(3)).last();
    let response = harness
        .client
        .add_users(
            &audience_id,
            &batch(schema.clone(), rows.clone()),
            Some(&session),
        )
        .await
        .unwrap();
    assert_eq!(response.num_received, 3);
    assert_eq!(response.num_invalid_entries, 0);
    assert_eq!(response.session_id, Some(session.session_id));
    assert_eq!(response.audience_id.as_ref(), Some(&audience_id));
    let members = harness.members(&audience_id).await;
    assert_eq!(members.len(), 3);
    assert!(
        members
            .iter()
            .any(|member| member["EMAIL"] == sha("john.doe@example.com")
                && member["PHONE"] == sha("16505551234"))
    );

    let removed = harness
        .client
        .remove_users(&audience_id, &batch(schema, rows[..2].to_vec()), None)
        .await
        .unwrap();
    assert_eq!(removed.num_received, 2);
    assert!(removed.session_id.is_some(), "Graph generates one");
    let members = harness.members(&audience_id).await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["PHONE"], sha("15559876543"));

    // The payload travelled in the body: no logged URL carries it, or a token.
    for request in harness.requests().await {
        let path = request["path"].as_str().unwrap();
        assert!(!path.contains("payload"), "{path}");
        assert!(!path.contains("access_token"), "{path}");
    }
    let outcomes = harness.outcomes("/users").await;
    assert_eq!(
        outcomes,
        vec![
            ("POST".to_owned(), 200, None),
            ("DELETE".to_owned(), 200, None)
        ]
    );
}

#[tokio::test]
async fn sessions_accumulate_across_batches_and_report_their_status() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Sessions").await;
    let schema = UsersSchema::SingleKey(SingleKey::EmailSha256);
    let first = Session::start(Some(5));
    let response = harness
        .client
        .add_users(
            &audience_id,
            &batch(schema.clone(), email_rows(0, 3)),
            Some(&first),
        )
        .await
        .unwrap();
    assert_eq!(response.num_received, 3);
    let last = first.next_batch().last();
    let response = harness
        .client
        .add_users(&audience_id, &batch(schema, email_rows(3, 2)), Some(&last))
        .await
        .unwrap();
    assert_eq!(response.num_received, 5, "cumulative per session");
    let statuses = harness
        .client
        .session_status(&audience_id, first.session_id)
        .await
        .unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].session_id, Some(first.session_id));
    assert_eq!(statuses[0].num_received, Some(5));
}

#[tokio::test]
async fn appsecret_proof_is_accepted_in_both_forms_when_the_app_requires_it() {
    let mut config = EmulatorConfig::default();
    config.apps[0].require_appsecret_proof = true;
    let harness = Harness::start_with(config).await;
    let bad_proof = ErrorAction::StopAndTellUser(UserProblem::InvalidAppSecretProof);
    let error = harness.client.me().await.unwrap_err();
    assert_eq!(error.action(), bad_proof, "{error}");
    for mode in [ProofMode::Timestamped, ProofMode::Plain] {
        let client = harness.client_with(|settings| {
            settings.app_secret = Some(AppSecret::new(DEFAULT_APP_SECRET));
            settings.appsecret_proof = mode;
        });
        client.me().await.unwrap();
        client.ad_account(&ad_account()).await.unwrap();
    }
    let wrong = harness.client_with(|settings| {
        settings.app_secret = Some(AppSecret::new("not the secret"));
    });
    let error = wrong.me().await.unwrap_err();
    assert_eq!(error.action(), bad_proof, "{error}");
    assert!(!error.to_string().contains("not the secret"));
}
