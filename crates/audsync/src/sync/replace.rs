//! `audsync sync --replace` and `mode = "replace"`: the whole segment in one `/usersreplace`
//! session, within Meta's rules (contract §2.6): one replace at a time, no `/users` call while
//! it runs, batch 1 first, `last_batch_flag` on the final batch once every other batch was
//! accepted, the 90-minute window, fewer than 100 million users.
//!
//! # What the store holds
//! The segment's members are reset when the session starts, and each batch Meta accepts is
//! committed as it is accepted, so after the final batch the store holds exactly what was sent.
//!
//! # A crash in the middle
//! Meta keeps the audience as it was while the session is open and, 90 minutes after its first
//! batch, replaces it with what was uploaded so far (1870158): a partial audience. The session
//! id is kept in the store (`Store::record_replace_session`) until the replace completes, so
//! the next run, on any host sharing the store and whatever the segment's mode, replaces
//! again: it first closes the interrupted session with a one-row final batch (resuming it would
//! keep the rows of users who left the segment since), then sends the whole segment in a fresh
//! session. A session opened on an audience the segment no longer syncs to is only forgotten.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use audsync_graph::{MAX_ROWS_PER_REQUEST, Session};
use tokio::sync::mpsc;

use crate::store::{MemberIndex, Operation};
use crate::sync::diff::RowSink;
use crate::sync::progress::Progress;
use crate::sync::report::{Problem, RunReport};
use crate::sync::send::SendContext;
use crate::sync::spool::SpoolWriter;
use crate::sync::{
    Prepared, Settled, SyncOptions, Uncertain, fill_diff_counts, produce_from_spool, run_diff,
};

/// Meta closes a replace session this long after its first batch (contract §2.6, G-CA).
pub const REPLACE_WINDOW: Duration = Duration::from_secs(90 * 60);

/// Meta refuses to replace an audience of this many users or more (contract §2.6, 1870144).
pub const MAX_REPLACE_USERS: u64 = 100_000_000;

/// The time one 10,000-row replace batch is assumed to take, for the window check. Our
/// estimate: a multi-key body of 10,000 rows is a few MB, and Graph answers uploads in one to
/// a few seconds; the rate budget of a limited-access app (5,000 calls per hour, contract §6.1)
/// allows one call every 0.72 s, which this also covers.
pub const ASSUMED_SECONDS_PER_BATCH: f64 = 3.0;

/// The share of the window a replace may be planned to take, leaving a margin for slow calls.
const WINDOW_SHARE: f64 = 0.8;

/// Whole replaces tried when Meta aborts one ("list not fully updated", 2650/1870148).
const MAX_REPLACE_ATTEMPTS: u32 = 3;

/// The estimated duration of a replace of `n_rows` rows with `concurrency` requests in flight.
pub fn estimated_duration(n_rows: u64, concurrency: usize) -> Duration {
    let n_batches = n_rows.div_ceil(MAX_ROWS_PER_REQUEST as u64);
    let in_flight = concurrency.max(1) as f64;
    Duration::from_secs_f64(n_batches as f64 * ASSUMED_SECONDS_PER_BATCH / in_flight)
}

