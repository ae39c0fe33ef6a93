//! What every source hands the worker threads: [`Chunk`]s of whole rows, and the
//! [`RowParser`] that yields each row's position and values (or a [`RowError`]).
//!
//! Text files (CSV, JSON Lines) give [`RawChunk`]s of raw bytes that the workers split; Parquet
//! files and SQL queries are decoded on the reader thread into [`RowChunk`]s of ready values
//! (one string buffer and the end of each value, no allocation per cell).

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::sources::file::{MAX_FIELD_BYTES, MAX_RECORD_BYTES, RawChunk, TextParser};

/// Rows per [`RowChunk`]: about the work of a CSV chunk, a few MiB of output per chunk.
pub const ROW_CHUNK_MAX_ROWS: usize = 8 * 1024;

/// Bytes of values per [`RowChunk`], for sources with long values.
pub const ROW_CHUNK_MAX_BYTES: usize = 1024 * 1024;

/// Why one row could not be read. The text never contains the row's values (they are PII),
/// only column names, counts and positions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("wrong column count: {found} fields where the header has {expected}")]
    WrongColumnCount { expected: usize, found: usize },
    #[error("invalid UTF-8 in column '{column}'")]
    InvalidUtf8 { column: String },
    #[error("field longer than {MAX_FIELD_BYTES} bytes in column '{column}'")]
    FieldTooLong { column: String },
    #[error("unterminated quote (the rest of the line was skipped)")]
    UnterminatedQuote,
    #[error("line longer than {MAX_RECORD_BYTES} bytes")]
    LineTooLong,
    #[error("invalid JSON at column {column_no}")]
    InvalidJson { column_no: usize },
    #[error("JSON line is not an object")]
    NotAnObject,
    #[error("JSON value of '{key}' is not a string, number, boolean or null")]
    NotAScalar { key: String },
    #[error("column '{column}' holds a list, map or struct, not a single value")]
    Nested { column: String },
    #[error("column '{column}' holds a value audsync cannot read as text ({what})")]
    Unreadable { column: String, what: &'static str },
}

impl RowError {
    /// The kind of error without its details, for counting rejects by reason.
    pub fn kind(&self) -> &'static str {
        match self {
            RowError::WrongColumnCount { .. } => "wrong column count",
            RowError::InvalidUtf8 { .. } => "invalid UTF-8",
            RowError::FieldTooLong { .. } => "field too long",
            RowError::UnterminatedQuote => "unterminated quote",
            RowError::LineTooLong => "line too long",
            RowError::InvalidJson { .. } => "invalid JSON",
            RowError::NotAnObject => "JSON line is not an object",
            RowError::NotAScalar { .. } => "JSON value is not a scalar",
            RowError::Nested { .. } => "nested value",
            RowError::Unreadable { .. } => "unreadable value",
        }
    }
}

/// Where a row is, for rejects: its line in a text file, or its number (1-based) in a Parquet
/// file or a query's result; with the file's name when the source is a glob of files
/// (`part-2.csv:12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPosition<'chunk> {
    pub file: Option<&'chunk str>,
    pub line: u64,
}

impl fmt::Display for RowPosition<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.file {
            Some(file) => write!(formatter, "{file}:{}", self.line),
            None => write!(formatter, "{}", self.line),
        }
    }
}

/// One parsed row: its position and the values of the wanted columns, in the order asked.
pub type ParsedRow<'row> = (RowPosition<'row>, Result<&'row [&'row str], RowError>);

/// Whole rows of a source, in input order.
#[derive(Debug)]
pub enum Chunk {
    /// Raw text rows, split by the worker.
    Raw(RawChunk),
    /// Decoded rows (Parquet, SQL).
    Rows(RowChunk),
}

impl Chunk {
    /// About how many bytes of input the chunk holds, to size output buffers.
    pub fn n_bytes(&self) -> usize {
        match self {
            Chunk::Raw(raw) => raw.bytes.len(),
            Chunk::Rows(rows) => rows.text.len() + rows.n_rows as usize * 8,
        }
    }
}

