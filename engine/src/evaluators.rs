//! The `[evaluator]` table: the one place where an evaluator type becomes an evaluator.
//!
//! - `nasbench201` (default when the table is absent): a lookup in the benchmark table.
//! - `train`: train each candidate on shipped images (`[evaluator.training]`).
//! - `command`: run a user's command (`[evaluator.command]`).
//! - `slurm`: run a user's command as one Slurm batch job per candidate (`[evaluator.slurm]`).
//! - `python`: the results come from the Python package's ask/tell (`emprox.Search`), which
//!   puts the user in the evaluator's place; the `emprox` command refuses it.

use crate::pipeline::cache::CacheFile;
use emprox_benchmarks::command::{result_signal, CommandConfig, CommandEvaluator};
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::declared::{DeclaredCell, DeclaredSpace};
use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space, Nb201Tabular};
use emprox_benchmarks::slurm::{SlurmConfig, SlurmEvaluator};
use emprox_benchmarks::workers::cache_key;
use emprox_benchmarks::{Evaluator, SearchSpace, Signal};
use emprox_train::config::config_hash;
use emprox_train::{DeclaredTraining, TrainingConfig, TrainingEvaluator};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Evaluator types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluatorKind {
    /// Tabular lookup in NAS-Bench-201.
    Nasbench201,
    /// Real training with candle.
    Train,
    /// An external command.
    Command,
    /// An external command as one Slurm batch job per candidate.
    Slurm,
    /// The Python package's ask/tell: the user answers each evaluation.
    Python,
}

/// Why the `emprox` command does not run an experiment of `[evaluator] type = "python"`.
pub const PYTHON_ONLY: &str = "[evaluator] type = \"python\" takes its results from Python \
     (emprox.Search's ask and tell): continue it there with emprox.Search.resume(folder)";

fn one() -> usize {
    1
}

/// The `[evaluator]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorConfig {
    /// `nasbench201`, `train` or `command`.
    #[serde(rename = "type")]
    pub kind: EvaluatorKind,
    /// Evaluations run at once (train, command; default 1).
    #[serde(default = "one")]
    pub workers: usize,
    /// A result-cache file (JSONL) shared between runs: an evaluation found there is not redone,
    /// and every new successful one is appended (train, command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<PathBuf>,
    /// Training settings (type = "train").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingConfig>,
    /// Command settings (type = "command").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandConfig>,
    /// Slurm settings (type = "slurm").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmConfig>,
}

/// The most Slurm jobs in flight (`workers` of `type = "slurm"`).
pub const MAX_SLURM_JOBS: usize = 1000;

