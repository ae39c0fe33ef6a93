//! Where members come from: a segment's source (a CSV, JSON Lines or Parquet file or a glob of
//! them, or a SQL query) as columns and a stream of chunks of rows.
//!
//! # Layout
//! - `mod.rs`: [`SegmentSource`], the one source type the hash pipeline and sync read, and
//!   [`SourceSpec`], what a segment names.
//! - `chunk.rs`: [`chunk::Chunk`] (raw text rows, or decoded rows), [`chunk::RowParser`] (each
//!   row's position and values, or a [`chunk::RowError`]), ISO date writers.
//! - `file.rs`: CSV (sniffed delimiter, BOM, CRLF) and JSON Lines files or stdin, read as a
//!   stream of raw chunks of whole rows that worker threads split in parallel.
//! - `parquet.rs`: Parquet files, row group by row group, wanted columns only.
//! - `sql.rs`: SQL queries on PostgreSQL or SQLite, streamed from a thread of their own.
//! - `files.rs`: globs of files read as one segment.
//! - `mapping.rs`: which column feeds which [`audsync_core::Field`], automatic or from
//!   `--map COLUMN=KEY`, and which column holds the user id.

pub mod chunk;
pub mod file;
pub mod files;
pub mod mapping;
pub mod parquet;
pub mod sql;

use std::path::{Path, PathBuf};

use crate::sources::chunk::{Chunk, Chunks, RowParser};
use crate::sources::file::FileSource;
use crate::sources::files::GlobSource;
use crate::sources::parquet::ParquetSource;
use crate::sources::sql::{QuerySpec, SqlSource};

/// How a file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-, semicolon-, tab- or pipe-separated values with a header line.
    Csv,
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// Apache Parquet (`.parquet`).
    Parquet,
}

impl FileFormat {
    /// The format a path's extension implies: `.jsonl` and `.ndjson` are JSON Lines,
    /// `.parquet` is Parquet, anything else (and stdin) is CSV.
    pub fn from_path(path: &Path) -> FileFormat {
        FileFormat::from_known_extension(path).unwrap_or(FileFormat::Csv)
    }

    /// The format of a path whose extension (any case) names one: `.csv`, `.tsv` and `.txt`
    /// are CSV, `.jsonl` and `.ndjson` JSON Lines, `.parquet` Parquet; `None` for any other.
    pub fn from_known_extension(path: &Path) -> Option<FileFormat> {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match extension.as_str() {
            "csv" | "tsv" | "txt" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" => Some(FileFormat::JsonLines),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

/// What a segment reads.
#[derive(Clone, Debug)]
pub enum SourceSpec {
    /// A file, `-` for stdin, or a glob of files (`exports/*.csv`).
    Files {
        path: PathBuf,
        /// `None`: from the extension.
        format: Option<FileFormat>,
    },
    /// A SQL query.
    Query(QuerySpec),
}

impl SourceSpec {
    /// A file or glob, its format from the extension.
    pub fn file(path: impl Into<PathBuf>) -> SourceSpec {
        SourceSpec::Files {
            path: path.into(),
            format: None,
        }
    }

    /// The file or glob, `None` for a query.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SourceSpec::Files { path, .. } => Some(path),
            SourceSpec::Query(_) => None,
        }
    }
}

/// An opened source: its columns and its rows not yet read.
#[derive(Debug)]
pub struct SegmentSource {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Text(FileSource),
    Parquet(ParquetSource),
    Glob(GlobSource),
    Query(SqlSource),
}

impl SegmentSource {
    /// Opens what `spec` names (see [`SegmentSource::open_files`] and [`SqlSource::open`]).
    pub fn open(spec: &SourceSpec) -> anyhow::Result<SegmentSource> {
        match spec {
            SourceSpec::Files { path, format } => SegmentSource::open_files(path, *format),
            SourceSpec::Query(query) => Ok(SegmentSource {
                kind: Kind::Query(SqlSource::open(query)?),
            }),
        }
    }

