//! PHONE: E.164 digits without `+` via libphonenumber metadata (`rlibphonenumber`), with a
//! fast path (no regular expressions) for the forms people write most: international form
//! with `+` or their region's prefix, national digits with or without the trunk prefix, an
//! extension after the number; and cheap refusals of what can never be a number.

use std::borrow::Cow;
use std::sync::OnceLock;

use rlibphonenumber::{
    NumberLengthType, PHONE_NUMBER_UTIL, PhoneNumber, PhoneNumberFormat, Region,
};

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

/// Trunk-prefix regions whose national-prefix rule strips a lone `0` before any other digit
/// (and whose numbers never start with `0X`), so that `+44 (0)20 …` is `+44 20 …`: every region
/// of [`TRUNK_ZERO_REGIONS`] but Korea, whose rule also takes a carrier code after `08`. Used
/// for numbers in international form whose calling code belongs to one of them.
const PLUS_TRUNK_ZERO_REGIONS: &[&str] = &[
    "AE", "AT", "AU", "BD", "BE", "BG", "CH", "CN", "DE", "EG", "FI", "FR", "GB", "HR", "ID", "IE",
    "IL", "IN", "JP", "KE", "MY", "NG", "NL", "NZ", "PE", "PH", "PK", "RO", "RS", "SA", "SE", "SI",
    "SK", "TH", "TR", "TW", "UA", "VN", "ZA",
];

/// Regions where libphonenumber reads digits starting with this international (IDD) prefix,
/// then not a 0, as an international number: the prefix is this one digit string in its
/// metadata (`00` from France, `011` from the US, `810` from Russia), or for `00` a pattern
/// whose first choice is `00` (China's `00|1(?:[12]\d|79)\d\d00`, Israel's
/// `0(?:0|1(?:05|[2-9]))`). Regions whose prefix is another pattern (`001[14-689]|…` from
/// Australia, `00[1-9]` from Thailand) are left to the full parser. Japan (`010`), Cuba
/// (`119`), Tajikistan and Turkmenistan (`810`) are left out too: there the national reading of
/// such digits has always been taken, and stays. A test checks every entry against the full
/// parser.
const LITERAL_IDD_REGIONS: &[(&str, &[&str])] = &[
    (
        "00",
        &[
            "AC", "AD", "AE", "AF", "AL", "AM", "AO", "AR", "AT", "AW", "AZ", "BA", "BD", "BE",
            "BF", "BG", "BH", "BI", "BJ", "BL", "BN", "BQ", "BT", "BW", "BZ", "CD", "CF", "CG",
            "CH", "CI", "CK", "CM", "CR", "CW", "CY", "CZ", "DE", "DJ", "DK", "DZ", "EC", "EE",
            "EG", "EH", "ER", "ES", "ET", "FK", "FM", "FO", "FR", "GA", "GB", "GE", "GF", "GG",
            "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GT", "GW", "HN", "HR", "HT", "HU",
            "IE", "IM", "IN", "IO", "IQ", "IR", "IT", "JE", "JO", "KG", "KI", "KM", "KW", "LA",
            "LB", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF",
            "MG", "MK", "ML", "MM", "MO", "MQ", "MR", "MT", "MW", "MY", "MZ", "NA", "NC", "NE",
            "NF", "NI", "NL", "NO", "NP", "NR", "NU", "OM", "PA", "PF", "PH", "PK", "PL", "PM",
            "PS", "PT", "PY", "QA", "RE", "RO", "RS", "RW", "SA", "SD", "SE", "SH", "SJ", "SK",
            "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SY", "SZ", "TA", "TG", "TK", "TL",
            "TN", "TO", "TR", "TV", "UA", "UZ", "VA", "VE", "VN", "VU", "WF", "XK", "YE", "YT",
            "ZA", "ZM", "ZW",
        ],
    ),
    // A pattern whose first choice is `00`, or Mexico's `0[09]`.
    (
        "00",
        &[
            "AX", "CN", "FI", "FJ", "IL", "IS", "KP", "MU", "MV", "MX", "NZ", "PE", "PG", "SB",
            "SC", "SI", "TD", "UY",
        ],
    ),
    (
        "011",
        &[
            "AG", "AI", "AS", "BB", "BM", "BS", "CA", "DM", "DO", "GD", "GU", "JM", "KN", "KY",
            "LC", "MH", "MP", "MS", "PR", "SX", "TC", "TT", "US", "VC", "VG", "VI",
        ],
    ),
    ("810", &["BY", "KZ", "RU"]),
    ("001", &["GY", "MN"]),
    ("000", &["KE"]),
    ("009", &["NG"]),
    ("0", &["CV", "WS"]),
];

