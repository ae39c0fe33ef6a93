//! `audsync.toml` and connector secrets: the example, every problem at once, `${VAR}`
//! interpolation, unknown keys, and `connector add` with encryption at rest.

use std::path::Path;

use audsync::config::{
    AccessTier, Config, CustomerFileSource, Environment, Schedule, Source, SyncMode,
};
use audsync::secrets::{self, NewConnector, SecretKey};
use audsync::sources::FileFormat;
use audsync_core::{Field, MatchKey};
use secrecy::{ExposeSecret, SecretString};

const TOKEN: &str = "EAAtoken-very-secret-123";

fn env_with_token() -> Environment {
    Environment::from_vars([("FB_ACCESS_TOKEN", TOKEN), ("HOME", "/nonexistent-home")])
}

fn parse(text: &str, env: &Environment) -> Result<Config, audsync::config::ConfigError> {
    Config::parse(text, Path::new("/srv/audsync"), env)
}

#[test]
fn the_example_parses_into_typed_values() {
    let config = parse(audsync::config::EXAMPLE, &env_with_token()).expect("the example is valid");
    assert_eq!(config.store.expose(), "sqlite:///srv/audsync/audsync.db");
    let connector = config.connector("meta").unwrap();
    assert_eq!(connector.ad_account_id.digits(), "1234567890");
    assert_eq!(connector.ad_account_id.act(), "act_1234567890");
    assert_eq!(connector.access_token.expose_secret(), TOKEN);
    assert_eq!(connector.graph_url.as_str(), "https://graph.facebook.com/");
    assert_eq!(connector.api_version, "v25.0");
    assert_eq!(connector.access_tier, AccessTier::Limited);
    assert!(connector.app_secret.is_none());

    let segment = config.segment("newsletter").unwrap();
    assert_eq!(segment.connector, "meta");
    assert_eq!(segment.audience_name, "CA_newsletter");
    assert_eq!(segment.mode, SyncMode::Mirror);
    assert_eq!(
        segment.customer_file_source,
        CustomerFileSource::UserProvidedOnly
    );
    assert_eq!(segment.default_country.unwrap().as_str(), "fr");
    assert_eq!(segment.schedule.as_ref().unwrap().to_string(), "every 1h");
    assert!(matches!(
        &segment.source,
        Source::Files { path, format: FileFormat::Csv, .. }
            if path == Path::new("/srv/audsync/exports/newsletter.csv")
    ));
    let mapping = segment.mapping.as_ref().unwrap();
    assert!(mapping.contains(&("email".to_owned(), Field::Key(MatchKey::Email))));
    assert!(mapping.contains(&("birth_date".to_owned(), Field::DateOfBirth)));
    assert_eq!(
        segment.eligibility.to_string(),
        audsync_core::EligibilityRule::default().to_string()
    );
}

#[test]
fn init_writes_the_example_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audsync.toml");
    audsync::config::write_example(&path).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        audsync::config::EXAMPLE
    );
    let again = audsync::config::write_example(&path).unwrap_err();
    assert!(format!("{again:#}").contains("exists"), "{again:#}");
}

#[test]
fn a_minimal_config_gets_the_defaults() {
    let config = parse(
        r#"
        [[connector]]
        name = "meta"
        ad_account_id = "42"
        access_token = "${FB_ACCESS_TOKEN}"
        [[segment]]
        name = "vip"
        source = { sql = "SELECT id, email FROM users", database = "sqlite:crm.db" }
        "#,
        &env_with_token(),
    )
    .unwrap();
    assert_eq!(config.store.expose(), "sqlite:///srv/audsync/audsync.db");
    let segment = config.segment("vip").unwrap();
    assert_eq!(
        segment.connector, "meta",
        "the only connector is the default"
    );
    assert!(segment.mapping.is_none());
    assert!(segment.schedule.is_none());
    assert!(!segment.hash_extern_id);
    match &segment.source {
        Source::Query { sql, database } => {
            assert_eq!(sql, "SELECT id, email FROM users");
            assert_eq!(database.expose(), "sqlite:///srv/audsync/crm.db");
        }
        other => panic!("{other:?}"),
    }
}