    /// Opens a file (`-` for stdin) or, when no file has that name and it has wildcards, every
    /// file of the glob. `format` overrides the extension.
    pub fn open_files(path: &Path, format: Option<FileFormat>) -> anyhow::Result<SegmentSource> {
        let format = format.unwrap_or_else(|| {
            if path.as_os_str() == "-" {
                FileFormat::Csv
            } else {
                FileFormat::from_path(path)
            }
        });
        let kind = if path.as_os_str() != "-" && !path.exists() && files::is_pattern(path) {
            Kind::Glob(GlobSource::open(path, format)?)
        } else if format == FileFormat::Parquet {
            if path.as_os_str() == "-" {
                anyhow::bail!("Parquet cannot be read from stdin; name the file");
            }
            Kind::Parquet(ParquetSource::open(path)?)
        } else {
            Kind::Text(FileSource::open(path, Some(format))?)
        };
        Ok(SegmentSource { kind })
    }

    /// A text source opened elsewhere (e.g. from memory).
    pub fn from_file_source(source: FileSource) -> SegmentSource {
        SegmentSource {
            kind: Kind::Text(source),
        }
    }

    /// What the source is, for messages: a path, a pattern, or `query on <database>`.
    pub fn name(&self) -> String {
        match &self.kind {
            Kind::Text(source) => source.path.display().to_string(),
            Kind::Parquet(source) => source.path.display().to_string(),
            Kind::Glob(source) => source.pattern.clone(),
            Kind::Query(source) => source.name.clone(),
        }
    }

    /// The column names: a header, JSON keys, a Parquet schema's fields, a query's result.
    pub fn columns(&self) -> &[String] {
        match &self.kind {
            Kind::Text(source) => &source.columns,
            Kind::Parquet(source) => &source.columns,
            Kind::Glob(source) => &source.columns,
            Kind::Query(source) => &source.columns,
        }
    }

    /// Whether columns are JSON keys (named so in messages).
    fn is_json_lines(&self) -> bool {
        match &self.kind {
            Kind::Text(source) => source.format == FileFormat::JsonLines,
            Kind::Glob(source) => source.format == FileFormat::JsonLines,
            Kind::Parquet(_) | Kind::Query(_) => false,
        }
    }

    /// `key` for JSON Lines, `column` otherwise.
    pub fn column_noun(&self) -> &'static str {
        if self.is_json_lines() {
            "key"
        } else {
            "column"
        }
    }

    /// The position of column `name` (exact, then ignoring ASCII case and surrounding
    /// whitespace).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        column_index(self.columns(), name)
    }

    /// The position of column `name`; JSON Lines objects may carry keys the first lines did
    /// not show, so an unknown key becomes a new column there.
    pub fn column_index_or_add(&mut self, name: &str) -> Option<usize> {
        if let Some(index) = self.column_index(name) {
            return Some(index);
        }
        match &mut self.kind {
            Kind::Text(source) => source.column_index_or_add(name),
            Kind::Glob(source) if source.format == FileFormat::JsonLines => {
                source.columns.push(name.to_owned());
                Some(source.columns.len() - 1)
            }
            Kind::Glob(_) | Kind::Parquet(_) | Kind::Query(_) => None,
        }
    }

    /// A parser for this source's chunks (one per worker).
    pub fn row_parser(&self) -> RowParser {
        RowParser::new(self.columns().to_vec())
    }

    /// Starts reading: the stream of chunks holding (at least) the columns at `wanted`, the
    /// same positions later given to [`RowParser::for_each_row`]. Parquet and SQL sources read
    /// and decode only those columns.
    pub fn into_chunks(self, wanted: &[usize]) -> Chunks {
        match self.kind {
            Kind::Text(source) => {
                Chunks::new(source.into_chunks().map(|chunk| chunk.map(Chunk::Raw)))
            }
            Kind::Parquet(source) => match source.into_row_chunks(wanted, None) {
                Ok(chunks) => Chunks::new(chunks.map(|chunk| chunk.map(Chunk::Rows))),
                Err(error) => Chunks::failed(error),
            },
            Kind::Glob(source) => source.into_chunks(wanted),
            Kind::Query(source) => source.into_chunks(wanted),
        }
    }
}

/// The position of column `name` in `columns` (exact, then ignoring ASCII case and
/// surrounding whitespace).
pub fn column_index(columns: &[String], name: &str) -> Option<usize> {
    columns
        .iter()
        .position(|column| column == name)
        .or_else(|| {
            columns
                .iter()
                .position(|column| column.trim().eq_ignore_ascii_case(name.trim()))
        })
}
