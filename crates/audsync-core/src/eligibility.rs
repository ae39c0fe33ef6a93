//! Eligibility: the configurable rule for "enough information to match", and the reasons a
//! user is rejected, in plain words.

use std::fmt;
use std::str::FromStr;

use crate::key::{KeySet, MatchKey};

/// Most alternatives a rule may expand to (its disjunctive normal form); real rules have a
/// handful, and the bound keeps a hostile `(A|B)&(C|D)&…` from exploding.
pub const MAX_RULE_TERMS: usize = 1024;

/// Longest rule text accepted.
pub const MAX_RULE_LEN: usize = 4096;

/// Deepest parenthesis nesting accepted (the parser recurses once per level).
pub const MAX_RULE_DEPTH: usize = 32;

/// The default rule (issue 2): an email, a phone or a mobile advertising id, or a first and
/// last name together with a ZIP, a city or a birth year.
const DEFAULT_RULE: &str = "EMAIL | PHONE | MADID | FN & LN & (ZIP | CT | DOBY)";

/// A rule over which keys a user has after normalization, e.g.
/// `EMAIL | PHONE | MADID | (FN & LN & (ZIP | CT | DOBY))`.
///
/// Grammar: key names (any case), `&` (or `and`), `|` (or `or`), parentheses; `&` binds tighter
/// than `|`. [`fmt::Display`] prints it back in a canonical form that parses to the same rule.
#[derive(Clone, PartialEq, Eq)]
pub struct EligibilityRule {
    expression: Expression,
    /// The rule in disjunctive normal form: satisfied when any term's keys are all present.
    terms: Vec<KeySet>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expression {
    Key(MatchKey),
    All(Vec<Expression>),
    Any(Vec<Expression>),
}

/// Why a rule does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the eligibility rule is empty")]
    Empty,
    #[error("unknown match key `{name}` at position {position} of the eligibility rule")]
    UnknownKey { name: String, position: usize },
    #[error("unexpected `{found}` at position {position} of the eligibility rule")]
    Unexpected { found: String, position: usize },
    #[error("the eligibility rule ends too early (missing a key or `)`)")]
    UnexpectedEnd,
    #[error(
        "the eligibility rule is too complex (longer than {MAX_RULE_LEN} characters, nested deeper than {MAX_RULE_DEPTH} parentheses, or more than {MAX_RULE_TERMS} alternatives)"
    )]
    TooComplex,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Key(MatchKey),
    And,
    Or,
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, RuleError> {
    let mut tokens = Vec::new();
    let mut characters = text.char_indices().peekable();
    while let Some((position, character)) = characters.next() {
        let token = match character {
            '&' => Token::And,
            '|' => Token::Or,
            '(' => Token::Open,
            ')' => Token::Close,
            _ if character.is_whitespace() => continue,
            _ if character.is_ascii_alphanumeric() || character == '_' => {
                let mut end = position + character.len_utf8();
                while let Some((next_position, next)) = characters.peek().copied() {
                    if next.is_ascii_alphanumeric() || next == '_' {
                        end = next_position + next.len_utf8();
                        characters.next();
                    } else {
                        break;
                    }
                }
                let word = &text[position..end];
                if word.eq_ignore_ascii_case("and") {
                    Token::And
                } else if word.eq_ignore_ascii_case("or") {
                    Token::Or
                } else {
                    Token::Key(MatchKey::parse(word).ok_or_else(|| RuleError::UnknownKey {
                        name: word.to_owned(),
                        position,
                    })?)
                }
            }
            _ => {
                return Err(RuleError::Unexpected {
                    found: character.to_string(),
                    position,
                });
            }
        };
        tokens.push((token, position));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(token, _)| token)
    }

    fn unexpected(&self) -> RuleError {
        match self.tokens.get(self.next) {
            Some((token, position)) => RuleError::Unexpected {
                found: match token {
                    Token::Key(key) => key.as_str().to_owned(),
                    Token::And => "&".to_owned(),
                    Token::Or => "|".to_owned(),
                    Token::Open => "(".to_owned(),
                    Token::Close => ")".to_owned(),
                },
                position: *position,
            },
            None => RuleError::UnexpectedEnd,
        }
    }

    fn any(&mut self) -> Result<Expression, RuleError> {
        let mut alternatives = vec![self.all()?];
        while self.peek() == Some(&Token::Or) {
            self.next += 1;
            alternatives.push(self.all()?);
        }
        Ok(flatten(alternatives, true))
    }

    fn all(&mut self) -> Result<Expression, RuleError> {
        let mut parts = vec![self.atom()?];
        while self.peek() == Some(&Token::And) {
            self.next += 1;
            parts.push(self.atom()?);
        }
        Ok(flatten(parts, false))
    }

    fn atom(&mut self) -> Result<Expression, RuleError> {
        match self.peek().cloned() {
            Some(Token::Key(key)) => {
                self.next += 1;
                Ok(Expression::Key(key))
            }
            Some(Token::Open) => {
                self.next += 1;
                self.depth += 1;
                if self.depth > MAX_RULE_DEPTH {
                    return Err(RuleError::TooComplex);
                }
                let inner = self.any()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    return Err(self.unexpected());
                }
                self.next += 1;
                Ok(inner)
            }
            _ => Err(self.unexpected()),
        }
    }
}

