//! `audsync emulator`: runs the Graph API emulator (`audsync-emulator`) until Ctrl-C or SIGTERM.
//!
//! At start it prints the base URL (the real bound address, so `--listen 127.0.0.1:0` works)
//! and every credential it accepts, from [`audsync_emulator::describe`]. On Ctrl-C or SIGTERM
//! it stops accepting connections, lets requests in flight finish for up to
//! [`SHUTDOWN_GRACE`], and exits 0. With `--state FILE` the emulator writes its state after
//! every change, so a stop at any time loses nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use audsync_emulator::EmulatorConfig;
use audsync_graph::AdAccountId;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::cli::EmulatorArgs;

/// How long requests in flight may take to finish after a stop signal. Our choice: long
/// enough for any normal answer, short enough that a held-back `slow-answer` fault (30 s)
/// does not hold up Ctrl-C.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The first line printed at start begins with this, followed by the base URL (scripts and
/// tests read the URL from it).
pub const LISTENING_PREFIX: &str = "Graph API emulator listening on ";

/// `audsync emulator`.
pub fn run(args: &EmulatorArgs) -> anyhow::Result<()> {
    let config = emulator_config(args)?;
    crate::connect::init_logging(crate::connect::DEFAULT_LOG_LEVEL);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve_until_signal(args.listen, config))
}

/// The emulator's configuration from the flags: `--ad-account` and `--token` replace the
/// defaults (the first one) and add more (the next ones), `--scenario` stacks built-in names
/// or TOML files, `--state` persists.
pub fn emulator_config(args: &EmulatorArgs) -> anyhow::Result<EmulatorConfig> {
    let mut config = EmulatorConfig::default();
    for ad_account in &args.ad_accounts {
        let ad_account = AdAccountId::parse(ad_account)
            .with_context(|| format!("--ad-account {ad_account:?}"))?;
        config = config.with_ad_account(&ad_account.as_path());
    }
    for token in &args.tokens {
        if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
            bail!("--token must be a non-empty string without spaces");
        }
        config = config.with_token(token);
    }
    for scenario in &args.scenarios {
        config = config
            .with_scenario(scenario)
            .with_context(|| format!("--scenario {scenario}"))?;
    }
    if let Some(state_file) = &args.state {
        config = config.with_state_file(state_file);
    }
    Ok(config)
}

/// The URL clients use for a bound address: an unspecified address (`0.0.0.0`, `::`) is
/// reached through the loopback address of its family.
pub fn base_url(local_addr: SocketAddr) -> String {
    let reachable = match local_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(reachable, local_addr.port()))
}

async fn serve_until_signal(listen: SocketAddr, config: EmulatorConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!(
            "cannot listen on {listen} (is another emulator running there? \
             --listen 127.0.0.1:0 picks a free port)"
        )
    })?;
    let local_addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let base_url = base_url(local_addr);
    // Printed before serving starts, so that whoever reads the URL can call it at once
    // (connections wait in the listener's backlog until the server accepts them).
    println!("{}", audsync_emulator::describe(&base_url, &config));
    if !local_addr.ip().is_loopback() {
        eprintln!(
            "audsync emulator: warning: listening on {local_addr}, beyond this machine; \
             /_emulator/ has no authentication and the credentials above are public"
        );
    }
    println!("Press Ctrl-C to stop.");

    let (stop, stopped) = oneshot::channel::<()>();
    let mut server = tokio::spawn(audsync_emulator::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    let signal = tokio::select! {
        joined = &mut server => {
            joined.context("the emulator task failed")?.context("the emulator stopped")?;
            bail!("the emulator stopped by itself");
        }
        signal = stop_signal() => signal?,
    };
    eprintln!("audsync emulator: {signal} received, stopping");
    let _ = stop.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
        Ok(joined) => joined
            .context("the emulator task failed")?
            .context("the emulator stopped with an error")?,
        Err(_) => {
            server.abort();
            eprintln!(
                "audsync emulator: requests still in flight after {} s were dropped",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    }
    println!("Graph API emulator stopped.");
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM; returns which.
async fn stop_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                result.context("cannot listen for Ctrl-C")?;
                Ok("Ctrl-C")
            }
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ad_accounts: &[&str], tokens: &[&str], scenarios: &[&str]) -> EmulatorArgs {
        EmulatorArgs {
            listen: "127.0.0.1:0".parse().expect("an address"),
            ad_accounts: ad_accounts.iter().map(|id| id.to_string()).collect(),
            tokens: tokens.iter().map(|token| token.to_string()).collect(),
            scenarios: scenarios.iter().map(|name| name.to_string()).collect(),
            state: None,
        }
    }

    #[test]
    fn flags_replace_the_default_account_and_token_then_add() {
        let config = emulator_config(&args(
            &["act_111", "222"],
            &["EAAone", "EAAtwo"],
            &["not-admin"],
        ))
        .expect("valid flags");
        let accounts: Vec<String> = config.ad_accounts.iter().map(|a| a.act_id()).collect();
        assert_eq!(accounts, ["act_111", "act_222"]);
        let tokens: Vec<&str> = config.tokens.iter().map(|t| t.token.as_str()).collect();
        assert_eq!(tokens, ["EAAone", "EAAtwo"]);
        assert_eq!(config.scenarios.len(), 1);
        assert_eq!(config.scenarios[0].name, "not-admin");
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let error = emulator_config(&args(&["act_12x"], &[], &[])).expect_err("not digits");
        assert!(format!("{error:#}").contains("--ad-account"), "{error:#}");
        let error = emulator_config(&args(&[], &["two words"], &[])).expect_err("a space");
        assert!(format!("{error:#}").contains("--token"), "{error:#}");
        let error = emulator_config(&args(&[], &[], &["no-such"])).expect_err("unknown");
        let text = format!("{error:#}");
        assert!(
            text.contains("--scenario no-such") && text.contains("tos-not-accepted"),
            "{text}"
        );
    }

    #[test]
    fn unspecified_addresses_are_reached_through_loopback() {
        for (bound, url) in [
            ("0.0.0.0:4010", "http://127.0.0.1:4010"),
            ("[::]:4010", "http://[::1]:4010"),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("192.168.1.7:80", "http://192.168.1.7:80"),
        ] {
            assert_eq!(base_url(bound.parse().expect("an address")), url);
        }
    }
}
