//! `audsync status` against the emulator: members held, last run, size, statuses, matching and
//! token lines; `--offline`; Meta unreachable; a flagged audience; an expiring token.
//!
//! The synced state is made here, independently of `audsync sync`: the audience and its members
//! are uploaded to the emulator over HTTP, and the same members, the audience binding and a run
//! record are written through the store's API.

use std::time::{SystemTime, UNIX_EPOCH};

use audsync::store::{AudienceRecord, BatchRef, MemberRow, Operation, RunStatus, Store};
use audsync_emulator::{DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, EmulatorConfig};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::check::{audsync_in, connector_toml, default_vars};
use crate::emulator::{Sandbox, http};
use crate::support::{Run, TestDir};

/// `status` output lines as (label, text) pairs, and each fix.
fn field<'a>(stdout: &'a str, segment: &str, label: &str) -> &'a str {
    let block = stdout
        .split("\n\n")
        .find(|block| block.starts_with(&format!("Segment {segment:?}")))
        .unwrap_or_else(|| panic!("no segment {segment:?} in\n{stdout}"));
    block
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("  ")?.strip_prefix(label)?;
            rest.starts_with(' ').then(|| rest.trim())
        })
        .unwrap_or_else(|| panic!("no {label:?} line for {segment:?} in\n{block}"))
}

fn heading<'a>(stdout: &'a str, segment: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("Segment {segment:?}")))
        .unwrap_or_else(|| panic!("no heading for {segment:?} in\n{stdout}"))
}

/// A config with `segments` (each reading `members.csv`) on one connector.
fn write_config(dir: &TestDir, base_url: &str, segments: &[&str], with_app: bool) {
    dir.write("members.csv", "id,email\n");
    let mut text = format!(
        "store = \"sqlite://audsync.db\"\n{}",
        connector_toml("meta", base_url, DEFAULT_AD_ACCOUNT_ID, with_app)
    );
    for segment in segments {
        text.push_str(&format!(
            "\n[[segment]]\nname = \"{segment}\"\nconnector = \"meta\"\nsource = \"members.csv\"\n"
        ));
    }
    dir.write("audsync.toml", text);
}

fn store_url(dir: &TestDir) -> String {
    format!("sqlite://{}", dir.path("audsync.db").display())
}

/// Creates `CA_<segment>` at the emulator with `n_members` members, and records the same in the
/// store: the binding, the members and a succeeded run. Returns the audience id.
fn synced_segment(sandbox: &Sandbox, dir: &TestDir, segment: &str, n_members: usize) -> String {
    let base_url = sandbox.base_url();
    let (status, created) = http(
        reqwest::Method::POST,
        &format!("{base_url}/v25.0/{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
        DEFAULT_ACCESS_TOKEN,
        Some(json!({
            "name": format!("CA_{segment}"),
            "subtype": "CUSTOM",
            "customer_file_source": "USER_PROVIDED_ONLY",
        })),
    );
    assert_eq!(status, 200, "{created}");
    let audience_id = created["id"].as_str().expect("an id").to_string();
    let rows: Vec<MemberRow> = (0..n_members)
        .map(|member_idx| {
            let user_id = format!("{segment}-{member_idx}");
            let email = format!("{user_id}@example.com");
            MemberRow {
                fingerprint: [u8::try_from(member_idx % 251).expect("small"); 16],
                wire_row: vec![
                    user_id.clone(),
                    const_hex::encode(Sha256::digest(email.as_bytes())),
                ],
                user_id,
            }
        })
        .collect();
    let data: Vec<&Vec<String>> = rows.iter().map(|row| &row.wire_row).collect();
    let (status, uploaded) = http(
        reqwest::Method::POST,
        &format!("{base_url}/v25.0/{audience_id}/users"),
        DEFAULT_ACCESS_TOKEN,
        Some(json!({"payload": {"schema": ["EXTERN_ID", "EMAIL"], "data": data}})),
    );
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["num_received"], n_members);

    let store_url = store_url(dir);
    let segment = segment.to_string();
    let audience = audience_id.clone();
    sandbox.block_on(async move {
        let store = Store::connect(&store_url).await.expect("open the store");
        store
            .save_audience(&AudienceRecord {
                segment: segment.clone(),
                connector: "meta".to_string(),
                ad_account_id: DEFAULT_AD_ACCOUNT_ID.trim_start_matches("act_").to_string(),
                audience_id: audience,
                audience_name: format!("CA_{segment}"),
                schema: vec!["EXTERN_ID".to_string(), "EMAIL".to_string()],
                created_at: SystemTime::now(),
            })
            .await
            .expect("save the audience");
        let run_id = store.begin_run(&segment).await.expect("begin a run");
        let batch = BatchRef {
            run_id: &run_id,
            segment: &segment,
            batch_idx: 0,
            operation: Operation::Add,
        };
        let schema = ["EXTERN_ID".to_string(), "EMAIL".to_string()];
        store
            .journal_batch_sent(&batch, &schema, &rows, None)
            .await
            .expect("journal the batch");
        store
            .commit_batch(&batch, &rows, 0)
            .await
            .expect("commit the batch");
        let report = json!({
            "rows_read": rows.len() + 7, "members": rows.len(), "rejected": 7,
            "added": rows.len(), "removed": 0, "replaced": 0, "problem": null,
        });
        store
            .finish_run(&run_id, RunStatus::Succeeded, &report)
            .await
            .expect("finish the run");
        store.close().await;
    });
    audience_id
}

