//! A whole experiment: several seeded runs in parallel, each in its own folder, and the
//! aggregate results at the top.

use crate::benchmark::Benchmark;
use crate::config::Experiment;
use crate::journal::WriteError;
use crate::plot::{self, Series, PALETTE};
use crate::results::{self, ExperimentSummary, TrajectoryPoint};
use crate::search::{self, Progress, RunError, RunSpec};
use emprox_benchmarks::seed;
use emprox_benchmarks::SearchSpace;
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
    // The manifest first: a folder with it is ours to overwrite, whenever a kill comes.
    Manifest::new(FolderKind::Experiment, &resolved).write(out)?;
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
                    goal: bench.goal,
                    objectives: bench.objectives.as_ref(),
                    run: i,
                    seed: seed::run_seed(exp.seed, i),
                    replay,
                    throttle: exec.throttle,
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
                log_run_end(&exp.name, &o.summary);
                write_run_files(
                    &dir,
                    exp,
                    bench.objectives.as_ref(),
                    &evaluation.dataset,
                    &o.summary,
                    &mut o.trajectory,
                )?;
                Ok(o)
            })
            .collect::<Result<Vec<_>, ExperimentError>>()
    })?;
    let (runs, trajs): (Vec<_>, Vec<_>) = outputs
        .into_iter()
        .map(|o| (o.summary, o.trajectory))
        .unzip();
    let summary = results::aggregate(exp, &evaluation.dataset, estimator_label(exp), runs, &trajs);
    plot_mean_incumbent(
        &out.join(rundir::INCUMBENT_SVG),
        &format!(
            "{}: mean incumbent over {} runs (± std)",
            exp.name,
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

fn write_run_files(
    dir: &Path,
    exp: &Experiment,
    objectives: Option<&crate::objectives::MultiObjective>,
    dataset: &str,
    summary: &results::RunSummary,
    traj: &mut [TrajectoryPoint],
) -> Result<(), ExperimentError> {
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
        write_file(&dir.join(rundir::PARETO), &mo.pareto_csv(&trials))?;
        mo.plot_pareto(
            &dir.join(rundir::PARETO_SVG),
            &format!("{} (run {})", exp.name, summary.run),
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
        dataset,
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
        &format!("{} (run {})", exp.name, summary.run),
        &trials,
        traj,
    )
}

/// One run's optimisation history: each query's validation score as a point, the incumbent's
/// validation and test accuracy as lines.
pub fn plot_run_history(
    path: &Path,
    title: &str,
    trials: &[crate::journal::Trial],
    traj: &[TrajectoryPoint],
) -> Result<(), ExperimentError> {
    if traj.is_empty() {
        return Ok(());
    }
    let line = |f: fn(&TrajectoryPoint) -> Option<f64>| {
        traj.iter()
            .filter_map(|p| Some((p.query as f64, f(p)?)))
            .collect::<Vec<_>>()
    };
    let mut series = vec![Series {
        label: "incumbent: validation",
        color: PALETTE[0],
        points: line(|p| Some(p.val_acc)),
        band: vec![],
    }];
    let test = line(|p| p.test_acc);
    // A benchmark without test values plots validation only.
    if !test.is_empty() {
        series.push(Series {
            label: "incumbent: test (reported only)",
            color: PALETTE[1],
            points: test,
            band: vec![],
        });
    }
    plot::history(
        path,
        title,
        "accuracy (%)",
        &series,
        &[plot::Dots {
            label: "each query: validation",
            color: PALETTE[0],
            points: trials
                .iter()
                .filter_map(|t| Some((t.query as f64, t.val_acc?)))
                .collect(),
        }],
    )
    .map_err(ExperimentError::Other)
}

/// Plots the incumbent's validation and test accuracy against queries: the mean over runs as a
/// line, ± one standard deviation over runs (the spread of the tables) as a band.
pub fn plot_mean_incumbent(
    path: &Path,
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
    let mut series = vec![Series {
        label: "validation",
        color: PALETTE[0],
        points: val,
        band: val_band,
    }];
    // A benchmark without test values plots validation only.
    if !test.is_empty() {
        series.push(Series {
            label: "test (reported only)",
            color: PALETTE[1],
            points: test,
            band: test_band,
        });
    }
    plot::history(
        path,
        title,
        "incumbent accuracy (%), mean ± std over runs",
        &series,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// `-v`: one line per finished run.
fn log_run_end(name: &str, r: &results::RunSummary) {
    let stop = r.stop_reason.to_string();
    let best = match &r.best {
        Some(b) => format!(
            "best {} val {:.4}{}",
            b.arch,
            b.val_acc,
            crate::commands::show::test_text(b.test_acc)
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
