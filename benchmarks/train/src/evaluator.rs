//! [`TrainingEvaluator`]: evaluates a cell by training its network on shipped images.

use crate::config::{canonical_json, sha256_hex, DataOrder, TrainingConfig, TrainingConfigError};
use crate::images::{self, Splits};
use crate::network::{CellGraph, Network};
use crate::trainer::{
    train, train_from, train_network, Checkpoint, TrainError, TrainReport, TrainSeeds,
};
use emprox_benchmarks::evaluator::{EvalFailure, Evaluator, Outcome};
use emprox_benchmarks::nb201::Cell;
use emprox_benchmarks::seed;
use emprox_benchmarks::DataError;
use std::sync::Arc;

pub use emprox_benchmarks::evaluator::{CHECKPOINT_DIR, WEIGHTS_DIR};

/// Images at the start of the validation split whose logits are kept with the weights (and
/// exported in `check.safetensors`).
pub const CHECK_IMAGES: usize = 32;

/// The first [`CHECK_IMAGES`] validation images, (N, C, H, W).
pub fn check_images(splits: &Splits) -> candle_core::Result<candle_core::Tensor> {
    let val = &splits.val;
    let n = val.len().min(CHECK_IMAGES);
    candle_core::Tensor::from_vec(
        val.pixels[..n * val.values_per_image()].to_vec(),
        (n, val.channels, val.height, val.width),
        &candle_core::Device::Cpu,
    )
}

/// The files kept for query `query` in a run's [`WEIGHTS_DIR`] `dir`: the state dict under
/// PyTorch's names (`q<query>.safetensors`) and the logits of [`check_images`]
/// (`q<query>.logits.safetensors`, tensor `logits`).
pub fn kept_weights(dir: &std::path::Path, query: u64) -> [std::path::PathBuf; 2] {
    [
        dir.join(format!("q{query}.safetensors")),
        dir.join(format!("q{query}.logits.safetensors")),
    ]
}

/// The query of `name`, if it is a file [`TrainingEvaluator`] keeps in [`WEIGHTS_DIR`] (or its
/// temporary file while it is written).
pub fn kept_weights_query(name: &str) -> Option<u64> {
    let n = name.strip_suffix(".tmp").unwrap_or(name);
    let q = n.strip_prefix('q')?.strip_suffix(".safetensors")?;
    let q = q.strip_suffix(".logits").unwrap_or(q);
    (!q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()))
        .then(|| q.parse().ok())
        .flatten()
}

