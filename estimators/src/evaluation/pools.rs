//! The pool protocol of `emprox eval-predictors` (`[evaluation] protocol = "pools"`): how well an
//! estimator ranks the pools a filtered search actually scores, rather than uniform samples.
//!
//! The engine runs (or reads) a filtered search and hands over, per run, the cells the filter
//! had been told in the order it was told them ([`RunJournal::told`]) and the pools it scored.
//! For each sampled pool, every estimator is fitted afresh on the first `train_size` told cells
//! (the filter's training set when it scored that pool) and predicts the pool; the Kendall tau-b
//! of the predictions against the noise-free validation score within the pool is recorded, with
//! the precision of the top `top_k` (the share of the pool's true top-`top_k` among the
//! predicted). The filter's own recorded scores are scored the same way, as
//! [`RECORDED`]. Test scores play no part.

use super::report::{self, SummaryRow};
use super::{default_jobs, EvalError};
use crate::config::EstimatorConfig;
use crate::metrics::{kendall_tau, mean_std, precision_at_k, spearman};
use emprox_benchmarks::config::{BenchmarkConfig, Lookup, WithLookup};
use emprox_benchmarks::workers::MAX_THREADS;
use emprox_benchmarks::{seed, Goal, SearchSpace};
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The label of the filter's own recorded scores in the results.
pub const RECORDED: &str = "filter_recorded";

/// Which protocol an evaluation file asks for (`[evaluation] protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// NASLib's uniform samples (the default).
    #[default]
    Naslib,
    /// The pools a filtered search scores.
    Pools,
}

impl Protocol {
    /// True for the default (not written in `summary.json`).
    pub fn is_naslib(&self) -> bool {
        *self == Protocol::Naslib
    }
}

/// A pool-protocol evaluation file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEvalConfig {
    /// Optional: the experiment's benchmark, which it must equal (relative paths against the
    /// evaluation file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkConfig>,
    /// The protocol.
    pub evaluation: PoolSettings,
    /// The estimators compared (`[[estimators]]`).
    pub estimators: Vec<EstimatorConfig>,
}

fn d_runs() -> u64 {
    10
}
fn d_queries() -> u64 {
    150
}
fn d_ranges() -> Vec<[u64; 2]> {
    vec![[0, 50], [50, 100], [100, 150]]
}
fn d_pools_per_range() -> usize {
    5
}

/// The `[evaluation]` table of the pool protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// `"pools"`.
    pub protocol: Protocol,
    /// The experiment file (with an `[estimator]` and a `[filter]`) whose search makes the
    /// pools, relative to the evaluation file. Exactly one of `experiment` and `run_folder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<PathBuf>,
    /// An existing output folder of such an experiment (`emprox run`), read instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_folder: Option<PathBuf>,
    /// Runs (seeds) of the search (default 10).
    #[serde(default = "d_runs")]
    pub runs: u64,
    /// Query budget of each run (default 150; ignored with `run_folder`).
    #[serde(default = "d_queries")]
    pub queries: u64,
    /// Query ranges `[from, to)` by which pools are grouped (by the queries made before the
    /// pool was scored; default `[[0, 50], [50, 100], [100, 150]]`).
    #[serde(default = "d_ranges")]
    pub ranges: Vec<[u64; 2]>,
    /// Pools sampled per run and range (default 5; all where there are fewer).
    #[serde(default = "d_pools_per_range")]
    pub pools_per_range: usize,
    /// Master seed of the sampling and of the fits (default 0; the search's seeds are the
    /// experiment's).
    #[serde(default)]
    pub seed: u64,
    /// Pools scored at once, and the search's threads (default 1).
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    /// Training sizes of a NASLib evaluation on the same benchmark, with `runs` trials, whose
    /// tau is reported beside the pools' (default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uniform_sizes: Vec<usize>,
    /// Its test size (default: the NASLib protocol's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniform_test_size: Option<usize>,
}