/// Most digits of a national significant number libphonenumber parses (its
/// `MAX_LENGTH_FOR_NSN`).
const MAX_NSN_DIGITS: usize = 17;

/// Calling codes whose national-prefix rules (`1` after `+52`, `15`/`9` after `+54`, carrier
/// codes after `+55`/`+57`) libphonenumber rewrites even in international form; the fast path
/// leaves them to the full parser.
const FULL_PARSE_CALLING_CODES: &[u16] = &[52, 54, 55, 57];

/// Calling code of Russia and Kazakhstan, whose trunk prefix is `8` and whose numbers never
/// start with 0.
const RUSSIA_CALLING_CODE: u16 = 7;

/// Mexico's calling code: its metadata has no national prefix, so only a `1` after `+52` (the
/// old mobile prefix) needs the full parser.
const MEXICO_CALLING_CODE: u16 = 52;

/// Brazil's calling code: carrier codes come after a trunk `0` or `90`, so a national number
/// starting with 1–8 reads plainly.
const BRAZIL_CALLING_CODE: u16 = 55;

/// Digits of a Russian or Kazakh national number written with its trunk `8`
/// (`8 912 345-67-89`).
const TRUNK_EIGHT_DIGITS: usize = 11;

struct PhoneTables {
    /// `is_calling_code[c]`: whether `c` (1–999) is an assigned country calling code.
    is_calling_code: Vec<bool>,
    /// `plus_trunk_zero[c]`: whether the main region of calling code `c` is in
    /// [`PLUS_TRUNK_ZERO_REGIONS`].
    plus_trunk_zero: Vec<bool>,
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
    /// The region's international prefix when it is one digit string
    /// ([`LITERAL_IDD_REGIONS`]): `idd_text[..idd_len]`, `idd_len` 0 when it is not.
    idd_text: [u8; 3],
    idd_len: usize,
}

impl RegionInfo {
    /// The region's fixed international prefix, if it has one.
    fn literal_idd(&self) -> Option<&[u8]> {
        (self.idd_len > 0).then(|| &self.idd_text[..self.idd_len])
    }

    /// The length of the region's fixed international prefix when `digits` start with it and
    /// then not with 0 (calling codes never start with 0, so libphonenumber keeps such a prefix
    /// as national digits).
    fn idd_before(&self, digits: &[u8]) -> Option<usize> {
        let idd = self.literal_idd()?;
        (digits.starts_with(idd) && digits.get(idd.len()).is_some_and(|digit| *digit != b'0'))
            .then_some(idd.len())
    }
}

/// The fixed international prefix of `region` (uppercase alpha-2), from
/// [`LITERAL_IDD_REGIONS`]: its digits and length.
fn literal_idd(region: &str) -> ([u8; 3], usize) {
    let mut text = [0u8; 3];
    for (prefix, regions) in LITERAL_IDD_REGIONS {
        if regions.contains(&region) && prefix.len() <= text.len() {
            text[..prefix.len()].copy_from_slice(prefix.as_bytes());
            return (text, prefix.len());
        }
    }
    (text, 0)
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
                let upper = std::str::from_utf8(&upper).ok()?;
                let (idd_text, idd_len) = literal_idd(upper);
                Some(RegionInfo {
                    region,
                    calling_code,
                    calling_code_text,
                    calling_code_len,
                    trunk_zero: TRUNK_ZERO_REGIONS.contains(&upper),
                    idd_text,
                    idd_len,
                })
            })
            .collect();
        let mut plus_trunk_zero = vec![false; 1000];
        for code in PLUS_TRUNK_ZERO_REGIONS {
            let Ok(region) = Region::from_code(code) else {
                continue;
            };
            let Some(calling_code) = PHONE_NUMBER_UTIL.get_country_code_for_region(region) else {
                continue;
            };
            let is_main_region =
                PHONE_NUMBER_UTIL.get_region_for_country_code(calling_code) == Some(region);
            if let Some(slot) = usize::try_from(calling_code)
                .ok()
                .and_then(|code| plus_trunk_zero.get_mut(code))
            {
                *slot = is_main_region;
            }
        }
        PhoneTables {
            is_calling_code,
            plus_trunk_zero,
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
    match &simple {
        Some(simple) => {
            if let Some(()) = fast_path(simple, region, tables, PLAIN_NUMBER, out) {
                return Ok(());
            }
            if let Some(reason) = known_failure(simple, region) {
                return Err(reason);
            }
        }
        None => {
            if !value.chars().any(char::is_numeric) {
                // Without a single digit libphonenumber finds no number (and without a
                // country the full parse below stops before asking it).
                return Err(if region.is_none() && !starts_with_plus(value) {
                    NO_COUNTRY
                } else {
                    NOT_A_PHONE_NUMBER
                });
            }
            if let Some(number) = number_before_extension(value, region)
                && let Some(()) = fast_path(&number, region, tables, NUMBER_BEFORE_EXTENSION, out)
            {
                return Ok(());
            }
        }
    }
    full_parse(value, simple.as_ref(), region, out)
}

