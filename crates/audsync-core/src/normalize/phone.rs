//! PHONE: E.164 digits without `+` via libphonenumber metadata (`rlibphonenumber`), with a
//! fast path for numbers already written in international form.

use std::borrow::Cow;
use std::sync::OnceLock;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber, PhoneNumberFormat, Region};

use super::{AbsentReason, digit_value, prepare};
use crate::normalize::country::{CountryCode, n_countries};

const NOT_A_PHONE_NUMBER: AbsentReason = AbsentReason::Invalid("not a phone number");
const IMPOSSIBLE_PHONE_NUMBER: AbsentReason = AbsentReason::Invalid("impossible phone number");
const NO_COUNTRY: AbsentReason = AbsentReason::Invalid("no country for a national number");

/// Longest phone cell looked at (libphonenumber stops at 250; E.164 has at most 15 digits, and
/// 64 characters leave room for formatting and an extension).
const MAX_PHONE_LEN: usize = 64;

/// Most digits a phone cell may have (15 for E.164 plus an IDD prefix and an extension).
const MAX_PHONE_DIGITS: usize = 32;

/// Fewest national digits accepted without libphonenumber calling the number valid: shorter
/// national numbers exist only in a few small countries, and the metadata knows them.
const MIN_PLAUSIBLE_NATIONAL_DIGITS: usize = 7;

/// North American Numbering Plan calling code.
const NANPA_CALLING_CODE: u16 = 1;

/// Regions whose national (trunk) prefix is a single `0` that libphonenumber always strips
/// from national numbers (`06 12 34 56 78` in France is `+33 6 12 34 56 78`). For these the
/// fast path strips it too; a test checks it against the full parser on every example number.
/// Italy is not here: its leading 0 is part of the number.
const TRUNK_ZERO_REGIONS: &[&str] = &[
    "AE", "AT", "AU", "BD", "BE", "BG", "CH", "CN", "DE", "EG", "FI", "FR", "GB", "HR", "ID", "IE",
    "IL", "IN", "JP", "KE", "KR", "MY", "NG", "NL", "NZ", "PE", "PH", "PK", "RO", "RS", "SA", "SE",
    "SI", "SK", "TH", "TR", "TW", "UA", "VN", "ZA",
];

/// Calling codes whose national-prefix rules (`1` after `+52`, `15`/`9` after `+54`, carrier
/// codes after `+55`/`+57`) libphonenumber rewrites even in international form; the fast path
/// leaves them to the full parser.
const FULL_PARSE_CALLING_CODES: &[u16] = &[52, 54, 55, 57];

struct PhoneTables {
    /// `is_calling_code[c]`: whether `c` (1–999) is an assigned country calling code.
    is_calling_code: Vec<bool>,
    /// Per country-table index: what the phone normalizer needs of the region, when
    /// libphonenumber has metadata for it.
    regions: Vec<Option<RegionInfo>>,
}

/// A region as the phone normalizer uses it.
#[derive(Clone, Copy, Debug)]
struct RegionInfo {
    region: Region,
    calling_code: u16,
    /// The calling code as ASCII digits (`calling_code_text[..calling_code_len]`).
    calling_code_text: [u8; 3],
    calling_code_len: usize,
    /// Whether the region is in [`TRUNK_ZERO_REGIONS`].
    trunk_zero: bool,
}

/// `code` (1–999) as ASCII digits.
fn code_digits(code: u16) -> ([u8; 3], usize) {
    // Each digit is below 10, so the casts cannot truncate.
    let digits = [
        (code / 100) as u8,
        (code / 10 % 10) as u8,
        (code % 10) as u8,
    ];
    let skip = if code >= 100 {
        0
    } else if code >= 10 {
        1
    } else {
        2
    };
    let mut text = [0u8; 3];
    for (slot, digit) in text.iter_mut().zip(&digits[skip..]) {
        *slot = b'0' + digit;
    }
    (text, 3 - skip)
}

