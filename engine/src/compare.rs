//! `emprox compare`: several experiments (e.g. RE, RE+EmProx, LS, LS+EmProx) on the same seeds
//! and datasets, with one table and one plot per dataset.

use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::{parse_toml, Budget, ConfigError, Experiment, SearchSettings};
use crate::experiment::{execute, run_experiment, Execution, ExperimentError, Finished};
use crate::filter::FilterConfig;
use crate::plot::{self, Series, PALETTE};
use crate::results::{mean_std, TrajectoryPoint};
use crate::rundir::{self, FolderKind};
use emprox_benchmarks::config::{BenchmarkConfig, BenchmarkKind};
use emprox_benchmarks::nb201::{Dataset, NoiseModel};
use emprox_estimators::config::EstimatorConfig;
use emprox_strategies::StrategyConfig;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A comparison file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// Name (default output folder `runs/<name>`).
    pub name: String,
    /// Master seed shared by every experiment (so they run on the same seeds).
    #[serde(default)]
    pub seed: u64,
    /// Runs per experiment and dataset.
    pub seeds: u64,
    /// Datasets to compare on.
    pub datasets: Vec<Dataset>,
    /// Noise model of the benchmark (default `mean`).
    #[serde(default)]
    pub noise: NoiseModel,
    /// Query counts reported in the table (default 50, 100, 150).
    #[serde(default = "default_report")]
    pub report_at: Vec<u64>,
    /// Budget shared by every experiment.
    pub budget: Budget,
    /// The experiments.
    pub experiments: Vec<Entry>,
}

fn default_report() -> Vec<u64> {
    vec![50, 100, 150]
}

/// One experiment of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Label in the table and plot (unique).
    pub label: String,
    /// The strategy.
    pub strategy: StrategyConfig,
    /// Optional estimator filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<EstimatorConfig>,
    /// Filter settings (with `estimator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterConfig>,
    /// Search-loop settings.
    #[serde(default)]
    pub search: SearchSettings,
}

impl Comparison {
    /// Reads and validates a comparison file.
    pub fn load(path: &Path) -> Result<Comparison, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "{}: cannot read comparison file: {e}",
                path.display()
            ))
        })?;
        let c: Comparison = parse_toml(&text, path)?;
        let err = |m: String| ConfigError(format!("{}: {m}", path.display()));
        if c.experiments.is_empty() || c.datasets.is_empty() {
            return Err(err(
                "needs at least one [[experiments]] and one dataset".into()
            ));
        }
        crate::rundir::check_folder_name("`name`", &c.name).map_err(err)?;
        // Each label names a folder: two labels must not map to the same one.
        let mut folders = std::collections::HashMap::new();
        for e in &c.experiments {
            crate::rundir::check_folder_name("experiment label", &e.label).map_err(err)?;
            if let Some(first) = folders.insert(slug(&e.label), &e.label) {
                return Err(err(if *first == e.label {
                    format!("duplicate experiment label `{}`", e.label)
                } else {
                    format!(
                        "experiment labels `{first}` and `{}` both map to the folder `{}`: rename one",
                        e.label,
                        slug(&e.label)
                    )
                }));
            }
        }
        for d in &c.datasets {
            for e in &c.experiments {
                c.experiment(e, *d).validate(path)?;
            }
        }
        Ok(c)
    }

    /// The experiment of `entry` on `dataset`.
    pub fn experiment(&self, entry: &Entry, dataset: Dataset) -> Experiment {
        Experiment {
            name: entry.label.clone(),
            seed: self.seed,
            seeds: self.seeds,
            benchmark: BenchmarkConfig {
                kind: BenchmarkKind::NasBench201,
                dataset: Some(dataset),
                noise: self.noise,
                data: None,
                description: None,
                table: None,
            },
            strategy: entry.strategy.clone(),
            budget: self.budget.clone(),
            search: entry.search.clone(),
            estimator: entry.estimator.clone(),
            filter: entry.filter.clone(),
            evaluator: None,
        }
    }
}

fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One row of the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Dataset.
    pub dataset: String,
    /// Experiment label.
    pub label: String,
    /// (queries, mean, std) of the incumbent's test accuracy.
    pub at: Vec<(u64, f64, f64)>,
    /// Share of runs whose incumbent is the dataset's best-validation cell.
    pub found_best_share: f64,
    /// Median queries to reach the best-validation cell, among runs that reached it.
    pub median_queries_to_best: Option<f64>,
    /// Mean estimator wall seconds (fit + query) per run.
    pub estimator_seconds_per_run: Option<f64>,
}

