//! File sources: CSV and JSON Lines, from a path or stdin, streamed as chunks of whole rows.
//!
//! Reading is split in two so that parsing runs on every core. One thread runs a
//! [`ChunkSplitter`]: it reads blocks of bytes, finds where rows end (a quote-aware scan that
//! agrees with the `csv` crate on where a record ends) and hands out [`RawChunk`]s of a few
//! thousand raw rows. Worker threads then parse their chunk with a [`TextParser`]: CSV fields
//! into `&str` (UTF-8 checked per used field), or one JSON object per line. A row that cannot
//! be read becomes a [`RowError`] with its line number; it never stops the stream.
//!
//! Memory stays flat whatever the file size: a chunk holds at most [`CHUNK_MAX_ROWS`] rows or
//! about [`CHUNK_MAX_BYTES`] bytes, and a single row is never buffered beyond
//! [`MAX_RECORD_BYTES`].

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

pub use crate::sources::FileFormat;
use crate::sources::chunk::{ParsedRow, RowPosition};
pub use crate::sources::chunk::{RowError, RowParser};

/// A field longer than this is rejected: no match key is anywhere near it, and a 64 KiB cell
/// is a sign of a broken export (issue 2, "huge fields > 64 KiB").
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The most bytes one row may span. Past this the splitter stops buffering the row: an open
/// quote is reported as unterminated and reading resumes on the next line; a line this long
/// without quotes is skipped to its end. Bounds memory for files with one giant line.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Rows per chunk handed to a worker: large enough that channel and bookkeeping costs vanish
/// (a few microseconds per chunk), small enough that a chunk's output (about 550 bytes per
/// hashed row) stays near 2 MiB.
pub const CHUNK_MAX_ROWS: usize = 4 * 1024;

/// Bytes per chunk, for files with long rows.
pub const CHUNK_MAX_BYTES: usize = 1024 * 1024;

/// Bytes read from the input at a time.
const READ_BLOCK_BYTES: usize = 1024 * 1024;

/// Bytes looked at to sniff the CSV delimiter and the JSON Lines keys.
const SNIFF_BYTES: usize = 64 * 1024;

/// Lines looked at to sniff the CSV delimiter and the JSON Lines keys.
const SNIFF_LINES: usize = 100;

/// Delimiters the CSV sniffer chooses from, in order of preference on a tie.
const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The UTF-8 byte order mark some spreadsheet exports start with.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// An opened file source: its format, its columns, and the not yet consumed input.
pub struct FileSource {
    /// Where the rows come from, for messages (`<stdin>` for stdin).
    pub path: PathBuf,
    pub format: FileFormat,
    /// Column names: the CSV header, or the keys seen in the first JSON Lines objects.
    pub columns: Vec<String>,
    /// The CSV delimiter (sniffed); unused for JSON Lines.
    pub delimiter: u8,
    reader: Box<dyn Read + Send>,
    /// Bytes read while sniffing that the splitter must see first.
    pending: Vec<u8>,
    /// Line number of the first byte of `pending`.
    first_line: u64,
    eof: bool,
}

impl fmt::Debug for FileSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FileSource")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("columns", &self.columns)
            .field("delimiter", &(self.delimiter as char))
            .finish_non_exhaustive()
    }
}

impl FileSource {
    /// Opens `path` (`-` for stdin), reads the CSV header (sniffing the delimiter and dropping
    /// a BOM) or samples the first JSON Lines objects for their keys. `format` overrides the
    /// extension; it must be a text format (see `SegmentSource` for Parquet).
    pub fn open(path: &Path, format: Option<FileFormat>) -> anyhow::Result<FileSource> {
        let is_stdin = path.as_os_str() == "-";
        let reader: Box<dyn Read + Send> = if is_stdin {
            Box::new(io::stdin())
        } else {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            if file.metadata().map(|meta| meta.is_dir()).unwrap_or(false) {
                bail!("{} is a directory, not a file", path.display());
            }
            Box::new(file)
        };
        let format = format.unwrap_or_else(|| {
            if is_stdin {
                FileFormat::Csv
            } else {
                FileFormat::from_path(path)
            }
        });
        let name = if is_stdin {
            PathBuf::from("<stdin>")
        } else {
            path.to_path_buf()
        };
        Self::from_reader(name, reader, format)
    }

    /// Like [`FileSource::open`], from any reader.
    pub fn from_reader(
        path: PathBuf,
        mut reader: Box<dyn Read + Send>,
        format: FileFormat,
    ) -> anyhow::Result<FileSource> {
        let mut pending = Vec::new();
        let eof = read_until_sample(&mut reader, &mut pending)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if pending.starts_with(UTF8_BOM) {
            pending.drain(..UTF8_BOM.len());
        }
        let mut source = FileSource {
            path,
            format,
            columns: Vec::new(),
            delimiter: b',',
            reader,
            pending,
            first_line: 1,
            eof,
        };
        match format {
            FileFormat::Csv => source.read_csv_header()?,
            FileFormat::JsonLines => source.sample_json_keys()?,
            FileFormat::Parquet => bail!(
                "{}: Parquet is not a text format (internal error: open it as a segment source)",
                source.path.display()
            ),
        }
        Ok(source)
    }

