//! `emprox compare`: several experiments (e.g. RE, RE+EmProx, LS, LS+EmProx) on the same seeds
//! and benchmarks (NAS-Bench-201 datasets, or any `[benchmark]`), with one table and one plot per
//! benchmark.

use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::{parse_toml, Budget, ConfigError, Experiment, SearchSettings};
use crate::experiment::{execute, run_experiment, Execution, ExperimentError, Finished};
use crate::pipeline::filter::FilterConfig;
use crate::plot::{self, Series, PALETTE};
use crate::results::{mean_std, TrajectoryPoint};
use crate::rundir::{self, FolderKind};
use emprox_benchmarks::config::{BenchmarkConfig, BenchmarkKind};
use emprox_benchmarks::nb201::{Dataset, NoiseModel};
use emprox_benchmarks::Signal;
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
    /// NAS-Bench-201 datasets to compare on (one NAS-Bench-201 benchmark each); or `benchmark`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<Dataset>,
    /// Noise model of the NAS-Bench-201 `datasets` (default `mean`).
    #[serde(default)]
    pub noise: NoiseModel,
    /// Any benchmark, as an experiment file's `[benchmark]` table (relative paths against the
    /// comparison file's folder); instead of `datasets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkConfig>,
    /// Several objectives, as in an experiment file (`[{ metric, goal, range }]`): the table
    /// then reports the hypervolume at each `report_at` (and its share of the table's front).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<crate::objectives::ObjectiveSpec>,
    /// Query counts reported in the table (default: 50, 100 and 150, those within the budget's
    /// `max_queries`, else `max_queries`; filled in by [`Comparison::load`]).
    #[serde(default)]
    pub report_at: Vec<u64>,
    /// Budget shared by every experiment.
    pub budget: Budget,
    /// The experiments.
    pub experiments: Vec<Entry>,
}

/// The default `report_at`: 50, 100 and 150 queries, those the budget reaches (else its
/// `max_queries` alone).
fn default_report(budget: &Budget) -> Vec<u64> {
    let within: Vec<u64> = [50, 100, 150]
        .into_iter()
        .filter(|&q| budget.max_queries.is_none_or(|m| q <= m))
        .collect();
    match budget.max_queries {
        Some(m) if within.is_empty() => vec![m],
        _ => within,
    }
}

