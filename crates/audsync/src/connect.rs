//! Connecting to Meta: the `GraphClient` of a configured connector (the one place check, status and sync build it), the runtime and logging of commands, and `audsync init` / `audsync connector add`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use audsync_graph::{
    AccessToken, AdAccountId, AppSecret, GraphClient, GraphError, GraphSettings, RetryPolicy,
    Timeouts,
};
use secrecy::{ExposeSecret, SecretString};

use crate::cli::{ConnectorAddArgs, InitArgs};
use crate::config::{self, Config, Connector, Environment};

/// Attempts per request for interactive commands (`check`, `status`): the first try and one
/// retry. Our choice: a person waits at the terminal; the sync's default policy (four
/// attempts, backoff up to 15 s, contract §6.3) would keep them waiting half a minute for an
/// unreachable host.
pub const INTERACTIVE_MAX_ATTEMPTS: u32 = 2;

/// Most waiting between attempts for interactive commands: a throttle wait (at least 60 s,
/// contract §6.3) is not started; the command reports the throttle instead.
pub const INTERACTIVE_MAX_TOTAL_WAIT: Duration = Duration::from_secs(5);

/// Request timeout for interactive commands: their calls are small reads.
pub const INTERACTIVE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest an interactive command waits for one Graph call, retries and rate-limit pauses
/// included, before it reports a timeout. Our choice: a throttled ad account can be paused
/// for minutes (contract §6.3); a person at the terminal is told instead.
pub const INTERACTIVE_CALL_DEADLINE: Duration = Duration::from_secs(45);

/// Exit status when a check failed (configuration and usage errors exit 2).
pub const EXIT_CHECK_FAILED: u8 = 1;

/// The Graph settings of a connector: base URL, API version, token, app id and secret, access
/// tier; timeouts, retries and rate settings are the client's defaults.
pub fn graph_settings(connector: &Connector) -> GraphSettings {
    let mut settings = GraphSettings::new(AccessToken::new(
        connector.access_token.expose_secret().to_owned(),
    ));
    settings.base_url = connector
        .graph_url
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    settings.api_version = connector.api_version.clone();
    settings.app_id = connector.app_id.clone();
    settings.app_secret = connector
        .app_secret
        .as_ref()
        .map(|secret| AppSecret::new(secret.expose_secret().to_owned()));
    settings.access_tier = connector.access_tier;
    settings
}

/// The client a sync uses for this connector (the default retry policy).
pub fn graph_client(connector: &Connector) -> anyhow::Result<GraphClient> {
    GraphClient::new(graph_settings(connector))
        .with_context(|| format!("connector {:?}", connector.name))
}

/// The client for interactive commands: as [`graph_client`], but giving up quickly (see
/// [`INTERACTIVE_MAX_ATTEMPTS`]) so a person is told at once when Meta cannot be reached.
pub fn interactive_graph_client(connector: &Connector) -> anyhow::Result<GraphClient> {
    let mut settings = graph_settings(connector);
    settings.retry = RetryPolicy {
        max_attempts: INTERACTIVE_MAX_ATTEMPTS,
        max_total_wait: INTERACTIVE_MAX_TOTAL_WAIT,
        ..RetryPolicy::default()
    };
    settings.timeouts = Timeouts {
        request: INTERACTIVE_REQUEST_TIMEOUT,
        ..Timeouts::default()
    };
    // Never pause an ad account because its usage is high: interactive calls are few, and a
    // throttled call is reported rather than waited out.
    settings.rate.usage_pause_threshold_pct = NEVER_PAUSE_ON_USAGE_PCT;
    GraphClient::new(settings).with_context(|| format!("connector {:?}", connector.name))
}

/// A usage percentage Graph never reports (it tops out at 100).
const NEVER_PAUSE_ON_USAGE_PCT: f64 = 1_000.0;

/// Runs one Graph call of an interactive command within [`INTERACTIVE_CALL_DEADLINE`]; past
/// it, the call is dropped and reported as [`GraphError::Timeout`].
pub async fn within_deadline<T>(
    call: impl Future<Output = Result<T, GraphError>>,
) -> Result<T, GraphError> {
    tokio::time::timeout(INTERACTIVE_CALL_DEADLINE, call)
        .await
        .unwrap_or(Err(GraphError::Timeout))
}

/// The connector's ad account as the Graph client's id type.
pub fn ad_account_id(connector: &Connector) -> anyhow::Result<AdAccountId> {
    AdAccountId::parse(connector.ad_account_id.digits())
        .with_context(|| format!("connector {:?}: ad_account_id", connector.name))
}

/// Whether `debug_token` can use the app token (both app id and app secret are set).
pub fn has_app_credentials(connector: &Connector) -> bool {
    connector.app_id.is_some() && connector.app_secret.is_some()
}

/// `Connector "meta": ad account act_1, Graph API v25.0 at https://graph.facebook.com`.
pub fn describe_connector(connector: &Connector) -> String {
    format!(
        "Connector {:?}: ad account {}, Graph API {} at {}",
        connector.name,
        connector.ad_account_id,
        connector.api_version,
        connector.graph_url.as_str().trim_end_matches('/')
    )
}

