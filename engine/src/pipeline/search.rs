//! One search run: the ask/tell loop. The strategy proposes, the engine evaluates, the journal
//! records, the strategy is told. Proposals pass the middleware in turn: the filter
//! ([`crate::pipeline::filter`], with an estimator), dedup ([`crate::pipeline::dedup`]), replay ([`crate::pipeline::replay`],
//! on resume) and the result cache ([`crate::pipeline::cache`]), in front of the executor.
//!
//! With `workers > 1` up to `workers` evaluations run at once. Results are journaled and told to
//! the strategy in the order the cells were proposed, and a new cell is proposed only after the
//! result `workers` places earlier was told, so a run is the same whatever the timing.

use crate::config::Experiment;
use crate::evaluators::Evaluation;
use crate::journal::{JournalWriter, Timing, Trial, WriteError};
use crate::objectives::MultiObjective;
use crate::pipeline::cache;
use crate::pipeline::dedup::{Dedup, Known};
use crate::pipeline::filter::Filter;
use crate::pipeline::mo_rank::MoRank;
use crate::pipeline::proxy::Proxy;
use crate::pipeline::replay::{Replay, ReplayError};
use crate::pipeline::scheduler::{Next, Scheduler};
use crate::pipeline::stopping::{FailureStreak, StopReason, StoppingCriteria};
use crate::results::{Best, RunSummary, TrajectoryPoint};
use emprox_benchmarks::evaluator::{EvalFailure, Goal, Outcome, TrialContext};
use emprox_benchmarks::workers::WorkerPool;
use emprox_benchmarks::{seed, SearchSpace};
use emprox_strategies::{Feedback, Strategy};
use rand::SeedableRng;
use std::collections::{HashMap, VecDeque};
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
    Filter(#[from] crate::pipeline::filter::FilterError),
    /// An invalid estimator.
    #[error(transparent)]
    Estimator(#[from] emprox_estimators::EstimatorError),
    /// The worker pool could not start.
    #[error(transparent)]
    Pool(#[from] emprox_benchmarks::workers::PoolError),
    /// A journal being replayed does not match what the run proposes.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A `[scheduler]` the evaluator's fidelities do not allow.
    #[error("{0}")]
    Scheduler(String),
    /// [`crate::pipeline::stopping::interrupt`] was called: the run stopped, resumable.
    #[error("interrupted")]
    Interrupted,
}

/// Receives progress events (for a progress bar or logs).
pub trait Progress: Sync {
    /// A query finished.
    fn query(&self, end: &QueryEnd);
    /// Query `query` of run `run` (on cell `arch`) failed for `reason` (new evaluations only).
    fn failed(&self, _run: u64, _query: u64, _arch: &str, _reason: &str) {}
    /// An experiment starts (or resumes); its runs' queries follow.
    fn experiment(&self, _start: &ExperimentStart) {}
    /// A phase that takes time other than evaluating starts (`Some`: what it is, e.g. "fitting
    /// the estimator on 40 cells") or ends (`None`), in run `run` (`None`: the experiment's).
    fn phase(&self, _run: Option<u64>, _what: Option<&str>) {}
    /// Query `query` of run `run` goes to the evaluator (neither replayed nor cached), in
    /// proposal order: an evaluator that is told its results, as the Python ask/tell is, hands
    /// its trials out in this order.
    fn evaluating(&self, _run: u64, _query: u64) {}
    /// Run `run` waits for the result of query `query`: no new proposal comes before it.
    fn waiting(&self, _run: u64, _query: u64) {}
}

/// A finished query, as a progress display sees it.
pub struct QueryEnd<'a> {
    /// Run.
    pub run: u64,
    /// Query (1-based).
    pub query: u64,
    /// The cell.
    pub arch: &'a str,
    /// Its validation score (`None`: failed).
    pub score: Option<f64>,
    /// Wall seconds the evaluation took (0 for a replayed one).
    pub seconds: f64,
    /// Answered from the journal of an interrupted attempt, not evaluated now.
    pub replayed: bool,
    /// The run's incumbent (val, test; NaN where there is no test value).
    pub best: Option<(f64, f64)>,
}

/// What a progress display learns when an experiment starts.
pub struct ExperimentStart<'a> {
    /// Experiment name (a comparison's label).
    pub name: &'a str,
    /// Dataset.
    pub dataset: &'a str,
    /// Runs.
    pub runs: u64,
    /// Queries per run, when the budget bounds them.
    pub queries_per_run: Option<u64>,
    /// Each evaluation takes real time (training, an external command), not a table lookup.
    pub slow: bool,
    /// The search signal (for its name and decimals).
    pub signal: &'a emprox_benchmarks::Signal,
}

/// Ignores progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn query(&self, _: &QueryEnd) {}
}

/// Everything a run needs.
pub struct RunSpec<'a, S: SearchSpace> {
    /// The experiment.
    pub experiment: &'a Experiment,
    /// The space.
    pub space: &'a S,
    /// How cells are evaluated.
    pub evaluation: &'a Evaluation<S::Cell>,
    /// Several objectives (`None`: one): strategies are told each, the filter ranks by them.
    pub objectives: Option<&'a MultiObjective>,
    /// Run number (0-based).
    pub run: u64,
    /// The run's seed.
    pub seed: u64,
    /// Trials of an earlier, interrupted attempt of this run, replayed instead of evaluated.
    pub replay: Vec<Trial>,
    /// Test hook: sleep this long after each query.
    pub throttle: Option<std::time::Duration>,
    /// Evaluators that train keep the weights (`--keep-weights`).
    pub keep_weights: Option<crate::experiment::KeepWeights>,
    /// Keep every checkpoint (`--keep-checkpoints`): else one is removed once no promotion
    /// will read it.
    pub keep_checkpoints: bool,
}

