//! GEN: `m` or `f` from a documented list of words in several languages; anything else absent.

use super::{AbsentReason, prepare};

const UNKNOWN_GENDER: AbsentReason = AbsentReason::Invalid("unknown gender");

/// A gender Meta's GEN key can carry (contract §4.1: `m` = male, `f` = female).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// `"m"` or `"f"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "m",
            Gender::Female => "f",
        }
    }
}

/// Words read as male, compared after Unicode lowercasing with everything but letters removed.
/// NORMALIZATION.md lists them for users.
pub const MALE_WORDS: &[&str] = &[
    "m",
    "male",
    "man",
    "men",
    "boy",
    "masc",
    "masculine",
    "mr",
    "h",
    "homme",
    "masculin",
    "hombre",
    "varon",
    "varón",
    "masculino",
    "männlich",
    "maennlich",
    "mannlich",
    "mann",
    "maschio",
    "maschile",
    "uomo",
    "mannelijk",
    "manlig",
    "mand",
    "mężczyzna",
    "mezczyzna",
    "erkek",
    "мужской",
    "муж",
    "м",
    "мужчина",
    "чоловік",
    "чоловіча",
    "男",
    "男性",
    "남",
    "남성",
    "남자",
    "ذكر",
    "ชาย",
    "pria",
    "lakilaki",
];

/// Words read as female, compared like [`MALE_WORDS`].
pub const FEMALE_WORDS: &[&str] = &[
    "f",
    "female",
    "woman",
    "women",
    "girl",
    "fem",
    "feminine",
    "mrs",
    "ms",
    "miss",
    "femme",
    "féminin",
    "feminin",
    "mujer",
    "femenino",
    "femenina",
    "feminino",
    "feminina",
    "weiblich",
    "w",
    "frau",
    "femmina",
    "femminile",
    "donna",
    "vrouw",
    "vrouwelijk",
    "kvinna",
    "kvinde",
    "kvinne",
    "kobieta",
    "kadın",
    "kadin",
    "женский",
    "жен",
    "ж",
    "женщина",
    "жінка",
    "жіноча",
    "女",
    "女性",
    "여",
    "여성",
    "여자",
    "أنثى",
    "انثى",
    "หญิง",
    "wanita",
    "perempuan",
];

/// Longest word in the lists, in bytes (with margin); longer values are unknown.
const MAX_WORD_LEN: usize = 32;

/// Normalizes a GEN value: `Female`, `F`, `femme`, `weiblich`, `женский` → `f`; `Male`, `M`,
/// `homme`, `hombre`, `männlich` → `m`. Everything else (`other`, `unknown`, `x`, `1`) is absent
/// ("unknown gender"), never `o` or `u`: Meta accepts only `m` and `f`.
pub fn gender(input: &str) -> Result<Gender, AbsentReason> {
    let value = prepare(input)?;
    if value.len() > MAX_WORD_LEN {
        return Err(UNKNOWN_GENDER);
    }
    // The common spellings, without the Unicode path.
    match value.as_bytes() {
        [b'm' | b'M'] => return Ok(Gender::Male),
        [b'f' | b'F'] => return Ok(Gender::Female),
        bytes if bytes.eq_ignore_ascii_case(b"male") => return Ok(Gender::Male),
        bytes if bytes.eq_ignore_ascii_case(b"female") => return Ok(Gender::Female),
        _ => {}
    }
    let mut letters = [0u8; MAX_WORD_LEN * 2];
    let mut n_letters = 0;
    for character in value.chars().filter(|c| c.is_alphabetic()) {
        for lower in character.to_lowercase() {
            let mut encoded = [0u8; 4];
            let bytes = lower.encode_utf8(&mut encoded).as_bytes();
            let Some(slot) = letters.get_mut(n_letters..n_letters + bytes.len()) else {
                return Err(UNKNOWN_GENDER);
            };
            slot.copy_from_slice(bytes);
            n_letters += bytes.len();
        }
    }
    let word = std::str::from_utf8(&letters[..n_letters]).map_err(|_| UNKNOWN_GENDER)?;
    if MALE_WORDS.contains(&word) {
        Ok(Gender::Male)
    } else if FEMALE_WORDS.contains(&word) {
        Ok(Gender::Female)
    } else {
        Err(UNKNOWN_GENDER)
    }
}

