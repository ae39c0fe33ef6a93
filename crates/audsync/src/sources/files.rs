//! Globs of files (`exports/*.csv`): every matching file, in sorted order, read as one
//! segment. CSV and Parquet files must all have the first file's columns (else a clear error
//! naming the file); JSON Lines files are read by key, so their columns are the keys of all.
//! Row positions name the file (`part-2.csv:12`), relative to the pattern's fixed folder.
//!
//! Every file's header is checked when the glob is opened (one file open at a time), so that
//! a misfit file stops the run before any row is read; files are reopened in turn while the
//! chunks stream, and checked again there in case one changed meanwhile.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::sources::FileFormat;
use crate::sources::chunk::{Chunk, Chunks};
use crate::sources::file::FileSource;
use crate::sources::parquet::ParquetSource;

/// Whether `path` is a glob pattern rather than a file name.
pub fn is_pattern(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|text| text.contains(['*', '?', '[']))
}

/// One opened file of a glob.
enum OpenedFile {
    Text(FileSource),
    Parquet(ParquetSource),
}

impl OpenedFile {
    fn open(path: &Path, format: FileFormat) -> anyhow::Result<OpenedFile> {
        Ok(match format {
            FileFormat::Parquet => OpenedFile::Parquet(ParquetSource::open(path)?),
            FileFormat::Csv | FileFormat::JsonLines => {
                OpenedFile::Text(FileSource::open(path, Some(format))?)
            }
        })
    }

    fn columns(&self) -> &[String] {
        match self {
            OpenedFile::Text(source) => &source.columns,
            OpenedFile::Parquet(source) => &source.columns,
        }
    }

    fn into_chunks(self, wanted: &[usize], label: Arc<str>) -> io::Result<Chunks> {
        Ok(match self {
            OpenedFile::Text(source) => Chunks::new(
                source
                    .into_chunks()
                    .with_file_label(label)
                    .map(|chunk| chunk.map(Chunk::Raw)),
            ),
            OpenedFile::Parquet(source) => Chunks::new(
                source
                    .into_row_chunks(wanted, Some(label))?
                    .map(|chunk| chunk.map(Chunk::Rows)),
            ),
        })
    }
}

/// The files a glob matched, their columns, and the first file opened.
pub struct GlobSource {
    /// The pattern, for messages.
    pub pattern: String,
    pub format: FileFormat,
    pub columns: Vec<String>,
    /// Each file and its name in row positions.
    files: Vec<(PathBuf, Arc<str>)>,
    first: Option<OpenedFile>,
}

impl std::fmt::Debug for GlobSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GlobSource")
            .field("pattern", &self.pattern)
            .field("format", &self.format)
            .field("columns", &self.columns)
            .field("n_files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl GlobSource {
    /// Finds the files of `pattern` (sorted) and checks that they fit together.
    pub fn open(pattern: &Path, format: FileFormat) -> anyhow::Result<GlobSource> {
        let Some(pattern_text) = pattern.to_str() else {
            bail!("{}: a glob pattern must be UTF-8", pattern.display());
        };
        let matches = glob::glob(pattern_text)
            .with_context(|| format!("{pattern_text}: invalid glob pattern"))?;
        let mut paths = Vec::new();
        for entry in matches {
            let path = entry.with_context(|| format!("{pattern_text}: cannot list"))?;
            if path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        if paths.is_empty() {
            bail!("no file matches {pattern_text}");
        }
        let base = fixed_prefix(pattern);
        let files: Vec<(PathBuf, Arc<str>)> = paths
            .into_iter()
            .map(|path| {
                let label = path
                    .strip_prefix(&base)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                (path, Arc::from(label))
            })
            .collect();

        let first = OpenedFile::open(&files[0].0, format)?;
        let mut columns = first.columns().to_vec();
        for (path, _) in &files[1..] {
            let opened = OpenedFile::open(path, format)?;
            if format == FileFormat::JsonLines {
                for key in opened.columns() {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
            } else {
                check_same_columns(path, opened.columns(), &files[0].0, &columns)?;
            }
        }
        Ok(GlobSource {
            pattern: pattern_text.to_owned(),
            format,
            columns,
            files,
            first: Some(first),
        })
    }

    /// How many files matched.
    pub fn n_files(&self) -> usize {
        self.files.len()
    }

    /// The rows of every file in turn.
    pub fn into_chunks(mut self, wanted: &[usize]) -> Chunks {
        let wanted = wanted.to_vec();
        let mut next_file = 0;
        let mut current: Option<Chunks> = None;
        let mut failed = false;
        Chunks::new(std::iter::from_fn(move || {
            loop {
                if failed {
                    return None;
                }
                if let Some(chunks) = current.as_mut() {
                    match chunks.next() {
                        Some(Ok(chunk)) => return Some(Ok(chunk)),
                        Some(Err(error)) => {
                            failed = true;
                            return Some(Err(error));
                        }
                        None => current = None,
                    }
                }
                let (path, label) = self.files.get(next_file)?.clone();
                let opened = match self.first.take() {
                    Some(first) if next_file == 0 => Ok(first),
                    _ => self.reopen(&path),
                };
                next_file += 1;
                match opened.and_then(|opened| opened.into_chunks(&wanted, label)) {
                    Ok(chunks) => current = Some(chunks),
                    Err(error) => {
                        failed = true;
                        return Some(Err(error));
                    }
                }
            }
        }))
    }

    /// Opens a file again for reading and checks it still fits.
    fn reopen(&self, path: &Path) -> io::Result<OpenedFile> {
        let opened = OpenedFile::open(path, self.format)
            .map_err(|error| io::Error::other(format!("{error:#}")))?;
        if self.format != FileFormat::JsonLines {
            check_same_columns(path, opened.columns(), &self.files[0].0, &self.columns)
                .map_err(|error| io::Error::other(format!("{error:#}")))?;
        }
        Ok(opened)
    }
}

fn check_same_columns(
    path: &Path,
    columns: &[String],
    first_path: &Path,
    first_columns: &[String],
) -> anyhow::Result<()> {
    if columns != first_columns {
        bail!(
            "{}: its columns ({}) differ from those of {} ({}); every file of a glob needs the \
             same header",
            path.display(),
            columns.join(", "),
            first_path.display(),
            first_columns.join(", ")
        );
    }
    Ok(())
}

/// The folder part of `pattern` before its first component with a wildcard.
fn fixed_prefix(pattern: &Path) -> PathBuf {
    let mut prefix = PathBuf::new();
    for component in pattern.components() {
        if let Component::Normal(part) = component
            && part
                .to_str()
                .is_some_and(|text| text.contains(['*', '?', '[']))
        {
            break;
        }
        prefix.push(component);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_relative_to_the_fixed_folder() {
        assert_eq!(
            fixed_prefix(Path::new("/data/exports/*.csv")),
            Path::new("/data/exports")
        );
        assert_eq!(
            fixed_prefix(Path::new("exports/**/part-?.csv")),
            Path::new("exports")
        );
        assert!(is_pattern(Path::new("a/*.csv")));
        assert!(!is_pattern(Path::new("a/b.csv")));
    }
}
