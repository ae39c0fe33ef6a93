//! COUNTRY: ISO 3166-1 alpha-2 from codes, English and native names and aliases, and
//! `CountryCode`, the small value the other normalizers take as the user's country.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use super::{AbsentReason, fold_ascii_letters, prepare};
use crate::country_table::COUNTRIES;

const UNKNOWN_COUNTRY: AbsentReason = AbsentReason::Invalid("unknown country");

/// Longest folded country name looked up (the longest ISO name folds to 46 letters).
const MAX_FOLDED_LEN: usize = 64;

/// An ISO 3166-1 alpha-2 country, lowercase (`us`, `gb`, `de`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode {
    /// Lowercase ASCII letters.
    code: [u8; 2],
    /// Position in the country table.
    index: u8,
}

impl CountryCode {
    /// Reads a country the way the COUNTRY key does: alpha-2, alpha-3, English or native name,
    /// or a common alias, ignoring case, accents, spaces and punctuation (`US`, `usa`,
    /// `U.S.A.`, `United States of America`, `Deutschland`, `méXiCo`, `Россия`, `PRC`, `中国`).
    pub fn parse(name: &str) -> Option<CountryCode> {
        country(name).ok()
    }

    /// The lowercase alpha-2 code.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters from the table.
        std::str::from_utf8(&self.code).unwrap_or("")
    }

    /// The English short name (ISO 3166-1).
    pub fn english_name(&self) -> &'static str {
        COUNTRIES
            .get(usize::from(self.index))
            .map_or("", |entry| entry.name)
    }

    /// The uppercase alpha-2 code as `rlibphonenumber` wants it.
    pub(crate) fn upper(&self) -> [u8; 2] {
        [
            self.code[0].to_ascii_uppercase(),
            self.code[1].to_ascii_uppercase(),
        ]
    }

    /// Position in the country table (0..[`n_countries`]).
    pub(crate) fn index(&self) -> usize {
        usize::from(self.index)
    }

    /// The country at `index` of the table.
    pub(crate) fn from_index(index: usize) -> Option<CountryCode> {
        let entry = COUNTRIES.get(index)?;
        let bytes = entry.alpha2.as_bytes();
        Some(CountryCode {
            code: [bytes[0].to_ascii_lowercase(), bytes[1].to_ascii_lowercase()],
            index: u8::try_from(index).ok()?,
        })
    }
}

/// Number of countries in the table.
pub(crate) fn n_countries() -> usize {
    COUNTRIES.len()
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CountryCode({})", self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

struct CountryLookup {
    /// Alpha-2 codes: `table[(a - 'a') * 26 + (b - 'a')]` = table index + 1, or 0.
    alpha2: [u8; 26 * 26],
    /// Every folded alpha-3 code, name and alias → table index.
    by_name: HashMap<Box<str>, u8>,
}

fn lookup() -> &'static CountryLookup {
    static LOOKUP: OnceLock<CountryLookup> = OnceLock::new();
    LOOKUP.get_or_init(|| {
        let mut alpha2 = [0u8; 26 * 26];
        let mut by_name = HashMap::new();
        for (index, entry) in COUNTRIES.iter().enumerate() {
            let Ok(index) = u8::try_from(index) else {
                continue;
            };
            let bytes = entry.alpha2.as_bytes();
            if let Some(slot) = alpha2_slot(bytes[0], bytes[1]) {
                alpha2[slot] = index + 1;
            }
        }
        // Codes and official names first, so an alias can never shadow them.
        for official in [true, false] {
            for (index, entry) in COUNTRIES.iter().enumerate() {
                let Ok(index) = u8::try_from(index) else {
                    continue;
                };
                let names: &[&str] = if official {
                    &[entry.alpha2, entry.alpha3, entry.name]
                } else {
                    entry.aliases
                };
                for name in names {
                    let mut folded = String::new();
                    fold_ascii_letters(name, &mut folded);
                    if !folded.is_empty() {
                        by_name.entry(folded.into_boxed_str()).or_insert(index);
                    }
                }
            }
        }
        CountryLookup { alpha2, by_name }
    })
}

fn alpha2_slot(first: u8, second: u8) -> Option<usize> {
    let first = first.to_ascii_lowercase();
    let second = second.to_ascii_lowercase();
    if first.is_ascii_lowercase() && second.is_ascii_lowercase() {
        Some(usize::from(first - b'a') * 26 + usize::from(second - b'a'))
    } else {
        None
    }
}

/// Normalizes a COUNTRY value to its ISO 3166-1 alpha-2 code (lowercase; contract §4.1).
/// Unknown names are absent ("unknown country"), never truncated to two letters.
pub fn country(input: &str) -> Result<CountryCode, AbsentReason> {
    let value = prepare(input)?;
    let lookup = lookup();
    let bytes = value.as_bytes();
    let index = if bytes.len() == 2 {
        alpha2_slot(bytes[0], bytes[1]).and_then(|slot| lookup.alpha2[slot].checked_sub(1))
    } else {
        None
    };
    let index = match index {
        Some(index) => Some(index),
        None => {
            let mut folded = String::with_capacity(value.len().min(MAX_FOLDED_LEN));
            fold_ascii_letters(value, &mut folded);
            if folded.is_empty() || folded.len() > MAX_FOLDED_LEN {
                None
            } else {
                lookup.by_name.get(folded.as_str()).copied()
            }
        }
    };
    index
        .and_then(|index| CountryCode::from_index(usize::from(index)))
        .ok_or(UNKNOWN_COUNTRY)
}

