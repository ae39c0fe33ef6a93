//! Every built-in emulator scenario, classified into what the caller must do.

use audsync_emulator::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use audsync_graph::{
    AccountStatus, AppSecret, AudienceId, ErrorAction, GraphError, NewAudience, SingleKey,
    UserProblem, UsersSchema,
};

use crate::support::{Harness, ad_account, batch, code_and_subcode, email_rows};

fn user_problem(error: &GraphError) -> UserProblem {
    match error.action() {
        ErrorAction::StopAndTellUser(problem) => problem,
        other => panic!("expected a stop, got {other:?} for {error}"),
    }
}

async fn upload(
    harness: &Harness,
    audience_id: &AudienceId,
) -> Result<audsync_graph::UsersResponse, GraphError> {
    harness
        .client
        .add_users(audience_id, &upload_rows(), None)
        .await
}

fn upload_rows() -> audsync_graph::UsersBatch {
    batch(
        UsersSchema::SingleKey(SingleKey::EmailSha256),
        email_rows(0, 2),
    )
}

async fn create(harness: &Harness) -> Result<AudienceId, GraphError> {
    harness
        .client
        .create_audience(&ad_account(), "Scenario", &NewAudience::default())
        .await
}

#[tokio::test]
async fn tos_not_accepted_stops_creates_and_uploads_with_the_terms_link() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Before").await;
    harness.add_scenario("tos-not-accepted").await;

    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert!(!account.custom_audience_terms_accepted());
    let expected_url =
        "https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772";
    assert_eq!(account.terms_url(), expected_url);

    let error = create(&harness).await.unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((200, Some(1870034))));
    assert_eq!(
        user_problem(&error).terms_url().as_deref(),
        Some(expected_url)
    );

    // The upload is about an audience whose ad account the client learned at creation.
    let error = upload(&harness, &audience_id).await.unwrap_err();
    assert_eq!(
        user_problem(&error).terms_url().as_deref(),
        Some(expected_url)
    );

    // A fresh client does not know the audience's ad account until it is told.
    let fresh = harness.client_with(|_| {});
    let error = fresh
        .add_users(&audience_id, &upload_rows(), None)
        .await
        .unwrap_err();
    assert_eq!(
        user_problem(&error),
        UserProblem::TermsNotAccepted { ad_account: None }
    );
    fresh.bind_audience(&audience_id, &ad_account());
    let error = fresh
        .add_users(&audience_id, &upload_rows(), None)
        .await
        .unwrap_err();
    assert_eq!(
        user_problem(&error).terms_url().as_deref(),
        Some(expected_url)
    );
}

#[tokio::test]
async fn expired_token_is_told_to_the_user_and_debug_token_says_invalid() {
    let harness = Harness::with_scenario("expired-token").await;
    let error = harness.client.ad_account(&ad_account()).await.unwrap_err();
    assert_eq!(user_problem(&error), UserProblem::TokenExpired);
    assert!(error.to_string().contains("190/463"), "{error}");
    let with_app = harness.client_with(|settings| {
        settings.app_id = Some(DEFAULT_APP_ID.to_owned());
        settings.app_secret = Some(AppSecret::new(DEFAULT_APP_SECRET));
    });
    let info = with_app.debug_token().await.unwrap();
    assert!(!info.is_valid);
}

#[tokio::test]
async fn revoked_token_is_an_invalid_token() {
    let harness = Harness::with_scenario("revoked-token").await;
    let error = harness.client.me().await.unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((190, Some(467))));
    assert_eq!(user_problem(&error), UserProblem::TokenInvalid);
}

#[tokio::test]
async fn no_ads_management_fails_writes_with_294_while_reads_work() {
    let harness = Harness::with_scenario("no-ads-management").await;
    harness.client.ad_account(&ad_account()).await.unwrap();
    let permissions = harness.client.me_permissions().await.unwrap();
    assert!(
        permissions
            .iter()
            .any(|permission| permission.permission == "ads_management" && !permission.is_granted())
    );
    let error = create(&harness).await.unwrap_err();
    assert_eq!(
        user_problem(&error),
        UserProblem::MissingPermission {
            permission: Some("ads_management")
        }
    );
}

