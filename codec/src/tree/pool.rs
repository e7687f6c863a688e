//! A bounded pool of threads for whole-file jobs: the tree writer's writes and the
//! self-test's comparisons (docs/format.md §8.1).
//!
//! Jobs are handed over in batches (up to [`BATCH_JOBS`] jobs or [`BATCH_BYTES`]
//! bytes): one hand-over per small file would cost more in thread wake-ups than
//! writing or comparing the file. A batch that has run comes back to the sending
//! thread, which drops it (and reuses its allocation): the jobs' buffers were
//! allocated there, and freeing them on a pool thread would make the sender's own
//! allocations wait for the allocator's lock.

use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::fs::FsError;

/// Jobs per batch at most.
const BATCH_JOBS: usize = 256;
/// Bytes per batch at most (the last job may pass it).
const BATCH_BYTES: usize = 2 << 20;

/// Threads taking batches of jobs from one bounded queue; see [`Pool::start`].
pub(crate) struct Pool<J> {
    queue: Option<SyncSender<Vec<J>>>,
    /// Batches that have run, back for the sender to drop.
    done: Mutex<Receiver<Vec<J>>>,
    /// The batch being filled, and its bytes.
    batch: Mutex<(Vec<J>, usize)>,
    workers: Vec<JoinHandle<()>>,
}

impl<J: Send + 'static> Pool<J> {
    /// `threads` threads running `run` on every job sent, with at most `depth`
    /// batches queued before [`send`](Pool::send) waits. What a failing job means is
    /// `run`'s business (it records it); the pool only runs jobs. `run` may take what
    /// it needs out of a job; the rest is dropped by the sender.
    pub(crate) fn start(
        threads: usize,
        depth: usize,
        run: impl Fn(&mut J) + Send + Sync + 'static,
    ) -> Self {
        let (sender, receiver) = sync_channel::<Vec<J>>(depth);
        let (back, done) = channel::<Vec<J>>();
        let receiver = Arc::new(Mutex::new(receiver));
        let run = Arc::new(run);
        let workers = (0..threads.max(1))
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                let run = Arc::clone(&run);
                let back: Sender<Vec<J>> = back.clone();
                std::thread::spawn(move || {
                    loop {
                        let batch = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        let Ok(mut batch) = batch else { return };
                        for job in &mut batch {
                            run(job);
                        }
                        // The sender is gone only while the pool is being dropped.
                        let _ = back.send(batch);
                    }
                })
            })
            .collect();
        Pool {
            queue: Some(sender),
            done: Mutex::new(done),
            batch: Mutex::new((Vec::new(), 0)),
            workers,
        }
    }

    /// Adds `job` (of about `bytes` bytes) to the current batch, handing the batch
    /// over when it is full (waiting while the queue is full); `false` when the
    /// threads have stopped (one panicked) and the batch was dropped.
    pub(crate) fn send(&self, job: J, bytes: usize) -> bool {
        let full = {
            let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
            batch.0.push(job);
            batch.1 += bytes;
            if batch.0.len() >= BATCH_JOBS || batch.1 >= BATCH_BYTES {
                let next = self.recycled();
                Some(std::mem::replace(&mut *batch, (next, 0)).0)
            } else {
                None
            }
        };
        full.is_none_or(|batch| {
            self.queue
                .as_ref()
                .is_some_and(|queue| queue.send(batch).is_ok())
        })
    }

    /// Drops the batches that have run; an empty one (its allocation kept) for the
    /// next batch.
    fn recycled(&self) -> Vec<J> {
        let mut spare = Vec::new();
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        while let Ok(mut batch) = done.try_recv() {
            batch.clear();
            spare = batch;
        }
        spare
    }
}

impl<J> Pool<J> {
    /// How many threads run jobs.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Hands over what is batched, closes the queue and waits until every job sent
    /// has run; `false` when a thread panicked (or had stopped).
    pub(crate) fn join(&mut self) -> bool {
        let rest =
            std::mem::take(&mut *self.batch.lock().unwrap_or_else(PoisonError::into_inner)).0;
        let mut clean = rest.is_empty()
            || self
                .queue
                .as_ref()
                .is_some_and(|queue| queue.send(rest).is_ok());
        self.queue = None;
        for worker in self.workers.drain(..) {
            clean &= worker.join().is_ok();
        }
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        while done.try_recv().is_ok() {}
        clean
    }
}

impl<J> Drop for Pool<J> {
    fn drop(&mut self) {
        self.join();
    }
}
/// The first failure of a pool's jobs: later jobs are skipped, and every later call on
/// the pool's owner reports it again, so a failed write or comparison is never lost
/// behind the ones queued after it.
#[derive(Debug)]
pub(crate) struct FirstFailure {
    failure: Mutex<Option<FsError>>,
    /// What a job does, for messages: "write", "comparison".
    what: &'static str,
}

impl FirstFailure {
    pub(crate) fn new(what: &'static str) -> Self {
        FirstFailure {
            failure: Mutex::new(None),
            what,
        }
    }

    /// Keeps `error` unless an earlier one is kept already.
    pub(crate) fn record(&self, error: FsError) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
    }

    pub(crate) fn has_failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The kept failure, as an error naming its path.
    pub(crate) fn check(&self) -> Result<(), FsError> {
        match &*self.failure.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(e) => Err(FsError::io(
                e.path(),
                io::Error::other(format!("an earlier {} failed: {e}", self.what)),
            )),
        }
    }

    /// Why the pool cannot take more work: the kept failure, or threads that died.
    pub(crate) fn stopped(&self, root: &Path) -> FsError {
        self.check().err().unwrap_or_else(|| {
            FsError::io(
                root,
                io::Error::other(format!("the {} threads stopped", self.what)),
            )
        })
    }
}
