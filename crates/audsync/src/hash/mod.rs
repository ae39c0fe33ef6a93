//! `audsync hash`: a file source through normalize+hash into a members CSV and a rejects CSV,
//! in parallel, in input order.
//!
//! # Layout
//! - `mod.rs`: the commands, [`HashJob`] (what to compute) and [`hash_source`] (the reusable
//!   run: a source in, CSV out, counts back).
//! - `pipeline.rs`: the ordered parallel runner (reader thread, workers, in-order delivery).
//! - `report.rs`: counts and the summary printed at the end.
//!
//! Per chunk of rows a worker parses, normalizes and hashes with its own `Scratch`, and writes
//! the chunk's CSV text (hex straight into one reusable `String`, no per-cell allocation); the
//! calling thread only writes finished chunks in order.

pub mod pipeline;
pub mod report;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use audsync_core::key::N_KEYS;
use audsync_core::{
    AbsentReason, CountryCode, DateOrder, EligibilityRule, Engine, Field, MatchKey, NameScript,
    NormalizeOptions, Scratch,
};

use crate::cli::{DateOrderArg, EmitArg, FormatArg, HashArgs, NamesArg};
use crate::hash::pipeline::{PipelineSettings, run_ordered};
use crate::hash::report::HashCounts;
use crate::sources::chunk::{Chunk, RowParser, RowPosition};
use crate::sources::mapping::ColumnMapping;
use crate::sources::{FileFormat, SegmentSource};

/// Reject reason of a row whose user id cell is empty.
pub const NO_USER_ID: &str = "no user id";

/// Reject reason of a row on which normalization panicked (a bug; the run goes on).
pub const INTERNAL_ERROR: &str = "internal error (please report)";

/// What the hash pipeline computes for every row.
pub struct HashJob {
    pub engine: Engine,
    /// The fields of the mapped columns; a row's values come in this order, then its user id.
    pub fields: Vec<Field>,
    /// Source columns a row parser delivers (see [`ColumnMapping::wanted_columns`]).
    pub wanted_columns: Vec<usize>,
    /// The keys written, in schema order.
    pub output_keys: Vec<MatchKey>,
    /// Write pre-hash values instead of what Meta receives.
    pub emit_normalized: bool,
}

impl HashJob {
    pub fn new(engine: Engine, mapping: &ColumnMapping, emit_normalized: bool) -> HashJob {
        HashJob {
            engine,
            fields: mapping.fields(),
            wanted_columns: mapping.wanted_columns(),
            output_keys: mapping.output_keys(),
            emit_normalized,
        }
    }

    /// `user_id,<KEY>,…` with a line end.
    pub fn members_header(&self) -> String {
        let mut header = String::from("user_id");
        for key in &self.output_keys {
            header.push(',');
            header.push_str(key.as_str());
        }
        header.push('\n');
        header
    }
}

/// The header of the rejects CSV.
pub const REJECTS_HEADER: &str = "line,user_id,reason\n";