fn tables() -> &'static PhoneTables {
    static TABLES: OnceLock<PhoneTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut is_calling_code = vec![false; 1000];
        for code in PHONE_NUMBER_UTIL
            .get_supported_calling_codes()
            .chain(PHONE_NUMBER_UTIL.get_supported_global_network_calling_codes())
        {
            if let Some(slot) = usize::try_from(code)
                .ok()
                .and_then(|code| is_calling_code.get_mut(code))
            {
                *slot = true;
            }
        }
        let regions = (0..n_countries())
            .map(|index| {
                let country = CountryCode::from_index(index)?;
                let upper = country.upper();
                let region = Region::from_code(std::str::from_utf8(&upper).ok()?).ok()?;
                let code = PHONE_NUMBER_UTIL.get_country_code_for_region(region)?;
                let calling_code = u16::try_from(code).ok().filter(|code| *code < 1000)?;
                let (calling_code_text, calling_code_len) = code_digits(calling_code);
                Some(RegionInfo {
                    region,
                    calling_code,
                    calling_code_text,
                    calling_code_len,
                    trunk_zero: std::str::from_utf8(&upper)
                        .is_ok_and(|code| TRUNK_ZERO_REGIONS.contains(&code)),
                })
            })
            .collect();
        PhoneTables {
            is_calling_code,
            regions,
        }
    })
}

/// Loads libphonenumber's metadata (a few milliseconds, once per process), so the first row
/// does not pay for it.
pub fn warm_up() {
    let _ = tables();
}

/// Normalizes a PHONE value into `out`: the E.164 number without `+` (`+33 6 12 34 56 78` →
/// `33612345678`; contract §4.1 "digits only, no leading zeros, with country code").
///
/// `region` is the user's country (their COUNTRY, else the configured default). Handles `+`,
/// each region's own international prefix through libphonenumber (`00` from France, `011`
/// from the US, `001` from Korea, `0011` from Australia; `00` and `011` when no region is
/// known), national
/// trunk prefixes (`06 12 34 56 78` in France → `33612345678`, `+44 (0)20 7946 0958` →
/// `442079460958`), extensions (dropped), vanity letters, and digits of other scripts
/// (Arabic-Indic, Persian, Devanagari, fullwidth, …).
///
/// Absent when it is no phone number at all, when libphonenumber finds it impossible (a
/// length the country's plan never uses) or implausible (fewer than 7 national digits, a
/// leading 0 after the country code, one digit repeated, a North American area code or
/// exchange starting with 0 or 1) unless the metadata calls it valid, and for a national number when no country is known (unless the
/// digits form a valid international number by themselves).
pub fn phone(
    input: &str,
    region: Option<CountryCode>,
    out: &mut String,
) -> Result<(), AbsentReason> {
    out.clear();
    let value = prepare(input)?;
    if value.len() > MAX_PHONE_LEN {
        return Err(NOT_A_PHONE_NUMBER);
    }
    let tables = tables();
    let region = region.and_then(|country| tables.regions.get(country.index()).copied().flatten());
    let simple = SimpleNumber::read(value);
    if let Some(simple) = &simple
        && let Some(()) = fast_path(simple, region, tables, out)
    {
        return Ok(());
    }
    full_parse(value, simple.as_ref(), region, out)
}

/// A value made only of digits (any script), spaces, `-`, `.`, `/`, parentheses and one
/// leading `+`: its digits and whether it is in international form.
#[derive(Clone, Copy)]
struct SimpleNumber {
    digits: [u8; MAX_PHONE_DIGITS],
    n_digits: usize,
    /// Digits after the international prefix start here (0 with `+`, 2 after `00`, 3 after `011`).
    international_from: Option<usize>,
}

impl SimpleNumber {
    fn read(value: &str) -> Option<SimpleNumber> {
        let mut number = SimpleNumber {
            digits: [0; MAX_PHONE_DIGITS],
            n_digits: 0,
            international_from: None,
        };
        let mut plus = false;
        for character in value.chars() {
            if let Some(digit) = digit_value(character) {
                let slot = number.digits.get_mut(number.n_digits)?;
                *slot = b'0' + digit;
                number.n_digits += 1;
            } else if matches!(character, '+' | '＋') && number.n_digits == 0 && !plus {
                plus = true;
            } else if !matches!(
                character,
                ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '‐' | '–'
            ) {
                return None;
            }
        }
        if plus {
            number.international_from = Some(0);
        }
        Some(number)
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.n_digits]
    }

    /// Without a region, treats a leading `00` (the IDD of most of the world) and `011` (North
    /// America's) as `+`. With a region, libphonenumber applies that region's own IDD (`001`
    /// from Korea, `0011` from Australia, `00` from France, `011` from the US).
    fn apply_idd(&mut self, region: Option<RegionInfo>) {
        if self.international_from.is_some() || region.is_some() {
            return;
        }
        let digits = self.digits();
        if digits.starts_with(b"011") {
            self.international_from = Some(3);
        } else if digits.starts_with(b"00") && digits.get(2).is_some_and(|d| *d != b'0') {
            self.international_from = Some(2);
        }
    }
}