/// Checks `report_at`: distinct query counts from 1 to the budget's `max_queries`, where there
/// is one (a count no run reaches would be a column of NaN).
fn check_report_at(at: &[u64], budget: &Budget) -> Result<(), String> {
    for (i, &q) in at.iter().enumerate() {
        if q == 0 {
            return Err("`report_at` holds 0: query counts start at 1".into());
        }
        if let Some(max) = budget.max_queries.filter(|&m| q > m) {
            return Err(format!(
                "`report_at` holds {q}, beyond the budget's max_queries ({max}): no run gets there"
            ));
        }
        if at[..i].contains(&q) {
            return Err(format!("`report_at` holds {q} twice"));
        }
    }
    Ok(())
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
    /// A multi-fidelity scheduler (with a benchmark that has fidelity levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<crate::pipeline::scheduler::SchedulerConfig>,
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
        let mut c: Comparison = parse_toml(&text, path)?;
        let err = |m: String| ConfigError(format!("{}: {m}", path.display()));
        if c.experiments.is_empty() || c.datasets.is_empty() == c.benchmark.is_none() {
            return Err(err(
                "needs at least one [[experiments]], and either `datasets = [...]` (NAS-Bench-201) or a [benchmark] table"
                    .into(),
            ));
        }
        if let Some(b) = c.benchmark.as_mut() {
            if c.noise != NoiseModel::Mean {
                return Err(err(
                    "`noise` applies to `datasets`; with a [benchmark] table, set it there".into(),
                ));
            }
            b.resolve_paths(path.parent().unwrap_or(Path::new("")));
        }
        crate::rundir::check_folder_name("`name`", &c.name).map_err(err)?;
        if c.report_at.is_empty() {
            c.report_at = default_report(&c.budget);
        }
        check_report_at(&c.report_at, &c.budget).map_err(err)?;
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
        let targets = c.targets().map_err(|e| err(e.to_string()))?;
        for t in &targets {
            for e in &c.experiments {
                c.experiment(e, &t.benchmark).validate(path)?;
            }
        }
        Ok(c)
    }

    /// The benchmarks compared on, in order: the NAS-Bench-201 `datasets`, or the `[benchmark]`.
    pub fn targets(&self) -> Result<Vec<Target>, emprox_benchmarks::tabular::TabularError> {
        if let Some(b) = &self.benchmark {
            let (name, title) = match b.kind {
                BenchmarkKind::NasBench201 => {
                    let d = b.dataset.map_or("nasbench201", |d| d.name());
                    (d.to_string(), format!("NAS-Bench-201 {d}"))
                }
                // Paths were made absolute when the file was loaded.
                BenchmarkKind::Tabular => {
                    let d = b.tabular_description(Path::new(""))?;
                    (table_folder(&d), d.space_name())
                }
                BenchmarkKind::Declared => {
                    // Checked when the file was loaded.
                    let name = b.declared_space().map_or_else(
                        |_| "declared".into(),
                        |s| emprox_benchmarks::SearchSpace::name(&s).to_string(),
                    );
                    (name.clone(), format!("declared space {name}"))
                }
            };
            return Ok(vec![Target {
                name,
                title,
                benchmark: b.clone(),
            }]);
        }
        Ok(self
            .datasets
            .iter()
            .map(|&d| Target {
                name: d.name().to_string(),
                title: format!("NAS-Bench-201 {}", d.name()),
                benchmark: BenchmarkConfig {
                    kind: BenchmarkKind::NasBench201,
                    dataset: Some(d),
                    noise: self.noise,
                    data: None,
                    description: None,
                    table: None,
                    space: None,
                    join: None,
                },
            })
            .collect())
    }

    /// The experiment folders, relative to the comparison's folder (`<benchmark>/<label>`), in
    /// the order they run: what its manifest lists.
    pub fn folders(&self) -> Result<Vec<String>, emprox_benchmarks::tabular::TabularError> {
        Ok(self
            .targets()?
            .iter()
            .flat_map(|t| self.experiments.iter().map(|e| folder(t, e)))
            .collect())
    }

    /// The experiment of `entry` on `benchmark`.
    pub fn experiment(&self, entry: &Entry, benchmark: &BenchmarkConfig) -> Experiment {
        Experiment {
            name: entry.label.clone(),
            seed: self.seed,
            seeds: self.seeds,
            objectives: self.objectives.clone(),
            benchmark: benchmark.clone(),
            strategy: entry.strategy.clone(),
            budget: self.budget.clone(),
            search: entry.search.clone(),
            estimator: entry.estimator.clone(),
            filter: entry.filter.clone(),
            scheduler: entry.scheduler.clone(),
            evaluator: None,
        }
    }
}

/// One benchmark of a comparison.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its folder and file-name part (`cifar10`, or the tabular benchmark's name made safe).
    pub name: String,
    /// Its name in plot titles.
    pub title: String,
    /// The benchmark.
    pub benchmark: BenchmarkConfig,
}

/// A readable folder name for a table: the description's `name`, or the data file's name and
/// the selected values (`gnn_bench-cora`), in words of letters, digits, `_` and `-` joined by
/// `-`.
fn table_folder(d: &emprox_benchmarks::tabular::TabularDescription) -> String {
    let parts: Vec<String> = match &d.name {
        Some(n) => vec![n.clone()],
        None => std::iter::once(d.data_stem())
            .chain(d.select.values().map(|v| v.to_string()))
            .collect(),
    };
    let words: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')))
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "benchmark".to_string()
    } else {
        words.join("-")
    }
}

