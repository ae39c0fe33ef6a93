//! EMAIL: trim Unicode white space, unwrap `mailto:` and `Name <a@b.c>`, lowercase, and drop
//! values that are not an address.

use super::{AbsentReason, is_invisible_char, is_trim_char, prepare, trim_value};

const NOT_AN_ADDRESS: AbsentReason = AbsentReason::Invalid("not an email address");

/// Normalizes an EMAIL value into `out` (contract §4.1: trim, lowercase).
///
/// - Trims Unicode white space, NBSP, zero-width characters and the BOM at both ends.
/// - Unwraps `mailto:a@b.c` (dropping any `?subject=…`) and `Name <a@b.c>` / `<a@b.c>`.
/// - Lowercases (full Unicode; ASCII fast path).
/// - Drops one trailing dot of the domain (`a@b.com.` is the same host as `a@b.com`; the SDKs
///   strip it too). Leading dots and the dots inside the local part are kept: Meta hashes what
///   the user typed, and `john.doe@` is not `johndoe@`.
/// - Absent ("not an email address") unless it has exactly one `@`, a non-empty local part, a
///   domain with a dot that neither starts nor ends a label, and no white space, control
///   character, `<`, `>`, `,`, `;` or `"` inside.
pub fn email(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let value = prepare(input)?;
    let bytes = value.as_bytes();
    if bytes.is_ascii() && !bytes.contains(&b'<') && !starts_with_mailto(bytes) {
        // The usual cell: a plain ASCII address. One pass checks it.
        let value = value.strip_suffix('.').unwrap_or(value);
        if !is_ascii_address(value.as_bytes()) {
            return Err(NOT_AN_ADDRESS);
        }
        out.push_str(value);
        out.make_ascii_lowercase();
        return Ok(());
    }
    unwrapped_email(value, out)
}

fn starts_with_mailto(bytes: &[u8]) -> bool {
    bytes.len() >= 7 && bytes[..7].eq_ignore_ascii_case(b"mailto:")
}

/// Whether each byte may appear in an address ([`is_address_byte`]), as a table.
const ADDRESS_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        // The index is below 256.
        table[byte] = is_address_byte(byte as u8);
        byte += 1;
    }
    table
};

/// The well-formedness check of [`unwrapped_email`] for an ASCII value, in one pass: a
/// non-empty local part and a domain with a dot, each label non-empty, every byte an address
/// byte (so exactly one `@`).
fn is_ascii_address(bytes: &[u8]) -> bool {
    let Some(at) = bytes.iter().position(|byte| *byte == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if local.is_empty() || !local.iter().all(|byte| ADDRESS_BYTES[usize::from(*byte)]) {
        return false;
    }
    let mut has_dot = false;
    let mut previous = b'.';
    for byte in domain {
        if *byte == b'.' {
            if previous == b'.' {
                return false;
            }
            has_dot = true;
        } else if !ADDRESS_BYTES[usize::from(*byte)] {
            return false;
        }
        previous = *byte;
    }
    has_dot && previous != b'.'
}

/// [`email`] after trimming, for values that need unwrapping (`mailto:`, `<…>`) or are not
/// ASCII.
fn unwrapped_email(value: &str, out: &mut String) -> Result<(), AbsentReason> {
    let mut value = value;
    if let Some(open) = value.rfind('<') {
        let inner = &value[open + 1..];
        let Some(close) = inner.find('>') else {
            return Err(NOT_AN_ADDRESS);
        };
        value = trim_value(&inner[..close]);
    }
    if value.len() >= 7 && value.as_bytes()[..7].eq_ignore_ascii_case(b"mailto:") {
        value = &value[7..];
        if let Some(query) = value.find('?') {
            value = &value[..query];
        }
        value = trim_value(value);
    }
    let value = value.strip_suffix('.').unwrap_or(value);
    let Some((local, domain)) = value.split_once('@') else {
        return Err(NOT_AN_ADDRESS);
    };
    let well_formed = if value.is_ascii() {
        !local.is_empty()
            && local.bytes().all(is_address_byte)
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && label.bytes().all(is_address_byte))
    } else {
        !local.is_empty() && is_domain(domain) && local.chars().all(is_address_char)
    };
    if !well_formed {
        return Err(NOT_AN_ADDRESS);
    }
    if value.is_ascii() {
        out.push_str(value);
        out.make_ascii_lowercase();
    } else {
        out.extend(
            value
                .chars()
                .filter(|c| !is_invisible_char(*c))
                .flat_map(char::to_lowercase),
        );
    }
    Ok(())
}

fn is_address_char(character: char) -> bool {
    !is_trim_char(character)
        && !matches!(
            character,
            '<' | '>' | ',' | ';' | '"' | '@' | '(' | ')' | '[' | ']' | '\\'
        )
}

/// [`is_address_char`] for ASCII.
const fn is_address_byte(byte: u8) -> bool {
    byte > b' '
        && byte < 0x7f
        && !matches!(
            byte,
            b'<' | b'>' | b',' | b';' | b'"' | b'@' | b'(' | b')' | b'[' | b']' | b'\\'
        )
}

fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(is_address_char))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    fn normalized(input: &str) -> Result<String, AbsentReason> {
        let mut out = String::new();
        email(input, &mut out).map(|()| out)
    }

    #[test]
    fn email_table() {
        let table: &[(&str, Result<&str, AbsentReason>)] = &[
            ("mary@example.com", Ok("mary@example.com")),
            ("  John.Doe@Example.COM ", Ok("john.doe@example.com")),
            ("\u{a0}JOHN@EXAMPLE.COM\u{a0}", Ok("john@example.com")),
            ("\u{feff}john@example.com\u{200b}", Ok("john@example.com")),
            ("\tjohn@example.com\r\n", Ok("john@example.com")),
            ("mailto:Jane@Example.org", Ok("jane@example.org")),
            ("MAILTO:jane@example.org?subject=hi", Ok("jane@example.org")),
            ("<jane@example.org>", Ok("jane@example.org")),
            (
                "Jane Doe <Jane.Doe@Example.org>",
                Ok("jane.doe@example.org"),
            ),
            ("\"Doe, Jane\" <jane@example.org>", Ok("jane@example.org")),
            ("john@example.com.", Ok("john@example.com")),
            (
                "first.last+tag@sub.example.co.uk",
                Ok("first.last+tag@sub.example.co.uk"),
            ),
            ("Ünïcödé@Exämple.de", Ok("ünïcödé@exämple.de")),
            ("..test..", Err(NOT_AN_ADDRESS)),
            ("n/a", Err(NOT_AN_ADDRESS)),
            ("john", Err(NOT_AN_ADDRESS)),
            ("john@localhost", Err(NOT_AN_ADDRESS)),
            ("@example.com", Err(NOT_AN_ADDRESS)),
            ("john doe@example.com", Err(NOT_AN_ADDRESS)),
            ("john@exa mple.com", Err(NOT_AN_ADDRESS)),
            ("john@@example.com", Err(NOT_AN_ADDRESS)),
            ("a@b@example.com", Err(NOT_AN_ADDRESS)),
            ("john@example..com", Err(NOT_AN_ADDRESS)),
            ("john@.example.com", Err(NOT_AN_ADDRESS)),
            ("<john@example.com", Err(NOT_AN_ADDRESS)),
            ("", Err(AbsentReason::Empty)),
            (" \u{a0} ", Err(AbsentReason::Empty)),
        ];
        for (input, expected) in table {
            assert_eq!(
                normalized(input).as_deref(),
                expected.as_ref().copied(),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn the_ascii_one_pass_check_agrees_with_the_general_path() {
        let parts = [
            "", "a", "john.doe", "j..d", ".x", "x.", "a b", "a@b", "x\"y", "ü", "(c)", "a,b",
            "\u{7f}", "\t", "-", "+tag", "[1]",
        ];
        let domains = [
            "",
            "example.com",
            "example.com.",
            "ex..com",
            ".example.com",
            "example",
            "e.c",
            "exa mple.com",
            "@example.com",
            "ex;ample.com",
            "sub.example.co.uk",
            "x.",
            "a.b.",
            "exämple.de",
            "EXAMPLE.COM",
        ];
        for local in parts {
            for domain in domains {
                for input in [
                    format!("{local}@{domain}"),
                    format!("  {local}@{domain} "),
                    format!("{local}{domain}"),
                    format!("{local}@{domain}@x.com"),
                ] {
                    let mut fast = String::new();
                    let fast_result = email(&input, &mut fast).map(|()| fast);
                    let mut general = String::new();
                    let general_result = match prepare(&input) {
                        Ok(value) => unwrapped_email(value, &mut general).map(|()| general),
                        Err(reason) => Err(reason),
                    };
                    assert_eq!(fast_result, general_result, "{input:?}");
                }
            }
        }
    }

    #[test]
    fn known_answer_hashes() {
        // Contract §11.
        assert_eq!(
            sha256_hex(&normalized("mary@example.com").unwrap()),
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        assert_eq!(
            sha256_hex(&normalized("  John.Doe@Example.COM ").unwrap()),
            "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // PY/PHP strip dots from both ends ("..test.." → "test", contract §4.2 (8)); the docs
        // only trim white space, and "..test.." is no address at all.
        assert_eq!(normalized("..test.."), Err(NOT_AN_ADDRESS));
        // PY does not strip NBSP, so it stays inside the hash (sdk-normalization.md §1).
        assert_eq!(
            normalized("john@example.com\u{a0}").as_deref(),
            Ok("john@example.com")
        );
        // PY hashes `mailto:` and `<…>` as typed.
        assert_eq!(normalized("mailto:x@y.com").as_deref(), Ok("x@y.com"));
        assert_eq!(normalized("<x@y.com>").as_deref(), Ok("x@y.com"));
        // Inner dots are never removed.
        assert_eq!(
            normalized("j.o.h.n@gmail.com").as_deref(),
            Ok("j.o.h.n@gmail.com")
        );
    }
}
