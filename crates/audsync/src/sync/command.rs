//! The `audsync plan` and `audsync sync [--replace]` subcommands (one or more segments, or
//! `--all`): the config, the store, the connector's Graph client, then [`super::plan`] or
//! [`super::run`] per segment, the reports on stdout (text or JSON lines) and the exit status.
//!
//! Exit status: 0 when the run succeeded (or the plan was made); 1 when Meta stopped the run
//! (the report says why and what to do; pending changes wait for the next run); 3 when it ended
//! partially (some changes refused or held back, e.g. removals on a too-small audience);
//! 2 on a usage, configuration or I/O error, or when another process is syncing the segment.
//! With several segments, each runs even if one fails, and the exit status is the gravest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use audsync_core::NormalizeOptions;
use audsync_graph::NewAudience;

use crate::cli::SyncArgs;
use crate::config::{Config, Segment, Source};
use crate::connect;
use crate::sources::SourceSpec;
use crate::sources::sql::QuerySpec;
use crate::store::Store;
use crate::sync::send::CRASH_AFTER_BATCHES_ENV;
use crate::sync::{ProgressMode, RunReport, SegmentSpec, SyncDeps, SyncOptions};

/// Exit status of a segment that could not run (configuration, store, source, lease).
const EXIT_ERROR: u8 = 2;

/// `audsync plan SEGMENT… | --all`.
pub fn plan_command(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let config = connect::load_config(&args.config.config)?;
    let names = chosen_segments(&config, args)?;
    let options = options(args)?;
    connect::init_logging(connect::DEFAULT_LOG_LEVEL);
    let runtime = runtime()?;
    let store = runtime
        .block_on(Store::connect(config.store.expose()))
        .context("cannot open the state store")?;
    let exit = for_each_segment(&names, args.json, |name| {
        let spec = segment_spec(&config, name)?;
        runtime.block_on(super::plan(&store, &spec, &options))
    });
    runtime.block_on(store.close());
    Ok(exit)
}

/// `audsync sync SEGMENT… | --all [--replace]`.
pub fn sync_command(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let config = connect::load_config(&args.config.config)?;
    let names = chosen_segments(&config, args)?;
    let options = options(args)?;
    connect::init_logging(connect::DEFAULT_LOG_LEVEL);
    let runtime = runtime()?;
    Ok(for_each_segment(&names, args.json, |name| {
        runtime.block_on(sync_segment(&config, &args.config.config, name, &options))
    }))
}

/// The segments a command names (`--all`: every configured one, in the file's order), each
/// checked to exist before any of them runs.
fn chosen_segments(config: &Config, args: &SyncArgs) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = if args.all {
        config
            .segments
            .iter()
            .map(|segment| segment.name.clone())
            .collect()
    } else {
        args.segments.clone()
    };
    if names.is_empty() {
        bail!("the configuration has no [[segment]] to run");
    }
    for name in &names {
        segment_spec(config, name)?;
    }
    Ok(names)
}

/// Runs `run` for each segment in turn, printing each report (text, or one JSON line with
/// `json`); a segment that cannot run is reported on stderr and the others still run. The exit
/// status is the gravest of all: an error (2), then a run Meta stopped (1), then a partial run
/// (3), else 0.
fn for_each_segment(
    names: &[String],
    json: bool,
    mut run: impl FnMut(&str) -> anyhow::Result<RunReport>,
) -> ExitCode {
    let gravity = |code: u8| match code {
        0 => 0,
        3 => 1,
        1 => 2,
        _ => 3,
    };
    let mut exit = 0u8;
    for name in names {
        let code = match run(name) {
            Ok(report) => {
                if json {
                    println!("{}", report.to_json());
                } else {
                    if names.len() > 1 && name != &names[0] {
                        println!();
                    }
                    print!("{report}");
                }
                report.exit_code()
            }
            Err(error) => {
                eprintln!("audsync: error: segment {name}: {error:#}");
                EXIT_ERROR
            }
        };
        if gravity(code) > gravity(exit) {
            exit = code;
        }
    }
    ExitCode::from(exit)
}

