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
    /// The paper's defaults: NAO sequence, embedding 32, Adam lr 1e-3, weight decay 1e-4,
    /// batch 100, clip 5, 50 epochs, reconstruction loss only.
    pub fn paper() -> Self {
        Self {
            encoding: SeqEncoding::Nao,
            embedding_size: 32,
            hidden_size: 16,
            head_layers: 2,
            head_width: 16,
            train: TrainSettings {
                epochs: 50,
                steps: None,
                batch_size: 100,
                lr: 1e-3,
                weight_decay: 1e-4,
                grad_clip: 5.0,
                trade_off: 0.0,
            },
        }
    }

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
        Self {
            net: NetParams::paper(),
            k: 10,
            pretrain: 0,
            pretrain_epochs: 20,
            pretrain_seed: 0,
        }
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
