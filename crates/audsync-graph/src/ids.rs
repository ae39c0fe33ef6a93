//! Ad account and audience identifiers: parsed once, rendered the way each Graph path wants them.

use std::fmt;
use std::str::FromStr;

/// Graph object ids are decimal numbers that fit in 64 bits: at most 20 digits.
const MAX_ID_DIGITS: usize = 20;

/// An id that could not be parsed. The input itself is not repeated: a user who pastes a
/// token into an id field must not see it echoed into logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the {kind} id is empty")]
    Empty { kind: &'static str },
    #[error("the {kind} id must be digits only{hint}")]
    NotDigits {
        kind: &'static str,
        hint: &'static str,
    },
    #[error("the {kind} id is longer than {MAX_ID_DIGITS} digits")]
    TooLong { kind: &'static str },
}

/// An ad account id. Parses `act_123` and `123`; renders `act_123` in paths and `123` where
/// Graph uses the bare number (usage headers, `account_id` fields).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdAccountId {
    numeric: String,
}

impl AdAccountId {
    pub fn parse(input: &str) -> Result<AdAccountId, IdError> {
        let trimmed = input.trim();
        let digits = trimmed.strip_prefix("act_").unwrap_or(trimmed);
        let numeric = parse_digits(digits, "ad account", " (optionally prefixed with act_)")?;
        Ok(AdAccountId { numeric })
    }

    /// The path segment Graph expects: `act_123`.
    pub fn as_path(&self) -> String {
        format!("act_{}", self.numeric)
    }

    /// The bare number: `123`.
    pub fn numeric(&self) -> &str {
        &self.numeric
    }
}

impl fmt::Display for AdAccountId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "act_{}", self.numeric)
    }
}

impl FromStr for AdAccountId {
    type Err = IdError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        AdAccountId::parse(input)
    }
}

/// A custom audience id (digits only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AudienceId(String);

impl AudienceId {
    pub fn parse(input: &str) -> Result<AudienceId, IdError> {
        parse_digits(input.trim(), "audience", "").map(AudienceId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AudienceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl FromStr for AudienceId {
    type Err = IdError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        AudienceId::parse(input)
    }
}

fn parse_digits(digits: &str, kind: &'static str, hint: &'static str) -> Result<String, IdError> {
    if digits.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(IdError::NotDigits { kind, hint });
    }
    if digits.len() > MAX_ID_DIGITS {
        return Err(IdError::TooLong { kind });
    }
    Ok(digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_account_ids_parse_with_or_without_prefix() {
        let table: &[(&str, Result<&str, IdError>)] = &[
            ("act_542676646349772", Ok("542676646349772")),
            ("542676646349772", Ok("542676646349772")),
            ("  act_1 ", Ok("1")),
            ("", Err(IdError::Empty { kind: "ad account" })),
            ("act_", Err(IdError::Empty { kind: "ad account" })),
            (
                "act_12a",
                Err(IdError::NotDigits {
                    kind: "ad account",
                    hint: " (optionally prefixed with act_)",
                }),
            ),
            (
                "act_act_1",
                Err(IdError::NotDigits {
                    kind: "ad account",
                    hint: " (optionally prefixed with act_)",
                }),
            ),
            (
                "-5",
                Err(IdError::NotDigits {
                    kind: "ad account",
                    hint: " (optionally prefixed with act_)",
                }),
            ),
            (
                "123456789012345678901",
                Err(IdError::TooLong { kind: "ad account" }),
            ),
        ];
        for (input, expected) in table {
            let parsed = AdAccountId::parse(input);
            match expected {
                Ok(numeric) => {
                    let id = parsed.unwrap_or_else(|error| panic!("{input:?}: {error}"));
                    assert_eq!(id.numeric(), *numeric, "{input:?}");
                    assert_eq!(id.as_path(), format!("act_{numeric}"));
                    assert_eq!(id.to_string(), format!("act_{numeric}"));
                }
                Err(error) => assert_eq!(parsed.as_ref(), Err(error), "{input:?}"),
            }
        }
    }

    #[test]
    fn audience_ids_are_digits_only() {
        assert_eq!(
            AudienceId::parse("23849182047670582").unwrap().as_str(),
            "23849182047670582"
        );
        assert!(matches!(
            AudienceId::parse("act_1"),
            Err(IdError::NotDigits { .. })
        ));
        assert!(matches!(AudienceId::parse(" "), Err(IdError::Empty { .. })));
    }

    #[test]
    fn id_errors_do_not_echo_the_input() {
        let error = AudienceId::parse("EAAsecrettoken").unwrap_err();
        assert!(!error.to_string().contains("EAAsecret"));
    }
}
