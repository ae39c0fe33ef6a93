//! The engine's memo caches: per kind of key, raw cell (and its context) → digest and a few
//! kind-specific bytes, or the reason the value is absent; and SHA-256 digests of first
//! initials. Bounded, per thread (inside a `Scratch`), and never consulted for the pre-hash
//! text, so a memo can only save time, never change an answer.

use crate::hash::{DIGEST_LEN, sha256};
use crate::normalize::AbsentReason;

type Digest = [u8; DIGEST_LEN];

/// Sets per memo (a power of two), of [`MEMO_WAYS`] 64-byte entries each: 256 KiB per kind
/// of key at most, of which a lookup touches one line. A file's few hundred distinct names,
/// cities or states touch a few dozen KiB and stay in the core's L2 cache; a kind with many
/// distinct values switches its memo off (see [`MIN_HIT_RATE_DIVISOR`]). A hit must cost
/// less than the normalizer and the SHA-256 it saves (~70 ns for the hash alone,
/// crate-choices.md §4).
const MEMO_SETS: usize = 2048;

/// log2 of [`MEMO_SETS`].
const MEMO_SET_BITS: u32 = 11;

/// Entries per set: a value seen again finds its entry unless two newer values of the same
/// set came in between (a direct-mapped table of 2,048 entries lost 13% of name lookups to
/// collisions on the benchmark file).
const MEMO_WAYS: usize = 2;

/// Values one memo holds at most.
#[cfg(test)]
pub(crate) const MEMO_CAPACITY: usize = MEMO_SETS * MEMO_WAYS;

/// Longest raw value a memo entry holds inline (so that an entry is one cache line); longer
/// values are normalized every time.
pub(crate) const MEMO_RAW_CAP: usize = 23;

/// `raw_len` of an unused entry (longer than any memoized value).
const UNUSED: u8 = u8::MAX;

/// Lookups per measuring window of a memo's hit rate.
const WINDOW_LOOKUPS: u32 = 8 * 1024;

/// A memo whose hits in a window were fewer than one lookup in this many is switched off for
/// [`WINDOWS_OFF`] windows: a missed lookup costs a cache miss and an insertion for nothing
/// (postcodes, mostly unique, hit 15% of the time on the benchmark file).
const MIN_HIT_RATE_DIVISOR: u32 = 4;

/// Windows a memo with too few hits stays off before it measures again.
const WINDOWS_OFF: u32 = 7;

/// Up to four bytes a memo keeps beside a digest: the first initial of a name, the country
/// table index of a country, the gender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    bytes: [u8; 4],
    len: u8,
}

impl Extra {
    /// `bytes`, if they fit.
    pub(crate) fn new(bytes: &[u8]) -> Option<Extra> {
        let mut extra = Extra::default();
        extra.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        // At most four.
        extra.len = bytes.len() as u8;
        Some(extra)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// What a memo knows of a raw value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Remembered {
    Present { digest: Digest, extra: Extra },
    Absent(AbsentReason),
}

/// The answer of [`Memo::lookup`].
pub(crate) enum Lookup {
    Hit(Remembered),
    /// Not known: normalize, then [`Memo::remember`].
    Miss,
    /// The memo is off for now (too few hits): normalize, and do not remember.
    Off,
}

/// A raw value as entries hold it: its bytes zero-padded, and its length in the last byte
/// ([`UNUSED`] there marks an unused entry), so that a lookup compares 24 fixed bytes.
type Key = [u8; MEMO_RAW_CAP + 1];

/// The [`Key`] of `raw` (at most [`MEMO_RAW_CAP`] bytes).
fn key_of(raw: &[u8]) -> Option<Key> {
    let mut key = [0u8; MEMO_RAW_CAP + 1];
    key.get_mut(..raw.len())?.copy_from_slice(raw);
    // At most MEMO_RAW_CAP (23).
    key[MEMO_RAW_CAP] = u8::try_from(raw.len()).ok().filter(|len| *len != UNUSED)?;
    Some(key)
}

/// One remembered value: 64 bytes, one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    key: Key,
    context: u16,
    /// 0: present; `n`: absent for the memo's reason `n - 1`.
    outcome: u8,
    extra: Extra,
    digest: Digest,
}

impl Entry {
    const UNUSED: Entry = Entry {
        key: {
            let mut key = [0; MEMO_RAW_CAP + 1];
            key[MEMO_RAW_CAP] = UNUSED;
            key
        },
        context: 0,
        outcome: 0,
        extra: Extra {
            bytes: [0; 4],
            len: 0,
        },
        digest: [0; DIGEST_LEN],
    };

    fn holds(&self, key: &Key, context: u16) -> bool {
        self.key == *key && self.context == context
    }

    fn is_used(&self) -> bool {
        self.key[MEMO_RAW_CAP] != UNUSED
    }
}

