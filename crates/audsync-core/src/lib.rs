//! audsync-core: the pure match-key engine. It turns one customer row into the keys Meta's
//! Custom Audiences accept (normalized per Meta's documented rules, then SHA-256 hashed), or a
//! rejection with a reason in plain words.
//!
//! This crate does no I/O, no async, no logging, starts no threads and never reads the clock
//! (the current year comes in [`NormalizeOptions`]). It never panics on any input: a value it
//! cannot read is *absent*, with an [`AbsentReason`]; a row without enough keys is a
//! [`Rejection`], not an error.
//!
//! # Layout
//!
//! - [`key`]: [`MatchKey`], Meta's 16 schema keys in schema order, and [`KeySet`].
//! - [`field`]: [`Field`], what a source column feeds, and the automatic column mapping.
//! - [`options`]: [`NormalizeOptions`], [`DateOrder`], [`NameScript`].
//! - [`normalize`]: one normalizer per key family (`email`, `phone`, `name`, `location`,
//!   `country`, `date`, `gender`, `misc`); `country_table` holds the ISO 3166-1 table.
//! - [`hash`]: SHA-256 + lowercase hex into stack buffers; pre-hashed input detection.
//! - [`eligibility`]: [`EligibilityRule`] and [`RejectReason`].
//! - [`member`]: [`Member`], [`KeyValue`], [`Rejection`], [`RowOutcome`],
//!   [`NormalizedOutcome`].
//! - [`engine`]: [`Engine`] (row → outcome, precomputed digests), [`Scratch`] (per-thread
//!   buffers and memo caches) and [`MemberView`] (a member read in place from its scratch).
//!
//! ```
//! use audsync_core::{Engine, EligibilityRule, Field, MatchKey, NormalizeOptions, RowOutcome, Scratch};
//!
//! let engine = Engine::new(NormalizeOptions::new(2026), EligibilityRule::default());
//! let mut scratch = Scratch::new();
//! let fields = [Field::Key(MatchKey::Email), Field::Key(MatchKey::Country)];
//! let RowOutcome::Member(member) = engine.process(&fields, &["  Mary@Example.com ", "USA"], &mut scratch) else {
//!     panic!("a user with an email is eligible");
//! };
//! let mut wire = String::new();
//! member.write_wire(MatchKey::Email, &mut wire);
//! assert_eq!(wire, audsync_core::sha256_hex("mary@example.com"));
//! ```

mod country_table;
pub mod eligibility;
pub mod engine;
pub mod field;
pub mod hash;
pub mod key;
pub mod member;
mod memo;
pub mod normalize;
pub mod options;

pub use eligibility::{EligibilityRule, RejectReason, RuleError};
pub use engine::{Engine, MemberView, Scratch};
pub use field::Field;
pub use hash::sha256_hex;
pub use key::{KeySet, MatchKey};
pub use member::{AbsentReasons, KeyValue, Member, NormalizedOutcome, Rejection, RowOutcome};
pub use normalize::AbsentReason;
pub use normalize::country::CountryCode;
pub use options::{DateOrder, NameScript, NormalizeOptions};
