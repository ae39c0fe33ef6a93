//! The streaming diff: a segment's source through the `hash` pipeline (parse, normalize, hash
//! on every core), each member classified against the stored members as new, changed or
//! unchanged, and the rows to send handed to sinks (a spool, the sender, or a counter).
//!
//! # How a row flows
//! 1. A worker thread (of [`run_ordered`]) parses the row, runs the engine, computes the
//!    member's fingerprint and user hash, and asks the [`MemberIndex`] about it (`observe`,
//!    which marks an unchanged member seen). Only rows that will be sent carry their wire row
//!    out of the worker: on a rerun that is about 1% of them.
//! 2. The calling thread gets the chunks back in input order and settles what needs order:
//!    **the first row of a user id wins** ([`UserHashSet`]); later rows with that id are
//!    rejected as "duplicate user id". A user whose first row is rejected (e.g. consent
//!    withdrawn) is never marked seen, so the removals take them away.
//! 3. "Possibly changed" members (their user id is stored with another fingerprint) are
//!    settled in groups against the store: the old row becomes a removal, the new row an add.
//!
//! Memory stays flat: the index (16 bytes per stored member), the set of user hashes (about
//! 9 bytes per source user), the pipeline's chunks in flight, and groups of 1,000 rows.

use std::collections::{HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use anyhow::Context;
use audsync_core::{MatchKey, Member, RowOutcome, Scratch};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::hash::pipeline::{PipelineSettings, run_ordered};
use crate::hash::report::HashCounts;
use crate::hash::{HashJob, INTERNAL_ERROR, NO_USER_ID};
use crate::sources::SegmentSource;
use crate::sources::chunk::{Chunk, RowParser};
use crate::store::{MemberIndex, MemberRow, Observed, Store, UserKey, user_id_hash};
use crate::sync::dedup::UserHashSet;
use crate::sync::progress::Progress;
use crate::sync::shared_keys::{IdentifyingColumns, TokenSpoolReader, TokenSpoolWriter};
use crate::sync::spool::SpoolWriter;

/// Reject reason of the second and later rows of one user id.
pub const DUPLICATE_USER_ID: &str = "duplicate user id";

/// Reject reason of a member without EXTERN_ID when the schema has EXTERN_ID: Graph refuses
/// such rows ("empty external ID", contract §10 F3).
pub const NO_EXTERN_ID: &str = "no EXTERN_ID (Meta refuses rows with an empty EXTERN_ID)";

/// Possibly changed members settled against the store at once.
const CHANGED_GROUP_ROWS: usize = 1_000;

/// Where rows to send go.
pub enum RowSink {
    /// Counted only (a plan, or removals in `upsert` mode).
    Count { n_rows: u64 },
    /// Written to a spool, sent after the diff.
    Spool(SpoolWriter),
    /// Sent while the diff runs, in batches (the first sync of an empty audience).
    Stream(BatchStream),
}

impl RowSink {
    fn push(&mut self, row: MemberRow, changed: bool) -> anyhow::Result<bool> {
        match self {
            RowSink::Count { n_rows } => *n_rows += 1,
            RowSink::Spool(spool) => spool
                .push(&row, changed)
                .context("cannot write the spool of rows to send")?,
            RowSink::Stream(stream) => return Ok(stream.push(row)),
        }
        Ok(true)
    }

    /// Rows pushed so far.
    pub fn n_rows(&self) -> u64 {
        match self {
            RowSink::Count { n_rows } => *n_rows,
            RowSink::Spool(spool) => spool.n_rows(),
            RowSink::Stream(stream) => stream.n_rows,
        }
    }
}

/// Batches rows for the sender, which receives them on a channel (bounded: the diff waits
/// when the sender is behind).
pub struct BatchStream {
    sender: mpsc::Sender<Vec<MemberRow>>,
    batch: Vec<MemberRow>,
    max_rows: usize,
    n_rows: u64,
}

impl BatchStream {
    pub fn new(sender: mpsc::Sender<Vec<MemberRow>>, max_rows: usize) -> BatchStream {
        BatchStream {
            sender,
            batch: Vec::with_capacity(max_rows),
            max_rows,
            n_rows: 0,
        }
    }

    /// False once the sender stopped listening (it stopped the run).
    fn push(&mut self, row: MemberRow) -> bool {
        self.batch.push(row);
        self.n_rows += 1;
        if self.batch.len() >= self.max_rows {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_rows));
        self.sender.blocking_send(batch).is_ok()
    }
}