/// Runs a comparison into `out` (prepared and locked by the caller) and returns its rows; with
/// `exec.resume`, experiments already started there are continued from their journals; writes `comparison.md`, `comparison.json`
/// and, per dataset, `incumbent_<dataset>.svg` (against queries) and
/// `incumbent_time_<dataset>.svg` (against simulated time plus estimator time).
pub fn run_comparison(
    c: &Comparison,
    out: &Path,
    exec: &Execution,
) -> Result<Vec<Row>, ExperimentError> {
    let mut rows = Vec::new();
    for &dataset in &c.datasets {
        let mut series_data: Vec<(String, Vec<Vec<TrajectoryPoint>>)> = Vec::new();
        for entry in &c.experiments {
            let exp = c.experiment(entry, dataset);
            let dir: PathBuf = out.join(dataset.name()).join(slug(&entry.label));
            let (f, best_val) = crate::benchmark::open(
                &exp,
                EntryRun {
                    exp: &exp,
                    dir: &dir,
                    exec,
                },
            )
            .map_err(|e| ExperimentError::Other(format!("{e:#}")))??;
            let at = c
                .report_at
                .iter()
                .map(|&q| {
                    let t: Vec<f64> = f
                        .trajectories
                        .iter()
                        .filter_map(|t| t.get(q as usize - 1).map(|p| p.test_acc))
                        .collect();
                    let (m, s) = mean_std(&t);
                    (q, m, s)
                })
                .collect();
            let mut reach: Vec<f64> = f
                .trajectories
                .iter()
                .filter_map(|t| {
                    t.iter()
                        .find(|p| best_val.is_some_and(|b| p.val_acc >= b))
                        .map(|p| p.query as f64)
                })
                .collect();
            reach.sort_by(f64::total_cmp);
            let median = (!reach.is_empty()).then(|| {
                let n = reach.len();
                if n % 2 == 1 {
                    reach[n / 2]
                } else {
                    (reach[n / 2 - 1] + reach[n / 2]) / 2.0
                }
            });
            let est: Vec<f64> = f
                .summary
                .runs
                .iter()
                .filter_map(|r| {
                    Some(r.estimator_fit_seconds_total? + r.estimator_query_seconds_total?)
                })
                .collect();
            rows.push(Row {
                dataset: dataset.name().into(),
                label: entry.label.clone(),
                at,
                found_best_share: reach.len() as f64 / f.trajectories.len().max(1) as f64,
                median_queries_to_best: median,
                estimator_seconds_per_run: (!est.is_empty()).then(|| mean_std(&est).0),
            });
            series_data.push((entry.label.clone(), f.trajectories));
        }
        plot_dataset(
            &out.join(format!("incumbent_{}.svg", dataset.name())),
            dataset,
            &series_data,
        )?;
        plot_against_time(
            &out.join(format!("incumbent_time_{}.svg", dataset.name())),
            dataset,
            &series_data,
        )?;
    }
    rundir::write_file(&out.join("comparison.md"), markdown(c, &rows).as_bytes())?;
    rundir::write_file(
        &out.join("comparison.json"),
        &serde_json::to_vec_pretty(&rows).expect("rows serialise"),
    )?;
    Ok(rows)
}

/// Runs (or, resuming, continues) one experiment of a comparison in its folder; gives its
/// results and the best validation value of the table.
struct EntryRun<'a> {
    exp: &'a Experiment,
    dir: &'a Path,
    exec: &'a Execution<'a>,
}