/// Builds `Any`/`All` of `parts`, merging children of the same kind (`A | (B | C)` is
/// `A | B | C`) and unwrapping a single part.
fn flatten(parts: Vec<Expression>, any: bool) -> Expression {
    let mut merged = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Expression::Any(children) if any => merged.extend(children),
            Expression::All(children) if !any => merged.extend(children),
            other => merged.push(other),
        }
    }
    if merged.len() == 1 {
        merged.pop().unwrap_or(Expression::Any(Vec::new()))
    } else if any {
        Expression::Any(merged)
    } else {
        Expression::All(merged)
    }
}

fn terms_of(expression: &Expression, max_terms: usize) -> Result<Vec<KeySet>, RuleError> {
    let terms = match expression {
        Expression::Key(key) => vec![KeySet::EMPTY.with(*key)],
        Expression::Any(children) => {
            let mut terms = Vec::new();
            for child in children {
                terms.extend(terms_of(child, max_terms)?);
                if terms.len() > max_terms {
                    return Err(RuleError::TooComplex);
                }
            }
            terms
        }
        Expression::All(children) => {
            let mut terms = vec![KeySet::EMPTY];
            for child in children {
                let child_terms = terms_of(child, max_terms)?;
                if terms.len() * child_terms.len() > max_terms {
                    return Err(RuleError::TooComplex);
                }
                let product: Vec<KeySet> = terms
                    .iter()
                    .flat_map(|term| {
                        child_terms
                            .iter()
                            .map(move |child| KeySet::from_iter(term.iter().chain(child.iter())))
                    })
                    .collect();
                terms = minimal_terms(&product);
            }
            terms
        }
    };
    Ok(minimal_terms(&terms))
}

/// Drops terms that contain another term (they can never decide anything) and duplicates.
fn minimal_terms(terms: &[KeySet]) -> Vec<KeySet> {
    let mut minimal: Vec<KeySet> = Vec::with_capacity(terms.len());
    for term in terms {
        let implied = terms
            .iter()
            .any(|other| other != term && term.contains_all(*other));
        if !implied && !minimal.contains(term) {
            minimal.push(*term);
        }
    }
    minimal
}

impl EligibilityRule {
    /// Parses a rule such as `EMAIL | PHONE | MADID | (FN & LN & (ZIP | CT | DOBY))`.
    pub fn parse(text: &str) -> Result<EligibilityRule, RuleError> {
        if text.len() > MAX_RULE_LEN {
            return Err(RuleError::TooComplex);
        }
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(RuleError::Empty);
        }
        let mut parser = Parser {
            tokens,
            next: 0,
            depth: 0,
        };
        let expression = parser.any()?;
        if parser.next != parser.tokens.len() {
            return Err(parser.unexpected());
        }
        let terms = terms_of(&expression, MAX_RULE_TERMS)?;
        Ok(EligibilityRule { expression, terms })
    }

    /// Whether a user with exactly these keys present is eligible.
    pub fn is_satisfied_by(&self, present: KeySet) -> bool {
        self.terms.iter().any(|term| present.contains_all(*term))
    }

    /// Every key the rule mentions.
    pub fn referenced_keys(&self) -> KeySet {
        self.terms
            .iter()
            .fold(KeySet::EMPTY, |keys, term| keys.union(*term))
    }
}

impl Default for EligibilityRule {
    /// At least one of EMAIL, PHONE, MADID, or FN and LN together with one of ZIP, CT, DOBY.
    fn default() -> EligibilityRule {
        // The default text is a constant that the tests parse.
        EligibilityRule::parse(DEFAULT_RULE).unwrap_or_else(|_| EligibilityRule {
            expression: Expression::Key(MatchKey::Email),
            terms: vec![KeySet::EMPTY.with(MatchKey::Email)],
        })
    }
}

impl FromStr for EligibilityRule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<EligibilityRule, RuleError> {
        EligibilityRule::parse(text)
    }
}

