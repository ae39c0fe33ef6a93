//! The per-key normalizers (one file per family of keys) and the helpers they share: trimming,
//! Unicode digit mapping and ASCII folding.
//!
//! Every normalizer takes the raw cell and writes the canonical pre-hash string into `out`
//! (cleared first), or returns the [`AbsentReason`] the value is absent for. A value that
//! normalizes to nothing is absent: it is sent as `""` and never hashed (contract §4.3).

pub mod country;
pub mod date;
pub mod email;
pub mod gender;
pub mod location;
pub mod misc;
pub mod name;
pub mod phone;

use std::fmt;

/// Why a provided value is absent after normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbsentReason {
    /// The cell was blank (only whitespace).
    Empty,
    /// The value could not be read as this key; the text says why in plain words
    /// (`"not an email address"`, `"impossible phone number"`, `"unknown gender"`, …). It never
    /// contains the value itself.
    Invalid(&'static str),
}

impl fmt::Display for AbsentReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbsentReason::Empty => formatter.write_str("empty"),
            AbsentReason::Invalid(reason) => formatter.write_str(reason),
        }
    }
}

/// Longest cell any normalizer looks at, in bytes. Longer cells are absent ("value too long"):
/// no real email (RFC 5321: 254), phone, name or address line comes close, and the bound keeps
/// the cost of one hostile cell small.
pub const MAX_VALUE_LEN: usize = 1024;

/// Reason given for cells longer than [`MAX_VALUE_LEN`].
pub(crate) const TOO_LONG: AbsentReason = AbsentReason::Invalid("value too long");

/// Characters trimmed from both ends of every value: Unicode white space (NBSP included), the
/// zero-width characters and the byte-order mark spreadsheets leave behind, and control
/// characters (`\0`, `\x0B`, …).
pub(crate) fn is_trim_char(character: char) -> bool {
    character.is_whitespace()
        || character.is_control()
        || matches!(
            character,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{180E}'
        )
}

/// Characters that are invisible inside a value (zero-width joiners, BOM, soft hyphen).
pub(crate) fn is_invisible_char(character: char) -> bool {
    matches!(
        character,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// `value` without the trim characters (Unicode white space, NBSP, zero-width characters, BOM,
/// control characters) at either end.
pub fn trim_value(value: &str) -> &str {
    // Most cells start and end with a visible ASCII character: nothing to trim, no scan.
    let is_kept_ascii = |byte: u8| byte > b' ' && byte < 0x7f;
    if let (Some(first), Some(last)) = (value.as_bytes().first(), value.as_bytes().last())
        && is_kept_ascii(*first)
        && is_kept_ascii(*last)
    {
        return value;
    }
    if value.is_ascii() {
        // In ASCII, the trim characters are the controls and the space.
        let is_kept = |byte: &u8| *byte > b' ' && *byte != 0x7f;
        let bytes = value.as_bytes();
        let Some(start) = bytes.iter().position(is_kept) else {
            return "";
        };
        let end = bytes.iter().rposition(is_kept).map_or(start, |end| end + 1);
        // Both ends are ASCII positions, so they are char boundaries.
        return value.get(start..end).unwrap_or("");
    }
    value.trim_matches(is_trim_char)
}

/// Trims `value` and checks its length: `Err(Empty)` for a blank cell, `Err(TOO_LONG)` for an
/// oversized one.
pub(crate) fn prepare(value: &str) -> Result<&str, AbsentReason> {
    if value.len() > MAX_VALUE_LEN {
        return Err(TOO_LONG);
    }
    let trimmed = trim_value(value);
    if trimmed.is_empty() {
        Err(AbsentReason::Empty)
    } else {
        Ok(trimmed)
    }
}

/// First code points of the runs of ten decimal digits (Unicode category Nd) people type in
/// phone numbers, dates and postcodes: ASCII, Arabic-Indic, Extended Arabic-Indic (Persian,
/// Urdu), NKo, the Indic scripts, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian, fullwidth and
/// the mathematical digits.
const DIGIT_ZEROS: &[u32] = &[
    0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0xFF10,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
];

/// The value 0–9 of a decimal digit of any of the scripts in [`DIGIT_ZEROS`].
pub(crate) fn digit_value(character: char) -> Option<u8> {
    if character.is_ascii_digit() {
        return Some(character as u8 - b'0');
    }
    if character.is_ascii() {
        return None;
    }
    let code = character as u32;
    DIGIT_ZEROS.iter().find_map(|zero| {
        let offset = code.checked_sub(*zero)?;
        // The offset is below 10, so it fits a u8.
        (offset < 10).then_some(offset as u8)
    })
}

/// Appends the ASCII transliteration of `input` (via `deunicode`), keeping only the letters
/// a–z, lowercased: `São Paulo` → `saopaulo`, `Москва` → `moskva`, `N.Y.` → `ny`.
pub(crate) fn fold_ascii_letters(input: &str, out: &mut String) {
    for character in input.chars() {
        if character.is_ascii() {
            if character.is_ascii_alphabetic() {
                out.push(character.to_ascii_lowercase());
            }
        } else if let Some(ascii) = deunicode::deunicode_char(character) {
            out.extend(
                ascii
                    .chars()
                    .filter(char::is_ascii_alphabetic)
                    .map(|letter| letter.to_ascii_lowercase()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_several_scripts_map_to_values() {
        let table = [
            ('7', Some(7)),
            ('٧', Some(7)),
            ('۷', Some(7)),
            ('७', Some(7)),
            ('৭', Some(7)),
            ('๗', Some(7)),
            ('７', Some(7)),
            ('a', None),
            ('Ⅶ', None),
            ('¾', None),
        ];
        for (character, expected) in table {
            assert_eq!(digit_value(character), expected, "{character:?}");
        }
    }

    #[test]
    fn trimming_keeps_values_with_visible_ascii_ends_whole() {
        for value in [
            "a",
            "ab",
            "a b",
            "a\u{a0}b",
            "é",
            "aé",
            "éa",
            "a\u{200b}",
            " a",
            "a\t",
        ] {
            assert_eq!(
                trim_value(value),
                value.trim_matches(is_trim_char),
                "{value:?}"
            );
        }
    }

    #[test]
    fn trimming_removes_unicode_spaces_zero_width_and_bom() {
        assert_eq!(trim_value("\u{feff}\u{a0} a b\u{200b}\t\0"), "a b");
        assert_eq!(prepare(" \u{a0}\u{200b} "), Err(AbsentReason::Empty));
        assert_eq!(prepare(&"x".repeat(MAX_VALUE_LEN + 1)), Err(TOO_LONG));
    }

    #[test]
    fn folding_transliterates_and_keeps_letters() {
        let table = [
            ("São Paulo", "saopaulo"),
            ("Menlo Park", "menlopark"),
            ("N.Y.", "ny"),
            ("Москва", "moskva"),
            ("Zürich 8001", "zurich"),
            ("", ""),
        ];
        for (input, expected) in table {
            let mut out = String::new();
            fold_ascii_letters(input, &mut out);
            assert_eq!(out, expected, "{input:?}");
        }
    }
}
