//! The membership model (contract §12 rule), read as rows: a member is one uploaded row, add
//! upserts a row of the same identity, remove deletes every member sharing a key value with a
//! removal row.
//!
//! Why rows and not people merged by shared values: the contract's rule ("a member is identified
//! by its non-empty key values; add = upsert, remove = delete any member matching any provided
//! key") reads both ways, and only rows behave like Meta. Meta matches each row's values to
//! Facebook users, so removing a row removes the people matched by *its* values, never people
//! linked to it only through other rows. Merging members that share a value chains households
//! and generic addresses into one giant member, and removing any of its rows then removed all of
//! them (a 1% churn on 10M users re-added 2.5M).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Keys that identify a person on their own: a removal row sharing a value of one of these with
/// a member removes it.
pub(crate) const IDENTIFYING_KEYS: &[&str] =
    &["EMAIL", "PHONE", "MADID", "EXTERN_ID", "APPUID", "PAGEUID"];

/// Keys that carry a value, not an identity: never part of a member's identity.
pub(crate) const VALUE_KEYS: &[&str] = &[
    "LOOKALIKE_VALUE",
    "DATA_PROCESSING_OPTIONS",
    "DATA_PROCESSING_OPTIONS_COUNTRY",
    "DATA_PROCESSING_OPTIONS_STATE",
];

/// One member as rows come in and go out (payload checks, state file, `/_emulator/`): the
/// non-empty values of one uploaded row, key name → value (hashes, external ids, advertising
/// ids; never plaintext PII, since hashed keys are validated as SHA-256 hex before they get
/// here).
pub(crate) type Member = BTreeMap<String, String>;

/// The members of an audience (or of a staged replace).
///
/// Members are never merged: two rows sharing an email are two members. A member's identity is
/// the set of its identity tokens: the value of each identifying key it has, or, for a member
/// without any (e.g. only FN, LN, ZIP), the whole set of its attribute values as one token;
/// value keys are never part of it. An added row of the same identity replaces the
/// member's values. A user whose email changed (same `EXTERN_ID`, new email) is therefore a new
/// member, and the row with the old email stays until a removal takes it out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MemberSet {
    members: BTreeMap<u64, StoredRow>,
    /// Hash of an identity token → the members holding a token of that hash: several when
    /// members share a value, or, rarely, when two tokens' hashes collide, so every lookup checks
    /// that a member really holds the token.
    index: HashMap<u64, MemberIds>,
    next_member_id: u64,
}

/// A member as stored: its non-empty values sorted by key, known key names not allocated.
/// About a third of a [`Member`]'s memory, which matters at 10M members (a map allocates a
/// whole tree node per member).
#[derive(Clone, Debug, PartialEq)]
struct StoredRow(Box<[(Cow<'static, str>, Box<str>)]>);

/// One identity token of a row.
#[derive(Clone, Copy)]
enum Token<'a> {
    /// The value of an identifying key.
    Value { key: &'a str, value: &'a str },
    /// All the attribute values of a row without identifying values.
    Attributes(&'a StoredRow),
}

/// The members holding one identity token: nearly always one, so one is kept without a heap
/// allocation.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::box_collection,
    reason = "a boxed set keeps the enum at 16 bytes (24 with a Vec) in every index entry"
)]
enum MemberIds {
    One(u64),
    Many(Box<BTreeSet<u64>>),
}

fn is_identifying(key: &str) -> bool {
    IDENTIFYING_KEYS.contains(&key)
}

fn is_attribute(key: &str) -> bool {
    !IDENTIFYING_KEYS.contains(&key) && !VALUE_KEYS.contains(&key)
}

impl StoredRow {
    /// The row's non-empty values; key names the emulator knows are borrowed, not allocated.
    fn from_member(member: Member) -> StoredRow {
        let known_key = |key: &str| {
            IDENTIFYING_KEYS
                .iter()
                .chain(VALUE_KEYS)
                .chain(crate::payload::MULTI_KEYS)
                .find(|known| **known == key)
                .copied()
        };
        StoredRow(
            member
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(key, value)| {
                    let key = known_key(&key).map_or(Cow::Owned(key), Cow::Borrowed);
                    (key, value.into_boxed_str())
                })
                .collect(),
        )
    }

    fn to_member(&self) -> Member {
        self.pairs()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }

    /// The values by key, in key order.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
    }

    fn identifying(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs().filter(|(key, _)| is_identifying(key))
    }

    fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs().filter(|(key, _)| is_attribute(key))
    }

    /// The identity tokens: one per identifying value, or one for all the attribute values of a
    /// row without any; none for a row of value keys only.
    fn tokens(&self) -> Vec<Token<'_>> {
        let tokens: Vec<Token<'_>> = self
            .identifying()
            .map(|(key, value)| Token::Value { key, value })
            .collect();
        if tokens.is_empty() && self.attributes().next().is_some() {
            return vec![Token::Attributes(self)];
        }
        tokens
    }

    /// Whether two rows have the same identity (the same tokens).
    fn same_identity(&self, other: &StoredRow) -> bool {
        if self.identifying().next().is_some() || other.identifying().next().is_some() {
            self.identifying().eq(other.identifying())
        } else {
            self.attributes().eq(other.attributes())
        }
    }
}