fn write_expression(
    expression: &Expression,
    inside_all: bool,
    formatter: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match expression {
        Expression::Key(key) => formatter.write_str(key.as_str()),
        Expression::All(parts) => {
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    formatter.write_str(" & ")?;
                }
                write_expression(part, true, formatter)?;
            }
            Ok(())
        }
        Expression::Any(alternatives) => {
            if inside_all {
                formatter.write_str("(")?;
            }
            for (index, alternative) in alternatives.iter().enumerate() {
                if index > 0 {
                    formatter.write_str(" | ")?;
                }
                write_expression(alternative, false, formatter)?;
            }
            if inside_all {
                formatter.write_str(")")?;
            }
            Ok(())
        }
    }
}

impl fmt::Display for EligibilityRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expression(&self.expression, false, formatter)
    }
}

impl fmt::Debug for EligibilityRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "EligibilityRule({self})")
    }
}

/// Why a user is not sent to Meta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The consent column withheld consent (false/no/0, an unknown word, or empty).
    NoConsent,
    /// The keys left after normalization do not satisfy the eligibility rule. `present` are the
    /// keys the user had (described without EXTERN_ID and LOOKALIKE_VALUE unless the rule uses
    /// them, and without FI when FN is there); `invalid` the keys provided but unreadable.
    NotEnough { present: KeySet, invalid: KeySet },
}

/// A plain-words name for a key, used when describing invalid values.
fn plain_name(key: MatchKey) -> &'static str {
    match key {
        MatchKey::ExternId => "extern id",
        MatchKey::Email => "email",
        MatchKey::Phone => "phone",
        MatchKey::Gen => "gender",
        MatchKey::Doby => "birth year",
        MatchKey::Dobm => "birth month",
        MatchKey::Dobd => "birth day",
        MatchKey::Ln => "last name",
        MatchKey::Fn => "first name",
        MatchKey::Fi => "first initial",
        MatchKey::Ct => "city",
        MatchKey::St => "state",
        MatchKey::Zip => "zip",
        MatchKey::Country => "country",
        MatchKey::Madid => "madid",
        MatchKey::LookalikeValue => "lookalike value",
    }
}

/// `A`, `A and B`, `A, B and C`.
fn write_list(
    names: impl Iterator<Item = &'static str>,
    formatter: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let names: Vec<&str> = names.collect();
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            formatter.write_str(if index + 1 == names.len() {
                " and "
            } else {
                ", "
            })?;
        }
        formatter.write_str(name)?;
    }
    Ok(())
}

