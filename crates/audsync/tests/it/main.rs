//! Integration tests of the `audsync` binary, one module per command.

mod emulator;
mod hash;
mod store;
mod support;