/// The folder of `entry`'s experiment on `target`, relative to the comparison's folder.
fn folder(target: &Target, entry: &Entry) -> String {
    format!("{}/{}", target.name, slug(&entry.label))
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

/// The incumbent over the runs of one experiment after a number of queries.
#[derive(Debug, Clone, Serialize)]
pub struct At {
    /// Queries.
    pub queries: u64,
    /// Runs that made this many queries (the others stopped earlier: a time budget, a
    /// used-up space); the values below are over these runs, and absent (NaN) where none did.
    pub runs: usize,
    /// Mean over runs of the incumbent's test value (absent where the benchmark has no test
    /// value).
    pub mean: Option<f64>,
    /// Its standard deviation (sample) over runs.
    pub std: Option<f64>,
    /// Mean over runs of the incumbent's validation value (the search signal).
    pub mean_val: f64,
    /// The hypervolume over runs (several objectives only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hypervolume: Option<HvAt>,
    /// Share of runs whose incumbent by this query is the best-validation cell (where the
    /// benchmark's best is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_best_share: Option<f64>,
}

/// The hypervolume of the runs of one experiment after a number of queries.
#[derive(Debug, Clone, Serialize)]
pub struct HvAt {
    /// Mean over runs.
    pub mean: f64,
    /// Its standard deviation (sample) over runs.
    pub std: f64,
    /// The mean as a share of the table's true front's hypervolume, where the benchmark is a
    /// table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_of_front: Option<f64>,
}

/// One row of the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The benchmark ([`Target::name`]: the NAS-Bench-201 dataset, or the table's name).
    pub dataset: String,
    /// Experiment label.
    pub label: String,
    /// The incumbent at each `report_at` query count.
    pub at: Vec<At>,
    /// Share of runs whose incumbent is the dataset's best-validation cell.
    pub found_best_share: f64,
    /// Median queries to reach the best-validation cell, among runs that reached it.
    pub median_queries_to_best: Option<f64>,
    /// Mean estimator wall seconds (fit + query) per run.
    pub estimator_seconds_per_run: Option<f64>,
    /// The hypervolume of the table's true front (several objectives, on a table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_front_hypervolume: Option<f64>,
    /// The benchmark's search signal: its metric, goal and display.
    pub signal: Signal,
}