/// Runs a replace (see the module doc).
pub(crate) async fn run(
    ctx: &SendContext<'_>,
    options: &SyncOptions,
    prepared: Prepared,
    index: Arc<MemberIndex>,
    _uncertain: &Uncertain,
    report: &mut RunReport,
    progress: Arc<Progress>,
) -> anyhow::Result<Settled> {
    let spool = SpoolWriter::create(ctx.spool_dir).context("cannot create a spool")?;
    progress.start("reading", None, "rows");
    let diff = run_diff(
        ctx,
        prepared.source,
        prepared.job,
        prepared.schema,
        index.clone(),
        true,
        HashSet::new(),
        options.n_workers,
        progress.clone(),
        RowSink::Spool(spool),
        RowSink::Count { n_rows: 0 },
        None,
    )
    .await?;
    fill_diff_counts(report, &diff);
    for user_hash in index.unseen_user_hashes() {
        if diff.source_users.contains(user_hash) {
            report.removed_now_rejected += 1;
        } else {
            report.removed_left += 1;
        }
    }
    let RowSink::Spool(spool) = diff.adds else {
        unreachable!("a replace spools its rows");
    };
    let mut spool = spool.finish().context("cannot read back a spool")?;
    let n_rows = spool.n_rows();
    if let Some(problem) = refusal(n_rows, options.concurrency) {
        report.problem = Some(problem);
        return Ok(Settled::Incomplete);
    }

    let interrupted = ctx
        .store
        .replace_session(ctx.segment)
        .await
        .context("cannot read the segment's interrupted replace session")?;
    if let Some(interrupted) = interrupted {
        if interrupted.audience_id == ctx.audience.as_str() {
            let mut n_skipped = 0;
            let first = spool
                .next_batch(1, false, &mut n_skipped)
                .context("cannot read back a spool")?;
            spool.rewind().context("cannot read back a spool")?;
            progress.note("closing the replace session an interrupted run left open");
            let closed = match first.into_iter().next() {
                Some(row) => ctx.close_replace_session(interrupted.session_id, row).await,
                None => false,
            };
            if !closed {
                if !ctx.stopped() {
                    ctx.stop(Problem {
                        message: "Meta did not let audsync close the replace session an \
                                  interrupted run left open."
                            .to_owned(),
                        fix: "Run the sync again later: Meta closes a replace session 90 minutes \
                              after its first batch."
                            .to_owned(),
                    });
                }
                report.pending_adds = n_rows;
                return Ok(Settled::Incomplete);
            }
        }
        // Otherwise the session is on the audience the segment synced to before, which this
        // run leaves alone (Meta closes the session 90 minutes after its first batch).
        ctx.store
            .forget_replace_session(ctx.segment)
            .await
            .context("cannot forget the interrupted replace session")?;
    }

    for attempt in 1..=MAX_REPLACE_ATTEMPTS {
        let session = Session::start(Some(n_rows));
        // Recorded before anything is sent or reset: from here on, a crash is resumed by
        // closing this session.
        ctx.store
            .record_replace_session(ctx.segment, ctx.audience.as_str(), session.session_id)
            .await
            .context("cannot record the replace session")?;
        ctx.store
            .reset_segment(ctx.segment)
            .await
            .context("cannot reset the segment's stored members")?;
        progress.start("replacing", Some(n_rows), "rows");
        let (sender, receiver) = mpsc::channel(2);
        let produce = produce_from_spool(spool, sender, false);
        let send = ctx.send_operation(Operation::Replace, receiver, session);
        let (produced, sent) = tokio::join!(produce, send);
        spool = produced?.0;
        report.replaced = sent.rows_accepted;
        if sent.retry_replace && attempt < MAX_REPLACE_ATTEMPTS && !ctx.stopped() {
            progress.note("Meta aborted the replace (2650/1870148); sending it again, whole");
            report.warnings.push(format!(
                "Meta aborted replace attempt {attempt} (2650/1870148); it was sent again"
            ));
            spool.rewind().context("cannot read back a spool")?;
            continue;
        }
        if sent.rows_accepted == n_rows && !ctx.stopped() {
            ctx.store
                .forget_replace_session(ctx.segment)
                .await
                .context("cannot forget the completed replace session")?;
            report.added = n_rows;
            report.removed = report.removed_left + report.removed_now_rejected;
            return Ok(Settled::Complete);
        }
        if sent.retry_replace && !ctx.stopped() {
            ctx.stop(Problem {
                message: format!(
                    "Meta aborted the replace {MAX_REPLACE_ATTEMPTS} times (2650/1870148)."
                ),
                fix: "Run the sync again later.".to_owned(),
            });
        }
        report.pending_adds = n_rows - sent.rows_accepted;
        return Ok(Settled::Incomplete);
    }
    Ok(Settled::Incomplete)
}

/// Why a replace of `n_rows` rows must not start, if it must not.
fn refusal(n_rows: u64, concurrency: usize) -> Option<Problem> {
    if n_rows == 0 {
        return Some(Problem {
            message: "the segment has no members: a replace would empty the audience, and Meta \
                      takes no empty batch"
                .to_owned(),
            fix: "Check the segment's source; to empty an audience, delete it in Ads Manager."
                .to_owned(),
        });
    }
    if n_rows >= MAX_REPLACE_USERS {
        return Some(Problem {
            message: format!(
                "the segment has {n_rows} members; Meta replaces only audiences of fewer than \
                 {MAX_REPLACE_USERS}"
            ),
            fix: "Use mode = \"mirror\" (incremental adds and removes) for this segment."
                .to_owned(),
        });
    }
    let estimate = estimated_duration(n_rows, concurrency);
    if estimate.as_secs_f64() > REPLACE_WINDOW.as_secs_f64() * WINDOW_SHARE {
        return Some(Problem {
            message: format!(
                "a replace of {n_rows} members would take about {} minutes, and Meta closes a \
                 replace session 90 minutes after its first batch, keeping only what was \
                 uploaded by then",
                estimate.as_secs() / 60
            ),
            fix: "Use mode = \"mirror\" (incremental adds and removes) for this segment."
                .to_owned(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_that_cannot_fit_meta_rules_are_refused() {
        assert!(refusal(0, 4).is_some());
        assert!(refusal(1, 4).is_none());
        assert!(refusal(10_000_000, 4).is_none());
        // 100M rows: 10,000 batches × 3 s / 4 = 125 minutes.
        let problem = refusal(99_000_000, 4).expect("too long");
        assert!(
            problem.message.contains("90 minutes"),
            "{}",
            problem.message
        );
        assert!(refusal(MAX_REPLACE_USERS, 64).is_some());
        assert_eq!(estimated_duration(20_001, 1), Duration::from_secs(9));
    }
}
