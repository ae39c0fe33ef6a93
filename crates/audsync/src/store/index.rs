//! `MemberIndex`: the compact in-memory view of a segment's stored members for the streaming diff.
//!
//! # Why it looks like this
//! A rerun of a 10M-member segment must stay under 512 MiB of RSS (issue 4, "Measure"), so the
//! index holds no user id strings and no wire rows: per member one [`IndexEntry`] of two `u64`s
//! (16 bytes) in a `Vec` sorted by user hash, plus one "seen" bit, plus a bucket directory: one
//! `u32` offset per value of the user hash's top bits, with 16–32 members per bucket on average
//! ([`MEMBERS_PER_BUCKET`]), so a lookup searches a few cache lines instead of the whole vector
//! (three binary searches over it were 51–73% of the diff's CPU, BENCHMARKS.md "Sync").
//! Within the bucket the search is by interpolation ([`interpolation_search`]): user hashes are
//! uniform, so the entry sits within a few places of where its hash's lower bits say, one or two
//! cache lines away instead of the four or five a binary search of the bucket reads (8.8M
//! members, lookups back to back: 161 → 55 ns; in a 10M `audsync plan` 16.4 → 15.5 CPU-s,
//! BENCHMARKS.md "Sync"). What a lookup still costs is mostly its first cache miss.
//! **10M members take 160 MB + 1.25 MB of bits + 2 MiB of directory (2^19 buckets): 16.34 bytes
//! per member** (at most 16.38 at any size); a `HashMap<String, [u8; 16]>` would take about 1 GB.
//!
//! - `user_hash` = the first 8 bytes of `SHA-256("audsync-user-id\0" ‖ user_id)`.
//! - `check` = the fingerprint folded to 64 bits (`low ^ mix(high)` of its halves), XOR the
//!   next 8 bytes of that same digest (a per-user salt).
//!
//! Both are stored beside each member (`members.user_hash`, `members.index_check`, in a
//! covering index), so loading reads two integers per member and removals fetch rows by hash.
//!
//! Two different user ids share a `user_hash` with probability about n²/2⁶⁵ (≈ 3·10⁻⁶ for
//! 10M members), so the index never trusts the hash alone:
//! - **Unchanged** needs `user_hash` *and* `check` to match: a different user id also has a
//!   different, independent salt, so a false "unchanged" has probability 2⁻⁶⁴ per colliding
//!   pair; a member whose keys changed matches its old `check` with probability 2⁻⁶⁴.
//! - A `user_hash` match with another `check` is only [`Observed::PossiblyChanged`]; the caller
//!   reads the old row by user id ([`super::Store::member_rows`]), which settles it, and marks
//!   it seen with [`MemberIndex::mark_seen`] (the row's own user id and fingerprint find its
//!   exact entry, even among colliding hashes).
//! - Removals go by hash ([`MemberIndex::unseen_user_hashes`]) and
//!   [`super::Store::unseen_member_rows`] keeps only rows whose exact entry is unseen, so a
//!   colliding member that was seen is never removed.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{Fingerprint, MemberRow};

/// Domain separation, so a user id that is an e-mail address never hashes to Meta's EMAIL hash.
const USER_ID_HASH_DOMAIN: &[u8] = b"audsync-user-id\0";

/// The 64-bit hash of a user id that `members.user_hash` stores and the index sorts on.
pub fn user_id_hash(user_id: &str) -> u64 {
    UserKey::new(user_id).hash
}

/// What the index needs of a user id, from one SHA-256 of it: its hash and the salt of its
/// check. The diff needs the hash of every row and then observes the member: one digest for
/// both (a SHA-256 of each user id was about 5% of a rerun's diff, done twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserKey {
    hash: u64,
    salt: u64,
}

impl UserKey {
    pub fn new(user_id: &str) -> UserKey {
        let mut hasher = Sha256::new();
        hasher.update(USER_ID_HASH_DOMAIN);
        hasher.update(user_id.as_bytes());
        let digest = hasher.finalize();
        let mut hash = [0u8; 8];
        let mut salt = [0u8; 8];
        hash.copy_from_slice(&digest[..8]);
        salt.copy_from_slice(&digest[8..16]);
        UserKey {
            hash: u64::from_be_bytes(hash),
            salt: u64::from_be_bytes(salt),
        }
    }

