//! Parallel evaluation: a pool of workers fed through crossbeam channels, and the key of the
//! result cache.
//!
//! [`WorkerPool`] runs `workers` evaluations at once. Each worker lives on its own rayon pool
//! of `threads_per_worker` threads (candle's kernels run on the current rayon pool), so a pool
//! never runs more than `workers × threads_per_worker` compute threads. It is asynchronous: a
//! worker that finishes takes the next submitted job at once, and [`WorkerPool::recv`] returns
//! results in completion order, so the engine can keep `workers` jobs in flight by submitting
//! one new job per result.
//!
//! # Result cache
//! An evaluation is identified by [`cache_key`]`(space, arch, dataset, config hash, seed)`: the
//! SHA-256 of a canonical JSON object, stable across runs and machines. The engine stores the
//! key with each result in its cache file and, before submitting a job, looks the key up in a
//! [`ResultCache`] filled from that file, so an evaluated (space, arch, dataset, evaluator
//! config, seed) is never evaluated twice. Only successes are cached: a failure (timeout,
//! crash) may be transient and is retried.

use crate::digest::{canonical_json, sha256_hex};
use crate::evaluator::{EvalFailure, Evaluator, Outcome, TrialContext};
use crate::nb201::Cell;
use crate::seed;
use crossbeam::channel::{unbounded, Receiver, Sender};
use rand::SeedableRng;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The most threads one of emprox's thread pools may start (`--threads`, `[evaluation] jobs`):
/// each is an OS thread with its own stack.
pub const MAX_THREADS: usize = 1024;

/// The identifier the caller gives a job.
pub type JobId = u64;

/// A finished job.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished<C = Cell> {
    /// The id given to [`WorkerPool::submit`].
    pub job_id: JobId,
    /// The cell evaluated.
    pub cell: C,
    /// The trial seed.
    pub seed: u64,
    /// Which worker ran it (0-based).
    pub worker: usize,
    /// The outcome, or why it failed (a panic in the evaluator becomes a failure too).
    pub result: Result<Outcome, EvalFailure>,
}

struct Job<C> {
    job_id: JobId,
    cell: C,
    seed: u64,
    trial: Option<TrialContext>,
}

/// A pool that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start worker pool: {0}")]
pub struct PoolError(pub String);

/// A fixed set of workers evaluating cells concurrently (see the module docs).
pub struct WorkerPool<C = Cell> {
    jobs: Option<Sender<Job<C>>>,
    results: Receiver<Finished<C>>,
    in_flight: usize,
    workers: usize,
    threads_per_worker: usize,
    _pools: Vec<rayon::ThreadPool>,
}