#[tokio::test]
async fn not_admin_fails_writes_with_100_33() {
    let harness = Harness::with_scenario("not-admin").await;
    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert!(!account.can_manage());
    let error = create(&harness).await.unwrap_err();
    assert_eq!(user_problem(&error), UserProblem::NotAdminOrMissing);
}

#[tokio::test]
async fn disabled_account_reads_as_not_usable() {
    let harness = Harness::with_scenario("disabled-account").await;
    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(account.account_status, Some(AccountStatus::Disabled));
    assert!(!account.account_status.unwrap().is_usable());
    assert_eq!(account.disable_reason, Some(1));
}

#[tokio::test]
async fn flagged_audience_reads_471_and_refuses_uploads() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Flagged").await;
    harness.add_scenario("flagged-audience").await;
    let audience = harness.client.get_audience(&audience_id).await.unwrap();
    assert!(audience.is_flagged());
    let error = upload(&harness, &audience_id).await.unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((100, Some(1713230))));
    assert_eq!(user_problem(&error), UserProblem::AudienceFlagged);
}

#[tokio::test]
async fn throttled_scenario_waits_for_the_announced_time_then_succeeds() {
    // The built-in scenario: 5 calls per hour, access regained after 2 s.
    let harness = Harness::with_scenario("throttled").await;
    for _ in 0..6 {
        harness.client.ad_account(&ad_account()).await.unwrap();
    }
    let outcomes = harness.outcomes("act_").await;
    let throttled = outcomes
        .iter()
        .filter(|(_, _, code)| *code == Some(80003))
        .count();
    assert_eq!(
        throttled, 1,
        "one throttle, then the wait was long enough: {outcomes:?}"
    );
    assert_eq!(outcomes.len(), 7);
    assert_eq!(outcomes.last().map(|(_, status, _)| *status), Some(200));
}

#[tokio::test]
async fn slow_scenario_still_answers_within_the_timeout() {
    let harness = Harness::with_scenario("slow").await;
    let account = harness.client.ad_account(&ad_account()).await.unwrap();
    assert_eq!(account.id, ad_account());
}

#[tokio::test]
async fn slow_scenario_past_the_timeout_is_a_timeout_retried_then_returned() {
    let harness = Harness::with_scenario("slow").await;
    let impatient = harness.client_with(|settings| {
        settings.timeouts.request = std::time::Duration::from_millis(50);
        settings.retry.max_attempts = 2;
    });
    let error = impatient.ad_account(&ad_account()).await.unwrap_err();
    assert_eq!(error, GraphError::Timeout);
    assert_eq!(error.action(), ErrorAction::RetrySoon);
}

#[tokio::test]
async fn flaky_scenario_is_absorbed_by_retries() {
    let harness = Harness::start().await;
    let audience_id = harness.new_audience("Flaky").await;
    // The built-in flaky mix, but a held-back answer is late only by more than our timeout.
    harness
        .set_scenario_toml(
            r#"
            [faults]
            share = 0.25
            kinds = ["unknown-error", "service-error", "slow-answer", "dropped-connection", "html-error"]
            slow_answer_ms = 3000
            "#,
        )
        .await;
    let client = harness.client_with(|settings| {
        settings.timeouts.request = std::time::Duration::from_millis(500);
        settings.retry.max_attempts = 8;
    });
    let schema = UsersSchema::SingleKey(SingleKey::EmailSha256);
    for batch_idx in 0..12 {
        let rows = batch(schema.clone(), email_rows(batch_idx * 10, 10));
        let response = client.add_users(&audience_id, &rows, None).await.unwrap();
        assert_eq!(response.num_received, 10);
    }
    assert_eq!(harness.members(&audience_id).await.len(), 120);
    let faults: Vec<_> = harness
        .requests()
        .await
        .into_iter()
        .filter_map(|request| request["fault"].as_str().map(str::to_owned))
        .collect();
    assert!(!faults.is_empty(), "the scenario injected faults");
}