/// Parses ASCII digits (at most 18) as a number.
fn digits_value(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0')),
    )
}

/// The calling code (1–3 digits; calling codes are prefix-free) at the start of `digits`.
fn calling_code_prefix(digits: &[u8], tables: &PhoneTables) -> Option<(u16, usize)> {
    (1..=3).find_map(|length| {
        let code = u16::try_from(digits_value(digits.get(..length)?)?).ok()?;
        tables
            .is_calling_code
            .get(usize::from(code))
            .copied()
            .unwrap_or(false)
            .then_some((code, length))
    })
}

fn phone_number(calling_code: u16, national: &[u8]) -> Option<PhoneNumber> {
    Some(PhoneNumber {
        country_code: i32::from(calling_code),
        national_number: digits_value(national)?,
        ..PhoneNumber::default()
    })
}

/// Cheap checks that reject junk libphonenumber's length check lets through.
fn is_plausible(calling_code: u16, national: &[u8]) -> bool {
    // A leading 0 inside an international number is a trunk prefix left behind, except in the
    // few plans (Italy's) where the metadata says the number is valid with it.
    if national.len() < MIN_PLAUSIBLE_NATIONAL_DIGITS
        || national[0] == b'0'
        || national.iter().all(|d| *d == national[0])
    {
        return false;
    }
    if calling_code == NANPA_CALLING_CODE {
        // NANP numbers are NXX-NXX-XXXX: area code and exchange start with 2–9.
        return national.len() == 10 && national[0] >= b'2' && national[3] >= b'2';
    }
    true
}

/// Whether libphonenumber would accept `national` under `calling_code` as we do: possible and
/// plausible, or else valid.
fn accepts(number: &PhoneNumber, calling_code: u16, national: &[u8]) -> bool {
    PHONE_NUMBER_UTIL.is_possible_number(number)
        && (is_plausible(calling_code, national) || PHONE_NUMBER_UTIL.is_valid_number(number))
}

/// Numbers already in international form (`+16505551234`, `0033612345678`), or national digits
/// that start with the region's calling code (`16505551234` in the US) or are a plain national
/// number without trunk prefix: their digits are the answer, no parse needed. Returns `None`
/// whenever the full parser could read the number differently (a leading 0 that may be a
/// trunk prefix, the countries in [`FULL_PARSE_CALLING_CODES`], North American numbers written
/// with their trunk `1` after `+1`, …).
fn fast_path(
    simple: &SimpleNumber,
    region: Option<RegionInfo>,
    tables: &PhoneTables,
    out: &mut String,
) -> Option<()> {
    let mut simple_with_idd = *simple;
    simple_with_idd.apply_idd(region);
    let digits = simple_with_idd.digits();
    let (calling_code, national) = match simple_with_idd.international_from {
        Some(from) => {
            let digits = &digits[from..];
            let (code, length) = calling_code_prefix(digits, tables)?;
            (code, &digits[length..])
        }
        None => {
            let info = region?;
            let code_text = &info.calling_code_text[..info.calling_code_len];
            if digits.starts_with(code_text) {
                // `16505551234` in the US: the calling code, unless the whole could be a
                // national number too (then the full parser weighs both readings).
                let whole = phone_number(info.calling_code, digits)?;
                if PHONE_NUMBER_UTIL.is_possible_number(&whole) {
                    return None;
                }
                (info.calling_code, &digits[code_text.len()..])
            } else if info.trunk_zero && digits.first() == Some(&b'0') {
                // `06 12 34 56 78` in France: the trunk prefix goes.
                (info.calling_code, &digits[1..])
            } else {
                (info.calling_code, digits)
            }
        }
    };
    let first = *national.first()?;
    let trunk_like = first == b'0'
        || FULL_PARSE_CALLING_CODES.contains(&calling_code)
        || (calling_code == NANPA_CALLING_CODE && first == b'1')
        || (matches!(calling_code, 7 | 370 | 375) && first == b'8')
        || (calling_code == 36 && national.starts_with(b"06"));
    if trunk_like {
        return None;
    }
    let number = phone_number(calling_code, national)?;
    if !PHONE_NUMBER_UTIL.is_possible_number(&number) || !is_plausible(calling_code, national) {
        return None;
    }
    write_e164_digits(calling_code, national, out);
    Some(())
}

