//! The compact binary form of hashed wire rows: the journal's in-flight rows and the sync's
//! spools.
//!
//! A row is its user id, its 16-byte fingerprint, a flag byte and its wire values, each tagged:
//! empty, a SHA-256 digest as its 32 bytes (half of its 64 hex digits), or text (EXTERN_ID,
//! MADID). **Never a raw value**: what is packed is exactly what the store keeps as the member's
//! wire row and Meta receives.
//!
//! The in-flight rows of a batch ([`pack_inflight`]) are a format byte, the audience schema the
//! rows were sent with (JSON, length-prefixed), then the rows.

use std::io::{self, Read};

use super::{MemberRow, StoreError};

/// Value tags.
const TAG_EMPTY: u8 = 0;
const TAG_DIGEST: u8 = 1;
const TAG_TEXT: u8 = 2;

/// Flag bit: the row is the new row of a user whose keys changed (spools only).
const FLAG_CHANGED: u8 = 1;

/// Longest user id or text value accepted when reading back (the sources cap fields at 64 KiB).
const MAX_TEXT_BYTES: u32 = 1 << 20;

/// First byte of packed in-flight rows: the layout described in the module doc.
const INFLIGHT_FORMAT_V1: u8 = 1;

/// Bytes of one packed row with two digests and a short user id, to size buffers.
pub(crate) const TYPICAL_PACKED_ROW_BYTES: usize = 100;

/// The rows of an add or replace batch as they were sent, kept with its journal entry from just
/// before the request goes out until the batch is settled (see `runs.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InflightRows {
    /// The audience schema (key names, in order) the rows were sent with.
    pub schema: Vec<String>,
    pub rows: Vec<MemberRow>,
}

/// Appends one row to `out`; `changed` marks the new row of a user whose keys changed.
pub(crate) fn encode_row(out: &mut Vec<u8>, row: &MemberRow, changed: bool) {
    push_text(out, &row.user_id);
    out.extend_from_slice(&row.fingerprint);
    out.push(if changed { FLAG_CHANGED } else { 0 });
    // Rows have at most 16 values (one per match key).
    out.extend_from_slice(&(row.wire_row.len() as u16).to_le_bytes());
    for value in &row.wire_row {
        if value.is_empty() {
            out.push(TAG_EMPTY);
        } else if let Some(digest) = decode_digest(value) {
            out.push(TAG_DIGEST);
            out.extend_from_slice(&digest);
        } else {
            out.push(TAG_TEXT);
            push_text(out, value);
        }
    }
}

/// Reads one row and its changed flag; `Ok(None)` at a clean end of input.
pub(crate) fn decode_row(input: &mut impl Read) -> io::Result<Option<(MemberRow, bool)>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let user_id = read_text(input, u32::from_le_bytes(length))?;
    let mut fingerprint = [0u8; 16];
    input.read_exact(&mut fingerprint)?;
    let mut flags_and_count = [0u8; 3];
    input.read_exact(&mut flags_and_count)?;
    let changed = flags_and_count[0] & FLAG_CHANGED != 0;
    let n_values = u16::from_le_bytes([flags_and_count[1], flags_and_count[2]]);
    let mut wire_row = Vec::with_capacity(usize::from(n_values));
    for _ in 0..n_values {
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag)?;
        wire_row.push(match tag[0] {
            TAG_EMPTY => String::new(),
            TAG_DIGEST => {
                let mut digest = [0u8; 32];
                input.read_exact(&mut digest)?;
                encode_hex(&digest)
            }
            TAG_TEXT => {
                input.read_exact(&mut length)?;
                read_text(input, u32::from_le_bytes(length))?
            }
            other => return Err(corrupt(format!("unknown value tag {other}"))),
        });
    }
    Ok(Some((
        MemberRow {
            user_id,
            fingerprint,
            wire_row,
        },
        changed,
    )))
}

/// The in-flight rows of a batch, packed for the journal.
pub(crate) fn pack_inflight(schema: &[String], rows: &[MemberRow]) -> Result<Vec<u8>, StoreError> {
    let schema_json = serde_json::to_string(schema)
        .map_err(|error| StoreError::Corrupt(format!("a schema does not encode: {error}")))?;
    let mut packed =
        Vec::with_capacity(1 + 4 + schema_json.len() + rows.len() * TYPICAL_PACKED_ROW_BYTES);
    packed.push(INFLIGHT_FORMAT_V1);
    push_text(&mut packed, &schema_json);
    for row in rows {
        encode_row(&mut packed, row, false);
    }
    Ok(packed)
}