impl Token<'_> {
    /// The index key: a fixed 64-bit hash (SipHash with zero keys, the same in every process).
    fn index_key(self) -> u64 {
        let mut hasher = DefaultHasher::new();
        match self {
            Token::Value { key, value } => (0u8, key, value).hash(&mut hasher),
            Token::Attributes(row) => {
                1u8.hash(&mut hasher);
                row.attributes().for_each(|pair| pair.hash(&mut hasher));
            }
        }
        hasher.finish()
    }

    /// Whether `member` holds this token.
    fn held_by(self, member: &StoredRow) -> bool {
        match self {
            Token::Value { key, value } => member
                .identifying()
                .any(|(member_key, member_value)| member_key == key && member_value == value),
            Token::Attributes(row) => {
                member.identifying().next().is_none() && member.attributes().eq(row.attributes())
            }
        }
    }
}

impl MemberIds {
    fn len(&self) -> usize {
        match self {
            MemberIds::One(_) => 1,
            MemberIds::Many(member_ids) => member_ids.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (one, many) = match self {
            MemberIds::One(member_id) => (Some(*member_id), None),
            MemberIds::Many(member_ids) => (None, Some(member_ids.iter().copied())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn insert(&mut self, member_id: u64) {
        match self {
            MemberIds::One(existing) if *existing == member_id => {}
            MemberIds::One(existing) => {
                *self = MemberIds::Many(Box::new(BTreeSet::from([*existing, member_id])));
            }
            MemberIds::Many(member_ids) => {
                member_ids.insert(member_id);
            }
        }
    }

    /// Removes one id; `false` when none is left.
    fn remove(&mut self, member_id: u64) -> bool {
        match self {
            MemberIds::One(existing) => *existing != member_id,
            MemberIds::Many(member_ids) => {
                member_ids.remove(&member_id);
                let n_left = member_ids.len();
                if let (1, Some(&last)) = (n_left, member_ids.first()) {
                    *self = MemberIds::One(last);
                }
                n_left > 0
            }
        }
    }
}

impl MemberSet {
    /// Rebuilds a set from stored members (state file): each one is a row. A state file written
    /// when members were merged holds one row per merged member, with distinct identities, so it
    /// loads member for member.
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
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.members.values().map(StoredRow::to_member)
    }

    /// Adds a row: it replaces the values of the member of the same identity, or is a new
    /// member. A row without any identity (only empty values or value keys) is ignored.
    pub fn upsert(&mut self, row: Member) {
        let row = StoredRow::from_member(row);
        let index_keys: Vec<u64> = row.tokens().into_iter().map(Token::index_key).collect();
        if index_keys.is_empty() {
            return;
        }
        if let Some(member_id) = self.member_with_identity(&index_keys, &row) {
            self.members.insert(member_id, row);
            return;
        }
        self.next_member_id += 1;
        let member_id = self.next_member_id;
        for index_key in index_keys {
            self.index
                .entry(index_key)
                .and_modify(|member_ids| member_ids.insert(member_id))
                .or_insert(MemberIds::One(member_id));
        }
        self.members.insert(member_id, row);
    }

    /// The member of the same identity as `row` (whose tokens' index keys are `index_keys`).
    /// Such a member holds every token, so only the members under the index key with the fewest
    /// need comparing.
    fn member_with_identity(&self, index_keys: &[u64], row: &StoredRow) -> Option<u64> {
        let mut fewest: Option<&MemberIds> = None;
        for index_key in index_keys {
            let member_ids = self.index.get(index_key)?;
            if fewest.is_none_or(|fewest| member_ids.len() < fewest.len()) {
                fewest = Some(member_ids);
            }
        }
        fewest?.iter().find(|member_id| {
            self.members
                .get(member_id)
                .is_some_and(|member| member.same_identity(row))
        })
    }

    /// The ids of the members holding an identity token of any of the rows: those sharing an
    /// identifying value with a row, or, for a row without one, of the same attributes.
    pub fn matching(&self, rows: &[Member]) -> BTreeSet<u64> {
        let mut hits = BTreeSet::new();
        for row in rows {
            let row = StoredRow::from_member(row.clone());
            for token in row.tokens() {
                let Some(member_ids) = self.index.get(&token.index_key()) else {
                    continue;
                };
                hits.extend(member_ids.iter().filter(|member_id| {
                    self.members
                        .get(member_id)
                        .is_some_and(|member| token.held_by(member))
                }));
            }
        }
        hits
    }

    /// Removes the members with these ids.
    pub fn remove_ids(&mut self, member_ids: &BTreeSet<u64>) {
        for &member_id in member_ids {
            let Some(old) = self.members.remove(&member_id) else {
                continue;
            };
            for token in old.tokens() {
                let index_key = token.index_key();
                if let Some(holders) = self.index.get_mut(&index_key)
                    && !holders.remove(member_id)
                {
                    self.index.remove(&index_key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = &'static [(&'static str, &'static str)];

    /// One operation on a set.
    enum Step {
        Add(Row),
        Remove(Row),
    }
    use Step::{Add, Remove};

    fn member(pairs: &[(&str, &str)]) -> Member {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn sorted(mut members: Vec<Member>) -> Vec<Member> {
        members.sort();
        members
    }

    /// Runs the steps on an empty set; the members left.
    fn run(steps: &[Step]) -> MemberSet {
        let mut set = MemberSet::default();
        for step in steps {
            match step {
                Add(row) => set.upsert(member(row)),
                Remove(row) => {
                    let hits = set.matching(&[member(row)]);
                    set.remove_ids(&hits);
                }
            }
        }
        set
    }

    #[test]
    fn members_are_rows_never_merged() {
        let table: [(&str, &[Step], &[Row]); 15] = [
            (
                "a row of the same identity replaces the member's values",
                &[
                    Add(&[("EMAIL", "e1"), ("FN", "f"), ("LOOKALIKE_VALUE", "1")]),
                    Add(&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "2")]),
                ],
                &[&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "2")]],
            ),
            (
                "empty values are no values",
                &[
                    Add(&[("EMAIL", "e1"), ("PHONE", "")]),
                    Add(&[("EMAIL", "e1")]),
                ],
                &[&[("EMAIL", "e1")]],
            ),
            (
                "sharing an email makes two members",
                &[
                    Add(&[("EXTERN_ID", "x1"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "x2"), ("EMAIL", "e1")]),
                ],
                &[
                    &[("EMAIL", "e1"), ("EXTERN_ID", "x1")],
                    &[("EMAIL", "e1"), ("EXTERN_ID", "x2")],
                ],
            ),
            (
                "a row with one more identifying value is another member",
                &[
                    Add(&[("EMAIL", "e1")]),
                    Add(&[("EMAIL", "e1"), ("PHONE", "p1")]),
                ],
                &[&[("EMAIL", "e1")], &[("EMAIL", "e1"), ("PHONE", "p1")]],
            ),
            (
                "a row with one identifying value less is another member",
                &[
                    Add(&[("EMAIL", "e1"), ("PHONE", "p1")]),
                    Add(&[("EMAIL", "e1")]),
                ],
                &[&[("EMAIL", "e1"), ("PHONE", "p1")], &[("EMAIL", "e1")]],
            ),
            (
                "a changed email is a new member; the old row stays until removed",
                &[
                    Add(&[("EXTERN_ID", "x1"), ("EMAIL", "old")]),
                    Add(&[("EXTERN_ID", "x1"), ("EMAIL", "new")]),
                ],
                &[
                    &[("EMAIL", "new"), ("EXTERN_ID", "x1")],
                    &[("EMAIL", "old"), ("EXTERN_ID", "x1")],
                ],
            ),
            (
                "the old keys removed before the new row is added leave the new row alone",
                &[
                    Add(&[("EXTERN_ID", "x1"), ("EMAIL", "old")]),
                    Remove(&[("EXTERN_ID", "x1"), ("EMAIL", "old")]),
                    Add(&[("EXTERN_ID", "x1"), ("EMAIL", "new")]),
                ],
                &[&[("EMAIL", "new"), ("EXTERN_ID", "x1")]],
            ),
            (
                "a removal row removes the members sharing a value with it directly",
                &[
                    Add(&[("EXTERN_ID", "a"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "b"), ("EMAIL", "e1"), ("PHONE", "p1")]),
                    Add(&[("EXTERN_ID", "c"), ("PHONE", "p1")]),
                    Add(&[("EXTERN_ID", "d"), ("EMAIL", "e2")]),
                    Remove(&[("EXTERN_ID", "a"), ("EMAIL", "e1")]),
                ],
                // c is linked to a only through b: it stays.
                &[
                    &[("EXTERN_ID", "c"), ("PHONE", "p1")],
                    &[("EMAIL", "e2"), ("EXTERN_ID", "d")],
                ],
            ),
            (
                "the index keeps the other holders of a shared value",
                &[
                    Add(&[("EXTERN_ID", "a"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "b"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "c"), ("EMAIL", "e1")]),
                    Remove(&[("EXTERN_ID", "b")]),
                    Add(&[("EXTERN_ID", "d"), ("EMAIL", "e2")]),
                    Remove(&[("EMAIL", "e1")]),
                ],
                &[&[("EMAIL", "e2"), ("EXTERN_ID", "d")]],
            ),
            (
                "a removal by a shared email removes every row holding it",
                &[
                    Add(&[("EXTERN_ID", "a"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "b"), ("EMAIL", "e1")]),
                    Add(&[("EXTERN_ID", "c"), ("EMAIL", "e2")]),
                    Remove(&[("EMAIL", "e1")]),
                ],
                &[&[("EMAIL", "e2"), ("EXTERN_ID", "c")]],
            ),
            (
                "attribute-only rows are identified by all their attributes",
                &[
                    Add(&[("FN", "f"), ("LN", "l")]),
                    Add(&[("FN", "f"), ("LN", "other")]),
                    Add(&[("EMAIL", "e1"), ("FN", "f"), ("LN", "l")]),
                    Add(&[("FN", "f"), ("LN", "l"), ("LOOKALIKE_VALUE", "3")]),
                    Remove(&[("FN", "f")]),
                    Remove(&[("FN", "f"), ("LN", "other")]),
                ],
                // FN alone identifies nobody; attributes of a member with an email are not its
                // identity.
                &[
                    &[("EMAIL", "e1"), ("FN", "f"), ("LN", "l")],
                    &[("FN", "f"), ("LN", "l"), ("LOOKALIKE_VALUE", "3")],
                ],
            ),
            (
                "a removal row with an identifying value ignores attribute-only members",
                &[
                    Add(&[("FN", "f"), ("LN", "l")]),
                    Add(&[("EMAIL", "e1"), ("FN", "f"), ("LN", "l")]),
                    Remove(&[("EMAIL", "e1"), ("FN", "f"), ("LN", "l")]),
                ],
                &[&[("FN", "f"), ("LN", "l")]],
            ),
            (
                "value keys never identify",
                &[
                    Add(&[("LOOKALIKE_VALUE", "10")]),
                    Add(&[("EMAIL", ""), ("DATA_PROCESSING_OPTIONS", "LDU")]),
                    Add(&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "10")]),
                    Remove(&[("LOOKALIKE_VALUE", "10")]),
                ],
                &[&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "10")]],
            ),
            (
                "equal values of different keys do not match",
                &[Add(&[("EMAIL", "v")]), Remove(&[("PHONE", "v")])],
                &[&[("EMAIL", "v")]],
            ),
            (
                "a removal matching nobody removes nobody",
                &[
                    Add(&[("EMAIL", "e1")]),
                    Remove(&[("EMAIL", "e404"), ("PHONE", "p404")]),
                ],
                &[&[("EMAIL", "e1")]],
            ),
        ];
        for (case, steps, expected) in table {
            let set = run(steps);
            assert_eq!(
                sorted(set.members().collect()),
                sorted(expected.iter().map(|row| member(row)).collect()),
                "{case}"
            );
        }
    }

    #[test]
    fn a_removal_counts_each_member_once() {
        let set = run(&[
            Add(&[("EXTERN_ID", "a"), ("EMAIL", "e1"), ("PHONE", "p1")]),
            Add(&[("EXTERN_ID", "b"), ("EMAIL", "e1")]),
            Add(&[("EXTERN_ID", "c"), ("PHONE", "p2")]),
        ]);
        let hits = set.matching(&[
            member(&[("EMAIL", "e1"), ("PHONE", "p1")]),
            member(&[("EXTERN_ID", "a")]),
        ]);
        assert_eq!(hits.len(), 2, "a and b, each once");
    }

    #[test]
    fn an_updated_member_keeps_its_place() {
        let mut set = run(&[Add(&[("EMAIL", "e1")]), Add(&[("EMAIL", "e2")])]);
        set.upsert(member(&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "5")]));
        assert_eq!(
            set.members().collect::<Vec<_>>(),
            [
                member(&[("EMAIL", "e1"), ("LOOKALIKE_VALUE", "5")]),
                member(&[("EMAIL", "e2")])
            ]
        );
    }

    #[test]
    fn members_under_a_colliding_index_key_are_checked_for_the_token() {
        let mut set = run(&[
            Add(&[("EXTERN_ID", "a"), ("EMAIL", "e1")]),
            Add(&[("EXTERN_ID", "b"), ("EMAIL", "e2")]),
        ]);
        // As if b's email hashed to the same index key as e1.
        let e1 = StoredRow::from_member(member(&[("EMAIL", "e1")]));
        let collided = e1.tokens()[0].index_key();
        let b_id = set.members.keys().copied().last().expect("b");
        set.index
            .get_mut(&collided)
            .expect("e1 is indexed")
            .insert(b_id);
        assert_eq!(set.matching(&[member(&[("EMAIL", "e1")])]).len(), 1);
        set.upsert(member(&[("EMAIL", "e1")]));
        assert_eq!(set.len(), 3, "a row of e1 alone is a member of its own");
        let hits = set.matching(&[member(&[("EMAIL", "e1")])]);
        set.remove_ids(&hits);
        assert_eq!(
            set.members().collect::<Vec<_>>(),
            [member(&[("EMAIL", "e2"), ("EXTERN_ID", "b")])]
        );
    }

    #[test]
    fn merged_members_of_an_old_state_file_load_as_rows() {
        let stored = [
            member(&[("EMAIL", "e1"), ("EXTERN_ID", "x9"), ("PHONE", "p1")]),
            member(&[("EMAIL", "e2"), ("EXTERN_ID", "x2")]),
        ];
        let mut set = MemberSet::from_members(stored.clone());
        assert_eq!(set.members().collect::<Vec<_>>(), stored);
        let hits = set.matching(&[member(&[("PHONE", "p1")])]);
        set.remove_ids(&hits);
        assert_eq!(set.members().collect::<Vec<_>>(), [stored[1].clone()]);
    }
}