/// What the diff needs (owned: it runs on a blocking thread).
pub struct DiffInput {
    pub job: Arc<HashJob>,
    /// The audience schema: the keys of every wire row, in order.
    pub schema: Vec<MatchKey>,
    pub index: Arc<MemberIndex>,
    /// Every member is sent (a replace), not only new and changed ones.
    pub send_all: bool,
    /// Users whose state at Meta is unknown after an interrupted run: added again when they are
    /// members, even if unchanged.
    pub force_add: HashSet<String>,
    pub store: Store,
    pub segment: String,
    pub runtime: Handle,
    pub n_workers: usize,
    pub progress: Arc<Progress>,
    /// With removals to come (a mirror rerun): the identifying keys of the schema, whose tokens
    /// of every unchanged member go to the token spool given to [`run`].
    pub identifying: Option<IdentifyingColumns>,
}

/// What the diff found. Removals of members that left are not here: they are the index's
/// unseen members, fetched from the store afterwards.
pub struct DiffOutput {
    pub counts: HashCounts,
    pub n_new: u64,
    pub n_changed: u64,
    pub n_unchanged: u64,
    /// Unchanged members sent again because an interrupted run left their state unknown.
    pub n_forced: u64,
    pub adds: RowSink,
    /// Old rows of changed users, and stored rows of users whose first row is rejected but a
    /// later duplicate row was unchanged.
    pub removals: RowSink,
    /// Of `removals`: the rows of rejected users found through a duplicate.
    pub n_removed_rejected: u64,
    /// Every user hash of the source (members and rejected), to tell "removed because now
    /// rejected" from "left".
    pub source_users: UserHashSet,
    /// The identifying-key tokens of every unchanged member (when [`run`] was given a token
    /// spool): who a removal could take along at Meta (`shared_keys.rs`).
    pub staying_tokens: Option<TokenSpoolReader>,
    /// The sender stopped listening: the diff ended early.
    pub stopped_early: bool,
}

/// One source row as a worker leaves it.
struct SourceRow {
    /// `None` when the row has no user id (it cannot be a duplicate of anything).
    user_hash: Option<u64>,
    /// Byte range of the user id in the chunk's `user_ids`.
    user_id: (u32, u32),
    kind: RowKind,
}

enum RowKind {
    Rejected,
    /// Stored with the same keys; the worker marked it seen. Its identifying-key tokens start
    /// at `tokens_at` in the chunk's `tokens` (when the diff collects them).
    Unchanged {
        tokens_at: u32,
    },
    /// To be sent: new, possibly changed, or forced.
    Send {
        row: MemberRow,
        observed: Observed,
    },
}

/// A worker's result for one chunk.
struct ChunkDiff {
    counts: HashCounts,
    rows: Vec<SourceRow>,
    user_ids: String,
    /// Identifying-key tokens of the unchanged rows, [`IdentifyingColumns::len`] per row.
    tokens: Vec<u64>,
}

struct DiffWorker {
    parser: RowParser,
    scratch: Scratch,
}

