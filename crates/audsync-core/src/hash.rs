//! SHA-256 of normalized values, lowercase hex into stack buffers, and recognising input that
//! is already a SHA-256 hex digest.

use sha2::{Digest, Sha256};

/// Length of a SHA-256 digest in bytes.
pub const DIGEST_LEN: usize = 32;

/// Length of a SHA-256 digest written as hex (contract §4.1: lowercase `a`–`f`).
pub const HEX_DIGEST_LEN: usize = 64;

/// SHA-256 of the UTF-8 bytes of `normalized` (contract §4.1). `sha2` picks the CPU's SHA
/// extensions at run time (crate-choices.md §4).
///
/// Normalized values are short: one that fits a single block (up to 55 bytes, nearly all of
/// them) is padded here and goes straight to `sha2`'s compression function, which skips the
/// hasher's buffering and finalization (as much time as the compression itself for such
/// inputs). Longer values take the ordinary path. Both give the same digest (tests).
pub fn sha256(normalized: &str) -> [u8; DIGEST_LEN] {
    let bytes = normalized.as_bytes();
    if bytes.len() > MAX_ONE_BLOCK_LEN {
        return Sha256::digest(bytes).into();
    }
    let mut block = [0u8; BLOCK_LEN];
    block[..bytes.len()].copy_from_slice(bytes);
    block[bytes.len()] = 0x80;
    let n_bits = (bytes.len() as u64) * 8;
    block[BLOCK_LEN - 8..].copy_from_slice(&n_bits.to_be_bytes());
    let mut state = SHA256_INITIAL_STATE;
    sha2::block_api::compress256(&mut state, &[block]);
    let mut digest = [0u8; DIGEST_LEN];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// SHA-256 block size in bytes (FIPS 180-4 §5.1.1).
const BLOCK_LEN: usize = 64;

/// Longest message that pads into one block: one `0x80` byte and the 8-byte bit length
/// follow it (FIPS 180-4 §5.1.1).
const MAX_ONE_BLOCK_LEN: usize = BLOCK_LEN - 9;

/// SHA-256's initial hash value H(0) (FIPS 180-4 §5.3.3).
const SHA256_INITIAL_STATE: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Lowercase hex of a digest, into a stack buffer.
pub fn hex_lower(digest: &[u8; DIGEST_LEN]) -> [u8; HEX_DIGEST_LEN] {
    let mut hex = [0u8; HEX_DIGEST_LEN];
    // A 32-byte input always fits a 64-byte output, so this cannot fail.
    let _ = const_hex::encode_to_slice(digest, &mut hex);
    hex
}

/// The lowercase hex of `digest` as a `&str` borrowed from `buffer`.
pub fn hex_str<'a>(digest: &[u8; DIGEST_LEN], buffer: &'a mut [u8; HEX_DIGEST_LEN]) -> &'a str {
    // The buffer is exactly twice the digest, so this cannot fail; `const_hex` hands the hex
    // back as `&str` without a second UTF-8 check (this runs for every hashed cell).
    match const_hex::encode_to_str(digest, buffer) {
        Ok(hex) => hex,
        Err(_) => "",
    }
}

/// SHA-256 of `normalized` as 64 lowercase hex characters (a convenience for tests and docs;
/// the engine keeps digests as bytes and writes hex only at the edge).
pub fn sha256_hex(normalized: &str) -> String {
    let mut buffer = [0u8; HEX_DIGEST_LEN];
    hex_str(&sha256(normalized), &mut buffer).to_owned()
}

/// [`parse_prehashed`] of `value` with white space around it: cheap for the usual short
/// values, which cannot be a digest.
pub fn parse_prehashed_cell(value: &str) -> Option<[u8; DIGEST_LEN]> {
    if value.len() < HEX_DIGEST_LEN {
        return None;
    }
    parse_prehashed(crate::normalize::trim_value(value))
}

/// If `value` (already trimmed) is exactly 64 hex characters in any case, the digest it spells:
/// such input is passed through (lowercased), never hashed twice (contract §4.3).
pub fn parse_prehashed(value: &str) -> Option<[u8; DIGEST_LEN]> {
    if value.len() != HEX_DIGEST_LEN {
        return None;
    }
    let mut digest = [0u8; DIGEST_LEN];
    const_hex::decode_to_slice(value.as_bytes(), &mut digest).ok()?;
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_hashes_from_meta_docs() {
        // Contract §11, G-CA "Hashing".
        assert_eq!(
            sha256_hex("mary@example.com"),
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        assert_eq!(
            sha256_hex("15559876543"),
            "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
        );
        assert_eq!(
            sha256_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_one_block_path_gives_the_ordinary_digest_at_every_length() {
        for length in 0..=200 {
            let text: String = (0..length)
                .map(|index| char::from(b'a' + (index * 7 % 26) as u8))
                .collect();
            let ordinary: [u8; DIGEST_LEN] = Sha256::digest(text.as_bytes()).into();
            assert_eq!(sha256(&text), ordinary, "length {length}");
        }
        let accented = "josé.müller@例え.jp";
        let ordinary: [u8; DIGEST_LEN] = Sha256::digest(accented.as_bytes()).into();
        assert_eq!(sha256(accented), ordinary);
    }

    #[test]
    fn prehashed_input_is_recognised_in_any_case() {
        let lower = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";
        let digest = parse_prehashed(lower).expect("lowercase hex");
        assert_eq!(parse_prehashed(&lower.to_uppercase()), Some(digest));
        let mut buffer = [0u8; HEX_DIGEST_LEN];
        assert_eq!(hex_str(&digest, &mut buffer), lower);
        assert_eq!(parse_prehashed(&lower[..63]), None);
        assert_eq!(parse_prehashed(&format!("{}g", &lower[..63])), None);
        assert_eq!(parse_prehashed("mary@example.com"), None);
    }
}