    /// The position of column `name` (exact, then ignoring ASCII case and surrounding
    /// whitespace).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        crate::sources::column_index(&self.columns, name)
    }

    /// The position of column `name`; JSON Lines objects may carry keys the first lines did
    /// not show, so an unknown key becomes a new column there. CSV columns come from the header
    /// only.
    pub fn column_index_or_add(&mut self, name: &str) -> Option<usize> {
        if let Some(index) = self.column_index(name) {
            return Some(index);
        }
        match self.format {
            FileFormat::Csv | FileFormat::Parquet => None,
            FileFormat::JsonLines => {
                self.columns.push(name.to_string());
                Some(self.columns.len() - 1)
            }
        }
    }

    /// A parser for this source's chunks.
    pub fn row_parser(&self) -> RowParser {
        RowParser::new(self.columns.clone())
    }

    /// Turns the rest of the input into a stream of chunks.
    pub fn into_chunks(self) -> ChunkSplitter {
        let scan = match self.format {
            FileFormat::JsonLines => ScanKind::Lines,
            FileFormat::Csv | FileFormat::Parquet => ScanKind::Csv {
                delimiter: self.delimiter,
            },
        };
        ChunkSplitter {
            reader: self.reader,
            scan,
            buffer: self.pending,
            eof: self.eof,
            line_at_buffer_start: self.first_line,
            next_seq: 0,
            scan_pos: 0,
            record_start: 0,
            n_records: 0,
            state: ScanState::Unquoted,
            skipping_line: false,
            finished: false,
            file: None,
        }
    }

    fn read_csv_header(&mut self) -> anyhow::Result<()> {
        if self.pending.iter().all(|byte| byte.is_ascii_whitespace()) {
            bail!(
                "{} is empty: a CSV file needs a header line",
                self.path.display()
            );
        }
        let sample_end = self.pending.len().min(SNIFF_BYTES);
        if memchr::memchr(b'\n', &self.pending[..sample_end]).is_none()
            && memchr::memchr(b'\r', &self.pending[..sample_end]).is_some()
        {
            bail!(
                "{} uses bare CR line endings (classic Mac OS); convert them to LF or CRLF",
                self.path.display()
            );
        }
        self.delimiter = sniff_delimiter(&self.pending[..sample_end]);

        let mut splitter_probe = ScanProbe::new(ScanKind::Csv {
            delimiter: self.delimiter,
        });
        let Some(header_end) = splitter_probe.first_record_end(&self.pending) else {
            bail!(
                "{}: no complete header line in the first {} bytes",
                self.path.display(),
                self.pending.len()
            );
        };
        let mut reader = csv_reader(self.delimiter, &self.pending[..header_end]);
        let mut record = csv::ByteRecord::new();
        reader
            .read_byte_record(&mut record)
            .with_context(|| format!("cannot read the header of {}", self.path.display()))?;
        let n_fields = record.len();
        self.columns = record
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let field = if index + 1 == n_fields {
                    field.strip_suffix(b"\r").unwrap_or(field)
                } else {
                    field
                };
                String::from_utf8_lossy(field).trim().to_string()
            })
            .collect();
        let n_header_lines = memchr::memchr_iter(b'\n', &self.pending[..header_end]).count();
        self.pending.drain(..header_end);
        self.first_line += n_header_lines as u64;
        Ok(())
    }

    fn sample_json_keys(&mut self) -> anyhow::Result<()> {
        if self.pending.iter().all(|byte| byte.is_ascii_whitespace()) {
            bail!("{} is empty: no JSON object to read", self.path.display());
        }
        let sample_end = self.pending.len().min(SNIFF_BYTES);
        for line in self.pending[..sample_end]
            .split(|byte| *byte == b'\n')
            .take(SNIFF_LINES)
        {
            let Ok(serde_json::Value::Object(object)) =
                serde_json::from_slice::<serde_json::Value>(line)
            else {
                continue;
            };
            for key in object.keys() {
                if !self.columns.iter().any(|column| column == key) {
                    self.columns.push(key.clone());
                }
            }
        }
        Ok(())
    }
}

/// Reads into `buffer` until it holds [`SNIFF_BYTES`] and a line end after them, or
/// [`MAX_RECORD_BYTES`], or the input ends. Returns whether the input ended.
fn read_until_sample(reader: &mut dyn Read, buffer: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let has_enough = buffer.len() >= SNIFF_BYTES
            && memchr::memrchr(b'\n', buffer).is_some_and(|last| last >= SNIFF_BYTES - 1);
        if has_enough || buffer.len() >= MAX_RECORD_BYTES {
            return Ok(false);
        }
        if read_block(reader, buffer, SNIFF_BYTES)? == 0 {
            return Ok(true);
        }
    }
}

/// Appends up to `n_bytes` from `reader` to `buffer`; returns how many were read (0 at the
/// end of the input).
fn read_block(reader: &mut dyn Read, buffer: &mut Vec<u8>, n_bytes: usize) -> io::Result<usize> {
    let old_len = buffer.len();
    buffer.resize(old_len + n_bytes, 0);
    loop {
        match reader.read(&mut buffer[old_len..]) {
            Ok(n_read) => {
                buffer.truncate(old_len + n_read);
                return Ok(n_read);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                buffer.truncate(old_len);
                return Err(error);
            }
        }
    }
}