/// Hashes every row of `source`: members to `members_out` (header first), rejected rows to
/// `rejects_out` as `line,user_id,reason` (header first). Returns the counts.
pub fn hash_source(
    source: SegmentSource,
    job: &HashJob,
    n_workers: usize,
    members_out: &mut dyn Write,
    mut rejects_out: Option<&mut dyn Write>,
) -> anyhow::Result<HashCounts> {
    members_out
        .write_all(job.members_header().as_bytes())
        .context("cannot write the output")?;
    if let Some(rejects_out) = rejects_out.as_deref_mut() {
        rejects_out
            .write_all(REJECTS_HEADER.as_bytes())
            .context("cannot write the rejects file")?;
    }
    let parser = source.row_parser();
    let mut counts = HashCounts::default();
    // Written output buffers go back to the workers: a run allocates a few buffers instead of
    // one per chunk, which keeps the allocator from spreading them over every thread's arena.
    let spare_buffers: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    run_ordered(
        source.into_chunks(&job.wanted_columns),
        PipelineSettings::with_workers(n_workers),
        || Worker {
            parser: parser.clone(),
            scratch: Scratch::new(),
        },
        |worker, chunk| {
            let buffer = lock(&spare_buffers).pop().unwrap_or_default();
            process_chunk(job, worker, &chunk, buffer)
        },
        |mut chunk_output| {
            members_out
                .write_all(&chunk_output.members)
                .context("cannot write the output")?;
            if let Some(rejects_out) = rejects_out.as_deref_mut() {
                rejects_out
                    .write_all(&chunk_output.rejects)
                    .context("cannot write the rejects file")?;
            }
            counts.merge(&chunk_output.counts);
            chunk_output.members.clear();
            lock(&spare_buffers).push(chunk_output.members);
            Ok(())
        },
    )?;
    members_out.flush().context("cannot write the output")?;
    if let Some(rejects_out) = rejects_out {
        rejects_out
            .flush()
            .context("cannot write the rejects file")?;
    }
    Ok(counts)
}

/// One worker's reusable state.
struct Worker {
    parser: RowParser,
    scratch: Scratch,
}

/// What one chunk produced: its CSV text and its counts.
struct ChunkOutput {
    /// The members CSV text (bytes: digests are copied in as fixed-size blocks).
    members: Vec<u8>,
    /// The rejects CSV text.
    rejects: Vec<u8>,
    counts: HashCounts,
}