/// A runtime for one command's async work (Graph calls, the store).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The one item `wanted` names (a connector, a segment), or every item when none is named.
/// Errors name the file and list the names it has; `empty_hint` says how to add the first.
pub fn select_named<'a, T>(
    items: &'a [T],
    name_of: impl Fn(&T) -> &str,
    wanted: Option<&str>,
    kind: &str,
    config_path: &Path,
    empty_hint: &str,
) -> anyhow::Result<Vec<&'a T>> {
    if items.is_empty() {
        bail!("{} has no {kind}; {empty_hint}", config_path.display());
    }
    let Some(wanted) = wanted else {
        return Ok(items.iter().collect());
    };
    match items.iter().find(|item| name_of(item) == wanted) {
        Some(item) => Ok(vec![item]),
        None => {
            let names: Vec<String> = items
                .iter()
                .map(|item| format!("{:?}", name_of(item)))
                .collect();
            bail!(
                "no {kind} {wanted:?} in {} (it has: {})",
                config_path.display(),
                names.join(", ")
            )
        }
    }
}

/// The log level of `check`, `status` and `connector add`: their output already says what
/// failed, so the client's warnings ("giving up on a Graph request") would only repeat it.
pub const INTERACTIVE_LOG_LEVEL: &str = "error";

/// The log level of `plan`, `sync`, `demo` and `emulator`: warnings and errors only, since the
/// progress and the report (or the emulator's address) are their normal output.
pub const DEFAULT_LOG_LEVEL: &str = "warn";

/// Logs to stderr at `default_level` (`warn`, `error`, …) unless `RUST_LOG` says otherwise;
/// never a token or a row (the Graph client and the emulator log codes and counts only). A
/// subscriber installed already serves as well.
pub fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Loads the configuration file named by `--config`, with every problem listed.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|error| {
        let hint = if error
            .problems
            .iter()
            .any(|problem| problem.starts_with("cannot read the file"))
            && !path.exists()
        {
            "\n  (create one with `audsync init`, or name it with --config PATH)"
        } else {
            ""
        };
        anyhow::anyhow!("{error}{hint}")
    })
}

/// `audsync init`: writes the commented example configuration; an existing file is replaced
/// only with `--force` (atomically: written beside it, then renamed over it).
pub fn init_command(args: &InitArgs) -> anyhow::Result<()> {
    let path = &args.config.config;
    if path.exists() && !args.force {
        bail!(
            "{} already exists; keep it, or run `audsync init --force` to replace it with the \
             example",
            path.display()
        );
    }
    if args.force && path.exists() {
        let file_name = path
            .file_name()
            .with_context(|| format!("{} is not a file path", path.display()))?;
        let temporary = path.with_file_name(format!(
            ".{}.init.{}.tmp",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&temporary);
        config::write_example(&temporary)?;
        if let Err(error) = std::fs::rename(&temporary, path) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error).with_context(|| format!("cannot replace {}", path.display()));
        }
    } else {
        config::write_example(path)?;
    }
    println!(
        "Wrote {}: an example configuration, every key commented.\n\
         Next:\n\
         \x20 1. export FB_ACCESS_TOKEN=<your token>   (a system-user token never expires)\n\
         \x20 2. audsync connector add meta --ad-account-id act_<ID> --access-token-env \
         FB_ACCESS_TOKEN --config {}\n\
         \x20    (stores the token encrypted, then checks the connector)\n\
         \x20 3. edit the [[segment]] to point at your customer file, then `audsync sync newsletter`",
        path.display(),
        path.display()
    );
    Ok(())
}

/// `audsync connector add`: reads the token (and app secret) from the named environment
/// variables, stores them encrypted in the configuration through
/// [`crate::secrets::add_connector`], then checks the connector and prints the checks. Exits
/// 1 when a check failed (the connector stays saved: fix the problem and run `audsync check`).
pub fn connector_add_command(args: &ConnectorAddArgs) -> anyhow::Result<ExitCode> {
    init_logging(INTERACTIVE_LOG_LEVEL);
    let env = Environment::from_process();
    let access_token = secret_from_env(&env, &args.access_token_env, "--access-token-env")?;
    let app_secret = args
        .app_secret_env
        .as_deref()
        .map(|var| secret_from_env(&env, var, "--app-secret-env"))
        .transpose()?;
    if app_secret.is_some() && args.app_id.is_none() {
        bail!("--app-secret-env needs --app-id: the secret belongs to an app");
    }
    let new_connector = crate::secrets::NewConnector {
        name: args.name.clone(),
        ad_account_id: args.ad_account_id.clone(),
        access_token,
        app_id: args.app_id.clone(),
        app_secret,
        graph_url: args.graph_url.clone(),
        api_version: None,
        access_tier: None,
    };
    let config_path = &args.config.config;
    let added = crate::secrets::add_connector(config_path, &new_connector, &env)?;
    println!(
        "{} connector {:?} in {} (token encrypted with key {}).",
        if added.created { "Added" } else { "Updated" },
        args.name,
        config_path.display(),
        added.key_id
    );
    if let Some(key_file) = &added.key_file_created {
        println!(
            "Created the secret key file {} (readable by you only). Back it up: without it the \
             stored tokens cannot be decrypted. Services can set AUDSYNC_SECRET_KEY instead.",
            key_file.display()
        );
    }
    let config = load_config(config_path)?;
    let connector = config
        .connector(&args.name)
        .with_context(|| format!("connector {:?} is missing after saving it", args.name))?;
    println!("Checking it:");
    crate::check::check_and_print(&[connector])
}