/// Runs a comparison into `out` (prepared and locked by the caller, its experiment folders
/// `held` by [`Comparison::lock_folders`]) and returns its rows; experiments started before
/// (with `exec.resume`) are continued from their journals; writes `comparison.md`, `comparison.json`
/// and, per dataset, `incumbent_<dataset>.svg` (against queries) and
/// `incumbent_time_<dataset>.svg` (against simulated time plus estimator time).
pub fn run_comparison(
    c: &Comparison,
    out: &Path,
    exec: &Execution,
    held: &[Held],
) -> Result<Vec<Row>, ExperimentError> {
    let mut rows = Vec::new();
    let mut held = held.iter();
    let targets = c
        .targets()
        .map_err(|e| ExperimentError::Other(e.to_string()))?;
    for target in &targets {
        let mut series_data: Vec<(String, Vec<Vec<TrajectoryPoint>>)> = Vec::new();
        for entry in &c.experiments {
            let exp = c.experiment(entry, &target.benchmark);
            let dir: PathBuf = out.join(folder(target, entry));
            let (f, best_val, signal, true_hv) = crate::benchmark::open(
                &exp,
                exec.progress,
                EntryRun {
                    exp: &exp,
                    dir: &dir,
                    exec,
                    started: held.next().is_some_and(|h| h.started),
                },
            )
            .map_err(|e| ExperimentError::Other(format!("{e:#}")))??;
            let at = c
                .report_at
                .iter()
                .map(|&q| {
                    let pts: Vec<&TrajectoryPoint> = f
                        .trajectories
                        .iter()
                        .filter_map(|t| t.get(q as usize - 1))
                        .collect();
                    let (mean, std) = test_mean_std(&pts);
                    let goal = signal.goal;
                    let v: Vec<f64> = pts.iter().map(|p| p.val_acc).collect();
                    let hv: Option<Vec<f64>> = if c.objectives.len() > 1 {
                        pts.iter().map(|p| p.hypervolume).collect()
                    } else {
                        None
                    };
                    let found = best_val.map(|b| {
                        let hit = f
                            .trajectories
                            .iter()
                            .filter(|t| {
                                t.get(q as usize - 1)
                                    .or(t.last())
                                    .is_some_and(|p| !goal.better(b, p.val_acc))
                            })
                            .count();
                        hit as f64 / f.trajectories.len().max(1) as f64
                    });
                    At {
                        queries: q,
                        runs: pts.len(),
                        mean,
                        std,
                        mean_val: mean_std(&v).0,
                        found_best_share: found,
                        hypervolume: hv.filter(|h| !h.is_empty()).map(|h| {
                            let (mean, std) = mean_std(&h);
                            HvAt {
                                mean,
                                std,
                                share_of_front: true_hv.map(|t| mean / t),
                            }
                        }),
                    }
                })
                .collect();
            let mut reach: Vec<f64> = f
                .trajectories
                .iter()
                .filter_map(|t| {
                    t.iter()
                        .find(|p| best_val.is_some_and(|b| !signal.goal.better(b, p.val_acc)))
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
                dataset: target.name.clone(),
                label: entry.label.clone(),
                at,
                found_best_share: reach.len() as f64 / f.trajectories.len().max(1) as f64,
                median_queries_to_best: median,
                estimator_seconds_per_run: (!est.is_empty()).then(|| mean_std(&est).0),
                true_front_hypervolume: true_hv,
                signal: signal.clone(),
            });
            series_data.push((entry.label.clone(), f.trajectories));
        }
        let signal = rows
            .last()
            .map_or_else(Signal::accuracy, |r: &Row| r.signal.clone());
        plot_dataset(
            &out.join(format!("incumbent_{}.svg", target.name)),
            target,
            &series_data,
            &signal,
        )?;
        plot_against_time(
            &out.join(format!("incumbent_time_{}.svg", target.name)),
            target,
            &series_data,
            &signal,
        )?;
        if c.objectives.len() > 1 {
            let truth = rows.last().and_then(|r: &Row| r.true_front_hypervolume);
            plot_hypervolume(
                &out.join(format!("hypervolume_{}.svg", target.name)),
                target,
                &series_data,
                truth,
            )?;
        }
    }
    rundir::write_file(&out.join("comparison.md"), markdown(c, &rows).as_bytes())?;
    rundir::write_file(
        &out.join("comparison.json"),
        &serde_json::to_vec_pretty(&rows).expect("rows serialise"),
    )?;
    Ok(rows)
}

/// Runs (or, resuming, continues) one experiment of a comparison in its folder, locked by the
/// caller; gives its results, the best validation value of the table, its search signal (name,
/// goal) and, with several objectives on a table, the hypervolume of the table's front.
struct EntryRun<'a> {
    exp: &'a Experiment,
    dir: &'a Path,
    exec: &'a Execution<'a>,
    /// Started before the interruption: replay what it has and go on.
    started: bool,
}

impl WithBenchmark for EntryRun<'_> {
    type Output = Result<(Finished, Option<f64>, Signal, Option<f64>), ExperimentError>;
    fn with<S: emprox_benchmarks::SearchSpace + Clone + 'static>(
        self,
        bench: Benchmark<S>,
    ) -> Self::Output {
        let (exp, dir, exec) = (self.exp, self.dir, self.exec);
        let f = if self.started {
            execute(exp, &bench, dir, exec)?
        } else {
            let fresh = Execution {
                resume: false,
                ..*exec
            };
            run_experiment(exp, &bench, dir, &fresh)?
        };
        let true_hv = bench
            .objectives
            .as_ref()
            .and_then(|o| o.reference.as_ref())
            .map(|r| r.hypervolume);
        Ok((f, bench.best_val, bench.evaluation.signal.clone(), true_hv))
    }
}

