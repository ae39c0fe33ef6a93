//! The unhashed keys (EXTERN_ID, MADID, LOOKALIKE_VALUE) and the consent flag.

use super::{AbsentReason, prepare};

const NOT_AN_ADVERTISING_ID: AbsentReason = AbsentReason::Invalid("not a mobile advertising id");
const ZEROED_ADVERTISING_ID: AbsentReason =
    AbsentReason::Invalid("zeroed mobile advertising id (tracking disabled)");
const NOT_A_NUMBER: AbsentReason = AbsentReason::Invalid("not a number");
const NEGATIVE_VALUE: AbsentReason = AbsentReason::Invalid("negative value");

/// Fewest hex digits a mobile advertising id can have. IDFA and GAID are UUIDs (32); shorter
/// vendor ids exist, so the check is loose.
const MIN_ADVERTISING_ID_HEX_DIGITS: usize = 8;

/// Normalizes EXTERN_ID into `out`: exactly as given except white space around it (Meta: "send
/// in exactly the same format each time"; surrounding white space is never part of an id and
/// spreadsheets add it). Case is kept (`AbC-123` stays `AbC-123`).
pub fn extern_id(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    out.push_str(prepare(input)?);
    Ok(())
}

/// Classes of bytes in a MADID, for [`MADID_BYTE_CLASS`].
const NOT_IN_MADID: u8 = 0;
const ZERO_HEX: u8 = 1;
const NON_ZERO_HEX: u8 = 2;
const HYPHEN: u8 = 3;

/// The class of every byte in a MADID.
const MADID_BYTE_CLASS: [u8; 256] = {
    let mut table = [NOT_IN_MADID; 256];
    let mut byte = 0;
    while byte < 256 {
        // The index is below 256.
        let value = byte as u8;
        table[byte] = if value == b'0' {
            ZERO_HEX
        } else if value.is_ascii_hexdigit() {
            NON_ZERO_HEX
        } else if value == b'-' {
            HYPHEN
        } else {
            NOT_IN_MADID
        };
        byte += 1;
    }
    table
};

/// Normalizes MADID (IDFA/GAID) into `out`: trimmed, lowercase, hyphens kept, never hashed
/// (contract §4.1). Absent unless it is hex digits and single inner hyphens with at least 8 hex
/// digits; the all-zero id a device reports when ad tracking is off is absent too.
pub fn madid(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let value = prepare(input)?;
    // One pass without branches on the bytes (hex letters and digits come in random order):
    // hex digits and single inner hyphens, counting the digits and the non-zero ones.
    let mut is_malformed = false;
    let mut n_hex = 0;
    let mut n_non_zero = 0;
    let mut previous_is_hyphen = true;
    for byte in value.bytes() {
        let class = MADID_BYTE_CLASS[usize::from(byte)];
        let is_hyphen = class == HYPHEN;
        is_malformed |= class == NOT_IN_MADID || (is_hyphen && previous_is_hyphen);
        n_hex += usize::from(!is_hyphen);
        n_non_zero += usize::from(class == NON_ZERO_HEX);
        previous_is_hyphen = is_hyphen;
    }
    if is_malformed || previous_is_hyphen || n_hex < MIN_ADVERTISING_ID_HEX_DIGITS {
        return Err(NOT_AN_ADVERTISING_ID);
    }
    if n_non_zero == 0 {
        return Err(ZEROED_ADVERTISING_ID);
    }
    out.push_str(value);
    out.make_ascii_lowercase();
    Ok(())
}

/// Normalizes LOOKALIKE_VALUE into `out`: a non-negative decimal number in canonical text
/// (leading `+` and zeros dropped, trailing fraction zeros dropped: `044.50` → `44.5`,
/// `140.0` → `140`, `.9` → `0.9`). Absent for negative values and anything that is not a plain
/// decimal number (no exponents, no thousands separators).
pub fn lookalike_value(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let value = prepare(input)?;
    let (negative, unsigned) = match value.as_bytes()[0] {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (integer.is_empty() && fraction.is_empty())
        || !integer.bytes().all(|byte| byte.is_ascii_digit())
        || !fraction.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(NOT_A_NUMBER);
    }
    let integer = integer.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let is_zero = integer.is_empty() && fraction.is_empty();
    if negative && !is_zero {
        return Err(NEGATIVE_VALUE);
    }
    out.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    Ok(())
}