/// The stream of [`Chunk`]s of a source; an `Err` ends the stream (an input/output error, a
/// query that failed, a file of a glob that does not fit the first).
pub struct Chunks {
    inner: Box<dyn Iterator<Item = io::Result<Chunk>> + Send>,
}

impl Chunks {
    pub fn new(inner: impl Iterator<Item = io::Result<Chunk>> + Send + 'static) -> Chunks {
        Chunks {
            inner: Box::new(inner),
        }
    }

    /// A stream that fails at once with `error`.
    pub fn failed(error: io::Error) -> Chunks {
        Chunks::new(std::iter::once(Err(error)))
    }
}

impl Iterator for Chunks {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<io::Result<Chunk>> {
        self.inner.next()
    }
}

/// Decoded rows: the values of some columns of up to [`ROW_CHUNK_MAX_ROWS`] consecutive rows.
#[derive(Debug)]
pub struct RowChunk {
    /// Number (1-based) of the first row.
    pub first_row: u64,
    /// The file the rows come from when the source is a glob.
    pub file: Option<Arc<str>>,
    /// The source columns held, in the order of each row's values.
    columns: Arc<[usize]>,
    /// Every value, one after the other.
    text: String,
    /// End of each value in `text`, `columns.len()` per row (empty values for failed rows).
    ends: Vec<u32>,
    /// Rows that could not be read, by index in the chunk, ascending.
    errors: Vec<(u32, RowError)>,
    n_rows: u32,
}

impl RowChunk {
    pub fn n_rows(&self) -> usize {
        self.n_rows as usize
    }

    /// Calls `visit` for every row in order with the values of the columns at `wanted`
    /// (positions in the source's columns). A wanted column the chunk does not hold reads as
    /// empty (never happens: sources read the columns they are asked for).
    fn for_each_row(&self, wanted: &[usize], visit: &mut impl FnMut(ParsedRow<'_>)) {
        let slots: Vec<Option<usize>> = wanted
            .iter()
            .map(|column| self.columns.iter().position(|held| held == column))
            .collect();
        debug_assert!(
            slots.iter().all(Option::is_some),
            "a wanted column not read"
        );
        let n_columns = self.columns.len();
        let mut errors = self.errors.iter().peekable();
        let mut values: Vec<&str> = Vec::with_capacity(wanted.len());
        for row_idx in 0..self.n_rows {
            let position = RowPosition {
                file: self.file.as_deref(),
                line: self.first_row + u64::from(row_idx),
            };
            if let Some((_, error)) = errors.next_if(|(failed, _)| *failed == row_idx) {
                visit((position, Err(error.clone())));
                continue;
            }
            let row_start = row_idx as usize * n_columns;
            values.clear();
            for slot in &slots {
                let value = match slot {
                    Some(slot) => {
                        let value_idx = row_start + slot;
                        let start = match value_idx.checked_sub(1) {
                            Some(previous) => self.ends[previous] as usize,
                            None => 0,
                        };
                        &self.text[start..self.ends[value_idx] as usize]
                    }
                    None => "",
                };
                values.push(value);
            }
            visit((position, Ok(&values)));
        }
    }
}

/// Fills a [`RowChunk`] value by value: write a value's text into [`RowChunkBuilder::text`],
/// then [`RowChunkBuilder::end_value`]; after each row's values, [`RowChunkBuilder::end_row`].
pub struct RowChunkBuilder {
    chunk: RowChunk,
    /// Names of the held columns, for errors.
    column_names: Arc<[String]>,
    /// Where the current row's text and ends start.
    row_text_start: usize,
    row_ends_start: usize,
    row_error: Option<RowError>,
}

impl RowChunkBuilder {
    /// A chunk whose first row is row `first_row` and that holds `columns` (source positions),
    /// named `column_names`.
    pub fn new(
        first_row: u64,
        file: Option<Arc<str>>,
        columns: Arc<[usize]>,
        column_names: Arc<[String]>,
    ) -> RowChunkBuilder {
        RowChunkBuilder {
            chunk: RowChunk {
                first_row,
                file,
                ends: Vec::with_capacity(columns.len() * 1024),
                columns,
                text: String::with_capacity(64 * 1024),
                errors: Vec::new(),
                n_rows: 0,
            },
            column_names,
            row_text_start: 0,
            row_ends_start: 0,
            row_error: None,
        }
    }