    /// The user id's hash: [`user_id_hash`].
    pub fn hash(self) -> u64 {
        self.hash
    }
}

/// One stored member in 16 bytes; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct IndexEntry {
    pub(super) user_hash: u64,
    pub(super) check: u64,
}

impl IndexEntry {
    pub(super) fn new(user_id: &str, fingerprint: &Fingerprint) -> IndexEntry {
        IndexEntry::of_key(UserKey::new(user_id), fingerprint)
    }

    fn of_key(key: UserKey, fingerprint: &Fingerprint) -> IndexEntry {
        let UserKey {
            hash: user_hash,
            salt,
        } = key;
        let mut low = [0u8; 8];
        let mut high = [0u8; 8];
        low.copy_from_slice(&fingerprint[..8]);
        high.copy_from_slice(&fingerprint[8..]);
        IndexEntry {
            user_hash,
            check: u64::from_le_bytes(low) ^ mix(u64::from_le_bytes(high)) ^ salt,
        }
    }
}

/// MurmurHash3's 64-bit finalizer, a bijection: folding `low ^ mix(high)` keeps fingerprints
/// whose halves are equal or related (`[7; 16]`) from folding to the same value.
fn mix(mut value: u64) -> u64 {
    value ^= value >> 33;
    value = value.wrapping_mul(0xff51_afd7_ed55_8ccd);
    value ^= value >> 33;
    value = value.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    value ^ (value >> 33)
}

/// The directory size for `n_members`: the largest `bits` with `n_members / 2^bits` ≥
/// [`MEMBERS_PER_BUCKET`] (0, no directory, below 32 members).
fn bucket_bits_for(n_members: usize) -> u32 {
    let buckets = n_members / MEMBERS_PER_BUCKET;
    if buckets < 2 { 0 } else { buckets.ilog2() }
}

/// The top `bucket_bits` bits of a user hash (`bucket_bits` in 1..=63).
fn bucket_of(user_hash: u64, bucket_bits: u32) -> usize {
    (user_hash >> (64 - bucket_bits)) as usize
}

/// Steps an interpolation search takes one entry at a time before it falls back to a binary
/// search of the rest. Our choice: the guess is off by about √(n)/2 entries in a bucket of n
/// uniform hashes (2–3 for the directory's 16–32), so 16 steps almost never run out; a skewed
/// bucket (colliding hashes, tests) still costs only a binary search more.
const MAX_LINEAR_STEPS: usize = 16;

/// `entries.binary_search(probe)` for sorted entries whose user hashes are spread evenly over
/// the span that `within_span` (the probe's hash, shifted so that the span is all of `u64`)
/// places the probe in: the search starts where that fraction of the slice is, then steps
/// towards the probe, then falls back to a binary search.
fn interpolation_search(
    entries: &[IndexEntry],
    probe: &IndexEntry,
    within_span: u64,
) -> Result<usize, usize> {
    if entries.is_empty() {
        return Err(0);
    }
    // floor(fraction × len) < len.
    let guess = ((u128::from(within_span) * entries.len() as u128) >> 64) as usize;
    // The answer is the first position whose entry is not below the probe.
    let first_not_below = if entries[guess] < *probe {
        let mut position = guess + 1;
        let mut steps = 0;
        while position < entries.len() && entries[position] < *probe {
            steps += 1;
            if steps == MAX_LINEAR_STEPS {
                let rest = entries[position..].partition_point(|entry| entry < probe);
                return found_at(entries, probe, position + rest);
            }
            position += 1;
        }
        position
    } else {
        let mut position = guess;
        let mut steps = 0;
        while position > 0 && entries[position - 1] >= *probe {
            steps += 1;
            if steps == MAX_LINEAR_STEPS {
                let below = entries[..position].partition_point(|entry| entry < probe);
                return found_at(entries, probe, below);
            }
            position -= 1;
        }
        position
    };
    found_at(entries, probe, first_not_below)
}