/// The outcome of a run, with its trajectory (one point per query).
pub struct RunOutput {
    /// The summary.
    pub summary: RunSummary,
    /// The incumbent after each query.
    pub trajectory: Vec<TrajectoryPoint>,
}

type EvalResult = Result<Outcome, EvalFailure>;

/// Has the evaluator remove the checkpoints of the scheduler's trials that no promotion will
/// read any more (`all`: every trial's, the run being over). `jobs`: each trial's query and
/// job seed, by trial id.
fn release_checkpoints<C: Clone>(
    scheduler: &mut Scheduler<C>,
    jobs: &[(u64, u64)],
    evaluation: &Evaluation<C>,
    dir: &Path,
    all: bool,
) {
    for (id, cell, rung) in scheduler.released(all) {
        let (query, job_seed) = jobs[id];
        let trial = TrialContext {
            dir: dir.to_path_buf(),
            query,
            fidelity: Some(scheduler.fidelity(rung)),
            keep_weights: false,
        };
        let mut rng = seed::Rng::seed_from_u64(job_seed);
        evaluation.evaluator.release(&trial, &cell, &mut rng);
    }
}

/// The wall seconds from which an evaluation's journal record is synced to the disk.
pub const SYNC_SECONDS: f64 = 0.1;

/// Runs evaluations inline (one worker) or on a worker pool, and hands results back in the
/// order the cells were proposed.
struct Executor<'a, C> {
    evaluation: &'a Evaluation<C>,
    /// The run's folder, handed to evaluators that keep files per trial.
    dir: &'a Path,
    /// Evaluators that train keep the weights.
    keep_weights: bool,
    pool: Option<WorkerPool<C>>,
    pending: VecDeque<Pending<C>>,
    /// Results that came before their turn (out of order from the pool, replayed, cached).
    finished: HashMap<u64, Done>,
}

struct Done {
    result: EvalResult,
    wall: f64,
    source: Source,
}

/// Where a result came from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    Evaluated,
    Cached,
    Replayed,
}

impl Done {
    fn ready(result: EvalResult, source: Source) -> Self {
        Done {
            result,
            wall: 0.0,
            source,
        }
    }
}

/// A proposed cell waiting for its result.
struct Pending<C> {
    query: u64,
    cell: C,
    predicted: Option<f64>,
    job_seed: u64,
    cache_key: Option<String>,
    started: Instant,
    /// The fidelity it runs at (`None`: the full one, without a scheduler).
    fidelity: Option<f64>,
    /// Its scheduler trial id and rung.
    sched: Option<(usize, usize)>,
    /// The cell's first trial (the strategy is told its result), not a promotion.
    entry: bool,
}

impl<'a, C: Clone + Send + Sync + 'static> Executor<'a, C> {
    fn new(
        evaluation: &'a Evaluation<C>,
        dir: &'a Path,
        keep_weights: bool,
    ) -> Result<Self, RunError> {
        let pool = if evaluation.workers > 1 {
            Some(WorkerPool::with_threads(
                evaluation.workers,
                evaluation.threads_per_worker,
                evaluation.evaluator.clone(),
            )?)
        } else {
            None
        };
        Ok(Executor {
            evaluation,
            dir,
            keep_weights,
            pool,
            pending: VecDeque::new(),
            finished: HashMap::new(),
        })
    }

    fn trial(&self, query: u64, fidelity: Option<f64>) -> TrialContext {
        TrialContext {
            dir: self.dir.to_path_buf(),
            query,
            fidelity,
            keep_weights: self.keep_weights,
        }
    }

    /// Evaluations at once.
    fn window(&self) -> usize {
        self.evaluation.workers.max(1)
    }

    /// Queues `job`: its result is `ready` (replayed, cached), or it is evaluated.
    fn push(&mut self, job: Pending<C>, ready: Option<Done>) {
        let trial = self.trial(job.query, job.fidelity);
        match (ready, &mut self.pool) {
            (Some(d), _) => {
                self.finished.insert(job.query, d);
            }
            (None, Some(p)) => p.submit_trial(job.query, job.cell.clone(), job.job_seed, trial),
            (None, None) => {}
        }
        self.pending.push_back(job);
    }

    /// The oldest pending job with its result (evaluating it inline, or waiting for the pool).
    fn next(&mut self) -> Option<(Pending<C>, Done)> {
        let job = self.pending.pop_front()?;
        if let Some(d) = self.finished.remove(&job.query) {
            return Some((job, d));
        }
        let done = match &mut self.pool {
            None => {
                let mut r = seed::Rng::seed_from_u64(job.job_seed);
                let trial = self.trial(job.query, job.fidelity);
                let result = (self.evaluation.evaluator).evaluate_trial(&trial, &job.cell, &mut r);
                Done {
                    result,
                    wall: job.started.elapsed().as_secs_f64(),
                    source: Source::Evaluated,
                }
            }
            Some(p) => loop {
                let f = p.recv().expect("a submitted job is pending");
                let d = Done {
                    result: f.result,
                    wall: job.started.elapsed().as_secs_f64(),
                    source: Source::Evaluated,
                };
                if f.job_id == job.query {
                    break d;
                }
                self.finished.insert(f.job_id, d);
            },
        };
        Some((job, done))
    }
}

