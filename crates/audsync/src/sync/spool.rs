//! Files of hashed wire rows: the spools a sync sends from, and the in-flight record of the
//! batches it has sent but not yet committed.
//!
//! # What is written, and why
//! Rows are written as they are sent to Meta: the user id, the 16-byte fingerprint and the
//! wire values (SHA-256 digests as 32 raw bytes, EXTERN_ID/MADID as text). **Never a raw
//! value**: what is here is exactly what the store keeps and Meta receives.
//!
//! - A **spool** ([`SpoolWriter`] → [`SpoolReader`]) holds the rows of one operation while the
//!   diff runs: adds wait until every removal was accepted (Meta removes every member matching
//!   any key of a removal row, so a changed user re-added before the removal of their old row
//!   would be removed again). It is unlinked as soon as it is created, so it disappears with
//!   the process, even after `kill -9`.
//! - The **in-flight record** ([`InflightDir`]) keeps the rows of each add or replace batch from
//!   just before its request goes out until its effect is committed. After a crash it tells the
//!   next run which rows Meta may hold although the store does not know them (the batch was
//!   accepted, the commit never happened); the next run removes them and re-adds whoever is
//!   still in the segment, so no row is ever left behind at Meta. Files are written without
//!   `fsync`: they must survive the death of the process, not of the machine (the SQLite store
//!   itself runs with `synchronous = NORMAL`). A replace also leaves its session id here until
//!   it completes, so an interrupted replace is resumed, not left half done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::store::{Fingerprint, MemberRow, RunId};

/// Value tags of the record format.
const TAG_EMPTY: u8 = 0;
const TAG_DIGEST: u8 = 1;
const TAG_TEXT: u8 = 2;

/// Flag bit: the row is the new row of a user whose keys changed.
const FLAG_CHANGED: u8 = 1;

/// Longest user id or text value accepted when reading back (the sources cap fields at 64 KiB).
const MAX_TEXT_BYTES: u32 = 1 << 20;

/// Buffer of spool writers and readers.
const SPOOL_BUFFER_BYTES: usize = 1 << 20;

/// Appends one row to `out`.
fn encode_row(out: &mut Vec<u8>, row: &MemberRow, changed: bool) {
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

fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
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

fn encode_hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// Reads one row; `Ok(None)` at a clean end of input.
fn decode_row(input: &mut impl Read) -> io::Result<Option<(MemberRow, bool)>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let user_id = read_text(input, u32::from_le_bytes(length))?;
    let mut fingerprint: Fingerprint = [0; 16];
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

fn read_text(input: &mut impl Read, length: u32) -> io::Result<String> {
    if length > MAX_TEXT_BYTES {
        return Err(corrupt(format!("a text of {length} bytes")));
    }
    let mut bytes = vec![0u8; length as usize];
    input.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| corrupt("a text that is not UTF-8".to_owned()))
}

fn corrupt(detail: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("spooled rows: {detail}"),
    )
}

/// A new file in `dir` (created if missing), open for reading and writing, unlinked at once:
/// Unix keeps it until it is closed, so nothing is left behind, even after `kill -9`.
pub(crate) fn unlinked_file(dir: &Path, prefix: &str) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{prefix}-{}.tmp", uuid::Uuid::new_v4().simple()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    fs::remove_file(&path)?;
    Ok(file)
}

/// Writes the rows of one operation to an unlinked temporary file.
pub struct SpoolWriter {
    out: BufWriter<File>,
    buffer: Vec<u8>,
    n_rows: u64,
    n_changed: u64,
}

impl SpoolWriter {
    /// Creates the spool in `dir` (created if missing) and unlinks it at once.
    pub fn create(dir: &Path) -> io::Result<SpoolWriter> {
        Ok(SpoolWriter {
            out: BufWriter::with_capacity(SPOOL_BUFFER_BYTES, unlinked_file(dir, "spool")?),
            buffer: Vec::with_capacity(2048),
            n_rows: 0,
            n_changed: 0,
        })
    }

