//! audsync-core integration tests: the public API on whole rows (known answers, Meta-vs-SDK
//! divergences, a messy multilingual corpus) and property tests.

mod corpus;
mod divergences;
mod known_answers;
mod properties;
mod support;
