//! `audsync check` against the emulator: every scenario fails the right check with the right
//! words and link; expiring tokens, partial rights, a missing business and the audience limit
//! warn or fail; exit status 0 / 1 / 2.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use audsync::check::CHECK_NAMES;
use audsync_emulator::{
    DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, DEFAULT_APP_ID, DEFAULT_APP_SECRET,
    EmulatorConfig, TokenConfig,
};

use crate::emulator::Sandbox;
use crate::support::{Run, TestDir, arg};

/// A fixed secret key (64 hex digits) so no test creates a key file in a home folder.
pub const TEST_SECRET_KEY: &str =
    "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Runs `audsync ARGS…` in `dir` with `vars` set, a fixed secret key and a home inside `dir`,
/// and nothing inherited that could change the outcome.
pub fn audsync_in(dir: &TestDir, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let home = dir.path("home");
    std::fs::create_dir_all(&home).expect("create a home folder");
    let mut command = Command::new(env!("CARGO_BIN_EXE_audsync"));
    command
        .args(args)
        .current_dir(dir.path(""))
        .env_remove("AUDSYNC_CONFIG")
        .env_remove("AUDSYNC_SECRET_KEY_FILE")
        .env_remove("FB_ACCESS_TOKEN")
        .env_remove("FB_APP_SECRET")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("AUDSYNC_SECRET_KEY", TEST_SECRET_KEY)
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("run audsync");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// One `[[connector]]` in `audsync.toml`, its token from `${FB_ACCESS_TOKEN}` and, with app
/// credentials, its secret from `${FB_APP_SECRET}`.
pub fn connector_toml(name: &str, base_url: &str, ad_account: &str, with_app: bool) -> String {
    let mut text = format!(
        "[[connector]]\nname = \"{name}\"\nad_account_id = \"{ad_account}\"\n\
         access_token = \"${{FB_ACCESS_TOKEN}}\"\ngraph_url = \"{base_url}\"\n"
    );
    if with_app {
        text.push_str(&format!(
            "app_id = \"{DEFAULT_APP_ID}\"\napp_secret = \"${{FB_APP_SECRET}}\"\n"
        ));
    }
    text
}

/// The variables the default emulator credentials need.
pub fn default_vars() -> [(&'static str, &'static str); 2] {
    [
        ("FB_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN),
        ("FB_APP_SECRET", DEFAULT_APP_SECRET),
    ]
}

/// One printed check.
#[derive(Debug)]
pub struct PrintedCheck {
    pub status: String,
    pub name: String,
    pub detail: String,
    pub fix: Option<String>,
}

impl PrintedCheck {
    /// Detail and fix, for word matching.
    pub fn text(&self) -> String {
        format!("{} fix: {}", self.detail, self.fix.as_deref().unwrap_or(""))
    }
}

/// The check lines of `audsync check` output (`  pass  access token  valid …` and the
/// `fix:` line below).
pub fn printed_checks(stdout: &str) -> Vec<PrintedCheck> {
    let mut checks: Vec<PrintedCheck> = Vec::new();
    for line in stdout.lines() {
        if let Some(fix) = line.trim_start().strip_prefix("fix: ") {
            let last = checks.last_mut().expect("a fix follows its check");
            last.fix = Some(fix.to_string());
            continue;
        }
        let Some((status, rest)) = line
            .strip_prefix("  ")
            .and_then(|rest| rest.split_once("  "))
        else {
            continue;
        };
        if !["pass", "warn", "fail", "skip"].contains(&status) {
            continue;
        }
        let rest = rest.trim_start();
        let name = CHECK_NAMES
            .iter()
            .find(|name| rest.starts_with(*name))
            .unwrap_or_else(|| panic!("unknown check in {line:?}"));
        checks.push(PrintedCheck {
            status: status.to_string(),
            name: name.to_string(),
            detail: rest[name.len()..].trim().to_string(),
            fix: None,
        });
    }
    checks
}

/// Runs `audsync check` on a one-connector config against `sandbox`.
fn check_against(sandbox: &Sandbox, with_app: bool) -> (Run, Vec<PrintedCheck>) {
    let dir = TestDir::new();
    dir.write(
        "audsync.toml",
        connector_toml("meta", &sandbox.base_url(), DEFAULT_AD_ACCOUNT_ID, with_app),
    );
    let run = audsync_in(&dir, &["check"], &default_vars());
    let checks = printed_checks(&run.stdout);
    (run, checks)
}

fn find<'a>(checks: &'a [PrintedCheck], name: &str) -> &'a PrintedCheck {
    checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {checks:#?}"))
}

fn assert_words(check: &PrintedCheck, words: &[&str]) {
    let text = check.text();
    for word in words {
        assert!(
            text.contains(word),
            "{word:?} missing from {}: {text}",
            check.name
        );
    }
}

#[test]
fn the_default_world_passes_every_check() {
    for with_app in [false, true] {
        let sandbox = Sandbox::start(EmulatorConfig::default());
        let (run, checks) = check_against(&sandbox, with_app);
        assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        let names: Vec<&str> = checks.iter().map(|check| check.name.as_str()).collect();
        assert_eq!(names, CHECK_NAMES);
        for check in &checks {
            assert_eq!(check.status, "pass", "{check:?}");
        }
        assert_words(
            find(&checks, "access token"),
            &["system-user token", "never expires"],
        );
        assert!(
            run.stdout
                .contains("Connector \"meta\": ad account act_542676646349772"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains("7 passed, 0 warnings, 0 failed, 0 skipped")
        );
    }
}

/// Each scenario, the check it fails, and words its detail and fix must hold.
const SCENARIOS: &[(&str, bool, &str, &[&str])] = &[
    (
        "tos-not-accepted",
        false,
        "Custom Audience terms",
        &[
            "not accepted for ad account act_542676646349772",
            "Open https://business.facebook.com/ads/manage/customaudiences/tos/?act=542676646349772 ",
            "accept the terms",
        ],
    ),
    (
        "expired-token",
        true,
        "access token",
        &[
            "the access token expired on ",
            "190/463",
            "system-user token, which never expires",
            "expires after 60 days",
        ],
    ),
    (
        "revoked-token",
        false,
        "access token",
        &["no longer valid", "190/467", "Generate a new token"],
    ),
    (
        "no-ads-management",
        false,
        "ads_management permission",
        &["ads_management is declined", "294", "ads_management ticked"],
    ),
    (
        "not-admin",
        false,
        "admin rights",
        &[
            "no admin or advertiser role on act_542676646349772 (tasks: DRAFT, ANALYZE)",
            "Ask a Business admin to give your system user Admin rights on the ad account",
        ],
    ),
    (
        "disabled-account",
        false,
        "ad account",
        &[
            "is DISABLED (account_status 2)",
            "(disable_reason 1, ADS_INTEGRITY_POLICY)",
            "Account Quality",
        ],
    ),
];

#[test]
fn each_scenario_fails_its_check_with_the_fix() {
    for (scenario, with_app, failing, words) in SCENARIOS {
        let sandbox = Sandbox::with_scenario(scenario);
        let (run, checks) = check_against(&sandbox, *with_app);
        assert_eq!(
            run.code,
            Some(1),
            "{scenario}: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(
            checks.len(),
            CHECK_NAMES.len(),
            "{scenario}: {}",
            run.stdout
        );
        let failed = find(&checks, failing);
        assert_eq!(failed.status, "fail", "{scenario}: {failed:?}");
        assert_words(failed, words);
        let token_failed = *failing == "access token";
        for check in checks.iter().filter(|check| check.name != *failing) {
            let expected = if token_failed { "skip" } else { "pass" };
            assert_eq!(check.status, expected, "{scenario}: {check:?}");
        }
    }
}

#[test]
fn a_60_day_user_token_warns_with_the_days_left_and_exits_0() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    for with_app in [true, false] {
        let mut config = EmulatorConfig::default();
        config.tokens[0].token_type = "USER".to_owned();
        config.tokens[0].expires_at = now + 20 * 86_400 + 3_600;
        let sandbox = Sandbox::start(config);
        let (run, checks) = check_against(&sandbox, with_app);
        assert_eq!(run.code, Some(0), "warnings exit 0: {}", run.stdout);
        let token = find(&checks, "access token");
        assert_eq!(token.status, "warn", "{token:?}");
        assert_words(
            token,
            &[
                "valid user token",
                "expires in 20 days",
                "system-user token, which never expires",
            ],
        );
        assert!(
            run.stdout.contains("6 passed, 1 warnings, 0 failed"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn advertise_only_and_no_business_warn() {
    let mut config = EmulatorConfig::default();
    config.ad_accounts[0].business = None;
    let mut token = TokenConfig::system_user(DEFAULT_ACCESS_TOKEN);
    token.account_tasks = BTreeMap::from([(
        "*".to_owned(),
        vec!["ANALYZE".to_owned(), "ADVERTISE".to_owned()],
    )]);
    config.tokens = vec![token];
    let sandbox = Sandbox::start(config);
    let (run, checks) = check_against(&sandbox, false);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let admin = find(&checks, "admin rights");
    assert_eq!(admin.status, "warn");
    assert_words(
        admin,
        &["not an admin", "ANALYZE, ADVERTISE", "Admin rights"],
    );
    let business = find(&checks, "business");
    assert_eq!(business.status, "warn");
    assert_words(
        business,
        &["does not belong to a Business Manager", "200/1870050"],
    );
}

#[test]
fn the_audience_count_warns_at_450_and_fails_at_500() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let create = |first_idx: usize, n_audiences: usize| {
        let url = format!(
            "{}/v25.0/{DEFAULT_AD_ACCOUNT_ID}/customaudiences",
            sandbox.base_url()
        );
        sandbox.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::new();
            for audience_idx in first_idx..first_idx + n_audiences {
                let response = client
                    .post(&url)
                    .bearer_auth(DEFAULT_ACCESS_TOKEN)
                    .json(&serde_json::json!({
                        "name": format!("CA_segment_{audience_idx}"),
                        "subtype": "CUSTOM",
                        "customer_file_source": "USER_PROVIDED_ONLY",
                    }))
                    .send()
                    .await
                    .expect("the emulator answers");
                assert!(response.status().is_success(), "create {audience_idx}");
            }
        });
    };
    create(0, 450);
    let (run, checks) = check_against(&sandbox, false);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let count = find(&checks, "audience count");
    assert_eq!(count.status, "warn");
    assert_words(
        count,
        &[
            "450 customer-file audiences",
            "limit of 500",
            "room for 50 more",
            "Delete",
        ],
    );

    create(450, 50);
    let (run, checks) = check_against(&sandbox, false);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let count = find(&checks, "audience count");
    assert_eq!(count.status, "fail");
    assert_words(
        count,
        &[
            "500 customer-file audiences",
            "no new audience can be created",
        ],
    );
}

#[test]
fn a_throttled_ad_account_is_reported_not_waited_for() {
    // The scenario allows 5 calls per hour per ad account; each check makes 2 of them.
    let sandbox = Sandbox::with_scenario("throttled");
    let dir = TestDir::new();
    dir.write(
        "audsync.toml",
        connector_toml("meta", &sandbox.base_url(), DEFAULT_AD_ACCOUNT_ID, false),
    );
    let mut exit_codes = Vec::new();
    let throttled = loop {
        let run = audsync_in(&dir, &["check"], &default_vars());
        exit_codes.push(run.code);
        let checks = printed_checks(&run.stdout);
        if let Some(check) = checks.into_iter().find(|check| check.status == "fail") {
            assert_eq!(run.code, Some(1));
            assert!(!run.stderr.contains("WARN"), "{}", run.stderr);
            break check;
        }
        assert!(exit_codes.len() < 5, "never throttled: {exit_codes:?}");
    };
    assert_eq!(exit_codes[..2], [Some(0), Some(0)]);
    assert_words(
        &throttled,
        &[
            "Meta is throttling calls to this ad account",
            "80003",
            "Run the check again in",
        ],
    );
}

#[test]
fn an_unreachable_graph_url_fails_fast_and_skips_the_rest() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("an address").port()
    };
    let dir = TestDir::new();
    dir.write(
        "audsync.toml",
        connector_toml(
            "meta",
            &format!("http://127.0.0.1:{closed_port}"),
            DEFAULT_AD_ACCOUNT_ID,
            false,
        ),
    );
    let run = audsync_in(&dir, &["check", "meta"], &default_vars());
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let checks = printed_checks(&run.stdout);
    let token = find(&checks, "access token");
    assert_eq!(token.status, "fail");
    assert_words(token, &["Meta could not be reached", "graph_url"]);
    assert!(
        checks[1..].iter().all(|check| check.status == "skip"),
        "{checks:#?}"
    );
    assert!(
        checks[1].detail.contains("Meta could not be reached"),
        "{checks:#?}"
    );
}