/// An experiment folder of a comparison, locked for as long as the comparison runs.
pub struct Held {
    _lock: rundir::FolderLock,
    /// Started before (with `--resume`): continued from its journals.
    started: bool,
}

impl Comparison {
    /// Checks every experiment folder of the comparison in `out` but those in `except` (the
    /// ones `--overwrite` is about to delete) without creating anything: refuses a link, or a
    /// folder holding files this comparison did not write.
    pub fn check_folders(&self, out: &Path, except: &[String]) -> Result<(), ExperimentError> {
        for f in self
            .folders()
            .map_err(|e| ExperimentError::Other(e.to_string()))?
        {
            if !except.contains(&f) {
                check_folder(&out.join(f), false, false)?;
            }
        }
        Ok(())
    }

    /// Locks every experiment folder of the comparison in `out` (creating the missing ones)
    /// for as long as the result lives, so that no other emprox process writes into one while
    /// the comparison runs; with `resume`, an experiment already started must have the
    /// comparison's configuration. The folders in `cleared` are the ones `--overwrite` cleared
    /// (`rundir::prepare`): one that kept a file of the user's is replaced beside it, as
    /// `emprox run --overwrite` replaces its folder.
    pub fn lock_folders(
        &self,
        out: &Path,
        resume: bool,
        cleared: &[String],
    ) -> Result<Vec<Held>, ExperimentError> {
        let targets = self
            .targets()
            .map_err(|e| ExperimentError::Other(e.to_string()))?;
        let mut held = Vec::new();
        for target in &targets {
            for entry in &self.experiments {
                let f = folder(target, entry);
                let dir = out.join(&f);
                let cleared = cleared.contains(&f);
                held.push(if check_folder(&dir, resume, cleared)? {
                    let (lock, m) = rundir::lock_existing(&dir, FolderKind::Experiment)?;
                    // Compared as values: a folder whose resolved file leaves defaults out
                    // (written by an earlier emprox) is the same experiment.
                    let exp = self.experiment(entry, &target.benchmark);
                    if crate::resume::read_config(&dir, &m).ok().as_ref() != Some(&exp) {
                        return Err(ExperimentError::Other(format!(
                            "{}: its configuration differs from the comparison's: refusing to resume",
                            dir.display()
                        )));
                    }
                    crate::resume::check_inputs(&dir, &m).map_err(ExperimentError::Other)?;
                    Held {
                        _lock: lock,
                        started: true,
                    }
                } else {
                    Held {
                        _lock: rundir::prepare(&dir, FolderKind::Experiment, cleared)?,
                        started: false,
                    }
                });
            }
        }
        Ok(held)
    }
}

/// Checks the experiment folder `dir` of a comparison: whether it was started (with
/// `resume`), and that it holds nothing the comparison did not write (its `--overwrite`
/// removed the folders its manifest listed, and `cleared` says that this was one of them: what
/// it kept is the user's) and is not a link.
fn check_folder(dir: &Path, resume: bool, cleared: bool) -> Result<bool, ExperimentError> {
    rundir::refuse_link(dir.parent().unwrap_or(dir))?;
    rundir::refuse_link(dir)?;
    if resume && dir.join(rundir::MANIFEST).exists() {
        return Ok(true);
    }
    if !cleared && rundir::holds_files(dir)? {
        return Err(ExperimentError::Other(format!(
            "{} already holds files that this comparison did not write (its {} does not \
             list them; a comparison of an earlier emprox lists none): move them away or \
             choose another --out",
            dir.display(),
            rundir::MANIFEST
        )));
    }
    Ok(false)
}

