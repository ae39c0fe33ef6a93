//! Replace sessions through `/usersreplace`: the happy path and every 2650 replace error.

use std::time::Duration;

use audsync_emulator::EmulatorConfig;
use audsync_graph::{
    AudienceId, DataProblem, ErrorAction, OPERATION_STATUS_NORMAL, Session, SingleKey, UserProblem,
    UsersBatch, UsersSchema,
};

use crate::support::{Harness, batch, code_and_subcode, email_rows};

fn emails(first: usize, n: usize) -> UsersBatch {
    batch(
        UsersSchema::SingleKey(SingleKey::EmailSha256),
        email_rows(first, n),
    )
}

async fn filled(harness: &Harness, name: &str, n: usize) -> AudienceId {
    let audience_id = harness.new_audience(name).await;
    harness
        .client
        .add_users(&audience_id, &emails(0, n), None)
        .await
        .unwrap();
    audience_id
}

#[tokio::test]
async fn a_replace_session_swaps_the_members_on_the_last_batch() {
    let harness = Harness::start().await;
    let audience_id = filled(&harness, "Replace", 3).await;
    let first = Session::start(Some(5));
    let response = harness
        .client
        .replace_users(&audience_id, &emails(100, 3), &first)
        .await
        .unwrap();
    assert_eq!(response.num_received, 3);
    assert_eq!(response.session_id, Some(first.session_id));
    // While the session runs the old members stay and the audience is not Normal.
    assert_eq!(harness.members(&audience_id).await.len(), 3);
    let during = harness.client.get_audience(&audience_id).await.unwrap();
    assert!(!during.is_operation_normal());

    let last = first.next_batch().last();
    let response = harness
        .client
        .replace_users(&audience_id, &emails(103, 2), &last)
        .await
        .unwrap();
    assert_eq!(response.num_received, 5, "cumulative per session");
    let members = harness.members(&audience_id).await;
    assert_eq!(members.len(), 5);
    let after = harness.client.get_audience(&audience_id).await.unwrap();
    assert_eq!(
        after.operation_status.map(|status| status.code),
        Some(OPERATION_STATUS_NORMAL)
    );
}

#[tokio::test]
async fn a_second_replace_during_one_is_a_conflict_until_the_first_ends() {
    let harness = Harness::start().await;
    let audience_id = filled(&harness, "Conflict", 2).await;
    let running = Session::start(None);
    harness
        .client
        .replace_users(&audience_id, &emails(10, 1), &running)
        .await
        .unwrap();
    let other = Session::start(None);
    let error = harness
        .client
        .replace_users(&audience_id, &emails(20, 1), &other)
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870145))));
    assert_eq!(error.action(), ErrorAction::ReplaceConflict);
    // /users during a replace is refused the same way.
    let error = harness
        .client
        .add_users(&audience_id, &emails(30, 1), None)
        .await
        .unwrap_err();
    assert_eq!(error.action(), ErrorAction::ReplaceConflict);
    // The caller waits for Normal: finishing the running session brings it back.
    harness
        .client
        .replace_users(&audience_id, &emails(11, 1), &running.next_batch().last())
        .await
        .unwrap();
    assert!(
        harness
            .client
            .get_audience(&audience_id)
            .await
            .unwrap()
            .is_operation_normal()
    );
    harness
        .client
        .replace_users(&audience_id, &emails(20, 1), &other.last())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_batch_before_batch_one_is_out_of_order() {
    let harness = Harness::start().await;
    let audience_id = filled(&harness, "Order", 1).await;
    let error = harness
        .client
        .replace_users(
            &audience_id,
            &emails(0, 1),
            &Session::start(None).next_batch(),
        )
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870147))));
    assert_eq!(
        error.action(),
        ErrorAction::DropAndReport(DataProblem::ReplaceBatchOutOfOrder)
    );
}

#[tokio::test]
async fn a_batch_after_the_last_one_finds_the_session_complete() {
    let harness = Harness::start().await;
    let audience_id = filled(&harness, "Complete", 1).await;
    let session = Session::start(None).last();
    harness
        .client
        .replace_users(&audience_id, &emails(0, 1), &session)
        .await
        .unwrap();
    let error = harness
        .client
        .replace_users(&audience_id, &emails(1, 1), &session.next_batch())
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870159))));
    assert_eq!(
        error.action(),
        ErrorAction::DropAndReport(DataProblem::ReplaceSessionAlreadyComplete)
    );
}

#[tokio::test]
async fn a_session_past_its_window_has_timed_out() {
    let config = EmulatorConfig {
        replace_session_timeout: Duration::ZERO,
        ..EmulatorConfig::default()
    };
    let harness = Harness::start_with(config).await;
    let audience_id = filled(&harness, "Timeout", 1).await;
    let session = Session::start(None);
    harness
        .client
        .replace_users(&audience_id, &emails(0, 2), &session)
        .await
        .unwrap();
    let error = harness
        .client
        .replace_users(&audience_id, &emails(2, 1), &session.next_batch().last())
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870158))));
    assert_eq!(
        error.action(),
        ErrorAction::DropAndReport(DataProblem::ReplaceSessionTimedOut)
    );
    assert_eq!(
        harness.members(&audience_id).await.len(),
        2,
        "the audience holds what was uploaded"
    );
}

#[tokio::test]
async fn an_audience_too_large_for_replace_is_told_to_the_user() {
    let config = EmulatorConfig {
        replace_max_audience_size: 2,
        ..EmulatorConfig::default()
    };
    let harness = Harness::start_with(config).await;
    let audience_id = filled(&harness, "Large", 3).await;
    let error = harness
        .client
        .replace_users(&audience_id, &emails(0, 1), &Session::start(None))
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870144))));
    assert_eq!(
        error.action(),
        ErrorAction::StopAndTellUser(UserProblem::AudienceTooLargeToReplace)
    );
}

#[tokio::test]
async fn a_failed_replace_is_returned_to_run_again() {
    let harness = Harness::start().await;
    let audience_id = filled(&harness, "Failed", 2).await;
    harness
        .set_scenario_toml("[[script]]\nfault = \"replace-error\"\ntimes = 1\n")
        .await;
    let session = Session::start(None);
    let error = harness
        .client
        .replace_users(&audience_id, &emails(10, 1), &session)
        .await
        .unwrap_err();
    assert_eq!(code_and_subcode(&error), Some((2650, Some(1870148))));
    assert_eq!(error.action(), ErrorAction::RetryReplace);
    assert_eq!(
        harness.outcomes("usersreplace").await.len(),
        1,
        "not retried by the loop"
    );
    assert_eq!(harness.members(&audience_id).await.len(), 2, "unchanged");
    // Running the whole session again succeeds.
    let again = Session::start(None).last();
    harness
        .client
        .replace_users(&audience_id, &emails(10, 1), &again)
        .await
        .unwrap();
    assert_eq!(harness.members(&audience_id).await.len(), 1);
}
