//! One search run: the ask/tell loop. The strategy proposes, the engine evaluates, the journal
//! records, the strategy is told.
//!
//! With `workers > 1` up to `workers` evaluations run at once. Results are journaled and told to
//! the strategy in the order the cells were proposed, and a new cell is proposed only after the
//! result `workers` places earlier was told, so a run is the same whatever the timing.

use crate::config::Experiment;
use crate::dedup::DedupKey;
use crate::evaluators::Evaluation;
use crate::filter::Filter;
use crate::journal::{JournalWriter, Trial, WriteError};
use crate::results::{Best, RunSummary, TrajectoryPoint};
use crate::stopping::{FailureStreak, StopReason, StoppingCriteria};
use emprox_benchmarks::evaluator::{EvalFailure, Goal, Outcome};
use emprox_benchmarks::workers::WorkerPool;
use emprox_benchmarks::{seed, SearchSpace};
use rand::SeedableRng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::Instant;

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A results file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// An invalid strategy.
    #[error(transparent)]
    Strategy(#[from] emprox_strategies::StrategyError),
    /// The estimator filter failed.
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    /// An invalid estimator.
    #[error(transparent)]
    Estimator(#[from] emprox_estimators::EstimatorError),
    /// The worker pool could not start.
    #[error(transparent)]
    Pool(#[from] emprox_benchmarks::workers::PoolError),
    /// A journal being replayed does not match what the run proposes.
    #[error("{0}")]
    Replay(String),
}

/// Receives progress events (for a progress bar or logs).
pub trait Progress: Sync {
    /// A query finished in run `run`; `best` is the incumbent (val, test).
    fn query(&self, run: u64, query: u64, best: Option<(f64, f64)>);
    /// Query `query` of run `run` (on cell `arch`) failed for `reason` (new evaluations only).
    fn failed(&self, _run: u64, _query: u64, _arch: &str, _reason: &str) {}
}

/// Ignores progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn query(&self, _: u64, _: u64, _: Option<(f64, f64)>) {}
}

/// Everything a run needs.
pub struct RunSpec<'a, S: SearchSpace> {
    /// The experiment.
    pub experiment: &'a Experiment,
    /// The space.
    pub space: &'a S,
    /// How cells are evaluated.
    pub evaluation: &'a Evaluation<S::Cell>,
    /// Whether the search signal is maximised or minimised.
    pub goal: Goal,
    /// Run number (0-based).
    pub run: u64,
    /// The run's seed.
    pub seed: u64,
    /// Trials of an earlier, interrupted attempt of this run, replayed instead of evaluated.
    pub replay: Vec<Trial>,
    /// Test hook: sleep this long after each query.
    pub throttle: Option<std::time::Duration>,
}

/// The outcome of a run, with its trajectory (one point per query).
pub struct RunOutput {
    /// The summary.
    pub summary: RunSummary,
    /// The incumbent after each query.
    pub trajectory: Vec<TrajectoryPoint>,
}

#[derive(serde::Serialize)]
struct Timing {
    query: u64,
    eval_wall_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_seconds: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cached: bool,
}

type EvalResult = Result<Outcome, EvalFailure>;

/// Runs evaluations inline (one worker) or on a worker pool.
enum Executor<'a, C> {
    Inline(&'a Evaluation<C>),
    Pool(WorkerPool<C>),
}

struct Done {
    result: EvalResult,
    wall: f64,
    cached: bool,
    replayed: bool,
}

/// A proposed cell waiting for its result.
struct Pending<C> {
    query: u64,
    cell: C,
    predicted: Option<f64>,
    job_seed: u64,
    started: Instant,
}

