//! `emprox_supervised`: EmProx with an embedding learnt from the accuracies rather than by
//! reconstruction. A small feed-forward encoder (candle) maps a cell's encoding (its one-hot
//! encoding and, where the space has one, its path encoding) to an embedding, and a linear head on the
//! embedding regresses the standardised accuracy, with an optional pairwise ranking loss: the
//! embedding's distances then follow accuracy. Prediction is EmProx's: a distance-weighted kNN
//! over the embeddings of the evaluated cells; with `residual = true` the kNN weighs the
//! evaluated cells' residuals around the head's read-out instead of their accuracies.
//!
//! `k = 0` chooses k per fit by leave-one-out validation (Kendall tau) on the evaluated cells.

use super::rank_loss::PairwiseRankLoss;
use super::train::adam_step;
use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, standardise, Estimator, FittedEstimator, Needs};
use crate::knn::Knn;
use crate::metrics::kendall_tau;
use crate::mlp::features;
use candle_core::{Device, Tensor, Var};
use emprox_benchmarks::params::Range;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use emprox_kernels::ops::linear;
use emprox_kernels::{Adam, Init, ParamSpec, Params};

/// What the encoder reads of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inputs {
    /// The path encoding where the space has one, else the one-hot.
    Path,
    /// The one-hot encoding.
    OneHot,
    /// Both, concatenated (the one-hot alone where the space has no paths).
    #[default]
    Both,
}

impl Inputs {
    /// The encoder's input for `cell`.
    fn of<S: SearchSpace>(self, space: &S, cell: &S::Cell) -> Vec<f32> {
        match self {
            Inputs::Path => features(space, cell),
            Inputs::OneHot => space.one_hot(cell),
            Inputs::Both => {
                let mut v = space.one_hot(cell);
                v.extend(space.path_encoding(cell).unwrap_or_default());
                v
            }
        }
    }
}

impl emprox_benchmarks::params::InRange for Inputs {
    fn in_range(&self, _: &Range) -> bool {
        true
    }
    fn shown(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }
}

emprox_benchmarks::params! {
    /// The `emprox_supervised` table.
    pub struct SupervisedParams;
    /// the encoder's input: both (one-hot and path encodings) | one_hot | path (else one-hot)
    inputs: Inputs = Inputs::Both, Range::Any;
    /// encoders trained (their embeddings are concatenated)
    ensemble_size: usize = 3, Range::Int(1, 32);
    /// hidden layers of each encoder before the embedding
    layers: usize = 2, Range::Int(0, 16);
    /// hidden width
    width: usize = 64, Range::Int(1, 4096);
    /// embedding size of each encoder
    embedding_size: usize = 16, Range::Int(1, 1024);
    /// full-batch Adam steps
    steps: usize = 200, Range::Int(1, 1_000_000);
    /// Adam learning rate
    lr: f64 = 0.01, Range::Real { lo: 0.0, hi: 10.0, open_lo: true };
    /// L2 weight decay
    weight_decay: f64 = 1e-4, Range::Real { lo: 0.0, hi: 1.0, open_lo: false };
    /// weight of the pairwise ranking loss beside the regression loss (0: regression only)
    rank_weight: f64 = 0.5, Range::Real { lo: 0.0, hi: 1000.0, open_lo: false };
    /// most ordered pairs in the ranking loss (above it, a sample is drawn per fit)
    rank_pairs: usize = 8192, Range::Int(1, 10_000_000);
    /// kNN neighbours (0: chosen per fit by leave-one-out validation)
    k: usize = 0, Range::Int(0, 100_000);
    /// the kNN weighs residuals around the head's read-out instead of accuracies
    residual: bool = false, Range::Any;
    /// in a search, a refit continues the previous fit's encoders for this many steps (none: afresh)
    warm_steps: Option<usize> = Some(40), Range::Int(1, 1_000_000);
}

/// The k tried when `k = 0`, smallest first (ties keep the smaller).
pub const K_CANDIDATES: [usize; 7] = [1, 2, 3, 5, 8, 13, 21];

/// The most encoder weights of a whole ensemble (`ensemble_size` × `layers` × `width`²).
pub const MAX_WEIGHTS: u64 = 100_000_000;

impl SupervisedParams {
    /// The validated estimator.
    pub fn check(&self) -> Result<SupervisedEmProx, String> {
        self.check_ranges()?;
        let weights = [
            self.ensemble_size,
            self.layers.max(1),
            self.width,
            self.width,
        ]
        .iter()
        .try_fold(1u64, |acc, &v| acc.checked_mul(v as u64))
        .filter(|&w| w <= MAX_WEIGHTS);
        if weights.is_none() {
            return Err(format!(
                "`ensemble_size` × `layers` × `width`² is more than the {MAX_WEIGHTS} weights \
                 an ensemble may hold: make it smaller"
            ));
        }
        Ok(SupervisedEmProx {
            params: self.clone(),
        })
    }
}

/// The `emprox_supervised` estimator.
#[derive(Debug, Clone)]
pub struct SupervisedEmProx {
    /// Its hyperparameters.
    pub params: SupervisedParams,
}

