//! A whole experiment: several seeded runs in parallel, each in its own folder, and the
//! aggregate results at the top.

use crate::benchmark::Benchmark;
use crate::config::Experiment;
use crate::journal::WriteError;
use crate::pipeline::search::{self, Progress, RunError, RunSpec};
use crate::plot::{self, Series, PALETTE};
use crate::results::{self, ExperimentSummary, TrajectoryPoint};
use emprox_benchmarks::seed;
use emprox_benchmarks::{SearchSpace, Signal};
use rayon::prelude::*;
use std::path::Path;

/// Errors of an experiment.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Benchmark data could not be loaded.
    #[error(transparent)]
    Data(#[from] emprox_benchmarks::DataError),
    /// A run failed.
    #[error("run {run}: {source}")]
    Run {
        run: u64,
        #[source]
        source: RunError,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A run folder could not be prepared or read.
    #[error(transparent)]
    Folder(#[from] rundir::FolderError),
    /// Anything else, as a message.
    #[error("{0}")]
    Other(String),
}

use crate::rundir::{self, FolderKind, Manifest};
pub use crate::rundir::{run_dir, write_file};

/// How an experiment is executed.
pub struct Execution<'a> {
    /// Threads for parallel runs (results do not depend on it).
    pub threads: usize,
    /// Progress display.
    pub progress: &'a dyn Progress,
    /// Continue the runs found in the output folder, replaying their journals.
    pub resume: bool,
    /// Test hook: sleep this long after each query (used by the crash tests).
    pub throttle: Option<std::time::Duration>,
    /// Keep the trained weights in `seed-<i>/weights/` (`--keep-weights`).
    pub keep_weights: Option<KeepWeights>,
    /// Keep every checkpoint of a multi-fidelity run (`--keep-checkpoints`).
    pub keep_checkpoints: bool,
}

/// Whose trained weights `--keep-weights` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepWeights {
    /// Every cell the `train` evaluator trains.
    All,
    /// Each run's incumbent: the others' are deleted once journaled (and any left by an
    /// interruption when the run ends).
    Incumbents,
}

