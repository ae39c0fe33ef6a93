//! `Member` (one user's keys in the fixed 16-slot schema, with a stable fingerprint),
//! `KeyValue`, the per-key absent reasons, and the outcomes of processing a row.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::eligibility::RejectReason;
use crate::hash::{DIGEST_LEN, HEX_DIGEST_LEN, hex_str};
use crate::key::{KeySet, MatchKey, N_KEYS};
use crate::normalize::AbsentReason;

/// One key's value as sent to Meta.
///
/// `Debug` never shows raw values: a digest prints as its hex, a plain value (EXTERN_ID,
/// MADID, LOOKALIKE_VALUE) as its length only. EXTERN_ID may be stored and shown by the
/// application; MADID is a device identifier, so the core redacts all plain values alike.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum KeyValue {
    /// Nothing to send: written as `""`, never hashed.
    #[default]
    Absent,
    /// SHA-256 of the normalized value (or a pre-hashed input), written as 64 lowercase hex.
    Hashed([u8; DIGEST_LEN]),
    /// An unhashed value (EXTERN_ID, MADID, LOOKALIKE_VALUE), written as is.
    Plain(Box<str>),
}

impl KeyValue {
    /// Appends the wire form: 64 lowercase hex for a digest, the text for a plain value,
    /// nothing for an absent one.
    pub fn write_wire(&self, out: &mut String) {
        match self {
            KeyValue::Absent => {}
            KeyValue::Hashed(digest) => {
                let mut buffer = [0u8; HEX_DIGEST_LEN];
                out.push_str(hex_str(digest, &mut buffer));
            }
            KeyValue::Plain(text) => out.push_str(text),
        }
    }

    /// Whether there is nothing to send.
    pub fn is_absent(&self) -> bool {
        matches!(self, KeyValue::Absent)
    }

    /// The digest, for a hashed value.
    pub fn digest(&self) -> Option<&[u8; DIGEST_LEN]> {
        match self {
            KeyValue::Hashed(digest) => Some(digest),
            _ => None,
        }
    }

    /// The text, for a plain value.
    pub fn plain(&self) -> Option<&str> {
        match self {
            KeyValue::Plain(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Absent => formatter.write_str("Absent"),
            KeyValue::Hashed(digest) => {
                let mut buffer = [0u8; HEX_DIGEST_LEN];
                write!(formatter, "Hashed({})", hex_str(digest, &mut buffer))
            }
            KeyValue::Plain(text) => write!(formatter, "Plain(<redacted, {} bytes>)", text.len()),
        }
    }
}

/// For each key, why a value that was provided ended up absent (`None`: present or not
/// provided). Holds reasons only, never values.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AbsentReasons([Option<AbsentReason>; N_KEYS]);

impl AbsentReasons {
    /// The reason for `key`, if it was provided and is absent.
    pub fn get(&self, key: MatchKey) -> Option<AbsentReason> {
        self.0[key.index()]
    }

    pub(crate) fn set(&mut self, key: MatchKey, reason: Option<AbsentReason>) {
        self.0[key.index()] = reason;
    }

    /// `(key, reason)` in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (MatchKey, AbsentReason)> + '_ {
        MatchKey::ALL
            .into_iter()
            .filter_map(|key| self.get(key).map(|reason| (key, reason)))
    }

    /// The keys whose value was provided but unreadable (not merely blank).
    pub fn invalid_keys(&self) -> KeySet {
        self.iter()
            .filter(|(_, reason)| matches!(reason, AbsentReason::Invalid(_)))
            .map(|(key, _)| key)
            .collect()
    }

    /// Whether no key has a reason.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

impl fmt::Debug for AbsentReasons {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

/// One user's row of keys in Meta's fixed schema ([`MatchKey::ALL`] order), ready to send.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Member {
    pub(crate) values: [KeyValue; N_KEYS],
    pub(crate) absent: AbsentReasons,
}

/// Domain-separation prefix of [`Member::fingerprint`]; bump the version if the encoding ever
/// changes (it must not change silently: stored fingerprints would all look changed).
const FINGERPRINT_DOMAIN: &[u8] = b"audsync member fingerprint v1\0";

impl Member {
    /// The value of `key`.
    pub fn get(&self, key: MatchKey) -> &KeyValue {
        &self.values[key.index()]
    }

    /// Keys with a value, in schema order.
    pub fn present(&self) -> KeySet {
        MatchKey::ALL
            .into_iter()
            .filter(|key| !self.get(*key).is_absent())
            .collect()
    }

    /// Keys that were provided but normalized to absent, with the reason (for the summary).
    pub fn absent(&self) -> impl Iterator<Item = (MatchKey, AbsentReason)> + '_ {
        self.absent.iter()
    }

