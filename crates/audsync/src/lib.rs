//! audsync, the application: command line, sources, and the hashing pipeline.
//!
//! # Layout
//! - `cli.rs`: subcommands and flags (parsing only).
//! - `sources/`: readers that turn customer files into rows of values, and column mapping.
//! - `hash/`: `audsync hash`: the ordered parallel normalize+hash pipeline.
//! - `emulator_command.rs`: `audsync emulator`, the Graph API emulator until Ctrl-C.
//! - `connect.rs`: the Graph client of a configured connector; `audsync init` and
//!   `audsync connector add`.
//! - `check.rs`: `audsync check`, the connector pre-flight as a list of results.
//! - `status.rs`: `audsync status`, each segment's audience from the store and from Meta.
//! - `sync/`: `audsync plan` and `audsync sync`: the streaming diff, batches to Meta, the
//!   journal and commits, replace, the run report.
//! - `demo.rs`: `audsync demo`, the main job on a bundled segment against the emulator.

pub mod check;
pub mod cli;
pub mod config;
pub mod connect;
pub mod demo;
pub mod emulator_command;
pub mod hash;
pub mod secrets;
pub mod sources;
pub mod status;
pub mod store;
pub mod sync;
