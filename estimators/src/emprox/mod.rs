//! EmProx: an encoder-decoder learns an embedding of architecture token sequences by
//! reconstruction; a distance-weighted kNN over the labelled architectures' embeddings predicts.
//!
//! - [`model`]: the network (candle; its fused kernels are in `emprox-kernels`), [`train`]: Adam
//!   training.
//! - [`pretrain`]: an encoder pre-trained on unlabelled architectures, cached in-process.
//! - [`persist`]: save / load a fitted EmProx (safetensors + JSON).

pub mod model;
pub mod persist;
pub mod pretrain;
pub mod rank_loss;
pub mod supervised;
pub mod train;

use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, Estimator, FittedEstimator, Needs};
use crate::knn::Knn;
use emprox_benchmarks::params::Range;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::{SearchSpace, SeqEncoding};
use model::{Seq2Seq, Shape};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use train::TrainSettings;

/// Hyperparameters of the encoder-decoder (shared by EmProx and NAO).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetParams {
    /// Token-sequence encoding of the architectures.
    pub encoding: SeqEncoding,
    /// Embedding size.
    pub embedding_size: usize,
    /// Hidden size of each encoder LSTM direction.
    pub hidden_size: usize,
    /// Hidden layers of the regression head (used when `train.trade_off > 0`).
    pub head_layers: usize,
    /// Width of the head's hidden layers.
    pub head_width: usize,
    /// Optimisation.
    pub train: TrainSettings,
}

impl NetParams {
    /// The network shape for a vocabulary of `vocab` tokens (no head when `trade_off` is 0).
    pub fn shape(&self, vocab: usize) -> Shape {
        Shape {
            vocab,
            embedding_size: self.embedding_size,
            hidden_size: self.hidden_size,
            head_layers: if self.train.trade_off > 0.0 {
                self.head_layers
            } else {
                0
            },
            head_width: self.head_width,
        }
    }
}

/// Hyperparameters of EmProx.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmProxParams {
    /// The encoder-decoder.
    pub net: NetParams,
    /// Neighbours of the kNN.
    pub k: usize,
    /// Unlabelled architectures to pre-train the encoder on (0: train on the labelled set at
    /// every fit, as in the paper). With pre-training a fit costs only embedding + kNN.
    pub pretrain: usize,
    /// Epochs of pre-training.
    pub pretrain_epochs: usize,
    /// Seed of the pre-training sample and weights (the cache key, with the rest).
    pub pretrain_seed: u64,
    /// Training epochs whose training-time embeddings of the labelled cells join the kNN
    /// reference set beside the final ones (the authors' code keeps every epoch's); 0: the
    /// final embeddings only. Without pre-training only.
    #[serde(default)]
    pub reference_epochs: usize,
    /// In a search, a refit starts from the previous fit's weights and trains this many epochs
    /// (`None`: every fit starts afresh). Without pre-training only.
    #[serde(default)]
    pub warm_epochs: Option<usize>,
}

impl Default for EmProxParams {
    fn default() -> Self {
        EmproxSettings::default().params()
    }
}

/// Declares a parameter struct of the encoder-decoder estimators: the network and training
/// keys (shared by `emprox` and `nao`, with their own `epochs` and `trade_off` defaults), then
/// the struct's own keys; and `net()`, the checked [`NetParams`].
macro_rules! net_settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident;
        epochs = $epochs:expr, trade_off = $trade_off:expr;
        $($rest:tt)*
    ) => {
        emprox_benchmarks::params! {
            $(#[$meta])*
            $vis struct $name;
            /// token sequence: nao (35 tokens) or compact (6)
            encoding: emprox_benchmarks::SeqEncoding = emprox_benchmarks::SeqEncoding::Nao, emprox_benchmarks::params::Range::Any;
            /// embedding / decoder size
            embedding_size: usize = 32, emprox_benchmarks::params::Range::Int(1, 1024);
            /// hidden size per encoder LSTM direction
            hidden_size: usize = 16, emprox_benchmarks::params::Range::Int(1, 1024);
            /// training epochs
            epochs: usize = $epochs, emprox_benchmarks::params::Range::Int(1, 100_000);
            /// Adam steps instead of epochs (fit cost independent of n)
            steps: Option<usize> = None, emprox_benchmarks::params::Range::Int(1, 10_000_000);
            /// batch size
            batch_size: usize = 100, emprox_benchmarks::params::Range::Int(1, 100_000);
            /// Adam learning rate
            lr: f64 = 1e-3, emprox_benchmarks::params::Range::Real { lo: 0.0, hi: 10.0, open_lo: true };
            /// L2 weight decay
            weight_decay: f64 = 1e-4, emprox_benchmarks::params::Range::Real { lo: 0.0, hi: 1.0, open_lo: false };
            /// gradient-norm clip
            grad_clip: f64 = 5.0, emprox_benchmarks::params::Range::Real { lo: 0.0, hi: 1e6, open_lo: true };
            /// weight of the regression (MSE) loss in [0, 1]
            trade_off: f64 = $trade_off, emprox_benchmarks::params::Range::Real { lo: 0.0, hi: 1.0, open_lo: false };
            /// hidden layers of the regression head
            head_layers: usize = 2, emprox_benchmarks::params::Range::Int(0, 16);
            /// width of the regression head
            head_width: usize = 16, emprox_benchmarks::params::Range::Int(1, 4096);
            $($rest)*
        }

        impl $name {
            /// The encoder-decoder's parameters (unchecked).
            fn net(&self) -> $crate::emprox::NetParams {
                $crate::emprox::NetParams {
                    encoding: self.encoding,
                    embedding_size: self.embedding_size,
                    hidden_size: self.hidden_size,
                    head_layers: self.head_layers,
                    head_width: self.head_width,
                    train: $crate::emprox::train::TrainSettings {
                        epochs: self.epochs,
                        steps: self.steps,
                        batch_size: self.batch_size,
                        lr: self.lr,
                        weight_decay: self.weight_decay,
                        grad_clip: self.grad_clip,
                        trade_off: self.trade_off,
                    },
                }
            }

            /// The encoder-decoder's parameters, every range and rule checked.
            fn checked_net(&self) -> Result<NetParams, String> {
                self.check_ranges()?;
                if self.trade_off > 0.0 && self.head_layers == 0 {
                    return Err("`trade_off` > 0 needs `head_layers` >= 1".into());
                }
                Ok(self.net())
            }
        }
    };
}
pub(crate) use net_settings;