impl EvaluatorConfig {
    /// Checks the table: keys that do not apply, ranges, and the core budget.
    pub fn validate(&self) -> Result<(), String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.kind {
            EvaluatorKind::Nasbench201 => {
                if self.training.is_some()
                    || self.command.is_some()
                    || self.slurm.is_some()
                    || self.workers != 1
                    || self.cache.is_some()
                {
                    return Err("[evaluator] type = \"nasbench201\" takes no workers, cache, training or command keys".into());
                }
            }
            EvaluatorKind::Train => {
                if self.command.is_some() || self.slurm.is_some() {
                    return Err(
                        "[evaluator.command] and [evaluator.slurm] do not apply to type = \"train\"".into(),
                    );
                }
                let t = self.training.clone().unwrap_or_default();
                t.validate()
                    .map_err(|e| format!("[evaluator.training] {e}"))?;
                if self.workers == 0 || self.workers * t.threads > cores {
                    return Err(format!(
                        "[evaluator] workers ({}) × training threads ({}) must be between 1 and the {cores} cores of this machine",
                        self.workers, t.threads
                    ));
                }
            }
            EvaluatorKind::Command => {
                if self.training.is_some() || self.slurm.is_some() {
                    return Err(
                        "[evaluator.training] and [evaluator.slurm] do not apply to type = \"command\"".into(),
                    );
                }
                let c = self
                    .command
                    .as_ref()
                    .ok_or("[evaluator] type = \"command\" needs an [evaluator.command] table with `command = [...]`")?;
                c.validate()
                    .map_err(|e| format!("[evaluator.command] {e}"))?;
                if self.workers == 0 || self.workers > 64 {
                    return Err(format!(
                        "[evaluator] workers must be between 1 and 64, got {}",
                        self.workers
                    ));
                }
            }
            EvaluatorKind::Python => {
                if self.training.is_some()
                    || self.command.is_some()
                    || self.slurm.is_some()
                    || self.cache.is_some()
                {
                    return Err("[evaluator] type = \"python\" takes no cache, training, command or slurm keys".into());
                }
                if self.workers == 0 || self.workers > 64 {
                    return Err(format!(
                        "[evaluator] workers (trials outstanding at once) must be between 1 and 64, got {}",
                        self.workers
                    ));
                }
            }
            EvaluatorKind::Slurm => {
                if self.training.is_some() || self.command.is_some() {
                    return Err(
                        "[evaluator.training] and [evaluator.command] do not apply to type = \"slurm\" (its command is in [evaluator.slurm])".into(),
                    );
                }
                let c = self.slurm.as_ref().ok_or(
                    "[evaluator] type = \"slurm\" needs an [evaluator.slurm] table with `command = [...]`",
                )?;
                c.validate().map_err(|e| format!("[evaluator.slurm] {e}"))?;
                if self.workers == 0 || self.workers > MAX_SLURM_JOBS {
                    return Err(format!(
                        "[evaluator] workers (Slurm jobs in flight) must be between 1 and {MAX_SLURM_JOBS}, got {}",
                        self.workers
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Everything a run needs to evaluate cells of a space.
pub struct Evaluation<C> {
    /// The evaluator.
    pub evaluator: Arc<dyn Evaluator<C>>,
    /// The kind.
    pub kind: EvaluatorKind,
    /// Evaluations at once.
    pub workers: usize,
    /// Compute threads per evaluation.
    pub threads_per_worker: usize,
    /// The dataset name reported in results.
    pub dataset: String,
    /// The space's name, in cache keys.
    pub space: String,
    /// Identifies the evaluator's settings in cache keys (for training, with the kernels'
    /// numerics version: [`TrainingEvaluator::cache_hash`]).
    pub config_hash: String,
    /// The shared result cache, if any.
    pub cache: Option<Arc<CacheFile>>,
    /// What the evaluator's score is: its metric's name, goal and display.
    pub signal: Signal,
}

impl<C> Evaluation<C> {
    /// True when a cell's cost is the benchmark's simulated seconds (deterministic).
    pub fn simulated_cost(&self) -> bool {
        self.kind == EvaluatorKind::Nasbench201
    }

    /// A lookup in a table: the benchmark's own evaluator, whose score is `signal`.
    pub fn table(
        evaluator: Arc<dyn Evaluator<C>>,
        space: &str,
        dataset: &str,
        signal: Signal,
    ) -> Self {
        Evaluation {
            signal,
            evaluator,
            kind: EvaluatorKind::Nasbench201,
            workers: 1,
            threads_per_worker: 1,
            dataset: dataset.to_string(),
            space: space.to_string(),
            config_hash: String::new(),
            cache: None,
        }
    }

    /// The cache key of evaluating the cell whose architecture string is `arch` with trial
    /// seed `seed`.
    pub fn key(&self, arch: &str, seed: u64) -> String {
        cache_key(&self.space, arch, &self.dataset, &self.config_hash, seed)
    }
}

/// Opens the result cache an `[evaluator]` table names.
fn open_cache(cfg: &EvaluatorConfig) -> Result<Option<Arc<CacheFile>>, String> {
    cfg.cache
        .as_ref()
        .map(|p| {
            CacheFile::open(p)
                .map(Arc::new)
                .map_err(|e| format!("[evaluator] cache: {e}"))
        })
        .transpose()
}

/// The evaluator of `type = "python"` until the Python package puts the user in its place:
/// every evaluation fails.
struct Unanswered;

impl<C> Evaluator<C> for Unanswered {
    fn evaluate(
        &self,
        _: &C,
        _: &mut dyn rand::RngCore,
    ) -> Result<emprox_benchmarks::evaluator::Outcome, emprox_benchmarks::evaluator::EvalFailure>
    {
        Err(emprox_benchmarks::evaluator::EvalFailure {
            reason: PYTHON_ONLY.into(),
            cost_seconds: 0.0,
        })
    }
}

impl<C: 'static> Evaluation<C> {
    /// Evaluation by a user's command, describing cells by `space` (any space, tabular
    /// included): a local process per candidate (`type = "command"`), or a Slurm batch job
    /// (`type = "slurm"`; the cluster is checked, its commands and the partition, before
    /// anything is submitted). The result line's objective is the benchmark's `default` unless
    /// the command's `objective` names another.
    pub fn external<S>(cfg: &EvaluatorConfig, space: S, default: &Signal) -> Result<Self, String>
    where
        S: SearchSpace<Cell = C> + 'static,
    {
        let name = space.name().to_string();
        let objective = match cfg.kind {
            EvaluatorKind::Slurm => cfg.slurm.as_ref().and_then(|c| c.objective.as_ref()),
            _ => cfg.command.as_ref().and_then(|c| c.objective.as_ref()),
        };
        let signal = result_signal(objective, default);
        let (config_hash, evaluator): (String, Arc<dyn Evaluator<C>>) = match cfg.kind {
            EvaluatorKind::Python => ("python".into(), Arc::new(Unanswered)),
            EvaluatorKind::Slurm => {
                let c = cfg
                    .slurm
                    .clone()
                    .ok_or("[evaluator] type = \"slurm\" needs an [evaluator.slurm] table")?;
                let hash = config_hash(&c);
                let ev = SlurmEvaluator::new(c, space)
                    .map_err(|e| format!("[evaluator.slurm] {e}"))?
                    .for_benchmark(default);
                (hash, Arc::new(ev))
            }
            _ => {
                let c = cfg
                    .command
                    .clone()
                    .ok_or("[evaluator] type = \"command\" needs an [evaluator.command] table")?;
                let hash = config_hash(&c);
                let ev = CommandEvaluator::new(c, space)
                    .map_err(|e| format!("[evaluator.command] {e}"))?
                    .for_benchmark(default);
                (hash, Arc::new(ev))
            }
        };
        Ok(Evaluation {
            signal,
            dataset: "external".into(),
            space: name,
            config_hash,
            threads_per_worker: 1,
            evaluator,
            kind: cfg.kind,
            workers: cfg.workers,
            cache: open_cache(cfg)?,
        })
    }
}

impl<C: 'static> Evaluation<C> {
    /// Training (`type = "train"`) of the cells of the space named `space`, by `evaluator`
    /// (built from `training`, the table's settings).
    fn training(
        cfg: &EvaluatorConfig,
        trainer: &TrainingEvaluator,
        space: &str,
        evaluator: Arc<dyn Evaluator<C>>,
    ) -> Result<Self, String> {
        Ok(Evaluation {
            signal: Signal::accuracy(),
            dataset: trainer.dataset_name(),
            space: space.into(),
            config_hash: trainer.cache_hash(),
            threads_per_worker: trainer.config().threads,
            evaluator,
            kind: EvaluatorKind::Train,
            workers: cfg.workers,
            cache: open_cache(cfg)?,
        })
    }
}

/// The training evaluator of an `[evaluator]` table of `type = "train"`.
fn training_evaluator(cfg: &EvaluatorConfig) -> Result<TrainingEvaluator, String> {
    let t = cfg.training.clone().unwrap_or_default();
    TrainingEvaluator::new(t).map_err(|e| format!("[evaluator.training] {e}"))
}

impl Evaluation<DeclaredCell> {
    /// Training of a declared space of one cell (`type = "train"`); `origin` (the space file
    /// or `[benchmark.space]`) starts an error: a space of other dimensions, or an op that
    /// training cannot build.
    pub fn declared_training(
        cfg: &EvaluatorConfig,
        space: &DeclaredSpace,
        origin: &str,
    ) -> Result<Self, String> {
        let ev = training_evaluator(cfg)?;
        let declared =
            DeclaredTraining::new(ev.clone(), space).map_err(|e| format!("{origin} {e}"))?;
        Evaluation::training(cfg, &ev, space.name(), Arc::new(declared))
    }
}

impl Evaluation<Cell> {
    /// Builds the evaluation of a NAS-Bench-201 experiment from its `[benchmark]` and
    /// `[evaluator]` tables.
    pub fn nb201(
        benchmark: &BenchmarkConfig,
        evaluator: Option<&EvaluatorConfig>,
        data: Arc<Nb201Data>,
    ) -> Result<Evaluation<Cell>, String> {
        let dataset = benchmark.dataset()?;
        let tabular = || {
            Evaluation::table(
                Arc::new(Nb201Tabular::new(data.clone(), dataset, benchmark.noise)),
                "nasbench201",
                dataset.name(),
                Signal::accuracy(),
            )
        };
        let Some(cfg) = evaluator else {
            return Ok(tabular());
        };
        Ok(match cfg.kind {
            EvaluatorKind::Nasbench201 => tabular(),
            EvaluatorKind::Train => {
                let ev = training_evaluator(cfg)?;
                Evaluation::training(cfg, &ev, "nasbench201", Arc::new(ev.clone()))?
            }
            EvaluatorKind::Command | EvaluatorKind::Slurm | EvaluatorKind::Python => {
                Evaluation::external(cfg, Nb201Space::new(data), &Signal::accuracy())?
            }
        })
    }
}