    /// A 128-bit fingerprint of the row as sent, for detecting changes between runs: the first
    /// 16 bytes (big-endian) of SHA-256 over a versioned, length-prefixed encoding of every
    /// slot. It depends only on the values, so it is stable across versions and platforms.
    pub fn fingerprint(&self) -> u128 {
        let mut hasher = Sha256::new();
        hasher.update(FINGERPRINT_DOMAIN);
        for (index, value) in self.values.iter().enumerate() {
            // The index is below 16.
            let slot = [index as u8];
            hasher.update(slot);
            match value {
                KeyValue::Absent => hasher.update([0u8]),
                KeyValue::Hashed(digest) => {
                    hasher.update([1u8]);
                    hasher.update(digest);
                }
                KeyValue::Plain(text) => {
                    hasher.update([2u8]);
                    hasher.update(u64::try_from(text.len()).unwrap_or(u64::MAX).to_be_bytes());
                    hasher.update(text.as_bytes());
                }
            }
        }
        let digest: [u8; DIGEST_LEN] = hasher.finalize().into();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        u128::from_be_bytes(first)
    }

    /// Appends the wire form of `key` (see [`KeyValue::write_wire`]).
    pub fn write_wire(&self, key: MatchKey, out: &mut String) {
        self.get(key).write_wire(out);
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = formatter.debug_map();
        for key in MatchKey::ALL {
            let value = self.get(key);
            if !value.is_absent() {
                map.entry(&key, value);
            }
        }
        map.finish()
    }
}

/// A user that is not sent, and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rejection {
    pub reason: RejectReason,
    /// Why each provided key was absent.
    pub absent: AbsentReasons,
}

/// What processing one row gave.
///
/// A `Member` is about 1 KiB (16 slots plus their absent reasons) and is moved once, to the
/// writer; boxing it would cost an allocation per row, so the size difference is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum RowOutcome {
    Member(Member),
    Rejected(Rejection),
}

/// The pre-hash canonical strings of one row (`--emit normalized`), its absent reasons, and the
/// rejection if the row would not be sent. The strings are personal data: `Debug` shows only
/// which keys are present.
#[derive(Clone, PartialEq, Eq)]
pub struct NormalizedOutcome {
    pub(crate) values: [Option<String>; N_KEYS],
    pub(crate) absent: AbsentReasons,
    pub(crate) rejection: Option<Rejection>,
}

impl NormalizedOutcome {
    /// The normalized string of `key` (a pre-hashed input is its lowercase hex).
    pub fn get(&self, key: MatchKey) -> Option<&str> {
        self.values[key.index()].as_deref()
    }

    /// Keys with a value.
    pub fn present(&self) -> KeySet {
        MatchKey::ALL
            .into_iter()
            .filter(|key| self.get(*key).is_some())
            .collect()
    }

    /// Keys that were provided but normalized to absent, with the reason.
    pub fn absent(&self) -> impl Iterator<Item = (MatchKey, AbsentReason)> + '_ {
        self.absent.iter()
    }

    /// Why the row would not be sent, if it would not.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    /// Whether the row would be sent.
    pub fn is_member(&self) -> bool {
        self.rejection.is_none()
    }
}

impl fmt::Debug for NormalizedOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NormalizedOutcome")
            .field("present", &self.present())
            .field("values", &"<redacted>")
            .field("absent", &self.absent)
            .field("rejection", &self.rejection)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    fn member_with(email: &str, extern_id: &str) -> Member {
        let mut values: [KeyValue; N_KEYS] = Default::default();
        values[MatchKey::Email.index()] = KeyValue::Hashed(sha256(email));
        values[MatchKey::ExternId.index()] = KeyValue::Plain(extern_id.into());
        Member {
            values,
            absent: AbsentReasons::default(),
        }
    }

    #[test]
    fn wire_forms() {
        let mut out = String::new();
        KeyValue::Hashed(sha256("mary@example.com")).write_wire(&mut out);
        assert_eq!(
            out,
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        out.clear();
        KeyValue::Plain("CRM-42".into()).write_wire(&mut out);
        assert_eq!(out, "CRM-42");
        out.clear();
        KeyValue::Absent.write_wire(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn debug_never_shows_plain_values() {
        let member = member_with("mary@example.com", "CRM-42-secret");
        let debug = format!("{member:?}");
        assert!(debug.contains("f1904cf1a9d73a55"), "{debug}");
        assert!(!debug.contains("CRM-42-secret"), "{debug}");
        assert!(!debug.contains("mary"), "{debug}");
    }

    /// The fingerprint of `member_with("mary@example.com", "CRM-42")`, computed once by v1.
    const PINNED_FINGERPRINT: u128 = 47144428888644487891616033916198842118;

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let member = member_with("mary@example.com", "CRM-42");
        // Pinned: a change here means every stored fingerprint would look changed.
        assert_eq!(
            member.fingerprint(),
            member_with("mary@example.com", "CRM-42").fingerprint()
        );
        assert_ne!(
            member.fingerprint(),
            member_with("mary@example.org", "CRM-42").fingerprint()
        );
        assert_ne!(
            member.fingerprint(),
            member_with("mary@example.com", "CRM-43").fingerprint()
        );
        assert_eq!(member.fingerprint(), PINNED_FINGERPRINT);
    }
}