/// One file with many mistakes: every one is reported, each with its path, in one error.
#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let text = r#"
        store = "mysql://db/x"

        [[connector]]
        name = "meta"
        ad_account_id = "act_12x4"
        access_token = "EAAplaintexttoken"
        graph_url = "ftp://graph.example"
        api_version = "25.0"
        access_tier = "premium"
        app_id = "abc"

        [[connector]]
        name = "meta"
        ad_account_id = "999"
        access_token = "${MISSING_TOKEN_VAR}"

        [[connector]]
        ad_account_id = "1"
        access_token = "${FB_ACCESS_TOKEN}"

        [[segment]]
        name = "newsletter"
        connector = "meat"
        source = "exports/users.xlsx"
        mode = "mirorr"

        [[segment]]
        name = "news letter!"
        connector = "meta"
        source = { sql = "SELECT 1" }
        mapping = { email = "EMIAL", mail = "PHONE", phone = "PHONE" }
        default_country = "Atlantis"
        date_order = "dym"
        names = "latin"
        eligibility = "EMAIL | (PHONE"
        schedule = "every 10s"
        customer_file_source = "MINE"
        audience_name = ""

        [[segment]]
        name = "newsletter"
        connector = "meta"
        source = "a.csv"
        schedule = "61 * * * *"
    "#;
    let error = parse(text, &env_with_token()).unwrap_err();
    let expected = [
        r#"store: unsupported database URL (scheme "mysql")"#,
        r#"connector[0].ad_account_id: "act_12x4" is not an ad account id"#,
        "connector[0].access_token: a plain-text secret is not accepted",
        r#"connector[0].graph_url: "ftp://graph.example" must be an http:// or https://"#,
        r#"connector[0].api_version: "25.0" is not a Graph API version"#,
        r#"connector[0].access_tier: unknown access tier "premium" (expected limited or full)"#,
        r#"connector[0].app_id: "abc" is not an app id"#,
        r#"connector[1].name: "meta" is already the name of connector[0]"#,
        "connector[1].access_token: environment variable MISSING_TOKEN_VAR is not set",
        "connector[2].name: missing",
        r#"segment[0].connector: no connector named "meat" (connectors: meta)"#,
        r#"segment[0].source: cannot tell the format of "exports/users.xlsx""#,
        r#"segment[0].mode: unknown mode "mirorr" (expected mirror, upsert or replace)"#,
        r#"segment[1].name: "news letter!" may only hold letters, digits"#,
        "segment[1].source.database: missing",
        r#"segment[1].mapping.email: unknown key "EMIAL""#,
        r#"segment[1].mapping.phone: PHONE is already fed by column "mail""#,
        r#"segment[1].default_country: unknown country "Atlantis""#,
        r#"segment[1].date_order: unknown date order "dym""#,
        r#"segment[1].names: unknown name script "latin""#,
        "segment[1].eligibility: the eligibility rule ends too early",
        r#"segment[1].schedule: interval "10s" is shorter than the minimum"#,
        r#"segment[1].customer_file_source: unknown value "MINE""#,
        "segment[1].audience_name: empty",
        r#"segment[2].name: "newsletter" is already the name of segment[0]"#,
        r#"segment[2].schedule: invalid cron minute field "61""#,
    ];
    let mut unmatched: Vec<&str> = Vec::new();
    for fragment in expected {
        if !error
            .problems
            .iter()
            .any(|problem| problem.contains(fragment))
        {
            unmatched.push(fragment);
        }
    }
    assert!(
        unmatched.is_empty(),
        "missing problems {unmatched:#?} in:\n{error}"
    );
    assert_eq!(
        error.problems.len(),
        expected.len(),
        "unexpected extra problems in:\n{error}"
    );
    let message = error.to_string();
    assert!(message.starts_with(&format!(
        "the configuration has {} problems:",
        expected.len()
    )));
    assert!(
        !message.contains("EAAplaintexttoken"),
        "a secret leaked: {message}"
    );
}

#[test]
fn unknown_keys_are_all_reported_with_suggestions_beside_other_problems() {
    let text = r#"
        stor = "sqlite://x.db"
        [[connector]]
        name = "meta"
        ad_acount_id = "1"
        ad_account_id = "1"
        access_token = "${FB_ACCESS_TOKEN}"
        [[segment]]
        name = "a"
        source = { sql = "SELECT 1", databse = "sqlite:x.db" }
        mdoe = "upsert"
        mode = "sideways"
    "#;
    let error = parse(text, &env_with_token()).unwrap_err();
    let problems = error.problems.join("\n");
    for fragment in [
        r#"stor: unknown key (did you mean "store"?"#,
        r#"connector[0].ad_acount_id: unknown key (did you mean "ad_account_id"?"#,
        r#"segment[0].mdoe: unknown key (did you mean "mode"?"#,
        r#"segment[0].source.databse: unknown key (did you mean "database"?"#,
        "segment[0].source.database: missing",
        r#"segment[0].mode: unknown mode "sideways""#,
    ] {
        assert!(
            problems.contains(fragment),
            "missing {fragment:?} in:\n{problems}"
        );
    }
    assert_eq!(error.problems.len(), 6, "{problems}");
}

