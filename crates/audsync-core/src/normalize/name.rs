//! FN, LN and FI: NFC, Unicode lowercase, letters of any script only (or a–z in ASCII mode).

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark, is_nfc_quick};

use super::{AbsentReason, fold_ascii_letters, prepare};
use crate::options::NameScript;

const NO_LETTERS: AbsentReason = AbsentReason::Invalid("no letters");

/// Normalizes a first or last name (FN, LN) into `out`.
///
/// Unicode mode (the default; contract §4.3, docs: "special characters in UTF-8 format"):
/// NFC, Unicode lowercase, then keep only letters of any script and the combining marks that
/// follow a kept letter; punctuation, white space, digits and symbols go (`José` → `josé`,
/// `O'Brien-Smith` → `obriensmith`, `정` stays `정`).
///
/// ASCII mode: transliterate with `deunicode`, keep a–z (`José` → `jose`, `Łukasz` → `lukasz`).
///
/// Absent ("no letters") when nothing is left.
pub fn name(input: &str, script: NameScript, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let value = prepare(input)?;
    if value.is_ascii() {
        out.extend(
            value
                .bytes()
                .filter(u8::is_ascii_alphabetic)
                .map(|byte| char::from(byte.to_ascii_lowercase())),
        );
    } else {
        match script {
            NameScript::Ascii => fold_ascii_letters(value, out),
            NameScript::Unicode => unicode_letters(value, out),
        }
    }
    if out.is_empty() {
        Err(NO_LETTERS)
    } else {
        Ok(())
    }
}

/// NFC → lowercase → letters and their marks → NFC (lowercasing can decompose, `İ` → `i̇`).
fn unicode_letters(value: &str, out: &mut String) {
    let mut kept_letter = false;
    let mut push = |character: char, out: &mut String| {
        if character.is_alphabetic() {
            out.extend(character.to_lowercase());
            kept_letter = true;
        } else if kept_letter && is_combining_mark(character) {
            out.push(character);
        } else {
            kept_letter = false;
        }
    };
    if is_nfc_quick(value.chars()) == unicode_normalization::IsNormalized::Yes {
        value.chars().for_each(|character| push(character, out));
    } else {
        value.nfc().for_each(|character| push(character, out));
    }
    if is_nfc_quick(out.chars()) != unicode_normalization::IsNormalized::Yes {
        let composed: String = out.nfc().collect();
        *out = composed;
    }
}

/// FI: the first letter (with its combining marks) of an already normalized FN.
pub fn first_initial(normalized_first_name: &str, out: &mut String) -> Result<(), AbsentReason> {
    out.clear();
    let mut characters = normalized_first_name.chars();
    let Some(first) = characters.next() else {
        return Err(NO_LETTERS);
    };
    out.push(first);
    out.extend(characters.take_while(|character| is_combining_mark(*character)));
    Ok(())
}

/// FI mapped from its own column: normalized like FN, then its first letter.
pub fn initial(input: &str, script: NameScript, out: &mut String) -> Result<(), AbsentReason> {
    let mut full = String::new();
    name(input, script, &mut full)?;
    first_initial(&full, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    fn normalized(input: &str, script: NameScript) -> Result<String, AbsentReason> {
        let mut out = String::new();
        name(input, script, &mut out).map(|()| out)
    }

    #[test]
    fn unicode_name_table() {
        let table: &[(&str, Result<&str, AbsentReason>)] = &[
            ("John", Ok("john")),
            ("  José ", Ok("josé")),
            ("Jose\u{301}", Ok("josé")),
            ("O'Brien-Smith", Ok("obriensmith")),
            ("Mary Ann", Ok("maryann")),
            ("J.", Ok("j")),
            ("정", Ok("정")),
            ("김민준", Ok("김민준")),
            ("Zoë", Ok("zoë")),
            ("Jürgen", Ok("jürgen")),
            ("Éloïse", Ok("éloïse")),
            ("Groß", Ok("groß")),
            ("ΟΔΥΣΣΕΑΣ", Ok("οδυσσεασ")),
            ("Владимир", Ok("владимир")),
            ("محمد", Ok("محمد")),
            ("王小明", Ok("王小明")),
            ("สมชาย", Ok("สมชาย")),
            ("प्रिया", Ok("प्रिया")),
            ("Anne-Marie 2", Ok("annemarie")),
            ("Anne-Marie 2nd", Ok("annemariend")),
            ("Prof. Ann Marie", Ok("profannmarie")),
            ("123", Err(NO_LETTERS)),
            ("---", Err(NO_LETTERS)),
            ("", Err(AbsentReason::Empty)),
        ];
        for (input, expected) in table {
            assert_eq!(
                normalized(input, NameScript::Unicode).as_deref(),
                expected.as_ref().copied(),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn ascii_name_table() {
        let table = [
            ("José", "jose"),
            ("Łukasz", "lukasz"),
            ("Groß", "gross"),
            ("O'Brien-Smith", "obriensmith"),
            ("Владимир", "vladimir"),
            ("Zoë", "zoe"),
        ];
        for (input, expected) in table {
            assert_eq!(
                normalized(input, NameScript::Ascii).as_deref(),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn known_answer_hashes() {
        // Contract §11.
        let table = [
            (
                "John",
                "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
            ),
            (
                "Doe",
                "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
            ),
            (
                "José",
                "d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866",
            ),
        ];
        for (input, expected) in table {
            let normalized = normalized(input, NameScript::Unicode).unwrap();
            assert_eq!(sha256_hex(&normalized), expected, "input {input:?}");
        }
        let mut initial_out = String::new();
        initial("J.", NameScript::Unicode, &mut initial_out).unwrap();
        assert_eq!(
            sha256_hex(&initial_out),
            "189f40034be7a199f1fa9891668ee3ab6049f82d38c68be70f596eab2e1857b7"
        );
    }

    #[test]
    fn sdk_divergences_follow_the_docs() {
        // PY/PHP keep ASCII letters only: `José` → `jos` (f854b2ae…), `정` → "" → sha256("").
        // The docs allow UTF-8 letters (contract §4.2 (1), peers.md §3).
        assert_eq!(
            normalized("José", NameScript::Unicode).as_deref(),
            Ok("josé")
        );
        assert_eq!(normalized("정", NameScript::Unicode).as_deref(), Ok("정"));
        // peers.md §3: the UTF-8 digest of `정` starts 8fa8cd9c; RudderStack's Latin-1 one 2f0fd1e8.
        assert!(
            sha256_hex(&normalized("정", NameScript::Unicode).unwrap()).starts_with("8fa8cd9c")
        );
        assert_ne!(
            sha256_hex(&normalized("José", NameScript::Unicode).unwrap()),
            "f854b2aeb789d616b26acff4df9ff7741d09d5f7a63add238201880e5b10bf2b"
        );
    }

    #[test]
    fn first_initial_takes_the_first_letter() {
        let table = [
            ("josé", "j"),
            ("éloïse", "é"),
            ("정", "정"),
            ("i\u{307}lker", "i\u{307}"),
        ];
        for (input, expected) in table {
            let mut out = String::new();
            first_initial(input, &mut out).unwrap();
            assert_eq!(out, expected);
        }
        let mut out = String::new();
        assert_eq!(first_initial("", &mut out), Err(NO_LETTERS));
        assert_eq!(initial("  Éloïse", NameScript::Ascii, &mut out), Ok(()));
        assert_eq!(out, "e");
    }
}
