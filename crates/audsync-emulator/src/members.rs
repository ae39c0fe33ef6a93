//! The membership model (contract §12 rule): members identified by any of their key values,
//! add upserts and merges, remove deletes every member matching any provided key.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Keys that identify a person on their own: a row matching an existing member on any of these
/// is the same member.
pub(crate) const IDENTIFYING_KEYS: &[&str] =
    &["EMAIL", "PHONE", "MADID", "EXTERN_ID", "APPUID", "PAGEUID"];

/// Keys that carry a value, not an identity: never used for matching.
pub(crate) const VALUE_KEYS: &[&str] = &[
    "LOOKALIKE_VALUE",
    "DATA_PROCESSING_OPTIONS",
    "DATA_PROCESSING_OPTIONS_COUNTRY",
    "DATA_PROCESSING_OPTIONS_STATE",
];

/// One stored member: key name → value (hashes, external ids, advertising ids; never plaintext
/// PII, since hashed keys are validated as SHA-256 hex before they get here).
pub(crate) type Member = BTreeMap<String, String>;

/// The members of an audience (or of a staged replace), indexed by identity.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MemberSet {
    members: BTreeMap<u64, Member>,
    index: HashMap<String, u64>,
    next_member_id: u64,
}

/// The identity tokens of a member: `KEY:value` for each identifying key with a value; a member
/// with none (e.g. only FN, LN, ZIP) is identified by the whole set of its attribute values.
pub(crate) fn identity_tokens(member: &Member) -> Vec<String> {
    let identifying: Vec<String> = member
        .iter()
        .filter(|(key, value)| IDENTIFYING_KEYS.contains(&key.as_str()) && !value.is_empty())
        .map(|(key, value)| format!("{key}:{value}"))
        .collect();
    if !identifying.is_empty() {
        return identifying;
    }
    let attributes: Vec<String> = member
        .iter()
        .filter(|(key, value)| !VALUE_KEYS.contains(&key.as_str()) && !value.is_empty())
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if attributes.is_empty() {
        Vec::new()
    } else {
        vec![format!("ATTRIBUTES:{}", attributes.join("|"))]
    }
}

impl MemberSet {
    /// Rebuilds a set from stored members (state file).
    pub fn from_members(members: impl IntoIterator<Item = Member>) -> Self {
        let mut set = MemberSet::default();
        for member in members {
            set.upsert(member);
        }
        set
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The stored members, oldest first.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Adds a row: a new member, or merged into every member it matches by any identity token
    /// (they become one member; the row's values win).
    pub fn upsert(&mut self, row: Member) {
        let tokens = identity_tokens(&row);
        if tokens.is_empty() {
            return;
        }
        let matches: BTreeSet<u64> = tokens
            .iter()
            .filter_map(|token| self.index.get(token).copied())
            .collect();
        let mut merged = Member::new();
        for member_id in &matches {
            if let Some(old) = self.members.remove(member_id) {
                for token in identity_tokens(&old) {
                    self.index.remove(&token);
                }
                merged.extend(old);
            }
        }
        merged.extend(row.into_iter().filter(|(_, value)| !value.is_empty()));
        let member_id = match matches.first() {
            Some(first) => *first,
            None => {
                self.next_member_id += 1;
                self.next_member_id
            }
        };
        for token in identity_tokens(&merged) {
            self.index.insert(token, member_id);
        }
        self.members.insert(member_id, merged);
    }

    /// The ids of the members any of the rows matches.
    pub fn matching(&self, rows: &[Member]) -> BTreeSet<u64> {
        rows.iter()
            .flat_map(identity_tokens)
            .filter_map(|token| self.index.get(&token).copied())
            .collect()
    }

    /// Removes the members with these ids.
    pub fn remove_ids(&mut self, member_ids: &BTreeSet<u64>) {
        for member_id in member_ids {
            if let Some(old) = self.members.remove(member_id) {
                for token in identity_tokens(&old) {
                    self.index.remove(&token);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pairs: &[(&str, &str)]) -> Member {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_row_matching_by_any_key_updates_the_member() {
        let mut set = MemberSet::default();
        set.upsert(member(&[("EMAIL", "e1"), ("PHONE", "")]));
        set.upsert(member(&[("EMAIL", "e1"), ("PHONE", "p1")]));
        set.upsert(member(&[("PHONE", "p1"), ("EXTERN_ID", "x1")]));
        assert_eq!(set.len(), 1);
        let stored = set.members().next().expect("one");
        assert_eq!(
            stored,
            &member(&[("EMAIL", "e1"), ("EXTERN_ID", "x1"), ("PHONE", "p1")])
        );
    }

    #[test]
    fn a_row_linking_two_members_merges_them() {
        let mut set = MemberSet::default();
        set.upsert(member(&[("EMAIL", "e1")]));
        set.upsert(member(&[("PHONE", "p2")]));
        assert_eq!(set.len(), 2);
        set.upsert(member(&[("EMAIL", "e1"), ("PHONE", "p2")]));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_changed_value_drops_the_old_identity() {
        let mut set = MemberSet::default();
        set.upsert(member(&[("EXTERN_ID", "x1"), ("EMAIL", "old")]));
        set.upsert(member(&[("EXTERN_ID", "x1"), ("EMAIL", "new")]));
        assert!(set.matching(&[member(&[("EMAIL", "old")])]).is_empty());
        assert_eq!(set.matching(&[member(&[("EMAIL", "new")])]).len(), 1);
    }

    #[test]
    fn removal_matches_by_any_key_and_attributes_alone_match_as_a_whole() {
        let mut set = MemberSet::default();
        set.upsert(member(&[("EMAIL", "e1"), ("FN", "f")]));
        set.upsert(member(&[("FN", "f"), ("LN", "l")]));
        set.upsert(member(&[("FN", "f"), ("LN", "other")]));
        assert_eq!(set.len(), 3);
        let hits = set.matching(&[
            member(&[("EMAIL", "e1")]),
            member(&[("FN", "f"), ("LN", "l")]),
        ]);
        assert_eq!(hits.len(), 2);
        set.remove_ids(&hits);
        assert_eq!(set.len(), 1);
        assert!(
            set.matching(&[member(&[("FN", "f")])]).is_empty(),
            "FN alone identifies nobody"
        );
    }

    #[test]
    fn value_keys_never_identify() {
        let mut set = MemberSet::default();
        set.upsert(member(&[("LOOKALIKE_VALUE", "10")]));
        assert_eq!(set.len(), 0);
        assert!(identity_tokens(&member(&[("EMAIL", "")])).is_empty());
    }
}