fn write_e164_digits(calling_code: u16, national: &[u8], out: &mut String) {
    let (code_text, code_len) = code_digits(calling_code);
    out.extend(
        code_text[..code_len]
            .iter()
            .chain(national)
            .map(|digit| char::from(*digit)),
    );
}

/// libphonenumber's full parse with the user's region.
fn full_parse(
    value: &str,
    simple: Option<&SimpleNumber>,
    region: Option<RegionInfo>,
    out: &mut String,
) -> Result<(), AbsentReason> {
    let mut text: Cow<'_, str> = if value.is_ascii() {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(
            value
                .chars()
                .map(|character| digit_value(character).map_or(character, |d| char::from(b'0' + d)))
                .collect(),
        )
    };
    if let Some(simple) = simple {
        let mut with_idd = *simple;
        with_idd.apply_idd(region);
        if let Some(from) = with_idd.international_from.filter(|from| *from > 0) {
            let digits = std::str::from_utf8(&with_idd.digits()[from..]).unwrap_or_default();
            text = Cow::Owned(format!("+{digits}"));
        } else if region.is_none() && with_idd.international_from.is_none() {
            // No country: only digits that already form a valid international number.
            let digits = std::str::from_utf8(with_idd.digits()).unwrap_or_default();
            let number = PHONE_NUMBER_UTIL
                .parse(format!("+{digits}"), None)
                .map_err(|_| NO_COUNTRY)?;
            if !PHONE_NUMBER_UTIL.is_valid_number(&number) {
                return Err(NO_COUNTRY);
            }
            return write_parsed(&number, out);
        }
    }
    let is_international = text.trim_start().starts_with(['+', '＋']);
    if region.is_none() && !is_international {
        return Err(NO_COUNTRY);
    }
    let number = PHONE_NUMBER_UTIL
        .parse(text.as_ref(), region.map(|info| info.region))
        .map_err(|_| NOT_A_PHONE_NUMBER)?;
    write_parsed(&number, out)
}

