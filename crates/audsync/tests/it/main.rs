//! Integration tests of the `audsync` binary, one module per command.

mod config;
mod emulator;
mod hash;
mod store;
mod support;
