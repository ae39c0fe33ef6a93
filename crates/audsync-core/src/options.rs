//! `NormalizeOptions`: the per-run choices normalization depends on (default country, date
//! order, name script, EXTERN_ID hashing, the current year).

use crate::normalize::country::CountryCode;

/// How to read an ambiguous numeric date such as `02/08/1956`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateOrder {
    /// `02/08/1956` is 2 August 1956 (most of the world).
    DayMonthYear,
    /// `02/08/1956` is February 8, 1956 (United States).
    MonthDayYear,
    /// `56/08/02` is 1956-08-02 (ISO, East Asia).
    YearMonthDay,
}

impl DateOrder {
    /// Parses `dmy`, `mdy` or `ymd` (any case), as `--date-order` takes them.
    pub fn parse(name: &str) -> Option<DateOrder> {
        match name.trim().to_ascii_lowercase().as_str() {
            "dmy" => Some(DateOrder::DayMonthYear),
            "mdy" => Some(DateOrder::MonthDayYear),
            "ymd" => Some(DateOrder::YearMonthDay),
            _ => None,
        }
    }

    /// The order used when none is configured: month first for the United States, day first
    /// everywhere else (including when the country is unknown).
    pub fn for_country(country: Option<CountryCode>) -> DateOrder {
        match country {
            Some(country) if country.as_str() == "us" => DateOrder::MonthDayYear,
            _ => DateOrder::DayMonthYear,
        }
    }
}

/// Which characters FN, LN and FI keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NameScript {
    /// Letters of any script, NFC, lowercase (`José` → `josé`); what Meta's docs ask for.
    #[default]
    Unicode,
    /// Transliterated to a–z (`José` → `jose`); Meta's "Roman alphabet translation" advice.
    Ascii,
}

impl NameScript {
    /// Parses `unicode` or `ascii` (any case).
    pub fn parse(name: &str) -> Option<NameScript> {
        match name.trim().to_ascii_lowercase().as_str() {
            "unicode" => Some(NameScript::Unicode),
            "ascii" => Some(NameScript::Ascii),
            _ => None,
        }
    }
}

/// Per-run normalization choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Country assumed for users whose COUNTRY is absent: the phone region, the ST/ZIP rules and
    /// the default date order. `None`: national phone numbers of such users cannot be read.
    pub default_country: Option<CountryCode>,
    /// How to read ambiguous `a/b/yyyy` dates; `None` = from the user's country (month first for
    /// the United States, day first elsewhere).
    pub date_order: Option<DateOrder>,
    /// Which characters names keep.
    pub names: NameScript,
    /// Hash EXTERN_ID too (Meta allows it; then it must always be hashed).
    pub hash_extern_id: bool,
    /// The current year: the upper bound of DOBY and the pivot of two-digit years. Passed in
    /// because this crate never reads the clock.
    pub current_year: u16,
}

impl NormalizeOptions {
    /// Defaults (no default country, date order from the user's country, Unicode names,
    /// EXTERN_ID unhashed) for the given current year.
    pub fn new(current_year: u16) -> NormalizeOptions {
        NormalizeOptions {
            default_country: None,
            date_order: None,
            names: NameScript::Unicode,
            hash_extern_id: false,
            current_year,
        }
    }
}
