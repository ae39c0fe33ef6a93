//! Parquet files: the schema's top-level fields are the columns; rows are read row group by
//! row group with the parquet crate's record API (only the wanted columns), and each value is
//! written as text into [`RowChunk`]s on the reader thread.
//!
//! Values become the text a CSV export would hold: strings as they are, integers and floats
//! in decimal (`1.5`, `3`), decimals with their scale, booleans `true`/`false`, dates
//! `YYYY-MM-DD` (what the date of birth reader expects), timestamps `YYYY-MM-DDTHH:MM:SS[.f]`,
//! times `HH:MM:SS[.f]`, null as an empty value. Binary values are read as UTF-8 (old writers
//! store strings without the UTF8 annotation); lists, maps and structs fail their row.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use parquet::data_type::Decimal;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::record::reader::RowIter;
use parquet::schema::types::{Type, TypePtr};

use crate::sources::chunk::{
    RowChunk, RowChunkBuilder, RowError, write_iso_date, write_iso_time, write_iso_timestamp,
};

/// An opened Parquet file: its columns and its reader (the footer has been read).
pub struct ParquetSource {
    pub path: PathBuf,
    /// The top-level fields of the schema.
    pub columns: Vec<String>,
    fields: Vec<TypePtr>,
    reader: SerializedFileReader<File>,
    n_rows: i64,
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ParquetSource")
            .field("path", &self.path)
            .field("columns", &self.columns)
            .field("n_rows", &self.n_rows)
            .finish_non_exhaustive()
    }
}

impl ParquetSource {
    /// Opens `path` and reads its footer (schema, row groups).
    pub fn open(path: &Path) -> anyhow::Result<ParquetSource> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        if file.metadata().map(|meta| meta.is_dir()).unwrap_or(false) {
            bail!("{} is a directory, not a file", path.display());
        }
        let reader = SerializedFileReader::new(file)
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        let metadata = reader.metadata().file_metadata();
        let fields = metadata.schema().get_fields().to_vec();
        let n_rows = metadata.num_rows();
        Ok(ParquetSource {
            path: path.to_path_buf(),
            columns: fields.iter().map(|field| field.name().to_owned()).collect(),
            fields,
            reader,
            n_rows,
        })
    }

    /// The rows as chunks of the columns at `wanted` (positions in [`ParquetSource::columns`]),
    /// row group by row group; `file` names the file in row positions (a glob's file).
    pub fn into_row_chunks(
        self,
        wanted: &[usize],
        file: Option<Arc<str>>,
    ) -> io::Result<ParquetChunks> {
        let mut held: Vec<usize> = wanted
            .iter()
            .copied()
            .filter(|column| *column < self.fields.len())
            .collect();
        held.sort_unstable();
        held.dedup();
        let nested: Vec<&str> = held
            .iter()
            .filter(|column| !self.fields[**column].is_primitive())
            .map(|column| self.columns[*column].as_str())
            .collect();
        if !nested.is_empty() {
            return Err(io::Error::other(format!(
                "{}: column {} holds lists, maps or structs, not single values; map only \
                 plain columns",
                self.path.display(),
                nested.join(", ")
            )));
        }
        let root_name = self.reader.metadata().file_metadata().schema().name();
        let projection = Type::group_type_builder(root_name)
            .with_fields(
                held.iter()
                    .map(|column| self.fields[*column].clone())
                    .collect(),
            )
            .build()
            .map_err(|error| parquet_error(&self.path, error))?;
        let path = self.path.clone();
        let rows = RowIter::from_file_into(Box::new(self.reader))
            .project(Some(projection))
            .map_err(|error| parquet_error(&path, error))?;
        let names: Vec<String> = held
            .iter()
            .map(|column| self.columns[*column].clone())
            .collect();
        Ok(ParquetChunks {
            path,
            rows,
            builder: Some(RowChunkBuilder::new(1, file, held.into(), names.into())),
        })
    }
}

fn parquet_error(path: &Path, error: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(format!("{}: {error}", path.display()))
}

/// The [`RowChunk`]s of a Parquet file.
pub struct ParquetChunks {
    path: PathBuf,
    rows: RowIter<'static>,
    /// `None` once the file is read or failed.
    builder: Option<RowChunkBuilder>,
}

impl Iterator for ParquetChunks {
    type Item = io::Result<RowChunk>;

    fn next(&mut self) -> Option<io::Result<RowChunk>> {
        let mut builder = self.builder.take()?;
        while !builder.is_full() {
            let row = match self.rows.next() {
                None => {
                    return (builder.n_rows() > 0).then(|| Ok(builder.finish().0));
                }
                Some(Err(error)) => return Some(Err(parquet_error(&self.path, error))),
                Some(Ok(row)) => row,
            };
            for (value_idx, (_, field)) in row.get_column_iter().enumerate() {
                if let Err(error) = write_field(builder.text(), field) {
                    let column = builder.column_name(value_idx);
                    builder.fail_row(match error {
                        FieldError::Nested => RowError::Nested { column },
                        FieldError::InvalidUtf8 => RowError::InvalidUtf8 { column },
                        FieldError::Unreadable(what) => RowError::Unreadable { column, what },
                    });
                }
                builder.end_value();
            }
            builder.end_row();
        }
        let (chunk, next) = builder.finish();
        self.builder = Some(next);
        Some(Ok(chunk))
    }
}