net_settings! {
    /// The `emprox` table. The paper's defaults: NAO sequence, embedding 32, Adam lr 1e-3,
    /// weight decay 1e-4, batch 100, clip 5, 50 epochs, reconstruction loss only.
    pub struct EmproxSettings;
    epochs = 50, trade_off = 0.0;
    /// kNN neighbours (distance-weighted)
    k: usize = 10, Range::Int(1, 100_000);
    /// unlabelled archs to pre-train the encoder on (0: off); cached in-process
    pretrain: usize = 0, Range::Int(0, 1_000_000);
    /// pre-training epochs
    pretrain_epochs: usize = 20, Range::Int(1, 100_000);
    /// pre-training seed
    pretrain_seed: u64 = 0, Range::Any;
    /// in a search, each run pre-trains its own encoder (seed from the run's and pretrain_seed)
    pretrain_per_run: bool = false, Range::Any;
    /// last training epochs whose embeddings join the kNN references (0: final only; pretrain = 0)
    reference_epochs: usize = 0, Range::Int(0, 100_000);
    /// refits in a search start from the previous fit and train this many epochs (pretrain = 0)
    warm_epochs: Option<usize> = None, Range::Int(1, 100_000);
}

impl EmproxSettings {
    fn params(&self) -> EmProxParams {
        EmProxParams {
            net: self.net(),
            k: self.k,
            pretrain: self.pretrain,
            pretrain_epochs: self.pretrain_epochs,
            pretrain_seed: self.pretrain_seed,
            reference_epochs: self.reference_epochs,
            warm_epochs: self.warm_epochs,
        }
    }

    /// These settings for the run with seed `run_seed`: with `pretrain_per_run`, the
    /// pre-training seed is derived from the run's (and `pretrain_seed`), so that every run has
    /// its own encoder.
    pub fn for_run(&self, run_seed: u64) -> Self {
        let mut s = self.clone();
        if s.pretrain_per_run {
            s.pretrain_seed = emprox_benchmarks::seed::derive(
                run_seed,
                &format!("emprox-encoder/{}", self.pretrain_seed),
            );
        }
        s
    }

    /// The validated estimator.
    pub fn check(&self) -> Result<EmProx, String> {
        self.checked_net()?;
        if self.pretrain > 0 && (self.reference_epochs > 0 || self.warm_epochs.is_some()) {
            return Err(
                "`reference_epochs` and `warm_epochs` train the encoder at every fit: \
                 they need `pretrain` = 0"
                    .into(),
            );
        }
        Ok(EmProx {
            params: self.params(),
        })
    }
}

/// The EmProx estimator.
#[derive(Debug, Clone)]
pub struct EmProx {
    /// Its hyperparameters.
    pub params: EmProxParams,
}

/// A fitted EmProx: the encoder, the reference embeddings and their targets.
pub struct FittedEmProx {
    pub(crate) params: EmProxParams,
    pub(crate) space: String,
    pub(crate) net: Arc<Seq2Seq>,
    pub(crate) knn: Knn,
    /// Reference architectures (formatted) in fit order, for saving.
    pub(crate) archs: Vec<String>,
}

/// Min-max scaling of targets to [0, 1] (0.5 when constant) and its inverse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// Smallest target.
    pub min: f64,
    /// Largest target.
    pub max: f64,
}

impl Scale {
    /// The scale of `y`.
    pub fn of(y: &[f64]) -> Self {
        let min = y.iter().copied().fold(f64::INFINITY, f64::min);
        let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self { min, max }
    }
    /// `y` mapped to [0, 1].
    pub fn forward(&self, y: f64) -> f32 {
        if self.max > self.min {
            ((y - self.min) / (self.max - self.min)) as f32
        } else {
            0.5
        }
    }
    /// The inverse map.
    pub fn inverse(&self, p: f32) -> f64 {
        self.min + p as f64 * (self.max - self.min)
    }
}

