//! Identifying values that a user who leaves shares with users who stay: left out of the
//! removal, so that Meta keeps the people they match.
//!
//! # Why
//! Meta removes every member matching any identifying key of a removal row (contract §12,
//! membership model: "remove = delete any member matching any provided key"): EMAIL, PHONE,
//! MADID, EXTERN_ID. When a user leaves the segment and shares an email or a phone with a user
//! who stays (a household, a shared office line), removing the leaver's whole row would also
//! take out whoever holds that value, while the store still counts them as members. So a
//! removal row leaves out ("strips") the identifying values a staying member also holds: the
//! people those values match are still wanted. The leaver's own values go.
//!
//! A row whose every identifying value is held by staying members would be left with nothing
//! to identify it: it is sent whole, and the staying members holding one of its values (those
//! Meta removes with it) are re-added after the removals.
//!
//! # How (memory stays flat)
//! 1. During the diff, each unchanged member's identifying values are reduced to 64-bit
//!    [`KeyToken`]s and written to a [`TokenSpoolWriter`] (a file, 8 bytes per value plus the
//!    user hash): the removals are only known once the whole source was read.
//! 2. After the diff, the tokens of every removal row (old rows of changed users, members who
//!    left, rows an interrupted run left) are collected.
//! 3. [`tokens_held_by_staying_members`] reads the token spool once: the removal tokens some
//!    staying member holds. [`SharedValues::strip`] then blanks those values in each removal
//!    row as it is sent.
//! 4. Rows sent whole: [`staying_members_holding`] reads the spool again for the members holding
//!    one of their values. The sync spools their stored rows and journals their user ids as
//!    removal batches that may have happened ("Meta may have removed these members") **before**
//!    the first removal goes out; after the removals it re-adds them (those batches are neither
//!    journaled nor committed: the members are stored as they are), then settles the promises.
//!    A crash in between leaves the promises unsettled: the next run re-adds whoever of them is
//!    still a member, as after any interrupted removal.
//!
//! A 64-bit token collision can only keep a value out of a removal (the person it matches
//! stays until that value is removed by a later change) or add a member to the re-adds
//! (harmless: adds are upserts).

use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use audsync_core::{KeyValue, MatchKey, Member};

use crate::store::MemberRow;
use crate::sync::dedup::UserHashSet;
use crate::sync::spool::unlinked_file;

/// Keys by which Meta identifies a member on their own (contract §12 rule: EMAIL, PHONE,
/// MADID, EXTERN_ID, APPUID, PAGEUID; audsync sends the first four). Other keys (names, city,
/// birth date, …) only help matching and never merge or remove members.
pub const IDENTIFYING_KEYS: [MatchKey; 4] = [
    MatchKey::Email,
    MatchKey::Phone,
    MatchKey::Madid,
    MatchKey::ExternId,
];

/// 64 bits of one identifying key's value (0: no value). Only compared within one run.
pub type KeyToken = u64;

/// Buffer of token spool writers and readers.
const TOKEN_SPOOL_BUFFER_BYTES: usize = 1 << 20;

/// The identifying keys of an audience schema, with their positions in its wire rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyingColumns {
    columns: Vec<(usize, MatchKey)>,
}

impl IdentifyingColumns {
    /// The identifying keys of `schema`, in schema order.
    pub fn of_schema(schema: &[MatchKey]) -> IdentifyingColumns {
        IdentifyingColumns {
            columns: schema
                .iter()
                .enumerate()
                .filter(|(_, key)| IDENTIFYING_KEYS.contains(key))
                .map(|(position, key)| (position, *key))
                .collect(),
        }
    }

    /// The number of identifying keys (tokens per member).
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Appends one token per identifying key of `member` (0 where it has no value).
    pub fn push_member_tokens(&self, member: &Member, out: &mut Vec<KeyToken>) {
        out.extend(self.columns.iter().map(|(_, key)| {
            let bits = match member.get(*key) {
                KeyValue::Absent => return 0,
                KeyValue::Hashed(digest) => digest_bits(digest),
                KeyValue::Plain(text) => wire_bits(text),
            };
            token(*key, bits)
        }));
    }

    /// Appends one token per identifying key of a wire row in schema order (0 where empty).
    pub fn push_row_tokens(&self, wire_row: &[String], out: &mut Vec<KeyToken>) {
        out.extend(self.columns.iter().map(|(position, key)| {
            match wire_row.get(*position).filter(|value| !value.is_empty()) {
                Some(value) => token(*key, wire_bits(value)),
                None => 0,
            }
        }));
    }
}