/// Picks the delimiter that splits the first lines of `sample` into the same number of
/// fields most consistently (more than one field), preferring `,` then `;`, tab, `|` on ties.
/// A file where none appears has one column, and `,` is as good as any.
pub fn sniff_delimiter(sample: &[u8]) -> u8 {
    let lines: Vec<&[u8]> = sample
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.iter().all(|byte| byte.is_ascii_whitespace()))
        .take(SNIFF_LINES)
        .collect();
    // Drop the last line when the sample cuts it short.
    let complete_lines = if sample.ends_with(b"\n") || lines.len() <= 1 {
        &lines[..]
    } else {
        &lines[..lines.len() - 1]
    };
    let mut best = (b',', 0usize, 0usize);
    for delimiter in CANDIDATE_DELIMITERS {
        let counts: Vec<usize> = complete_lines
            .iter()
            .map(|line| count_outside_quotes(line, delimiter))
            .collect();
        let Some(&header_count) = counts.first() else {
            continue;
        };
        if header_count == 0 {
            continue;
        }
        let n_consistent = counts
            .iter()
            .filter(|count| **count == header_count)
            .count();
        if (n_consistent, header_count) > (best.1, best.2) {
            best = (delimiter, n_consistent, header_count);
        }
    }
    best.0
}

fn count_outside_quotes(line: &[u8], delimiter: u8) -> usize {
    let mut in_quotes = false;
    let mut count = 0;
    for byte in line {
        if *byte == b'"' {
            in_quotes = !in_quotes;
        } else if *byte == delimiter && !in_quotes {
            count += 1;
        }
    }
    count
}

fn csv_reader<R: Read>(delimiter: u8, input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        // Records end at `\n` only, as the splitter decides; a `\r` before it is dropped from
        // the last field by the parser.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(8 * 1024)
        .from_reader(input)
}

/// A run of whole raw rows, in input order.
#[derive(Debug)]
pub struct RawChunk {
    /// Position of this chunk in the stream (0, 1, 2, …): the writer puts results back in this
    /// order.
    pub seq: u64,
    /// Line number (1-based) of the first byte of `bytes`.
    pub first_line: u64,
    /// Whole rows, each ending in `\n` except perhaps the last row of the input.
    pub bytes: Vec<u8>,
    /// A row the splitter could not delimit, which comes after every row of `bytes`: its line
    /// and why.
    pub trailing_error: Option<(u64, RowError)>,
    /// The file the rows come from when the source is a glob of files.
    pub file: Option<Arc<str>>,
    /// How to split the rows (the CSV delimiter of their file, or JSON Lines).
    pub(crate) scan: ScanKind,
}

/// How the rows of a text file are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanKind {
    Csv { delimiter: u8 },
    Lines,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanState {
    /// Outside quotes.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: either an escaped quote or the field's end.
    AfterQuote,
}

/// Finds where rows end: the quote rules of the `csv` crate (a quote opens a quoted field only
/// at the start of a field; `""` inside one is a literal quote), rows end at `\n`.
struct ScanProbe {
    kind: ScanKind,
    state: ScanState,
    pos: usize,
    record_start: usize,
    n_records: usize,
}

impl ScanProbe {
    fn new(kind: ScanKind) -> ScanProbe {
        ScanProbe {
            kind,
            state: ScanState::Unquoted,
            pos: 0,
            record_start: 0,
            n_records: 0,
        }
    }

    /// Scans `bytes` from `self.pos`, stopping at the end or once `max_records` rows ended.
    fn scan(&mut self, bytes: &[u8], max_records: usize) {
        let delimiter = match self.kind {
            ScanKind::Csv { delimiter } => delimiter,
            ScanKind::Lines => {
                while self.n_records < max_records {
                    match memchr::memchr(b'\n', &bytes[self.pos..]) {
                        Some(offset) => {
                            self.pos += offset + 1;
                            self.record_start = self.pos;
                            self.n_records += 1;
                        }
                        None => {
                            self.pos = bytes.len();
                            return;
                        }
                    }
                }
                return;
            }
        };
        while self.pos < bytes.len() && self.n_records < max_records {
            match self.state {
                ScanState::Unquoted => match memchr::memchr2(b'"', b'\n', &bytes[self.pos..]) {
                    None => self.pos = bytes.len(),
                    Some(offset) => {
                        let at = self.pos + offset;
                        self.pos = at + 1;
                        if bytes[at] == b'\n' {
                            self.record_start = self.pos;
                            self.n_records += 1;
                        } else if at == self.record_start || bytes[at - 1] == delimiter {
                            self.state = ScanState::Quoted;
                        }
                    }
                },
                ScanState::Quoted => match memchr::memchr(b'"', &bytes[self.pos..]) {
                    None => self.pos = bytes.len(),
                    Some(offset) => {
                        self.pos += offset + 1;
                        self.state = ScanState::AfterQuote;
                    }
                },
                ScanState::AfterQuote => {
                    if bytes[self.pos] == b'"' {
                        self.pos += 1;
                        self.state = ScanState::Quoted;
                    } else {
                        self.state = ScanState::Unquoted;
                    }
                }
            }
        }
    }

    /// The end of the first row of `bytes` (after its `\n`), or of `bytes` if it ends without
    /// one inside no quotes; `None` if the first row never closes its quotes.
    fn first_record_end(&mut self, bytes: &[u8]) -> Option<usize> {
        self.scan(bytes, 1);
        if self.n_records == 1 {
            Some(self.record_start)
        } else if self.state == ScanState::Unquoted || self.state == ScanState::AfterQuote {
            Some(bytes.len())
        } else {
            None
        }
    }

    fn shift(&mut self, n_bytes: usize) {
        self.pos -= n_bytes;
        self.record_start -= n_bytes;
    }
}

/// The stream of [`RawChunk`]s of a [`FileSource`]; an `Err` is an input/output error that
/// ends the stream.
pub struct ChunkSplitter {
    reader: Box<dyn Read + Send>,
    scan: ScanKind,
    buffer: Vec<u8>,
    eof: bool,
    line_at_buffer_start: u64,
    next_seq: u64,
    scan_pos: usize,
    record_start: usize,
    n_records: usize,
    state: ScanState,
    /// Set after a row longer than [`MAX_RECORD_BYTES`]: input is dropped up to the next `\n`.
    skipping_line: bool,
    finished: bool,
    /// The name chunks carry (a glob's file), see [`RawChunk::file`].
    file: Option<Arc<str>>,
}

