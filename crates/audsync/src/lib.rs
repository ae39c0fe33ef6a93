//! audsync, the application: command line, sources, and the hashing pipeline.
//!
//! # Layout
//! - `cli.rs`: subcommands and flags (parsing only).
//! - `sources/`: readers that turn customer files into rows of values, and column mapping.
//! - `hash/`: `audsync hash` and `audsync demo`: the ordered parallel normalize+hash pipeline.

pub mod cli;
pub mod hash;
pub mod sources;