impl fmt::Display for RejectReason {
    /// `no consent`, `no usable key`, `email invalid and nothing else`, `only ZIP`,
    /// `only ZIP and COUNTRY`, `only ZIP and COUNTRY (email invalid)`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::NoConsent => formatter.write_str("no consent"),
            RejectReason::NotEnough { present, invalid } => {
                match (present.is_empty(), invalid.is_empty()) {
                    (true, true) => formatter.write_str("no usable key"),
                    (true, false) => {
                        write_list(invalid.iter().map(plain_name), formatter)?;
                        formatter.write_str(" invalid and nothing else")
                    }
                    (false, _) => {
                        formatter.write_str("only ")?;
                        write_list(present.iter().map(MatchKey::as_str), formatter)?;
                        if !invalid.is_empty() {
                            formatter.write_str(" (")?;
                            write_list(invalid.iter().map(plain_name), formatter)?;
                            formatter.write_str(" invalid)")?;
                        }
                        Ok(())
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MatchKey::*;

    #[test]
    fn default_rule_table() {
        let rule = EligibilityRule::default();
        let table: &[(&[MatchKey], bool)] = &[
            (&[Email], true),
            (&[Phone], true),
            (&[Madid], true),
            (&[Fn, Ln, Zip], true),
            (&[Fn, Ln, Ct], true),
            (&[Fn, Ln, Doby], true),
            (&[Fn, Ln, Fi, Doby, Dobm, Dobd, Gen], true),
            (&[Fn, Ln], false),
            (&[Fn, Zip, Ct, Doby], false),
            (&[Ln, Zip], false),
            (&[Zip], false),
            (&[Zip, Country], false),
            (&[ExternId], false),
            (&[Gen, Doby, Dobm, Dobd, St, Country, LookalikeValue], false),
            (&[], false),
        ];
        for (keys, expected) in table {
            assert_eq!(
                rule.is_satisfied_by(KeySet::of(keys)),
                *expected,
                "{keys:?}"
            );
        }
        assert_eq!(
            rule.to_string(),
            "EMAIL | PHONE | MADID | FN & LN & (ZIP | CT | DOBY)"
        );
    }

    #[test]
    fn parse_display_round_trip() {
        let table = [
            (
                "EMAIL | PHONE | MADID | (FN & LN & (ZIP | CT | DOBY))",
                "EMAIL | PHONE | MADID | FN & LN & (ZIP | CT | DOBY)",
            ),
            ("email or phone", "EMAIL | PHONE"),
            ("(EMAIL)", "EMAIL"),
            (
                "EMAIL & (PHONE | (MADID | EXTERN_ID))",
                "EMAIL & (PHONE | MADID | EXTERN_ID)",
            ),
            ("fn and ln and zip", "FN & LN & ZIP"),
            ("(A_B_NOT_A_KEY)", ""),
        ];
        for (text, canonical) in table {
            match EligibilityRule::parse(text) {
                Ok(rule) => {
                    assert_eq!(rule.to_string(), canonical, "{text:?}");
                    let again = EligibilityRule::parse(&rule.to_string()).unwrap();
                    assert_eq!(again, rule);
                }
                Err(error) => assert!(canonical.is_empty(), "{text:?}: {error}"),
            }
        }
    }

    #[test]
    fn parse_errors_say_where() {
        assert_eq!(EligibilityRule::parse("  "), Err(RuleError::Empty));
        assert_eq!(
            EligibilityRule::parse("EMAIL | PHONES"),
            Err(RuleError::UnknownKey {
                name: "PHONES".to_owned(),
                position: 8
            })
        );
        assert_eq!(
            EligibilityRule::parse("EMAIL |"),
            Err(RuleError::UnexpectedEnd)
        );
        assert_eq!(
            EligibilityRule::parse("(EMAIL"),
            Err(RuleError::UnexpectedEnd)
        );
        assert_eq!(
            EligibilityRule::parse("EMAIL PHONE"),
            Err(RuleError::Unexpected {
                found: "PHONE".to_owned(),
                position: 6
            })
        );
        assert_eq!(
            EligibilityRule::parse("EMAIL ; PHONE"),
            Err(RuleError::Unexpected {
                found: ";".to_owned(),
                position: 6
            })
        );
        // Repeated alternatives stay small once redundant terms are dropped.
        let repeated = (0..12)
            .map(|_| "(EMAIL | PHONE)")
            .collect::<Vec<_>>()
            .join(" & ");
        let repeated = EligibilityRule::parse(&repeated).unwrap();
        assert!(repeated.is_satisfied_by(KeySet::of(&[Phone])));
        assert!(!repeated.is_satisfied_by(KeySet::of(&[Zip])));
        // The expansion bound: 2^5 alternatives against a bound of 16.
        let mut parser = Parser {
            tokens: tokenize("(EMAIL|PHONE)&(FN|LN)&(ZIP|CT)&(ST|COUNTRY)&(MADID|GEN)").unwrap(),
            next: 0,
            depth: 0,
        };
        let expression = parser.any().unwrap();
        assert_eq!(terms_of(&expression, 16), Err(RuleError::TooComplex));
        assert_eq!(
            terms_of(&expression, MAX_RULE_TERMS).map(|terms| terms.len()),
            Ok(32)
        );
        assert_eq!(
            EligibilityRule::parse(&"EMAIL | ".repeat(MAX_RULE_LEN)),
            Err(RuleError::TooComplex)
        );
        let deep = format!("{}EMAIL{}", "(".repeat(2000), ")".repeat(2000));
        assert_eq!(EligibilityRule::parse(&deep), Err(RuleError::TooComplex));
        let nested = format!(
            "{}EMAIL{}",
            "(".repeat(MAX_RULE_DEPTH),
            ")".repeat(MAX_RULE_DEPTH)
        );
        assert_eq!(
            EligibilityRule::parse(&nested).map(|rule| rule.to_string()),
            Ok("EMAIL".to_owned())
        );
    }

    #[test]
    fn reject_reasons_in_plain_words() {
        let table: &[(RejectReason, &str)] = &[
            (RejectReason::NoConsent, "no consent"),
            (
                RejectReason::NotEnough {
                    present: KeySet::EMPTY,
                    invalid: KeySet::EMPTY,
                },
                "no usable key",
            ),
            (
                RejectReason::NotEnough {
                    present: KeySet::EMPTY,
                    invalid: KeySet::of(&[Email]),
                },
                "email invalid and nothing else",
            ),
            (
                RejectReason::NotEnough {
                    present: KeySet::EMPTY,
                    invalid: KeySet::of(&[Email, Phone]),
                },
                "email and phone invalid and nothing else",
            ),
            (
                RejectReason::NotEnough {
                    present: KeySet::of(&[Zip]),
                    invalid: KeySet::EMPTY,
                },
                "only ZIP",
            ),
            (
                RejectReason::NotEnough {
                    present: KeySet::of(&[Country, Zip]),
                    invalid: KeySet::EMPTY,
                },
                "only ZIP and COUNTRY",
            ),
            (
                RejectReason::NotEnough {
                    present: KeySet::of(&[Fn, Ln, St]),
                    invalid: KeySet::of(&[Email]),
                },
                "only LN, FN and ST (email invalid)",
            ),
        ];
        for (reason, expected) in table {
            assert_eq!(reason.to_string(), *expected);
        }
    }
}
