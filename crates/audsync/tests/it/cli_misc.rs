//! `audsync init` and `audsync connector add`: the example file, no overwrite without
//! `--force`, the token stored encrypted and never printed, the check that follows.

use audsync_emulator::{DEFAULT_ACCESS_TOKEN, DEFAULT_APP_ID, DEFAULT_APP_SECRET, EmulatorConfig};

use crate::check::{audsync_in, printed_checks};
use crate::emulator::Sandbox;
use crate::support::{Run, TestDir};

#[test]
fn init_writes_the_example_and_refuses_to_overwrite_without_force() {
    let dir = TestDir::new();
    let run = audsync_in(&dir, &["init"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(dir.read("audsync.toml"), audsync::config::EXAMPLE);
    assert!(
        run.stdout.contains("audsync connector add"),
        "{}",
        run.stdout
    );

    dir.write("audsync.toml", "# mine\n");
    let run = audsync_in(&dir, &["init"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains("already exists") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("audsync.toml"), "# mine\n", "left untouched");

    let run = audsync_in(&dir, &["init", "--force"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(dir.read("audsync.toml"), audsync::config::EXAMPLE);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path(""))
        .expect("list the folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let run = audsync_in(&dir, &["init", "--config", "sub/other.toml"], &[]);
    assert_eq!(
        run.code,
        Some(2),
        "a missing folder is an error: {}",
        run.stdout
    );
    std::fs::create_dir(dir.path("sub")).expect("create a folder");
    let run = audsync_in(&dir, &["init", "-c", "sub/other.toml"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(dir.read("sub/other.toml"), audsync::config::EXAMPLE);
}

#[test]
fn connector_add_stores_the_token_encrypted_then_checks_it() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let dir = TestDir::new();
    let run = audsync_in(
        &dir,
        &[
            "connector",
            "add",
            "meta",
            "--ad-account-id",
            "542676646349772",
            "--access-token-env",
            "MY_TOKEN",
            "--app-id",
            DEFAULT_APP_ID,
            "--app-secret-env",
            "MY_APP_SECRET",
            "--graph-url",
            &sandbox.base_url(),
        ],
        &[
            ("MY_TOKEN", DEFAULT_ACCESS_TOKEN),
            ("MY_APP_SECRET", DEFAULT_APP_SECRET),
        ],
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Added connector \"meta\" in audsync.toml"),
        "{}",
        run.stdout
    );
    let checks = printed_checks(&run.stdout);
    assert_eq!(
        checks.len(),
        audsync::check::CHECK_NAMES.len(),
        "{}",
        run.stdout
    );
    assert!(
        checks.iter().all(|check| check.status == "pass"),
        "{checks:#?}"
    );
    for secret in [DEFAULT_ACCESS_TOKEN, DEFAULT_APP_SECRET] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }

    let stored = dir.read("audsync.toml");
    assert!(!stored.contains(DEFAULT_ACCESS_TOKEN), "{stored}");
    assert!(!stored.contains(DEFAULT_APP_SECRET), "{stored}");
    assert_eq!(stored.matches("encrypted:v1:").count(), 2, "{stored}");
    assert!(
        stored.contains("ad_account_id = \"act_542676646349772\""),
        "{stored}"
    );

    // The stored connector works on its own: no variable needed any more.
    let run = audsync_in(&dir, &["check", "meta"], &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn connector_add_saves_even_when_a_check_fails_and_exits_1() {
    let sandbox = Sandbox::with_scenario("tos-not-accepted");
    let dir = TestDir::new();
    let run = audsync_in(&dir, &["init"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = audsync_in(
        &dir,
        &[
            "connector",
            "add",
            "meta",
            "--ad-account-id",
            "act_542676646349772",
            "--access-token-env",
            "FB_ACCESS_TOKEN",
            "--graph-url",
            &sandbox.base_url(),
        ],
        &[("FB_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)],
    );
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Updated connector \"meta\""),
        "the example's connector is updated: {}",
        run.stdout
    );
    let terms = printed_checks(&run.stdout)
        .into_iter()
        .find(|check| check.name == "Custom Audience terms")
        .expect("a terms check");
    assert_eq!(terms.status, "fail");
    assert!(
        terms.text().contains(
            "https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772"
        ),
        "{terms:?}"
    );
    assert!(dir.read("audsync.toml").contains("encrypted:v1:"));
}

/// `audsync connector add meta --ad-account-id ID --access-token-env T EXTRA…` with `vars`.
fn add_meta(dir: &TestDir, ad_account: &str, extra: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut args = vec![
        "connector",
        "add",
        "meta",
        "--ad-account-id",
        ad_account,
        "--access-token-env",
        "T",
    ];
    args.extend_from_slice(extra);
    audsync_in(dir, &args, vars)
}

#[test]
fn connector_add_refuses_missing_variables_and_writes_nothing() {
    let dir = TestDir::new();
    let run = add_meta(&dir, "act_1", &[], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains("--access-token-env T") && run.stderr.contains("not set"),
        "{}",
        run.stderr
    );
    assert!(!dir.path("audsync.toml").exists());

    let run = add_meta(
        &dir,
        "act_1",
        &["--app-secret-env", "S"],
        &[("T", "EAAx"), ("S", "secret")],
    );
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(run.stderr.contains("--app-id"), "{}", run.stderr);
    assert!(!dir.path("audsync.toml").exists());

    let run = add_meta(&dir, "act_12x", &[], &[("T", "EAAx")]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains("not an ad account id"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("EAAx"), "{}", run.stderr);
    assert!(!dir.path("audsync.toml").exists());
}

/// Each line of `text` as JSON.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON report"))
        .collect()
}

/// Two segments, one of them with a source that does not exist.
fn two_segments(dir: &TestDir, graph_url: &str) {
    dir.write(
        "audsync.toml",
        format!(
            r#"store = "sqlite://state.db"

[[connector]]
name = "meta"
ad_account_id = "act_542676646349772"
access_token = "${{FB_ACCESS_TOKEN}}"
graph_url = "{graph_url}"

[[segment]]
name = "newsletter"
source = "newsletter.csv"
default_country = "US"

[[segment]]
name = "vip"
source = "vip.csv"
default_country = "US"
"#
        ),
    );
    dir.write(
        "newsletter.csv",
        "user_id,email\nu1,ann@example.com\nu2,bob@example.com\nu3,\n",
    );
}

#[test]
fn sync_all_runs_every_segment_prints_json_lines_and_exits_with_the_gravest_status() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let dir = TestDir::new();
    two_segments(&dir, &sandbox.base_url());
    let token = [("FB_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)];

    // vip's source is missing: newsletter still syncs, vip is an error, the exit status is 2.
    let run = audsync_in(&dir, &["sync", "--all", "--json", "--quiet"], &token);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 1, "{}", run.stdout);
    assert_eq!(reports[0]["segment"], "newsletter");
    assert_eq!(reports[0]["outcome"], "succeeded");
    assert_eq!(reports[0]["added"], 2);
    assert_eq!(reports[0]["rejected"], 1);
    assert!(
        run.stderr.contains("segment vip:"),
        "the failing segment is named: {}",
        run.stderr
    );

    // Once vip has a source, both run (text reports) and the exit status is 0.
    dir.write("vip.csv", "user_id,email\nv1,vic@example.com\n");
    let run = audsync_in(&dir, &["sync", "--all", "--quiet"], &token);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("sync of segment newsletter"));
    assert!(run.stdout.contains("sync of segment vip"));
    // A plan of named segments sends nothing: nothing changed.
    let run = audsync_in(&dir, &["plan", "vip", "newsletter", "--json"], &token);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let plans = json_lines(&run.stdout);
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0]["segment"], "vip");
    assert!(
        plans
            .iter()
            .all(|plan| plan["outcome"] == "planned" && plan["added"] == 0)
    );
    // An unknown segment is refused before anything runs.
    let run = audsync_in(&dir, &["sync", "newsletter", "nope"], &token);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no segment \"nope\""), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
}