fn starts_with_plus(value: &str) -> bool {
    value.starts_with(['+', '＋'])
}

/// The number of a value that ends in an extension libphonenumber recognises and drops
/// (`617 724 0594 x81`, `+1 (416) 896-2486 ext. 108`): a [`SimpleNumber`], then spaces, `x`,
/// `ext` or `ext.` in any case, spaces, and one to nine ASCII digits. The extension never
/// reaches the E.164 form, so the number is normalized as if written alone. Without a region
/// only a value starting with `+` qualifies, as the full parse requires.
fn number_before_extension(value: &str, region: Option<RegionInfo>) -> Option<SimpleNumber> {
    if region.is_none() && !starts_with_plus(value) {
        return None;
    }
    let bytes = value.as_bytes();
    let n_digits = bytes
        .iter()
        .rev()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    if n_digits == 0 || n_digits > 9 {
        return None;
    }
    let rest = value[..bytes.len() - n_digits].trim_end_matches(' ');
    let rest = rest.strip_suffix(['.', ':']).unwrap_or(rest);
    let lower_label = |label: &str| {
        rest.len() >= label.len()
            && rest.as_bytes()[rest.len() - label.len()..].eq_ignore_ascii_case(label.as_bytes())
    };
    let label_len = if lower_label("ext") {
        3
    } else if lower_label("x") {
        1
    } else {
        return None;
    };
    // A longer label (`next`, `fax`) leaves a letter in the number, which is then no
    // `SimpleNumber`.
    let number = rest[..rest.len() - label_len].trim_end_matches(' ');
    SimpleNumber::read(number).filter(|simple| simple.n_digits > 0)
}

/// What the full parse would answer, cheaply, for numbers it can only refuse: no digits at all
/// (`NOT_A_PHONE_NUMBER`), national digits without a country that start with 0 (calling codes
/// never do) or spell no possible number (`NO_COUNTRY`, see [`impossible_without_country`]),
/// and a national number starting with 0 in a North American region or in Russia or
/// Kazakhstan, where no number starts with 0 and the trunk prefix is 1 or 8
/// (`IMPOSSIBLE_PHONE_NUMBER`).
fn known_failure(simple: &SimpleNumber, region: Option<RegionInfo>) -> Option<AbsentReason> {
    let mut with_idd = *simple;
    with_idd.apply_idd(region);
    if with_idd.international_from.is_some() {
        return None;
    }
    let digits = with_idd.digits();
    match region {
        None if digits.first().is_none_or(|digit| *digit == b'0') => Some(NO_COUNTRY),
        None => impossible_without_country(digits, tables()).then_some(NO_COUNTRY),
        Some(_) if digits.is_empty() => Some(NOT_A_PHONE_NUMBER),
        Some(info) => (matches!(info.calling_code, NANPA_CALLING_CODE | RUSSIA_CALLING_CODE)
            && info.idd_before(digits).is_none()
            && digits.first() == Some(&b'0')
            && (3..=MAX_NSN_DIGITS).contains(&digits.len()))
        .then_some(IMPOSSIBLE_PHONE_NUMBER),
    }
}

