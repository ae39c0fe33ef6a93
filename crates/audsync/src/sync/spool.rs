//! Spools: scratch files of hashed wire rows waiting to be sent.
//!
//! A **spool** ([`SpoolWriter`] → [`SpoolReader`]) holds the rows of one operation while the
//! diff runs: adds wait until every removal was accepted (Meta removes every member matching
//! any key of a removal row, so a changed user re-added before the removal of their old row
//! would be removed again). Rows are written packed as they are sent to Meta (the store's
//! `packed_rows.rs`: user id, fingerprint, SHA-256 digests as 32 raw bytes, EXTERN_ID/MADID as
//! text). **Never a raw value**: what is here is exactly what the store keeps and Meta
//! receives.
//!
//! A spool is unlinked as soon as it is created, so it disappears with the process, even after
//! `kill -9`, and nothing in the spool folder is needed by a later run: what a crashed run
//! leaves for the next one (the in-flight rows of its batches, an interrupted replace session)
//! is in the store, where a run on any host sharing it finds it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use crate::store::MemberRow;
use crate::store::packed_rows::{decode_row, encode_row};

/// Buffer of spool writers and readers.
const SPOOL_BUFFER_BYTES: usize = 1 << 20;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::packed_rows::example_row as row;

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
}
