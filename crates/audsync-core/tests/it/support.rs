//! Helpers shared by the integration tests: an engine for a fixed year and single-key runs.

use audsync_core::{
    CountryCode, EligibilityRule, Engine, Field, MatchKey, NormalizeOptions, RowOutcome, Scratch,
};

/// The year the tests pretend it is (the engine never reads the clock).
pub const YEAR: u16 = 2026;

pub fn engine(default_country: Option<&str>) -> Engine {
    let mut options = NormalizeOptions::new(YEAR);
    options.default_country = default_country.and_then(CountryCode::parse);
    Engine::new(options, EligibilityRule::default())
}

/// The normalized string of one key, given a country column value (may be empty).
pub fn normalized(engine: &Engine, field: Field, value: &str, country: &str) -> Option<String> {
    let mut scratch = Scratch::new();
    let fields = [field, Field::Key(MatchKey::Country)];
    let outcome = engine.normalize(&fields, &[value, country], &mut scratch);
    let key = match field {
        Field::Key(key) => key,
        Field::DateOfBirth => MatchKey::Doby,
        Field::Consent => return None,
    };
    outcome.get(key).map(str::to_owned)
}

/// The wire value of `key` when the row is sent, or `None` when it is rejected.
pub fn wire(engine: &Engine, fields: &[Field], row: &[&str], key: MatchKey) -> Option<String> {
    let mut scratch = Scratch::new();
    match engine.process(fields, row, &mut scratch) {
        RowOutcome::Member(member) => {
            let mut out = String::new();
            member.write_wire(key, &mut out);
            Some(out)
        }
        RowOutcome::Rejected(_) => None,
    }
}