/// Writes the normalized GEN string into `out`.
pub fn gender_string(input: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    out.push_str(gender(input)?.as_str());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    #[test]
    fn gender_table() {
        let table: &[(&str, Result<Gender, AbsentReason>)] = &[
            ("Female", Ok(Gender::Female)),
            ("F", Ok(Gender::Female)),
            (" f ", Ok(Gender::Female)),
            ("WOMAN", Ok(Gender::Female)),
            ("girl", Ok(Gender::Female)),
            ("femme", Ok(Gender::Female)),
            ("Mujer", Ok(Gender::Female)),
            ("weiblich", Ok(Gender::Female)),
            ("Féminin", Ok(Gender::Female)),
            ("femmina", Ok(Gender::Female)),
            ("feminino", Ok(Gender::Female)),
            ("женский", Ok(Gender::Female)),
            ("Ж", Ok(Gender::Female)),
            ("女", Ok(Gender::Female)),
            ("Male", Ok(Gender::Male)),
            ("M", Ok(Gender::Male)),
            ("m.", Ok(Gender::Male)),
            ("man", Ok(Gender::Male)),
            ("boy", Ok(Gender::Male)),
            ("Homme", Ok(Gender::Male)),
            ("H", Ok(Gender::Male)),
            ("hombre", Ok(Gender::Male)),
            ("Männlich", Ok(Gender::Male)),
            ("maschio", Ok(Gender::Male)),
            ("masculino", Ok(Gender::Male)),
            ("masculin", Ok(Gender::Male)),
            ("мужской", Ok(Gender::Male)),
            ("男", Ok(Gender::Male)),
            ("Other", Err(UNKNOWN_GENDER)),
            ("unknown", Err(UNKNOWN_GENDER)),
            ("x", Err(UNKNOWN_GENDER)),
            ("1", Err(UNKNOWN_GENDER)),
            ("NaN", Err(UNKNOWN_GENDER)),
            ("non-binary", Err(UNKNOWN_GENDER)),
            ("", Err(AbsentReason::Empty)),
        ];
        for (input, expected) in table {
            assert_eq!(gender(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn word_lists_do_not_overlap() {
        for word in MALE_WORDS {
            assert!(!FEMALE_WORDS.contains(word), "{word}");
            assert_eq!(gender(word), Ok(Gender::Male), "{word}");
        }
        for word in FEMALE_WORDS {
            assert_eq!(gender(word), Ok(Gender::Female), "{word}");
        }
    }

    #[test]
    fn known_answer_hashes() {
        let mut out = String::new();
        gender_string("Female", &mut out).unwrap();
        assert_eq!(
            sha256_hex(&out),
            "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"
        );
        gender_string("Male", &mut out).unwrap();
        assert_eq!(
            sha256_hex(&out),
            "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // CA-py takes the first character (`Other` → `o`, `unknown` → `u`, `мужской` → `м`),
        // RudderStack maps everything not female to `m`, Segment passes `Other` through
        // (peers.md §3, sdk-normalization.md §1). Meta accepts only m and f.
        assert_eq!(gender("Other"), Err(UNKNOWN_GENDER));
        assert_eq!(gender("unknown"), Err(UNKNOWN_GENDER));
        assert_eq!(gender("мужской"), Ok(Gender::Male));
        // PHP keeps the case of the first byte (`Female` → `F`).
        assert_eq!(gender("Female").map(Gender::as_str), Ok("f"));
    }
}