impl PoolEvalConfig {
    /// The checks that need neither the benchmark nor the experiment.
    pub fn check(&self) -> Result<(), EvalError> {
        let e = &self.evaluation;
        let bad = |m: &str| Err(EvalError::Config(m.to_string()));
        if e.protocol != Protocol::Pools {
            return bad("`evaluation.protocol` must be \"pools\" here");
        }
        if e.experiment.is_some() == e.run_folder.is_some() {
            return bad("the pool protocol needs exactly one of `evaluation.experiment` (a filtered experiment file to run) and `evaluation.run_folder` (its output folder)");
        }
        if e.runs == 0 || e.queries == 0 || e.pools_per_range == 0 || e.jobs == 0 {
            return bad("`evaluation.runs`, `queries`, `pools_per_range` and `jobs` must be >= 1");
        }
        if e.runs > super::MAX_TRIALS as u64 {
            return bad(&format!(
                "`evaluation.runs` must be at most {}",
                super::MAX_TRIALS
            ));
        }
        if e.jobs > MAX_THREADS {
            return bad(&format!(
                "`evaluation.jobs` must be at most {MAX_THREADS} (one thread each), got {}",
                e.jobs
            ));
        }
        if e.ranges.is_empty() || e.ranges.iter().any(|[a, b]| a >= b) {
            return bad(
                "`evaluation.ranges` must be a non-empty list of [from, to] with from < to",
            );
        }
        if self.estimators.is_empty() {
            return bad("no `[[estimators]]` given");
        }
        if self.estimators.iter().any(|c| c.label() == RECORDED) {
            return bad(&format!(
                "the label `{RECORDED}` names the filter's own scores: give the estimator another `name`"
            ));
        }
        Ok(())
    }

    /// Checks the file against the experiment's benchmark before anything runs: the checks of
    /// [`PoolEvalConfig::check`], the estimators built for its space, and the NASLib evaluation
    /// of `uniform_sizes` validated.
    pub fn validate(&self, benchmark: &BenchmarkConfig) -> Result<(), EvalError> {
        self.check()?;
        benchmark.open_lookup(Path::new(""), Validate(self))??;
        if let Some(u) = self.uniform(benchmark)? {
            u.validate(Path::new(""))
                .map_err(|e| EvalError::Config(format!("`evaluation.uniform_sizes`: {e}")))?;
        }
        Ok(())
    }

    /// The NASLib evaluation of `uniform_sizes` on `benchmark` (none without sizes): its
    /// `[evaluation]` gets only the keys given here, so that its defaults stay its own.
    pub fn uniform(
        &self,
        benchmark: &BenchmarkConfig,
    ) -> Result<Option<super::PredictorEvalConfig>, EvalError> {
        let e = &self.evaluation;
        if e.uniform_sizes.is_empty() {
            return Ok(None);
        }
        let mut table = serde_json::json!({
            "train_sizes": e.uniform_sizes,
            "trials": e.runs,
            "seed": e.seed,
            "jobs": e.jobs,
        });
        if let Some(t) = e.uniform_test_size {
            table["test_size"] = t.into();
        }
        let evaluation = super::EvaluationSettings::deserialize(table)
            .map_err(|err| EvalError::Config(format!("`evaluation.uniform_sizes`: {err}")))?;
        Ok(Some(super::PredictorEvalConfig {
            benchmark: benchmark.clone(),
            evaluation,
            estimators: self.estimators.clone(),
        }))
    }
}

/// A pool the filter scored, as `pools.jsonl` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPool {
    /// Queries made before it was scored.
    pub after_query: u64,
    /// The filter's training set: the first `train_size` told cells.
    pub train_size: usize,
    /// (table index, the filter's score) of each candidate, in pool order.
    pub scored: Vec<(u64, f64)>,
}

/// One run of the search, as the pool protocol needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJournal {
    /// Run number (`seed-<run>`).
    pub run: u64,
    /// The cells the filter was told, in the order it was told them: (table index, validation
    /// score in the objective's units).
    pub told: Vec<(u64, f64)>,
    /// The pools it scored, in order.
    pub pools: Vec<ScoredPool>,
}

/// The search the pools come from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// The experiment's name.
    pub experiment: String,
    /// The filter's `top_k` (the precision's k).
    pub top_k: usize,
    /// The output folder of the search.
    pub folder: PathBuf,
}

/// One (run, pool, estimator) result.
#[derive(Debug, Clone)]
pub struct PoolRow {
    /// Run.
    pub run: u64,
    /// Queries before the pool was scored.
    pub after_query: u64,
    /// Range (index into `ranges`).
    pub range: usize,
    /// Training-set size.
    pub train_size: usize,
    /// Estimator label ([`RECORDED`] for the filter's scores).
    pub estimator: String,
    /// Kendall tau-b against the validation score within the pool.
    pub kendall_tau: f64,
    /// Spearman's rho.
    pub spearman: f64,
    /// Precision of the top `top_k`.
    pub precision_top_k: f64,
    /// Pool (table indices).
    pub pool: Vec<u64>,
    /// Its true validation scores (objective's units).
    pub truth: Vec<f64>,
    /// The predictions (objective's units).
    pub predicted: Vec<f64>,
}