/// `Ok(position)` when the entry there is the probe, else `Err(position)` (where it would go).
fn found_at(entries: &[IndexEntry], probe: &IndexEntry, position: usize) -> Result<usize, usize> {
    if entries.get(position) == Some(probe) {
        Ok(position)
    } else {
        Err(position)
    }
}

/// What the index says about a user read from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// No stored member has this user id: add it.
    New,
    /// Stored with the same keys; now marked seen: nothing to send.
    Unchanged,
    /// A stored member shares this user id's hash but not its fingerprint: almost always this
    /// user with changed keys. Read the old row with `Store::member_rows`; if it is there, the
    /// user changed (remove the old row, add the new one) and `mark_seen(&old_row)`; if not,
    /// the user is new.
    PossiblyChanged,
}

/// Members per directory bucket, at least: the bucket count is the largest power of two that
/// leaves at least this many members per bucket, so the directory costs at most 4/16 = 0.25
/// bytes per member and a bucket spans 16–32 entries (4–8 cache lines) on average.
const MEMBERS_PER_BUCKET: usize = 16;

/// The stored members of one segment, for one diff. Built by `Store::load_member_index`.
/// `observe` and `mark_seen` take `&self` (the seen bits are atomic), so rayon workers can
/// share it.
#[derive(Debug)]
pub struct MemberIndex {
    /// Sorted by `(user_hash, check)`.
    entries: Vec<IndexEntry>,
    /// One bit per entry, same order.
    seen: Vec<AtomicU64>,
    /// `directory[bucket]` = the position of the first entry whose user hash's top
    /// `bucket_bits` bits are `bucket` or more; `2^bucket_bits + 1` offsets. Empty when
    /// `bucket_bits` is 0 (one bucket: the whole vector).
    directory: Vec<u32>,
    bucket_bits: u32,
}

impl MemberIndex {
    /// Builds an index from unsorted entries (the loader streams them in table order).
    pub(super) fn from_entries(entries: Vec<IndexEntry>) -> MemberIndex {
        let bucket_bits = bucket_bits_for(entries.len());
        MemberIndex::with_bucket_bits(entries, bucket_bits)
    }

    /// Builds an index with `2^bucket_bits` directory buckets (0: no directory).
    fn with_bucket_bits(mut entries: Vec<IndexEntry>, bucket_bits: u32) -> MemberIndex {
        entries.sort_unstable();
        entries.shrink_to_fit();
        let seen = (0..entries.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        // Offsets are u32: past 4G members (64 GB of entries) go without a directory.
        let bucket_bits = if u32::try_from(entries.len()).is_ok() {
            bucket_bits
        } else {
            0
        };
        let mut directory = Vec::new();
        if bucket_bits > 0 {
            // Count the entries of each bucket into the next slot, then sum the counts up.
            directory = vec![0u32; (1usize << bucket_bits) + 1];
            for entry in &entries {
                directory[bucket_of(entry.user_hash, bucket_bits) + 1] += 1;
            }
            for bucket in 1..directory.len() {
                directory[bucket] += directory[bucket - 1];
            }
        }
        MemberIndex {
            entries,
            seen,
            directory,
            bucket_bits,
        }
    }

    /// Builds an index directly from member rows (tests, small segments).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a MemberRow>) -> MemberIndex {
        let entries = rows
            .into_iter()
            .map(|row| IndexEntry::new(&row.user_id, &row.fingerprint))
            .collect();
        MemberIndex::from_entries(entries)
    }

