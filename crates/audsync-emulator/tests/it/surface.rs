//! The Meta surface: versions, paths, parameter encodings, auth, paging, fields, sessions,
//! deletion, the request log and the state file.

use audsync_emulator::{DEFAULT_AD_ACCOUNT_ID, DEFAULT_APP_SECRET, EmulatorConfig, TokenConfig};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{Harness, account_number, email};

#[tokio::test]
async fn any_version_is_echoed_and_bad_versions_are_unknown_paths() {
    let harness = Harness::start().await;
    let reply = harness
        .send(
            harness
                .client
                .get(format!("{}/v19.0/me/", harness.emulator.base_url()))
                .bearer_auth(&harness.token),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("facebook-api-version"), Some("v19.0"));
    for path in ["/25.0/me", "/me", "/latest/me"] {
        let reply = harness
            .send(
                harness
                    .client
                    .get(format!("{}{path}", harness.emulator.base_url()))
                    .bearer_auth(&harness.token),
            )
            .await;
        reply.assert_error(400, 2500, None);
    }
}

#[tokio::test]
async fn tokens_are_checked_from_param_bearer_and_oauth_header() {
    let harness = Harness::start().await;
    let me = |request: reqwest::RequestBuilder| harness.send(request);
    let url = harness.url("me");
    assert_eq!(
        me(harness
            .client
            .get(&url)
            .header("Authorization", format!("OAuth {}", harness.token)))
        .await
        .status,
        200
    );
    assert_eq!(
        me(harness
            .client
            .get(&url)
            .query(&[("access_token", harness.token.as_str())]))
        .await
        .status,
        200
    );
    me(harness.client.get(&url))
        .await
        .assert_error(400, 104, None);
    me(harness.client.get(&url).bearer_auth("EAAunknown"))
        .await
        .assert_error(400, 190, None);
    let body = me(harness.client.get(&url).bearer_auth(&harness.token))
        .await
        .body;
    assert!(body["id"].is_string() && body["name"].is_string(), "{body}");
}

#[tokio::test]
async fn appsecret_proof_is_required_when_the_app_says_so_and_accepted_in_both_forms() {
    let mut config = EmulatorConfig::default();
    config.apps[0].require_appsecret_proof = true;
    let harness = Harness::with_config(config).await;
    let url = harness.url("me");
    let proof = |message: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(DEFAULT_APP_SECRET.as_bytes()).expect("key");
        mac.update(message.as_bytes());
        const_hex::encode(mac.finalize().into_bytes())
    };
    harness
        .send(harness.client.get(&url).bearer_auth(&harness.token))
        .await
        .assert_error(400, 100, None);
    let plain = proof(&harness.token);
    let reply = harness
        .send(
            harness
                .client
                .get(&url)
                .bearer_auth(&harness.token)
                .query(&[("appsecret_proof", plain.as_str())]),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let timed = proof(&format!("{}|{now}", harness.token));
    let query = [
        ("appsecret_proof", timed.as_str()),
        ("appsecret_time", now.as_str()),
    ];
    let reply = harness.get("me", &query).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stale = "1700000000";
    let stale_proof = proof(&format!("{}|{stale}", harness.token));
    let reply = harness
        .get(
            "me",
            &[
                ("appsecret_proof", stale_proof.as_str()),
                ("appsecret_time", stale),
            ],
        )
        .await;
    reply.assert_error(400, 100, None);
    assert_eq!(
        reply.body["error"]["message"],
        "Invalid appsecret_proof provided in the API argument"
    );
}

#[tokio::test]
async fn an_audience_of_an_account_the_token_cannot_reach_is_100_33() {
    let mut config = EmulatorConfig::default()
        .with_ad_account("act_111")
        .with_ad_account("act_222");
    let mut limited = TokenConfig::system_user("EAAonlyOne");
    limited.account_tasks = [("111".to_owned(), vec!["MANAGE".to_owned()])].into();
    config.tokens.push(limited);
    let mut harness = Harness::with_config(config).await;
    let foreign = harness
        .post(
            "act_222/customaudiences",
            json!({"name": "theirs", "customer_file_source": "USER_PROVIDED_ONLY"}),
        )
        .await;
    let foreign_id = foreign.body["id"]
        .as_str()
        .expect("created with the all-accounts token")
        .to_owned();
    harness.token = "EAAonlyOne".to_owned();
    let reply = harness.get(&foreign_id, &[("fields", "name")]).await;
    reply.assert_error(400, 100, Some(33));
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains(&format!("Object with ID '{foreign_id}' does not exist"))
    );
    harness
        .add(&foreign_id, json!(["EMAIL"]), vec![json!([email(1)])])
        .await
        .assert_error(400, 100, Some(33));
    harness
        .get("act_222", &[])
        .await
        .assert_error(400, 100, Some(33));
    harness
        .get("999", &[])
        .await
        .assert_error(400, 100, Some(33));
    assert_eq!(harness.get("act_111", &[]).await.status, 200);
}