/// Reads a consent cell: `true`, `yes`, `y`, `1`, `on`, `t`, `opted in`, `opt-in`, `granted`,
/// `accepted`, `ja`, `oui`, `sí` give consent. Everything else withholds it: `false`, `no`,
/// `0`, `off`, `opted out`, `denied`, `revoked`, `unsubscribed`, any unknown word, and an empty
/// cell (consent must be explicit).
pub fn consent(input: &str) -> bool {
    const GIVEN: &[&str] = &[
        "true",
        "yes",
        "y",
        "1",
        "on",
        "t",
        "optedin",
        "optin",
        "granted",
        "accepted",
        "consented",
        "subscribed",
        "ja",
        "oui",
        "si",
        "sí",
        "da",
    ];
    let Ok(value) = prepare(input) else {
        return false;
    };
    if value.len() > 32 {
        return false;
    }
    let word: String = value
        .chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    GIVEN.contains(&word.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        normalizer: fn(&str, &mut String) -> Result<(), AbsentReason>,
        input: &str,
    ) -> Result<String, AbsentReason> {
        let mut out = String::new();
        normalizer(input, &mut out).map(|()| out)
    }

    #[test]
    fn extern_id_is_kept_exactly_but_trimmed() {
        assert_eq!(run(extern_id, "AbC-123").as_deref(), Ok("AbC-123"));
        assert_eq!(run(extern_id, "  CRM-ID-42 ").as_deref(), Ok("CRM-ID-42"));
        assert_eq!(run(extern_id, "a b").as_deref(), Ok("a b"));
        assert_eq!(run(extern_id, " "), Err(AbsentReason::Empty));
    }

    #[test]
    fn madid_table() {
        let table: &[(&str, Result<&str, AbsentReason>)] = &[
            (
                "AECE52E7-03EE-455A-B3C4-E57283966239",
                Ok("aece52e7-03ee-455a-b3c4-e57283966239"),
            ),
            ("AB12CD34-E123", Ok("ab12cd34-e123")),
            (
                "aece52e703ee455ab3c4e57283966239",
                Ok("aece52e703ee455ab3c4e57283966239"),
            ),
            (
                "00000000-0000-0000-0000-000000000000",
                Err(ZEROED_ADVERTISING_ID),
            ),
            ("not-an-id", Err(NOT_AN_ADVERTISING_ID)),
            ("abc", Err(NOT_AN_ADVERTISING_ID)),
            ("-aece52e7-03ee", Err(NOT_AN_ADVERTISING_ID)),
            ("aece52e7--03ee", Err(NOT_AN_ADVERTISING_ID)),
            ("aece52e7-03ee-", Err(NOT_AN_ADVERTISING_ID)),
            ("aece52e7 03ee", Err(NOT_AN_ADVERTISING_ID)),
            ("aece52é7-03ee", Err(NOT_AN_ADVERTISING_ID)),
            ("0000-000", Err(NOT_AN_ADVERTISING_ID)),
            ("0000-0000", Err(ZEROED_ADVERTISING_ID)),
            ("0000-0001", Ok("0000-0001")),
            ("-", Err(NOT_AN_ADVERTISING_ID)),
            ("", Err(AbsentReason::Empty)),
        ];
        for (input, expected) in table {
            assert_eq!(
                run(madid, input).as_deref(),
                expected.as_ref().copied(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn lookalike_value_table() {
        let table: &[(&str, Result<&str, AbsentReason>)] = &[
            ("44.5", Ok("44.5")),
            ("140", Ok("140")),
            ("0", Ok("0")),
            ("0.9", Ok("0.9")),
            (".9", Ok("0.9")),
            ("044.50", Ok("44.5")),
            ("140.0", Ok("140")),
            ("+3", Ok("3")),
            ("-0", Ok("0")),
            ("5.", Ok("5")),
            ("-1", Err(NEGATIVE_VALUE)),
            ("-0.5", Err(NEGATIVE_VALUE)),
            ("1e3", Err(NOT_A_NUMBER)),
            ("1,000", Err(NOT_A_NUMBER)),
            ("abc", Err(NOT_A_NUMBER)),
            (".", Err(NOT_A_NUMBER)),
            ("-", Err(NOT_A_NUMBER)),
            ("", Err(AbsentReason::Empty)),
        ];
        for (input, expected) in table {
            assert_eq!(
                run(lookalike_value, input).as_deref(),
                expected.as_ref().copied(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn consent_table() {
        for given in [
            "true", "TRUE", "yes", "Y", "1", "on", "opted in", "opt-in", "Oui", "ja",
        ] {
            assert!(consent(given), "{given:?}");
        }
        for withheld in [
            "false",
            "no",
            "N",
            "0",
            "off",
            "opted out",
            "denied",
            "",
            "  ",
            "maybe",
        ] {
            assert!(!consent(withheld), "{withheld:?}");
        }
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // CA-py lowercases EXTERN_ID (`AbC-123` → `abc-123`); the docs say exact format.
        assert_eq!(run(extern_id, "AbC-123").as_deref(), Ok("AbC-123"));
        // Segment does not lowercase MADID (`AB12CD34-E123`); PY/PHP hash it. Meta: lowercase,
        // unhashed (the engine never hashes MADID).
        assert_eq!(run(madid, "AB12CD34-E123").as_deref(), Ok("ab12cd34-e123"));
        // RudderStack turns invalid/negative LOOKALIKE_VALUE into 0; we drop it.
        assert_eq!(run(lookalike_value, "-5"), Err(NEGATIVE_VALUE));
    }
}