    /// Appends a row; `changed` marks the new row of a user whose keys changed.
    pub fn push(&mut self, row: &MemberRow, changed: bool) -> io::Result<()> {
        self.buffer.clear();
        encode_row(&mut self.buffer, row, changed);
        self.out.write_all(&self.buffer)?;
        self.n_rows += 1;
        self.n_changed += u64::from(changed);
        Ok(())
    }

    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Rows marked changed.
    pub fn n_changed(&self) -> u64 {
        self.n_changed
    }

    /// Ends writing; the rows are read back from the start.
    pub fn finish(self) -> io::Result<SpoolReader> {
        let n_rows = self.n_rows;
        let mut file = self.out.into_inner().map_err(|error| error.into_error())?;
        io::Seek::rewind(&mut file)?;
        Ok(SpoolReader {
            input: BufReader::with_capacity(SPOOL_BUFFER_BYTES, file),
            n_rows,
        })
    }
}

/// Reads a finished spool back, in batches.
pub struct SpoolReader {
    input: BufReader<File>,
    n_rows: u64,
}

impl SpoolReader {
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Starts reading again from the first row.
    pub fn rewind(&mut self) -> io::Result<()> {
        io::Seek::rewind(&mut self.input)
    }

    /// The next up to `max_rows` rows; rows marked changed are left out when `skip_changed`
    /// (and counted in `n_skipped`). An empty vector at the end.
    pub fn next_batch(
        &mut self,
        max_rows: usize,
        skip_changed: bool,
        n_skipped: &mut u64,
    ) -> io::Result<Vec<MemberRow>> {
        let mut rows = Vec::with_capacity(max_rows.min(4096));
        while rows.len() < max_rows {
            match decode_row(&mut self.input)? {
                Some((_, true)) if skip_changed => *n_skipped += 1,
                Some((row, _)) => rows.push(row),
                None => break,
            }
        }
        Ok(rows)
    }
}

/// The in-flight record of one segment: a folder with one file per batch sent but not yet
/// settled, and the session id of a replace that has not completed (see the module doc).
#[derive(Debug, Clone)]
pub struct InflightDir {
    dir: PathBuf,
}

/// Rows of a batch a previous run sent and never settled.
#[derive(Debug)]
pub struct InflightBatch {
    pub run_id: RunId,
    pub batch_idx: u32,
    /// The audience schema the rows were sent with.
    pub schema: Vec<String>,
    pub rows: Vec<MemberRow>,
}

impl InflightDir {
    /// The record of `segment` under `root` (one folder per segment, named by the segment's
    /// name in hex so any name is a safe file name).
    pub fn new(root: &Path, segment: &str) -> InflightDir {
        InflightDir {
            dir: root.join(encode_hex(segment.as_bytes())),
        }
    }