    /// Number of stored members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes held: `size_of` × capacity of the three vectors (what the 512 MiB budget
    /// counts).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<IndexEntry>()
            + self.seen.capacity() * size_of::<AtomicU64>()
            + self.directory.capacity() * size_of::<u32>()
    }

    /// Classifies a user read from the source and marks it seen when unchanged: one search
    /// within the user hash's bucket, then at most two neighbouring reads.
    pub fn observe(&self, user_id: &str, fingerprint: &Fingerprint) -> Observed {
        self.observe_key(UserKey::new(user_id), fingerprint)
    }

    /// [`MemberIndex::observe`] of the user id whose key this is.
    pub fn observe_key(&self, user_key: UserKey, fingerprint: &Fingerprint) -> Observed {
        let probe = IndexEntry::of_key(user_key, fingerprint);
        match self.search(&probe) {
            Ok(position) => {
                self.set_seen(position);
                Observed::Unchanged
            }
            Err(position) => {
                // Entries sharing the user hash sit right beside where the probe would go.
                let shares_hash = |position: usize| {
                    self.entries
                        .get(position)
                        .is_some_and(|entry| entry.user_hash == probe.user_hash)
                };
                if shares_hash(position) || (position > 0 && shares_hash(position - 1)) {
                    Observed::PossiblyChanged
                } else {
                    Observed::New
                }
            }
        }
    }

    /// Marks the stored member `row` (as read from the store) seen; false when the index does
    /// not hold it.
    pub fn mark_seen(&self, row: &MemberRow) -> bool {
        match self.position(&IndexEntry::new(&row.user_id, &row.fingerprint)) {
            Some(position) => {
                self.set_seen(position);
                true
            }
            None => false,
        }
    }

    /// Whether the stored member `row` is held and still unseen (so it left the segment).
    pub fn is_unseen(&self, row: &MemberRow) -> bool {
        self.position(&IndexEntry::new(&row.user_id, &row.fingerprint))
            .is_some_and(|position| !self.is_seen_at(position))
    }

    /// Number of members not seen so far.
    pub fn unseen_count(&self) -> usize {
        let seen: usize = self
            .seen
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
            .sum();
        self.entries.len() - seen
    }

    /// The user hashes of unseen members, ascending, each once: fetch their rows in chunks
    /// with `Store::unseen_member_rows` to remove them.
    pub fn unseen_user_hashes(&self) -> impl Iterator<Item = u64> + '_ {
        let mut previous = None;
        self.entries
            .iter()
            .enumerate()
            .filter(|(position, _)| !self.is_seen_at(*position))
            .map(|(_, entry)| entry.user_hash)
            .filter(move |user_hash| {
                let repeated = previous == Some(*user_hash);
                previous = Some(*user_hash);
                !repeated
            })
    }

    /// The positions of the entries in `user_hash`'s bucket (all entries without a directory).
    fn bucket_range(&self, user_hash: u64) -> std::ops::Range<usize> {
        if self.directory.is_empty() {
            return 0..self.entries.len();
        }
        let bucket = bucket_of(user_hash, self.bucket_bits);
        self.directory[bucket] as usize..self.directory[bucket + 1] as usize
    }

    fn position(&self, entry: &IndexEntry) -> Option<usize> {
        self.search(entry).ok()
    }

    /// Like `self.entries.binary_search(entry)` (positions in the whole vector), searching only
    /// `entry`'s bucket.
    fn search(&self, entry: &IndexEntry) -> Result<usize, usize> {
        let bucket = self.bucket_range(entry.user_hash);
        // The hash's bits below the directory's: where it falls within its bucket's span.
        let within_bucket = entry.user_hash << self.bucket_bits;
        interpolation_search(&self.entries[bucket.clone()], entry, within_bucket)
            .map(|offset| bucket.start + offset)
            .map_err(|offset| bucket.start + offset)
    }

    fn set_seen(&self, position: usize) {
        self.seen[position / 64].fetch_or(1 << (position % 64), Ordering::Relaxed);
    }

    fn is_seen_at(&self, position: usize) -> bool {
        self.seen[position / 64].load(Ordering::Relaxed) & (1 << (position % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user_id: &str, fingerprint_byte: u8) -> MemberRow {
        MemberRow {
            user_id: user_id.to_owned(),
            fingerprint: [fingerprint_byte; 16],
            wire_row: vec![],
        }
    }

    #[test]
    fn observe_classifies_new_unchanged_and_changed_users() {
        let rows = [row("a", 1), row("b", 2), row("c", 3)];
        let index = MemberIndex::from_rows(&rows);
        assert_eq!(index.observe("a", &[1; 16]), Observed::Unchanged);
        assert_eq!(index.observe("b", &[9; 16]), Observed::PossiblyChanged);
        assert_eq!(index.observe("zz", &[1; 16]), Observed::New);
        assert_eq!(index.unseen_count(), 2);
        assert!(index.mark_seen(&rows[1]));
        assert!(!index.mark_seen(&row("zz", 1)));
        let unseen: Vec<u64> = index.unseen_user_hashes().collect();
        assert_eq!(unseen, vec![user_id_hash("c")]);
        assert!(index.is_unseen(&rows[2]));
        assert!(!index.is_unseen(&rows[0]));
    }

    #[test]
    fn a_user_key_observes_like_its_user_id() {
        let rows = [row("a", 1), row("b", 2)];
        let index = MemberIndex::from_rows(&rows);
        assert_eq!(UserKey::new("a").hash(), user_id_hash("a"));
        assert_ne!(UserKey::new("a"), UserKey::new("b"));
        assert_eq!(
            index.observe_key(UserKey::new("a"), &[1; 16]),
            Observed::Unchanged
        );
        assert_eq!(
            index.observe_key(UserKey::new("b"), &[3; 16]),
            Observed::PossiblyChanged
        );
        assert_eq!(
            index.observe_key(UserKey::new("c"), &[1; 16]),
            Observed::New
        );
        assert_eq!(index.unseen_count(), 1);
    }

    #[test]
    fn colliding_user_hashes_are_told_apart_by_their_check() {
        // Two entries with one user hash, as two colliding user ids would produce.
        let a = IndexEntry::new("a", &[1; 16]);
        let other = IndexEntry {
            user_hash: a.user_hash,
            check: a.check.wrapping_add(1),
        };
        let index = MemberIndex::from_entries(vec![other, a]);
        assert_eq!(index.observe("a", &[1; 16]), Observed::Unchanged);
        // The other member is still unseen, and its hash is still listed for removal.
        assert_eq!(index.unseen_count(), 1);
        assert_eq!(
            index.unseen_user_hashes().collect::<Vec<_>>(),
            vec![a.user_hash]
        );
        assert!(!index.is_unseen(&row("a", 1)));
    }

    /// SplitMix64: a deterministic pseudo-random sequence for the tests.
    fn next_random(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(*state)
    }

    fn random_fingerprint(state: &mut u64) -> Fingerprint {
        let mut fingerprint = [0u8; 16];
        fingerprint[..8].copy_from_slice(&next_random(state).to_le_bytes());
        fingerprint[8..].copy_from_slice(&next_random(state).to_le_bytes());
        fingerprint
    }

    #[test]
    fn the_directory_gives_the_same_answers_as_a_search_of_the_whole_vector() {
        const N_MEMBERS: usize = 200_000;
        let mut state = 42;
        let members: Vec<(String, Fingerprint)> = (0..N_MEMBERS)
            .map(|_| {
                let user_id = format!("user-{:016x}", next_random(&mut state));
                (user_id, random_fingerprint(&mut state))
            })
            .collect();
        let mut entries: Vec<IndexEntry> = members
            .iter()
            .map(|(user_id, fingerprint)| IndexEntry::new(user_id, fingerprint))
            .collect();
        // Every 1,000th member also collides with a stored entry of another check, and the
        // extreme hashes sit in the first and last buckets.
        for member_idx in (0..N_MEMBERS).step_by(1_000) {
            entries.push(IndexEntry {
                user_hash: entries[member_idx].user_hash,
                check: entries[member_idx].check ^ 1,
            });
        }
        for user_hash in [0, 1, u64::MAX - 1, u64::MAX] {
            entries.push(IndexEntry {
                user_hash,
                check: 7,
            });
        }
        let with_directory = MemberIndex::from_entries(entries.clone());
        let without_directory = MemberIndex::with_bucket_bits(entries, 0);
        assert_eq!(with_directory.bucket_bits, 13);
        assert!(without_directory.directory.is_empty());
        let bytes_per_member = with_directory.heap_bytes() as f64 / with_directory.len() as f64;
        assert!(
            bytes_per_member <= 16.38,
            "{bytes_per_member} bytes per member"
        );

        // The source: 3/4 of the members, every 10th of them with changed keys, and new users.
        let mut counts = [0usize; 3];
        for (member_idx, (user_id, fingerprint)) in members.iter().enumerate() {
            if member_idx % 4 == 3 {
                continue;
            }
            let fingerprint = if member_idx % 10 == 0 {
                random_fingerprint(&mut state)
            } else {
                *fingerprint
            };
            let answer = with_directory.observe(user_id, &fingerprint);
            assert_eq!(
                answer,
                without_directory.observe(user_id, &fingerprint),
                "member {member_idx}"
            );
            counts[answer as usize] += 1;
        }
        for _ in 0..50_000 {
            let user_id = format!("new-{:016x}", next_random(&mut state));
            let fingerprint = random_fingerprint(&mut state);
            let answer = with_directory.observe(&user_id, &fingerprint);
            assert_eq!(answer, without_directory.observe(&user_id, &fingerprint));
            counts[answer as usize] += 1;
        }
        // All three answers occur, so the comparison covered each.
        assert!(counts.iter().all(|count| *count > 10_000), "{counts:?}");

        for (member_idx, (user_id, fingerprint)) in members.iter().enumerate().step_by(7) {
            let row = MemberRow {
                user_id: user_id.clone(),
                fingerprint: *fingerprint,
                wire_row: vec![],
            };
            assert_eq!(
                with_directory.is_unseen(&row),
                without_directory.is_unseen(&row),
                "member {member_idx}"
            );
            assert_eq!(
                with_directory.mark_seen(&row),
                without_directory.mark_seen(&row)
            );
        }
        assert_eq!(
            with_directory.unseen_count(),
            without_directory.unseen_count()
        );
        assert!(
            with_directory
                .unseen_user_hashes()
                .eq(without_directory.unseen_user_hashes())
        );
    }

    #[test]
    fn interpolation_search_answers_like_a_binary_search_of_the_whole_vector() {
        let mut state = 7;
        let mut entries: Vec<IndexEntry> = (0..20_000)
            .map(|_| IndexEntry {
                user_hash: next_random(&mut state),
                check: next_random(&mut state),
            })
            .collect();
        // A run of 200 entries with one hash (far more than MAX_LINEAR_STEPS: the binary
        // search fallback) and the extreme hashes.
        let crowded_hash = entries[0].user_hash;
        entries.extend((0..200).map(|check| IndexEntry {
            user_hash: crowded_hash,
            check: check * 2,
        }));
        entries.extend([0, 1, u64::MAX].map(|user_hash| IndexEntry {
            user_hash,
            check: 5,
        }));
        let mut probes: Vec<IndexEntry> = Vec::new();
        for entry in &entries {
            probes.push(*entry);
            for check in [entry.check.wrapping_sub(1), entry.check.wrapping_add(1)] {
                probes.push(IndexEntry {
                    user_hash: entry.user_hash,
                    check,
                });
            }
        }
        probes.extend((0..20_000).map(|_| IndexEntry {
            user_hash: next_random(&mut state),
            check: next_random(&mut state),
        }));
        probes.extend([0, u64::MAX].map(|user_hash| IndexEntry {
            user_hash,
            check: 0,
        }));
        probes.push(IndexEntry {
            user_hash: u64::MAX,
            check: u64::MAX,
        });
        for bucket_bits in [bucket_bits_for(entries.len()), 0] {
            let index = MemberIndex::with_bucket_bits(entries.clone(), bucket_bits);
            let mut n_found = 0;
            for probe in &probes {
                let expected = index.entries.binary_search(probe);
                assert_eq!(
                    index.search(probe),
                    expected,
                    "{probe:?}, {bucket_bits} bits"
                );
                n_found += usize::from(expected.is_ok());
            }
            assert_eq!(n_found, entries.len());
        }
    }

    #[test]
    fn directories_hold_16_to_32_members_per_bucket() {
        assert_eq!(bucket_bits_for(0), 0);
        assert_eq!(bucket_bits_for(31), 0);
        assert_eq!(bucket_bits_for(32), 1);
        assert_eq!(bucket_bits_for(1_000_000), 15);
        assert_eq!(bucket_bits_for(10_000_000), 19);
        assert_eq!(bucket_of(u64::MAX, 19), (1 << 19) - 1);
        assert_eq!(bucket_of(1 << 44, 19), 0);
        assert_eq!(bucket_of(1 << 44, 20), 1);
    }

    #[test]
    fn an_entry_is_sixteen_bytes() {
        assert_eq!(size_of::<IndexEntry>(), 16);
    }
}