#[tokio::test]
async fn audience_list_pages_with_cursors_and_next_only_when_more() {
    let harness = Harness::start().await;
    let mut created = Vec::new();
    for idx in 0..7 {
        created.push(harness.create_audience(&format!("audience {idx}")).await);
    }
    created.reverse(); // newest first
    let path = format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut n_pages = 0;
    loop {
        let mut query = vec![("fields", "id,name"), ("limit", "3")];
        if let Some(after) = &after {
            query.push(("after", after.as_str()));
        }
        let reply = harness.get(&path, &query).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        n_pages += 1;
        for audience in reply.body["data"].as_array().expect("data") {
            assert!(audience["name"].is_string());
            seen.push(audience["id"].as_str().expect("id").to_owned());
        }
        let paging = &reply.body["paging"];
        assert!(
            paging["cursors"]["before"].is_string() && paging["cursors"]["after"].is_string(),
            "{paging}"
        );
        match paging.get("next") {
            Some(next) => {
                let next = next.as_str().expect("url");
                assert!(
                    !next.contains("access_token"),
                    "the token came in a header, so links do not carry it: {next}"
                );
                after = Some(
                    paging["cursors"]["after"]
                        .as_str()
                        .expect("cursor")
                        .to_owned(),
                );
            }
            None => break,
        }
    }
    assert_eq!(n_pages, 3);
    assert_eq!(seen, created);
    let ids_only = harness.get(&path, &[]).await;
    assert_eq!(
        ids_only.body["data"][0],
        json!({"id": created[0]}),
        "no fields: ids only"
    );
    let bad = harness.get(&path, &[("after", "garbage")]).await;
    bad.assert_error(400, 100, None);
}