    /// Where the spools and records live.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn batch_path(&self, run_id: &RunId, batch_idx: u32) -> PathBuf {
        self.dir.join(format!("{run_id}-{batch_idx}.rows"))
    }

    /// Records the rows of a batch before its request goes out.
    pub fn record_batch(
        &self,
        run_id: &RunId,
        batch_idx: u32,
        schema: &[String],
        rows: &[MemberRow],
    ) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut bytes = Vec::with_capacity(rows.len() * 400 + 256);
        let header = serde_json::to_string(schema).map_err(io::Error::other)?;
        push_text(&mut bytes, &header);
        for row in rows {
            encode_row(&mut bytes, row, false);
        }
        // Write then rename, so a crash never leaves half a record behind.
        let path = self.batch_path(run_id, batch_idx);
        let partial = path.with_extension("partial");
        fs::write(&partial, &bytes)?;
        fs::rename(&partial, &path)
    }

    /// Forgets a batch whose effect was committed or which Meta refused.
    pub fn forget_batch(&self, run_id: &RunId, batch_idx: u32) -> io::Result<()> {
        match fs::remove_file(self.batch_path(run_id, batch_idx)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// The recorded rows of a batch, if this host recorded it.
    pub fn read_batch(&self, run_id: &RunId, batch_idx: u32) -> io::Result<Option<InflightBatch>> {
        let file = match File::open(self.batch_path(run_id, batch_idx)) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut input = BufReader::new(file);
        let mut length = [0u8; 4];
        input.read_exact(&mut length)?;
        let header = read_text(&mut input, u32::from_le_bytes(length))?;
        let schema = serde_json::from_str(&header)
            .map_err(|error| corrupt(format!("schema header: {error}")))?;
        let mut rows = Vec::new();
        while let Some((row, _)) = decode_row(&mut input)? {
            rows.push(row);
        }
        Ok(Some(InflightBatch {
            run_id: run_id.clone(),
            batch_idx,
            schema,
            rows,
        }))
    }

    fn replace_session_path(&self) -> PathBuf {
        self.dir.join("replace-session")
    }

    /// Records the session id of a replace before its first batch goes out.
    pub fn record_replace_session(&self, session_id: u64) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.replace_session_path();
        let partial = path.with_extension("partial");
        fs::write(&partial, session_id.to_string())?;
        fs::rename(&partial, &path)
    }

    /// The session id of a replace that did not complete, if any.
    pub fn replace_session(&self) -> io::Result<Option<u64>> {
        match fs::read_to_string(self.replace_session_path()) {
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The replace completed (or was given up for a fresh one).
    pub fn forget_replace_session(&self) -> io::Result<()> {
        match fs::remove_file(self.replace_session_path()) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";

    fn row(user_id: &str, byte: u8) -> MemberRow {
        MemberRow {
            user_id: user_id.to_owned(),
            fingerprint: [byte; 16],
            wire_row: vec![
                DIGEST.to_owned(),
                String::new(),
                "CRM-42".to_owned(),
                "ABCDEF".repeat(11)[..64].to_owned(),
            ],
        }
    }

    #[test]
    fn spooled_rows_come_back_unchanged_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SpoolWriter::create(dir.path()).unwrap();
        for index in 0..25u8 {
            writer
                .push(&row(&format!("user-{index}"), index), index % 5 == 0)
                .unwrap();
        }
        assert_eq!((writer.n_rows(), writer.n_changed()), (25, 5));
        // The spool is unlinked: the folder is empty although the file is open.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut reader = writer.finish().unwrap();
        let mut n_skipped = 0;
        let first = reader.next_batch(10, false, &mut n_skipped).unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[3], row("user-3", 3));
        let rest = reader.next_batch(100, true, &mut n_skipped).unwrap();
        assert_eq!(rest.len(), 12);
        assert_eq!(n_skipped, 3);
        assert!(
            reader
                .next_batch(10, false, &mut n_skipped)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn inflight_batches_and_replace_sessions_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let inflight = InflightDir::new(dir.path(), "news/letter");
        let run_id = RunId::from_string("run-1".to_owned());
        let schema = vec!["EMAIL".to_owned(), "PHONE".to_owned()];
        let rows = vec![row("a", 1), row("b", 2)];
        inflight.record_batch(&run_id, 7, &schema, &rows).unwrap();
        let read = inflight.read_batch(&run_id, 7).unwrap().unwrap();
        assert_eq!((read.schema, read.rows), (schema, rows));
        assert!(inflight.read_batch(&run_id, 8).unwrap().is_none());
        inflight.forget_batch(&run_id, 7).unwrap();
        inflight.forget_batch(&run_id, 7).unwrap();
        assert!(inflight.read_batch(&run_id, 7).unwrap().is_none());

        assert_eq!(inflight.replace_session().unwrap(), None);
        inflight.record_replace_session(987_654_321).unwrap();
        assert_eq!(inflight.replace_session().unwrap(), Some(987_654_321));
        inflight.forget_replace_session().unwrap();
        assert_eq!(inflight.replace_session().unwrap(), None);
    }

    #[test]
    fn only_lowercase_digests_are_packed() {
        assert!(decode_digest(DIGEST).is_some());
        assert!(decode_digest(&DIGEST.to_uppercase()).is_none());
        assert!(decode_digest("abc").is_none());
        assert_eq!(encode_hex(&decode_digest(DIGEST).unwrap()), DIGEST);
    }
}