/// The Markdown table of a comparison.
pub fn markdown(c: &Comparison, rows: &[Row]) -> String {
    if c.objectives.len() > 1 {
        return markdown_hypervolume(c, rows);
    }
    let signal = rows
        .first()
        .map_or_else(Signal::accuracy, |r| r.signal.clone());
    let has_test = rows
        .iter()
        .any(|r| r.at.iter().any(|a| a.runs > 0 && a.mean.is_some()));
    let shown = if has_test {
        signal.test_label()
    } else {
        signal.val_label()
    };
    let mut s = String::new();
    let _ = write!(s, "| dataset | experiment |");
    for q in &c.report_at {
        let _ = write!(s, " {shown} @ {q} |");
    }
    let by: Vec<String> = c.report_at.iter().map(|q| q.to_string()).collect();
    let _ = writeln!(
        s,
        " found best-val cell by {} | median queries to it | estimator s/run |",
        by.join(" / ")
    );
    let _ = write!(s, "|---|---|");
    for _ in &c.report_at {
        let _ = write!(s, "---|");
    }
    let _ = writeln!(s, "---|---|---|");
    let mut short = false;
    for r in rows {
        let _ = write!(s, "| {} | {} |", r.dataset, r.label);
        for a in &r.at {
            match (a.runs, a.mean, a.std) {
                (0, _, _) => {
                    short = true;
                    let _ = write!(s, " — (no run reached {} queries) |", a.queries);
                }
                (_, Some(m), Some(sd)) => {
                    let _ = write!(s, " {} |", r.signal.mean_std(m, sd));
                }
                _ => {
                    let _ = write!(s, " {} |", r.signal.value(a.mean_val));
                }
            }
        }
        let found: Vec<String> =
            r.at.iter()
                .map(|a| {
                    a.found_best_share
                        .filter(|_| a.runs > 0)
                        .map_or("—".into(), |f| format!("{:.0}%", f * 100.0))
                })
                .collect();
        let _ = writeln!(
            s,
            " {} | {} | {} |",
            found.join(" / "),
            r.median_queries_to_best
                .map_or("—".into(), |m| format!("{m:.0}")),
            r.estimator_seconds_per_run
                .map_or("—".into(), |m| format!("{m:.2}"))
        );
    }
    // The spread of the plots too.
    let _ = writeln!(
        s,
        "\n{}: the incumbent's (best by {}, {}d), mean ± one standard deviation over runs.",
        signal.with_unit(&shown),
        signal.val_label(),
        signal.goal.name()
    );
    if short {
        let _ = writeln!(
            s,
            "A column without values: every run stopped before that many queries (its budget \
             ended, or its strategy found nothing new)."
        );
    }
    s
}

/// The Markdown table of a comparison with several objectives: the hypervolume at each
/// `report_at`, with its share of the table's front.
fn markdown_hypervolume(c: &Comparison, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = write!(s, "| dataset | experiment |");
    for q in &c.report_at {
        let _ = write!(s, " hypervolume @ {q} |");
    }
    let _ = writeln!(s, " estimator s/run |");
    let _ = writeln!(s, "|---|---|{}---|", "---|".repeat(c.report_at.len()));
    for r in rows {
        let _ = write!(s, "| {} | {} |", r.dataset, r.label);
        for a in &r.at {
            match &a.hypervolume {
                Some(h) => {
                    let d = emprox_benchmarks::evaluator::decimals(h.mean, h.std);
                    let _ = write!(s, " {:.d$} ± {:.d$}", h.mean, h.std);
                    if let Some(share) = h.share_of_front {
                        let _ = write!(s, " ({:.1}%)", share * 100.0);
                    }
                    let _ = write!(s, " |");
                }
                None => {
                    let _ = write!(s, " — |");
                }
            }
        }
        let _ = writeln!(
            s,
            " {} |",
            r.estimator_seconds_per_run
                .map_or("—".into(), |m| format!("{m:.2}"))
        );
    }
    let objectives: Vec<String> = c
        .objectives
        .iter()
        .map(|o| format!("{} ({})", o.metric, o.goal.name()))
        .collect();
    let _ = writeln!(
        s,
        "\nHypervolume of the evaluated cells by validation ({}), normalised to [0, 1] with \
         the reference point at the worst corner: mean ± one standard deviation over runs; in \
         brackets, the mean as a share of the table's true front.",
        objectives.join(", ")
    );
    s
}