/// Reads back what [`pack_inflight`] wrote.
pub(crate) fn unpack_inflight(packed: &[u8]) -> Result<InflightRows, StoreError> {
    let unreadable =
        |error: io::Error| StoreError::Corrupt(format!("a batch's in-flight rows: {error}"));
    let Some((&format, mut input)) = packed.split_first() else {
        return Err(StoreError::Corrupt("empty in-flight rows".to_owned()));
    };
    if format != INFLIGHT_FORMAT_V1 {
        return Err(StoreError::Corrupt(format!(
            "in-flight rows of unknown format {format}"
        )));
    }
    let mut length = [0u8; 4];
    input.read_exact(&mut length).map_err(unreadable)?;
    let schema_json = read_text(&mut input, u32::from_le_bytes(length)).map_err(unreadable)?;
    let schema = serde_json::from_str(&schema_json)
        .map_err(|error| StoreError::Corrupt(format!("the schema of in-flight rows: {error}")))?;
    let mut rows = Vec::with_capacity(packed.len() / TYPICAL_PACKED_ROW_BYTES);
    while let Some((row, _)) = decode_row(&mut input).map_err(unreadable)? {
        rows.push(row);
    }
    Ok(InflightRows { schema, rows })
}

/// Lowercase hex of `bytes`.
fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn read_text(input: &mut impl Read, length: u32) -> io::Result<String> {
    if length > MAX_TEXT_BYTES {
        return Err(corrupt(format!("a text of {length} bytes")));
    }
    let mut bytes = vec![0u8; length as usize];
    input.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| corrupt("a text that is not UTF-8".to_owned()))
}

/// The 32 bytes of a lowercase 64-hex digest; `None` for anything else (kept as text).
fn decode_digest(value: &str) -> Option<[u8; 32]> {
    let bytes = value.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        digest[index] = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
    Some(digest)
}

fn nibble(hex: u8) -> u8 {
    match hex {
        b'0'..=b'9' => hex - b'0',
        _ => hex - b'a' + 10,
    }
}

fn corrupt(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("packed rows: {detail}"))
}

/// A digest for tests.
#[cfg(test)]
const EXAMPLE_DIGEST: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

/// A row for tests: a digest, an empty value, an external id and an uppercase 64-hex text
/// (kept as text, not packed).
#[cfg(test)]
pub(crate) fn example_row(user_id: &str, byte: u8) -> MemberRow {
    MemberRow {
        user_id: user_id.to_owned(),
        fingerprint: [byte; 16],
        wire_row: vec![
            EXAMPLE_DIGEST.to_owned(),
            String::new(),
            "CRM-42".to_owned(),
            "ABCDEF".repeat(11)[..64].to_owned(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = EXAMPLE_DIGEST;
    use example_row as row;

    #[test]
    fn inflight_rows_round_trip_with_digests_as_bytes() {
        let schema = vec![
            "EMAIL".to_owned(),
            "PHONE".to_owned(),
            "EXTERN_ID".to_owned(),
            "MADID".to_owned(),
        ];
        let rows = vec![row("a", 1), row("b", 2)];
        let packed = pack_inflight(&schema, &rows).unwrap();
        // The lowercase digest takes 32 bytes; the uppercase "digest" is kept as text.
        let text_row_bytes = 4 + 1 + 16 + 1 + 2 + (1 + 32) + 1 + (1 + 4 + 6) + (1 + 4 + 64);
        assert_eq!(packed.len(), 1 + 4 + 37 + 2 * text_row_bytes);
        assert_eq!(
            unpack_inflight(&packed).unwrap(),
            InflightRows { schema, rows }
        );
    }

    #[test]
    fn damaged_inflight_rows_are_corrupt_not_a_panic() {
        let packed = pack_inflight(&["EMAIL".to_owned()], &[row("a", 1)]).unwrap();
        for cut in [0, 1, 3, 20, packed.len() - 1] {
            assert!(
                matches!(unpack_inflight(&packed[..cut]), Err(StoreError::Corrupt(_))),
                "cut at {cut}"
            );
        }
        let mut unknown = packed.clone();
        unknown[0] = 9;
        assert!(matches!(
            unpack_inflight(&unknown),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn only_lowercase_digests_are_packed() {
        assert!(decode_digest(DIGEST).is_some());
        assert!(decode_digest(&DIGEST.to_uppercase()).is_none());
        assert!(decode_digest("abc").is_none());
        assert_eq!(encode_hex(&decode_digest(DIGEST).unwrap()), DIGEST);
    }
}