/// The run's record: queries, simulated seconds, failures, the incumbent and its trajectory.
#[derive(Debug)]
struct Tally {
    goal: Goal,
    queries: u64,
    sim: f64,
    failed: u64,
    best: Option<(Best, u64)>,
    trajectory: Vec<TrajectoryPoint>,
    /// Simulated seconds per fidelity, in the order first met (with a scheduler).
    by_fidelity: Vec<(f64, f64)>,
}

impl Tally {
    fn new(goal: Goal) -> Self {
        Tally {
            goal,
            queries: 0,
            sim: 0.0,
            failed: 0,
            best: None,
            trajectory: Vec::new(),
            by_fidelity: Vec::new(),
        }
    }

    /// Records query `query` on the cell (`index`, `arch`), whose validation accuracy is
    /// `val` (`None`: failed); `sim_cost` counts towards the simulated seconds (and those of
    /// `fidelity`). Only a trial at the highest fidelity (`top`) may become the incumbent: true
    /// when it does.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        query: u64,
        index: Option<u64>,
        arch: &str,
        val: Option<f64>,
        test: Option<f64>,
        sim_cost: f64,
        (fidelity, top): (Option<f64>, bool),
    ) -> bool {
        self.queries = query;
        self.sim += sim_cost;
        if let Some(f) = fidelity {
            match self.by_fidelity.iter_mut().find(|(g, _)| *g == f) {
                Some((_, s)) => *s += sim_cost,
                None => self.by_fidelity.push((f, sim_cost)),
            }
        }
        let incumbent = match val {
            Some(_) if !top => false,
            Some(v) => self
                .best
                .as_ref()
                .is_none_or(|(b, _)| self.goal.better(v, b.val_acc)),
            None => {
                self.failed += 1;
                false
            }
        };
        if let (true, Some(v)) = (incumbent, val) {
            let best = Best {
                arch: arch.to_string(),
                index,
                val_acc: v,
                test_acc: test,
            };
            self.best = Some((best, query));
        }
        incumbent
    }

    /// Appends the incumbent after the last query (with the estimator's seconds so far).
    fn point(&mut self, estimator_seconds: f64) {
        if let Some((b, _)) = &self.best {
            self.trajectory.push(TrajectoryPoint {
                query: self.queries,
                sim_seconds: self.sim,
                estimator_seconds,
                index: b.index,
                arch: b.arch.clone(),
                val_acc: b.val_acc,
                test_acc: b.test_acc,
                hypervolume: None,
                test_hypervolume: None,
            });
        }
    }

    fn incumbent(&self) -> Option<(f64, f64)> {
        self.best
            .as_ref()
            .map(|(b, _)| (b.val_acc, b.test_acc.unwrap_or(f64::NAN)))
    }
}

/// The run's log files.
struct Logs {
    trials: JournalWriter,
    timings: JournalWriter,
    pools: Option<JournalWriter>,
}

/// The proposal chain: strategy, then the filter (with an estimator), then dedup; and the way
/// back, telling each middleware a result.
struct Chain<S: SearchSpace> {
    strategy: Box<dyn Strategy<S>>,
    filter: Option<Filter<S>>,
    dedup: Dedup<S::Cell>,
    rng: seed::Rng,
    goal: Goal,
    objectives: Option<MultiObjective>,
}

/// What the chain makes of one proposal.
enum Proposal<C> {
    /// A new cell to evaluate, with the filter's score (maximised, as in `pools.jsonl`).
    New(C, Option<f64>),
    /// Nothing new (answered from the journal, in flight, or an empty pool).
    Repeat,
    /// Nothing new too many times in a row.
    Exhausted,
}

impl<S: SearchSpace> Chain<S> {
    /// Strategies and estimators maximise: a minimised signal is told negated (and a maximised
    /// score read back the same way, negation being its own inverse).
    fn score(&self, v: f64) -> f64 {
        if self.goal == Goal::Minimize {
            -v
        } else {
            v
        }
    }

    /// The next proposal, `submitted` queries into the run; a new cell goes in flight. `phase`
    /// hears of the estimator's fits.
    fn propose(
        &mut self,
        space: &S,
        submitted: u64,
        logs: &mut Logs,
        phase: &dyn Fn(Option<&str>),
    ) -> Result<Proposal<S::Cell>, RunError> {
        let proposal = match self.filter.as_mut() {
            Some(f) if !f.warming_up(submitted) => f.next(
                self.strategy.as_mut(),
                space,
                &mut self.rng,
                submitted,
                &self.dedup,
                logs.pools.as_mut().expect("pools log exists with a filter"),
                &mut logs.timings,
                phase,
            )?,
            _ => Some((self.strategy.ask(space, &mut self.rng), None)),
        };
        let known = proposal.as_ref().map(|(c, _)| self.dedup.known(space, c));
        match (proposal, known) {
            (Some((cell, predicted)), Some(Known::New)) => {
                self.dedup.start(space, &cell);
                Ok(Proposal::New(cell, predicted))
            }
            (proposal, known) => {
                // Answered from the journal at no cost (an in-flight duplicate is dropped).
                if let (Some((cell, _)), Some(Known::Evaluated(told))) = (proposal, known) {
                    self.strategy.tell(space, &cell, told.as_ref());
                }
                Ok(if self.dedup.repeated() {
                    Proposal::Exhausted
                } else {
                    Proposal::Repeat
                })
            }
        }
    }