    /// Where the current value's text goes.
    pub fn text(&mut self) -> &mut String {
        &mut self.chunk.text
    }

    /// Ends the value just written (the `value_idx`-th of the row); a value longer than
    /// [`MAX_FIELD_BYTES`] fails the row.
    pub fn end_value(&mut self) {
        let value_idx = self.chunk.ends.len() - self.row_ends_start;
        let start = match self.chunk.ends.last() {
            Some(end) if self.chunk.ends.len() > self.row_ends_start => *end as usize,
            _ => self.row_text_start,
        };
        if self.chunk.text.len() - start > MAX_FIELD_BYTES {
            self.chunk.text.truncate(start);
            let column = self.column_name(value_idx);
            self.fail_row(RowError::FieldTooLong { column });
        }
        self.chunk.ends.push(self.chunk.text.len() as u32);
    }

    /// Fails the current row (the first error counts); its values are dropped at
    /// [`RowChunkBuilder::end_row`].
    pub fn fail_row(&mut self, error: RowError) {
        if self.row_error.is_none() {
            self.row_error = Some(error);
        }
    }

    /// The name of the `value_idx`-th column of a row, for errors.
    pub fn column_name(&self, value_idx: usize) -> String {
        self.column_names
            .get(value_idx)
            .cloned()
            .unwrap_or_default()
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        let n_columns = self.chunk.columns.len();
        if let Some(error) = self.row_error.take() {
            self.chunk.text.truncate(self.row_text_start);
            self.chunk.ends.truncate(self.row_ends_start);
            self.chunk.errors.push((self.chunk.n_rows, error));
        }
        let end = self.chunk.text.len() as u32;
        self.chunk.ends.resize(self.row_ends_start + n_columns, end);
        self.chunk.n_rows += 1;
        self.row_text_start = self.chunk.text.len();
        self.row_ends_start = self.chunk.ends.len();
    }

    /// Whether the chunk has reached its row or byte limit.
    pub fn is_full(&self) -> bool {
        self.chunk.n_rows as usize >= ROW_CHUNK_MAX_ROWS
            || self.chunk.text.len() >= ROW_CHUNK_MAX_BYTES
    }

    pub fn n_rows(&self) -> usize {
        self.chunk.n_rows as usize
    }

    /// The chunk, and a builder for the next one (same columns, numbering on).
    pub fn finish(mut self) -> (RowChunk, RowChunkBuilder) {
        let chunk = self.take_chunk();
        (chunk, self)
    }

    /// The chunk so far; the builder goes on with the next one (same columns, numbering on).
    pub fn take_chunk(&mut self) -> RowChunk {
        let next = RowChunk {
            first_row: self.chunk.first_row + u64::from(self.chunk.n_rows),
            file: self.chunk.file.clone(),
            columns: self.chunk.columns.clone(),
            text: String::with_capacity(self.chunk.text.capacity()),
            ends: Vec::with_capacity(self.chunk.ends.capacity()),
            errors: Vec::new(),
            n_rows: 0,
        };
        self.row_text_start = 0;
        self.row_ends_start = 0;
        self.row_error = None;
        std::mem::replace(&mut self.chunk, next)
    }
}

/// Parses the rows of [`Chunk`]s; one per worker thread, reused across chunks.
#[derive(Clone)]
pub struct RowParser {
    text: TextParser,
}

impl RowParser {
    /// A parser for a source with these columns.
    pub fn new(columns: Vec<String>) -> RowParser {
        RowParser {
            text: TextParser::new(columns),
        }
    }