#[test]
fn syntax_and_type_errors_name_the_line() {
    let error = parse("store = \n", &env_with_token()).unwrap_err();
    assert!(error.problems[0].starts_with("not valid TOML"), "{error}");
    let error = parse("[[segment]]\nname = \"a\"\nmode = 5\n", &env_with_token()).unwrap_err();
    assert!(error.problems[0].starts_with("line 3:"), "{error}");
}

#[test]
fn environment_variables_are_interpolated_and_never_printed() {
    let env = Environment::from_vars([
        ("FB_ACCESS_TOKEN", TOKEN),
        ("FB_APP_SECRET", "app-secret-value"),
        ("PGPASSWORD", "hunter2"),
    ]);
    let config = parse(
        r#"
        store = "postgres://audsync:${PGPASSWORD}@db.internal:5432/audsync"
        [[connector]]
        name = "meta"
        ad_account_id = "1"
        access_token = "${FB_ACCESS_TOKEN}"
        app_id = "777"
        app_secret = "${FB_APP_SECRET}"
        "#,
        &env,
    )
    .unwrap();
    assert_eq!(
        config.store.expose(),
        "postgres://audsync:hunter2@db.internal:5432/audsync"
    );
    let connector = config.connector("meta").unwrap();
    assert_eq!(
        connector.app_secret.as_ref().unwrap().expose_secret(),
        "app-secret-value"
    );
    let debug = format!("{config:?}");
    for secret in [TOKEN, "app-secret-value", "hunter2"] {
        assert!(
            !debug.contains(secret),
            "{secret} leaked into Debug: {debug}"
        );
    }
    assert!(config.store.to_string().contains("***"));

    let error = parse(
        r#"
        store = "postgres://u:${NO_SUCH_PASSWORD}@h/db"
        [[connector]]
        name = "meta"
        ad_account_id = "1"
        access_token = "${FB_ACCESS_TOKEN}"
        app_secret = "${EMPTY}"
        "#,
        &Environment::from_vars([("FB_ACCESS_TOKEN", TOKEN), ("EMPTY", "")]),
    )
    .unwrap_err();
    assert_eq!(
        error.problems,
        vec![
            "store: environment variable NO_SUCH_PASSWORD is not set".to_owned(),
            "connector[0].app_secret: environment variable EMPTY is empty".to_owned(),
        ]
    );
}

fn new_connector(token: &str) -> NewConnector {
    NewConnector {
        name: "meta".to_owned(),
        ad_account_id: "1234".to_owned(),
        access_token: SecretString::from(token),
        app_id: None,
        app_secret: None,
        graph_url: Some("http://127.0.0.1:4010".to_owned()),
        api_version: None,
        access_tier: None,
    }
}