    /// `cell` was evaluated with validation accuracy `val` (`None`: failed) and other metrics
    /// `metrics` (a table's extras): the strategy is told its score and, with several
    /// objectives, each objective's utility.
    fn tell(&mut self, space: &S, cell: &S::Cell, val: Option<f64>, metrics: &[(String, f64)]) {
        let told = val.map(|v| Feedback {
            score: self.score(v),
            objectives: self
                .objectives
                .as_ref()
                .map_or_else(Vec::new, |mo| mo.utilities(v, metrics)),
        });
        if let (Some(f), Some(t)) = (self.filter.as_mut(), &told) {
            f.observe(cell.clone(), t);
        }
        self.strategy.tell(space, cell, told.as_ref());
        self.dedup.finish(space, cell, told);
    }

    /// The estimator's wall seconds so far (fitting, scoring).
    fn estimator_seconds(&self) -> (Option<f64>, Option<f64>) {
        let f = self.filter.as_ref();
        (f.map(|f| f.fit_seconds), f.map(|f| f.query_seconds))
    }
}

/// Runs one search, appending to `dir/trials.jsonl` and `dir/timings.jsonl`.
pub fn run<S: SearchSpace + 'static>(
    spec: &RunSpec<S>,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<RunOutput, RunError> {
    let exp = spec.experiment;
    let strategy = exp.strategy.build::<S>()?;
    let filter = match (&exp.estimator, &exp.filter) {
        (Some(e), Some(f)) => {
            let filter = Filter::new(
                f.clone(),
                e.params.for_run(spec.seed).build::<S>()?,
                spec.seed,
                spec.replay.len() as u64,
            )
            .with_pretraining(e.params.pretrain_cells());
            let filter = match (&f.proxy, f.proxy_usage()) {
                (Some(metric), Some(usage)) => filter.with_proxy(Proxy::new(
                    metric.clone(),
                    usage,
                    spec.evaluation.evaluator.clone(),
                )),
                _ => filter,
            };
            Some(match spec.objectives {
                Some(mo) => filter.with_objectives(MoRank::new(
                    f.mo_rank.unwrap_or_default(),
                    mo.clone(),
                    spec.evaluation.evaluator.clone(),
                )),
                None => filter,
            })
        }
        _ => None,
    };
    run_with(spec, strategy, filter, dir, progress)
}