/// Syncs the configured segment `name`: its [`SegmentSpec`], its connector's Graph client,
/// the store, then [`super::run`]. `audsync sync` and `audsync demo` both sync through it.
pub(crate) async fn sync_segment(
    config: &Config,
    config_path: &Path,
    name: &str,
    options: &SyncOptions,
) -> anyhow::Result<RunReport> {
    let spec = segment_spec(config, name)?;
    let segment = config.segment(name).context("the segment was just found")?;
    let connector = config.connector(&segment.connector).with_context(|| {
        format!(
            "segment {}: no connector {:?}",
            segment.name, segment.connector
        )
    })?;
    let graph = connect::graph_client(connector)?;
    let store = Store::connect(config.store.expose())
        .await
        .context("cannot open the state store")?;
    let deps = SyncDeps {
        store: store.clone(),
        graph,
        spool_root: spool_root(config, config_path),
    };
    let report = super::run(&deps, &spec, options).await;
    store.close().await;
    report
}

fn options(args: &SyncArgs) -> anyhow::Result<SyncOptions> {
    let crash_after_batches = match std::env::var(CRASH_AFTER_BATCHES_ENV) {
        Ok(text) => Some(
            text.trim()
                .parse()
                .with_context(|| format!("{CRASH_AFTER_BATCHES_ENV} must be a number"))?,
        ),
        Err(_) => None,
    };
    Ok(SyncOptions {
        replace: args.replace,
        progress: if args.quiet {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
        crash_after_batches,
        ..SyncOptions::default()
    })
}

/// A runtime with a thread for the store and the Graph client beside the blocking diff (the
/// runtime a sync needs; `audsync demo` runs its syncs on it too).
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Where spools go: beside an SQLite store (`audsync.db` → `audsync.db.spool/`), else beside
/// the config file (`.audsync-spool/`). Scratch only: see [`SyncDeps::spool_root`].
pub fn spool_root(config: &Config, config_path: &Path) -> PathBuf {
    let url = config.store.expose();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return PathBuf::from(format!("{path}.spool"));
    }
    config_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".audsync-spool")
}

/// What a sync needs of a configured segment.
pub fn segment_spec(config: &Config, name: &str) -> anyhow::Result<SegmentSpec> {
    let Some(segment) = config.segment(name) else {
        let known: Vec<&str> = config
            .segments
            .iter()
            .map(|segment| segment.name.as_str())
            .collect();
        bail!(
            "no segment {name:?} in the configuration (segments: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let connector = config
        .connector(&segment.connector)
        .with_context(|| format!("segment {name}: no connector {:?}", segment.connector))?;
    let source = match &segment.source {
        Source::Files { path, format, .. } => SourceSpec::Files {
            path: path.clone(),
            format: Some(*format),
        },
        Source::Query { sql, database } => SourceSpec::Query(QuerySpec {
            sql: sql.clone(),
            database: database.expose().to_owned().into(),
        }),
    };
    Ok(SegmentSpec {
        name: segment.name.clone(),
        connector: connector.name.clone(),
        ad_account: connect::ad_account_id(connector)?,
        source,
        mapping: segment.mapping_pairs(),
        user_id_column: segment.user_id_column.clone(),
        consent_column: segment.consent_column.clone(),
        normalize: normalize_options(segment),
        rule: segment.eligibility.clone(),
        mode: segment.mode,
        audience_name: segment.audience_name.clone(),
        new_audience: NewAudience {
            description: segment.description.clone(),
            customer_file_source: segment.customer_file_source,
        },
    })
}

fn normalize_options(segment: &Segment) -> NormalizeOptions {
    let mut options = NormalizeOptions::new(crate::hash::current_year());
    options.default_country = segment.default_country;
    options.date_order = segment.date_order;
    options.names = segment.names;
    options.hash_extern_id = segment.hash_extern_id;
    options
}
