//! Birth dates: the `DOB` pseudo-key (a full date in many forms → DOBY/DOBM/DOBD) and the
//! separate DOBY, DOBM and DOBD columns.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{AbsentReason, digit_value, fold_ascii_letters, prepare};
use crate::options::DateOrder;

const NOT_A_DATE: AbsentReason = AbsentReason::Invalid("not a date");
const AMBIGUOUS_DATE: AbsentReason = AbsentReason::Invalid("ambiguous date");
const YEAR_OUT_OF_RANGE: AbsentReason = AbsentReason::Invalid("year out of range");
const MONTH_OUT_OF_RANGE: AbsentReason = AbsentReason::Invalid("month out of range");
const DAY_OUT_OF_RANGE: AbsentReason = AbsentReason::Invalid("day out of range");
const NOT_A_YEAR: AbsentReason = AbsentReason::Invalid("not a year");
const NOT_A_MONTH: AbsentReason = AbsentReason::Invalid("not a month");
const NOT_A_DAY: AbsentReason = AbsentReason::Invalid("not a day");

/// Earliest birth year Meta accepts for DOBY (contract §4.1: "1900 … current year").
pub const MIN_BIRTH_YEAR: u16 = 1900;

/// Most tokens a date may have (`Monday, 2nd of March 2005 00:00` has 6 before the time).
const MAX_TOKENS: usize = 8;

/// Longest date text looked at.
const MAX_DATE_LEN: usize = 64;

/// A birth date read from a `DOB` cell: a year, and month and day when the cell had them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BirthDate {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// Month names (English, French, Spanish, German, Italian, Portuguese, Dutch, Russian in the
/// nominative and genitive), as written; matched folded (accents and case ignored), in full or
/// by any unambiguous prefix of at least 3 letters (`Sept`, `févr.`, `Dez`).
const MONTH_NAMES: [&[&str]; 12] = [
    &[
        "January",
        "janvier",
        "enero",
        "Januar",
        "Jänner",
        "gennaio",
        "janeiro",
        "januari",
        "январь",
        "января",
    ],
    &[
        "February",
        "février",
        "febrero",
        "Februar",
        "febbraio",
        "fevereiro",
        "februari",
        "февраль",
        "февраля",
    ],
    &[
        "March",
        "mars",
        "marzo",
        "März",
        "Mrz",
        "março",
        "maart",
        "март",
        "марта",
    ],
    &["April", "avril", "abril", "aprile", "апрель", "апреля"],
    &["May", "mai", "mayo", "maggio", "maio", "mei", "май", "мая"],
    &[
        "June", "juin", "junio", "Juni", "giugno", "junho", "июнь", "июня",
    ],
    &[
        "July", "juillet", "julio", "Juli", "luglio", "julho", "июль", "июля",
    ],
    &["August", "août", "agosto", "augustus", "август", "августа"],
    &[
        "September",
        "septembre",
        "septiembre",
        "setiembre",
        "settembre",
        "setembro",
        "сентябрь",
        "сентября",
    ],
    &[
        "October",
        "octobre",
        "octubre",
        "Oktober",
        "ottobre",
        "outubro",
        "октябрь",
        "октября",
    ],
    &[
        "November",
        "novembre",
        "noviembre",
        "novembro",
        "ноябрь",
        "ноября",
    ],
    &[
        "December",
        "décembre",
        "diciembre",
        "Dezember",
        "dicembre",
        "dezembro",
        "декабрь",
        "декабря",
    ],
];

/// Words that may sit in a date without meaning anything for it: ordinal suffixes (`2nd`,
/// `1er`), "of"/"de", weekday names, and the CJK/Korean year-month-day markers as `deunicode`
/// spells them (`1990年8月2日`, `1990년 8월 2일`).
const FILLER_WORDS: &[&str] = &[
    "st",
    "nd",
    "rd",
    "th",
    "er",
    "e",
    "eme",
    "o",
    "a",
    "of",
    "the",
    "de",
    "del",
    "den",
    "le",
    "el",
    "am",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
    "nian",
    "yue",
    "ri",
    "nyeon",
    "wol",
    "il",
];

