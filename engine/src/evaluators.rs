//! The `[evaluator]` table: the one place where an evaluator type becomes an evaluator.
//!
//! - `nasbench201` (default when the table is absent): a lookup in the benchmark table.
//! - `train`: train each candidate on shipped images (`[evaluator.training]`).
//! - `command`: run a user's command (`[evaluator.command]`).

use crate::journal::WriteError;
use emprox_benchmarks::command::{CommandConfig, CommandEvaluator};
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::evaluator::{EvalFailure, Outcome};
use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space, Nb201Tabular};
use emprox_benchmarks::workers::{cache_key, ResultCache};
use emprox_benchmarks::{Evaluator, SearchSpace};
use emprox_train::config::config_hash;
use emprox_train::{TrainingConfig, TrainingEvaluator};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
}

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
}

impl EvaluatorConfig {
    /// Checks the table: keys that do not apply, ranges, and the core budget.
    pub fn validate(&self) -> Result<(), String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.kind {
            EvaluatorKind::Nasbench201 => {
                if self.training.is_some()
                    || self.command.is_some()
                    || self.workers != 1
                    || self.cache.is_some()
                {
                    return Err("[evaluator] type = \"nasbench201\" takes no workers, cache, training or command keys".into());
                }
            }
            EvaluatorKind::Train => {
                if self.command.is_some() {
                    return Err("[evaluator.command] does not apply to type = \"train\"".into());
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
                if self.training.is_some() {
                    return Err("[evaluator.training] does not apply to type = \"command\"".into());
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
        }
        Ok(())
    }
}

/// A shared result cache backed by a JSONL file.
///
/// Several runs, and several processes, may share one cache: each append takes the file's
/// exclusive lock, starts on a new line even after a torn last line (a kill or a full disk in
/// the middle of an append), and is one write. Reading skips lines that are not complete,
/// valid records, and cached values that no evaluation could have produced, with a warning:
/// those cells are evaluated again.
pub struct CacheFile {
    path: PathBuf,
    inner: Mutex<(ResultCache, std::fs::File)>,
}

#[derive(Serialize, Deserialize)]
struct CacheLine {
    key: String,
    outcome: Outcome,
}

/// Checks a cached outcome: accuracies are percentages, the cost a non-negative number.
fn check_cached(o: &Outcome) -> Result<(), String> {
    for (name, x) in [("val_acc", Some(o.val_acc)), ("test_acc", o.test_acc)] {
        let Some(x) = x else { continue };
        if !(x.is_finite() && (0.0..=100.0).contains(&x)) {
            return Err(format!("`{name}` = {x} is not a percentage in [0, 100]"));
        }
    }
    if !(o.cost_seconds.is_finite() && o.cost_seconds >= 0.0) {
        return Err(format!(
            "`cost_seconds` = {} is not a non-negative number",
            o.cost_seconds
        ));
    }
    Ok(())
}

impl CacheFile {
    /// Opens (creating) a cache file and loads its valid entries.
    pub fn open(path: &Path) -> Result<CacheFile, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        let bytes = {
            file.lock_shared().map_err(|e| e.to_string())?;
            let bytes = std::fs::read(path);
            let _ = file.unlock();
            bytes.map_err(|e| e.to_string())?
        };
        let mut cache = ResultCache::new();
        let mut skipped = Vec::new();
        for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
            let parsed = if line.ends_with(b"\n") {
                serde_json::from_slice::<CacheLine>(line).map_err(|e| e.to_string())
            } else {
                Err("a torn last line".to_string())
            };
            match parsed.and_then(|l| check_cached(&l.outcome).map(|_| l)) {
                Ok(l) => cache.insert(l.key, &Ok(l.outcome)),
                Err(why) if line.iter().all(u8::is_ascii_whitespace) => drop(why),
                Err(why) => skipped.push(format!("line {}: {why}", i + 1)),
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "result cache {}: ignored {} invalid entr{} (evaluated again): {}",
                path.display(),
                skipped.len(),
                if skipped.len() == 1 { "y" } else { "ies" },
                skipped.join("; ")
            );
        }
        Ok(CacheFile {
            path: path.to_path_buf(),
            inner: Mutex::new((cache, file)),
        })
    }

