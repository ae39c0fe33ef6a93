//! Integration tests of the `audsync` binary, one module per command.

mod hash;
mod support;
