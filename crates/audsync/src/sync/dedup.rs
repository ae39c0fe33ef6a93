//! `UserHashSet`: the compact set of user-id hashes a diff has met, so that the first row of a
//! user id wins and later rows with that id are rejected as duplicates.
//!
//! # Why not a `HashSet<u64>`
//! A 10M-user rerun must stay under 512 MiB (issue 4, "Measure") beside the 160 MB member
//! index. `std`'s `HashSet<u64>` rounds to a power of two of buckets with a control byte each:
//! 151 MB for 10M hashes. This open-addressing table of bare `u64`s at a load of at most 7/8
//! takes 8 bytes per slot: **91 MB for 10M hashes**. The hashes are SHA-256 prefixes
//! ([`crate::store::user_id_hash`]), already uniform, so the slot is the hash scaled to the
//! table (no second hash).
//!
//! The table is split into [`N_SHARDS`] shards by the hash's top bits, each growing alone (by
//! half), so that growing never holds two whole tables at once. A first sync has nothing stored
//! to size the set from: at 10M users its last growth held the old and the new table at once,
//! 83 + 124 MB, near the end of the run where its RSS peaked (523 MiB; 488 MiB with shards and
//! without a copy of each batch, BENCHMARKS.md "Sync"); a shard's growth holds 1/64 of that.
//!
//! Two user ids share a 64-bit hash with probability about n²/2⁶⁵ (3·10⁻⁶ for 10M users); the
//! later one would then be reported as a duplicate, visibly, never dropped silently.

/// The slot value meaning "empty"; a hash equal to it is stored as [`ZERO_STAND_IN`].
const EMPTY: u64 = 0;

/// What a hash of 0 is stored as (it then shares a slot value with the hash 1).
const ZERO_STAND_IN: u64 = 1;

/// Smallest shard, in slots.
const MIN_SLOTS: usize = 16;

/// Shards are picked by this many top bits of the hash. Our choice: 64 shards keep a shard's
/// growth to 1/64 of the set (2 MB at 10M users) and cost 1 KiB when empty.
const SHARD_BITS: u32 = 6;

/// Number of shards.
const N_SHARDS: usize = 1 << SHARD_BITS;

/// A set of 64-bit user hashes (see the module doc).
#[derive(Debug, Clone)]
pub struct UserHashSet {
    shards: Vec<Shard>,
    len: usize,
}

/// The hashes with one value of the top [`SHARD_BITS`] bits: an open-addressing table.
#[derive(Debug, Clone)]
struct Shard {
    slots: Vec<u64>,
    len: usize,
}

impl UserHashSet {
    /// A set that holds `capacity` hashes, spread evenly, without growing.
    pub fn with_capacity(capacity: usize) -> UserHashSet {
        let n_slots = slots_for(capacity.div_ceil(N_SHARDS));
        UserHashSet {
            shards: (0..N_SHARDS)
                .map(|_| Shard {
                    slots: vec![EMPTY; n_slots],
                    len: 0,
                })
                .collect(),
            len: 0,
        }
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.shards.capacity() * size_of::<Shard>()
            + self
                .shards
                .iter()
                .map(|shard| shard.slots.capacity() * size_of::<u64>())
                .sum::<usize>()
    }

    /// Adds `hash`; false when it was already there.
    pub fn insert(&mut self, hash: u64) -> bool {
        let hash = stored(hash);
        let added = self.shards[shard_of(hash)].insert(hash);
        self.len += usize::from(added);
        added
    }

    /// Whether `hash` is held.
    pub fn contains(&self, hash: u64) -> bool {
        let hash = stored(hash);
        self.shards[shard_of(hash)].contains(hash)
    }

    /// The hashes held, in no particular order (a hash of 0 comes back as 1).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.shards
            .iter()
            .flat_map(|shard| shard.slots.iter().copied())
            .filter(|hash| *hash != EMPTY)
    }
}