/// Runs one search, appending to `dir/trials.jsonl` and `dir/timings.jsonl`.
pub fn run<S: SearchSpace + 'static>(
    spec: &RunSpec<S>,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<RunOutput, RunError> {
    let exp = spec.experiment;
    let space = spec.space;
    let ev = spec.evaluation;
    let mut strategy = exp.strategy.build::<S>()?;
    let mut rng = seed::stream(spec.seed, "strategy");
    let noise_seed = seed::derive(spec.seed, "noise");
    let trial_seed = seed::derive(spec.seed, "evaluator");
    let stop = StoppingCriteria::new(&exp.budget);
    let mut streak = FailureStreak::new(exp.search.max_failures);
    // Real evaluations take seconds or more: each record is synced, so a power loss keeps it.
    let durable = !ev.simulated_cost();
    let mut journal = JournalWriter::append(&dir.join(crate::rundir::TRIALS))?.synced(durable);
    let mut timings = JournalWriter::append(&dir.join(crate::rundir::TIMINGS))?;
    let mut filter = match (&exp.estimator, &exp.filter) {
        (Some(e), Some(f)) => {
            let mut filt = Filter::new(f.clone(), e.build::<S>()?, spec.seed);
            filt.replay_until = spec.replay.len() as u64;
            Some(filt)
        }
        _ => None,
    };
    let mut pools = match filter {
        Some(_) => Some(JournalWriter::append(&dir.join(crate::rundir::POOLS))?),
        None => None,
    };
    let mut executor = if ev.workers > 1 {
        Executor::Pool(WorkerPool::with_threads(
            ev.workers,
            ev.threads_per_worker,
            ev.evaluator.clone(),
        )?)
    } else {
        Executor::Inline(ev)
    };
    let window = ev.workers.max(1);
    let key = |c: &S::Cell| DedupKey::of(space, c, exp.search.dedup_isomorphic);
    // Strategies and estimators maximise: a minimised signal is told negated.
    let score = |v: f64| if spec.goal == Goal::Minimize { -v } else { v };

    let start = Instant::now();
    let mut seen: HashMap<DedupKey<S::Cell>, Option<f64>> = HashMap::new();
    let mut in_flight_keys: HashSet<DedupKey<S::Cell>> = HashSet::new();
    let mut pending: VecDeque<Pending<S::Cell>> = VecDeque::new();
    let mut finished: HashMap<u64, Done> = HashMap::new();
    let mut evaluated: Vec<(S::Cell, f64)> = Vec::new();
    let mut submitted = 0u64;
    let mut queries = 0u64;
    let mut sim = 0.0f64;
    let mut failed = 0u64;
    let mut best: Option<(Best, u64)> = None;
    let mut trajectory = Vec::new();
    let mut repeats = 0u64;
    let mut reason: Option<StopReason> = None;
    let space_size = space.size().unwrap_or(u64::MAX);

    loop {
        // Propose until the window is full or the run must stop.
        while reason.is_none() && pending.len() < window {
            if let Some(r) = stop.reached(submitted, sim, start.elapsed().as_secs_f64()) {
                reason = Some(r);
                break;
            }
            if (seen.len() + pending.len()) as u64 >= space_size {
                reason = Some(StopReason::Exhausted);
                break;
            }
            let (cell, predicted) = match filter.as_mut() {
                Some(f) if !f.warming_up(submitted) => {
                    let is_evaluated = |c: &S::Cell| {
                        seen.contains_key(&key(c)) || in_flight_keys.contains(&key(c))
                    };
                    match f.next(
                        strategy.as_mut(),
                        space,
                        &mut rng,
                        submitted,
                        &evaluated,
                        &is_evaluated,
                        pools.as_mut().expect("pools log exists with a filter"),
                        &mut timings,
                    )? {
                        Some((c, s)) => (c, Some(score(s))),
                        None => {
                            repeats += 1;
                            if repeats >= exp.search.max_repeated_proposals {
                                reason = Some(StopReason::Exhausted);
                            }
                            continue;
                        }
                    }
                }
                _ => (strategy.ask(space, &mut rng), None),
            };
            let k = key(&cell);
            if seen.contains_key(&k) || in_flight_keys.contains(&k) {
                // Answered from the journal at no cost (an in-flight duplicate is dropped).
                if let Some(v) = seen.get(&k) {
                    strategy.tell(space, &cell, v.map(score));
                }
                repeats += 1;
                if repeats >= exp.search.max_repeated_proposals {
                    reason = Some(StopReason::Exhausted);
                }
                continue;
            }
            repeats = 0;
            submitted += 1;
            let q = submitted;
            let job_seed = if ev.simulated_cost() {
                seed::derive(noise_seed, &q.to_string())
            } else {
                trial_seed
            };
            let started = Instant::now();
            if let Some(t) = spec.replay.get(q as usize - 1) {
                let index = space.index(&cell);
                let arch = space.format(&cell);
                if t.index != index || t.arch != arch || t.query != q {
                    let show = |i: Option<u64>, a: &str| i.map_or(a.to_string(), |i| i.to_string());
                    return Err(RunError::Replay(format!(
                        "journal line {q} holds cell {} but the run proposes {}: \
                         the journal belongs to another configuration",
                        show(t.index, &t.arch),
                        show(index, &arch)
                    )));
                }
                let result = match t.val_acc {
                    Some(v) => Ok(Outcome {
                        val_acc: v,
                        test_acc: t.test_acc,
                        cost_seconds: t.cost_seconds.unwrap_or(0.0),
                        extras: vec![],
                    }),
                    None => Err(EvalFailure {
                        reason: t.error.clone().unwrap_or_default(),
                        cost_seconds: t.cost_seconds.unwrap_or(0.0),
                    }),
                };
                finished.insert(
                    q,
                    Done {
                        result,
                        wall: 0.0,
                        cached: false,
                        replayed: true,
                    },
                );
            } else if let Some(o) = ev
                .cache
                .as_ref()
                .and_then(|c| c.get(&ev.key(&space.format(&cell), job_seed)))
            {
                finished.insert(
                    q,
                    Done {
                        result: Ok(o),
                        wall: 0.0,
                        cached: true,
                        replayed: false,
                    },
                );
            } else if let Executor::Pool(p) = &mut executor {
                p.submit(q, cell.clone(), job_seed);
            }
            in_flight_keys.insert(k);
            pending.push_back(Pending {
                query: q,
                cell,
                predicted,
                job_seed,
                started,
            });
        }

        // Complete the oldest pending evaluation.
        let Some(job) = pending.pop_front() else {
            break;
        };
        let done = match finished.remove(&job.query) {
            Some(d) => d,
            None => match &mut executor {
                Executor::Inline(e) => {
                    let mut r = seed::Rng::seed_from_u64(job.job_seed);
                    let result = e.evaluator.evaluate(&job.cell, &mut r);
                    Done {
                        result,
                        wall: job.started.elapsed().as_secs_f64(),
                        cached: false,
                        replayed: false,
                    }
                }
                Executor::Pool(p) => loop {
                    let f = p.recv().expect("a submitted job is pending");
                    let d = Done {
                        result: f.result,
                        wall: job.started.elapsed().as_secs_f64(),
                        cached: false,
                        replayed: false,
                    };
                    if f.job_id == job.query {
                        break d;
                    }
                    finished.insert(f.job_id, d);
                },
            },
        };
        if !done.cached && !done.replayed {
            if let Some(c) = &ev.cache {
                c.put(ev.key(&space.format(&job.cell), job.job_seed), &done.result)?;
            }
        }
        let cell = job.cell;
        in_flight_keys.remove(&key(&cell));
        queries = job.query;
        let index = space.index(&cell);
        let arch = space.format(&cell);
        let (val, test, cost, error) = match &done.result {
            Ok(o) => (Some(o.val_acc), o.test_acc, o.cost_seconds, None),
            Err(f) => (None, None, f.cost_seconds, Some(f.reason.clone())),
        };
        // Only simulated costs are deterministic: measured ones go to timings.jsonl.
        let simulated = ev.simulated_cost();
        if simulated {
            sim += cost;
        }
        let mut incumbent = false;
        match val {
            Some(v)
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| spec.goal.better(v, b.val_acc)) =>
            {
                incumbent = true;
                best = Some((
                    Best {
                        arch: arch.clone(),
                        index,
                        val_acc: v,
                        test_acc: test,
                    },
                    queries,
                ));
            }
            None => failed += 1,
            _ => {}
        }
        if streak.record(val.is_none()) && reason.is_none() {
            reason = Some(StopReason::MaxFailures);
        }
        if let (false, Some(e)) = (done.replayed, &error) {
            progress.failed(spec.run, queries, &space.format(&cell), e);
        }
        if !done.replayed {
            journal.write(&Trial {
                query: queries,
                index,
                arch,
                val_acc: val,
                test_acc: test,
                cost_seconds: simulated.then_some(cost),
                sim_seconds: simulated.then_some(sim),
                incumbent,
                predicted: job.predicted.map(score),
                error,
            })?;
            timings.write(&Timing {
                query: queries,
                eval_wall_seconds: done.wall,
                cost_seconds: (!simulated).then_some(cost),
                cached: done.cached,
            })?;
        }
        seen.insert(key(&cell), val);
        if let Some(v) = val {
            evaluated.push((cell.clone(), score(v)));
        }
        strategy.tell(space, &cell, val.map(score));
        if let Some((b, _)) = &best {
            trajectory.push(TrajectoryPoint {
                query: queries,
                sim_seconds: sim,
                estimator_seconds: filter
                    .as_ref()
                    .map_or(0.0, |f| f.fit_seconds + f.query_seconds),
                index: b.index,
                arch: b.arch.clone(),
                val_acc: b.val_acc,
                test_acc: b.test_acc,
            });
        }
        if let Some(d) = spec.throttle {
            std::thread::sleep(d);
        }
        progress.query(
            spec.run,
            queries,
            best.as_ref()
                .map(|(b, _)| (b.val_acc, b.test_acc.unwrap_or(f64::NAN))),
        );
    }
    if (queries as usize) < spec.replay.len() {
        return Err(RunError::Replay(format!(
            "the journal holds {} trials but the run stops after {queries}",
            spec.replay.len()
        )));
    }
    Ok(RunOutput {
        summary: RunSummary {
            run: spec.run,
            seed: spec.seed,
            queries,
            sim_seconds: sim,
            first_query_reaching_best: best.as_ref().map_or(0, |b| b.1),
            best: best.map(|b| b.0),
            stop_reason: reason.unwrap_or(StopReason::Exhausted),
            failed,
            estimator_fit_seconds_total: filter.as_ref().map(|f| f.fit_seconds),
            estimator_query_seconds_total: filter.as_ref().map(|f| f.query_seconds),
        },
        trajectory,
    })
}
