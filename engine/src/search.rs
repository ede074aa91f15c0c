//! One search run: the ask/tell loop. The strategy proposes, the engine evaluates, the journal
//! records, the strategy is told.

use crate::config::Experiment;
use crate::filter::Filter;
use crate::journal::{JournalWriter, Trial, WriteError};
use crate::results::{Best, RunSummary, TrajectoryPoint};
use crate::stopping::{StopReason, StoppingCriteria};
use emprox_benchmarks::nb201::{Cell, Nb201Space};
use emprox_benchmarks::{seed, Evaluator, SearchSpace};
use std::collections::HashMap;
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
    /// A journal being replayed does not match what the run proposes.
    #[error("{0}")]
    Replay(String),
}

/// Receives progress events (for a progress bar or logs).
pub trait Progress: Sync {
    /// A query finished in run `run`; `best` is the incumbent (val, test).
    fn query(&self, run: u64, query: u64, best: Option<(f64, f64)>);
}

/// Ignores progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn query(&self, _: u64, _: u64, _: Option<(f64, f64)>) {}
}

/// Everything a run needs.
pub struct RunSpec<'a> {
    /// The experiment.
    pub experiment: &'a Experiment,
    /// The space.
    pub space: &'a Nb201Space,
    /// The evaluator.
    pub evaluator: &'a dyn Evaluator<Cell>,
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
}

/// Runs one search, appending to `dir/trials.jsonl` and `dir/timings.jsonl`.
pub fn run(spec: &RunSpec, dir: &Path, progress: &dyn Progress) -> Result<RunOutput, RunError> {
    let exp = spec.experiment;
    let space = spec.space;
    let mut strategy = exp.strategy.build::<Nb201Space>()?;
    let mut rng = seed::stream(spec.seed, "strategy");
    let noise_seed = seed::derive(spec.seed, "noise");
    let stop = StoppingCriteria::new(&exp.budget);
    let mut journal = JournalWriter::append(&dir.join("trials.jsonl"))?;
    let mut timings = JournalWriter::append(&dir.join("timings.jsonl"))?;
    let mut filter = match (&exp.estimator, &exp.filter) {
        (Some(e), Some(f)) => {
            let mut filt = Filter::new(f.clone(), e.build::<Nb201Space>()?, spec.seed);
            filt.replay_until = spec.replay.len() as u64;
            Some(filt)
        }
        _ => None,
    };
    let mut pools = match filter {
        Some(_) => Some(JournalWriter::append(&dir.join("pools.jsonl"))?),
        None => None,
    };
    let mut evaluated: Vec<(Cell, f64)> = Vec::new();
    let key = |c: &Cell| -> u64 {
        if exp.search.dedup_isomorphic {
            space.iso_key(c)
        } else {
            c.code() as u64
        }
    };

    let start = Instant::now();
    let mut seen: HashMap<u64, Option<f64>> = HashMap::new();
    let mut queries = 0u64;
    let mut sim = 0.0f64;
    let mut failed = 0u64;
    let mut best: Option<(Best, u64)> = None;
    let mut trajectory = Vec::new();
    let mut repeats = 0u64;
    let space_size = space.size().unwrap_or(u64::MAX);

    let reason = loop {
        if let Some(r) = stop.reached(queries, sim, start.elapsed().as_secs_f64()) {
            break r;
        }
        if seen.len() as u64 >= space_size {
            break StopReason::Exhausted;
        }
        let (cell, predicted) = match filter.as_mut() {
            Some(f) if !f.warming_up(queries) => {
                let is_evaluated = |c: &Cell| seen.contains_key(&key(c));
                match f.next(
                    strategy.as_mut(),
                    space,
                    &mut rng,
                    queries,
                    &evaluated,
                    &is_evaluated,
                    pools.as_mut().expect("pools log exists with a filter"),
                    &mut timings,
                )? {
                    Some((c, s)) => (c, Some(s)),
                    None => {
                        repeats += 1;
                        if repeats >= exp.search.max_repeated_proposals {
                            break StopReason::Exhausted;
                        }
                        continue;
                    }
                }
            }
            _ => (strategy.ask(space, &mut rng), None),
        };
        if let Some(v) = seen.get(&key(&cell)) {
            strategy.tell(space, &cell, *v);
            repeats += 1;
            if repeats >= exp.search.max_repeated_proposals {
                break StopReason::Exhausted;
            }
            continue;
        }
        repeats = 0;
        queries += 1;
        let index = space.index(&cell).expect("NB201 cells have indices");
        let t0 = Instant::now();
        let (val, test, cost, error) = match spec.replay.get(queries as usize - 1) {
            Some(t) => {
                if t.index != index || t.query != queries {
                    return Err(RunError::Replay(format!(
                        "journal line {queries} holds cell {} but the run proposes {index}: \
                         the journal belongs to another configuration",
                        t.index
                    )));
                }
                (t.val_acc, t.test_acc, t.cost_seconds, t.error.clone())
            }
            None => {
                let mut noise = seed::stream(noise_seed, &queries.to_string());
                match spec.evaluator.evaluate(&cell, &mut noise) {
                    Ok(o) => (Some(o.val_acc), Some(o.test_acc), o.cost_seconds, None),
                    Err(f) => (None, None, f.cost_seconds, Some(f.reason)),
                }
            }
        };
        let eval_wall = t0.elapsed().as_secs_f64();
        sim += cost;
        let mut incumbent = false;
        match (val, test) {
            (Some(v), Some(t)) if best.as_ref().is_none_or(|(b, _)| v > b.val_acc) => {
                incumbent = true;
                best = Some((
                    Best {
                        arch: cell.to_string(),
                        index,
                        val_acc: v,
                        test_acc: t,
                    },
                    queries,
                ));
            }
            (None, _) => failed += 1,
            _ => {}
        }
        let trial = Trial {
            query: queries,
            index,
            arch: cell.to_string(),
            val_acc: val,
            test_acc: test,
            cost_seconds: cost,
            sim_seconds: sim,
            incumbent,
            predicted,
            error,
        };
        if queries as usize > spec.replay.len() {
            journal.write(&trial)?;
            timings.write(&Timing {
                query: queries,
                eval_wall_seconds: eval_wall,
            })?;
        }
        seen.insert(key(&cell), val);
        if let Some(v) = val {
            evaluated.push((cell, v));
        }
        strategy.tell(space, &cell, val);
        if let Some((b, _)) = &best {
            trajectory.push(TrajectoryPoint {
                query: queries,
                sim_seconds: sim,
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
            best.as_ref().map(|(b, _)| (b.val_acc, b.test_acc)),
        );
    };
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
            stop_reason: reason,
            failed,
            estimator_fit_seconds_total: filter.as_ref().map(|f| f.fit_seconds),
            estimator_query_seconds_total: filter.as_ref().map(|f| f.query_seconds),
        },
        trajectory,
    })
}