/// Writes the normalized COUNTRY string into `out`.
pub fn country_string(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let code = country(input)?;
    out.push_str(code.as_str());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    fn names_of(entry: &crate::country_table::CountryEntry) -> impl Iterator<Item = &'static str> {
        [entry.alpha2, entry.alpha3, entry.name]
            .into_iter()
            .chain(entry.aliases.iter().copied())
    }

    fn code(input: &str) -> Option<String> {
        CountryCode::parse(input).map(|code| code.as_str().to_owned())
    }

    #[test]
    fn table_has_every_iso_country_once() {
        assert_eq!(COUNTRIES.len(), 249);
        let mut alpha2: Vec<&str> = COUNTRIES.iter().map(|entry| entry.alpha2).collect();
        let mut alpha3: Vec<&str> = COUNTRIES.iter().map(|entry| entry.alpha3).collect();
        alpha2.sort_unstable();
        alpha2.dedup();
        alpha3.sort_unstable();
        alpha3.dedup();
        assert_eq!(alpha2.len(), 249);
        assert_eq!(alpha3.len(), 249);
        for entry in COUNTRIES {
            assert!(
                entry.alpha2.len() == 2 && entry.alpha2.bytes().all(|b| b.is_ascii_uppercase())
            );
            assert!(
                entry.alpha3.len() == 3 && entry.alpha3.bytes().all(|b| b.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn no_folded_name_points_at_two_countries() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for entry in COUNTRIES {
            for name in names_of(entry) {
                let mut folded = String::new();
                fold_ascii_letters(name, &mut folded);
                assert!(!folded.is_empty(), "{name:?} folds to nothing");
                if let Some(other) = seen.insert(folded.clone(), entry.alpha2) {
                    assert_eq!(other, entry.alpha2, "{name:?} ({folded}) is ambiguous");
                }
            }
        }
    }

    #[test]
    fn every_code_and_name_maps_back_to_its_country() {
        for entry in COUNTRIES {
            let expected = entry.alpha2.to_ascii_lowercase();
            for name in names_of(entry) {
                assert_eq!(code(name).as_deref(), Some(expected.as_str()), "{name:?}");
            }
        }
    }

    #[test]
    fn country_table() {
        let table: &[(&str, Option<&str>)] = &[
            ("US", Some("us")),
            ("us", Some("us")),
            ("USA", Some("us")),
            ("U.S.A.", Some("us")),
            ("U.S.", Some("us")),
            ("United States", Some("us")),
            ("United States of America", Some("us")),
            ("america", Some("us")),
            (" US ", Some("us")),
            ("UK", Some("gb")),
            ("Great Britain", Some("gb")),
            ("England", Some("gb")),
            ("GBR", Some("gb")),
            ("Deutschland", Some("de")),
            ("Germany", Some("de")),
            ("méXiCo", Some("mx")),
            ("Россия", Some("ru")),
            ("PRC", Some("cn")),
            ("中国", Some("cn")),
            ("España", Some("es")),
            ("Brasil", Some("br")),
            ("Italia", Some("it")),
            ("Nippon", Some("jp")),
            ("日本", Some("jp")),
            ("Holland", Some("nl")),
            ("Türkiye", Some("tr")),
            ("Turkey", Some("tr")),
            ("Côte d'Ivoire", Some("ci")),
            ("Cote d Ivoire", Some("ci")),
            ("AUT", Some("at")),
            ("Österreich", Some("at")),
            ("대한민국", Some("kr")),
            ("Viet Nam", Some("vn")),
            ("Ελλάδα", Some("gr")),
            ("Polska", Some("pl")),
            ("Schweiz", Some("ch")),
            ("الإمارات", Some("ae")),
            ("Narnia", None),
            ("XX", None),
            ("", None),
            ("12", None),
        ];
        for (input, expected) in table {
            assert_eq!(code(input).as_deref(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn known_answer_hash() {
        let mut out = String::new();
        country_string("US", &mut out).unwrap();
        assert_eq!(
            sha256_hex(&out),
            "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // PY takes the first two letters: `United States` → `un`, `Germany` → `ge` (Georgia),
        // `aut` → `au` (Australia), `PRC` → `pr`, `Россия` → "" (contract §4.2 (7),
        // sdk-normalization.md §1, peers.md §3). Meta's rule is the ISO alpha-2 code.
        assert_eq!(code("United States").as_deref(), Some("us"));
        assert_eq!(code("Germany").as_deref(), Some("de"));
        assert_eq!(code("aut").as_deref(), Some("at"));
        assert_eq!(code("PRC").as_deref(), Some("cn"));
        assert_eq!(code("Россия").as_deref(), Some("ru"));
        assert_eq!(code("Ísland").as_deref(), Some("is"));
    }
}
