//! Ordered parallel processing of a stream of chunks: one reader thread, `n_workers` worker
//! threads each with its own state, and results handed back on the calling thread in input
//! order.
//!
//! Memory stays flat: at most `max_in_flight` chunks are between the reader and the point where
//! their result has been delivered (a token channel the reader fills and the deliverer drains),
//! so a slow writer or one slow chunk holds the reader back instead of piling up results.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, mpsc};
use std::thread;

use anyhow::{Context, anyhow};

/// Most chunks in flight whatever the thread count: with chunks of about 1 MiB in and 2 MiB
/// out, this keeps the pipeline's buffers under about 100 MiB (issue 2: peak RSS < 200 MiB).
pub const MAX_CHUNKS_IN_FLIGHT: usize = 32;

/// How many workers, and how many chunks may be in flight at once.
#[derive(Clone, Copy, Debug)]
pub struct PipelineSettings {
    pub n_workers: usize,
    /// Chunks read but not yet delivered, at most.
    pub max_in_flight: usize,
}

impl PipelineSettings {
    /// `n_workers` workers (at least one) and two chunks in flight per worker plus two (one
    /// being read, one being written): enough that a worker never waits for the reader or the
    /// writer. Capped at [`MAX_CHUNKS_IN_FLIGHT`] so that memory stays flat with many threads.
    pub fn with_workers(n_workers: usize) -> PipelineSettings {
        let n_workers = n_workers.max(1);
        PipelineSettings {
            n_workers,
            max_in_flight: (n_workers * 2 + 2).min(MAX_CHUNKS_IN_FLIGHT),
        }
    }
}

/// Runs `process` on every chunk of `chunks` on the worker threads (each worker creates its
/// state once with `new_worker_state`) and calls `deliver` with the results in the order of
/// the chunks. Stops at the first read error (returned after the chunks before it were
/// delivered) or delivery error.
pub fn run_ordered<Chunk, State, Output>(
    chunks: impl Iterator<Item = io::Result<Chunk>> + Send,
    settings: PipelineSettings,
    new_worker_state: impl Fn() -> State + Sync,
    process: impl Fn(&mut State, Chunk) -> Output + Sync,
    mut deliver: impl FnMut(Output) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    Chunk: Send,
    Output: Send,
{
    let PipelineSettings {
        n_workers,
        max_in_flight,
    } = settings;
    let (job_sender, job_receiver) = mpsc::sync_channel::<(u64, Chunk)>(n_workers);
    let job_receiver = Mutex::new(job_receiver);
    let (result_sender, result_receiver) = mpsc::sync_channel::<(u64, Output)>(max_in_flight);
    let (token_sender, token_receiver) = mpsc::sync_channel::<()>(max_in_flight);
    thread::scope(|scope| {
        let reader = thread::Builder::new()
            .name("audsync-reader".to_string())
            .spawn_scoped(scope, move || -> io::Result<()> {
                for (seq, chunk) in chunks.enumerate() {
                    let chunk = chunk?;
                    // A closed channel means delivery stopped; the error is reported there.
                    if token_sender.send(()).is_err()
                        || job_sender.send((seq as u64, chunk)).is_err()
                    {
                        break;
                    }
                }
                Ok(())
            })
            .context("cannot start the reader thread")?;

        let mut workers = Vec::with_capacity(n_workers);
        for worker_idx in 0..n_workers {
            let result_sender = result_sender.clone();
            let job_receiver = &job_receiver;
            let new_worker_state = &new_worker_state;
            let process = &process;
            let worker = thread::Builder::new()
                .name(format!("audsync-worker-{worker_idx}"))
                .spawn_scoped(scope, move || {
                    let mut state = new_worker_state();
                    loop {
                        let job = job_receiver
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .recv();
                        let Ok((seq, chunk)) = job else { break };
                        let output = process(&mut state, chunk);
                        if result_sender.send((seq, output)).is_err() {
                            break;
                        }
                    }
                })
                .context("cannot start a worker thread")?;
            workers.push(worker);
        }
        drop(result_sender);

        let mut delivered = || -> anyhow::Result<()> {
            let mut waiting: BTreeMap<u64, Output> = BTreeMap::new();
            let mut next_seq = 0u64;
            for (seq, output) in result_receiver.iter() {
                waiting.insert(seq, output);
                while let Some(output) = waiting.remove(&next_seq) {
                    deliver(output)?;
                    next_seq += 1;
                    let _ = token_receiver.recv();
                }
            }
            if !waiting.is_empty() {
                return Err(anyhow!("internal error: a worker thread stopped early"));
            }
            Ok(())
        };
        let delivery = delivered();
        // Closing the channels unblocks the reader and the workers if delivery stopped early.
        drop(result_receiver);
        drop(token_receiver);

        let mut worker_panicked = false;
        for worker in workers {
            worker_panicked |= worker.join().is_err();
        }
        // The workers are gone, but the job channel's receiver lives as long as this scope: a
        // reader blocked on a full job channel would wait for ever. Taking what it sends lets
        // it reach its next token, whose channel is closed, so it stops and closes the job
        // channel; on the normal path the channel is already closed and empty.
        let job_receiver = job_receiver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while job_receiver.recv().is_ok() {}
        drop(job_receiver);
        let read = reader
            .join()
            .map_err(|_| anyhow!("internal error: the reader thread panicked"))?;
        delivery?;
        if worker_panicked {
            return Err(anyhow!("internal error: a worker thread panicked"));
        }
        read.context("cannot read the input")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_whatever_the_worker_speed() {
        let chunks = (0..500u64).map(Ok);
        let mut seen = Vec::new();
        run_ordered(
            chunks,
            PipelineSettings::with_workers(3),
            || 0u64,
            |n_done, chunk| {
                *n_done += 1;
                // Uneven work so that results finish out of order.
                let mut spin = 0u64;
                for step in 0..(chunk % 7) * 2000 {
                    spin = spin.wrapping_add(step ^ chunk);
                }
                (chunk, spin)
            },
            |(chunk, _)| {
                seen.push(chunk);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn a_read_error_is_returned_after_the_chunks_before_it() {
        let chunks = (0..10u64).map(|chunk| {
            if chunk == 6 {
                Err(io::Error::other("disk on fire"))
            } else {
                Ok(chunk)
            }
        });
        let mut seen = Vec::new();
        let error = run_ordered(
            chunks,
            PipelineSettings::with_workers(2),
            || (),
            |_, chunk| chunk,
            |chunk| {
                seen.push(chunk);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
        assert!(format!("{error:#}").contains("disk on fire"), "{error:#}");
    }

    #[test]
    fn a_delivery_error_stops_the_run() {
        let chunks = (0..10_000u64).map(Ok);
        let mut n_delivered = 0;
        let error = run_ordered(
            chunks,
            PipelineSettings::with_workers(2),
            || (),
            |_, chunk| chunk,
            |chunk| {
                n_delivered += 1;
                if chunk == 3 {
                    anyhow::bail!("disk full");
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(n_delivered, 4);
        assert_eq!(error.to_string(), "disk full");
    }
}
