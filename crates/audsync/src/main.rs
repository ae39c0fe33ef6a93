//! The `audsync` binary: parses the command line and dispatches each subcommand to one function.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use audsync::cli::{Cli, Command, ConnectorCommand};
use clap::Parser;

/// Exit status for usage and I/O errors (clap uses the same for bad flags).
const EXIT_USAGE_OR_IO_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_panic_hook();
    let result = match &cli.command {
        Command::Hash(args) => audsync::hash::run(args).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => audsync::demo::command(args),
        Command::Emulator(args) => audsync::emulator_command::run(args).map(|()| ExitCode::SUCCESS),
        Command::Init(args) => audsync::connect::init_command(args).map(|()| ExitCode::SUCCESS),
        Command::Connector(ConnectorCommand::Add(args)) => {
            audsync::connect::connector_add_command(args)
        }
        Command::Check(args) => audsync::check::command(args),
        Command::Plan(args) => audsync::sync::command::plan_command(args),
        Command::Sync(args) => audsync::sync::command::sync_command(args),
        Command::Status(args) => audsync::status::command(args),
    };
    match result {
        Ok(exit_code) => exit_code,
        Err(error) => {
            eprintln!("audsync: error: {error:#}");
            ExitCode::from(EXIT_USAGE_OR_IO_ERROR)
        }
    }
}

/// Panics reported on stderr at most; a bug hit by every row would otherwise flood it (the
/// hash pipeline turns a panicking row into a reject and goes on).
const MAX_PANICS_REPORTED: usize = 3;

/// Panic messages can quote the value being processed, which may be personal data: print only
/// where the panic happened.
fn install_panic_hook() {
    static N_PANICS: AtomicUsize = AtomicUsize::new(0);
    std::panic::set_hook(Box::new(|info| {
        if N_PANICS.fetch_add(1, Ordering::Relaxed) >= MAX_PANICS_REPORTED {
            return;
        }
        let location = info
            .location()
            .map_or_else(|| "unknown location".to_string(), ToString::to_string);
        eprintln!("audsync: internal error (panic) at {location}; please report it");
    }));
}