impl ChunkSplitter {
    /// Names the file in the chunks' row positions (for a glob of files).
    pub fn with_file_label(mut self, label: Arc<str>) -> ChunkSplitter {
        self.file = Some(label);
        self
    }

    fn probe(&self) -> ScanProbe {
        ScanProbe {
            kind: self.scan,
            state: self.state,
            pos: self.scan_pos,
            record_start: self.record_start,
            n_records: self.n_records,
        }
    }

    fn store_probe(&mut self, probe: &ScanProbe) {
        self.state = probe.state;
        self.scan_pos = probe.pos;
        self.record_start = probe.record_start;
        self.n_records = probe.n_records;
    }

    /// Cuts the rows before `end` off the buffer as a chunk.
    fn cut(&mut self, end: usize, trailing_error: Option<(u64, RowError)>) -> RawChunk {
        let rest = self.buffer.split_off(end);
        let bytes = std::mem::replace(&mut self.buffer, rest);
        let first_line = self.line_at_buffer_start;
        self.line_at_buffer_start += memchr::memchr_iter(b'\n', &bytes).count() as u64;
        let mut probe = self.probe();
        probe.shift(end);
        self.store_probe(&probe);
        self.n_records = 0;
        let seq = self.next_seq;
        self.next_seq += 1;
        RawChunk {
            seq,
            first_line,
            bytes,
            trailing_error,
            file: self.file.clone(),
            scan: self.scan,
        }
    }

    /// The line number of byte `offset` of the buffer.
    fn line_of(&self, offset: usize) -> u64 {
        self.line_at_buffer_start
            + memchr::memchr_iter(b'\n', &self.buffer[..offset]).count() as u64
    }

    /// The row starting at `record_start` cannot be delimited (an unterminated quote, or a
    /// line too long): cut the rows before it with an error for it, then drop its first
    /// physical line and resume reading after it.
    fn cut_broken_record(&mut self, error: RowError) -> RawChunk {
        let line = self.line_of(self.record_start);
        let record_start = self.record_start;
        let first_line_end = memchr::memchr(b'\n', &self.buffer[record_start..])
            .map(|offset| record_start + offset + 1);
        let chunk = self.cut(record_start, None);
        let error = match first_line_end {
            Some(end) => {
                // `cut` moved the record to the buffer's start.
                let end = end - record_start;
                self.buffer.drain(..end);
                self.line_at_buffer_start += 1;
                error
            }
            None if self.eof => {
                self.buffer.clear();
                error
            }
            None => {
                self.buffer.clear();
                self.skipping_line = true;
                RowError::LineTooLong
            }
        };
        self.state = ScanState::Unquoted;
        self.scan_pos = 0;
        self.record_start = 0;
        RawChunk {
            trailing_error: Some((line, error)),
            ..chunk
        }
    }

    fn next_chunk(&mut self) -> io::Result<Option<RawChunk>> {
        loop {
            if self.skipping_line {
                match memchr::memchr(b'\n', &self.buffer) {
                    Some(at) => {
                        self.buffer.drain(..=at);
                        self.line_at_buffer_start += 1;
                        self.skipping_line = false;
                    }
                    None => {
                        self.buffer.clear();
                        if self.eof {
                            self.skipping_line = false;
                        }
                    }
                }
            }
            if !self.skipping_line {
                let mut probe = self.probe();
                probe.scan(&self.buffer, CHUNK_MAX_ROWS);
                self.store_probe(&probe);
                if self.n_records >= CHUNK_MAX_ROWS || self.record_start >= CHUNK_MAX_BYTES {
                    return Ok(Some(self.cut(self.record_start, None)));
                }
                if self.buffer.len() - self.record_start > MAX_RECORD_BYTES {
                    let error = if self.state == ScanState::Unquoted {
                        RowError::LineTooLong
                    } else {
                        RowError::UnterminatedQuote
                    };
                    return Ok(Some(self.cut_broken_record(error)));
                }
                if self.eof {
                    let has_tail = self.record_start < self.buffer.len();
                    if has_tail && self.state == ScanState::Quoted {
                        return Ok(Some(self.cut_broken_record(RowError::UnterminatedQuote)));
                    }
                    if self.buffer.is_empty() {
                        return Ok(None);
                    }
                    // The last row may lack its line end; it is whole all the same.
                    let end = self.buffer.len();
                    self.scan_pos = end;
                    self.record_start = end;
                    return Ok(Some(self.cut(end, None)));
                }
            }
            if self.eof {
                return Ok(None);
            }
            if read_block(&mut *self.reader, &mut self.buffer, READ_BLOCK_BYTES)? == 0 {
                self.eof = true;
            }
        }
    }
}

impl Iterator for ChunkSplitter {
    type Item = io::Result<RawChunk>;

    fn next(&mut self) -> Option<io::Result<RawChunk>> {
        if self.finished {
            return None;
        }
        let next = self.next_chunk().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.finished = true;
        }
        next
    }
}

/// Parses the rows of [`RawChunk`]s; one per worker thread (inside its [`RowParser`]), reused
/// across chunks.
#[derive(Clone)]
pub(crate) struct TextParser {
    /// The delimiter of the chunk being parsed.
    delimiter: u8,
    columns: Vec<String>,
    record: csv::ByteRecord,
    /// End of each field of the line being split (reused).
    field_ends: Vec<usize>,
    json_values: Vec<Cow<'static, str>>,
}

