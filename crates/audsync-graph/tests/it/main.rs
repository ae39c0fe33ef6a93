//! Integration tests: the client against a spawned `audsync-emulator`, an independent reading of the same contract.

mod endpoints;
mod logging;
mod replace;
mod retries;
mod scenarios;
mod stats;
mod support;
mod users;
