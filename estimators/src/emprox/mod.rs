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
}

impl EmproxSettings {
    fn params(&self) -> EmProxParams {
        EmProxParams {
            net: self.net(),
            k: self.k,
            pretrain: self.pretrain,
            pretrain_epochs: self.pretrain_epochs,
            pretrain_seed: self.pretrain_seed,
        }
    }

    /// The validated estimator.
    pub fn check(&self) -> Result<EmProx, String> {
        self.checked_net()?;
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
    /// Fits on already-encoded sequences (used by `fit` and by loading).
    fn fit_sequences<S: SearchSpace>(
        &self,
        space: &S,
        seqs: &[Vec<u32>],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Arc<Seq2Seq>, EstimatorError> {
        if self.params.pretrain > 0 {
            return pretrain::cached(space, &self.params);
        }
        let p = &self.params.net;
        let net = Seq2Seq::new(p.shape(space.vocab_size(p.encoding)), rng)?;
        let scale = Scale::of(targets);
        let y: Vec<f32> = targets.iter().map(|t| scale.forward(*t)).collect();
        train::train(&net, seqs, Some(&y), &p.train, rng)?;
        Ok(Arc::new(net))
    }
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
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let enc = self.params.net.encoding;
        let seqs: Vec<Vec<u32>> = cells.iter().map(|c| space.sequence(c, enc)).collect();
        let net = self.fit_sequences(space, &seqs, targets, rng)?;
        let emb = net.embed(&seqs)?;
        Ok(Box::new(FittedEmProx {
            params: self.params.clone(),
            space: space.name().to_string(),
            knn: Knn::new(self.params.k, emb, targets.to_vec()),
            net,
            archs: cells.iter().map(|c| space.format(c)).collect(),
        }))
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
        persist::save(self, dir)
    }
}