#[tokio::test]
async fn next_link_is_followable_and_carries_a_param_token() {
    let harness = Harness::start().await;
    for idx in 0..3 {
        harness.create_audience(&format!("a{idx}")).await;
    }
    let first = harness
        .send(
            harness
                .client
                .get(harness.url(&format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences")))
                .query(&[
                    ("fields", "id,name"),
                    ("limit", "2"),
                    ("access_token", harness.token.as_str()),
                ]),
        )
        .await;
    let next = first.body["paging"]["next"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let second = harness.send(harness.client.get(&next)).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["data"].as_array().map(Vec::len), Some(1));
    assert!(second.body["data"][0]["name"].is_string());
    assert!(second.body["paging"].get("next").is_none());
}

#[tokio::test]
async fn audience_fields_selection_and_unknown_fields() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("fields").await;
    let all = "id,account_id,name,description,subtype,customer_file_source,approximate_count_lower_bound,approximate_count_upper_bound,data_source,delivery_status,operation_status,time_created,time_updated,time_content_updated,retention_days,is_value_based";
    let body = harness.audience(&audience_id, all).await;
    assert_eq!(body["account_id"], account_number());
    assert_eq!(body["subtype"], "CUSTOM");
    assert_eq!(body["customer_file_source"], "USER_PROVIDED_ONLY");
    assert_eq!(body["retention_days"], 0);
    assert_eq!(body["is_value_based"], false);
    assert_eq!(body["data_source"]["type"], "UNKNOWN");
    assert_eq!(
        body["operation_status"],
        json!({"code": 200, "description": "Normal"})
    );
    assert_eq!(body["delivery_status"]["code"], 300);
    assert!(body["time_created"].is_u64());
    assert_eq!(body.as_object().map(|body| body.len()), Some(16));
    harness
        .add(
            &audience_id,
            json!(["EMAIL", "PHONE"]),
            vec![json!([email(1), ""])],
        )
        .await;
    let body = harness
        .audience(&audience_id, "data_source{type,sub_type}")
        .await;
    assert_eq!(
        (
            body["data_source"]["type"].as_str(),
            body["data_source"]["sub_type"].as_str()
        ),
        (Some("FILE_IMPORTED"), Some("MULTI_HASHES"))
    );
    let reply = harness
        .get(&audience_id, &[("fields", "id,nonsense")])
        .await;
    reply.assert_error(400, 100, None);
    assert_eq!(
        reply.body["error"]["message"],
        "(#100) Tried accessing nonexisting field (nonsense) on node type (CustomAudience)"
    );
    assert_eq!(
        harness.get(&audience_id, &[]).await.body,
        json!({"id": audience_id})
    );
}

#[tokio::test]
async fn create_validates_name_subtype_and_customer_file_source() {
    let harness = Harness::start().await;
    let path = format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences");
    let cases = [
        (
            json!({"subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
            "(#100) The parameter name is required",
        ),
        (
            json!({"name": "x", "subtype": "CUSTOM"}),
            "(#100) The parameter customer_file_source is required",
        ),
        (
            json!({"name": "x", "subtype": "NOPE", "customer_file_source": "USER_PROVIDED_ONLY"}),
            "(#100) Param subtype must be one of",
        ),
        (
            json!({"name": "x", "customer_file_source": "SOMEWHERE"}),
            "(#100) Param customer_file_source must be one of",
        ),
    ];
    for (body, message) in cases {
        let reply = harness.post(&path, body).await;
        reply.assert_error(400, 100, None);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .expect("message")
                .starts_with(message),
            "{}",
            reply.text
        );
    }
    harness
        .post(
            "act_1/customaudiences",
            json!({"name": "x", "customer_file_source": "USER_PROVIDED_ONLY"}),
        )
        .await
        .assert_error(400, 100, Some(33));
}

#[tokio::test]
async fn multipart_create_and_post_method_delete_on_users() {
    let harness = Harness::start().await;
    let boundary = "AudSyncBoundary42";
    let mut body = String::new();
    for (name, value) in [
        ("name", "multipart"),
        ("subtype", "CUSTOM"),
        ("customer_file_source", "PARTNER_PROVIDED_ONLY"),
        ("access_token", harness.token.as_str()),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let reply = harness
        .send(
            harness
                .client
                .post(harness.url(&format!("{DEFAULT_AD_ACCOUNT_ID}/customaudiences")))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let audience_id = reply.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        harness.audience(&audience_id, "customer_file_source").await["customer_file_source"],
        "PARTNER_PROVIDED_ONLY"
    );
    harness.add_emails(&audience_id, 0, 2).await;
    assert_eq!(harness.members(&audience_id).await.len(), 2);
    // The default threshold (100) refuses this removal: the refusal proves the POST was taken as
    // a removal (membership.rs removes with the threshold off).
    let reply = harness
        .post(
            &format!("{audience_id}/users"),
            json!({"method": "DELETE", "payload": {"schema": ["EMAIL"], "data": [[email(0)]]}}),
        )
        .await;
    reply.assert_error(400, 200, Some(1_870_047));
}

#[tokio::test]
async fn delete_audience_then_it_is_gone() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("doomed").await;
    let reply = harness.delete(&audience_id, json!({})).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (200, json!({"success": true}))
    );
    harness
        .get(&audience_id, &[])
        .await
        .assert_error(400, 100, Some(33));
    harness
        .delete(&audience_id, json!({}))
        .await
        .assert_error(400, 100, Some(33));
}

#[tokio::test]
async fn sessions_edge_reports_cumulative_numbers_as_strings() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("sessions").await;
    for (seq, last) in [(1, false), (2, true)] {
        let reply = harness
            .post(
                &format!("{audience_id}/users"),
                json!({"session": {"session_id": 55, "batch_seq": seq, "last_batch_flag": last},
                       "payload": {"schema": ["EMAIL"], "data": [[email(seq)], ["BAD"]]}}),
            )
            .await;
        assert_eq!(reply.body["num_received"], 2 * seq, "{}", reply.text);
    }
    let reply = harness
        .get(&format!("{audience_id}/sessions"), &[("session_id", "55")])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let session = &reply.body["data"][0];
    assert_eq!(session["session_id"], "55");
    assert_eq!(session["num_received"], "4");
    assert_eq!(session["num_invalid_entries"], "2");
    assert_eq!(session["num_matched"], "2");
    assert_eq!(session["stage"], "finished");
    assert!(
        session["start_time"]
            .as_str()
            .is_some_and(|time| time.parse::<u64>().is_ok())
    );
}

