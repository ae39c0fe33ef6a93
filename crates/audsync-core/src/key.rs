//! `MatchKey`: Meta's customer-file match keys, in schema order, and `KeySet`, a set of them.

use std::fmt;

/// One column of Meta's multi-key customer-file schema (contract §3, §4.1).
///
/// The discriminants are the positions in [`MatchKey::ALL`], which is the order audsync writes
/// columns in (`user_id,EXTERN_ID,EMAIL,…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKey {
    ExternId = 0,
    Email,
    Phone,
    Gen,
    Doby,
    Dobm,
    Dobd,
    Ln,
    Fn,
    Fi,
    Ct,
    St,
    Zip,
    Country,
    Madid,
    LookalikeValue,
}

/// Number of match keys in the schema.
pub const N_KEYS: usize = 16;

impl MatchKey {
    /// Every key, in Meta's schema order (contract §3).
    pub const ALL: [MatchKey; N_KEYS] = [
        MatchKey::ExternId,
        MatchKey::Email,
        MatchKey::Phone,
        MatchKey::Gen,
        MatchKey::Doby,
        MatchKey::Dobm,
        MatchKey::Dobd,
        MatchKey::Ln,
        MatchKey::Fn,
        MatchKey::Fi,
        MatchKey::Ct,
        MatchKey::St,
        MatchKey::Zip,
        MatchKey::Country,
        MatchKey::Madid,
        MatchKey::LookalikeValue,
    ];

    /// The name Meta's schema uses (`"EXTERN_ID"`, `"EMAIL"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::ExternId => "EXTERN_ID",
            MatchKey::Email => "EMAIL",
            MatchKey::Phone => "PHONE",
            MatchKey::Gen => "GEN",
            MatchKey::Doby => "DOBY",
            MatchKey::Dobm => "DOBM",
            MatchKey::Dobd => "DOBD",
            MatchKey::Ln => "LN",
            MatchKey::Fn => "FN",
            MatchKey::Fi => "FI",
            MatchKey::Ct => "CT",
            MatchKey::St => "ST",
            MatchKey::Zip => "ZIP",
            MatchKey::Country => "COUNTRY",
            MatchKey::Madid => "MADID",
            MatchKey::LookalikeValue => "LOOKALIKE_VALUE",
        }
    }

    /// Parses a schema name, ignoring ASCII case and surrounding whitespace
    /// (`"EXTERN_ID"`, `"extern_id"`, `" Email "`).
    pub fn parse(name: &str) -> Option<MatchKey> {
        let name = name.trim();
        MatchKey::ALL
            .into_iter()
            .find(|key| key.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether Meta wants this key SHA-256 hashed: every key except EXTERN_ID, MADID and
    /// LOOKALIKE_VALUE (contract §4.1).
    pub fn is_hashed(self) -> bool {
        !matches!(
            self,
            MatchKey::ExternId | MatchKey::Madid | MatchKey::LookalikeValue
        )
    }

    /// Position in [`MatchKey::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The key at position `index` of [`MatchKey::ALL`].
    pub fn from_index(index: usize) -> Option<MatchKey> {
        MatchKey::ALL.get(index).copied()
    }
}

impl fmt::Display for MatchKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A set of match keys (a 16-bit mask), iterated in schema order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeySet(u16);

impl KeySet {
    /// The empty set.
    pub const EMPTY: KeySet = KeySet(0);

    /// Builds a set from keys.
    pub fn of(keys: &[MatchKey]) -> KeySet {
        keys.iter().fold(KeySet::EMPTY, |set, key| set.with(*key))
    }

    /// This set plus `key`.
    #[must_use]
    pub fn with(self, key: MatchKey) -> KeySet {
        KeySet(self.0 | (1 << key.index()))
    }

    /// Adds `key`.
    pub fn insert(&mut self, key: MatchKey) {
        self.0 |= 1 << key.index();
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: MatchKey) {
        self.0 &= !(1 << key.index());
    }

    /// Whether `key` is in the set.
    pub fn contains(self, key: MatchKey) -> bool {
        self.0 & (1 << key.index()) != 0
    }

    /// Whether every key of `other` is in this set.
    pub fn contains_all(self, other: KeySet) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of keys in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The raw mask (bit `i` = `MatchKey::ALL[i]`).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The set of a raw mask (bit `i` = `MatchKey::ALL[i]`).
    pub(crate) const fn from_bits(bits: u16) -> KeySet {
        KeySet(bits)
    }

    /// Every key of this set or of `other`.
    #[must_use]
    pub(crate) fn union(self, other: KeySet) -> KeySet {
        KeySet(self.0 | other.0)
    }

    /// The keys, in schema order.
    pub fn iter(self) -> impl Iterator<Item = MatchKey> {
        MatchKey::ALL
            .into_iter()
            .filter(move |key| self.contains(*key))
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<MatchKey> for KeySet {
    fn from_iter<I: IntoIterator<Item = MatchKey>>(keys: I) -> KeySet {
        let mut set = KeySet::EMPTY;
        for key in keys {
            set.insert(key);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_schema_order_and_indexes_match() {
        let names: Vec<&str> = MatchKey::ALL.iter().map(|key| key.as_str()).collect();
        assert_eq!(
            names,
            [
                "EXTERN_ID",
                "EMAIL",
                "PHONE",
                "GEN",
                "DOBY",
                "DOBM",
                "DOBD",
                "LN",
                "FN",
                "FI",
                "CT",
                "ST",
                "ZIP",
                "COUNTRY",
                "MADID",
                "LOOKALIKE_VALUE"
            ]
        );
        for (index, key) in MatchKey::ALL.into_iter().enumerate() {
            assert_eq!(key.index(), index);
            assert_eq!(MatchKey::from_index(index), Some(key));
        }
    }

    #[test]
    fn parse_is_case_insensitive_and_round_trips() {
        for key in MatchKey::ALL {
            assert_eq!(MatchKey::parse(key.as_str()), Some(key));
            assert_eq!(MatchKey::parse(&key.as_str().to_lowercase()), Some(key));
        }
        assert_eq!(MatchKey::parse("extern_id"), Some(MatchKey::ExternId));
        assert_eq!(MatchKey::parse(" Email "), Some(MatchKey::Email));
        assert_eq!(MatchKey::parse("DOB"), None);
        assert_eq!(MatchKey::parse(""), None);
    }

    #[test]
    fn only_extern_id_madid_and_lookalike_value_are_unhashed() {
        let unhashed: Vec<MatchKey> = MatchKey::ALL
            .into_iter()
            .filter(|key| !key.is_hashed())
            .collect();
        assert_eq!(
            unhashed,
            [
                MatchKey::ExternId,
                MatchKey::Madid,
                MatchKey::LookalikeValue
            ]
        );
    }

    #[test]
    fn key_set_iterates_in_schema_order() {
        let set = KeySet::of(&[MatchKey::Zip, MatchKey::Email, MatchKey::Country]);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [MatchKey::Email, MatchKey::Zip, MatchKey::Country]
        );
        assert_eq!(set.len(), 3);
        assert!(set.contains_all(KeySet::of(&[MatchKey::Zip])));
        assert!(!set.contains(MatchKey::Phone));
    }
}