#[test]
fn every_connector_is_checked_and_any_failure_exits_1() {
    let good = Sandbox::start(EmulatorConfig::default());
    let bad = Sandbox::with_scenario("tos-not-accepted");
    let dir = TestDir::new();
    dir.write(
        "audsync.toml",
        format!(
            "{}\n{}",
            connector_toml("good", &good.base_url(), DEFAULT_AD_ACCOUNT_ID, false),
            connector_toml("bad", &bad.base_url(), "542676646349772", false)
        ),
    );
    let run = audsync_in(&dir, &["check"], &default_vars());
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("Connector \"good\""), "{}", run.stdout);
    assert!(run.stdout.contains("Connector \"bad\""), "{}", run.stdout);
    assert_eq!(printed_checks(&run.stdout).len(), 2 * CHECK_NAMES.len());

    let run = audsync_in(&dir, &["check", "good"], &default_vars());
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(!run.stdout.contains("Connector \"bad\""), "{}", run.stdout);
}

#[test]
fn configuration_errors_exit_2_with_the_reason() {
    let dir = TestDir::new();
    let run = audsync_in(&dir, &["check"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("audsync init"), "{}", run.stderr);

    dir.write(
        "custom.toml",
        connector_toml("meta", "http://127.0.0.1:9", DEFAULT_AD_ACCOUNT_ID, false),
    );
    let config = dir.path("custom.toml");
    let run = audsync_in(
        &dir,
        &["check", "other", "--config", arg(&config)],
        &default_vars(),
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("no connector \"other\"") && run.stderr.contains("\"meta\""),
        "{}",
        run.stderr
    );

    // The token variable is unset: named, never a value.
    let run = audsync_in(&dir, &["check", "--config", arg(&config)], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("FB_ACCESS_TOKEN"), "{}", run.stderr);
}