impl Shard {
    /// Adds a stored hash of this shard; false when it was already there.
    fn insert(&mut self, hash: u64) -> bool {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let mut slot = home(hash, self.slots.len());
        loop {
            match self.slots[slot] {
                EMPTY => {
                    self.slots[slot] = hash;
                    self.len += 1;
                    return true;
                }
                held if held == hash => return false,
                _ => slot = (slot + 1) % self.slots.len(),
            }
        }
    }

    fn contains(&self, hash: u64) -> bool {
        let mut slot = home(hash, self.slots.len());
        loop {
            match self.slots[slot] {
                EMPTY => return false,
                held if held == hash => return true,
                _ => slot = (slot + 1) % self.slots.len(),
            }
        }
    }

    /// Grows by half (not double): the old and new tables coexist while rehashing.
    fn grow(&mut self) {
        let n_slots = self.slots.len() + self.slots.len() / 2;
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; n_slots]);
        self.len = 0;
        for hash in old.into_iter().filter(|hash| *hash != EMPTY) {
            self.insert(hash);
        }
    }
}

fn slots_for(capacity: usize) -> usize {
    (capacity.saturating_mul(8) / 7 + 1).max(MIN_SLOTS)
}

fn stored(hash: u64) -> u64 {
    if hash == EMPTY { ZERO_STAND_IN } else { hash }
}

/// The shard of a stored hash: its top bits.
fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// The slot a stored hash starts probing at in its shard: the bits below the shard's, scaled to
/// the shard's length.
fn home(hash: u64, n_slots: usize) -> usize {
    // The product's high half is below n_slots.
    ((u128::from(hash << SHARD_BITS) * n_slots as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_report_newness_and_survive_growth() {
        let mut set = UserHashSet::with_capacity(4);
        let hashes: Vec<u64> = (0..10_000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for hash in &hashes {
            assert!(set.insert(*hash));
        }
        for hash in &hashes {
            assert!(!set.insert(*hash), "{hash} was already there");
            assert!(set.contains(*hash));
        }
        assert_eq!(set.len(), hashes.len());
        assert!(!set.contains(12345));
    }

    #[test]
    fn zero_and_colliding_slots_are_handled() {
        let mut set = UserHashSet::with_capacity(16);
        assert!(set.insert(0));
        assert!(set.contains(0));
        assert!(!set.insert(0));
        // Hashes with the same top bits land on the same home slot and probe onwards.
        assert!(set.insert(u64::MAX));
        assert!(set.insert(u64::MAX - 1));
        assert!(set.contains(u64::MAX) && set.contains(u64::MAX - 1));
    }

    #[test]
    fn a_shard_grows_alone_and_iteration_sees_every_hash_once() {
        let mut set = UserHashSet::with_capacity(N_SHARDS * 100);
        let slots_before: Vec<usize> = set.shards.iter().map(|shard| shard.slots.len()).collect();
        // 1,000 hashes whose top bits are all 0: ten times what the first shard was sized for.
        let hashes: Vec<u64> = (1..=1_000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> SHARD_BITS)
            .collect();
        for hash in &hashes {
            assert!(set.insert(*hash));
        }
        assert!(set.shards[0].slots.len() >= 1_000 * 8 / 7);
        for (shard, n_slots) in set.shards.iter().zip(&slots_before).skip(1) {
            assert_eq!(shard.slots.len(), *n_slots, "another shard grew");
        }
        let mut seen: Vec<u64> = set.iter().collect();
        seen.sort_unstable();
        let mut expected = hashes.clone();
        expected.sort_unstable();
        assert_eq!(seen, expected);
    }

    #[test]
    fn ten_million_hashes_take_about_ninety_megabytes() {
        let set = UserHashSet::with_capacity(10_000_000);
        assert!(set.heap_bytes() < 92_000_000, "{}", set.heap_bytes());
    }
}