/// Mean ± std of one (estimator, range).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolSummaryRow {
    /// Estimator label.
    pub estimator: String,
    /// `[from, to)` queries.
    pub range: [u64; 2],
    /// Pools averaged.
    pub pools: usize,
    /// Kendall tau-b.
    pub kendall_tau_mean: f64,
    /// Its standard deviation.
    pub kendall_tau_std: f64,
    /// Spearman.
    pub spearman_mean: f64,
    /// Precision of the top `top_k`.
    pub precision_top_k_mean: f64,
}

/// Pools left out, by reason.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Skipped {
    /// Scored with no estimator yet (a warm-up ranked by a proxy).
    pub unfitted: usize,
    /// Scored after a number of queries in no range.
    pub out_of_range: usize,
    /// Fewer than two cells.
    pub too_small: usize,
    /// Sampled, but every cell has the same validation score.
    pub constant_truth: usize,
    /// In range, not sampled (over `pools_per_range`).
    pub not_sampled: usize,
}

/// What a pool evaluation returns.
#[derive(Debug, Clone)]
pub struct PoolOutcome {
    /// Per (estimator, range).
    pub summary: Vec<PoolSummaryRow>,
    /// The Markdown tables (also in `summary.md`).
    pub markdown: String,
}

/// The pools of `runs` to score, per run in order: (run position, pool position, range).
/// Pools in no range, unfitted or of fewer than two cells are counted in `skipped`.
pub fn sample_pools(
    settings: &PoolSettings,
    runs: &[RunJournal],
    skipped: &mut Skipped,
) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (ri, r) in runs.iter().enumerate() {
        let mut by_range: Vec<Vec<usize>> = vec![Vec::new(); settings.ranges.len()];
        for (pi, p) in r.pools.iter().enumerate() {
            if p.train_size == 0 {
                skipped.unfitted += 1;
                continue;
            }
            if p.scored.len() < 2 {
                skipped.too_small += 1;
                continue;
            }
            match settings
                .ranges
                .iter()
                .position(|[a, b]| (*a..*b).contains(&p.after_query))
            {
                Some(g) => by_range[g].push(pi),
                None => skipped.out_of_range += 1,
            }
        }
        let run_seed = seed::derive(settings.seed, &format!("run-{}", r.run));
        for (g, pools) in by_range.into_iter().enumerate() {
            let k = settings.pools_per_range.min(pools.len());
            skipped.not_sampled += pools.len() - k;
            let mut rng = seed::stream(run_seed, &format!("sample/range-{g}"));
            let mut pick = sample(&mut rng, pools.len(), k).into_vec();
            pick.sort_unstable();
            out.extend(pick.into_iter().map(|i| (ri, pools[i], g)));
        }
    }
    out.sort_unstable();
    out
}

/// Scores the pools of `runs` (see the module) and writes `results.csv`, `predictions.csv`,
/// `summary.json` and `summary.md` into `out`; `uniform` is the NASLib evaluation's summary on
/// the same benchmark, reported beside.
#[allow(clippy::too_many_arguments)]
pub fn run(
    cfg: &PoolEvalConfig,
    benchmark: &BenchmarkConfig,
    source: &Source,
    runs: &[RunJournal],
    uniform: &[SummaryRow],
    out: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<PoolOutcome, EvalError> {
    cfg.check()?;
    benchmark.open_lookup(
        Path::new(""),
        Run {
            cfg,
            benchmark,
            source,
            runs,
            uniform,
            out,
            log,
        },
    )?
}

struct Run<'a> {
    cfg: &'a PoolEvalConfig,
    benchmark: &'a BenchmarkConfig,
    source: &'a Source,
    runs: &'a [RunJournal],
    uniform: &'a [SummaryRow],
    out: &'a Path,
    log: &'a (dyn Fn(&str) + Sync),
}

impl WithLookup for Run<'_> {
    type Output = Result<PoolOutcome, EvalError>;
    fn with<S: SearchSpace + 'static>(self, lookup: Lookup<S>) -> Self::Output {
        run_on(&self, &lookup)
    }
}