/// Runs the diff of `source` on the calling thread (call it from a blocking task: it waits on
/// the store through `input.runtime` for changed members).
pub fn run(
    source: SegmentSource,
    input: &DiffInput,
    mut adds: RowSink,
    mut removals: RowSink,
    staying_tokens: Option<TokenSpoolWriter>,
) -> anyhow::Result<DiffOutput> {
    let parser = source.row_parser();
    let mut state = Delivery {
        input,
        counts: HashCounts::default(),
        n_new: 0,
        n_changed: 0,
        n_unchanged: 0,
        n_forced: 0,
        n_removed_rejected: 0,
        // A rerun meets about as many users as are stored, plus the rejected ones (5-15% in
        // messy files): sized so that it never grows (growing holds two tables at once).
        source_users: UserHashSet::with_capacity(input.index.len() + input.index.len() / 4),
        rejected_users: UserHashSet::with_capacity(1024),
        possibly_changed: Vec::new(),
        rejected_duplicates: Vec::new(),
        stopped_early: false,
        staying_tokens,
        row_tokens: Vec::new(),
    };
    run_ordered(
        source.into_chunks(&input.job.wanted_columns),
        PipelineSettings::with_workers(input.n_workers),
        || DiffWorker {
            parser: parser.clone(),
            scratch: Scratch::new(),
        },
        |worker, chunk| diff_chunk(input, worker, &chunk),
        |chunk| state.deliver(chunk, &mut adds, &mut removals),
    )?;
    if !state.stopped_early {
        state.settle_possibly_changed(&mut adds, &mut removals)?;
        state.remove_rejected_duplicates(&mut removals)?;
    }
    // A stream's sender is dropped here, which tells the receiving side the rows are done.
    if let RowSink::Stream(mut stream) = adds {
        if !stream.flush() {
            state.stopped_early = true;
        }
        adds = RowSink::Count {
            n_rows: stream.n_rows,
        };
    }
    Ok(DiffOutput {
        counts: state.counts,
        n_new: state.n_new,
        n_changed: state.n_changed,
        n_unchanged: state.n_unchanged,
        n_forced: state.n_forced,
        adds,
        removals,
        n_removed_rejected: state.n_removed_rejected,
        source_users: state.source_users,
        stopped_early: state.stopped_early,
        staying_tokens: match state.staying_tokens {
            Some(spool) => Some(spool.finish().context("cannot read back the token spool")?),
            None => None,
        },
    })
}

/// The wire row of `member` in `schema` order: what Meta receives and the store keeps.
pub fn wire_row(member: &Member, schema: &[MatchKey]) -> Vec<String> {
    schema
        .iter()
        .map(|key| {
            let mut value = String::new();
            member.write_wire(*key, &mut value);
            value
        })
        .collect()
}

/// A worker's pass over one chunk: parse, normalize, hash, fingerprint, observe.
fn diff_chunk(input: &DiffInput, worker: &mut DiffWorker, chunk: &Chunk) -> ChunkDiff {
    let mut output = ChunkDiff {
        counts: HashCounts::default(),
        rows: Vec::with_capacity(chunk.n_bytes() / 64),
        user_ids: String::with_capacity(chunk.n_bytes() / 8),
        tokens: Vec::new(),
    };
    let job = &*input.job;
    let needs_extern_id = input.schema.contains(&MatchKey::ExternId);
    let DiffWorker { parser, scratch } = worker;
    parser.for_each_row(chunk, &job.wanted_columns, |(_line, row)| {
        output.counts.n_rows += 1;
        let values = match row {
            Ok(values) => values,
            Err(error) => {
                output.counts.count_reject(error.kind());
                output.push(None, "", RowKind::Rejected);
                return;
            }
        };
        let (values, user_id) = values.split_at(values.len() - 1);
        let user_id = user_id[0].trim();
        if user_id.is_empty() {
            output.counts.count_reject(NO_USER_ID);
            output.push(None, "", RowKind::Rejected);
            return;
        }
        let user_key = UserKey::new(user_id);
        let user_hash = Some(user_key.hash());
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            job.engine.process(&job.fields, values, scratch)
        }));
        let member = match outcome {
            Ok(RowOutcome::Member(member)) => member,
            Ok(RowOutcome::Rejected(rejection)) => {
                output.counts.count_reject(&rejection.reason.to_string());
                output.push(user_hash, user_id, RowKind::Rejected);
                return;
            }
            Err(_) => {
                *scratch = Scratch::new();
                output.counts.count_reject(INTERNAL_ERROR);
                output.push(user_hash, user_id, RowKind::Rejected);
                return;
            }
        };
        if needs_extern_id && member.get(MatchKey::ExternId).is_absent() {
            output.counts.count_reject(NO_EXTERN_ID);
            output.push(user_hash, user_id, RowKind::Rejected);
            return;
        }
        output.counts.n_members += 1;
        let fingerprint = member.fingerprint().to_be_bytes();
        let observed = input.index.observe_key(user_key, &fingerprint);
        let kind = if observed == Observed::Unchanged
            && !input.send_all
            && !input.force_add.contains(user_id)
        {
            let tokens_at = output.tokens.len() as u32;
            if let Some(identifying) = &input.identifying {
                identifying.push_member_tokens(&member, &mut output.tokens);
            }
            RowKind::Unchanged { tokens_at }
        } else {
            RowKind::Send {
                row: MemberRow {
                    user_id: user_id.to_owned(),
                    fingerprint,
                    wire_row: wire_row(&member, &input.schema),
                },
                observed,
            }
        };
        output.push(user_hash, user_id, kind);
    });
    output
}