impl WithBenchmark for EntryRun<'_> {
    type Output = Result<(Finished, Option<f64>), ExperimentError>;
    fn with<S: emprox_benchmarks::SearchSpace + 'static>(
        self,
        bench: Benchmark<S>,
    ) -> Self::Output {
        let (exp, dir, exec) = (self.exp, self.dir, self.exec);
        let f = if exec.resume && dir.join(rundir::MANIFEST).exists() {
            // Started before the interruption: replay what it has and go on.
            let (_lock, m) = rundir::lock_existing(dir, FolderKind::Experiment)
                .map_err(|e| ExperimentError::Other(e.0))?;
            // Compared as values: a folder whose resolved file leaves defaults out (written by
            // an earlier emprox) is the same experiment.
            if crate::resume::read_config(dir, &m).ok().as_ref() != Some(exp) {
                return Err(ExperimentError::Other(format!(
                    "{}: its configuration differs from the comparison's: refusing to resume",
                    dir.display()
                )));
            }
            execute(exp, &bench, dir, exec)?
        } else {
            let _lock = rundir::prepare(dir, FolderKind::Experiment, true)
                .map_err(|e| ExperimentError::Other(e.0))?;
            let fresh = Execution {
                resume: false,
                ..*exec
            };
            run_experiment(exp, &bench, dir, &fresh)?
        };
        Ok((f, bench.best_val))
    }
}

/// The Markdown table of a comparison.
pub fn markdown(c: &Comparison, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = write!(s, "| dataset | experiment |");
    for q in &c.report_at {
        let _ = write!(s, " test acc @ {q} |");
    }
    let _ = writeln!(
        s,
        " found best-val cell | median queries to it | estimator s/run |"
    );
    let _ = write!(s, "|---|---|");
    for _ in &c.report_at {
        let _ = write!(s, "---|");
    }
    let _ = writeln!(s, "---|---|---|");
    for r in rows {
        let _ = write!(s, "| {} | {} |", r.dataset, r.label);
        for (_, m, sd) in &r.at {
            let _ = write!(s, " {m:.2} ± {sd:.2} |");
        }
        let _ = writeln!(
            s,
            " {:.0}% | {} | {} |",
            r.found_best_share * 100.0,
            r.median_queries_to_best
                .map_or("—".into(), |m| format!("{m:.0}")),
            r.estimator_seconds_per_run
                .map_or("—".into(), |m| format!("{m:.2}"))
        );
    }
    // The spread of the plots too.
    let _ = writeln!(
        s,
        "\nTest accuracy: mean ± one standard deviation over runs."
    );
    s
}

fn plot_dataset(
    path: &Path,
    dataset: Dataset,
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
) -> Result<(), ExperimentError> {
    let mut out = Vec::new();
    for (i, (label, trajs)) in series.iter().enumerate() {
        let max_q = trajs.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut points = Vec::new();
        let mut band = Vec::new();
        for q in 0..max_q {
            let t: Vec<f64> = trajs
                .iter()
                .filter_map(|t| t.get(q).map(|p| p.test_acc))
                .collect();
            // The table's spread: one standard deviation over runs.
            let (m, sd) = mean_std(&t);
            points.push(((q + 1) as f64, m));
            band.push(((q + 1) as f64, m - sd, m + sd));
        }
        out.push(Series {
            label,
            color: PALETTE[i % PALETTE.len()],
            points,
            band,
        });
    }
    plot::history(
        path,
        &format!(
            "NAS-Bench-201 {}: mean incumbent test accuracy (± std over runs)",
            dataset.name()
        ),
        "test accuracy of the best-validation cell (%)",
        &out,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// Mean incumbent test accuracy against the mean cumulative cost at each query: the benchmark's
/// simulated training seconds plus the estimator's wall seconds.
fn plot_against_time(
    path: &Path,
    dataset: Dataset,
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
) -> Result<(), ExperimentError> {
    let mut out = Vec::new();
    for (i, (label, trajs)) in series.iter().enumerate() {
        let max_q = trajs.iter().map(|t| t.len()).max().unwrap_or(0);
        let points = (0..max_q)
            .map(|q| {
                let pts: Vec<&TrajectoryPoint> = trajs.iter().filter_map(|t| t.get(q)).collect();
                let x: Vec<f64> = pts
                    .iter()
                    .map(|p| (p.sim_seconds + p.estimator_seconds) / 3600.0)
                    .collect();
                let y: Vec<f64> = pts.iter().map(|p| p.test_acc).collect();
                (mean_std(&x).0, mean_std(&y).0)
            })
            .collect();
        out.push(Series {
            label,
            color: PALETTE[i % PALETTE.len()],
            points,
            band: vec![],
        });
    }
    plot::lines(
        path,
        &format!("NAS-Bench-201 {}: incumbent against cost", dataset.name()),
        "simulated training hours + estimator wall time (mean over runs)",
        "mean test accuracy of the best-validation cell (%)",
        &out,
    )
    .map_err(ExperimentError::Other)
}