fn status(dir: &TestDir, args: &[&str]) -> Run {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    let run = audsync_in(dir, &all, &default_vars());
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    run
}

#[test]
fn shows_store_and_meta_for_each_segment() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let dir = TestDir::new();
    write_config(
        &dir,
        &sandbox.base_url(),
        &["newsletter", "vip", "fresh"],
        false,
    );
    let newsletter_id = synced_segment(&sandbox, &dir, "newsletter", 1_200);
    synced_segment(&sandbox, &dir, "vip", 40);

    let run = status(&dir, &[]);
    let out = &run.stdout;
    assert_eq!(
        heading(out, "newsletter"),
        format!(
            "Segment \"newsletter\" → audience \"CA_newsletter\" (Meta id {newsletter_id}) in ad \
             account act_542676646349772, connector \"meta\""
        )
    );
    assert!(field(out, "newsletter", "members held").starts_with("1,200 "));
    let last_run = field(out, "newsletter", "last run");
    assert!(last_run.starts_with("succeeded "), "{last_run}");
    assert!(
        last_run.ends_with(": 1,207 read, 1,200 members, 7 rejected, 1,200 added, 0 removed"),
        "{last_run}"
    );
    // The emulator reports ±5 % around the member count from 1,000 members on.
    assert_eq!(
        field(out, "newsletter", "size at Meta"),
        "about 1,140–1,260 people (Meta's estimate of matched people), 95–100 % of the members held"
    );
    assert_eq!(
        field(out, "newsletter", "audience status"),
        "200 Normal: ready"
    );
    assert_eq!(
        field(out, "newsletter", "delivery"),
        "200: ready for use in ads"
    );
    assert!(
        field(out, "newsletter", "matching").starts_with("in progress (Meta takes up to 24 hours)"),
        "{out}"
    );
    let token = field(out, "newsletter", "token");
    assert!(
        token.starts_with("pass: valid system-user token"),
        "{token}"
    );
    assert!(token.contains("never expires"), "{token}");

    assert!(
        field(out, "vip", "size at Meta").starts_with("fewer than 1,000 matched people so far")
    );
    assert!(
        field(out, "vip", "delivery").starts_with("300: too small"),
        "{out}"
    );
    assert!(field(out, "vip", "members held").starts_with("40 "));

    assert_eq!(
        heading(out, "fresh"),
        "Segment \"fresh\" → audience \"CA_fresh\", not created yet, connector \"meta\""
    );
    assert_eq!(field(out, "fresh", "last run"), "none yet");
    assert!(
        field(out, "fresh", "Meta").starts_with("no audience yet"),
        "{out}"
    );
    assert_eq!(field(out, "fresh", "matching"), "nothing uploaded yet");

    // One segment, named.
    let run = status(&dir, &["vip"]);
    assert!(run.stdout.starts_with("Segment \"vip\""), "{}", run.stdout);
    assert!(!run.stdout.contains("newsletter"), "{}", run.stdout);
}