fn matrix(rows: &[Vec<f32>]) -> Result<Tensor, EstimatorError> {
    let d = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (rows.len(), d), &Device::Cpu)?)
}

/// One encoder with its linear head.
struct Encoder {
    params: Params,
    layers: usize,
}

impl Encoder {
    /// The parameters of an encoder over `inputs` features.
    fn specs(inputs: usize, p: &SupervisedParams) -> Vec<ParamSpec> {
        let mut specs = Vec::new();
        let mut layer = |name: String, out: usize, fan_in: usize| {
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            specs.push(ParamSpec::new(
                format!("{name}_w"),
                &[out, fan_in],
                Init::Uniform(bound),
            ));
            specs.push(ParamSpec::new(
                format!("{name}_b"),
                &[out],
                Init::Uniform(bound),
            ));
        };
        let mut fan_in = inputs;
        for l in 0..p.layers {
            layer(format!("hidden{l}"), p.width, fan_in);
            fan_in = p.width;
        }
        layer("embed".into(), p.embedding_size, fan_in);
        layer("head".into(), 1, p.embedding_size);
        specs
    }

    /// A fresh encoder, its weights drawn from `rng` (PyTorch's default uniform bounds).
    fn new(inputs: usize, p: &SupervisedParams, rng: &mut Rng) -> Result<Self, EstimatorError> {
        Ok(Self {
            params: Params::init_sorted(Self::specs(inputs, p), rng)
                .map_err(candle_core::Error::from)?,
            layers: p.layers,
        })
    }

    /// A copy with weights of its own, to train further.
    fn duplicate(&self, inputs: usize, p: &SupervisedParams) -> Result<Self, EstimatorError> {
        let tensors = self.params.tensors().map_err(candle_core::Error::from)?;
        Ok(Self {
            params: Params::from_tensors(&Self::specs(inputs, p), &tensors)
                .map_err(candle_core::Error::from)?,
            layers: self.layers,
        })
    }

    fn lin(&self, x: &Tensor, name: &str) -> Result<Tensor, EstimatorError> {
        let w = self
            .params
            .tensor(&format!("{name}_w"))
            .map_err(candle_core::Error::from)?;
        let b = self
            .params
            .tensor(&format!("{name}_b"))
            .map_err(candle_core::Error::from)?;
        Ok(linear(x, w, b)?)
    }

    /// Embeddings `[N, E]` and head outputs `[N]`.
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor), EstimatorError> {
        let mut h = x.clone();
        for l in 0..self.layers {
            h = self.lin(&h, &format!("hidden{l}"))?.relu()?;
        }
        let emb = self.lin(&h, "embed")?;
        let out = self.lin(&emb, "head")?.squeeze(1)?;
        Ok((emb, out))
    }

    /// Full-batch Adam on MSE plus `rank_weight` × the pairwise logistic ranking loss.
    fn train(
        &self,
        x: &Tensor,
        y: &[f32],
        p: &SupervisedParams,
        steps: usize,
        rng: &mut Rng,
    ) -> Result<(), EstimatorError> {
        let n = y.len();
        let vars: Vec<Var> = self.params.iter().map(|(_, v)| v.clone()).collect();
        let mut adam = Adam::new(
            vars.iter().map(|v| v.elem_count()),
            p.lr as f32,
            p.weight_decay as f32,
        );
        let yt = Tensor::from_vec(y.to_vec(), n, &Device::Cpu)?;
        // Regression only (`rank_weight = 0`): no pairs are drawn, so `rng` is not advanced.
        let ranking = (p.rank_weight > 0.0)
            .then(|| PairwiseRankLoss::new(y, p.rank_pairs, rng))
            .filter(|r| r.pairs() > 0);
        for _ in 0..steps {
            let (_, out) = self.forward(x)?;
            let mut loss = candle_nn::loss::mse(&out, &yt)?;
            if let Some(ranking) = &ranking {
                loss = (loss + (ranking.surrogate(&out)? * p.rank_weight)?)?;
            }
            adam_step(&vars, &loss.backward()?, &mut adam, 0.0)?;
        }
        Ok(())
    }
}