/// Calling codes whose country's national-prefix rule (in libphonenumber's metadata of the
/// code's main region) can match a national number that starts with 2–9: Argentina, Brazil,
/// Madagascar, Lithuania, Belarus, San Marino, Norfolk Island, Turkmenistan (Russia's `8` is
/// handled apart). Everywhere else the rule starts with 0 or 1 (or there is none), so it never
/// rewrites such a number. A test checks every calling code against the full parse.
const NATIONAL_PREFIX_BEFORE_2_TO_9_CALLING_CODES: &[u16] = &[54, 55, 261, 370, 375, 378, 672, 993];

/// Whether national digits without a country (which the full parse reads as `+digits` and
/// keeps only if valid) can be no valid number: no calling code starts them, or the number
/// they spell after one has no possible length (a length check, no pattern; a number that is
/// not possible is not valid). Only where the country's national prefix cannot apply (see
/// [`NATIONAL_PREFIX_BEFORE_2_TO_9_CALLING_CODES`]), since libphonenumber would strip it
/// first.
fn impossible_without_country(digits: &[u8], tables: &PhoneTables) -> bool {
    let Some((calling_code, length)) = calling_code_prefix(digits, tables) else {
        return true;
    };
    let national = &digits[length..];
    let Some(first) = national.first() else {
        return false;
    };
    let prefix_cannot_apply = match calling_code {
        RUSSIA_CALLING_CODE => *first != b'8' && *first != b'0',
        code if NATIONAL_PREFIX_BEFORE_2_TO_9_CALLING_CODES.contains(&code) => false,
        _ => *first >= b'2',
    };
    prefix_cannot_apply
        && phone_number(calling_code, national)
            .is_some_and(|number| !PHONE_NUMBER_UTIL.is_possible_number(&number))
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

/// Which readings [`fast_path`] may take.
#[derive(Clone, Copy, Debug)]
struct Rules {
    /// The user's region's fixed international prefix reads like `+` (`0033 6 …` in France).
    region_idd: bool,
    /// A trunk `0` after the calling code goes (`+44 (0)20 …`), when the rest has a possible
    /// length that is not only a local one.
    plus_trunk_zero: bool,
    /// Russia's and Kazakhstan's trunk `8` goes (`8 912 345-67-89`), likewise.
    trunk_eight: bool,
    /// Mexican numbers not starting with `1` and Brazilian ones not starting with `9` read
    /// like any other.
    mexico_brazil: bool,
    /// Only readings that always agree with the full parse: a national trunk `0` goes only
    /// when the rest has a full possible length (not only a local one, where libphonenumber
    /// keeps the 0), and national digits that start with the calling code are left to the
    /// full parse.
    strict: bool,
}

/// Rules for a value that is a plain number. It keeps the national readings it has always
/// had (not `strict`), so that its output never changes.
const PLAIN_NUMBER: Rules = Rules {
    region_idd: true,
    plus_trunk_zero: true,
    trunk_eight: true,
    mexico_brazil: true,
    strict: false,
};

/// Rules for the number before an extension: such values always went to the full parse, so
/// the fast path takes only readings that agree with it.
const NUMBER_BEFORE_EXTENSION: Rules = Rules {
    region_idd: true,
    plus_trunk_zero: true,
    trunk_eight: true,
    mexico_brazil: true,
    strict: true,
};

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
    rules: Rules,
    out: &mut String,
) -> Option<()> {
    let mut simple_with_idd = *simple;
    simple_with_idd.apply_idd(region);
    if rules.region_idd
        && simple_with_idd.international_from.is_none()
        && let Some(info) = &region
    {
        // The region's own international prefix, as libphonenumber strips it.
        simple_with_idd.international_from = info.idd_before(simple_with_idd.digits());
    }
    let digits = simple_with_idd.digits();
    let mut trunk_zero_dropped = false;
    let (calling_code, national) = match simple_with_idd.international_from {
        Some(from) => {
            let digits = &digits[from..];
            let (code, length) = calling_code_prefix(digits, tables)?;
            let national = &digits[length..];
            match national {
                // `+44 (0)20 …`: the country's trunk prefix, which libphonenumber drops when
                // what remains has a possible length.
                [b'0', second, ..]
                    if rules.plus_trunk_zero
                        && *second != b'0'
                        && tables.plus_trunk_zero.get(usize::from(code)) == Some(&true) =>
                {
                    trunk_zero_dropped = true;
                    (code, &national[1..])
                }
                _ => (code, national),
            }
        }
        None => {
            let info = region?;
            let code_text = &info.calling_code_text[..info.calling_code_len];
            if digits.starts_with(code_text) {
                // `16505551234` in the US: the calling code, unless the whole could be a
                // national number too (then the full parser weighs both readings).
                if rules.strict {
                    return None;
                }
                let whole = phone_number(info.calling_code, digits)?;
                if PHONE_NUMBER_UTIL.is_possible_number(&whole) {
                    return None;
                }
                (info.calling_code, &digits[code_text.len()..])
            } else if info.trunk_zero && digits.first() == Some(&b'0') {
                // `06 12 34 56 78` in France: the trunk prefix goes.
                trunk_zero_dropped = rules.strict;
                (info.calling_code, &digits[1..])
            } else if rules.trunk_eight
                && info.calling_code == RUSSIA_CALLING_CODE
                && digits.len() == TRUNK_EIGHT_DIGITS
                && digits.first() == Some(&b'8')
            {
                // `8 912 345-67-89` in Russia: the trunk prefix goes (eleven digits are no
                // number with the 8 kept) when ten remain of a full possible length.
                trunk_zero_dropped = true;
                (info.calling_code, &digits[1..])
            } else {
                (info.calling_code, digits)
            }
        }
    };
    let first = *national.first()?;
    let plain_mexico_or_brazil = rules.mexico_brazil
        && match calling_code {
            MEXICO_CALLING_CODE => first != b'1',
            BRAZIL_CALLING_CODE => first != b'9',
            _ => false,
        };
    let trunk_like = first == b'0'
        || (FULL_PARSE_CALLING_CODES.contains(&calling_code) && !plain_mexico_or_brazil)
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
    if trunk_zero_dropped
        && PHONE_NUMBER_UTIL.is_possible_number_with_reason(&number)
            != Ok(NumberLengthType::IsPossible)
    {
        // libphonenumber keeps the 0 when the rest is only possible as a local number.
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
                    if fast_path(
                        &simple,
                        tables.regions[index],
                        tables,
                        PLAIN_NUMBER,
                        &mut fast,
                    )
                    .is_none()
                    {
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

    /// `phone` (fast path, extension split, known failures, full parse) against the full
    /// parse alone, on one value in one region.
    fn assert_agrees(input: &str, region: Option<CountryCode>) -> bool {
        let mut out = String::new();
        let answer = phone(input, region, &mut out).map(|()| out);
        let tables = tables();
        let info = region.and_then(|country| tables.regions[country.index()]);
        let expected = match prepare(input) {
            Err(reason) => Err(reason),
            Ok(value) if value.len() > MAX_PHONE_LEN => Err(NOT_A_PHONE_NUMBER),
            Ok(value) => {
                // What the normalizer answered before the region's prefixes, trunk zeros after
                // the calling code, extensions and the known failures were read without the
                // full parse: its fast path for plain numbers, else the full parse.
                let simple = SimpleNumber::read(value);
                let mut legacy = String::new();
                match &simple {
                    Some(simple)
                        if fast_path(simple, info, tables, LEGACY, &mut legacy).is_some() =>
                    {
                        Ok(legacy)
                    }
                    _ => {
                        let mut full = String::new();
                        full_parse(value, simple.as_ref(), info, &mut full).map(|()| full)
                    }
                }
            }
        };
        assert_eq!(answer, expected, "{input:?} in {region:?}");
        answer.is_ok()
    }

    /// The fast path as it was before it read region prefixes and trunk zeros after the
    /// calling code.
    const LEGACY: Rules = Rules {
        region_idd: false,
        plus_trunk_zero: false,
        trunk_eight: false,
        mexico_brazil: false,
        strict: false,
    };

    /// xorshift64*, for varied digits with a fixed seed.
    struct Rng(u64);

    impl Rng {
        fn digit(&mut self) -> u8 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            b'0' + (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 59) as u8 % 10
        }
    }

    /// Example numbers (mobile and fixed line) of the regions in `codes` as `(calling code,
    /// national significant number)`, each also with its last digits varied.
    fn example_numbers(codes: &[&str], rng: &mut Rng) -> Vec<(CountryCode, String, String)> {
        use rlibphonenumber::PhoneNumberType;
        let mut numbers = Vec::new();
        for code in codes {
            let Some(country) = CountryCode::parse(code) else {
                continue;
            };
            let Some(info) = tables().regions[country.index()] else {
                continue;
            };
            for number_type in [PhoneNumberType::Mobile, PhoneNumberType::FixedLine] {
                let Ok(example) = PHONE_NUMBER_UTIL
                    .get_example_number_for_type_and_region(info.region, number_type)
                else {
                    continue;
                };
                let e164 = PHONE_NUMBER_UTIL.format(&example, PhoneNumberFormat::E164);
                let nsn = e164[1 + info.calling_code_len..].to_owned();
                let mut varied = nsn.clone().into_bytes();
                let n_varied = varied.len().min(4);
                let start = varied.len() - n_varied;
                for digit in &mut varied[start..] {
                    *digit = rng.digit();
                }
                let cc = info.calling_code.to_string();
                numbers.push((country, cc.clone(), nsn));
                numbers.push((country, cc, String::from_utf8(varied).unwrap()));
            }
        }
        numbers
    }

    /// The national significant number `nsn` of `country` as libphonenumber writes it at home.
    fn national_format(country: CountryCode, nsn: &str) -> String {
        let info = tables().regions[country.index()].unwrap();
        let number = phone_number(info.calling_code, nsn.as_bytes()).unwrap();
        PHONE_NUMBER_UTIL
            .format(&number, PhoneNumberFormat::National)
            .into_owned()
    }

    /// Regions of the messy benchmark file and a few more with other numbering habits.
    const REGIONS_UNDER_TEST: &[&str] = &[
        "US", "CA", "GB", "FR", "DE", "ES", "IT", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "PL",
        "BR", "MX", "IN", "JP", "CN", "KR", "AU", "RU", "AE", "AR", "CO", "HU", "KZ", "BY", "CU",
        "JP", "KE", "NG", "GY", "CV", "TH", "ID", "IL", "NZ", "ZA", "TR", "IE", "PT", "FI", "SG",
        "HK", "TW", "VN", "PH", "MY", "PK", "EG", "SA", "UA", "RO", "GR", "CZ", "JM", "PR",
    ];

    #[test]
    fn international_prefixes_of_the_users_region_agree_with_the_full_parser() {
        let mut rng = Rng(7);
        let numbers = example_numbers(REGIONS_UNDER_TEST, &mut rng);
        let mut n_ok = 0;
        for (prefix, regions) in LITERAL_IDD_REGIONS {
            for region in *regions {
                let Some(country) = CountryCode::parse(region) else {
                    continue;
                };
                let tables = tables();
                let Some(info) = tables.regions[country.index()] else {
                    continue;
                };
                assert_eq!(info.literal_idd(), Some(prefix.as_bytes()), "{region}");
                for (_, cc, nsn) in &numbers {
                    for input in [
                        format!("{prefix}{cc}{nsn}"),
                        format!("{prefix} {cc} {nsn}"),
                        format!("{prefix}0{cc}{nsn}"),
                    ] {
                        n_ok += usize::from(assert_agrees(&input, Some(country)));
                    }
                }
            }
        }
        assert!(n_ok > 10_000, "only {n_ok} numbers were read");
    }

    #[test]
    fn trunk_zero_after_the_calling_code_agrees_with_the_full_parser() {
        let mut rng = Rng(11);
        let numbers = example_numbers(REGIONS_UNDER_TEST, &mut rng);
        let tables = tables();
        let mut n_dropped = 0;
        for (country, cc, nsn) in &numbers {
            for input in [
                format!("+{cc} (0){nsn}"),
                format!("+{cc} (0) {nsn}"),
                format!("+{cc}0{nsn}"),
                format!("00{cc} (0){nsn}"),
                format!("+{cc} (00){nsn}"),
            ] {
                for region in [None, Some(*country), CountryCode::parse("us")] {
                    let ok = assert_agrees(&input, region);
                    let simple = SimpleNumber::read(&input).unwrap();
                    let info = region.and_then(|region| tables.regions[region.index()]);
                    let mut out = String::new();
                    if ok && fast_path(&simple, info, tables, PLAIN_NUMBER, &mut out).is_some() {
                        n_dropped += 1;
                    }
                }
            }
        }
        assert!(
            n_dropped > 300,
            "only {n_dropped} numbers took the fast path"
        );
    }

    #[test]
    fn extensions_agree_with_the_full_parser() {
        let mut rng = Rng(13);
        let numbers = example_numbers(REGIONS_UNDER_TEST, &mut rng);
        let mut n_ok = 0;
        for (country, cc, nsn) in &numbers {
            let national = national_format(*country, nsn);
            for number in [
                format!("+{cc} {nsn}"),
                national.clone(),
                format!("+{cc}{nsn}"),
            ] {
                for extension in [
                    " x81",
                    "x9",
                    " X 123456789",
                    " ext. 108",
                    " Ext 7",
                    " EXT: 12",
                    " ext.12",
                    " x1234567890",
                    " ext 1234567890",
                    " xt 12",
                    " fax 12",
                    " next 12",
                    " ext-12",
                    " #12",
                    " ext. 12#",
                    "  x  55",
                ] {
                    let input = format!("{number}{extension}");
                    for region in [None, Some(*country), CountryCode::parse("gb")] {
                        n_ok += usize::from(assert_agrees(&input, region));
                    }
                }
            }
        }
        assert!(n_ok > 1000, "only {n_ok} numbers were read");
    }

    #[test]
    fn plain_numbers_agree_with_the_full_parser_or_read_as_before() {
        let mut rng = Rng(19);
        let numbers = example_numbers(REGIONS_UNDER_TEST, &mut rng);
        let mut n_ok = 0;
        for (country, cc, nsn) in &numbers {
            let national = national_format(*country, nsn);
            let national_digits: String = national.chars().filter(char::is_ascii_digit).collect();
            for input in [
                national.clone(),
                national_digits.clone(),
                format!("0{nsn}"),
                format!("8{nsn}"),
                format!("1{nsn}"),
                format!("8 {national}"),
                format!("{cc}{nsn}"),
                format!("+{cc} {nsn}"),
                format!("+{cc}1{nsn}"),
                format!("+{cc} 9{nsn}"),
                format!("00{cc}{nsn}"),
                format!("011{cc}{nsn}"),
                format!("810{cc}{nsn}"),
            ] {
                for region in [
                    None,
                    Some(*country),
                    CountryCode::parse("us"),
                    CountryCode::parse("ru"),
                    CountryCode::parse("mx"),
                ] {
                    n_ok += usize::from(assert_agrees(&input, region));
                }
            }
        }
        assert!(n_ok > 3000, "only {n_ok} numbers were read");
    }

    #[test]
    fn refusals_without_a_parse_agree_with_the_full_parser() {
        let mut rng = Rng(17);
        let mut inputs: Vec<String> = [
            "n/a", "unknown", "call me", "-", "+", "＋", "+abc", "()", "x", "ext. 12", "none", "0",
            "00", "000000", "01", "0 1", "+1 555", "123",
        ]
        .iter()
        .map(|value| (*value).to_owned())
        .collect();
        for length in 1..=20 {
            for lead in ["0", "00", "001", "011", "0110", "0111", "01"] {
                let mut digits = lead.to_owned();
                while digits.len() < length + lead.len() {
                    digits.push(char::from(rng.digit()));
                }
                inputs.push(digits.clone());
                inputs.push(format!(
                    "({}) {}",
                    &digits[..3.min(digits.len())],
                    &digits[3.min(digits.len())..]
                ));
            }
        }
        // Digits after every calling code, written without any country: national numbers
        // starting with 2-9 of several lengths, and the same after the trunk digits 0, 1, 8.
        let tables = tables();
        for code in (1..1000).filter(|code| tables.is_calling_code[*code]) {
            for (lead, length) in [
                (b'2', 6),
                (b'5', 8),
                (b'9', 10),
                (b'8', 9),
                (b'0', 9),
                (b'1', 11),
            ] {
                let mut digits = code.to_string().into_bytes();
                digits.push(lead);
                while digits.len() < code.to_string().len() + length {
                    digits.push(rng.digit());
                }
                inputs.push(String::from_utf8(digits).unwrap());
            }
        }
        // National numbers of many countries written without any country.
        let mut rng_numbers = Rng(23);
        for (_, cc, nsn) in example_numbers(REGIONS_UNDER_TEST, &mut rng_numbers) {
            inputs.push(nsn.clone());
            inputs.push(format!("{cc}{nsn}"));
            inputs.push(format!("{}{nsn}", &cc[..1]));
            inputs.push(nsn[1..].to_owned());
        }
        let regions = [
            "", "us", "ca", "pr", "jm", "do", "fr", "gb", "ru", "kz", "jp", "by",
        ];
        for input in &inputs {
            for region in regions {
                let region = CountryCode::parse(region);
                assert_agrees(input, region);
            }
        }
    }
}