#[test]
fn connector_add_encrypts_the_token_under_a_0600_key_file() {
    let home = tempfile::tempdir().unwrap();
    let env = Environment::from_vars([("HOME", home.path().to_str().unwrap())]);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("audsync.toml");
    audsync::config::write_example(&config_path).unwrap();

    let added = secrets::add_connector(&config_path, &new_connector(TOKEN), &env).unwrap();
    assert!(
        !added.created,
        "the example's connector \"meta\" is updated"
    );
    let key_file = home.path().join(".config/audsync/secret.key");
    assert_eq!(added.key_file_created.as_deref(), Some(key_file.as_path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let folder_mode = std::fs::metadata(key_file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(folder_mode & 0o777, 0o700);
    }

    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        !text.contains(TOKEN),
        "the plaintext token is in the file:\n{text}"
    );
    assert!(text.contains(&format!("encrypted:v1:{}:", added.key_id)));
    assert!(
        text.contains("# audsync.toml: which segments"),
        "comments are kept"
    );

    // Decrypted when the config loads (the example's segments point at the connector "meta").
    let env = Environment::from_vars([
        ("HOME", home.path().to_str().unwrap()),
        ("FB_ACCESS_TOKEN", "from-env"),
    ]);
    let config = Config::load_with(&config_path, &env).unwrap();
    let meta = config.connector("meta").unwrap();
    assert_eq!(meta.access_token.expose_secret(), TOKEN);
    assert_eq!(meta.graph_url.as_str(), "http://127.0.0.1:4010/");
    assert_eq!(config.connectors.len(), 1);
}

#[test]
fn connector_add_updates_an_existing_connector_and_adds_new_ones() {
    let home = tempfile::tempdir().unwrap();
    let env = Environment::from_vars([("HOME", home.path().to_str().unwrap())]);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("audsync.toml");

    let first = secrets::add_connector(&config_path, &new_connector("first-token"), &env).unwrap();
    assert!(first.created && first.key_file_created.is_some());
    let mut second = new_connector("second-token");
    second.ad_account_id = "act_555".to_owned();
    second.app_id = Some("42".to_owned());
    second.app_secret = Some(SecretString::from("app-secret-xyz"));
    let updated = secrets::add_connector(&config_path, &second, &env).unwrap();
    assert!(!updated.created);
    assert_eq!(updated.key_file_created, None, "the key is reused");
    let mut other = new_connector("third-token");
    other.name = "meta-eu".to_owned();
    assert!(
        secrets::add_connector(&config_path, &other, &env)
            .unwrap()
            .created
    );

    let text = std::fs::read_to_string(&config_path).unwrap();
    for secret in [
        "first-token",
        "second-token",
        "third-token",
        "app-secret-xyz",
    ] {
        assert!(!text.contains(secret), "{secret} is in the file:\n{text}");
    }
    let config = Config::load_with(&config_path, &env).unwrap();
    let meta = config.connector("meta").unwrap();
    assert_eq!(meta.access_token.expose_secret(), "second-token");
    assert_eq!(meta.ad_account_id.act(), "act_555");
    assert_eq!(
        meta.app_secret.as_ref().unwrap().expose_secret(),
        "app-secret-xyz"
    );
    assert_eq!(
        config
            .connector("meta-eu")
            .unwrap()
            .access_token
            .expose_secret(),
        "third-token"
    );

    let mut bad = new_connector("t");
    bad.name = "bad name".to_owned();
    bad.ad_account_id = "act_x".to_owned();
    let error = format!(
        "{:#}",
        secrets::add_connector(&config_path, &bad, &env).unwrap_err()
    );
    assert!(
        error.contains("name:") && error.contains("ad_account_id:"),
        "{error}"
    );
}

#[test]
fn a_wrong_or_missing_key_and_a_tampered_token_are_clear_problems() {
    let home = tempfile::tempdir().unwrap();
    let env = Environment::from_vars([("HOME", home.path().to_str().unwrap())]);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("audsync.toml");
    let added = secrets::add_connector(&config_path, &new_connector(TOKEN), &env).unwrap();

    let other_key = "ab".repeat(32);
    let other_id = SecretKey::parse(&other_key, secrets::KeyOrigin::Env)
        .unwrap()
        .id();
    let wrong = Environment::from_vars([("AUDSYNC_SECRET_KEY", other_key.as_str())]);
    let error = Config::load_with(&config_path, &wrong).unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert!(
        error.problems[0].starts_with(&format!(
            "connector[0].access_token: token was encrypted with key {}; the current key is \
             {other_id} (from AUDSYNC_SECRET_KEY)",
            added.key_id
        )),
        "{error}"
    );

    let no_home = Environment::from_vars([("HOME", dir.path().to_str().unwrap())]);
    let error = Config::load_with(&config_path, &no_home).unwrap_err();
    assert!(
        error.problems[0].contains(&format!(
            "encrypted with key {}, but no secret key found",
            added.key_id
        )),
        "{error}"
    );

    // Flip one character of the ciphertext.
    let text = std::fs::read_to_string(&config_path).unwrap();
    let start = text.find("encrypted:v1:").unwrap();
    let end = start + text[start..].find('"').unwrap();
    let mut value: Vec<char> = text[start..end].chars().collect();
    let last = value.len() - 3;
    value[last] = if value[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = value.into_iter().collect();
    std::fs::write(&config_path, text.replace(&text[start..end], &tampered)).unwrap();
    let error = Config::load_with(&config_path, &env).unwrap_err();
    assert!(
        error.problems[0].contains("altered or truncated"),
        "{error}"
    );
    assert!(!error.to_string().contains(TOKEN));
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let env = Environment::from_vars([("HOME", home.path().to_str().unwrap())]);
    let (key, created) = SecretKey::find_or_create(&env).unwrap();
    let key_file = created.expect("created on first use");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = SecretKey::find(&env).unwrap_err().to_string();
    assert!(error.contains("chmod 600"), "{error}");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(SecretKey::find(&env).unwrap().unwrap().id(), key.id());
    // An explicit key file path wins over the default one.
    let explicit = Environment::from_vars([
        ("HOME", home.path().to_str().unwrap()),
        ("AUDSYNC_SECRET_KEY_FILE", "/nonexistent/key"),
    ]);
    assert!(SecretKey::find(&explicit).unwrap().is_none());
}

#[test]
fn schedules_are_typed() {
    assert!(matches!(
        Schedule::parse("0 3 * * *"),
        Ok(Schedule::Cron(_))
    ));
}