impl TextParser {
    pub(crate) fn new(columns: Vec<String>) -> TextParser {
        TextParser {
            delimiter: b',',
            columns,
            record: csv::ByteRecord::new(),
            field_ends: Vec::new(),
            json_values: Vec::new(),
        }
    }

    /// Calls `visit` for every row of `chunk` in order (the trailing error last) with the
    /// values of the columns at `wanted` (positions in the source's columns).
    pub(crate) fn for_each_row(
        &mut self,
        chunk: &RawChunk,
        wanted: &[usize],
        visit: &mut impl FnMut(ParsedRow<'_>),
    ) {
        let file = chunk.file.as_deref();
        let mut visit = |(line, row): (u64, Result<&[&str], RowError>)| {
            visit((RowPosition { file, line }, row));
        };
        match chunk.scan {
            ScanKind::Csv { delimiter } => {
                self.delimiter = delimiter;
                self.for_each_csv_row(chunk, wanted, &mut visit);
            }
            ScanKind::Lines => self.for_each_json_row(chunk, wanted, &mut visit),
        }
        if let Some((line, error)) = &chunk.trailing_error {
            visit((*line, Err(error.clone())));
        }
    }

    /// CSV rows: a line without any quote (most lines) is split at the delimiter right here;
    /// a line with a quote goes through the `csv` crate, which reads the quoted fields and
    /// the lines they may span.
    fn for_each_csv_row(
        &mut self,
        chunk: &RawChunk,
        wanted: &[usize],
        visit: &mut impl FnMut(LineRow<'_>),
    ) {
        let bytes = &chunk.bytes[..];
        // One UTF-8 check for the whole chunk (nearly always valid) instead of one per line:
        // the per-call cost dominates for ~100-byte lines.
        let valid_chunk = simdutf8::basic::from_utf8(bytes).ok();
        let mut quoted_reader: Option<csv::Reader<io::Cursor<&[u8]>>> = None;
        let mut spare_values: Vec<&str> = Vec::with_capacity(wanted.len());
        let mut pos = 0;
        let mut line = chunk.first_line;
        while pos < bytes.len() {
            // One scan finds the line's end, or a quote first.
            let stop = memchr::memchr2(b'"', b'\n', &bytes[pos..]).map(|offset| pos + offset);
            let has_quote = stop.is_some_and(|at| bytes[at] == b'"');
            if !has_quote {
                let line_end = stop.unwrap_or(bytes.len());
                let raw_line = &bytes[pos..line_end];
                let record = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
                // Blank lines are no rows (as for the csv crate).
                if !record.is_empty() {
                    let mut values = recycle(std::mem::take(&mut spare_values));
                    // The line of a valid chunk is valid: it ends before an ASCII `\r`/`\n`.
                    let valid_record =
                        valid_chunk.and_then(|text| text.get(pos..pos + record.len()));
                    match self.plain_record_values(record, valid_record, wanted, &mut values) {
                        Ok(()) => visit((line, Ok(&values))),
                        Err(error) => visit((line, Err(error))),
                    }
                    spare_values = recycle(values);
                }
                pos = line_end + 1;
                line += 1;
                continue;
            }
            let reader = quoted_reader
                .get_or_insert_with(|| csv_reader(self.delimiter, io::Cursor::new(bytes)));
            let mut start = csv::Position::new();
            start.set_byte(pos as u64);
            // Reading from memory cannot fail, and the csv crate reports no syntax errors in
            // flexible mode; an error would end the chunk rather than loop.
            if reader
                .seek_raw(io::SeekFrom::Start(pos as u64), start)
                .is_err()
            {
                break;
            }
            match reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
            let end = (reader.position().byte() as usize).clamp(pos + 1, bytes.len());
            let mut values = recycle(std::mem::take(&mut spare_values));
            match self.csv_record_values(wanted, &mut values) {
                Ok(()) => visit((line, Ok(&values))),
                Err(error) => visit((line, Err(error))),
            }
            spare_values = recycle(values);
            line += memchr::memchr_iter(b'\n', &bytes[pos..end]).count() as u64;
            pos = end;
        }
    }

    /// The wanted fields of a line without quotes; `valid_record` is the same line when it is
    /// already known to be valid UTF-8.
    fn plain_record_values<'record>(
        &mut self,
        record: &'record [u8],
        valid_record: Option<&'record str>,
        wanted: &[usize],
        values: &mut Vec<&'record str>,
    ) -> Result<(), RowError> {
        let n_columns = self.columns.len();
        self.field_ends.clear();
        push_positions_of(self.delimiter, record, &mut self.field_ends);
        self.field_ends.push(record.len());
        if self.field_ends.len() != n_columns {
            return Err(RowError::WrongColumnCount {
                expected: n_columns,
                found: self.field_ends.len(),
            });
        }
        // One UTF-8 check for the whole line; the delimiter is ASCII, so every field of a
        // valid line is valid. Otherwise only the wanted fields decide.
        let whole = valid_record.or_else(|| simdutf8::basic::from_utf8(record).ok());
        for column_idx in wanted {
            let start = match column_idx.checked_sub(1) {
                Some(previous) => self.field_ends[previous] + 1,
                None => 0,
            };
            let end = self.field_ends[*column_idx];
            if end - start > MAX_FIELD_BYTES {
                return Err(RowError::FieldTooLong {
                    column: self.columns[*column_idx].clone(),
                });
            }
            let field = match whole.and_then(|whole| whole.get(start..end)) {
                Some(field) => field,
                None => {
                    std::str::from_utf8(&record[start..end]).map_err(|_| RowError::InvalidUtf8 {
                        column: self.columns[*column_idx].clone(),
                    })?
                }
            };
            values.push(field);
        }
        Ok(())
    }

    /// The wanted fields of the record the csv crate just read into `self.record`.
    fn csv_record_values<'record>(
        &'record self,
        wanted: &[usize],
        values: &mut Vec<&'record str>,
    ) -> Result<(), RowError> {
        let n_columns = self.columns.len();
        let record = &self.record;
        if record.len() != n_columns {
            return Err(RowError::WrongColumnCount {
                expected: n_columns,
                found: record.len(),
            });
        }
        // Fast path: one UTF-8 check for the whole record, then each wanted field is a slice
        // of it. A field whose ends are not character boundaries is invalid on its own; that
        // and an invalid record go the slow path, field by field, so that only the wanted
        // columns decide and the error names the column.
        let fast = match simdutf8::basic::from_utf8(record.as_slice()) {
            Ok(whole) => self.whole_record_fields(record, whole, wanted, values),
            Err(_) => FastPath::Retry,
        };
        match fast {
            FastPath::Done => Ok(()),
            FastPath::Error(error) => Err(error),
            FastPath::Retry => {
                values.clear();
                match self.field_by_field(record, wanted, values) {
                    Some(error) => Err(error),
                    None => Ok(()),
                }
            }
        }
    }