/// A bounded two-way set-associative memo of one kind of key (created empty; it allocates
/// on first use).
#[derive(Default)]
pub(crate) struct Memo {
    entries: Vec<Entry>,
    /// The absent reasons entries refer to (a handful per kind).
    reasons: Vec<AbsentReason>,
    window_lookups: u32,
    window_hits: u32,
    /// Windows left with the memo off.
    windows_off: u32,
}

/// Multiplier of the memo hash (FxHash's).
const HASH_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

fn set_of(key: &Key, context: u16) -> usize {
    let word = |index: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&key[index * 8..index * 8 + 8]);
        u64::from_le_bytes(word)
    };
    // Context and the last word (with the length) are mixed in first, so that short values of
    // different contexts spread over the sets too.
    let mut hash = ((u64::from(context) << 32) ^ word(2)).wrapping_mul(HASH_MULTIPLIER);
    for index in 0..2 {
        hash = (hash.rotate_left(5) ^ word(index)).wrapping_mul(HASH_MULTIPLIER);
    }
    // The shift leaves MEMO_SET_BITS bits, below MEMO_SETS.
    (hash >> (64 - MEMO_SET_BITS)) as usize
}

impl Memo {
    /// What the memo knows of `raw` in `context` (the user's region for ST and ZIP, else 0).
    /// Empty cells (quicker to normalize than to look up) and values longer than
    /// [`MEMO_RAW_CAP`] are never remembered.
    pub(crate) fn lookup(&mut self, raw: &str, context: u16) -> Lookup {
        if raw.is_empty() || raw.len() > MEMO_RAW_CAP {
            return Lookup::Off;
        }
        let lookup = if self.windows_off > 0 {
            Lookup::Off
        } else {
            self.find(raw, context)
        };
        self.window_lookups += 1;
        self.window_hits += u32::from(matches!(lookup, Lookup::Hit(_)));
        if self.window_lookups >= WINDOW_LOOKUPS {
            self.end_window();
        }
        lookup
    }

    fn find(&mut self, raw: &str, context: u16) -> Lookup {
        if self.entries.is_empty() {
            self.entries = vec![Entry::UNUSED; MEMO_SETS * MEMO_WAYS];
        }
        let Some(key) = key_of(raw.as_bytes()) else {
            return Lookup::Off;
        };
        let set = set_of(&key, context) * MEMO_WAYS;
        let Some(ways) = self.entries.get(set..set + MEMO_WAYS) else {
            return Lookup::Off;
        };
        let Some(entry) = ways.iter().find(|entry| entry.holds(&key, context)) else {
            return Lookup::Miss;
        };
        Lookup::Hit(match entry.outcome {
            0 => Remembered::Present {
                digest: entry.digest,
                extra: entry.extra,
            },
            n => match self.reasons.get(usize::from(n) - 1) {
                Some(reason) => Remembered::Absent(*reason),
                None => return Lookup::Miss,
            },
        })
    }

    /// Remembers what `raw` in `context` gave, after a [`Lookup::Miss`]. The newest value of a
    /// set goes first; the older one moves to the second way, and the one there is dropped.
    pub(crate) fn remember(&mut self, raw: &str, context: u16, remembered: Remembered) {
        let (outcome, extra, digest) = match remembered {
            Remembered::Present { digest, extra } => (0, extra, digest),
            Remembered::Absent(reason) => {
                let index = match self.reasons.iter().position(|known| *known == reason) {
                    Some(index) => index,
                    None => {
                        self.reasons.push(reason);
                        self.reasons.len() - 1
                    }
                };
                let Ok(outcome) = u8::try_from(index + 1) else {
                    return;
                };
                (outcome, Extra::default(), [0; DIGEST_LEN])
            }
        };
        let Some(key) = key_of(raw.as_bytes()) else {
            return;
        };
        let entry = Entry {
            key,
            context,
            outcome,
            extra,
            digest,
        };
        let set = set_of(&key, context) * MEMO_WAYS;
        if let Some(ways) = self.entries.get_mut(set..set + MEMO_WAYS) {
            ways.copy_within(0..MEMO_WAYS - 1, 1);
            ways[0] = entry;
        }
    }

    /// Closes a measuring window: a memo with too few hits goes off for a while, then
    /// measures again.
    fn end_window(&mut self) {
        if self.windows_off > 0 {
            self.windows_off -= 1;
        } else if self.window_hits * MIN_HIT_RATE_DIVISOR < self.window_lookups {
            self.windows_off = WINDOWS_OFF;
        }
        self.window_lookups = 0;
        self.window_hits = 0;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        *self = Memo::default();
    }

    /// Values remembered.
    pub(crate) fn n_remembered(&self) -> usize {
        self.entries.iter().filter(|entry| entry.is_used()).count()
    }
}

/// Entries of the first-initial digest memo (a power of two).
const INITIAL_SLOTS: usize = 256;

/// SHA-256 digests of non-ASCII first initials (`é`, `ø`, `王`, `민`), direct-mapped by the
/// initial's bytes: a few hundred distinct initials cover a customer file.
#[derive(Default)]
pub(crate) struct InitialDigests {
    entries: Vec<(Extra, Digest)>,
}