/// A secret from the environment variable `var` (named by `flag`); never echoed.
fn secret_from_env(env: &Environment, var: &str, flag: &str) -> anyhow::Result<SecretString> {
    match env.var(var) {
        Some(value) if !value.trim().is_empty() => Ok(SecretString::from(value.trim().to_owned())),
        Some(_) => bail!("{flag} {var}: the environment variable is empty"),
        None => bail!(
            "{flag} {var}: the environment variable is not set; export the value in it first \
             (secrets are never passed on the command line, where the shell history keeps them)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(graph_url: &str, app: Option<(&str, &str)>) -> Connector {
        let text = format!(
            "[[connector]]\nname = \"meta\"\nad_account_id = \"act_42\"\n\
             access_token = \"${{TOKEN}}\"\ngraph_url = \"{graph_url}\"\n{}",
            match app {
                Some((app_id, _)) =>
                    format!("app_id = \"{app_id}\"\napp_secret = \"${{SECRET}}\"\n"),
                None => String::new(),
            }
        );
        let env = Environment::from_vars([
            ("TOKEN", "EAAtoken"),
            ("SECRET", app.map_or("", |(_, secret)| secret)),
        ]);
        let mut config =
            Config::parse(&text, Path::new("/tmp"), &env).expect("a valid configuration");
        config.connectors.remove(0)
    }

    #[test]
    fn settings_carry_the_connector_without_showing_secrets() {
        let connector = connector("http://127.0.0.1:4010/", Some(("1234", "app-secret-value")));
        let settings = graph_settings(&connector);
        assert_eq!(settings.base_url, "http://127.0.0.1:4010");
        assert_eq!(settings.api_version, "v25.0");
        assert_eq!(settings.app_id.as_deref(), Some("1234"));
        assert!(settings.app_secret.is_some());
        assert!(has_app_credentials(&connector));
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("EAAtoken") && !debug.contains("app-secret-value"),
            "{debug}"
        );
        assert_eq!(
            ad_account_id(&connector).expect("digits").as_path(),
            "act_42"
        );
        assert_eq!(
            describe_connector(&connector),
            "Connector \"meta\": ad account act_42, Graph API v25.0 at http://127.0.0.1:4010"
        );
    }

    #[test]
    fn interactive_clients_build_and_give_up_quickly() {
        let connector = connector("https://graph.facebook.com", None);
        assert!(!has_app_credentials(&connector));
        assert!(interactive_graph_client(&connector).is_ok());
        assert!(graph_client(&connector).is_ok());
        assert!(INTERACTIVE_MAX_ATTEMPTS < RetryPolicy::default().max_attempts);
    }

    #[test]
    fn select_named_picks_one_or_all_and_lists_names_when_missing() {
        let names = ["meta", "meta-eu"];
        let path = Path::new("audsync.toml");
        let select =
            |wanted| select_named(&names, |name| name, wanted, "connector", path, "add one");
        assert_eq!(select(None).expect("all"), [&"meta", &"meta-eu"]);
        assert_eq!(select(Some("meta-eu")).expect("one"), [&"meta-eu"]);
        let error = select(Some("nope")).expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "no connector \"nope\" in audsync.toml (it has: \"meta\", \"meta-eu\")"
        );
        let none: [&str; 0] = [];
        let error = select_named(
            &none,
            |name| name,
            None,
            "segment",
            path,
            "add a [[segment]]",
        )
        .expect_err("empty");
        assert_eq!(
            error.to_string(),
            "audsync.toml has no segment; add a [[segment]]"
        );
    }

    #[test]
    fn secrets_come_from_named_variables_and_are_never_echoed() {
        let env = Environment::from_vars([("SET", " EAAvalue "), ("EMPTY", "  ")]);
        let secret = secret_from_env(&env, "SET", "--access-token-env").expect("set");
        assert_eq!(secret.expose_secret(), "EAAvalue");
        let error = secret_from_env(&env, "EMPTY", "--access-token-env").expect_err("empty");
        assert!(error.to_string().contains("EMPTY"), "{error}");
        let error = secret_from_env(&env, "UNSET", "--access-token-env").expect_err("unset");
        assert!(error.to_string().contains("not set"), "{error}");
    }
}