/// [`run`] with a given strategy and filter: the loop that wires the middleware.
fn run_with<S: SearchSpace + 'static>(
    spec: &RunSpec<S>,
    strategy: Box<dyn Strategy<S>>,
    filter: Option<Filter<S>>,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<RunOutput, RunError> {
    let exp = spec.experiment;
    let space = spec.space;
    let ev = spec.evaluation;
    let noise_seed = seed::derive(spec.seed, "noise");
    let trial_seed = seed::derive(spec.seed, "evaluator");
    // Only simulated costs are deterministic: measured ones go to timings.jsonl.
    let simulated = ev.simulated_cost();
    let stop = StoppingCriteria::new(&exp.budget);
    let mut streak = FailureStreak::new(exp.search.max_failures);
    // A real evaluation's record is synced, so that a power loss keeps it (see below).
    let mut logs = Logs {
        trials: JournalWriter::append(&dir.join(crate::rundir::TRIALS))?,
        timings: JournalWriter::append(&dir.join(crate::rundir::TIMINGS))?,
        pools: match filter {
            Some(_) => Some(JournalWriter::append(&dir.join(crate::rundir::POOLS))?),
            None => None,
        },
    };
    let replay = Replay::new(spec.run, spec.replay.clone());
    // The query whose weights `--keep-weights incumbents` keeps.
    let mut kept_incumbent = None;
    let mut executor = Executor::new(ev, dir, spec.keep_weights.is_some())?;
    let mut scheduler = match exp.scheduler.as_ref().filter(|s| s.active()) {
        Some(cfg) => {
            let rungs = cfg
                .rungs(&ev.evaluator.fidelities())
                .map_err(RunError::Scheduler)?;
            Some(Scheduler::new(cfg, rungs))
        }
        None => None,
    };
    let mut chain = Chain {
        strategy,
        filter,
        dedup: Dedup::new(
            exp.search.dedup_isomorphic,
            exp.search.max_repeated_proposals,
        ),
        rng: seed::stream(spec.seed, "strategy"),
        goal: spec.evaluation.signal.goal,
        objectives: spec.objectives.cloned(),
    };
    let space_size = space.size().unwrap_or(u64::MAX);
    let start = Instant::now();
    let mut tally = Tally::new(spec.evaluation.signal.goal);
    let mut submitted = 0u64;
    let mut reason: Option<StopReason> = None;
    // The query and job seed of each scheduler trial, by its id.
    let mut sched_jobs: Vec<(u64, u64)> = Vec::new();
    let release = |s: &mut Option<Scheduler<S::Cell>>, jobs: &[(u64, u64)], all: bool| {
        if let Some(s) = s.as_mut().filter(|_| !spec.keep_checkpoints) {
            release_checkpoints(s, jobs, ev, dir, all);
        }
    };

    loop {
        if crate::pipeline::stopping::interrupted() {
            return Err(RunError::Interrupted);
        }
        // Propose until the window is full or the run must stop.
        while reason.is_none() && executor.pending.len() < executor.window() {
            // The scheduler (if any) asks for a promotion, a new cell at a rung, or a wait.
            let next = scheduler.as_mut().map(Scheduler::decide);
            if matches!(next, Some(Next::Wait)) {
                break;
            }
            // A new cell's rung (with a scheduler), or a promotion.
            let (new_rung, promotion) = match next {
                Some(Next::Promote { from, cell, rung }) => (None, Some((from, cell, rung))),
                Some(Next::New(r)) => (Some(r), None),
                _ => (None, None),
            };
            reason = stop
                .reached(submitted, tally.sim, start.elapsed().as_secs_f64())
                .or_else(|| {
                    (promotion.is_none()
                        && (chain.dedup.evaluated() + executor.pending.len()) as u64 >= space_size)
                        .then_some(StopReason::Exhausted)
                });
            if reason.is_some() {
                break;
            }
            let (cell, predicted, rung, from) = match promotion {
                Some((from, cell, rung)) => (cell, None, Some(rung), Some(from)),
                None => {
                    let phase = |what: Option<&str>| progress.phase(Some(spec.run), what);
                    match chain.propose(space, submitted, &mut logs, &phase)? {
                        Proposal::New(cell, predicted) => (cell, predicted, new_rung, None),
                        Proposal::Repeat => continue,
                        Proposal::Exhausted => {
                            reason = Some(StopReason::Exhausted);
                            continue;
                        }
                    }
                }
            };
            let (sched, fidelity) = match (scheduler.as_mut(), rung) {
                (Some(s), Some(r)) => (
                    Some((s.start(cell.clone(), r, from), r)),
                    Some(s.fidelity(r)),
                ),
                _ => (None, None),
            };
            submitted += 1;
            let query = submitted;
            let job_seed = if simulated {
                seed::derive(noise_seed, &query.to_string())
            } else {
                trial_seed
            };
            if sched.is_some() {
                sched_jobs.push((query, job_seed));
            }
            let started = Instant::now();
            let arch = space.format(&cell);
            let (ready, cache_key) =
                match replay.result(query, space.index(&cell), &arch, fidelity)? {
                    Some(r) => (Some(Done::ready(r, Source::Replayed)), None),
                    None => {
                        // A cheaper fidelity's result is another entry of the cache.
                        let key = fidelity.map_or_else(|| arch.clone(), |f| format!("{arch}@{f}"));
                        let found = cache::lookup(ev.cache.as_deref(), || ev.key(&key, job_seed));
                        let hit = found.hit.map(|o| Done::ready(Ok(o), Source::Cached));
                        (hit, found.key)
                    }
                };
            if ready.is_none() {
                progress.evaluating(spec.run, query);
            }
            executor.push(
                Pending {
                    query,
                    cell,
                    predicted,
                    job_seed,
                    cache_key,
                    started,
                    fidelity,
                    sched,
                    entry: from.is_none(),
                },
                ready,
            );
        }

        // The scheduler decides from journaled results only: a resumed run removes the same.
        release(&mut scheduler, &sched_jobs, false);
        // Complete the oldest pending evaluation.
        if let Some(front) = executor.pending.front() {
            progress.waiting(spec.run, front.query);
        }
        let Some((job, done)) = executor.next() else {
            break;
        };
        // Nothing is journaled after an interruption (an evaluation it cut short included).
        if crate::pipeline::stopping::interrupted() {
            return Err(RunError::Interrupted);
        }
        if done.source == Source::Evaluated {
            cache::store(ev.cache.as_deref(), job.cache_key, &done.result)?;
        }
        let cell = job.cell;
        let index = space.index(&cell);
        let arch = space.format(&cell);
        let arch_shown = arch.clone();
        let (val, test, cost, error) = match &done.result {
            Ok(o) => (Some(o.val_acc), o.test_acc, o.cost_seconds, None),
            Err(f) => (None, None, f.cost_seconds, Some(f.reason.clone())),
        };
        let top = match (&mut scheduler, job.sched) {
            (Some(s), Some((id, rung))) => {
                s.finish(id, val.map(|v| chain.score(v)));
                s.is_top(rung)
            }
            _ => true,
        };
        let incumbent = tally.record(
            job.query,
            index,
            &arch,
            val,
            test,
            if simulated { cost } else { 0.0 },
            (job.fidelity.filter(|_| simulated), top),
        );
        if streak.record(val.is_none()) && reason.is_none() {
            reason = Some(StopReason::MaxFailures);
        }
        if done.source != Source::Replayed {
            if let Some(e) = &error {
                progress.failed(spec.run, job.query, &arch, e);
            }
            // Synced when it stands for real work: one of less than SYNC_SECONDS (a cache hit,
            // a quick command, a Python objective told at once) costs less to redo after a
            // power loss than a sync per record (about 1 ms) costs every time. fdatasync
            // flushes the earlier lines with it.
            logs.trials
                .set_synced(!simulated && done.wall >= SYNC_SECONDS);
            logs.trials.write(&Trial {
                run: spec.run,
                query: job.query,
                index,
                arch,
                fidelity: job.fidelity,
                val_acc: val,
                test_acc: test,
                cost_seconds: simulated.then_some(cost),
                sim_seconds: simulated.then_some(tally.sim),
                incumbent,
                // In the objective's units (the filter ranks by the maximised score).
                predicted: job.predicted.map(|p| chain.score(p)),
                error,
                extras: match &done.result {
                    Ok(o) if simulated => o.extras.clone(),
                    _ => vec![],
                },
            })?;
            logs.timings.write(&Timing::Evaluation {
                query: job.query,
                wall_seconds: done.wall,
                cost_seconds: (!simulated).then_some(cost),
                cached: done.source == Source::Cached,
            })?;
        }
        if spec.keep_weights == Some(crate::experiment::KeepWeights::Incumbents) {
            // Journaled: the weights of the incumbent it replaces, or its own, go.
            let stale = match incumbent {
                true => kept_incumbent.replace(job.query),
                false => Some(job.query),
            };
            if let Some(q) = stale {
                let dir = dir.join(emprox_train::evaluator::WEIGHTS_DIR);
                emprox_train::evaluator::drop_kept_weights(&dir, q)
                    .map_err(|source| WriteError { path: dir, source })?;
            }
        }
        // The strategy and the filter learn a cell's score at the rung it entered, once; a
        // promotion's result goes to the scheduler and the incumbent only.
        if job.entry {
            let metrics = done.result.as_ref().map_or(&[][..], |o| &o.extras[..]);
            chain.tell(space, &cell, val, metrics);
        }
        release(&mut scheduler, &sched_jobs, false);
        let (fit, query) = chain.estimator_seconds();
        tally.point(fit.unwrap_or(0.0) + query.unwrap_or(0.0));
        if let Some(d) = spec.throttle {
            std::thread::sleep(d);
        }
        progress.query(&QueryEnd {
            run: spec.run,
            query: job.query,
            arch: &arch_shown,
            score: val,
            seconds: done.wall,
            replayed: done.source == Source::Replayed,
            best: tally.incumbent(),
        });
    }
    replay.finished(tally.queries)?;
    // The run is over: no checkpoint will be read.
    release(&mut scheduler, &sched_jobs, true);
    let (fit, query) = chain.estimator_seconds();
    Ok(RunOutput {
        summary: RunSummary {
            run: spec.run,
            seed: spec.seed,
            queries: tally.queries,
            sim_seconds: tally.sim,
            first_query_reaching_best: tally.best.as_ref().map_or(0, |b| b.1),
            best: tally.best.map(|b| b.0),
            stop_reason: reason.unwrap_or(StopReason::Exhausted),
            failed: tally.failed,
            estimator_fit_seconds_total: fit,
            estimator_query_seconds_total: query,
            // Written with the run's files, from its journal.
            front: None,
            incumbent_fidelity: scheduler.as_ref().map(|s| s.fidelity(s.top_rung())),
            sim_seconds_by_fidelity: tally.by_fidelity,
        },
        trajectory: tally.trajectory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;
    use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
    use emprox_benchmarks::Evaluator;
    use std::sync::{Arc, Mutex};

    fn space() -> Nb201Space {
        Nb201Space::new(Nb201Data::shipped().unwrap())
    }

    /// An experiment over NAS-Bench-201 CIFAR-10 with random search and `extra` TOML.
    fn experiment(extra: &str) -> Experiment {
        noisy_experiment("mean", extra)
    }

    /// [`experiment`] with `noise`.
    fn noisy_experiment(noise: &str, extra: &str) -> Experiment {
        let text = format!(
            "name = \"t\"\nseed = 0\nseeds = 1\n[benchmark]\ntype = \"nasbench201\"\n\
             dataset = \"cifar10\"\nnoise = \"{noise}\"\n[strategy]\ntype = \"random\"\n{extra}"
        );
        parse_toml(&text, Path::new("t.toml")).unwrap()
    }

    /// A fake evaluator: accuracy from the cell's code, a fixed cost, an optional sleep.
    struct Fake {
        cost: f64,
        sleep: std::time::Duration,
    }
    impl Evaluator<Cell> for Fake {
        fn evaluate(&self, c: &Cell, _: &mut dyn rand::RngCore) -> EvalResult {
            std::thread::sleep(self.sleep);
            let v = (c.code() % 100) as f64;
            Ok(Outcome {
                val_acc: v,
                test_acc: Some(v - 1.0),
                cost_seconds: self.cost,
                extras: vec![("b".into(), v * 2.0), ("a".into(), 0.5)],
            })
        }
    }

    fn fake(cost: f64, sleep_ms: u64) -> Evaluation<Cell> {
        let f = Fake {
            cost,
            sleep: std::time::Duration::from_millis(sleep_ms),
        };
        Evaluation::table(
            Arc::new(f),
            "nasbench201",
            "cifar10",
            emprox_benchmarks::Signal::accuracy(),
        )
    }

    /// What a scripted strategy was told.
    type Told = Arc<Mutex<Vec<(Cell, Option<f64>)>>>;

    /// Proposes `cells` in turn (the last one forever) and records what it is told.
    struct Script {
        cells: Vec<Cell>,
        next: usize,
        told: Told,
    }
    impl Strategy<Nb201Space> for Script {
        fn name(&self) -> &'static str {
            "script"
        }
        fn ask(&mut self, _: &Nb201Space, _: &mut seed::Rng) -> Cell {
            let c = self.cells[self.next.min(self.cells.len() - 1)];
            self.next += 1;
            c
        }
        fn tell(&mut self, _: &Nb201Space, cell: &Cell, v: Option<&Feedback>) {
            self.told.lock().unwrap().push((*cell, v.map(|f| f.score)));
        }
    }

    fn script(cells: Vec<Cell>) -> (Box<dyn Strategy<Nb201Space>>, Told) {
        let told = Told::default();
        let s = Script {
            cells,
            next: 0,
            told: told.clone(),
        };
        (Box::new(s), told)
    }

    /// Runs once into a temporary folder: the output and the journal.
    fn go(
        exp: &Experiment,
        ev: &Evaluation<Cell>,
        strategy: Option<Box<dyn Strategy<Nb201Space>>>,
    ) -> (RunOutput, Vec<Trial>) {
        let space = space();
        let dir = tempfile::tempdir().unwrap();
        let spec = RunSpec {
            experiment: exp,
            space: &space,
            evaluation: ev,
            objectives: None,
            run: 0,
            seed: 7,
            replay: vec![],
            throttle: None,
            keep_weights: None,
            keep_checkpoints: false,
        };
        let out = match strategy {
            Some(s) => run_with(&spec, s, None, dir.path(), &NoProgress).unwrap(),
            None => run(&spec, dir.path(), &NoProgress).unwrap(),
        };
        let trials = std::fs::read_to_string(dir.path().join(crate::rundir::TRIALS))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, trials)
    }

    /// Two different cells of one isomorphism class, and a third of another.
    fn isomorphs() -> (Cell, Cell, Cell) {
        let s = space();
        let mut rng = seed::stream(3, "test");
        loop {
            let (a, b, c) = (s.sample(&mut rng), s.sample(&mut rng), s.sample(&mut rng));
            if a != b && s.iso_key(&a) == s.iso_key(&b) && s.iso_key(&c) != s.iso_key(&a) {
                return (a, b, c);
            }
        }
    }

    #[test]
    fn table_extras_are_journaled_and_measured_ones_are_not() {
        let exp = experiment("[budget]\nmax_queries = 5\n");
        let (_, trials) = go(&exp, &fake(10.0, 0), None);
        assert_eq!(trials.len(), 5);
        for t in &trials {
            let v = t.val_acc.unwrap();
            assert_eq!(
                t.extras,
                vec![("b".to_string(), v * 2.0), ("a".to_string(), 0.5)]
            );
        }
        // A measured evaluation (a trainer, a command) may report wall-clock extras: the
        // deterministic journal leaves them out.
        let mut measured = fake(10.0, 0);
        measured.kind = crate::evaluators::EvaluatorKind::Command;
        let (_, trials) = go(&exp, &measured, None);
        assert_eq!(trials.len(), 5);
        assert!(trials.iter().all(|t| t.extras.is_empty()));
    }

    #[test]
    fn max_sim_seconds_stops_once_the_simulated_cost_reaches_it() {
        let exp = experiment("[budget]\nmax_sim_seconds = 1000\n");
        let (out, trials) = go(&exp, &fake(150.0, 0), None);
        // 150 s a query: after 7 queries 1,050 s >= 1,000.
        assert_eq!(out.summary.stop_reason, StopReason::MaxSimSeconds);
        assert_eq!(out.summary.queries, 7);
        assert_eq!(out.summary.sim_seconds, 1050.0);
        assert_eq!(trials.last().unwrap().sim_seconds, Some(1050.0));
        assert_eq!(out.trajectory.len(), 7);
    }

    #[test]
    fn max_wall_seconds_stops_a_slow_run() {
        let exp = experiment("[budget]\nmax_wall_seconds = 0.2\nmax_queries = 1000\n");
        let (out, trials) = go(&exp, &fake(1.0, 25), None);
        assert_eq!(out.summary.stop_reason, StopReason::MaxWallSeconds);
        assert!(
            (1..40).contains(&out.summary.queries),
            "{}",
            out.summary.queries
        );
        assert_eq!(trials.len() as u64, out.summary.queries);
    }

    #[test]
    fn a_strategy_that_only_re_proposes_ends_the_run() {
        let (a, _, c) = isomorphs();
        let exp =
            experiment("[budget]\nmax_queries = 100\n[search]\nmax_repeated_proposals = 50\n");
        let (strategy, told) = script(vec![a, c]);
        let (out, trials) = go(&exp, &fake(1.0, 0), Some(strategy));
        assert_eq!(out.summary.stop_reason, StopReason::Exhausted);
        assert_eq!(out.summary.queries, 2);
        assert_eq!(trials.len(), 2);
        // Told each evaluated cell once, then each of the 50 repeats from the journal.
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 52);
        let c_val = Some((c.code() % 100) as f64);
        assert!(told[2..].iter().all(|t| *t == (c, c_val)));
    }

    #[test]
    fn dedup_isomorphic_answers_isomorphs_from_the_journal() {
        let (a, b, c) = isomorphs();
        let arch = |t: &[Trial]| t.iter().map(|t| t.arch.clone()).collect::<Vec<_>>();
        let s = space();
        for (iso, expect) in [(false, vec![a, b, c]), (true, vec![a, c])] {
            let exp = experiment(&format!(
                "[budget]\nmax_queries = 3\n[search]\ndedup_isomorphic = {iso}\n\
                 max_repeated_proposals = 5\n"
            ));
            let (strategy, told) = script(vec![a, b, c]);
            let (_, trials) = go(&exp, &fake(1.0, 0), Some(strategy));
            let expect: Vec<String> = expect.iter().map(|c| s.format(c)).collect();
            assert_eq!(arch(&trials), expect, "dedup_isomorphic = {iso}");
            let told = told.lock().unwrap();
            if iso {
                // b was told a's accuracy, without an evaluation.
                assert_eq!(told[1], (b, Some((a.code() % 100) as f64)));
            }
        }
    }

    #[test]
    fn sampled_noise_is_reproducible_and_differs_from_the_mean() {
        let data = Nb201Data::shipped().unwrap();
        let journal = |noise: &str| {
            let exp = noisy_experiment(noise, "[budget]\nmax_queries = 30\n");
            let ev =
                Evaluation::nb201(&exp.benchmark, exp.evaluator.as_ref(), data.clone()).unwrap();
            go(&exp, &ev, None).1
        };
        let (mean, sample, again) = (journal("mean"), journal("sample"), journal("sample"));
        assert_eq!(sample, again, "same seed, same noise");
        let cells = |t: &[Trial]| t.iter().map(|t| t.index).collect::<Vec<_>>();
        assert_eq!(
            cells(&mean),
            cells(&sample),
            "noise does not change the proposals"
        );
        let differ = mean
            .iter()
            .zip(&sample)
            .filter(|(m, s)| m.val_acc != s.val_acc);
        assert!(
            differ.count() > 20,
            "a sampled seed's accuracy is not the mean"
        );
    }

    #[test]
    fn workers_return_results_in_proposal_order() {
        let exp = experiment("[budget]\nmax_queries = 12\n");
        let one = go(&exp, &fake(1.0, 0), None).1;
        let mut ev = fake(1.0, 2);
        ev.workers = 3;
        let three = go(&exp, &ev, None).1;
        assert_eq!(one, three);
        assert_eq!(one.len(), 12);
    }

    #[test]
    fn the_chain_drops_repeats_tells_known_scores_and_exhausts() {
        let s = space();
        let (a, b, _) = isomorphs();
        let (strategy, told) = script(vec![a, a, a, b, b]);
        let mut chain = Chain {
            strategy,
            filter: None,
            dedup: Dedup::new(true, 2),
            rng: seed::stream(0, "strategy"),
            goal: Goal::Minimize,
            objectives: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut logs = Logs {
            trials: JournalWriter::append(&dir.path().join("t")).unwrap(),
            timings: JournalWriter::append(&dir.path().join("u")).unwrap(),
            pools: None,
        };
        let mut propose =
            |chain: &mut Chain<Nb201Space>| match chain.propose(&s, 0, &mut logs, &|_| {}).unwrap()
            {
                Proposal::New(c, p) => format!("new {} {p:?}", c == a),
                Proposal::Repeat => "repeat".into(),
                Proposal::Exhausted => "exhausted".into(),
            };
        assert_eq!(propose(&mut chain), "new true None");
        // In flight: dropped, nothing told.
        assert_eq!(propose(&mut chain), "repeat");
        assert!(told.lock().unwrap().is_empty());
        chain.tell(&s, &a, Some(3.0), &[]);
        // Evaluated: told again from the journal, negated (strategies maximise); b is
        // isomorphic to a, and the second repeat in a row exhausts.
        assert_eq!(propose(&mut chain), "exhausted");
        assert_eq!(propose(&mut chain), "exhausted");
        let told = told.lock().unwrap();
        assert_eq!(
            told[..],
            [(a, Some(-3.0)), (a, Some(-3.0)), (b, Some(-3.0))]
        );
    }

    #[test]
    fn the_tally_keeps_the_incumbent_and_counts_failures() {
        let mut t = Tally::new(Goal::Minimize);
        let full = (None, true);
        assert!(t.record(1, Some(4), "d", Some(5.0), Some(6.0), 2.0, full));
        assert!(!t.record(2, Some(9), "e", None, None, 1.0, full));
        assert!(!t.record(3, Some(1), "f", Some(7.0), None, 0.5, full));
        assert!(t.record(4, None, "g", Some(3.0), None, 0.0, full));
        // A better score at a lower fidelity is never the incumbent.
        assert!(!t.record(4, None, "h", Some(1.0), None, 0.0, (Some(12.0), false)));
        t.point(0.25);
        assert_eq!((t.queries, t.sim, t.failed), (4, 3.5, 1));
        let (b, at) = t.best.as_ref().unwrap();
        assert_eq!((b.arch.as_str(), *at), ("g", 4));
        assert!(b.test_acc.is_none(), "a missing test accuracy stays absent");
        assert_eq!(t.trajectory.len(), 1);
        assert_eq!(t.trajectory[0].estimator_seconds, 0.25);
    }
}