/// Refuses `--keep-weights` where no evaluator trains networks.
pub fn check_keep_weights<C>(
    exec: &Execution,
    evaluation: &crate::evaluators::Evaluation<C>,
) -> Result<(), crate::config::ConfigError> {
    match exec.keep_weights {
        Some(_) if evaluation.kind != crate::evaluators::EvaluatorKind::Train => {
            Err(crate::config::ConfigError(
                "--keep-weights needs `[evaluator] type = \"train\"`: no other evaluator trains weights"
                    .into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Deletes the kept weights of the run in `dir` but its incumbent's (the last trial the
/// journal marks `incumbent`).
fn keep_incumbent_weights(dir: &Path) -> Result<(), ExperimentError> {
    let trials = crate::journal::read::<crate::journal::Trial>(&dir.join(rundir::TRIALS))
        .map_err(|e| ExperimentError::Other(e.to_string()))?
        .records;
    let keep = trials.iter().rev().find(|t| t.incumbent).map(|t| t.query);
    let weights = dir.join(emprox_benchmarks::evaluator::WEIGHTS_DIR);
    let Ok(entries) = std::fs::read_dir(&weights) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(q) = name
            .to_str()
            .and_then(emprox_train::evaluator::kept_weights_query)
        else {
            continue;
        };
        if Some(q) != keep {
            std::fs::remove_file(e.path()).map_err(|err| {
                ExperimentError::Other(format!("cannot delete {}: {err}", e.path().display()))
            })?;
        }
    }
    Ok(())
}

/// Starts an experiment in `out` (prepared and locked with [`crate::rundir::prepare`]): writes the resolved config
/// and the manifest, then runs every seed on `bench`.
pub fn run_experiment<S: SearchSpace + 'static>(
    exp: &Experiment,
    bench: &Benchmark<S>,
    out: &Path,
    exec: &Execution,
) -> Result<Finished, ExperimentError> {
    let resolved = toml::to_string(exp).expect("experiments serialise");
    // The data's digests, for resume to refuse a changed table.
    let inputs = crate::resume::input_digests(exp).map_err(ExperimentError::Other)?;
    // The manifest first: a folder with it is ours to overwrite, whenever a kill comes.
    Manifest {
        inputs,
        objective: Some(bench.evaluation.signal.clone()),
        ..Manifest::new(FolderKind::Experiment, &resolved)
    }
    .write(out)?;
    write_file(&out.join(rundir::CONFIG), resolved.as_bytes())?;
    execute(exp, bench, out, exec)
}

/// Runs (or, with `exec.resume`, continues) every seed of an experiment whose config and
/// manifest are already in `out`.
pub fn execute<S: SearchSpace + 'static>(
    exp: &Experiment,
    bench: &Benchmark<S>,
    out: &Path,
    exec: &Execution,
) -> Result<Finished, ExperimentError> {
    let evaluation = &bench.evaluation;
    check_keep_weights(exec, evaluation).map_err(|e| ExperimentError::Other(e.0))?;
    // Real evaluations use their own workers: runs then go one at a time, so that the
    // experiment never uses more than `workers × threads` cores.
    let run_threads = if evaluation.simulated_cost() {
        exec.threads.max(1)
    } else {
        1
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(run_threads)
        .build()
        .map_err(|e| ExperimentError::Other(format!("cannot start thread pool: {e}")))?;
    exec.progress.experiment(&search::ExperimentStart {
        name: &exp.name,
        dataset: &evaluation.dataset,
        runs: exp.seeds,
        queries_per_run: exp.budget.max_queries,
        slow: !evaluation.simulated_cost(),
        signal: &evaluation.signal,
    });
    let outputs: Vec<_> = pool.install(|| {
        (0..exp.seeds)
            .into_par_iter()
            .map(|i| {
                let dir = run_dir(out, i);
                std::fs::create_dir_all(&dir).map_err(|source| WriteError {
                    path: dir.clone(),
                    source,
                })?;
                let replay = if exec.resume {
                    rundir::prepare_run_dir(&dir)?
                } else {
                    Vec::new()
                };
                let spec = RunSpec {
                    experiment: exp,
                    space: &bench.space,
                    evaluation,
                    objectives: bench.objectives.as_ref(),
                    run: i,
                    seed: seed::run_seed(exp.seed, i),
                    replay,
                    throttle: exec.throttle,
                    keep_weights: exec.keep_weights,
                    keep_checkpoints: exec.keep_checkpoints,
                };
                tracing::debug!(
                    "{}: run {i} (seed {}) starts in {}, replaying {} journal line(s)",
                    exp.name,
                    spec.seed,
                    dir.display(),
                    spec.replay.len()
                );
                let mut o = search::run(&spec, &dir, exec.progress)
                    .map_err(|source| ExperimentError::Run { run: i, source })?;
                log_run_end(&exp.name, &evaluation.signal, &o.summary);
                write_run_files(
                    &dir,
                    exp,
                    bench.objectives.as_ref(),
                    evaluation,
                    &mut o.summary,
                    &mut o.trajectory,
                )?;
                if exec.keep_weights == Some(KeepWeights::Incumbents) {
                    keep_incumbent_weights(&dir)?;
                }
                Ok(o)
            })
            .collect::<Result<Vec<_>, ExperimentError>>()
    })?;
    let (runs, trajs): (Vec<_>, Vec<_>) = outputs
        .into_iter()
        .map(|o| (o.summary, o.trajectory))
        .unzip();
    let summary = results::aggregate(
        exp,
        &evaluation.dataset,
        &evaluation.signal,
        estimator_label(exp),
        runs,
        &trajs,
    );
    plot_mean_incumbent(
        &out.join(rundir::INCUMBENT_SVG),
        &evaluation.signal,
        &format!(
            "{} on {}: mean incumbent over {} runs (± std)",
            exp.name,
            evaluation.dataset,
            trajs.len()
        ),
        &trajs,
    )?;
    // Written last: its presence marks a finished experiment.
    write_file(
        &out.join(rundir::SUMMARY),
        &serde_json::to_vec_pretty(&summary).expect("summaries serialise"),
    )?;
    Ok(Finished {
        summary,
        trajectories: trajs,
    })
}

/// A finished experiment: its summary and each run's incumbent trajectory.
pub struct Finished {
    /// The aggregate summary (as written to `summary.json`).
    pub summary: ExperimentSummary,
    /// Incumbent after each query, per run.
    pub trajectories: Vec<Vec<TrajectoryPoint>>,
}

fn write_run_files<C>(
    dir: &Path,
    exp: &Experiment,
    objectives: Option<&crate::objectives::MultiObjective>,
    evaluation: &crate::evaluators::Evaluation<C>,
    summary: &mut results::RunSummary,
    traj: &mut [TrajectoryPoint],
) -> Result<(), ExperimentError> {
    let signal = &evaluation.signal;
    // Every evaluation of the run, replayed ones included, from its journal.
    let trials = crate::journal::read::<crate::journal::Trial>(&dir.join(rundir::TRIALS))
        .map_err(|e| ExperimentError::Other(e.to_string()))?
        .records;
    if let Some(mo) = objectives {
        let hv: std::collections::HashMap<u64, crate::objectives::HvPoint> = mo
            .hypervolumes(&trials)
            .into_iter()
            .map(|h| (h.query, h))
            .collect();
        for p in traj.iter_mut() {
            let h = hv.get(&p.query);
            p.hypervolume = h.map(|h| h.val);
            p.test_hypervolume = h.and_then(|h| h.test);
        }
        let front = mo.pareto_csv(&trials, signal.test.as_deref().unwrap_or("test"));
        summary.front = traj.last().and_then(|p| {
            Some(results::FrontSummary {
                // The CSV's rows less its header.
                size: front.iter().filter(|&&b| b == b'\n').count() - 1,
                hypervolume: p.hypervolume?,
                test_hypervolume: p.test_hypervolume,
            })
        });
        write_file(&dir.join(rundir::PARETO), &front)?;
        mo.plot_pareto(
            &dir.join(rundir::PARETO_SVG),
            &format!(
                "{} on {} (run {})",
                exp.name, evaluation.dataset, summary.run
            ),
            &trials,
        )
        .map_err(ExperimentError::Other)?;
    }
    let traj = &*traj;
    let mut w = csv::Writer::from_writer(Vec::new());
    for p in traj {
        w.serialize(p).expect("in-memory csv");
    }
    write_file(
        &dir.join(rundir::TRAJECTORY),
        &w.into_inner().expect("in-memory csv"),
    )?;
    let run_summary = results::aggregate(
        exp,
        &evaluation.dataset,
        signal,
        estimator_label(exp),
        vec![summary.clone()],
        &[traj.to_vec()],
    );
    write_file(
        &dir.join(rundir::SUMMARY),
        &serde_json::to_vec_pretty(&run_summary).expect("summaries serialise"),
    )?;
    plot_run_history(
        &dir.join(rundir::INCUMBENT_SVG),
        &format!(
            "{} on {} (run {})",
            exp.name, evaluation.dataset, summary.run
        ),
        signal,
        &trials,
        traj,
    )
}

/// One run's optimisation history: each query's validation score as a point, the incumbent's
/// validation and test accuracy as lines.
pub fn plot_run_history(
    path: &Path,
    title: &str,
    signal: &Signal,
    trials: &[crate::journal::Trial],
    traj: &[TrajectoryPoint],
) -> Result<(), ExperimentError> {
    if traj.is_empty() {
        return Ok(());
    }
    // The incumbent holds until the query that improves it: steps.
    let line = |f: fn(&TrajectoryPoint) -> Option<f64>| {
        plot::steps(
            &traj
                .iter()
                .filter_map(|p| Some((p.query as f64, f(p)?)))
                .collect::<Vec<_>>(),
        )
    };
    let (val_label, test_label) = (
        format!("incumbent: {}", signal.val_label()),
        format!("incumbent: {} (reported only)", signal.test_label()),
    );
    let mut series = vec![Series {
        label: &val_label,
        color: PALETTE[0],
        points: line(|p| Some(p.val_acc)),
        band: vec![],
    }];
    let test = line(|p| p.test_acc);
    // A benchmark without test values plots validation only.
    if !test.is_empty() {
        series.push(Series {
            label: &test_label,
            color: PALETTE[1],
            points: test,
            band: vec![],
        });
    }
    let queries: Vec<(f64, f64)> = trials
        .iter()
        .filter_map(|t| Some((t.query as f64, t.val_acc?)))
        .collect();
    let (y, outside) = history_y_range(&series, &queries);
    let dots: Vec<(f64, f64)> = queries
        .into_iter()
        .filter(|p| (y.0..=y.1).contains(&p.1))
        .collect();
    let each = match outside {
        0 => format!("each query: {}", signal.val_label()),
        n => format!("each query: {} ({n} off the axis)", signal.val_label()),
    };
    let last = traj.last().map_or(1.0, |p| p.query as f64);
    plot::plot(
        path,
        &plot::Axes {
            integer_x: true,
            range: Some(((1.0, last.max(2.0)), y)),
            ..plot::Axes::new(title, "queries", &signal.with_unit(signal.quantity()))
        },
        &series,
        &[plot::Dots {
            label: &each,
            color: PALETTE[0],
            points: dots,
        }],
    )
    .map_err(ExperimentError::Other)
}

/// The y range of a run's history: the incumbents' values, and the middle 80% of the queries'
/// scores (one outlier does not squash the incumbent into a line), padded by 5%; with the
/// number of queries that fall outside it.
fn history_y_range(series: &[Series], queries: &[(f64, f64)]) -> ((f64, f64), usize) {
    let mut scores: Vec<f64> = queries.iter().map(|p| p.1).collect();
    scores.sort_by(f64::total_cmp);
    let quantile = |q: f64| scores[((scores.len() - 1) as f64 * q).round() as usize];
    let mut values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    if !scores.is_empty() {
        values.extend([quantile(0.1), quantile(0.9)]);
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-9 * hi.abs().max(1.0));
    let range = (lo - pad, hi + pad);
    let outside = scores
        .iter()
        .filter(|v| !(range.0..=range.1).contains(v))
        .count();
    (range, outside)
}

/// Plots the incumbent's validation and test accuracy against queries: the mean over runs as a
/// line, ± one standard deviation over runs (the spread of the tables) as a band.
pub fn plot_mean_incumbent(
    path: &Path,
    signal: &Signal,
    title: &str,
    trajs: &[Vec<TrajectoryPoint>],
) -> Result<(), ExperimentError> {
    let max_q = trajs.iter().map(|t| t.len()).max().unwrap_or(0);
    if max_q == 0 {
        return Ok(());
    }
    let mean_band = |f: fn(&TrajectoryPoint) -> Option<f64>| {
        let mut points = Vec::new();
        let mut band = Vec::new();
        for q in 0..max_q {
            let xs: Vec<f64> = trajs.iter().filter_map(|t| t.get(q).and_then(f)).collect();
            if xs.is_empty() {
                continue;
            }
            let (m, sd) = results::mean_std(&xs);
            let x = (q + 1) as f64;
            points.push((x, m));
            band.push((x, m - sd, m + sd));
        }
        (points, band)
    };
    let (val, val_band) = mean_band(|p| Some(p.val_acc));
    let (test, test_band) = mean_band(|p| p.test_acc);
    let (val_label, test_label) = (
        signal.val_label(),
        format!("{} (reported only)", signal.test_label()),
    );
    let mut series = vec![Series {
        label: &val_label,
        color: PALETTE[0],
        points: val,
        band: val_band,
    }];
    // A benchmark without test values plots validation only.
    if !test.is_empty() {
        series.push(Series {
            label: &test_label,
            color: PALETTE[1],
            points: test,
            band: test_band,
        });
    }
    plot::history(
        path,
        title,
        &format!(
            "incumbent {}, mean ± std over runs",
            signal.with_unit(signal.quantity())
        ),
        &series,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// `-v`: one line per finished run.
fn log_run_end(name: &str, signal: &Signal, r: &results::RunSummary) {
    let stop = r.stop_reason.to_string();
    let best = match &r.best {
        Some(b) => format!(
            "best {} {}",
            b.arch,
            crate::commands::show::scores_text(signal, b)
        ),
        None => "no successful evaluation".into(),
    };
    tracing::info!(
        "{name}: run {} (seed {}) finished after {} queries ({stop}, {} failed): {best}",
        r.run,
        r.seed,
        r.queries,
        r.failed
    );
}

fn estimator_label(exp: &Experiment) -> Option<String> {
    exp.estimator.as_ref().map(|e| e.label())
}
