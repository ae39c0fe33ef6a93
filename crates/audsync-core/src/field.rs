//! `Field`: what one source column feeds (a match key, the `DOB` pseudo-key, or consent), and
//! the automatic mapping of common column names.

use std::fmt;

use crate::key::MatchKey;

/// What one source column feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// One match key.
    Key(MatchKey),
    /// A full birth date (`1956-08-02`, `02/08/1956`, `March 2, 2005`, …) that fills DOBY, DOBM
    /// and DOBD. Meta has no full-date key for audiences (contract §4.1).
    DateOfBirth,
    /// A consent flag: false/no/0 (or an empty cell) excludes the user with `no consent`.
    Consent,
}

/// Column names (lowercase, with `_` where the original had `_`, `-`, `.` or a space) that must
/// be looked up before separators are dropped, because dropping them would collide with another
/// name (`birth_day` is the day of birth, `birthday` a full date).
const SEPARATED_COLUMN_NAMES: &[(&str, Field)] = &[
    ("birth_day", Field::Key(MatchKey::Dobd)),
    ("day_of_birth", Field::Key(MatchKey::Dobd)),
    ("dob_day", Field::Key(MatchKey::Dobd)),
];

/// Column names with case, spaces, dashes, dots and underscores removed.
const COMPACT_COLUMN_NAMES: &[(&str, Field)] = &[
    // EXTERN_ID
    ("externid", Field::Key(MatchKey::ExternId)),
    ("externalid", Field::Key(MatchKey::ExternId)),
    ("userid", Field::Key(MatchKey::ExternId)),
    ("id", Field::Key(MatchKey::ExternId)),
    ("customerid", Field::Key(MatchKey::ExternId)),
    ("clientid", Field::Key(MatchKey::ExternId)),
    ("contactid", Field::Key(MatchKey::ExternId)),
    ("memberid", Field::Key(MatchKey::ExternId)),
    // EMAIL
    ("email", Field::Key(MatchKey::Email)),
    ("emailaddress", Field::Key(MatchKey::Email)),
    ("mail", Field::Key(MatchKey::Email)),
    ("emails", Field::Key(MatchKey::Email)),
    ("useremail", Field::Key(MatchKey::Email)),
    ("contactemail", Field::Key(MatchKey::Email)),
    // PHONE
    ("phone", Field::Key(MatchKey::Phone)),
    ("mobile", Field::Key(MatchKey::Phone)),
    ("phonenumber", Field::Key(MatchKey::Phone)),
    ("mobilephone", Field::Key(MatchKey::Phone)),
    ("mobilenumber", Field::Key(MatchKey::Phone)),
    ("cell", Field::Key(MatchKey::Phone)),
    ("cellphone", Field::Key(MatchKey::Phone)),
    ("telephone", Field::Key(MatchKey::Phone)),
    ("tel", Field::Key(MatchKey::Phone)),
    ("phoneno", Field::Key(MatchKey::Phone)),
    ("msisdn", Field::Key(MatchKey::Phone)),
    // GEN
    ("gen", Field::Key(MatchKey::Gen)),
    ("gender", Field::Key(MatchKey::Gen)),
    ("sex", Field::Key(MatchKey::Gen)),
    // DOBY / DOBM / DOBD
    ("doby", Field::Key(MatchKey::Doby)),
    ("birthyear", Field::Key(MatchKey::Doby)),
    ("dobyear", Field::Key(MatchKey::Doby)),
    ("yearofbirth", Field::Key(MatchKey::Doby)),
    ("dobm", Field::Key(MatchKey::Dobm)),
    ("birthmonth", Field::Key(MatchKey::Dobm)),
    ("dobmonth", Field::Key(MatchKey::Dobm)),
    ("monthofbirth", Field::Key(MatchKey::Dobm)),
    ("dobd", Field::Key(MatchKey::Dobd)),
    ("dobday", Field::Key(MatchKey::Dobd)),
    ("dayofbirth", Field::Key(MatchKey::Dobd)),
    // DOB (full date)
    ("dob", Field::DateOfBirth),
    ("birthdate", Field::DateOfBirth),
    ("birthday", Field::DateOfBirth),
    ("dateofbirth", Field::DateOfBirth),
    ("bday", Field::DateOfBirth),
    // LN / FN / FI
    ("ln", Field::Key(MatchKey::Ln)),
    ("lastname", Field::Key(MatchKey::Ln)),
    ("surname", Field::Key(MatchKey::Ln)),
    ("familyname", Field::Key(MatchKey::Ln)),
    ("fn", Field::Key(MatchKey::Fn)),
    ("firstname", Field::Key(MatchKey::Fn)),
    ("givenname", Field::Key(MatchKey::Fn)),
    ("forename", Field::Key(MatchKey::Fn)),
    ("fi", Field::Key(MatchKey::Fi)),
    ("firstinitial", Field::Key(MatchKey::Fi)),
    // CT / ST / ZIP / COUNTRY
    ("ct", Field::Key(MatchKey::Ct)),
    ("city", Field::Key(MatchKey::Ct)),
    ("town", Field::Key(MatchKey::Ct)),
    ("st", Field::Key(MatchKey::St)),
    ("state", Field::Key(MatchKey::St)),
    ("region", Field::Key(MatchKey::St)),
    ("province", Field::Key(MatchKey::St)),
    ("stateprovince", Field::Key(MatchKey::St)),
    ("statecode", Field::Key(MatchKey::St)),
    ("zip", Field::Key(MatchKey::Zip)),
    ("zipcode", Field::Key(MatchKey::Zip)),
    ("postalcode", Field::Key(MatchKey::Zip)),
    ("postcode", Field::Key(MatchKey::Zip)),
    ("postal", Field::Key(MatchKey::Zip)),
    ("plz", Field::Key(MatchKey::Zip)),
    ("country", Field::Key(MatchKey::Country)),
    ("countrycode", Field::Key(MatchKey::Country)),
    ("countryname", Field::Key(MatchKey::Country)),
    // MADID
    ("madid", Field::Key(MatchKey::Madid)),
    ("idfa", Field::Key(MatchKey::Madid)),
    ("gaid", Field::Key(MatchKey::Madid)),
    ("aaid", Field::Key(MatchKey::Madid)),
    ("adid", Field::Key(MatchKey::Madid)),
    ("mobileadvertiserid", Field::Key(MatchKey::Madid)),
    ("mobileadid", Field::Key(MatchKey::Madid)),
    ("advertisingid", Field::Key(MatchKey::Madid)),
    // LOOKALIKE_VALUE
    ("lookalikevalue", Field::Key(MatchKey::LookalikeValue)),
    ("value", Field::Key(MatchKey::LookalikeValue)),
    ("ltv", Field::Key(MatchKey::LookalikeValue)),
    ("customervalue", Field::Key(MatchKey::LookalikeValue)),
    ("lifetimevalue", Field::Key(MatchKey::LookalikeValue)),
    // Consent
    ("consent", Field::Consent),
    ("optin", Field::Consent),
    ("adsconsent", Field::Consent),
    ("marketingconsent", Field::Consent),
    ("adconsent", Field::Consent),
];