    /// The cached outcome of `key`.
    pub fn get(&self, key: &str) -> Option<Outcome> {
        self.inner.lock().expect("cache lock").0.get(key).cloned()
    }

    /// Stores a result (successes only) and appends it to the file.
    pub fn put(
        &self,
        key: String,
        result: &Result<Outcome, EvalFailure>,
    ) -> Result<(), WriteError> {
        let Ok(o) = result else { return Ok(()) };
        let mut g = self.inner.lock().expect("cache lock");
        if g.0.get(&key).is_some() {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&CacheLine {
            key: key.clone(),
            outcome: o.clone(),
        })
        .expect("cache lines serialise");
        line.push(b'\n');
        append_locked(&mut g.1, &line).map_err(|source| WriteError {
            path: self.path.clone(),
            source,
        })?;
        g.0.insert(key, result);
        Ok(())
    }
}

/// Appends `line` under the file's exclusive lock, on a new line, with one write, synced.
fn append_locked(file: &mut std::fs::File, line: &[u8]) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    file.lock()?;
    let res = (|| {
        let len = file.seek(SeekFrom::End(0))?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        if len > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(line);
        // O_APPEND: the write goes to the end whatever the position.
        file.write_all(&buf)?;
        file.sync_data()
    })();
    let _ = file.unlock();
    res
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
    /// Identifies the evaluator's settings in cache keys.
    pub config_hash: String,
    /// The shared result cache, if any.
    pub cache: Option<Arc<CacheFile>>,
}

impl<C> Evaluation<C> {
    /// True when a cell's cost is the benchmark's simulated seconds (deterministic).
    pub fn simulated_cost(&self) -> bool {
        self.kind == EvaluatorKind::Nasbench201
    }

    /// A lookup in a table: the benchmark's own evaluator.
    pub fn table(evaluator: Arc<dyn Evaluator<C>>, space: &str, dataset: &str) -> Self {
        Evaluation {
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
                .map_err(|e| format!("[evaluator] cache {}: {e}", p.display()))
        })
        .transpose()
}

impl<C: 'static> Evaluation<C> {
    /// Evaluation by a user's command (`[evaluator] type = "command"`), describing cells by
    /// `space` (arch string, index, dimension values).
    pub fn command<S>(cfg: &EvaluatorConfig, space: S) -> Result<Self, String>
    where
        S: SearchSpace<Cell = C> + 'static,
    {
        let c = cfg
            .command
            .clone()
            .ok_or("[evaluator] type = \"command\" needs an [evaluator.command] table")?;
        Ok(Evaluation {
            dataset: "external".into(),
            space: space.name().to_string(),
            config_hash: config_hash(&c),
            threads_per_worker: 1,
            evaluator: Arc::new(
                CommandEvaluator::new(c, space).map_err(|e| format!("[evaluator.command] {e}"))?,
            ),
            kind: EvaluatorKind::Command,
            workers: cfg.workers,
            cache: open_cache(cfg)?,
        })
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
            )
        };
        let Some(cfg) = evaluator else {
            return Ok(tabular());
        };
        Ok(match cfg.kind {
            EvaluatorKind::Nasbench201 => tabular(),
            EvaluatorKind::Train => {
                let t = cfg.training.clone().unwrap_or_default();
                Evaluation {
                    dataset: t.dataset.name().to_string(),
                    space: "nasbench201".into(),
                    config_hash: t.hash(),
                    threads_per_worker: t.threads,
                    evaluator: Arc::new(
                        TrainingEvaluator::new(t)
                            .map_err(|e| format!("[evaluator.training] {e}"))?,
                    ),
                    kind: EvaluatorKind::Train,
                    workers: cfg.workers,
                    cache: open_cache(cfg)?,
                }
            }
            EvaluatorKind::Command => Evaluation::command(cfg, Nb201Space::new(data))?,
        })
    }
}
