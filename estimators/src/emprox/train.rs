//! Training of the encoder-decoder: Adam with L2 weight decay (PyTorch `Adam(weight_decay)`),
//! global gradient-norm clipping, seeded shuffling.

use super::model::{shifted, tokens, Seq2Seq};
use crate::error::EstimatorError;
use candle_core::{Device, Tensor};
use emprox_benchmarks::seed::Rng;
use emprox_kernels::Adam;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Optimisation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Passes over the data (ignored when `steps` is set).
    pub epochs: usize,
    /// Train for exactly this many Adam steps instead of `epochs` passes: the cost of a fit then
    /// no longer grows with the training-set size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Sequences per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay (added to the gradient, as PyTorch's Adam does).
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Weight of the regression loss; the reconstruction loss gets `1 − trade_off`.
    pub trade_off: f64,
}

/// Trains `net` on `seqs`; `targets` (in [0, 1]) feed the regression head when `trade_off > 0`.
/// Returns the mean loss of the last epoch.
pub fn train(
    net: &Seq2Seq,
    seqs: &[Vec<u32>],
    targets: Option<&[f32]>,
    s: &TrainSettings,
    rng: &mut Rng,
) -> Result<f64, EstimatorError> {
    train_observed(net, seqs, targets, s, rng, &mut |_: &Embedded| Ok(()))
}

/// The embeddings of one training batch, as the encoder made them during training.
pub struct Embedded<'a> {
    /// The pass over the data (0-based).
    pub epoch: usize,
    /// The batch's sequence indices.
    pub indices: &'a [usize],
    /// Their embeddings `[B, E]`.
    pub emb: &'a Tensor,
}

/// [`train`], showing every batch's training-time embeddings to `observe` (EmProx keeps them as
/// kNN reference points with `reference_epochs`).
pub fn train_observed(
    net: &Seq2Seq,
    seqs: &[Vec<u32>],
    targets: Option<&[f32]>,
    s: &TrainSettings,
    rng: &mut Rng,
    observe: &mut dyn FnMut(&Embedded) -> Result<(), EstimatorError>,
) -> Result<f64, EstimatorError> {
    if seqs.is_empty() || s.epochs == 0 || s.steps == Some(0) {
        return Ok(f64::NAN);
    }
    let use_head = s.trade_off > 0.0 && net.shape.head_layers > 0;
    if use_head && targets.is_none() {
        return Err(EstimatorError::Data(
            "the regression loss needs targets".into(),
        ));
    }
    let vars: Vec<_> = net.params().iter().map(|(_, v)| v.clone()).collect();
    let mut adam = Adam::new(
        vars.iter().map(|v| v.elem_count()),
        s.lr as f32,
        s.weight_decay as f32,
    );
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    let mut last = 0.0;
    let mut taken = 0usize;
    let budget = s.steps.unwrap_or(usize::MAX);
    let epochs = if s.steps.is_some() {
        usize::MAX
    } else {
        s.epochs
    };
    for epoch in 0..epochs {
        if taken >= budget {
            break;
        }
        order.shuffle(rng);
        let (mut sum, mut count) = (0.0, 0usize);
        for chunk in order.chunks(s.batch_size.max(1)) {
            if taken >= budget {
                break;
            }
            taken += 1;
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
            let t = tokens(&batch)?;
            let dec_in = tokens(&shifted(&batch))?;
            let f = net.encode(&t, true)?;
            observe(&Embedded {
                epoch,
                indices: chunk,
                emb: &f.emb,
            })?;
            let logits = net.decode(&f, &dec_in, true)?;
            let rec = candle_nn::loss::cross_entropy(&logits, &t.flatten_all()?)?;
            let loss = if use_head {
                let y: Vec<f32> = chunk.iter().map(|&i| targets.unwrap()[i]).collect();
                let y = Tensor::from_vec(y, chunk.len(), &Device::Cpu)?;
                let pred = net.head(&f.emb)?.expect("head");
                let mse = candle_nn::loss::mse(&pred, &y)?;
                ((rec * (1.0 - s.trade_off))? + (mse * s.trade_off)?)?
            } else {
                rec
            };
            sum += loss.to_scalar::<f32>()? as f64;
            count += 1;
            let grads = loss.backward()?;
            adam_step(&vars, &grads, &mut adam, s.grad_clip)?;
        }
        if count > 0 {
            last = sum / count as f64;
        }
    }
    Ok(last)
}

/// One Adam step of `vars` with their gradients in `grads`, the gradient's global norm clipped
/// at `grad_clip` (0: no clipping). Variables without a gradient keep their weights.
pub(crate) fn adam_step(
    vars: &[candle_core::Var],
    grads: &candle_core::backprop::GradStore,
    adam: &mut Adam,
    grad_clip: f64,
) -> Result<(), EstimatorError> {
    let mut gs: Vec<Option<Vec<f32>>> = Vec::with_capacity(vars.len());
    let mut norm2 = 0f64;
    for v in vars {
        let g = match grads.get(v) {
            Some(g) => Some(g.flatten_all()?.to_vec1::<f32>()?),
            None => None,
        };
        if let Some(g) = &g {
            norm2 += g.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>();
        }
        gs.push(g);
    }
    let norm = norm2.sqrt();
    let clip = if grad_clip > 0.0 && norm > grad_clip {
        (grad_clip / (norm + 1e-6)) as f32
    } else {
        1.0
    };
    adam.next_step();
    for (k, v) in vars.iter().enumerate() {
        let Some(g) = &gs[k] else { continue };
        let mut w = v.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        adam.update(k, &mut w, g, clip);
        v.set(&Tensor::from_vec(w, v.dims(), &Device::Cpu)?)?;
    }
    Ok(())
}