/// Mean and sample standard deviation of the incumbents' test values; absent where any point has
/// none (a benchmark without a test column).
fn test_mean_std(pts: &[&TrajectoryPoint]) -> (Option<f64>, Option<f64>) {
    match pts.iter().map(|p| p.test_acc).collect::<Option<Vec<f64>>>() {
        Some(t) => {
            let (m, s) = mean_std(&t);
            (Some(m), Some(s))
        }
        None => (None, None),
    }
}

/// The value a comparison plots for an incumbent: its test value, or its validation value on a
/// benchmark without test values; and the words for it (what, and the axis label).
pub(crate) fn plotted(
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    signal: &Signal,
) -> (fn(&TrajectoryPoint) -> f64, String, String) {
    let has_test = series
        .iter()
        .flat_map(|(_, t)| t.iter().flatten())
        .all(|p| p.test_acc.is_some());
    if has_test {
        let test = signal.test_label();
        (
            |p| p.test_acc.unwrap_or(f64::NAN),
            test.clone(),
            signal.with_unit(&format!("{test} of the incumbent")),
        )
    } else {
        let val = signal.val_label();
        (
            |p| p.val_acc,
            format!("{val} (no test values)"),
            signal.with_unit(&format!("{val} of the incumbent")),
        )
    }
}