    /// Calls `visit` for every row of `chunk` in order with the values of the columns at
    /// `wanted` (positions in the source's columns).
    pub fn for_each_row(
        &mut self,
        chunk: &Chunk,
        wanted: &[usize],
        mut visit: impl FnMut(ParsedRow<'_>),
    ) {
        match chunk {
            Chunk::Raw(raw) => self.text.for_each_row(raw, wanted, &mut visit),
            Chunk::Rows(rows) => rows.for_each_row(wanted, &mut visit),
        }
    }
}

/// Writes the date `days` after 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian).
pub fn write_iso_date(out: &mut String, days: i64) {
    use std::fmt::Write as _;
    let (year, month, day) = crate::store::civil_from_days(days);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

/// Writes a time of day of `micros` microseconds after midnight as `HH:MM:SS`, with the
/// fraction when there is one (`HH:MM:SS.ffffff`, trailing zeros dropped).
pub fn write_iso_time(out: &mut String, micros: i64) {
    use std::fmt::Write as _;
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Writes the instant `micros` microseconds after 1970-01-01T00:00:00 as
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (a date of birth reader takes the date before the `T`).
pub fn write_iso_timestamp(out: &mut String, micros: i64) {
    const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;
    write_iso_date(out, micros.div_euclid(MICROS_PER_DAY));
    out.push('T');
    write_iso_time(out, micros.rem_euclid(MICROS_PER_DAY));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(columns: &[usize]) -> RowChunkBuilder {
        let names: Vec<String> = columns.iter().map(|column| format!("c{column}")).collect();
        RowChunkBuilder::new(1, None, columns.into(), names.into())
    }

    fn rows(chunk: &RowChunk, wanted: &[usize]) -> Vec<(u64, Result<String, RowError>)> {
        let mut rows = Vec::new();
        chunk.for_each_row(wanted, &mut |(position, values)| {
            rows.push((position.line, values.map(|values| values.join("|"))));
        });
        rows
    }

    #[test]
    fn row_chunks_give_wanted_values_in_the_order_asked_and_failed_rows_as_errors() {
        let mut builder = builder(&[2, 5]);
        for (row, fail) in [(["a", "b"], false), (["x", "y"], true), (["", "d"], false)] {
            for value in row {
                builder.text().push_str(value);
                builder.end_value();
            }
            if fail {
                builder.fail_row(RowError::Nested {
                    column: "c5".to_owned(),
                });
            }
            builder.end_row();
        }
        let (chunk, next) = builder.finish();
        assert_eq!(next.chunk.first_row, 4);
        assert_eq!(
            rows(&chunk, &[5, 2]),
            [
                (1, Ok("b|a".to_owned())),
                (
                    2,
                    Err(RowError::Nested {
                        column: "c5".to_owned()
                    })
                ),
                (3, Ok("d|".to_owned())),
            ]
        );
    }

    #[test]
    fn a_value_too_long_fails_its_row_only() {
        let mut builder = builder(&[0]);
        builder
            .text()
            .extend(std::iter::repeat_n('x', MAX_FIELD_BYTES + 1));
        builder.end_value();
        builder.end_row();
        builder.text().push_str("ok");
        builder.end_value();
        builder.end_row();
        let (chunk, _) = builder.finish();
        assert!(chunk.text.len() < 10);
        assert_eq!(
            rows(&chunk, &[0]),
            [
                (
                    1,
                    Err(RowError::FieldTooLong {
                        column: "c0".to_owned()
                    })
                ),
                (2, Ok("ok".to_owned())),
            ]
        );
    }

    #[test]
    fn dates_and_times_are_iso() {
        let table: &[(i64, &str)] = &[
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (7_441, "1990-05-17"),
            (11_016, "2000-02-29"),
            (-719_528, "0000-01-01"),
        ];
        for (days, expected) in table {
            let mut out = String::new();
            write_iso_date(&mut out, *days);
            assert_eq!(out, *expected, "{days}");
        }
        let mut out = String::new();
        write_iso_timestamp(&mut out, 642_947_400_000_000 + 123_000);
        assert_eq!(out, "1990-05-17T12:30:00.123");
        out.clear();
        write_iso_timestamp(&mut out, -1);
        assert_eq!(out, "1969-12-31T23:59:59.999999");
        let position = RowPosition {
            file: Some("b.csv"),
            line: 12,
        };
        assert_eq!(position.to_string(), "b.csv:12");
    }
}