    /// Takes the wanted fields of a record known to be valid UTF-8 as a whole (`whole`).
    fn whole_record_fields<'record>(
        &self,
        record: &csv::ByteRecord,
        whole: &'record str,
        wanted: &[usize],
        values: &mut Vec<&'record str>,
    ) -> FastPath {
        let n_columns = self.columns.len();
        for column_idx in wanted {
            let Some(mut range) = record.range(*column_idx) else {
                return FastPath::Retry;
            };
            if *column_idx + 1 == n_columns && whole.as_bytes()[..range.end].ends_with(b"\r") {
                range.end -= 1;
            }
            if range.len() > MAX_FIELD_BYTES {
                return FastPath::Error(RowError::FieldTooLong {
                    column: self.columns[*column_idx].clone(),
                });
            }
            match whole.get(range) {
                Some(field) => values.push(field),
                None => return FastPath::Retry,
            }
        }
        FastPath::Done
    }

    /// Takes the wanted fields of a record one by one, checking each for UTF-8.
    fn field_by_field<'record>(
        &self,
        record: &'record csv::ByteRecord,
        wanted: &[usize],
        values: &mut Vec<&'record str>,
    ) -> Option<RowError> {
        let n_columns = self.columns.len();
        for column_idx in wanted {
            let mut field = &record[*column_idx];
            if *column_idx + 1 == n_columns {
                field = field.strip_suffix(b"\r").unwrap_or(field);
            }
            if field.len() > MAX_FIELD_BYTES {
                return Some(RowError::FieldTooLong {
                    column: self.columns[*column_idx].clone(),
                });
            }
            match std::str::from_utf8(field) {
                Ok(text) => values.push(text),
                Err(_) => {
                    return Some(RowError::InvalidUtf8 {
                        column: self.columns[*column_idx].clone(),
                    });
                }
            }
        }
        None
    }

    fn for_each_json_row(
        &mut self,
        chunk: &RawChunk,
        wanted: &[usize],
        visit: &mut impl FnMut(LineRow<'_>),
    ) {
        let mut spare_values: Vec<&str> = Vec::with_capacity(wanted.len());
        let lines = chunk.bytes.split(|byte| *byte == b'\n');
        for (this_line, raw_line) in (chunk.first_line..).zip(lines) {
            let raw_line = raw_line.trim_ascii();
            if raw_line.is_empty() {
                continue;
            }
            let object = match serde_json::from_slice::<serde_json::Value>(raw_line) {
                Ok(serde_json::Value::Object(object)) => object,
                Ok(_) => {
                    visit((this_line, Err(RowError::NotAnObject)));
                    continue;
                }
                Err(error) => {
                    visit((
                        this_line,
                        Err(RowError::InvalidJson {
                            column_no: error.column(),
                        }),
                    ));
                    continue;
                }
            };
            match self.json_row_values(&object, wanted) {
                Ok(()) => {
                    let mut values = recycle(std::mem::take(&mut spare_values));
                    values.extend(self.json_values.iter().map(|value| value.as_ref()));
                    visit((this_line, Ok(&values)));
                    spare_values = recycle(values);
                }
                Err(error) => visit((this_line, Err(error))),
            }
        }
    }

    /// Fills `json_values` with the wanted keys of `object` (missing and null are empty;
    /// numbers and booleans are written as JSON writes them).
    fn json_row_values(
        &mut self,
        object: &serde_json::Map<String, serde_json::Value>,
        wanted: &[usize],
    ) -> Result<(), RowError> {
        self.json_values.clear();
        for column_idx in wanted {
            let key = &self.columns[*column_idx];
            let value: Cow<'static, str> = match object.get(key) {
                None | Some(serde_json::Value::Null) => Cow::Borrowed(""),
                Some(serde_json::Value::String(text)) => {
                    if text.len() > MAX_FIELD_BYTES {
                        return Err(RowError::FieldTooLong {
                            column: key.clone(),
                        });
                    }
                    Cow::Owned(text.clone())
                }
                Some(serde_json::Value::Number(number)) => Cow::Owned(number.to_string()),
                Some(serde_json::Value::Bool(flag)) => {
                    Cow::Borrowed(if *flag { "true" } else { "false" })
                }
                Some(_) => return Err(RowError::NotAScalar { key: key.clone() }),
            };
            self.json_values.push(value);
        }
        Ok(())
    }
}