impl<C: Send + Sync + 'static> WorkerPool<C> {
    /// `workers` workers of one thread each.
    pub fn new(workers: usize, evaluator: Arc<dyn Evaluator<C>>) -> Result<Self, PoolError> {
        Self::with_threads(workers, 1, evaluator)
    }

    /// `workers` workers of `threads_per_worker` compute threads each.
    pub fn with_threads(
        workers: usize,
        threads_per_worker: usize,
        evaluator: Arc<dyn Evaluator<C>>,
    ) -> Result<Self, PoolError> {
        if workers == 0 || threads_per_worker == 0 {
            return Err(PoolError(format!(
                "workers ({workers}) and threads per worker ({threads_per_worker}) must be at least 1"
            )));
        }
        let (job_tx, job_rx) = unbounded::<Job<C>>();
        let (res_tx, res_rx) = unbounded::<Finished<C>>();
        let mut pools = Vec::with_capacity(workers);
        for w in 0..workers {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads_per_worker)
                .thread_name(move |i| format!("emprox-worker-{w}-{i}"))
                .build()
                .map_err(|e| PoolError(e.to_string()))?;
            let (jobs, results, ev) = (job_rx.clone(), res_tx.clone(), evaluator.clone());
            // The worker loop occupies one thread of its pool; the kernels it calls use the
            // pool's other threads (and this one, while it waits for them).
            pool.spawn(move || {
                for job in jobs.iter() {
                    let mut rng = seed::Rng::seed_from_u64(job.seed);
                    let result = catch_unwind(AssertUnwindSafe(|| match &job.trial {
                        Some(t) => ev.evaluate_trial(t, &job.cell, &mut rng),
                        None => ev.evaluate(&job.cell, &mut rng),
                    }))
                    .unwrap_or_else(|p| {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        Err(EvalFailure {
                            reason: format!("evaluator panicked: {msg}"),
                            cost_seconds: 0.0,
                        })
                    });
                    let done = Finished {
                        job_id: job.job_id,
                        cell: job.cell,
                        seed: job.seed,
                        worker: w,
                        result,
                    };
                    if results.send(done).is_err() {
                        break;
                    }
                }
            });
            pools.push(pool);
        }
        Ok(Self {
            jobs: Some(job_tx),
            results: res_rx,
            in_flight: 0,
            workers,
            threads_per_worker,
            _pools: pools,
        })
    }

    /// Queues a job; it starts as soon as a worker is free. `seed` seeds the rng handed to
    /// [`Evaluator::evaluate`] (a [`seed::Rng`]), so equal seeds give equal results.
    pub fn submit(&mut self, job_id: JobId, cell: C, seed: u64) {
        self.send(Job {
            job_id,
            cell,
            seed,
            trial: None,
        });
    }

    /// [`WorkerPool::submit`] for query `trial.query` of the run in `trial.dir`
    /// ([`Evaluator::evaluate_trial`]).
    pub fn submit_trial(&mut self, job_id: JobId, cell: C, seed: u64, trial: TrialContext) {
        self.send(Job {
            job_id,
            cell,
            seed,
            trial: Some(trial),
        });
    }

    fn send(&mut self, job: Job<C>) {
        self.jobs
            .as_ref()
            .expect("jobs channel is open while the pool lives")
            .send(job)
            .expect("workers outlive the pool handle");
        self.in_flight += 1;
    }

    /// Blocks until the next job finishes and returns it (completion order); `None` when no
    /// job is queued or running.
    pub fn recv(&mut self) -> Option<Finished<C>> {
        if self.in_flight == 0 {
            return None;
        }
        let f = self.results.recv().ok()?;
        self.in_flight -= 1;
        Some(f)
    }

    /// Jobs submitted and not yet returned by [`WorkerPool::recv`].
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// True if fewer jobs are in flight than there are workers: submitting now starts at once.
    pub fn has_idle_worker(&self) -> bool {
        self.in_flight < self.workers
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Compute threads per worker.
    pub fn threads_per_worker(&self) -> usize {
        self.threads_per_worker
    }
}

impl<C> Drop for WorkerPool<C> {
    fn drop(&mut self) {
        // Closing the job channel ends each worker loop after its current job.
        self.jobs.take();
    }
}

/// The result-cache key of one evaluation: lower-case hex SHA-256 of the canonical JSON
/// `{"arch":…,"config":…,"dataset":…,"seed":…,"space":…}`. `config_hash` identifies the
/// evaluator's settings (for training, `emprox_train::TrainingEvaluator::cache_hash`: the
/// configuration's hash and the kernels' numerics version; for a command,
/// [`crate::digest::config_hash`] of its config).
pub fn cache_key(space: &str, arch: &str, dataset: &str, config_hash: &str, seed: u64) -> String {
    let v = serde_json::json!({
        "space": space,
        "arch": arch,
        "dataset": dataset,
        "config": config_hash,
        "seed": seed,
    });
    sha256_hex(canonical_json(&v).as_bytes())
}

/// Successful outcomes by [`cache_key`]; filled from a cache file, consulted before evaluating.
#[derive(Debug, Clone, Default)]
pub struct ResultCache {
    map: HashMap<String, Outcome>,
}

impl ResultCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored outcome of `key`.
    pub fn get(&self, key: &str) -> Option<&Outcome> {
        self.map.get(key)
    }

    /// Stores a result; failures are not stored (they may be transient).
    pub fn insert(&mut self, key: String, result: &Result<Outcome, EvalFailure>) {
        if let Ok(o) = result {
            self.map.insert(key, o.clone());
        }
    }

    /// Number of stored outcomes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_is_stable_and_discriminating() {
        let k = cache_key("nasbench201", "|a|", "digits", "abc", 1);
        assert_eq!(k, cache_key("nasbench201", "|a|", "digits", "abc", 1));
        assert_eq!(k.len(), 64);
        for other in [
            cache_key("nasbench201", "|b|", "digits", "abc", 1),
            cache_key("nasbench201", "|a|", "mnist", "abc", 1),
            cache_key("nasbench201", "|a|", "digits", "abd", 1),
            cache_key("nasbench201", "|a|", "digits", "abc", 2),
            cache_key("other", "|a|", "digits", "abc", 1),
        ] {
            assert_ne!(k, other);
        }
        // Pinned: the key must not change between versions, or cache files lose their entries.
        assert_eq!(
            cache_key("nasbench201", "|a|", "digits", "abc", 1),
            sha256_hex(
                br#"{"arch":"|a|","config":"abc","dataset":"digits","seed":1,"space":"nasbench201"}"#
            )
        );
    }
}