impl EmProx {
    /// Fits on `cells`, training the encoder from `start`'s weights for `warm_epochs` when given
    /// (a warm refit), else from fresh weights (or taking the cached pre-trained encoder).
    fn fit_from<S: SearchSpace>(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
        start: Option<&Seq2Seq>,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let enc = self.params.net.encoding;
        let seqs: Vec<Vec<u32>> = cells.iter().map(|c| space.sequence(c, enc)).collect();
        let (net, mut refs) = if self.params.pretrain > 0 {
            (
                pretrain::cached(space, &self.params)?,
                References::default(),
            )
        } else {
            self.train_net(space, &seqs, targets, rng, start)?
        };
        let emb = net.embed(&seqs)?;
        let mut y = targets.to_vec();
        let mut points = emb;
        points.append(&mut refs.points);
        y.extend(refs.indices.iter().map(|&i| targets[i]));
        Ok(Box::new(FittedEmProx {
            params: self.params.clone(),
            space: space.name().to_string(),
            knn: Knn::new(self.params.k, points, y),
            net,
            archs: cells.iter().map(|c| space.format(c)).collect(),
        }))
    }

    /// Trains the encoder-decoder on the labelled sequences (from `start` for `warm_epochs`, or
    /// from fresh weights), keeping the training-time embeddings of the last
    /// `reference_epochs` epochs.
    fn train_net<S: SearchSpace>(
        &self,
        space: &S,
        seqs: &[Vec<u32>],
        targets: &[f64],
        rng: &mut Rng,
        start: Option<&Seq2Seq>,
    ) -> Result<(Arc<Seq2Seq>, References), EstimatorError> {
        let p = &self.params.net;
        let mut settings = p.train;
        let net = match (start, self.params.warm_epochs) {
            (Some(prev), Some(epochs)) => {
                settings.epochs = epochs;
                settings.steps = None;
                prev.duplicate()?
            }
            _ => Seq2Seq::new(p.shape(space.vocab_size(p.encoding)), rng)?,
        };
        let scale = Scale::of(targets);
        let y: Vec<f32> = targets.iter().map(|t| scale.forward(*t)).collect();
        let keep = self.params.reference_epochs;
        let mut seen: Vec<(usize, usize, Vec<f32>)> = Vec::new();
        train::train_observed(&net, seqs, Some(&y), &settings, rng, &mut |b| {
            if keep > 0 {
                let rows = b.emb.to_vec2::<f32>()?;
                seen.extend(b.indices.iter().zip(rows).map(|(&i, r)| (b.epoch, i, r)));
            }
            Ok(())
        })?;
        let last = seen.last().map_or(0, |s| s.0);
        let mut refs = References::default();
        for (epoch, i, r) in seen {
            if epoch + keep > last {
                refs.indices.push(i);
                refs.points.push(r);
            }
        }
        Ok((Arc::new(net), refs))
    }
}

/// Extra kNN reference points: training-time embeddings of labelled cells.
#[derive(Default)]
struct References {
    /// The labelled cell of each point.
    indices: Vec<usize>,
    /// The points.
    points: Vec<Vec<f32>>,
}

impl<S: SearchSpace> Estimator<S> for EmProx {
    fn name(&self) -> &'static str {
        "emprox"
    }

    fn needs(&self) -> Needs {
        Needs {
            min_train_size: 1,
            unlabelled_archs: self.params.pretrain,
        }
    }

    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        self.fit_from(space, cells, targets, rng, None)
    }

    fn refit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
        previous: &dyn FittedEstimator<S>,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        let prev = previous
            .as_any()
            .and_then(|a| a.downcast_ref::<FittedEmProx>())
            .map(|f| f.net.as_ref());
        self.fit_from(space, cells, targets, rng, prev)
    }
}

impl FittedEmProx {
    /// Embeddings of `cells` under the fitted encoder.
    pub fn embed<S: SearchSpace>(
        &self,
        space: &S,
        cells: &[S::Cell],
    ) -> Result<Vec<Vec<f32>>, EstimatorError> {
        let enc = self.params.net.encoding;
        let seqs: Vec<Vec<u32>> = cells.iter().map(|c| space.sequence(c, enc)).collect();
        self.net.embed(&seqs)
    }

    /// Its hyperparameters.
    pub fn params(&self) -> &EmProxParams {
        &self.params
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedEmProx {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        let emb = self.embed(space, cells)?;
        self.knn.try_predict(&emb)
    }

    fn save(&self, dir: &Path) -> Result<(), EstimatorError> {
        if self.params.reference_epochs > 0 {
            return Err(EstimatorError::Unsupported(
                "an EmProx with `reference_epochs` cannot be saved (its training-time \
                 embeddings are not stored)"
                    .into(),
            ));
        }
        persist::save(self, dir)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
