//! Property tests: no normalizer panics on any string, normalization is idempotent, hashed
//! output is always 64 lowercase hex, and processing never panics on arbitrary rows.

use audsync_core::normalize::{country, date, email, gender, location, misc, name, phone};
use audsync_core::{
    AbsentReason, CountryCode, DateOrder, EligibilityRule, Field, KeyValue, MatchKey, NameScript,
    RowOutcome, Scratch,
};
use proptest::prelude::*;

use crate::support::{YEAR, engine};

/// Arbitrary Unicode, plus strings built from the characters messy customer files are made of.
fn messy_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \\t\u{a0}\u{200b}\u{feff}+()./@,'0-9a-zA-Z\u{e9}\u{fc}\u{0660}-\u{0669}\u{ff10}-\u{ff19}정東Ж-]{0,40}",
        "\\+?[0-9 ().-]{0,24}",
        "[0-9]{1,4}[/.-][0-9]{1,4}[/.-][0-9]{1,4}",
        "[a-zA-Z0-9._%+-]{0,12}@[a-zA-Z0-9.-]{0,12}",
    ]
}

fn some_country() -> impl Strategy<Value = Option<CountryCode>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "us", "gb", "ca", "fr", "de", "jp", "br", "in", "au", "it", "mx", "ru"
        ])
        .prop_map(CountryCode::parse),
    ]
}

fn run(
    normalizer: impl Fn(&str, &mut String) -> Result<(), AbsentReason>,
    input: &str,
) -> Result<String, AbsentReason> {
    let mut out = String::new();
    normalizer(input, &mut out).map(|()| out)
}

/// `normalizer` never panics, and applying it to its own output changes nothing.
fn check_idempotent(
    normalizer: impl Fn(&str, &mut String) -> Result<(), AbsentReason>,
    input: &str,
) -> Result<(), TestCaseError> {
    if let Ok(once) = run(&normalizer, input) {
        prop_assert!(!once.is_empty(), "present values are never empty");
        let twice = run(&normalizer, &once);
        prop_assert_eq!(twice.as_deref(), Ok(once.as_str()), "input {:?}", input);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_normalizers_are_idempotent_and_never_panic(input in messy_string()) {
        check_idempotent(email::email, &input)?;
        check_idempotent(|value, out| name::name(value, NameScript::Unicode, out), &input)?;
        check_idempotent(|value, out| name::name(value, NameScript::Ascii, out), &input)?;
        check_idempotent(|value, out| name::initial(value, NameScript::Unicode, out), &input)?;
        check_idempotent(location::city, &input)?;
        check_idempotent(country::country_string, &input)?;
        check_idempotent(gender::gender_string, &input)?;
        check_idempotent(misc::madid, &input)?;
        check_idempotent(misc::extern_id, &input)?;
        check_idempotent(misc::lookalike_value, &input)?;
        check_idempotent(|value, out| date::birth_year(value, YEAR, out), &input)?;
        check_idempotent(date::birth_month, &input)?;
        check_idempotent(date::birth_day, &input)?;
        let _ = misc::consent(&input);
        for order in [DateOrder::DayMonthYear, DateOrder::MonthDayYear, DateOrder::YearMonthDay] {
            if let Ok(date) = date::date_of_birth(&input, order, YEAR) {
                prop_assert!((1900..=YEAR).contains(&date.year));
                prop_assert!(date.month.is_none_or(|month| (1..=12).contains(&month)));
                prop_assert!(date.day.is_none_or(|day| (1..=31).contains(&day)));
                prop_assert!(date.day.is_none() || date.month.is_some());
            }
        }
    }

    #[test]
    fn location_normalizers_are_idempotent_for_every_country(input in messy_string(), region in some_country()) {
        check_idempotent(|value, out| location::state(value, region, out), &input)?;
        check_idempotent(|value, out| location::zip(value, region, out), &input)?;
    }

    #[test]
    fn phone_output_is_e164_digits_and_reads_back_the_same(input in messy_string(), region in some_country()) {
        let mut out = String::new();
        if phone::phone(&input, region, &mut out).is_ok() {
            prop_assert!(out.len() >= 4 && out.len() <= 17, "{:?} → {:?}", input, out);
            prop_assert!(out.bytes().all(|byte| byte.is_ascii_digit()) && !out.starts_with('0'));
            let mut again = String::new();
            prop_assert_eq!(phone::phone(&format!("+{out}"), None, &mut again), Ok(()));
            prop_assert_eq!(&again, &out);
        }
    }

    #[test]
    fn eligibility_rules_parse_or_fail_cleanly_and_round_trip(
        text in prop_oneof![
            any::<String>(),
            "[()&| ]{0,6}(EMAIL|PHONE|fn|ln|ZIP|CT|and|or|[()&| ]){0,12}",
        ],
    ) {
        if let Ok(rule) = EligibilityRule::parse(&text) {
            let printed = rule.to_string();
            prop_assert_eq!(EligibilityRule::parse(&printed), Ok(rule));
        }
    }

    #[test]
    fn processing_arbitrary_rows_never_panics_and_hashes_are_lowercase_hex(
        columns in prop::collection::vec(
            (
                prop::sample::select(vec![
                    Field::Key(MatchKey::ExternId), Field::Key(MatchKey::Email), Field::Key(MatchKey::Phone),
                    Field::Key(MatchKey::Gen), Field::Key(MatchKey::Doby), Field::Key(MatchKey::Dobm),
                    Field::Key(MatchKey::Dobd), Field::Key(MatchKey::Ln), Field::Key(MatchKey::Fn),
                    Field::Key(MatchKey::Fi), Field::Key(MatchKey::Ct), Field::Key(MatchKey::St),
                    Field::Key(MatchKey::Zip), Field::Key(MatchKey::Country), Field::Key(MatchKey::Madid),
                    Field::Key(MatchKey::LookalikeValue), Field::DateOfBirth, Field::Consent,
                ]),
                messy_string(),
            ),
            0..14,
        ),
        default_country in prop::option::of(prop::sample::select(vec!["us", "fr", "gb", "jp"])),
    ) {
        let engine = engine(default_country);
        let mut scratch = Scratch::new();
        let fields: Vec<Field> = columns.iter().map(|(field, _)| *field).collect();
        let values: Vec<&str> = columns.iter().map(|(_, value)| value.as_str()).collect();
        let outcome = engine.process(&fields, &values, &mut scratch);
        let normalized = engine.normalize(&fields, &values, &mut scratch);
        match outcome {
            RowOutcome::Member(member) => {
                prop_assert!(normalized.is_member());
                prop_assert!(engine.rule().is_satisfied_by(member.present()));
                for key in MatchKey::ALL {
                    let mut wire = String::new();
                    member.write_wire(key, &mut wire);
                    match member.get(key) {
                        KeyValue::Hashed(_) => {
                            prop_assert!(key.is_hashed());
                            prop_assert_eq!(wire.len(), 64);
                            prop_assert!(wire.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                        }
                        KeyValue::Plain(text) => {
                            prop_assert!(!key.is_hashed());
                            prop_assert!(!text.is_empty());
                        }
                        KeyValue::Absent => prop_assert_eq!(wire.as_str(), ""),
                    }
                    prop_assert_eq!(member.get(key).is_absent(), normalized.get(key).is_none());
                }
            }
            RowOutcome::Rejected(rejection) => {
                prop_assert_eq!(normalized.rejection().map(|r| r.reason), Some(rejection.reason));
                prop_assert!(!rejection.reason.to_string().is_empty());
            }
        }
    }
}