fn write_parsed(number: &PhoneNumber, out: &mut String) -> Result<(), AbsentReason> {
    let formatted = PHONE_NUMBER_UTIL.format(number, PhoneNumberFormat::E164);
    let digits = formatted.strip_prefix('+').unwrap_or(&formatted);
    let calling_code = u16::try_from(number.country_code).map_err(|_| NOT_A_PHONE_NUMBER)?;
    let code_length = calling_code.to_string().len();
    let national = digits
        .as_bytes()
        .get(code_length..)
        .ok_or(NOT_A_PHONE_NUMBER)?;
    if !national.iter().all(u8::is_ascii_digit) || !accepts(number, calling_code, national) {
        return Err(IMPOSSIBLE_PHONE_NUMBER);
    }
    out.push_str(digits);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    fn normalized(input: &str, region: &str) -> Result<String, AbsentReason> {
        let region = if region.is_empty() {
            None
        } else {
            CountryCode::parse(region)
        };
        let mut out = String::new();
        phone(input, region, &mut out).map(|()| out)
    }

    /// National formats of more than 20 countries, with the E.164 digits Meta wants.
    #[test]
    fn national_formats_of_many_countries() {
        let table: &[(&str, &str, &str)] = &[
            ("(650) 555-1234", "us", "16505551234"),
            ("650.555.1234", "us", "16505551234"),
            ("650-555-1234", "us", "16505551234"),
            ("6505551234", "us", "16505551234"),
            ("1-650-555-1234", "us", "16505551234"),
            ("16505551234", "us", "16505551234"),
            ("(416) 555-0199", "ca", "14165550199"),
            ("06 12 34 56 78", "fr", "33612345678"),
            ("01 42 68 53 00", "fr", "33142685300"),
            ("020 7946 0958", "gb", "442079460958"),
            ("07911 123456", "gb", "447911123456"),
            ("030 123456", "de", "4930123456"),
            ("0151 23456789", "de", "4915123456789"),
            ("06 6982 1234", "it", "390669821234"),
            ("612 34 56 78", "es", "34612345678"),
            ("06 12345678", "nl", "31612345678"),
            ("0470 12 34 56", "be", "32470123456"),
            ("044 668 18 00", "ch", "41446681800"),
            ("0664 1234567", "at", "436641234567"),
            ("070-123 45 67", "se", "46701234567"),
            ("412 34 567", "no", "4741234567"),
            ("20 12 34 56", "dk", "4520123456"),
            ("501 234 567", "pl", "48501234567"),
            ("912 345 678", "pt", "351912345678"),
            ("(11) 91234-5678", "br", "5511912345678"),
            ("55 1234 5678", "mx", "525512345678"),
            ("011 15-2345-6789", "ar", "5491123456789"),
            ("0412 345 678", "au", "61412345678"),
            ("021 123 4567", "nz", "64211234567"),
            ("090-1234-5678", "jp", "819012345678"),
            ("010-1234-5678", "kr", "821012345678"),
            ("138 0013 8000", "cn", "8613800138000"),
            ("098765 43210", "in", "919876543210"),
            ("8 (912) 345-67-89", "ru", "79123456789"),
            ("0812-3456-7890", "id", "6281234567890"),
            ("0917 123 4567", "ph", "639171234567"),
            ("050 123 4567", "ae", "971501234567"),
            ("050-123-4567", "il", "972501234567"),
            ("0532 123 45 67", "tr", "905321234567"),
            ("082 123 4567", "za", "27821234567"),
            ("0803 123 4567", "ng", "2348031234567"),
            ("0712 345678", "ke", "254712345678"),
            ("081 234 5678", "th", "66812345678"),
            ("091 234 56 78", "vn", "84912345678"),
        ];
        for (input, region, expected) in table {
            assert_eq!(
                normalized(input, region).as_deref(),
                Ok(*expected),
                "{input:?} in {region}"
            );
        }
    }

    #[test]
    fn international_forms_and_prefixes() {
        let table: &[(&str, &str, Result<&str, AbsentReason>)] = &[
            ("+1 (650) 555-1234", "", Ok("16505551234")),
            ("+16505551234", "fr", Ok("16505551234")),
            ("+33 6 12 34 56 78", "us", Ok("33612345678")),
            ("0033 6 12 34 56 78", "fr", Ok("33612345678")),
            ("0033612345678", "", Ok("33612345678")),
            ("011 44 20 7946 0958", "us", Ok("442079460958")),
            ("011 44 20 7946 0958", "", Ok("442079460958")),
            ("001 1 650 555 1234", "kr", Ok("16505551234")),
            ("0011 61 412 345 678", "au", Ok("61412345678")),
            ("+44 (0)20 7946 0958", "", Ok("442079460958")),
            ("+44 (0) 7911 123456", "de", Ok("447911123456")),
            ("+39 06 6982 1234", "", Ok("390669821234")),
            ("+1 650 555 1234 ext. 12", "", Ok("16505551234")),
            ("(650) 555-1234 x12", "us", Ok("16505551234")),
            ("+1 555 987 6543", "", Ok("15559876543")),
            ("＋３３ ６ １２ ３４ ５６ ７８", "", Ok("33612345678")),
            ("٠٥٠ ١٢٣ ٤٥٦٧", "ae", Ok("971501234567")),
            ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "ir", Ok("989123456789")),
            ("+٩٧١٥٠١٢٣٤٥٦٧", "", Ok("971501234567")),
            ("33612345678", "", Ok("33612345678")),
            ("06 12 34 56 78", "", Err(NO_COUNTRY)),
            ("+0000000000", "", Err(NOT_A_PHONE_NUMBER)),
            ("0000000000", "us", Err(IMPOSSIBLE_PHONE_NUMBER)),
            ("123", "us", Err(IMPOSSIBLE_PHONE_NUMBER)),
            ("+49 1234", "", Err(IMPOSSIBLE_PHONE_NUMBER)),
            ("n/a", "us", Err(NOT_A_PHONE_NUMBER)),
            ("", "us", Err(AbsentReason::Empty)),
        ];
        for (input, region, expected) in table {
            assert_eq!(
                normalized(input, region).as_deref(),
                expected.as_ref().copied(),
                "{input:?} in {region:?}"
            );
        }
    }

    #[test]
    fn known_answer_hashes() {
        assert_eq!(
            sha256_hex(&normalized("+1 (650) 555-1234", "").unwrap()),
            "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599"
        );
        assert_eq!(
            sha256_hex(&normalized("+1 555 987 6543", "").unwrap()),
            "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // peers.md §3 and sdk-normalization.md §1: every peer keeps the trunk 0
        // (`4402079460958`), CA-py keeps national zeros (`0612345678`) and adds no country
        // code, extension digits are appended, Arabic-Indic digits are deleted, `+0000000000`
        // is hashed or fails the batch.
        assert_eq!(
            normalized("+44 (0)20 7946 0958", "").as_deref(),
            Ok("442079460958")
        );
        assert_eq!(
            normalized("06 12 34 56 78", "fr").as_deref(),
            Ok("33612345678")
        );
        assert_eq!(
            normalized("+33 (0)6 12 34 56 78", "").as_deref(),
            Ok("33612345678")
        );
        assert_eq!(
            normalized("0033 6 12 34 56 78", "").as_deref(),
            Ok("33612345678")
        );
        assert_eq!(
            normalized("+1 650 555 0162 ext. 12", "").as_deref(),
            Ok("16505550162")
        );
        assert_eq!(
            normalized("650.555.0162", "us").as_deref(),
            Ok("16505550162")
        );
        assert_eq!(
            normalized("٠٦ ١٢ ٣٤ ٥٦ ٧٨", "fr").as_deref(),
            Ok("33612345678")
        );
        assert!(normalized("+0000000000", "").is_err());
    }

    /// The fast path must give what libphonenumber's full parse gives: check it on every
    /// region's example numbers, written in E.164 and in national digits.
    #[test]
    fn fast_path_agrees_with_the_full_parser_on_every_example_number() {
        use rlibphonenumber::PhoneNumberType;
        let tables = tables();
        let mut n_fast = 0;
        let mut n_fast_trunk = 0;
        for index in 0..n_countries() {
            let Some(RegionInfo { region, .. }) = tables.regions[index] else {
                continue;
            };
            let country = CountryCode::from_index(index);
            for number_type in [PhoneNumberType::Mobile, PhoneNumberType::FixedLine] {
                let Ok(example) =
                    PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, number_type)
                else {
                    continue;
                };
                let e164 = PHONE_NUMBER_UTIL
                    .format(&example, PhoneNumberFormat::E164)
                    .into_owned();
                let national_digits: String = PHONE_NUMBER_UTIL
                    .format(&example, PhoneNumberFormat::National)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                for written in [e164.clone(), national_digits, e164[1..].to_owned()] {
                    let Some(simple) = SimpleNumber::read(&written) else {
                        continue;
                    };
                    let mut fast = String::new();
                    if fast_path(&simple, tables.regions[index], tables, &mut fast).is_none() {
                        continue;
                    }
                    n_fast += 1;
                    n_fast_trunk += usize::from(written.starts_with('0'));
                    let mut full = String::new();
                    let full_result =
                        full_parse(&written, Some(&simple), tables.regions[index], &mut full);
                    assert_eq!(
                        Ok(fast.as_str()),
                        full_result.map(|()| full.as_str()),
                        "{written:?} in {country:?}"
                    );
                }
            }
        }
        assert!(n_fast > 300, "the fast path took only {n_fast} numbers");
        assert!(
            n_fast_trunk >= TRUNK_ZERO_REGIONS.len(),
            "the trunk-prefix fast path took only {n_fast_trunk} numbers"
        );
    }
}
