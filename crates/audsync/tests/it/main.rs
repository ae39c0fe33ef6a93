//! Integration tests of the `audsync` binary, one module per command.

mod check;
mod cli_misc;
mod config;
mod crash;
mod demo;
mod emulator;
mod hash;
mod shared_keys;
mod sources;
mod status;
mod store;
mod support;
mod sync;
mod sync_postgres;
mod sync_support;