impl ChunkOutput {
    /// Ends the member row just written and counts its absent values (of output keys).
    fn count_member(
        &mut self,
        absent: impl Iterator<Item = (MatchKey, AbsentReason)>,
        is_output_key: &[bool; N_KEYS],
    ) {
        self.members.push(b'\n');
        self.counts.n_members += 1;
        for (key, reason) in absent {
            if is_output_key[key.index()] {
                self.counts.count_absent(key, reason);
            }
        }
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Parses, normalizes and hashes one chunk; the members CSV goes into `members` (empty, reused).
fn process_chunk(
    job: &HashJob,
    worker: &mut Worker,
    chunk: &Chunk,
    mut members: Vec<u8>,
) -> ChunkOutput {
    // About 5 output bytes per input byte for messy rows (13 keys of 64 hex digits, many
    // absent, out of ~110 input bytes); the string grows if a chunk needs more.
    members.reserve(chunk.n_bytes() * 5);
    let mut output = ChunkOutput {
        members,
        rejects: Vec::new(),
        counts: HashCounts::default(),
    };
    let mut is_output_key = [false; N_KEYS];
    for key in &job.output_keys {
        is_output_key[key.index()] = true;
    }
    let Worker { parser, scratch } = worker;
    parser.for_each_row(chunk, &job.wanted_columns, |(line, row)| {
        output.counts.n_rows += 1;
        let values = match row {
            Ok(values) => values,
            Err(error) => {
                write_reject(&mut output.rejects, line, "", &error.to_string());
                output.counts.count_reject(error.kind());
                return;
            }
        };
        let (values, user_id) = values.split_at(values.len() - 1);
        let user_id = user_id[0].trim();
        if user_id.is_empty() {
            write_reject(&mut output.rejects, line, "", NO_USER_ID);
            output.counts.count_reject(NO_USER_ID);
            return;
        }
        // The row is handled inside `catch_unwind` so that a bug in normalization costs one
        // row (rejected as an internal error), not the run.
        let members_len = output.members.len();
        let rejects_len = output.rejects.len();
        let n_members = output.counts.n_members;
        let handled = panic::catch_unwind(AssertUnwindSafe(|| {
            handle_row(
                job,
                &is_output_key,
                line,
                user_id,
                values,
                scratch,
                &mut output,
            );
        }));
        if handled.is_err() {
            *scratch = Scratch::new();
            output.members.truncate(members_len);
            output.rejects.truncate(rejects_len);
            output.counts.n_members = n_members;
            write_reject(&mut output.rejects, line, user_id, INTERNAL_ERROR);
            output.counts.count_reject(INTERNAL_ERROR);
        }
    });
    output
}

/// Normalizes and hashes (or only normalizes) one row and writes it to the members or the
/// rejects of `output`.
fn handle_row(
    job: &HashJob,
    is_output_key: &[bool; N_KEYS],
    line: RowPosition<'_>,
    user_id: &str,
    values: &[&str],
    scratch: &mut Scratch,
    output: &mut ChunkOutput,
) {
    let rejection = if job.emit_normalized {
        let normalized = job.engine.normalize(&job.fields, values, scratch);
        match normalized.rejection() {
            Some(rejection) => rejection.reason,
            None => {
                write_csv_field(&mut output.members, user_id);
                for key in &job.output_keys {
                    output.members.push(b',');
                    write_csv_field(&mut output.members, normalized.get(*key).unwrap_or(""));
                }
                output.count_member(normalized.absent(), is_output_key);
                return;
            }
        }
    } else {
        // The member is read in place from the scratch and written straight into the CSV.
        match job.engine.process_view(&job.fields, values, scratch) {
            Err(rejection) => rejection.reason,
            Ok(member) => {
                write_csv_field(&mut output.members, user_id);
                for key in &job.output_keys {
                    output.members.push(b',');
                    let start = output.members.len();
                    member.write_wire_bytes(*key, &mut output.members);
                    // Hashed keys are hex or empty: nothing to quote.
                    if !member.is_hashed(*key) {
                        quote_if_needed(&mut output.members, start);
                    }
                }
                output.count_member(member.absent(), is_output_key);
                return;
            }
        }
    };
    let reason = rejection.to_string();
    write_reject(&mut output.rejects, line, user_id, &reason);
    output.counts.count_reject(&reason);
}

fn write_reject(rejects: &mut Vec<u8>, line: RowPosition<'_>, user_id: &str, reason: &str) {
    let start = rejects.len();
    // Writing into a Vec cannot fail.
    let _ = write!(rejects, "{line}");
    // A glob's file name may need quoting.
    if line.file.is_some() {
        quote_if_needed(rejects, start);
    }
    rejects.push(b',');
    write_csv_field(rejects, user_id);
    rejects.push(b',');
    write_csv_field(rejects, reason);
    rejects.push(b'\n');
}

/// Appends `value` as one CSV field, quoted when it holds a delimiter, quote or line break.
fn write_csv_field(out: &mut Vec<u8>, value: &str) {
    let start = out.len();
    out.extend_from_slice(value.as_bytes());
    quote_if_needed(out, start);
}

/// Quotes the CSV field `out[start..]` in place when it needs it (rare: hex never does).
fn quote_if_needed(out: &mut Vec<u8>, start: usize) {
    let needs_quotes = out[start..]
        .iter()
        .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        return;
    }
    let field = out.split_off(start);
    out.push(b'"');
    for byte in field {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// `audsync hash`.
pub fn run(args: &HashArgs) -> anyhow::Result<()> {
    let options = normalize_options(args)?;
    let rule = match &args.rule {
        Some(expression) => EligibilityRule::parse(expression)
            .map_err(|error| anyhow::anyhow!("--rule {expression:?}: {error}"))?,
        None => EligibilityRule::default(),
    };
    let format = args.format.map(|format| match format {
        FormatArg::Csv => FileFormat::Csv,
        FormatArg::Jsonl => FileFormat::JsonLines,
    });
    if let Some(output) = &args.output {
        refuse_to_overwrite_input(&args.file, output)?;
    }
    if let Some(rejects) = &args.rejects {
        refuse_to_overwrite_input(&args.file, rejects)?;
    }
    let mut source = SegmentSource::open_files(&args.file, format)?;
    let mapping = ColumnMapping::resolve(&mut source, &args.map, args.user_id_column.as_deref())?;
    eprint!("{}", mapping.describe(&source));

    let emit_normalized = args.emit == EmitArg::Normalized;
    let destination = match &args.output {
        Some(path) => path.display().to_string(),
        None => "stdout".to_string(),
    };
    if emit_normalized {
        eprintln!(
            "warning: --emit normalized writes personal data (the values before hashing) to \
             {destination}; use it to check a mapping, never upload or share the file"
        );
    }
    let job = HashJob::new(Engine::new(options, rule), &mapping, emit_normalized);
    let mut members_out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::with_capacity(1 << 20, create(path)?)),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
    };
    let mut rejects_out = match &args.rejects {
        Some(path) => Some(BufWriter::new(create(path)?)),
        None => None,
    };
    let n_workers = match args.threads {
        Some(n_threads) => usize::from(n_threads),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    let started = Instant::now();
    let counts = match hash_source(
        source,
        &job,
        n_workers,
        &mut members_out,
        rejects_out.as_mut().map(|out| out as &mut dyn Write),
    ) {
        Ok(counts) => counts,
        // The program reading stdout (`| head`) has had enough: stop quietly, like other
        // command-line tools.
        Err(error) if args.output.is_none() && is_broken_pipe(&error) => return Ok(()),
        Err(error) => return Err(error.context(format!("hashing {}", args.file.display()))),
    };
    eprint!("{}", counts.summary(&job.output_keys, started.elapsed()));
    if args.rejects.is_none() && counts.n_rejected() > 0 {
        eprintln!("(pass --rejects PATH to get the rejected rows with their line numbers)");
    }
    Ok(())
}

/// Whether `error` comes from writing to a closed pipe.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io_error| io_error.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn normalize_options(args: &HashArgs) -> anyhow::Result<NormalizeOptions> {
    let mut options = NormalizeOptions::new(current_year());
    if let Some(country) = &args.default_country {
        match CountryCode::parse(country) {
            Some(code) => options.default_country = Some(code),
            None => bail!("--default-country {country:?}: not a country code or name"),
        }
    }
    options.date_order = args.date_order.map(|order| match order {
        DateOrderArg::Dmy => DateOrder::DayMonthYear,
        DateOrderArg::Mdy => DateOrder::MonthDayYear,
        DateOrderArg::Ymd => DateOrder::YearMonthDay,
    });
    options.names = match args.names {
        NamesArg::Unicode => NameScript::Unicode,
        NamesArg::Ascii => NameScript::Ascii,
    };
    Ok(options)
}

fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Writing the output over the input would destroy the input before it is read.
fn refuse_to_overwrite_input(input: &Path, output: &Path) -> anyhow::Result<()> {
    if input.as_os_str() == "-" {
        return Ok(());
    }
    if let (Ok(input), Ok(output)) = (input.canonicalize(), output.canonicalize())
        && input == output
    {
        bail!(
            "{} is the input file; write the output elsewhere",
            output.display()
        );
    }
    Ok(())
}

/// The current year (UTC), for the DOBY range and two-digit years.
pub fn current_year() -> u16 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    year_of_day((seconds / 86_400) as i64)
}

/// The Gregorian year of the day `days` after 1970-01-01, kept within 1970..=65535.
fn year_of_day(days: i64) -> u16 {
    let (year, _, _) = crate::store::civil_from_days(days);
    year.clamp(1970, i64::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_of_day_follows_the_calendar() {
        let table = [
            (0, 1970),
            (364, 1970),
            (365, 1971),
            (10_957, 2000),
            (11_322, 2000), // 2000-12-31, a leap year
            (11_323, 2001),
            (20_453, 2025),
            (20_454, 2026), // 2026-01-01
        ];
        for (days, year) in table {
            assert_eq!(year_of_day(days), year, "day {days}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let table = [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ];
        for (value, expected) in table {
            let mut out = b"x,".to_vec();
            write_csv_field(&mut out, value);
            assert_eq!(out, format!("x,{expected}").into_bytes());
        }
    }
}