struct MonthLookup {
    /// Every folded month name (and 3+ letter prefix that names one month only) → month.
    by_word: HashMap<String, u8>,
}

fn month_lookup() -> &'static MonthLookup {
    static LOOKUP: OnceLock<MonthLookup> = OnceLock::new();
    LOOKUP.get_or_init(|| {
        let mut candidates: HashMap<String, Vec<u8>> = HashMap::new();
        let mut exact: HashMap<String, u8> = HashMap::new();
        for (index, names) in MONTH_NAMES.iter().enumerate() {
            let month = u8::try_from(index + 1).unwrap_or(0);
            for name in *names {
                let mut folded = String::new();
                fold_ascii_letters(name, &mut folded);
                for end in 3..folded.len() {
                    let months = candidates.entry(folded[..end].to_owned()).or_default();
                    if !months.contains(&month) {
                        months.push(month);
                    }
                }
                exact.insert(folded, month);
            }
        }
        let mut by_word: HashMap<String, u8> = candidates
            .into_iter()
            .filter(|(_, months)| months.len() == 1)
            .map(|(prefix, months)| (prefix, months[0]))
            .collect();
        by_word.extend(exact);
        MonthLookup { by_word }
    })
}

/// The month (1–12) a word names, if any.
fn month_from_word(folded: &str) -> Option<u8> {
    month_lookup().by_word.get(folded).copied()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// A run of digits: its value and how many digits it had.
    Number { value: u32, n_digits: u8 },
    /// A month name.
    Month(u8),
}

/// Splits a date into numbers and month names, dropping separators, filler words and a
/// trailing time of day.
fn tokenize(value: &str) -> Result<([Token; MAX_TOKENS], usize), AbsentReason> {
    let value = strip_time_of_day(value);
    let mut tokens = [Token::Number {
        value: 0,
        n_digits: 0,
    }; MAX_TOKENS];
    let mut n_tokens = 0;
    let mut push = |token: Token, n_tokens: &mut usize| -> Result<(), AbsentReason> {
        let slot = tokens.get_mut(*n_tokens).ok_or(NOT_A_DATE)?;
        *slot = token;
        *n_tokens += 1;
        Ok(())
    };
    let mut word = String::new();
    let mut number: Option<(u32, u8)> = None;
    let mut characters = value.chars().peekable();
    while let Some(character) = characters.next() {
        if let Some(digit) = digit_value(character) {
            let (value, n_digits) = number.unwrap_or((0, 0));
            if n_digits >= 8 {
                return Err(NOT_A_DATE);
            }
            number = Some((value * 10 + u32::from(digit), n_digits + 1));
        } else if let Some((value, n_digits)) = number.take() {
            push(Token::Number { value, n_digits }, &mut n_tokens)?;
        }
        if character.is_alphabetic() {
            word.push(character);
        }
        let word_ends = !character.is_alphabetic()
            || characters.peek().is_none_or(|next| !next.is_alphabetic());
        if word_ends && !word.is_empty() {
            let mut folded = String::new();
            fold_ascii_letters(&word, &mut folded);
            word.clear();
            if let Some(month) = month_from_word(&folded) {
                push(Token::Month(month), &mut n_tokens)?;
            } else if !FILLER_WORDS.contains(&folded.as_str()) {
                return Err(NOT_A_DATE);
            }
        }
    }
    if let Some((value, n_digits)) = number {
        push(Token::Number { value, n_digits }, &mut n_tokens)?;
    }
    Ok((tokens, n_tokens))
}

/// `1956-08-02T00:00:00Z` → `1956-08-02`; `08/02/1956 12:30` → `08/02/1956`.
fn strip_time_of_day(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'T'
            && index > 0
            && bytes[index - 1].is_ascii_digit()
            && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
        {
            return &value[..index];
        }
    }
    match value.find(':') {
        Some(colon) => {
            let before = &value[..colon];
            before
                .rfind([' ', 'T'])
                .map_or(value, |space| &value[..space])
        }
        None => value,
    }
}

/// A two-digit year pivoted into the past: `56` → 1956 and, in 2026, `25` → 2025, `30` → 1930.
fn pivot_year(two_digits: u32, current_year: u16) -> u32 {
    let current = u32::from(current_year);
    if 2000 + two_digits <= current {
        2000 + two_digits
    } else {
        1900 + two_digits
    }
}