/// The first 8 bytes of a digest: what [`wire_bits`] reads from its 64-hex wire form.
fn digest_bits(digest: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// 64 bits of a wire value: the first 8 bytes of a 64-hex digest (as [`digest_bits`]), else a
/// hash of the text (EXTERN_ID, MADID).
fn wire_bits(value: &str) -> u64 {
    let bytes = value.as_bytes();
    if bytes.len() == 64 && bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return bytes[..16].iter().fold(0u64, |bits, digit| {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                _ => digit - b'a' + 10,
            };
            (bits << 4) | u64::from(nibble)
        });
    }
    // SipHash with fixed keys: the same within a process, which is all a run needs.
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

/// The token of a value of `key` (never 0: 0 means "no value").
fn token(key: MatchKey, bits: u64) -> KeyToken {
    // splitmix64's finalizer over the value and the key: equal values of different keys differ.
    let mut mixed = bits ^ (key.index() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (mixed ^ (mixed >> 31)).max(1)
}

/// Writes, per unchanged member, its user hash and its tokens to an unlinked file.
pub struct TokenSpoolWriter {
    out: BufWriter<File>,
    tokens_per_member: usize,
    n_members: u64,
}

impl TokenSpoolWriter {
    pub fn create(dir: &Path, tokens_per_member: usize) -> io::Result<TokenSpoolWriter> {
        Ok(TokenSpoolWriter {
            out: BufWriter::with_capacity(TOKEN_SPOOL_BUFFER_BYTES, unlinked_file(dir, "tokens")?),
            tokens_per_member,
            n_members: 0,
        })
    }

    /// Appends a member; `tokens` holds exactly `tokens_per_member` tokens.
    pub fn push(&mut self, user_hash: u64, tokens: &[KeyToken]) -> io::Result<()> {
        debug_assert_eq!(tokens.len(), self.tokens_per_member);
        self.out.write_all(&user_hash.to_le_bytes())?;
        for token in tokens {
            self.out.write_all(&token.to_le_bytes())?;
        }
        self.n_members += 1;
        Ok(())
    }

    pub fn n_members(&self) -> u64 {
        self.n_members
    }

    /// Ends writing; the members are read back from the start.
    pub fn finish(self) -> io::Result<TokenSpoolReader> {
        let mut file = self.out.into_inner().map_err(|error| error.into_error())?;
        io::Seek::rewind(&mut file)?;
        Ok(TokenSpoolReader {
            input: BufReader::with_capacity(TOKEN_SPOOL_BUFFER_BYTES, file),
            tokens_per_member: self.tokens_per_member,
            n_members: self.n_members,
        })
    }
}

/// Reads a finished token spool, as often as needed.
pub struct TokenSpoolReader {
    input: BufReader<File>,
    tokens_per_member: usize,
    n_members: u64,
}

impl TokenSpoolReader {
    /// Calls `visit(user_hash, tokens)` for every member, from the first.
    fn for_each(&mut self, mut visit: impl FnMut(u64, &[KeyToken])) -> io::Result<()> {
        io::Seek::rewind(&mut self.input)?;
        let mut record = vec![0u8; 8 * (1 + self.tokens_per_member)];
        let mut tokens = vec![0; self.tokens_per_member];
        for _ in 0..self.n_members {
            self.input.read_exact(&mut record)?;
            let mut words = record
                .chunks_exact(8)
                .map(|word| u64::from_le_bytes(word.try_into().expect("8-byte chunks")));
            let user_hash = words.next().expect("a record starts with the user hash");
            for (slot, word) in tokens.iter_mut().zip(words) {
                *slot = word;
            }
            visit(user_hash, &tokens);
        }
        Ok(())
    }
}

/// The tokens of `removal_tokens` that some staying member of the spool holds.
pub fn tokens_held_by_staying_members(
    spool: &mut TokenSpoolReader,
    removal_tokens: &UserHashSet,
) -> io::Result<UserHashSet> {
    let mut shared = UserHashSet::with_capacity(1024);
    if removal_tokens.is_empty() {
        return Ok(shared);
    }
    spool.for_each(|_, tokens| {
        for token in tokens {
            if *token != 0 && removal_tokens.contains(*token) {
                shared.insert(*token);
            }
        }
    })?;
    Ok(shared)
}

/// The user hashes of the staying members holding one of `tokens`: those Meta removes with a
/// row holding them.
pub fn staying_members_holding(
    spool: &mut TokenSpoolReader,
    tokens: &UserHashSet,
) -> io::Result<UserHashSet> {
    let mut holders = UserHashSet::with_capacity(1024);
    if tokens.is_empty() {
        return Ok(holders);
    }
    spool.for_each(|user_hash, member_tokens| {
        if member_tokens
            .iter()
            .any(|token| *token != 0 && tokens.contains(*token))
        {
            holders.insert(user_hash);
        }
    })?;
    Ok(holders)
}

/// Whether a row with these tokens is sent whole: it has identifying values and staying
/// members hold every one of them (stripping would leave nothing to identify it).
pub fn is_sent_whole(tokens: &[KeyToken], shared: &UserHashSet) -> bool {
    let mut present = tokens.iter().filter(|token| **token != 0).peekable();
    present.peek().is_some() && present.all(|token| shared.contains(*token))
}

/// The identifying values staying members hold, to leave out of removal rows.
pub struct SharedValues {
    columns: IdentifyingColumns,
    shared: UserHashSet,
    n_stripped: AtomicU64,
}

impl SharedValues {
    pub fn new(columns: IdentifyingColumns, shared: UserHashSet) -> SharedValues {
        SharedValues {
            columns,
            shared,
            n_stripped: AtomicU64::new(0),
        }
    }

    /// Blanks the values of a removal row that staying members hold, unless the row is sent
    /// whole ([`is_sent_whole`]).
    pub fn strip(&self, row: &mut MemberRow) {
        if self.shared.is_empty() {
            return;
        }
        let mut tokens = Vec::with_capacity(self.columns.len());
        self.columns.push_row_tokens(&row.wire_row, &mut tokens);
        if is_sent_whole(&tokens, &self.shared) {
            return;
        }
        let mut stripped = false;
        for ((position, _), token) in self.columns.columns.iter().zip(&tokens) {
            if *token != 0 && self.shared.contains(*token) {
                row.wire_row[*position].clear();
                stripped = true;
            }
        }
        if stripped {
            self.n_stripped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rows [`SharedValues::strip`] left values out of.
    pub fn n_stripped(&self) -> u64 {
        self.n_stripped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL_A: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";
    const EMAIL_B: &str = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn only_identifying_keys_make_tokens() {
        let columns = IdentifyingColumns::of_schema(&[
            MatchKey::ExternId,
            MatchKey::Email,
            MatchKey::Fn,
            MatchKey::Phone,
        ]);
        assert_eq!(columns.len(), 3);
        let mut tokens = Vec::new();
        columns.push_row_tokens(&strings(&["crm-1", EMAIL_A, EMAIL_B, ""]), &mut tokens);
        assert_eq!(tokens.len(), 3);
        assert!(tokens[0] != 0 && tokens[1] != 0);
        assert_eq!(tokens[2], 0, "an empty phone has no token");
        assert!(IdentifyingColumns::of_schema(&[MatchKey::Fn, MatchKey::Zip]).is_empty());
    }

    #[test]
    fn a_member_and_its_wire_row_give_the_same_tokens() {
        let schema = [MatchKey::ExternId, MatchKey::Email, MatchKey::Phone];
        let columns = IdentifyingColumns::of_schema(&schema);
        let engine = audsync_core::Engine::new(
            audsync_core::NormalizeOptions::new(2026),
            audsync_core::EligibilityRule::default(),
        );
        let fields = [
            audsync_core::Field::Key(MatchKey::ExternId),
            audsync_core::Field::Key(MatchKey::Email),
            audsync_core::Field::Key(MatchKey::Phone),
        ];
        let mut scratch = audsync_core::Scratch::new();
        let outcome = engine.process(
            &fields,
            &["CRM-42", " Jane.Doe@Example.com", "+33 6 12 34 56 78"],
            &mut scratch,
        );
        let audsync_core::RowOutcome::Member(member) = outcome else {
            panic!("the row is a member: {outcome:?}");
        };
        let wire_row = crate::sync::diff::wire_row(&member, &schema);
        let (mut from_member, mut from_row) = (Vec::new(), Vec::new());
        columns.push_member_tokens(&member, &mut from_member);
        columns.push_row_tokens(&wire_row, &mut from_row);
        assert_eq!(from_member, from_row);
        assert!(from_member.iter().all(|token| *token != 0));
    }

    #[test]
    fn equal_values_of_different_keys_are_different_tokens() {
        assert_ne!(
            token(MatchKey::Email, wire_bits(EMAIL_A)),
            token(MatchKey::Phone, wire_bits(EMAIL_A))
        );
        assert_ne!(wire_bits(EMAIL_A), wire_bits(EMAIL_B));
        // A 64-hex EXTERN_ID and the digest bytes read the same way.
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&[0xf1, 0x90, 0x4c, 0xf1, 0xa9, 0xd7, 0x3a, 0x55]);
        assert_eq!(digest_bits(&digest), wire_bits(EMAIL_A));
    }

    /// A spool of members `(user hash, tokens)`.
    fn spool(members: &[(u64, [KeyToken; 2])]) -> TokenSpoolReader {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TokenSpoolWriter::create(dir.path(), 2).unwrap();
        for (user_hash, tokens) in members {
            writer.push(*user_hash, tokens).unwrap();
        }
        assert_eq!(writer.n_members(), members.len() as u64);
        writer.finish().unwrap()
    }

    #[test]
    fn shared_tokens_and_their_holders_are_found_in_the_spool() {
        let (email_1, email_2) = (token(MatchKey::Email, 1), token(MatchKey::Email, 2));
        let (phone_1, phone_3) = (token(MatchKey::Phone, 1), token(MatchKey::Phone, 3));
        // Members 1 and 2 share a phone; member 3 shares nothing; member 4 has no values.
        let mut reader = spool(&[
            (1, [email_1, phone_1]),
            (2, [email_2, phone_1]),
            (3, [token(MatchKey::Email, 3), phone_3]),
            (4, [0, 0]),
        ]);
        let set = |tokens: &[KeyToken]| {
            let mut set = UserHashSet::with_capacity(4);
            for token in tokens {
                set.insert(*token);
            }
            set
        };
        let sorted = |set: UserHashSet| {
            let mut values: Vec<u64> = set.iter().collect();
            values.sort_unstable();
            values
        };
        let table: [(&[KeyToken], &[KeyToken], &[u64]); 5] = [
            (&[], &[], &[]),
            (&[token(MatchKey::Email, 9)], &[], &[]),
            // Member 1 by its email, not member 2: only direct sharers are held to the row.
            (&[email_1], &[email_1], &[1]),
            (&[phone_1, token(MatchKey::Madid, 5)], &[phone_1], &[1, 2]),
            // The value of member 2's email, but as a phone: not shared.
            (&[token(MatchKey::Phone, 2)], &[], &[]),
        ];
        for (removal_tokens, shared, holders) in table {
            let found = tokens_held_by_staying_members(&mut reader, &set(removal_tokens)).unwrap();
            let mut expected = shared.to_vec();
            expected.sort_unstable();
            assert_eq!(sorted(found), expected, "removal tokens {removal_tokens:?}");
            let found = staying_members_holding(&mut reader, &set(removal_tokens)).unwrap();
            assert_eq!(sorted(found), holders, "removal tokens {removal_tokens:?}");
        }
    }

    #[test]
    fn removal_rows_leave_out_shared_values_unless_nothing_would_be_left() {
        let schema = [
            MatchKey::ExternId,
            MatchKey::Email,
            MatchKey::Phone,
            MatchKey::Fn,
        ];
        let columns = IdentifyingColumns::of_schema(&schema);
        let shared_email = EMAIL_A;
        let mut shared = UserHashSet::with_capacity(4);
        shared.insert(token(MatchKey::Email, wire_bits(shared_email)));
        shared.insert(token(MatchKey::ExternId, wire_bits("crm-shared")));
        let values = SharedValues::new(columns, shared);
        let row = |values: &[&str]| MemberRow {
            user_id: "u1".to_owned(),
            fingerprint: [0; 16],
            wire_row: strings(values),
        };
        let table: [(&[&str], &[&str]); 4] = [
            // The shared email goes out of the row; its own id and the name stay.
            (&["crm-1", shared_email, "", "f"], &["crm-1", "", "", "f"]),
            // Nothing shared: unchanged.
            (&["crm-1", EMAIL_B, "", "f"], &["crm-1", EMAIL_B, "", "f"]),
            // Every identifying value shared: sent whole.
            (
                &["crm-shared", shared_email, "", "f"],
                &["crm-shared", shared_email, "", "f"],
            ),
            // No identifying value at all: unchanged.
            (&["", "", "", "f"], &["", "", "", "f"]),
        ];
        for (before, after) in table {
            let mut stripped = row(before);
            values.strip(&mut stripped);
            assert_eq!(stripped.wire_row, strings(after), "{before:?}");
        }
        assert_eq!(values.n_stripped(), 1);
    }
}