#[tokio::test]
async fn users_of_any_audience_removes_from_every_audience_of_the_account() {
    let harness = Harness::start().await;
    let first = harness.create_audience("one").await;
    let second = harness.create_audience("two").await;
    // crm-7's first row shares email 1 with crm-1; its second row shares only crm-7 with it.
    harness
        .add(
            &first,
            json!(["EMAIL", "EXTERN_ID"]),
            vec![
                json!([email(1), "crm-1"]),
                json!([email(1), "crm-7"]),
                json!([email(4), "crm-7"]),
                json!([email(2), "crm-2"]),
            ],
        )
        .await;
    harness
        .add(
            &second,
            json!(["EMAIL"]),
            vec![json!([email(1)]), json!([email(3)])],
        )
        .await;
    let reply = harness
        .delete(
            &format!("{DEFAULT_AD_ACCOUNT_ID}/usersofanyaudience"),
            json!({"payload": {"schema": "EMAIL_SHA256", "data": [email(1)]}}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (200, json!({"success": true}))
    );
    assert_eq!(
        harness.members(&first).await,
        [
            json!({"EMAIL": email(4), "EXTERN_ID": "crm-7"}),
            json!({"EMAIL": email(2), "EXTERN_ID": "crm-2"})
        ]
    );
    assert_eq!(harness.members(&second).await, [json!({"EMAIL": email(3)})]);
}

#[tokio::test]
async fn request_log_redacts_tokens_and_records_codes() {
    let harness = Harness::start().await;
    harness
        .send(
            harness
                .client
                .get(harness.url("me"))
                .query(&[("access_token", harness.token.as_str())]),
        )
        .await;
    harness.get("act_1", &[]).await;
    let log = harness.control("requests").await;
    let text = log.to_string();
    assert!(!text.contains(&harness.token), "{text}");
    let entries = log["data"].as_array().expect("entries");
    assert_eq!(entries[0]["path"], "/v25.0/me?access_token=REDACTED");
    assert_eq!(
        (entries[0]["method"].as_str(), entries[0]["status"].as_u64()),
        (Some("GET"), Some(200))
    );
    assert_eq!(
        (entries[1]["code"].as_u64(), entries[1]["subcode"].as_u64()),
        (Some(100), Some(33))
    );
}

#[tokio::test]
async fn reset_forgets_audiences_and_the_log() {
    let harness = Harness::start().await;
    harness.create_audience("gone after reset").await;
    let (status, _) = harness.control_post("reset", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(harness.control("audiences").await["data"], json!([]));
    assert_eq!(harness.control("requests").await["data"], json!([]));
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let path = std::env::temp_dir().join(format!(
        "audsync-emulator-state-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let config = EmulatorConfig::default().with_state_file(&path);
    let harness = Harness::with_config(config.clone()).await;
    let audience_id = harness.create_audience("persistent").await;
    harness
        .add(
            &audience_id,
            json!(["EMAIL", "EXTERN_ID"]),
            vec![json!([email(1), "crm-1"])],
        )
        .await;
    harness.emulator.shutdown().await;
    assert!(!std::fs::read_to_string(&path).expect("written").is_empty());
    let harness = Harness::with_config(config).await;
    assert_eq!(
        harness.members(&audience_id).await,
        [json!({"EMAIL": email(1), "EXTERN_ID": "crm-1"})]
    );
    let data_source = harness.audience(&audience_id, "name,data_source").await;
    assert_eq!(
        (
            data_source["name"].as_str(),
            data_source["data_source"]["sub_type"].as_str()
        ),
        (Some("persistent"), Some("MULTI_HASHES"))
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn every_error_of_the_surface_is_json_with_the_envelope() {
    let harness = Harness::start().await;
    let audience_id = harness.create_audience("edges").await;
    let reply = harness.get(&format!("{audience_id}/nonsense"), &[]).await;
    reply.assert_error(400, 100, None);
    let reply = harness
        .send(
            harness
                .client
                .put(harness.url(&audience_id))
                .bearer_auth(&harness.token),
        )
        .await;
    reply.assert_error(400, 100, Some(33));
    let value: Value = reply.body;
    assert!(
        value["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("Unsupported put request")
    );
}