fn year_of(token_value: u32, n_digits: u8, current_year: u16) -> Result<u16, AbsentReason> {
    let year = match n_digits {
        4 => token_value,
        2 => pivot_year(token_value, current_year),
        _ => return Err(NOT_A_YEAR),
    };
    let year = u16::try_from(year).map_err(|_| YEAR_OUT_OF_RANGE)?;
    if (MIN_BIRTH_YEAR..=current_year).contains(&year) {
        Ok(year)
    } else {
        Err(YEAR_OUT_OF_RANGE)
    }
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn checked_date(year: u16, month: u32, day: u32) -> Result<BirthDate, AbsentReason> {
    let month = u8::try_from(month)
        .ok()
        .filter(|month| (1..=12).contains(month))
        .ok_or(MONTH_OUT_OF_RANGE)?;
    let day = u8::try_from(day)
        .ok()
        .filter(|day| *day >= 1 && *day <= days_in_month(year, month))
        .ok_or(DAY_OUT_OF_RANGE)?;
    Ok(BirthDate {
        year,
        month: Some(month),
        day: Some(day),
    })
}

/// Reads a full birth date (the `DOB` pseudo-key).
///
/// Accepted forms include `1956-08-02`, `1956/8/2`, `02/08/1956`, `8/2/1956`, `30.01.1931`,
/// `19560802`, `March 2, 2005`, `2nd of March 2005`, `30 Jun 1936`, `2 mars 1990`,
/// `12. März 1985`, `1956-08-02T00:00:00Z`, `1990年8月2日`, two-digit years (`02/08/56`, pivoted
/// into the past relative to `current_year`), `08/1956` and `March 2005` (year and month) and a
/// year alone (`1956`, DOBY only).
///
/// `a/b/yyyy` with both `a` and `b` ≤ 12 is read in `order`; a value that can only be read one
/// way (`13/02/1990`) is read that way whatever the order. The year must be within
/// 1900..=`current_year`, and the day must exist (no 30 February; 29 February only in leap
/// years).
pub fn date_of_birth(
    input: &str,
    order: DateOrder,
    current_year: u16,
) -> Result<BirthDate, AbsentReason> {
    let value = prepare(input)?;
    if value.len() > MAX_DATE_LEN {
        return Err(NOT_A_DATE);
    }
    let (tokens, n_tokens) = tokenize(value)?;
    let tokens = &tokens[..n_tokens];
    let month_position = tokens
        .iter()
        .position(|token| matches!(token, Token::Month(_)));
    if let Some(position) = month_position {
        return date_with_month_name(tokens, position, order, current_year);
    }
    let mut numbers = [(0u32, 0u8); MAX_TOKENS];
    let mut n_numbers = 0;
    for token in tokens {
        if let (Token::Number { value, n_digits }, Some(slot)) = (token, numbers.get_mut(n_numbers))
        {
            *slot = (*value, *n_digits);
            n_numbers += 1;
        }
    }
    match &numbers[..n_numbers] {
        [(value, 4)] => Ok(BirthDate {
            year: year_of(*value, 4, current_year)?,
            month: None,
            day: None,
        }),
        [(value, 8)] => compact_date(*value, order, current_year),
        [(month, 1..=2), (year, 4)] | [(year, 4), (month, 1..=2)] => {
            let year = year_of(*year, 4, current_year)?;
            let month = u8::try_from(*month)
                .ok()
                .filter(|month| (1..=12).contains(month))
                .ok_or(MONTH_OUT_OF_RANGE)?;
            Ok(BirthDate {
                year,
                month: Some(month),
                day: None,
            })
        }
        [first, second, third] => three_numbers(*first, *second, *third, order, current_year),
        _ => Err(NOT_A_DATE),
    }
}

/// `19560802` (year first), or `02081956` / `08021956` in `order` when year-first is no date.
fn compact_date(
    value: u32,
    order: DateOrder,
    current_year: u16,
) -> Result<BirthDate, AbsentReason> {
    let year_first = year_of(value / 10_000, 4, current_year)
        .and_then(|year| checked_date(year, value / 100 % 100, value % 100));
    if year_first.is_ok() {
        return year_first;
    }
    let (first, second, year) = (value / 1_000_000, value / 10_000 % 100, value % 10_000);
    let year = year_of(year, 4, current_year).map_err(|_| year_first.unwrap_err())?;
    match order {
        DateOrder::MonthDayYear => checked_date(year, first, second),
        DateOrder::DayMonthYear | DateOrder::YearMonthDay => checked_date(year, second, first),
    }
}

fn three_numbers(
    (a, a_digits): (u32, u8),
    (b, b_digits): (u32, u8),
    (c, c_digits): (u32, u8),
    order: DateOrder,
    current_year: u16,
) -> Result<BirthDate, AbsentReason> {
    if a_digits > 2 && a_digits != 4 || b_digits > 2 || c_digits > 2 && c_digits != 4 {
        return Err(NOT_A_DATE);
    }
    let year_first = a_digits == 4 || (c_digits != 4 && order == DateOrder::YearMonthDay);
    if year_first {
        if c_digits == 4 {
            return Err(NOT_A_DATE);
        }
        let year = year_of(a, a_digits, current_year)?;
        // ISO is year-month-day; year-day-month only when the middle number cannot be a month.
        return if b > 12 && c <= 12 {
            checked_date(year, c, b)
        } else {
            checked_date(year, b, c)
        };
    }
    let year = year_of(c, c_digits, current_year)?;
    let month_first = if a > 12 && b <= 12 {
        false
    } else if b > 12 && a <= 12 {
        true
    } else if a > 12 && b > 12 {
        return Err(DAY_OUT_OF_RANGE);
    } else {
        match order {
            DateOrder::MonthDayYear => true,
            DateOrder::DayMonthYear => false,
            // A year-first preference says nothing about `a/b/yyyy`.
            DateOrder::YearMonthDay if a != b => return Err(AMBIGUOUS_DATE),
            DateOrder::YearMonthDay => false,
        }
    };
    if month_first {
        checked_date(year, a, b)
    } else {
        checked_date(year, b, a)
    }
}

fn date_with_month_name(
    tokens: &[Token],
    month_position: usize,
    order: DateOrder,
    current_year: u16,
) -> Result<BirthDate, AbsentReason> {
    let Token::Month(month) = tokens[month_position] else {
        return Err(NOT_A_DATE);
    };
    let mut numbers = tokens
        .iter()
        .enumerate()
        .filter_map(|(index, token)| match token {
            Token::Number { value, n_digits } => Some((index, *value, *n_digits)),
            Token::Month(_) => None,
        });
    let first = numbers.next();
    let second = numbers.next();
    if numbers.next().is_some()
        || tokens
            .iter()
            .filter(|t| matches!(t, Token::Month(_)))
            .count()
            > 1
    {
        return Err(NOT_A_DATE);
    }
    match (first, second) {
        // `March 2005`
        (Some((_, year, 4)), None) => Ok(BirthDate {
            year: year_of(year, 4, current_year)?,
            month: Some(month),
            day: None,
        }),
        (
            Some((first_index, first_value, first_digits)),
            Some((_, second_value, second_digits)),
        ) => {
            // The year is the 4-digit number; with two short numbers, the one after the month
            // name is the year unless the order puts the year first (`56 Aug 2`).
            let first_is_year = first_digits == 4
                || (second_digits != 4
                    && order == DateOrder::YearMonthDay
                    && first_index < month_position);
            let ((year, year_digits), day) = if first_is_year {
                ((first_value, first_digits), second_value)
            } else {
                ((second_value, second_digits), first_value)
            };
            let year = year_of(year, year_digits, current_year)?;
            checked_date(year, u32::from(month), day)
        }
        _ => Err(NOT_A_DATE),
    }
}

/// Writes DOBY/DOBM/DOBD strings of a date: `("1956", "08", "02")`.
pub fn write_parts(date: &BirthDate, year: &mut String, month: &mut String, day: &mut String) {
    year.clear();
    month.clear();
    day.clear();
    push_padded(year, u32::from(date.year), 4);
    if let Some(value) = date.month {
        push_padded(month, u32::from(value), 2);
    }
    if let Some(value) = date.day {
        push_padded(day, u32::from(value), 2);
    }
}

/// Appends the last `width` decimal digits of `value`, zero-padded (no formatting machinery:
/// this runs for every birth date).
fn push_padded(out: &mut String, value: u32, width: u32) {
    for position in (0..width).rev() {
        let digit = value / 10u32.pow(position) % 10;
        // A digit is below 10.
        out.push(char::from(b'0' + digit as u8));
    }
}

/// One number from a separate DOBY/DOBM/DOBD column (`05`, `5`, `5th`), or a month name.
fn single_token(input: &str) -> Result<Token, AbsentReason> {
    let value = prepare(input)?;
    if value.len() > MAX_DATE_LEN {
        return Err(NOT_A_DATE);
    }
    let (tokens, n_tokens) = tokenize(value)?;
    match &tokens[..n_tokens] {
        [token] => Ok(*token),
        _ => Err(NOT_A_DATE),
    }
}

/// Normalizes a DOBY column into `out`: `YYYY` within 1900..=`current_year` (contract §4.1);
/// a two-digit year is pivoted into the past.
pub fn birth_year(input: &str, current_year: u16, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let Token::Number { value, n_digits } = single_token(input).map_err(not(NOT_A_YEAR))? else {
        return Err(NOT_A_YEAR);
    };
    let year = year_of(value, n_digits, current_year)?;
    push_padded(out, u32::from(year), 4);
    Ok(())
}

/// Normalizes a DOBM column into `out`: `MM`, 01–12, from a number or a month name
/// (`1` → `01`, `Mar` → `03`, `décembre` → `12`).
pub fn birth_month(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let month = match single_token(input).map_err(not(NOT_A_MONTH))? {
        Token::Month(month) => u32::from(month),
        Token::Number {
            value,
            n_digits: 1..=2,
        } => value,
        Token::Number { .. } => return Err(NOT_A_MONTH),
    };
    if !(1..=12).contains(&month) {
        return Err(MONTH_OUT_OF_RANGE);
    }
    push_padded(out, month, 2);
    Ok(())
}

/// Normalizes a DOBD column into `out`: `DD`, 01–31 (`5` → `05`, `2nd` → `02`).
pub fn birth_day(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let Token::Number {
        value,
        n_digits: 1..=2,
    } = single_token(input).map_err(not(NOT_A_DAY))?
    else {
        return Err(NOT_A_DAY);
    };
    if !(1..=31).contains(&value) {
        return Err(DAY_OUT_OF_RANGE);
    }
    push_padded(out, value, 2);
    Ok(())
}

/// Keeps `Empty`, turns "not a date" into the column's own reason.
fn not(reason: AbsentReason) -> impl Fn(AbsentReason) -> AbsentReason {
    move |error| if error == NOT_A_DATE { reason } else { error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    const YEAR: u16 = 2026;

    fn date(year: u16, month: u8, day: u8) -> BirthDate {
        BirthDate {
            year,
            month: Some(month),
            day: Some(day),
        }
    }

    #[test]
    fn full_date_table() {
        use DateOrder::{DayMonthYear as Dmy, MonthDayYear as Mdy, YearMonthDay as Ymd};
        let table: &[(&str, DateOrder, Result<BirthDate, AbsentReason>)] = &[
            ("1956-08-02", Dmy, Ok(date(1956, 8, 2))),
            ("1956-08-02", Mdy, Ok(date(1956, 8, 2))),
            ("1956/8/2", Dmy, Ok(date(1956, 8, 2))),
            ("02/08/1956", Dmy, Ok(date(1956, 8, 2))),
            ("02/08/1956", Mdy, Ok(date(1956, 2, 8))),
            ("8/2/1956", Mdy, Ok(date(1956, 8, 2))),
            ("8/2/1956", Dmy, Ok(date(1956, 2, 8))),
            ("13/02/1990", Mdy, Ok(date(1990, 2, 13))),
            ("02/13/1990", Dmy, Ok(date(1990, 2, 13))),
            ("30.01.1931", Dmy, Ok(date(1931, 1, 30))),
            ("19560802", Dmy, Ok(date(1956, 8, 2))),
            ("02081956", Dmy, Ok(date(1956, 8, 2))),
            ("March 2, 2005", Dmy, Ok(date(2005, 3, 2))),
            ("Mar 2 2005", Dmy, Ok(date(2005, 3, 2))),
            ("2nd of March 2005", Mdy, Ok(date(2005, 3, 2))),
            ("Wednesday, March 2, 2005", Dmy, Ok(date(2005, 3, 2))),
            ("30 Jun 1936", Mdy, Ok(date(1936, 6, 30))),
            ("30-JUN-1936", Mdy, Ok(date(1936, 6, 30))),
            ("2 mars 1990", Dmy, Ok(date(1990, 3, 2))),
            ("1er janvier 1980", Dmy, Ok(date(1980, 1, 1))),
            ("12. März 1985", Dmy, Ok(date(1985, 3, 12))),
            ("3 de diciembre de 1975", Dmy, Ok(date(1975, 12, 3))),
            ("7 сентября 1962", Dmy, Ok(date(1962, 9, 7))),
            ("Sept. 9, 1999", Dmy, Ok(date(1999, 9, 9))),
            ("1956-08-02T00:00:00Z", Dmy, Ok(date(1956, 8, 2))),
            ("1956-08-02T13:45:00+02:00", Mdy, Ok(date(1956, 8, 2))),
            ("1956-08-02 00:00:00", Dmy, Ok(date(1956, 8, 2))),
            ("08/02/1956 12:30", Mdy, Ok(date(1956, 8, 2))),
            ("1990年8月2日", Dmy, Ok(date(1990, 8, 2))),
            ("02/08/56", Dmy, Ok(date(1956, 8, 2))),
            ("02/08/05", Dmy, Ok(date(2005, 8, 2))),
            ("02/08/30", Dmy, Ok(date(1930, 8, 2))),
            ("56/08/02", Ymd, Ok(date(1956, 8, 2))),
            ("29/02/2000", Dmy, Ok(date(2000, 2, 29))),
            ("29/02/1996", Dmy, Ok(date(1996, 2, 29))),
            (
                "1956",
                Dmy,
                Ok(BirthDate {
                    year: 1956,
                    month: None,
                    day: None,
                }),
            ),
            (
                "08/1956",
                Dmy,
                Ok(BirthDate {
                    year: 1956,
                    month: Some(8),
                    day: None,
                }),
            ),
            (
                "March 2005",
                Dmy,
                Ok(BirthDate {
                    year: 2005,
                    month: Some(3),
                    day: None,
                }),
            ),
            ("29/02/1900", Dmy, Err(DAY_OUT_OF_RANGE)),
            ("29/02/2001", Dmy, Err(DAY_OUT_OF_RANGE)),
            ("30/02/1990", Dmy, Err(DAY_OUT_OF_RANGE)),
            ("31/04/1990", Dmy, Err(DAY_OUT_OF_RANGE)),
            ("13/13/1990", Dmy, Err(DAY_OUT_OF_RANGE)),
            ("1990-13-40", Dmy, Err(MONTH_OUT_OF_RANGE)),
            ("1899-12-31", Dmy, Err(YEAR_OUT_OF_RANGE)),
            ("2027-01-01", Dmy, Err(YEAR_OUT_OF_RANGE)),
            ("3000", Dmy, Err(YEAR_OUT_OF_RANGE)),
            ("02/03/1990", Ymd, Err(AMBIGUOUS_DATE)),
            ("yesterday", Dmy, Err(NOT_A_DATE)),
            ("12345", Dmy, Err(NOT_A_DATE)),
            ("1/2/3/4", Dmy, Err(NOT_A_DATE)),
            ("", Dmy, Err(AbsentReason::Empty)),
        ];
        for (input, order, expected) in table {
            assert_eq!(
                date_of_birth(input, *order, YEAR),
                *expected,
                "input {input:?} order {order:?}"
            );
        }
    }

    fn run_column(
        normalizer: impl Fn(&str, &mut String) -> Result<(), AbsentReason>,
        input: &str,
    ) -> Result<String, AbsentReason> {
        let mut out = String::new();
        normalizer(input, &mut out).map(|()| out)
    }

    #[test]
    fn separate_columns_table() {
        let year = |input: &str, out: &mut String| birth_year(input, YEAR, out);
        assert_eq!(run_column(year, "1990").as_deref(), Ok("1990"));
        assert_eq!(run_column(year, " 1990 ").as_deref(), Ok("1990"));
        assert_eq!(run_column(year, "56").as_deref(), Ok("1956"));
        assert_eq!(run_column(year, "1899"), Err(YEAR_OUT_OF_RANGE));
        assert_eq!(run_column(year, "19999"), Err(NOT_A_YEAR));
        assert_eq!(run_column(year, "abc"), Err(NOT_A_YEAR));
        assert_eq!(run_column(birth_month, "1").as_deref(), Ok("01"));
        assert_eq!(run_column(birth_month, "12").as_deref(), Ok("12"));
        assert_eq!(run_column(birth_month, "Mar").as_deref(), Ok("03"));
        assert_eq!(run_column(birth_month, "décembre").as_deref(), Ok("12"));
        assert_eq!(run_column(birth_month, "13"), Err(MONTH_OUT_OF_RANGE));
        assert_eq!(run_column(birth_month, "0"), Err(MONTH_OUT_OF_RANGE));
        assert_eq!(run_column(birth_day, "5").as_deref(), Ok("05"));
        assert_eq!(run_column(birth_day, "2nd").as_deref(), Ok("02"));
        assert_eq!(run_column(birth_day, "31").as_deref(), Ok("31"));
        assert_eq!(run_column(birth_day, "32"), Err(DAY_OUT_OF_RANGE));
        assert_eq!(run_column(birth_day, "00"), Err(DAY_OUT_OF_RANGE));
        assert_eq!(run_column(birth_day, ""), Err(AbsentReason::Empty));
    }

    #[test]
    fn known_answer_hashes() {
        let year = |input: &str, out: &mut String| birth_year(input, YEAR, out);
        assert_eq!(
            sha256_hex(&run_column(year, "1990").unwrap()),
            "a7be8e1fe282a37cd666e0632b17d933fa13f21addf4798fc0455bc166e2488c"
        );
        assert_eq!(
            sha256_hex(&run_column(birth_month, "1").unwrap()),
            "938db8c9f82c8cb58d3f3ef4fd250036a48d26a712753d2fde5abd03a85cabf4"
        );
        assert_eq!(
            sha256_hex(&run_column(birth_day, "5").unwrap()),
            "c97550ce8213ef5cf6ed4ba48790c137df3ef6a5da20b48961001a634b6cead2"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // Segment does not pad a numeric month (`5` → `5`); PY/PHP do not range-check
        // (`13`, `00`, `32` accepted); no SDK reads a full date (peers.md §3,
        // sdk-normalization.md §1).
        assert_eq!(run_column(birth_month, "5").as_deref(), Ok("05"));
        assert_eq!(run_column(birth_month, "13"), Err(MONTH_OUT_OF_RANGE));
        assert_eq!(run_column(birth_day, "32"), Err(DAY_OUT_OF_RANGE));
        assert_eq!(
            date_of_birth("03/07/1985", DateOrder::MonthDayYear, YEAR),
            Ok(date(1985, 3, 7))
        );
        let year = |input: &str, out: &mut String| birth_year(input, YEAR, out);
        assert_eq!(
            run_column(year, "19999"),
            Err(NOT_A_YEAR),
            "PY CA hashes `19999`"
        );
    }

    #[test]
    fn write_parts_pads() {
        let (mut year, mut month, mut day) = (String::new(), String::new(), String::new());
        write_parts(&date(1956, 8, 2), &mut year, &mut month, &mut day);
        assert_eq!(
            (year.as_str(), month.as_str(), day.as_str()),
            ("1956", "08", "02")
        );
        write_parts(
            &BirthDate {
                year: 1956,
                month: None,
                day: None,
            },
            &mut year,
            &mut month,
            &mut day,
        );
        assert_eq!(
            (year.as_str(), month.as_str(), day.as_str()),
            ("1956", "", "")
        );
    }
}