struct Validate<'a>(&'a PoolEvalConfig);

impl WithLookup for Validate<'_> {
    type Output = Result<(), EvalError>;
    fn with<S: SearchSpace + 'static>(self, _: Lookup<S>) -> Self::Output {
        super::build_labelled::<S>(&self.0.estimators).map(|_| ())
    }
}

fn run_on<S: SearchSpace + 'static>(r: &Run, lookup: &Lookup<S>) -> Result<PoolOutcome, EvalError> {
    let (cfg, ev) = (r.cfg, &r.cfg.evaluation);
    let estimators = super::build_labelled::<S>(&cfg.estimators)?;
    let space = &lookup.space;
    let by_index: HashMap<u64, &S::Cell> = lookup
        .cells
        .iter()
        .filter_map(|c| space.index(c).map(|i| (i, c)))
        .collect();
    let cell = |i: u64| -> Result<S::Cell, EvalError> {
        by_index.get(&i).map(|c| (*c).clone()).ok_or_else(|| {
            EvalError::Config(format!(
                "{}: no cell of index {i} in the table",
                space.name()
            ))
        })
    };
    let sign = match lookup.evaluator.goal() {
        Goal::Maximize => 1.0,
        Goal::Minimize => -1.0,
    };
    let mut skipped = Skipped::default();
    let cases = sample_pools(ev, r.runs, &mut skipped);
    let score_case = |&(ri, pi, g): &(usize, usize, usize)| -> Result<Vec<PoolRow>, EvalError> {
        let run = &r.runs[ri];
        let p = &run.pools[pi];
        if p.train_size > run.told.len() {
            return Err(EvalError::Config(format!(
                "run {}: the pool after query {} was scored by an estimator fitted on {} cells, but the journal tells only {}",
                run.run, p.after_query, p.train_size, run.told.len()
            )));
        }
        let train = &run.told[..p.train_size];
        let train_cells = train
            .iter()
            .map(|t| cell(t.0))
            .collect::<Result<Vec<_>, _>>()?;
        let targets: Vec<f64> = train.iter().map(|t| sign * t.1).collect();
        let pool: Vec<u64> = p.scored.iter().map(|s| s.0).collect();
        let pool_cells = pool
            .iter()
            .map(|&i| cell(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut unused = seed::stream(ev.seed, "truth");
        let truth = pool_cells
            .iter()
            .map(|c| {
                lookup
                    .noise_free
                    .evaluate(c, &mut unused)
                    .map(|o| sign * o.val_acc)
                    .map_err(|f| {
                        EvalError::Config(format!(
                            "{}: cannot look up {}: {f}",
                            space.name(),
                            space.format(c)
                        ))
                    })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        if truth.iter().all(|t| *t == truth[0]) {
            return Ok(Vec::new());
        }
        let row = |estimator: &str, predicted: Vec<f64>| {
            // No prediction (a training set below the estimator's minimum): NaN metrics.
            let none = predicted.iter().any(|v| v.is_nan());
            let m = |v: f64| if none { f64::NAN } else { v };
            PoolRow {
                run: run.run,
                after_query: p.after_query,
                range: g,
                train_size: p.train_size,
                estimator: estimator.to_string(),
                kendall_tau: m(kendall_tau(&truth, &predicted)),
                spearman: m(spearman(&truth, &predicted)),
                precision_top_k: m(precision_at_k(&truth, &predicted, r.source.top_k)),
                pool: pool.clone(),
                truth: truth.iter().map(|v| sign * v).collect(),
                predicted: predicted.iter().map(|v| sign * v).collect(),
            }
        };
        // The filter's scores are the maximised ones already.
        let mut rows = vec![row(RECORDED, p.scored.iter().map(|s| s.1).collect())];
        let run_seed = seed::derive(ev.seed, &format!("run-{}", run.run));
        for (label, est) in &estimators {
            let predicted = if p.train_size < est.needs().min_train_size {
                vec![f64::NAN; pool.len()]
            } else {
                let mut rng = seed::stream(run_seed, &format!("{label}/q={}", p.after_query));
                let wrap = |source| EvalError::Estimator {
                    estimator: label.clone(),
                    trial: run.run as usize,
                    train_size: p.train_size,
                    source,
                };
                let fitted = est
                    .fit(space, &train_cells, &targets, &mut rng)
                    .map_err(wrap)?;
                fitted.predict(space, &pool_cells).map_err(wrap)?
            };
            rows.push(row(label, predicted));
        }
        (r.log)(&format!(
            "run {:>3}  after query {:>4}  n={:<4} pool {:>4}  {}",
            run.run,
            p.after_query,
            p.train_size,
            pool.len(),
            rows.iter()
                .map(|x| format!("{} {:.3}", x.estimator, x.kendall_tau))
                .collect::<Vec<_>>()
                .join("  ")
        ));
        Ok(rows)
    };
    let per_case: Vec<Result<Vec<PoolRow>, EvalError>> = if ev.jobs > 1 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(ev.jobs)
            .build()
            .map_err(|e| EvalError::Config(format!("thread pool: {e}")))?;
        pool.install(|| cases.par_iter().map(score_case).collect())
    } else {
        cases.iter().map(score_case).collect()
    };
    let mut rows = Vec::new();
    for c in per_case {
        let c = c?;
        if c.is_empty() {
            skipped.constant_truth += 1;
        }
        rows.extend(c);
    }
    let labels: Vec<String> = std::iter::once(RECORDED.to_string())
        .chain(estimators.iter().map(|e| e.0.clone()))
        .collect();
    let summary = summarise(&rows, &labels, &ev.ranges);
    std::fs::create_dir_all(r.out).map_err(|source| EvalError::Io {
        path: r.out.to_path_buf(),
        source,
    })?;
    write_results(&r.out.join("results.csv"), &rows, &ev.ranges)?;
    write_predictions(&r.out.join("predictions.csv"), &rows, &|i| {
        space.format(by_index[&i])
    })?;
    let json = serde_json::json!({
        "benchmark": r.benchmark,
        "evaluation": ev,
        "source": r.source,
        "estimators": cfg.estimators,
        "skipped": skipped,
        "results": summary,
        "uniform": r.uniform.iter().map(|u| serde_json::json!({
            "estimator": u.estimator,
            "train_size": u.train_size,
            "trials": u.trials,
            "kendall_tau_mean": u.kendall_tau_mean,
            "kendall_tau_std": u.kendall_tau_std,
            "spearman_mean": u.spearman_mean,
        })).collect::<Vec<_>>(),
    });
    report::write_text(
        &r.out.join("summary.json"),
        &serde_json::to_string_pretty(&json).expect("summary serialises"),
    )?;
    let markdown = markdown(&summary, &labels, ev, r.source, &skipped, r.uniform);
    report::write_text(&r.out.join("summary.md"), &markdown)?;
    Ok(PoolOutcome { summary, markdown })
}

/// Mean ± std per (estimator, range), in the order of `labels` and `ranges`; pools whose
/// prediction is missing (a training set below the estimator's minimum) are left out.
pub fn summarise(rows: &[PoolRow], labels: &[String], ranges: &[[u64; 2]]) -> Vec<PoolSummaryRow> {
    let mut out = Vec::new();
    for e in labels {
        for (g, range) in ranges.iter().enumerate() {
            let sel: Vec<&PoolRow> = rows
                .iter()
                .filter(|r| &r.estimator == e && r.range == g && !r.kendall_tau.is_nan())
                .collect();
            let col = |f: &dyn Fn(&PoolRow) -> f64| {
                mean_std(&sel.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let tau = col(&|r| r.kendall_tau);
            out.push(PoolSummaryRow {
                estimator: e.clone(),
                range: *range,
                pools: sel.len(),
                kendall_tau_mean: tau.0,
                kendall_tau_std: tau.1,
                spearman_mean: col(&|r| r.spearman).0,
                precision_top_k_mean: col(&|r| r.precision_top_k).0,
            });
        }
    }
    out
}

fn csv_bytes(path: &Path, header: &[&str], records: Vec<Vec<String>>) -> Result<(), EvalError> {
    let err = |e: String| EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| err(e.to_string()))?;
    for r in records {
        w.write_record(r).map_err(|e| err(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| err(e.to_string()))?;
    report::write_text(
        path,
        &String::from_utf8(bytes).expect("CSV of UTF-8 fields"),
    )
}

/// `results.csv`: one row per (run, pool, estimator).
fn write_results(path: &Path, rows: &[PoolRow], ranges: &[[u64; 2]]) -> Result<(), EvalError> {
    let header = [
        "run",
        "after_query",
        "range",
        "train_size",
        "pool_size",
        "estimator",
        "kendall_tau",
        "spearman",
        "precision_top_k",
    ];
    let records = rows
        .iter()
        .map(|r| {
            let [a, b] = ranges[r.range];
            vec![
                r.run.to_string(),
                r.after_query.to_string(),
                format!("{a}-{b}"),
                r.train_size.to_string(),
                r.pool.len().to_string(),
                r.estimator.clone(),
                r.kendall_tau.to_string(),
                r.spearman.to_string(),
                r.precision_top_k.to_string(),
            ]
        })
        .collect();
    csv_bytes(path, &header, records)
}

/// `predictions.csv`: `run,after_query,estimator,index,arch,true,predicted`.
fn write_predictions(
    path: &Path,
    rows: &[PoolRow],
    arch: &dyn Fn(u64) -> String,
) -> Result<(), EvalError> {
    let header = [
        "run",
        "after_query",
        "estimator",
        "index",
        "arch",
        "true",
        "predicted",
    ];
    let mut records = Vec::new();
    for r in rows {
        for ((&i, t), p) in r.pool.iter().zip(&r.truth).zip(&r.predicted) {
            records.push(vec![
                r.run.to_string(),
                r.after_query.to_string(),
                r.estimator.clone(),
                i.to_string(),
                arch(i),
                t.to_string(),
                p.to_string(),
            ]);
        }
    }
    csv_bytes(path, &header, records)
}

/// The Markdown of `summary.md`: pool tau (mean ± std, pools) per estimator and range, with the
/// uniform-sample tau of the NASLib protocol beside; then the precision of the top `top_k`.
pub fn markdown(
    summary: &[PoolSummaryRow],
    labels: &[String],
    ev: &PoolSettings,
    source: &Source,
    skipped: &Skipped,
    uniform: &[SummaryRow],
) -> String {
    let mut sizes: Vec<usize> = uniform.iter().map(|u| u.train_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let ranges: Vec<String> = ev
        .ranges
        .iter()
        .map(|[a, b]| format!("pools q {a}-{b}"))
        .collect();
    let uni: Vec<String> = sizes.iter().map(|n| format!("uniform n={n}")).collect();
    let head: Vec<&str> = ranges.iter().chain(&uni).map(String::as_str).collect();
    let mut s = format!(
        "Pool Kendall tau (mean ± std over pools, pools in brackets) of `{}` (top_k {}), \
         beside the NASLib protocol's uniform-sample tau (mean ± std over trials).\n\n\
         | estimator | {} |\n|---|{}\n",
        source.experiment,
        source.top_k,
        head.join(" | "),
        "---:|".repeat(head.len())
    );
    let cell = |m: f64, sd: f64, n: usize| {
        if n == 0 {
            "–".to_string()
        } else {
            format!("{m:.3} ± {sd:.3} ({n})")
        }
    };
    for e in labels {
        let mut line = format!("| {e} |");
        for r in summary.iter().filter(|r| &r.estimator == e) {
            line.push_str(&format!(
                " {} |",
                cell(r.kendall_tau_mean, r.kendall_tau_std, r.pools)
            ));
        }
        for &n in &sizes {
            let u = uniform
                .iter()
                .find(|u| &u.estimator == e && u.train_size == n);
            line.push_str(&match u {
                Some(u) => format!(" {:.3} ± {:.3} |", u.kendall_tau_mean, u.kendall_tau_std),
                None => " – |".into(),
            });
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str(&format!(
        "\nPrecision of the top {} within the pools (share of the pool's true top {} among the predicted).\n\n| estimator | {} |\n|---|{}\n",
        source.top_k,
        source.top_k,
        ranges.join(" | "),
        "---:|".repeat(ranges.len())
    ));
    for e in labels {
        let mut line = format!("| {e} |");
        for r in summary.iter().filter(|r| &r.estimator == e) {
            line.push_str(&match r.pools {
                0 => " – |".to_string(),
                _ => format!(" {:.3} |", r.precision_top_k_mean),
            });
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str(&format!(
        "\nPools left out: {} unfitted, {} out of range, {} too small, {} with a constant truth, {} not sampled.\n",
        skipped.unfitted, skipped.out_of_range, skipped.too_small, skipped.constant_truth, skipped.not_sampled
    ));
    s
}
