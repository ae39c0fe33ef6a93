//! Integration tests: the emulator spawned on a loopback port, driven with raw HTTP.

mod support;

mod fixtures;
mod membership;
mod python_sdk;
mod replace;
mod scenarios;
mod surface;
mod validation;