/// A row of a text chunk: its line number and its values (the file is added by the caller).
type LineRow<'row> = (u64, Result<&'row [&'row str], RowError>);

/// Appends the positions of `byte` in `line`, eight bytes at a time: a line's dozen
/// delimiters cost one word operation each instead of one `memchr` call each.
fn push_positions_of(byte: u8, line: &[u8], positions: &mut Vec<usize>) {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = u64::from(byte) * 0x0101_0101_0101_0101;
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let differs = u64::from_le_bytes(bytes) ^ pattern;
        // The high bit of each byte that equals `byte` (exact: no carry crosses bytes).
        let mut equal = !(((differs & LOW_SEVEN) + LOW_SEVEN) | differs) & HIGH;
        while equal != 0 {
            positions.push(base + (equal.trailing_zeros() / 8) as usize);
            equal &= equal - 1;
        }
        base += 8;
    }
    for (offset, candidate) in words.remainder().iter().enumerate() {
        if *candidate == byte {
            positions.push(base + offset);
        }
    }
}

/// Outcome of reading a record's fields through its whole-record UTF-8 check.
enum FastPath {
    Done,
    Error(RowError),
    /// Read the fields one by one instead.
    Retry,
}

/// An empty vector that reuses the allocation of `values` under a new lifetime, so a row's
/// values need no allocation of their own (`collect` over `into_iter` reuses the buffer).
fn recycle<'new>(mut values: Vec<&str>) -> Vec<&'new str> {
    values.clear();
    values.into_iter().map(|_| "").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::chunk::Chunk;

    fn source(bytes: &[u8], format: FileFormat) -> FileSource {
        FileSource::from_reader(
            PathBuf::from("test"),
            Box::new(io::Cursor::new(bytes.to_vec())),
            format,
        )
        .unwrap()
    }

    /// Every row of a source as `(line, values of all columns joined by |, or the error)`.
    fn rows(source: FileSource) -> Vec<(u64, Result<String, RowError>)> {
        let wanted: Vec<usize> = (0..source.columns.len()).collect();
        wanted_rows(source, &wanted)
    }

    /// [`rows`] of only the `wanted` columns.
    fn wanted_rows(source: FileSource, wanted: &[usize]) -> Vec<(u64, Result<String, RowError>)> {
        let mut parser = source.row_parser();
        let mut rows = Vec::new();
        for chunk in source.into_chunks() {
            let chunk = Chunk::Raw(chunk.unwrap());
            parser.for_each_row(&chunk, wanted, |(position, values)| {
                rows.push((position.line, values.map(|values| values.join("|"))));
            });
        }
        rows
    }

    #[test]
    fn delimiter_positions_agree_with_memchr() {
        let mut lines: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b",".to_vec(),
            b"a,b,,c,".to_vec(),
            b",,,,,,,,,,,,,,,,,".to_vec(),
            "u1,j\u{e9}r\u{f4}me@x.fr,+33 6,\u{7f}\u{80},\u{ff}x,,"
                .as_bytes()
                .to_vec(),
            (0..=255u8).collect(),
        ];
        lines.push(
            (0..300u32)
                .map(|index| {
                    if index % 7 == 0 {
                        b';'
                    } else {
                        b'a' + (index % 26) as u8
                    }
                })
                .collect(),
        );
        for delimiter in [b',', b';', b'\t', b'|', 0x80, 0xff, 0] {
            for line in &lines {
                let mut positions = Vec::new();
                push_positions_of(delimiter, line, &mut positions);
                let expected: Vec<usize> = memchr::memchr_iter(delimiter, line).collect();
                assert_eq!(positions, expected, "{delimiter} in {line:?}");
            }
        }
    }

    #[test]
    fn delimiter_is_sniffed_from_the_first_lines() {
        let table: &[(&[u8], u8)] = &[
            (b"a,b,c\n1,2,3\n", b','),
            (b"a;b;c\n1;2;3\n", b';'),
            (b"a\tb\tc\n1\t2\t3\n", b'\t'),
            (b"a|b|c\n1|2|3\n", b'|'),
            (b"email\nx@example.com\n", b','),
            (b"name;city\n\"Doe, John\";Paris\n", b';'),
            (b"a,b;c\n1,2;3\n4,5;6\n", b','),
        ];
        for (sample, expected) in table {
            assert_eq!(
                sniff_delimiter(sample) as char,
                *expected as char,
                "{}",
                String::from_utf8_lossy(sample)
            );
        }
    }

    #[test]
    fn bom_crlf_and_quoted_newlines_are_read() {
        let input = b"\xef\xbb\xbfid;name\r\n1;\"Anne\r\nMarie\"\r\n2;\"O\"\"Brien\"\r\n3;x";
        let source = source(input, FileFormat::Csv);
        assert_eq!(source.columns, ["id", "name"]);
        assert_eq!(source.delimiter, b';');
        assert_eq!(
            rows(source),
            [
                (2, Ok("1|Anne\r\nMarie".to_string())),
                (4, Ok("2|O\"Brien".to_string())),
                (5, Ok("3|x".to_string())),
            ]
        );
    }

    #[test]
    fn malformed_rows_become_errors_with_their_line_numbers() {
        let mut input = b"id,name\n1,ok\n\n2,a,extra\n3,\xff\xfe\n".to_vec();
        input.extend_from_slice(b"4,\"never closed\n5,fine\n");
        let rows = rows(source(&input, FileFormat::Csv));
        assert_eq!(
            rows,
            [
                (2, Ok("1|ok".to_string())),
                (
                    4,
                    Err(RowError::WrongColumnCount {
                        expected: 2,
                        found: 3
                    })
                ),
                (
                    5,
                    Err(RowError::InvalidUtf8 {
                        column: "name".to_string()
                    })
                ),
                (6, Err(RowError::UnterminatedQuote)),
                (7, Ok("5|fine".to_string())),
            ]
        );
    }

    #[test]
    fn plain_and_quoted_lines_agree_with_the_csv_crate() {
        let input = b"id,name,note\r\n\r\n1,\"Doe, John\",x\r\n2,plain,\xff\r\n3,\"a\"\"b\",\"multi\nline\"\r\n4,O\"Brien,y\r\n5,\"q\",too,many\r\n6,last,z";
        let source = source(input, FileFormat::Csv);
        // Only `id` and `name` are wanted: invalid UTF-8 in `note` does not matter.
        assert_eq!(
            wanted_rows(source, &[0, 1]),
            [
                (3, Ok("1|Doe, John".to_string())),
                (4, Ok("2|plain".to_string())),
                (5, Ok("3|a\"b".to_string())),
                (7, Ok("4|O\"Brien".to_string())),
                (
                    8,
                    Err(RowError::WrongColumnCount {
                        expected: 3,
                        found: 4
                    })
                ),
                (9, Ok("6|last".to_string())),
            ]
        );
    }

    #[test]
    fn huge_fields_and_lines_are_rejected_without_buffering_them() {
        let mut input = b"id,name\n1,".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_FIELD_BYTES + 1));
        input.extend_from_slice(b"\n2,");
        input.extend(std::iter::repeat_n(b'b', 3 * MAX_RECORD_BYTES));
        input.extend_from_slice(b"\n3,\"");
        input.extend(std::iter::repeat_n(b'c', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\n4,last\n");
        let rows = rows(source(&input, FileFormat::Csv));
        assert_eq!(
            rows,
            [
                (
                    2,
                    Err(RowError::FieldTooLong {
                        column: "name".to_string()
                    })
                ),
                (3, Err(RowError::LineTooLong)),
                (4, Err(RowError::UnterminatedQuote)),
                (5, Ok("4|last".to_string())),
            ]
        );
    }

    #[test]
    fn many_chunks_keep_every_row_and_line_number() {
        let n_rows = CHUNK_MAX_ROWS * 3 + 17;
        let mut input = b"id,note\n".to_vec();
        for row_idx in 0..n_rows {
            if row_idx % 1000 == 0 {
                input.extend_from_slice(format!("{row_idx},\"multi\nline\"\n").as_bytes());
            } else {
                input.extend_from_slice(format!("{row_idx},x\n").as_bytes());
            }
        }
        let source = source(&input, FileFormat::Csv);
        let rows = rows(source);
        assert_eq!(rows.len(), n_rows);
        let mut expected_line = 2;
        for (row_idx, (line, values)) in rows.iter().enumerate() {
            assert_eq!(*line, expected_line, "row {row_idx}");
            let values = values.as_ref().unwrap();
            assert!(values.starts_with(&format!("{row_idx}|")), "{values}");
            expected_line += if row_idx % 1000 == 0 { 2 } else { 1 };
        }
    }

    #[test]
    fn json_lines_give_keys_and_per_line_errors() {
        let input = b"{\"id\":1,\"email\":\"a@example.com\"}\n\n[1,2]\n{\"id\":\"x\",\"email\":null,\"extra\":true}\n{oops\n{\"id\":2,\"email\":{\"nested\":1}}\n";
        let source = source(input, FileFormat::JsonLines);
        assert_eq!(source.columns, ["email", "id", "extra"]);
        let rows = rows(source);
        assert_eq!(
            rows,
            [
                (1, Ok("a@example.com|1|".to_string())),
                (3, Err(RowError::NotAnObject)),
                (4, Ok("|x|true".to_string())),
                (5, Err(RowError::InvalidJson { column_no: 2 })),
                (
                    6,
                    Err(RowError::NotAScalar {
                        key: "email".to_string()
                    })
                ),
            ]
        );
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            FileFormat::from_path(Path::new("a.jsonl")),
            FileFormat::JsonLines
        );
        assert_eq!(
            FileFormat::from_path(Path::new("a.NDJSON")),
            FileFormat::JsonLines
        );
        assert_eq!(FileFormat::from_path(Path::new("a.csv")), FileFormat::Csv);
        assert_eq!(FileFormat::from_path(Path::new("a.tsv")), FileFormat::Csv);
        assert_eq!(
            FileFormat::from_path(Path::new("a.Parquet")),
            FileFormat::Parquet
        );
        // The configuration accepts only extensions that name a format; `hash` reads the
        // others (and stdin) as CSV.
        let table = [
            ("a.TXT", Some(FileFormat::Csv)),
            ("a.ndjson", Some(FileFormat::JsonLines)),
            ("a.xlsx", None),
            ("exports/users", None),
        ];
        for (path, expected) in table {
            assert_eq!(
                FileFormat::from_known_extension(Path::new(path)),
                expected,
                "{path}"
            );
        }
        assert_eq!(FileFormat::from_path(Path::new("a.xlsx")), FileFormat::Csv);
    }
}