/// Longest column name worth looking at; longer names are never auto-mapped.
const MAX_COLUMN_NAME_LEN: usize = 64;

impl Field {
    /// Parses a target name as used in `--map COLUMN=KEY`: any [`MatchKey`] name
    /// (case-insensitive), `DOB`, or `CONSENT`.
    pub fn parse(name: &str) -> Option<Field> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("DOB") {
            return Some(Field::DateOfBirth);
        }
        if name.eq_ignore_ascii_case("CONSENT") {
            return Some(Field::Consent);
        }
        MatchKey::parse(name).map(Field::Key)
    }

    /// The name [`Field::parse`] accepts (`"EMAIL"`, `"DOB"`, `"CONSENT"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Key(key) => key.as_str(),
            Field::DateOfBirth => "DOB",
            Field::Consent => "CONSENT",
        }
    }

    /// Maps a common column name to what it feeds, ignoring case, spaces, dashes, dots and
    /// underscores: `email`, `e-mail`, `Email Address`, `phone`, `mobile`, `first_name`,
    /// `surname`, `city`, `state`, `zip`, `postal_code`, `country`, `dob`, `birth_date`,
    /// `birthday`, `birth_year`, `birth_month`, `birth_day`, `gender`, `sex`, `madid`, `idfa`,
    /// `gaid`, `consent`; `user_id`, `id` and `external_id` feed EXTERN_ID. Every exact key name
    /// (`EXTERN_ID`, `LOOKALIKE_VALUE`, …) and `DOB`/`CONSENT` map too. Unknown names give `None`.
    pub fn from_column_name(name: &str) -> Option<Field> {
        let name = name.trim().trim_start_matches('\u{feff}');
        if name.len() > MAX_COLUMN_NAME_LEN {
            return None;
        }
        let mut separated = String::with_capacity(name.len());
        let mut compact = String::with_capacity(name.len());
        for character in name.chars() {
            if matches!(character, '_' | '-' | '.' | ' ') {
                if !separated.ends_with('_') {
                    separated.push('_');
                }
            } else {
                for lower in character.to_lowercase() {
                    separated.push(lower);
                    compact.push(lower);
                }
            }
        }
        let separated = separated.trim_matches('_');
        SEPARATED_COLUMN_NAMES
            .iter()
            .chain(COMPACT_COLUMN_NAMES)
            .find(|(known, _)| *known == separated)
            .or_else(|| {
                COMPACT_COLUMN_NAMES
                    .iter()
                    .find(|(known, _)| *known == compact)
            })
            .map(|(_, field)| *field)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_key_names_dob_and_consent() {
        assert_eq!(Field::parse("EMAIL"), Some(Field::Key(MatchKey::Email)));
        assert_eq!(
            Field::parse("extern_id"),
            Some(Field::Key(MatchKey::ExternId))
        );
        assert_eq!(Field::parse("DOB"), Some(Field::DateOfBirth));
        assert_eq!(Field::parse("consent"), Some(Field::Consent));
        assert_eq!(Field::parse("birthday"), None);
        for key in MatchKey::ALL {
            assert_eq!(
                Field::parse(Field::Key(key).as_str()),
                Some(Field::Key(key))
            );
        }
    }

    #[test]
    fn common_column_names_map_automatically() {
        let table: &[(&str, Option<Field>)] = &[
            ("email", Some(Field::Key(MatchKey::Email))),
            ("E-Mail", Some(Field::Key(MatchKey::Email))),
            ("Email Address", Some(Field::Key(MatchKey::Email))),
            ("email_address", Some(Field::Key(MatchKey::Email))),
            ("phone", Some(Field::Key(MatchKey::Phone))),
            ("Mobile", Some(Field::Key(MatchKey::Phone))),
            ("phone_number", Some(Field::Key(MatchKey::Phone))),
            ("first_name", Some(Field::Key(MatchKey::Fn))),
            ("FirstName", Some(Field::Key(MatchKey::Fn))),
            ("fn", Some(Field::Key(MatchKey::Fn))),
            ("last_name", Some(Field::Key(MatchKey::Ln))),
            ("lastname", Some(Field::Key(MatchKey::Ln))),
            ("surname", Some(Field::Key(MatchKey::Ln))),
            ("city", Some(Field::Key(MatchKey::Ct))),
            ("state", Some(Field::Key(MatchKey::St))),
            ("region", Some(Field::Key(MatchKey::St))),
            ("zip", Some(Field::Key(MatchKey::Zip))),
            ("zipcode", Some(Field::Key(MatchKey::Zip))),
            ("postal_code", Some(Field::Key(MatchKey::Zip))),
            ("postcode", Some(Field::Key(MatchKey::Zip))),
            ("country", Some(Field::Key(MatchKey::Country))),
            ("country_code", Some(Field::Key(MatchKey::Country))),
            ("dob", Some(Field::DateOfBirth)),
            ("birth_date", Some(Field::DateOfBirth)),
            ("birthdate", Some(Field::DateOfBirth)),
            ("birthday", Some(Field::DateOfBirth)),
            ("Date of Birth", Some(Field::DateOfBirth)),
            ("birth_year", Some(Field::Key(MatchKey::Doby))),
            ("dob_year", Some(Field::Key(MatchKey::Doby))),
            ("birth_month", Some(Field::Key(MatchKey::Dobm))),
            ("birth_day", Some(Field::Key(MatchKey::Dobd))),
            ("gender", Some(Field::Key(MatchKey::Gen))),
            ("sex", Some(Field::Key(MatchKey::Gen))),
            ("madid", Some(Field::Key(MatchKey::Madid))),
            ("idfa", Some(Field::Key(MatchKey::Madid))),
            ("gaid", Some(Field::Key(MatchKey::Madid))),
            ("mobile_advertiser_id", Some(Field::Key(MatchKey::Madid))),
            ("consent", Some(Field::Consent)),
            ("external_id", Some(Field::Key(MatchKey::ExternId))),
            ("user_id", Some(Field::Key(MatchKey::ExternId))),
            ("ID", Some(Field::Key(MatchKey::ExternId))),
            ("\u{feff}id", Some(Field::Key(MatchKey::ExternId))),
            (
                "LOOKALIKE_VALUE",
                Some(Field::Key(MatchKey::LookalikeValue)),
            ),
            ("notes", None),
            ("", None),
            ("birth", None),
        ];
        for (name, expected) in table {
            assert_eq!(Field::from_column_name(name), *expected, "column {name:?}");
        }
    }
}