impl ChunkDiff {
    fn push(&mut self, user_hash: Option<u64>, user_id: &str, kind: RowKind) {
        // Chunks are at most a few MiB: offsets fit in u32.
        let start = self.user_ids.len() as u32;
        self.user_ids.push_str(user_id);
        self.rows.push(SourceRow {
            user_hash,
            user_id: (start, self.user_ids.len() as u32),
            kind,
        });
    }
}

/// The in-order half of the diff, on the calling thread.
struct Delivery<'a> {
    input: &'a DiffInput,
    counts: HashCounts,
    n_new: u64,
    n_changed: u64,
    n_unchanged: u64,
    n_forced: u64,
    n_removed_rejected: u64,
    source_users: UserHashSet,
    /// Users whose first row was rejected.
    rejected_users: UserHashSet,
    possibly_changed: Vec<MemberRow>,
    /// Users whose first row was rejected but a later duplicate row marked them seen.
    rejected_duplicates: Vec<String>,
    stopped_early: bool,
    /// Where the tokens of unchanged members go (see [`DiffInput::identifying`]).
    staying_tokens: Option<TokenSpoolWriter>,
    /// Scratch for the tokens of one row.
    row_tokens: Vec<u64>,
}

impl Delivery<'_> {
    fn deliver(
        &mut self,
        chunk: ChunkDiff,
        adds: &mut RowSink,
        removals: &mut RowSink,
    ) -> anyhow::Result<()> {
        if self.stopped_early {
            return Ok(());
        }
        self.input.progress.advance(chunk.counts.n_rows);
        self.counts.merge(&chunk.counts);
        for source_row in chunk.rows {
            let (start, end) = source_row.user_id;
            let user_id = &chunk.user_ids[start as usize..end as usize];
            let is_member = !matches!(source_row.kind, RowKind::Rejected);
            if let Some(user_hash) = source_row.user_hash {
                if !self.source_users.insert(user_hash) {
                    if is_member {
                        self.counts.n_members -= 1;
                        self.counts.count_reject(DUPLICATE_USER_ID);
                        // A worker marked this duplicate seen; if the user's first row was
                        // rejected, the user must still go.
                        let marked_seen = matches!(
                            source_row.kind,
                            RowKind::Unchanged { .. }
                                | RowKind::Send {
                                    observed: Observed::Unchanged,
                                    ..
                                }
                        );
                        if marked_seen && self.rejected_users.contains(user_hash) {
                            self.rejected_duplicates.push(user_id.to_owned());
                        }
                    }
                    continue;
                }
                if !is_member {
                    self.rejected_users.insert(user_hash);
                }
            }
            match source_row.kind {
                RowKind::Rejected => {}
                RowKind::Unchanged { tokens_at } => {
                    self.n_unchanged += 1;
                    if let (Some(spool), Some(identifying), Some(user_hash)) = (
                        &mut self.staying_tokens,
                        &self.input.identifying,
                        source_row.user_hash,
                    ) {
                        let at = tokens_at as usize;
                        spool
                            .push(user_hash, &chunk.tokens[at..at + identifying.len()])
                            .context("cannot write the token spool")?;
                    }
                }
                RowKind::Send { row, observed } => match observed {
                    Observed::New => {
                        self.n_new += 1;
                        self.push(adds, row, false)?;
                    }
                    Observed::Unchanged => {
                        self.n_unchanged += 1;
                        if !self.input.send_all {
                            self.n_forced += 1;
                        }
                        self.push(adds, row, false)?;
                    }
                    Observed::PossiblyChanged => {
                        self.possibly_changed.push(row);
                        if self.possibly_changed.len() >= CHANGED_GROUP_ROWS {
                            self.settle_possibly_changed(adds, removals)?;
                        }
                    }
                },
            }
            if self.stopped_early {
                return Ok(());
            }
        }
        Ok(())
    }

    fn push(&mut self, sink: &mut RowSink, row: MemberRow, changed: bool) -> anyhow::Result<()> {
        if !sink.push(row, changed)? {
            self.stopped_early = true;
        }
        Ok(())
    }

    /// Reads the stored rows of the possibly changed members: a stored row means the user
    /// changed (its old row is removed, marked seen), none means the user is new.
    fn settle_possibly_changed(
        &mut self,
        adds: &mut RowSink,
        removals: &mut RowSink,
    ) -> anyhow::Result<()> {
        if self.possibly_changed.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.possibly_changed);
        let user_ids: Vec<&str> = group.iter().map(|row| row.user_id.as_str()).collect();
        let input = self.input;
        let stored = input
            .runtime
            .block_on(input.store.member_rows(&input.segment, &user_ids))
            .context("cannot read the stored rows of changed members")?;
        let mut stored: HashMap<String, MemberRow> = stored
            .into_iter()
            .map(|row| (row.user_id.clone(), row))
            .collect();
        for row in group {
            match stored.remove(&row.user_id) {
                Some(old) => {
                    self.n_changed += 1;
                    input.index.mark_seen(&old);
                    if old.fingerprint == row.fingerprint {
                        // Same keys after all (a 64-bit check collision): nothing to change.
                        self.n_changed -= 1;
                        self.n_unchanged += 1;
                        if input.send_all || input.force_add.contains(&row.user_id) {
                            self.push(adds, row, false)?;
                        } else {
                            self.spool_staying_tokens(&row)?;
                        }
                        continue;
                    }
                    self.push(removals, old, false)?;
                    self.push(adds, row, true)?;
                }
                None => {
                    self.n_new += 1;
                    self.push(adds, row, false)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the identifying-key tokens of an unchanged member, read from its wire row.
    fn spool_staying_tokens(&mut self, row: &MemberRow) -> anyhow::Result<()> {
        let (Some(spool), Some(identifying)) = (&mut self.staying_tokens, &self.input.identifying)
        else {
            return Ok(());
        };
        self.row_tokens.clear();
        identifying.push_row_tokens(&row.wire_row, &mut self.row_tokens);
        spool
            .push(user_id_hash(&row.user_id), &self.row_tokens)
            .context("cannot write the token spool")
    }

    /// Rows of users whose first source row was rejected although a later duplicate row was
    /// unchanged (and so marked them seen): they are removed like every rejected user.
    fn remove_rejected_duplicates(&mut self, removals: &mut RowSink) -> anyhow::Result<()> {
        if self.rejected_duplicates.is_empty() {
            return Ok(());
        }
        let user_ids = std::mem::take(&mut self.rejected_duplicates);
        let input = self.input;
        let stored = input
            .runtime
            .block_on(input.store.member_rows(&input.segment, &user_ids))
            .context("cannot read the stored rows of rejected members")?;
        for row in stored {
            self.n_removed_rejected += 1;
            self.push(removals, row, false)?;
        }
        Ok(())
    }
}