#[test]
fn works_offline_and_when_meta_cannot_be_reached() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let dir = TestDir::new();
    write_config(&dir, &sandbox.base_url(), &["newsletter"], false);
    synced_segment(&sandbox, &dir, "newsletter", 30);

    let run = status(&dir, &["newsletter", "--offline"]);
    assert_eq!(
        field(&run.stdout, "newsletter", "Meta"),
        "not asked (--offline)"
    );
    assert!(field(&run.stdout, "newsletter", "members held").starts_with("30 "));
    assert!(!run.stdout.contains("size at Meta"), "{}", run.stdout);
    assert!(!run.stdout.contains("  token"), "{}", run.stdout);
    // Offline, the last run that sent changes starts the 24-hour window.
    assert!(field(&run.stdout, "newsletter", "matching").starts_with("in progress"));

    drop(sandbox);
    let run = status(&dir, &[]);
    let meta = field(&run.stdout, "newsletter", "Meta");
    assert!(
        meta.starts_with("Meta could not be reached") && meta.contains("state store holds"),
        "{meta}"
    );
    assert!(field(&run.stdout, "newsletter", "members held").starts_with("30 "));
    assert!(field(&run.stdout, "newsletter", "last run").starts_with("succeeded"));
}

#[test]
fn a_flagged_audience_says_what_to_do() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let dir = TestDir::new();
    write_config(&dir, &sandbox.base_url(), &["health"], false);
    synced_segment(&sandbox, &dir, "health", 10);
    let (code, body) = http(
        reqwest::Method::POST,
        &format!("{}/_emulator/scenario", sandbox.base_url()),
        DEFAULT_ACCESS_TOKEN,
        Some(json!({"name": "flagged-audience"})),
    );
    assert_eq!(code, 200, "{body}");

    let run = status(&dir, &[]);
    let block = run.stdout.as_str();
    let flagged = field(block, "health", "audience status");
    assert!(
        flagged.starts_with("471 flagged: Meta restricted this audience"),
        "{flagged}"
    );
    assert!(
        block.contains("appeal in Ads Manager → Audiences"),
        "{block}"
    );
}

#[test]
fn an_expiring_token_is_warned_about() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let mut config = EmulatorConfig::default();
    config.tokens[0].token_type = "USER".to_owned();
    config.tokens[0].expires_at = now + 9 * 86_400 + 3_600;
    let sandbox = Sandbox::start(config);
    let dir = TestDir::new();
    write_config(&dir, &sandbox.base_url(), &["newsletter"], true);

    let run = status(&dir, &[]);
    let token = field(&run.stdout, "newsletter", "token");
    assert!(token.starts_with("warn: valid user token"), "{token}");
    assert!(token.contains("expires in 9 days"), "{token}");
    assert!(
        run.stdout
            .contains("fix: Replace it before then with a system-user token"),
        "{}",
        run.stdout
    );
}

#[test]
fn unknown_segment_exits_2() {
    let dir = TestDir::new();
    write_config(&dir, "http://127.0.0.1:9", &["newsletter"], false);
    let run = audsync_in(&dir, &["status", "nope"], &default_vars());
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("no segment \"nope\"") && run.stderr.contains("\"newsletter\""),
        "{}",
        run.stderr
    );
}