/// Deletes the files kept for query `query` in the [`WEIGHTS_DIR`] `dir` (and their temporary
/// files); those that are not there are no error.
pub fn drop_kept_weights(dir: &std::path::Path, query: u64) -> std::io::Result<()> {
    for path in kept_weights(dir, query) {
        for p in [emprox_benchmarks::fsutil::tmp_path(&path), path] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Saves `tensors` to `path` through a synced temporary file beside it.
fn save_atomic(
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    path: &std::path::Path,
) -> std::io::Result<()> {
    let tmp = emprox_benchmarks::fsutil::tmp_path(path);
    candle_core::safetensors::save(tensors, &tmp).map_err(std::io::Error::other)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Whether `name` is a file [`TrainingEvaluator`] writes in [`CHECKPOINT_DIR`] (a checkpoint,
/// or its temporary file while it is written).
pub fn is_checkpoint_file(name: &str) -> bool {
    name.strip_suffix(".tmp").unwrap_or(name).ends_with(".ckpt")
}

/// Why a [`TrainingEvaluator`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TrainingSetupError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] TrainingConfigError),
    /// The shipped images are missing or corrupt.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// The result-cache key's evaluator part of a training whose configuration hash is
/// `config_hash`, run by kernels of numerics version `numerics`: the SHA-256 of the canonical
/// JSON `{"config":…,"numerics":…}`.
pub fn numerics_keyed(config_hash: &str, numerics: u32) -> String {
    crate::config::config_hash(&serde_json::json!({
        "config": config_hash,
        "numerics": numerics,
    }))
}

/// Trains each candidate from scratch (see [`TrainingConfig`]) and reports validation accuracy
/// (the search signal), test accuracy (reported only) and the wall seconds spent.
///
/// [`Evaluator::evaluate`] draws one `u64` from the rng it is given: the trial seed. The result
/// is then a function of (architecture, config, trial seed) only, bit for bit, whatever the
/// scheduling: the weights come from a stream seeded by SHA-256 of the canonical JSON of
/// `{arch, config hash, seed}` (`arch`: the [`CellGraph`]'s NAS-Bench-201 string, whatever
/// space the cell comes from), and the batch order from the trial seed (and the architecture
/// with `data_order = "per_arch"`).
///
/// Training runs on a rayon pool of `config.threads` threads: the current one if the caller is
/// already inside a rayon pool (as [`emprox_benchmarks::workers::WorkerPool`] workers are), else a fresh one.
#[derive(Debug, Clone)]
pub struct TrainingEvaluator {
    config: TrainingConfig,
    config_hash: String,
    splits: Arc<Splits>,
}

impl TrainingEvaluator {
    /// Validates `config` and prepares the data splits (the shipped `dataset`, or reads the
    /// user's `data`: any problem with it is an error here, before any training).
    pub fn new(config: TrainingConfig) -> Result<Self, TrainingSetupError> {
        config.validate()?;
        let (splits, config_hash) = match &config.data {
            None => (
                images::split(
                    config.dataset,
                    config.val_fraction,
                    config.test_fraction,
                    config.split_seed,
                )?,
                config.hash(),
            ),
            Some(data) => {
                let splits = images::split_parts(
                    data.load()?,
                    config.val_fraction,
                    config.test_fraction,
                    config.split_seed,
                );
                let digest = splits.digest();
                (splits, config.hash_with(Some(&digest)))
            }
        };
        Ok(Self {
            config_hash,
            config,
            splits: Arc::new(splits),
        })
    }

    /// The hash of the configuration and, for a user's images, of their content: part of the
    /// weights' seed (see [`TrainingEvaluator::seeds`]) and, with the kernels' numerics version,
    /// of the result-cache key ([`TrainingEvaluator::cache_hash`]).
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    /// The result-cache key's evaluator part: [`TrainingEvaluator::config_hash`] with
    /// [`emprox_kernels::NUMERICS_VERSION`] folded in (see [`numerics_keyed`]), so that results
    /// trained by other kernel bits are not reused. The weights' seed does not depend on it.
    pub fn cache_hash(&self) -> String {
        numerics_keyed(&self.config_hash, emprox_kernels::NUMERICS_VERSION)
    }

    /// The name of the images trained on, in results: the shipped dataset's, or the last part
    /// of a user's data path.
    pub fn dataset_name(&self) -> String {
        match &self.config.data {
            None => self.config.dataset.name().to_string(),
            Some(d) => d
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| d.path.display().to_string()),
        }
    }

    /// An evaluator on splits the caller prepared (its own images); `config.dataset` and the split fields are then only recorded, not used.
    pub fn with_splits(config: TrainingConfig, splits: Splits) -> Result<Self, TrainingSetupError> {
        config.validate()?;
        Ok(Self {
            config_hash: config.hash(),
            config,
            splits: Arc::new(splits),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The data splits used.
    pub fn splits(&self) -> &Splits {
        &self.splits
    }

    /// The seeds of the training of `cell` with trial seed `seed`.
    pub fn seeds(&self, cell: &CellGraph, seed: u64) -> TrainSeeds {
        let key = serde_json::json!({
            "arch": cell.to_string(),
            "config": self.config_hash,
            "seed": seed,
        });
        let digest = sha256_hex(canonical_json(&key).as_bytes());
        let init = u64::from_str_radix(&digest[..16], 16).expect("hex digits");
        let order = match self.config.data_order {
            DataOrder::PerSeed => seed::derive(seed, "data_order"),
            DataOrder::PerArch => seed::derive(init, "data_order"),
        };
        TrainSeeds { init, order }
    }

    /// Trains `cell` with trial seed `seed`, keeping the trained network (`emprox export`).
    pub fn train_network(
        &self,
        cell: &CellGraph,
        seed: u64,
    ) -> Result<(TrainReport, Network), TrainError> {
        let seeds = self.seeds(cell, seed);
        self.on_pool(|| train_network(cell, &self.config, &self.splits, seeds))
    }

    /// The state dict (PyTorch's names) of `net`, trained for `steps` steps, and its logits of
    /// [`check_images`].
    pub fn network_files(
        &self,
        net: &Network,
        steps: usize,
    ) -> candle_core::Result<(
        std::collections::HashMap<String, candle_core::Tensor>,
        candle_core::Tensor,
    )> {
        let logits = net.forward(&check_images(&self.splits)?, false)?;
        Ok((net.state(steps)?.into_iter().collect(), logits))
    }

    /// Trains `cell` with trial seed `seed` as [`TrainingEvaluator::evaluate_seed`] does and
    /// keeps its weights and check logits in the run folder's [`WEIGHTS_DIR`] (see
    /// [`kept_weights`]); the outcome is the same.
    pub fn evaluate_keeping(
        &self,
        trial: &emprox_benchmarks::evaluator::TrialContext,
        cell: &CellGraph,
        seed: u64,
    ) -> Result<Outcome, EvalFailure> {
        let (report, net) = self
            .train_network(cell, seed)
            .map_err(|e| self.failure(e))?;
        let dir = trial.dir.join(WEIGHTS_DIR);
        let [weights, logits] = kept_weights(&dir, trial.query);
        let kept = self
            .network_files(&net, report.steps)
            .map_err(std::io::Error::other)
            .and_then(|(state, l)| {
                std::fs::create_dir_all(&dir)?;
                save_atomic(&[("logits".to_string(), l)].into(), &logits)?;
                save_atomic(&state, &weights)
            });
        kept.map_err(|e| EvalFailure {
            reason: format!("cannot keep the weights in {}: {e}", weights.display()),
            cost_seconds: report.total_seconds,
        })?;
        Ok(self.outcome(&report))
    }

    /// Trains `cell` with trial seed `seed`, returning the full report.
    pub fn train(&self, cell: &CellGraph, seed: u64) -> Result<TrainReport, TrainError> {
        let seeds = self.seeds(cell, seed);
        self.on_pool(|| train(cell, &self.config, &self.splits, seeds))
    }

    /// Runs `run` on a pool of `config.threads` threads: the current one inside a rayon pool
    /// (a worker's), else a fresh one.
    fn on_pool<T: Send>(
        &self,
        run: impl FnOnce() -> Result<T, TrainError> + Send,
    ) -> Result<T, TrainError> {
        if rayon::current_thread_index().is_some() {
            return run();
        }
        match rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .thread_name(|i| format!("emprox-train-{i}"))
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(e) => Err(TrainError::Candle {
                message: format!("cannot start a training thread: {e}"),
                seconds: 0.0,
            }),
        }
    }

    /// Trains `cell` with trial seed `seed` and turns the report into an [`Outcome`].
    pub fn evaluate_seed(&self, cell: &CellGraph, seed: u64) -> Result<Outcome, EvalFailure> {
        self.train(cell, seed)
            .map(|r| self.outcome(&r))
            .map_err(|e| self.failure(e))
    }

    /// The outcome of a training.
    fn outcome(&self, r: &TrainReport) -> Outcome {
        Outcome {
            val_acc: r.val_acc,
            test_acc: Some(r.test_acc),
            cost_seconds: r.total_seconds,
            extras: vec![
                ("params".into(), r.params as f64),
                ("final_train_loss".into(), r.final_train_loss),
                (
                    "images_per_second".into(),
                    r.images_seen as f64 / r.train_seconds.max(1e-9),
                ),
            ],
        }
    }

    /// A failed training, with the seconds it took.
    fn failure(&self, e: TrainError) -> EvalFailure {
        let cost_seconds = match &e {
            TrainError::Diverged { seconds, .. }
            | TrainError::Candle { seconds, .. }
            | TrainError::Interrupted { seconds } => *seconds,
        };
        EvalFailure {
            reason: e.to_string(),
            cost_seconds,
        }
    }
}

impl TrainingEvaluator {
    /// The checkpoint of `cell` (trial seed `seed`) trained to `epochs`, in `dir`.
    pub fn checkpoint_path(
        &self,
        cell: &CellGraph,
        seed: u64,
        epochs: usize,
        dir: &std::path::Path,
    ) -> std::path::PathBuf {
        let key = sha256_hex(
            canonical_json(&serde_json::json!({
                "arch": cell.to_string(),
                "config": self.config_hash,
                "seed": seed,
            }))
            .as_bytes(),
        );
        dir.join(format!("{}-e{epochs}.ckpt", &key[..16]))
    }

    /// Trains `cell` (trial seed `seed`) up to `epochs`, continuing from the checkpoint of the
    /// highest lower fidelity in `dir`, if any, and keeping its own there (written atomically)
    /// when it may be promoted further.
    pub fn train_to(
        &self,
        cell: &CellGraph,
        seed: u64,
        epochs: usize,
        dir: &std::path::Path,
    ) -> Result<Outcome, EvalFailure> {
        let seeds = self.seeds(cell, seed);
        let path = |e: usize| self.checkpoint_path(cell, seed, e, dir);
        let fail = |reason: String| EvalFailure {
            reason,
            cost_seconds: 0.0,
        };
        // A checkpoint that does not read whole is not used (the rung is trained again).
        let from = self
            .config
            .fidelity_epochs
            .iter()
            .rev()
            .filter(|&&e| e < epochs)
            .find_map(|&e| {
                let bytes = std::fs::read(path(e)).ok()?;
                Checkpoint::from_bytes(&bytes).filter(|c| c.epoch == e)
            });
        let run = || {
            train_from(
                cell,
                &self.config,
                &self.splits,
                seeds,
                epochs,
                from.as_ref(),
            )
        };
        let done = if rayon::current_thread_index().is_some() {
            run()
        } else {
            rayon::ThreadPoolBuilder::new()
                .num_threads(self.config.threads)
                .build()
                .map_err(|e| fail(format!("cannot start a training thread: {e}")))?
                .install(run)
        };
        let (report, checkpoint) = done.map_err(|e| self.failure(e))?;
        if epochs < self.config.epochs {
            std::fs::create_dir_all(dir)
                .and_then(|_| {
                    emprox_benchmarks::fsutil::write_atomic(&path(epochs), &checkpoint.to_bytes())
                })
                .map_err(|e| {
                    fail(format!(
                        "cannot write the checkpoint {}: {e}",
                        path(epochs).display()
                    ))
                })?;
        }
        Ok(self.outcome(&report))
    }
}

impl Evaluator<Cell> for TrainingEvaluator {
    fn evaluate(&self, cell: &Cell, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        self.evaluate_seed(&cell.into(), seed)
    }

    /// At `fidelity` epochs (a `[scheduler]` trial): continued from the lower rung's
    /// checkpoint in the run folder's [`CHECKPOINT_DIR`].
    fn evaluate_trial(
        &self,
        trial: &emprox_benchmarks::evaluator::TrialContext,
        cell: &Cell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        let graph: CellGraph = cell.into();
        match trial.fidelity {
            Some(f) => self.train_to(&graph, seed, f as usize, &trial.dir.join(CHECKPOINT_DIR)),
            None if trial.keep_weights => self.evaluate_keeping(trial, &graph, seed),
            None => self.evaluate_seed(&graph, seed),
        }
    }

    /// Removes the checkpoint [`TrainingEvaluator::train_to`] kept for the trial (and its
    /// temporary file, were it cut short while written).
    fn release(
        &self,
        trial: &emprox_benchmarks::evaluator::TrialContext,
        cell: &Cell,
        rng: &mut dyn rand::RngCore,
    ) {
        let seed = rng.next_u64();
        if let Some(f) = trial.fidelity {
            let dir = trial.dir.join(CHECKPOINT_DIR);
            let path = self.checkpoint_path(&cell.into(), seed, f as usize, &dir);
            // One that cannot be removed only takes room: it is never read in its cell's place.
            let _ = std::fs::remove_file(emprox_benchmarks::fsutil::tmp_path(&path));
            let _ = std::fs::remove_file(path);
        }
    }

    fn fidelities(&self) -> Vec<f64> {
        self.config.fidelities()
    }
}