impl SupervisedEmProx {
    /// Fits afresh, or, with `warm_steps` and a previous fit, continues its encoders.
    fn fit_from<S: SearchSpace>(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
        previous: Option<&FittedSupervised>,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let p = &self.params;
        let rows: Vec<Vec<f32>> = cells.iter().map(|c| p.inputs.of(space, c)).collect();
        let x = matrix(&rows)?;
        let (mean, std, y) = standardise(targets);
        let mut encoders = Vec::with_capacity(p.ensemble_size);
        let mut scales = Vec::with_capacity(p.ensemble_size);
        // Each trained encoder's outputs on the training cells: its scale and the kNN's points.
        let mut outputs = Vec::with_capacity(p.ensemble_size);
        let inputs = rows[0].len();
        for m in 0..p.ensemble_size {
            let warm = previous.zip(p.warm_steps).and_then(|(f, s)| {
                f.encoders
                    .get(m)
                    .filter(|_| f.inputs == inputs)
                    .map(|e| (e, s))
            });
            let (e, steps) = match warm {
                Some((e, steps)) => (e.duplicate(inputs, p)?, steps),
                None => (Encoder::new(inputs, p, rng)?, p.steps),
            };
            e.train(&x, &y, p, steps, rng)?;
            let (emb, out) = e.forward(&x)?;
            let ms = emb.sqr()?.sum_all()?.to_scalar::<f32>()? / targets.len() as f32;
            scales.push(ms.sqrt().max(1e-6));
            outputs.push((emb, out));
            encoders.push(e);
        }
        let mut fitted = FittedSupervised {
            features: p.inputs,
            inputs,
            encoders,
            scales,
            knn: Knn::new(1, vec![], vec![]),
            residual: p.residual,
            mean,
            std,
        };
        let (points, head) = fitted.assemble(&outputs)?;
        let y64: Vec<f64> = y.iter().map(|v| *v as f64).collect();
        let (refs, offsets): (Vec<f64>, Vec<f64>) = if p.residual {
            (y64.iter().zip(&head).map(|(t, h)| t - h).collect(), head)
        } else {
            (y64.clone(), vec![0.0; y.len()])
        };
        fitted.knn = Knn::new(p.k.max(1), points, refs);
        if p.k == 0 {
            fitted.knn.k = choose_k(&fitted.knn, &y64, &offsets);
        }
        Ok(Box::new(fitted))
    }
}

/// A fitted `emprox_supervised`.
struct FittedSupervised {
    /// What the encoders read.
    features: Inputs,
    /// Length of the encoders' input.
    inputs: usize,
    encoders: Vec<Encoder>,
    /// Per encoder, the root-mean-square norm of the training embeddings (each encoder's part
    /// of the concatenated embedding is divided by it, so every encoder weighs the same).
    scales: Vec<f32>,
    knn: Knn,
    residual: bool,
    mean: f64,
    std: f64,
}

impl FittedSupervised {
    /// Concatenated, scaled embeddings and the mean head read-out (standardised units).
    fn embed(&self, x: &Tensor) -> Result<(Vec<Vec<f32>>, Vec<f64>), EstimatorError> {
        let outputs = self
            .encoders
            .iter()
            .map(|e| e.forward(x))
            .collect::<Result<Vec<_>, _>>()?;
        self.assemble(&outputs)
    }

    /// The concatenated, scaled embeddings and the mean head read-out from each encoder's
    /// [`Encoder::forward`] outputs.
    fn assemble(
        &self,
        outputs: &[(Tensor, Tensor)],
    ) -> Result<(Vec<Vec<f32>>, Vec<f64>), EstimatorError> {
        let n = outputs.first().map_or(Ok(0), |(emb, _)| emb.dim(0))?;
        let mut points = vec![Vec::new(); n];
        let mut head = vec![0.0; n];
        for ((emb, out), s) in outputs.iter().zip(&self.scales) {
            for (p, row) in points.iter_mut().zip(emb.to_vec2::<f32>()?) {
                p.extend(row.into_iter().map(|v| v / s));
            }
            for (h, o) in head.iter_mut().zip(out.to_vec1::<f32>()?) {
                *h += o as f64 / self.encoders.len() as f64;
            }
        }
        Ok((points, head))
    }
}

/// The k of [`K_CANDIDATES`] (below the training-set size) whose leave-one-out predictions
/// (plus `offsets`) rank `truth` best; the smallest on ties.
fn choose_k(knn: &Knn, truth: &[f64], offsets: &[f64]) -> usize {
    let ks: Vec<usize> = K_CANDIDATES
        .iter()
        .copied()
        .filter(|&k| k < knn.points.len())
        .collect();
    let mut best = (f64::NEG_INFINITY, 1);
    for (&k, loo) in ks.iter().zip(knn.leave_one_out(&ks)) {
        let pred: Vec<f64> = loo.iter().zip(offsets).map(|(p, o)| p + o).collect();
        let tau = kendall_tau(&pred, truth);
        if tau.is_finite() && tau > best.0 {
            best = (tau, k);
        }
    }
    best.1
}

impl<S: SearchSpace> Estimator<S> for SupervisedEmProx {
    fn name(&self) -> &'static str {
        "emprox_supervised"
    }

    fn needs(&self) -> Needs {
        Needs {
            min_train_size: 2,
            unlabelled_archs: 0,
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
            .and_then(|a| a.downcast_ref::<FittedSupervised>());
        self.fit_from(space, cells, targets, rng, prev)
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedSupervised {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        if cells.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Vec<f32>> = cells.iter().map(|c| self.features.of(space, c)).collect();
        let (points, head) = self.embed(&matrix(&rows)?)?;
        let near = self.knn.try_predict(&points)?;
        Ok(near
            .iter()
            .zip(head)
            .map(|(k, h)| {
                let z = if self.residual { k + h } else { *k };
                self.mean + self.std * z
            })
            .collect())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