/// Why a value could not be written as text.
#[derive(Debug, PartialEq, Eq)]
enum FieldError {
    Nested,
    InvalidUtf8,
    Unreadable(&'static str),
}

/// Writes `field` as text (see the module doc).
fn write_field(out: &mut String, field: &Field) -> Result<(), FieldError> {
    match field {
        Field::Null => {}
        Field::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Field::Byte(value) => write_display(out, value),
        Field::Short(value) => write_display(out, value),
        Field::Int(value) => write_display(out, value),
        Field::Long(value) => write_display(out, value),
        Field::UByte(value) => write_display(out, value),
        Field::UShort(value) => write_display(out, value),
        Field::UInt(value) => write_display(out, value),
        Field::ULong(value) => write_display(out, value),
        Field::Float16(value) => write_display(out, value.to_f32()),
        Field::Float(value) => write_display(out, value),
        Field::Double(value) => write_display(out, value),
        Field::Decimal(decimal) => write_decimal(out, decimal)?,
        Field::Str(text) => out.push_str(text),
        Field::Bytes(bytes) => match simdutf8::basic::from_utf8(bytes.data()) {
            Ok(text) => out.push_str(text),
            Err(_) => return Err(FieldError::InvalidUtf8),
        },
        Field::Date(days) => write_iso_date(out, i64::from(*days)),
        Field::TimeMillis(millis) => write_iso_time(out, i64::from(*millis) * 1000),
        Field::TimeMicros(micros) => write_iso_time(out, *micros),
        Field::TimestampMillis(millis) => match millis.checked_mul(1000) {
            Some(micros) => write_iso_timestamp(out, micros),
            None => return Err(FieldError::Unreadable("timestamp out of range")),
        },
        Field::TimestampMicros(micros) => write_iso_timestamp(out, *micros),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            return Err(FieldError::Nested);
        }
    }
    Ok(())
}

fn write_display(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

/// Writes a decimal's unscaled big-endian two's-complement integer with its scale
/// (`12345`, scale 2 → `123.45`).
fn write_decimal(out: &mut String, decimal: &Decimal) -> Result<(), FieldError> {
    let bytes = decimal.data();
    if bytes.len() > 16 {
        return Err(FieldError::Unreadable("decimal wider than 128 bits"));
    }
    let mut unscaled: i128 = if bytes.first().is_some_and(|byte| byte & 0x80 != 0) {
        -1
    } else {
        0
    };
    for byte in bytes {
        unscaled = (unscaled << 8) | i128::from(*byte);
    }
    write_scaled(out, unscaled, decimal.scale());
    Ok(())
}

/// Writes `unscaled / 10^scale` in plain decimal notation.
fn write_scaled(out: &mut String, unscaled: i128, scale: i32) {
    if unscaled < 0 {
        out.push('-');
    }
    let digits = unscaled.unsigned_abs().to_string();
    if scale <= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (integer, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(integer);
        out.push('.');
        out.push_str(fraction);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_as_a_csv_export_would_hold_them() {
        let decimal = |value: i64, scale| Decimal::Int64 {
            value: value.to_be_bytes(),
            precision: 18,
            scale,
        };
        let table: Vec<(Field, &str)> = vec![
            (Field::Null, ""),
            (Field::Bool(true), "true"),
            (Field::Int(-42), "-42"),
            (Field::ULong(u64::MAX), "18446744073709551615"),
            (Field::Double(1.5), "1.5"),
            (Field::Double(3.0), "3"),
            (Field::Float(0.1), "0.1"),
            (Field::Decimal(decimal(12_345, 2)), "123.45"),
            (Field::Decimal(decimal(-5, 3)), "-0.005"),
            (Field::Decimal(decimal(7, 0)), "7"),
            (Field::Str("Zoë".to_owned()), "Zoë"),
            (Field::Bytes(b"plain".to_vec().into()), "plain"),
            (Field::Date(7_441), "1990-05-17"),
            (Field::TimeMillis(45_296_789), "12:34:56.789"),
            (
                Field::TimestampMillis(642_947_400_000),
                "1990-05-17T12:30:00",
            ),
            (
                Field::TimestampMicros(642_947_400_000_001),
                "1990-05-17T12:30:00.000001",
            ),
        ];
        for (field, expected) in table {
            let mut out = String::new();
            write_field(&mut out, &field).unwrap();
            assert_eq!(out, expected, "{field:?}");
        }
        let mut out = String::new();
        assert_eq!(
            write_field(&mut out, &Field::Bytes(vec![0xff, 0xfe].into())),
            Err(FieldError::InvalidUtf8)
        );
    }
}