impl InitialDigests {
    /// The digest of `initial`, from the memo when it was seen before.
    pub(crate) fn digest(&mut self, initial: &str) -> Digest {
        let Some(key) = Extra::new(initial.as_bytes()).filter(|key| key.len > 0) else {
            return sha256(initial);
        };
        if self.entries.is_empty() {
            self.entries = vec![(Extra::default(), [0; DIGEST_LEN]); INITIAL_SLOTS];
        }
        let slot = (u32::from_le_bytes(key.bytes).wrapping_mul(0x9e37_79b9) >> 24) as usize
            % INITIAL_SLOTS;
        let entry = &mut self.entries[slot];
        if entry.0 != key {
            *entry = (key, sha256(initial));
        }
        entry.1
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(byte: u8) -> Remembered {
        Remembered::Present {
            digest: [byte; DIGEST_LEN],
            extra: Extra::new(&[byte]).unwrap(),
        }
    }

    fn hit_digest(memo: &mut Memo, raw: &str, context: u16) -> Option<u8> {
        match memo.lookup(raw, context) {
            Lookup::Hit(Remembered::Present { digest, .. }) => Some(digest[0]),
            _ => None,
        }
    }

    #[test]
    fn entries_are_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
    }

    #[test]
    fn remembers_values_reasons_and_contexts() {
        let mut memo = Memo::default();
        assert!(matches!(memo.lookup("Paris", 0), Lookup::Miss));
        memo.remember("Paris", 0, present(7));
        assert_eq!(hit_digest(&mut memo, "Paris", 0), Some(7));
        assert!(matches!(memo.lookup("Paris", 3), Lookup::Miss));
        let reason = AbsentReason::Invalid("no letters");
        memo.remember("123", 0, Remembered::Absent(reason));
        assert!(matches!(
            memo.lookup("123", 0),
            Lookup::Hit(Remembered::Absent(found)) if found == reason
        ));
        assert!(matches!(
            memo.lookup(&"x".repeat(MEMO_RAW_CAP + 1), 0),
            Lookup::Off
        ));
    }

    #[test]
    fn empty_values_are_not_looked_up_and_contexts_spread_over_the_sets() {
        let mut memo = Memo::default();
        assert!(matches!(memo.lookup("", 0), Lookup::Off));
        let sets: std::collections::HashSet<usize> = (0..250u16)
            .map(|context| set_of(&key_of(b"ny").unwrap(), context))
            .collect();
        assert!(sets.len() > 200, "250 contexts fell in {} sets", sets.len());
    }

    #[test]
    fn a_set_keeps_its_two_newest_values() {
        let mut memo = Memo::default();
        // Three values of one set.
        let mut same_set = Vec::new();
        let target = set_of(&key_of(b"v0").unwrap(), 0);
        for index in 0.. {
            let raw = format!("v{index}");
            if set_of(&key_of(raw.as_bytes()).unwrap(), 0) == target {
                same_set.push(raw);
                if same_set.len() == 3 {
                    break;
                }
            }
        }
        for (byte, raw) in (1..).zip(&same_set) {
            assert!(matches!(memo.lookup(raw, 0), Lookup::Miss));
            memo.remember(raw, 0, present(byte));
        }
        assert!(matches!(memo.lookup(&same_set[0], 0), Lookup::Miss));
        assert_eq!(hit_digest(&mut memo, &same_set[1], 0), Some(2));
        assert_eq!(hit_digest(&mut memo, &same_set[2], 0), Some(3));
    }

    #[test]
    fn a_memo_that_never_hits_switches_off_and_measures_again() {
        let mut memo = Memo::default();
        let mut n_off = 0;
        for index in 0..(WINDOW_LOOKUPS * (WINDOWS_OFF + 2)) {
            let raw = format!("{index}");
            match memo.lookup(&raw, 0) {
                Lookup::Miss => memo.remember(&raw, 0, present(1)),
                Lookup::Off => n_off += 1,
                Lookup::Hit(_) => panic!("{raw} was never seen"),
            }
        }
        assert_eq!(n_off, WINDOW_LOOKUPS * WINDOWS_OFF);
        // Values that repeat keep it on.
        let mut memo = Memo::default();
        for index in 0..(WINDOW_LOOKUPS * 4) {
            let raw = format!("{}", index % 100);
            match memo.lookup(&raw, 0) {
                Lookup::Miss => memo.remember(&raw, 0, present(1)),
                Lookup::Off => panic!("switched off at {index}"),
                Lookup::Hit(_) => {}
            }
        }
    }

    #[test]
    fn initial_digests_are_the_sha256_of_the_initial() {
        let mut initials = InitialDigests::default();
        for initial in ["é", "ø", "王", "민", "é", "a\u{301}", "𝒜", "é"] {
            assert_eq!(initials.digest(initial), sha256(initial), "{initial}");
        }
        assert_eq!(
            initials.digest("ab\u{301}\u{302}"),
            sha256("ab\u{301}\u{302}")
        );
    }
}