fn plot_dataset(
    path: &Path,
    target: &Target,
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    signal: &Signal,
) -> Result<(), ExperimentError> {
    let (value, what, y_label) = plotted(series, signal);
    let out = mean_bands(series, |p| Some(value(p)));
    plot::history(
        path,
        &format!("{}: mean incumbent {what} (± std over runs)", target.title),
        &y_label,
        &out,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// One line per experiment: the mean over runs of `value` after each query, with a band of one
/// standard deviation (the tables' spread).
pub(crate) fn mean_bands<'a>(
    series: &'a [(String, Vec<Vec<TrajectoryPoint>>)],
    value: impl Fn(&TrajectoryPoint) -> Option<f64>,
) -> Vec<Series<'a>> {
    let mut out = Vec::new();
    for (i, (label, trajs)) in series.iter().enumerate() {
        let max_q = trajs.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut points = Vec::new();
        let mut band = Vec::new();
        for q in 0..max_q {
            let t: Vec<f64> = trajs
                .iter()
                .filter_map(|t| t.get(q).and_then(&value))
                .collect();
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
    out
}

/// Mean hypervolume (± std over runs) against queries, with the table's front as a line.
fn plot_hypervolume(
    path: &Path,
    target: &Target,
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    truth: Option<f64>,
) -> Result<(), ExperimentError> {
    let mut out = mean_bands(series, |p| p.hypervolume);
    let max_q = out.iter().map(|s| s.points.len()).max().unwrap_or(0);
    if let Some(t) = truth {
        out.push(Series {
            label: "true front of the table",
            color: plotters::style::RGBColor(160, 160, 160),
            points: vec![(1.0, t), (max_q.max(2) as f64, t)],
            band: vec![],
        });
    }
    plot::history(
        path,
        &format!("{}: mean hypervolume (± std over runs)", target.title),
        "hypervolume of the evaluated cells (validation)",
        &out,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// Mean incumbent test accuracy against the mean cumulative cost at each query: the benchmark's
/// simulated training seconds plus the estimator's wall seconds.
fn plot_against_time(
    path: &Path,
    target: &Target,
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    signal: &Signal,
) -> Result<(), ExperimentError> {
    let (value, _, y_label) = plotted(series, signal);
    let out = time_bands(series, value);
    let title = format!(
        "{}: incumbent against cost (± std over runs; a dot where each ends)",
        target.title
    );
    let y_label = format!("mean {y_label}");
    plot::plot(
        path,
        &plot::Axes {
            end_markers: true,
            ..plot::Axes::new(
                &title,
                "simulated training hours + estimator wall time (mean over runs)",
                &y_label,
            )
        },
        &out,
        &[],
    )
    .map_err(ExperimentError::Other)
}

/// One line per experiment: after each query, the mean over runs of `value` against the mean
/// cumulative cost in hours (simulated training seconds plus estimator wall seconds), with a
/// band of one standard deviation.
pub(crate) fn time_bands(
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    value: fn(&TrajectoryPoint) -> f64,
) -> Vec<Series<'_>> {
    let mut out = Vec::new();
    for (i, (label, trajs)) in series.iter().enumerate() {
        let max_q = trajs.iter().map(|t| t.len()).max().unwrap_or(0);
        let (points, band): (Vec<_>, Vec<_>) = (0..max_q)
            .map(|q| {
                let pts: Vec<&TrajectoryPoint> = trajs.iter().filter_map(|t| t.get(q)).collect();
                let x: Vec<f64> = pts
                    .iter()
                    .map(|p| (p.sim_seconds + p.estimator_seconds) / 3600.0)
                    .collect();
                let y: Vec<f64> = pts.iter().map(|p| value(p)).collect();
                let (x, (m, sd)) = (mean_std(&x).0, mean_std(&y));
                ((x, m), (x, m - sd, m + sd))
            })
            .unzip();
        out.push(Series {
            label,
            color: PALETTE[i % PALETTE.len()],
            points,
            band,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::tabular::TabularDescription;

    #[test]
    fn a_table_gets_a_readable_folder_name() {
        let desc = |text: &str| {
            TabularDescription::from_toml_str(
                &format!(
                    "{text}\nobjective = {{ column = \"v\", goal = \"maximize\" }}\n\
                     [[architecture]]\ncolumn = \"ops\"\n"
                ),
                Path::new("d.toml"),
            )
            .unwrap()
        };
        for (text, name) in [
            (
                "data = \"gnn_bench.csv.gz\"\nselect = { dataset = \"cora\" }",
                "gnn_bench-cora",
            ),
            (
                "data = \"x/nb 201.csv\"\nselect = { dataset = \"ImageNet16-120\", seed = 7 }",
                "nb-201-ImageNet16-120-7",
            ),
            ("data = \"t.csv\"", "t"),
            (
                "name = \"My bench (v2.1)\"\ndata = \"t.csv\"",
                "My-bench-v2-1",
            ),
            ("name = \"(+)\"\ndata = \"t.csv\"", "benchmark"),
        ] {
            let f = table_folder(&desc(text));
            assert_eq!(f, name, "{text}");
            crate::rundir::check_folder_name("folder", &f).unwrap();
        }
    }

    #[test]
    fn report_points_are_counts_the_budget_reaches() {
        let budget = |max_queries| Budget {
            max_queries,
            max_sim_seconds: None,
            max_wall_seconds: Some(60.0),
        };
        assert_eq!(default_report(&budget(None)), [50, 100, 150]);
        assert_eq!(default_report(&budget(Some(1000))), [50, 100, 150]);
        assert_eq!(default_report(&budget(Some(120))), [50, 100]);
        assert_eq!(default_report(&budget(Some(20))), [20]);
        assert!(check_report_at(&[20], &budget(Some(20))).is_ok());
        assert!(check_report_at(&[21], &budget(Some(20))).is_err());
        assert!(check_report_at(&[1_000_000], &budget(None)).is_ok());
    }
}
