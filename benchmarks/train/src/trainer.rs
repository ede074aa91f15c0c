//! Training one network: SGD with (Nesterov) momentum and weight decay, a cosine learning rate
//! per step, optional label smoothing, a seeded batch order; accuracy on the validation and
//! test splits at the end.

use crate::config::TrainingConfig;
use crate::images::{Images, Splits};
use crate::network::{CellGraph, Network};
use crate::ops::Params;
use candle_core::{Device, Tensor, Var};
use emprox_benchmarks::seed;
use rand::Rng as _;
use std::time::Instant;

/// What one training produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Validation accuracy (%) after the last epoch.
    pub val_acc: f64,
    /// Test accuracy (%) after the last epoch.
    pub test_acc: f64,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Number of scalar parameters.
    pub params: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Training images processed (epochs × images per epoch).
    pub images_seen: usize,
    /// Wall seconds spent training (excludes the final evaluation).
    pub train_seconds: f64,
    /// Wall seconds of training plus evaluation.
    pub total_seconds: f64,
}

/// Why a training failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The loss or a parameter became NaN or infinite (ReLU maps NaN to 0, so a NaN can hide
    /// in the weights while the loss stays finite: both are checked).
    #[error("training diverged: {what} at epoch {epoch}, step {step}")]
    Diverged {
        /// What was found, e.g. `loss is NaN`.
        what: String,
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the run (0-based).
        step: usize,
        /// Seconds spent before diverging.
        seconds: f64,
    },
    /// candle returned an error (a bug or an impossible shape).
    #[error("candle error: {message}")]
    Candle {
        /// The message.
        message: String,
        /// Seconds spent before failing.
        seconds: f64,
    },
    /// Stopped between two steps by an interruption
    /// ([`emprox_benchmarks::command::interrupt_all`], a library's Ctrl-C; after the `emprox`
    /// command's [`emprox_benchmarks::command::stop_all`] the training never returns).
    #[error("interrupted")]
    Interrupted {
        /// Seconds spent before stopping.
        seconds: f64,
    },
}

/// The seeds of one training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainSeeds {
    /// Seeds the weight initialisation.
    pub init: u64,
    /// Seeds the batch order.
    pub order: u64,
}

/// Where a training stopped: enough to continue it bit for bit (the weights, the optimiser's
/// momentum buffers, the epoch and step reached; the batch order is replayed from its seed and
/// the learning-rate schedule is planned for `config.epochs` from the start).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Epochs trained.
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: usize,
    /// Every parameter, in creation order, then the batch norms' running estimates.
    pub params: Vec<Vec<f32>>,
    /// The momentum buffer of each trainable parameter (none before its first step).
    pub buffers: Vec<Option<Vec<f32>>>,
}

const MAGIC: &[u8; 8] = b"EMPXCKP1";

fn put_u64(out: &mut Vec<u8>, x: usize) {
    out.extend_from_slice(&(x as u64).to_le_bytes());
}

fn get_u64(rest: &mut &[u8]) -> Option<usize> {
    let (h, t) = rest.split_first_chunk::<8>()?;
    *rest = t;
    usize::try_from(u64::from_le_bytes(*h)).ok()
}

/// A list of optional vectors: its length, then each as 0 (none) or its length + 1 and its
/// values.
fn put_list<'a>(out: &mut Vec<u8>, list: impl ExactSizeIterator<Item = Option<&'a Vec<f32>>>) {
    put_u64(out, list.len());
    for v in list {
        match v {
            Some(v) => {
                put_u64(out, v.len() + 1);
                out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            }
            None => put_u64(out, 0),
        }
    }
}

fn get_list(rest: &mut &[u8]) -> Option<Vec<Option<Vec<f32>>>> {
    let n = get_u64(rest)?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(match get_u64(rest)? {
            0 => None,
            l => {
                let (h, t) = rest.split_at_checked((l - 1).checked_mul(4)?)?;
                *rest = t;
                Some(
                    h.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
        });
    }
    Some(out)
}

impl Checkpoint {
    /// The checkpoint as bytes (little-endian; read back by [`Checkpoint::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_u64(&mut out, self.epoch);
        put_u64(&mut out, self.step);
        put_list(&mut out, self.params.iter().map(Some));
        put_list(&mut out, self.buffers.iter().map(Option::as_ref));
        out
    }

    /// Reads [`Checkpoint::to_bytes`]' output (`None`: not a whole checkpoint).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes.strip_prefix(MAGIC)?;
        let (epoch, step) = (get_u64(&mut rest)?, get_u64(&mut rest)?);
        let params = get_list(&mut rest)?
            .into_iter()
            .collect::<Option<Vec<_>>>()?;
        let buffers = get_list(&mut rest)?;
        rest.is_empty().then_some(Checkpoint {
            epoch,
            step,
            params,
            buffers,
        })
    }
}

/// Trains `cell` on `splits` under `config`; a pure function of its arguments apart from the
/// times reported.
pub fn train(
    cell: &CellGraph,
    config: &TrainingConfig,
    splits: &Splits,
    seeds: TrainSeeds,
) -> Result<TrainReport, TrainError> {
    train_from(cell, config, splits, seeds, config.epochs, None).map(|(r, _)| r)
}

/// [`train`] from `from` (a checkpoint of the same cell, config and seeds; `None`: from the
/// start) up to epoch `until` (at most `config.epochs`), under the learning-rate schedule of
/// the whole `config.epochs`: training to `until` in several such pieces gives, bit for bit,
/// what one piece gives. The report counts this piece's images and seconds; the checkpoint
/// continues it.
pub fn train_from(
    cell: &CellGraph,
    config: &TrainingConfig,
    splits: &Splits,
    seeds: TrainSeeds,
    until: usize,
    from: Option<&Checkpoint>,
) -> Result<(TrainReport, Checkpoint), TrainError> {
    train_pieces(cell, config, splits, seeds, until, from).map(|(r, c, _)| (r, c))
}

/// [`train`], keeping the trained network (`emprox export`).
pub fn train_network(
    cell: &CellGraph,
    config: &TrainingConfig,
    splits: &Splits,
    seeds: TrainSeeds,
) -> Result<(TrainReport, Network), TrainError> {
    train_pieces(cell, config, splits, seeds, config.epochs, None).map(|(r, _, n)| (r, n))
}

/// [`train_from`] with the network it trained.
fn train_pieces(
    cell: &CellGraph,
    config: &TrainingConfig,
    splits: &Splits,
    seeds: TrainSeeds,
    until: usize,
    from: Option<&Checkpoint>,
) -> Result<(TrainReport, Checkpoint, Network), TrainError> {
    let start = Instant::now();
    let candle_err = |e: candle_core::Error| TrainError::Candle {
        message: e.to_string(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let params = Params::new(seed::stream(seeds.init, "weights"));
    let net = Network::new(
        params,
        cell,
        config.channels,
        config.cells_per_stage,
        splits.train.channels,
        splits.train.classes,
    )
    .map_err(candle_err)?;
    let vars: Vec<Var> = net
        .params()
        .params()
        .in_creation_order()
        .map(|(_, v)| v.clone())
        .collect();
    let mut sgd = Sgd::new(config);
    // What a checkpoint holds: the trainable parameters and the running estimates.
    let state: Vec<Var> = vars.iter().chain(net.params().buffers()).cloned().collect();
    let start_epoch = from.map_or(0, |c| c.epoch);
    if let Some(c) = from {
        let bad = |what: &str| TrainError::Candle {
            message: format!("the checkpoint does not fit this network: {what}"),
            seconds: start.elapsed().as_secs_f64(),
        };
        if c.params.len() != state.len() || c.buffers.len() != vars.len() || c.epoch >= until {
            return Err(bad("parameter count or epoch"));
        }
        for (v, p) in state.iter().zip(&c.params) {
            if p.len() != v.elem_count() {
                return Err(bad("a parameter's size"));
            }
            v.set(&Tensor::from_vec(p.clone(), v.shape(), &Device::Cpu).map_err(candle_err)?)
                .map_err(candle_err)?;
        }
        sgd.buffers = c.buffers.clone();
    }
    let mut order_rng = seed::stream(seeds.order, "batches");
    let mut augment = config.augment.then(|| seed::stream(seeds.order, "augment"));
    let n_train = match config.max_train_images {
        0 => splits.train.len(),
        m => m.min(splits.train.len()),
    };
    let batches_per_epoch = n_train.div_ceil(config.batch_size);
    let total_steps = batches_per_epoch * config.epochs;
    let mut step = from.map_or(0, |c| c.step);
    let mut final_loss = f64::NAN;
    for epoch in 0..until {
        let mut idx: Vec<usize> = (0..splits.train.len()).collect();
        for i in (1..idx.len()).rev() {
            let j = order_rng.random_range(0..=i);
            idx.swap(i, j);
        }
        if epoch < start_epoch {
            // Trained before the checkpoint: only its batch order and augmentations are
            // drawn again.
            if let Some(rng) = augment.as_mut() {
                for _ in 0..n_train {
                    shift_and_flip(&splits.train, rng);
                }
            }
            continue;
        }
        idx.truncate(n_train);
        let mut loss_sum = 0.0;
        for batch in idx.chunks(config.batch_size) {
            if emprox_benchmarks::command::interrupted() {
                let seconds = emprox_benchmarks::command::cut_short(start).cost_seconds;
                return Err(TrainError::Interrupted { seconds });
            }
            let lr = config.lr
                * 0.5
                * (1.0 + (std::f64::consts::PI * step as f64 / total_steps as f64).cos());
            let x = match augment.as_mut() {
                Some(rng) => augmented_batch(&splits.train, batch, rng),
                None => batch_tensor(&splits.train, batch),
            }
            .map_err(candle_err)?;
            let loss = train_step(&net, &vars, &mut sgd, &x, &splits.train, batch, config, lr)
                .map_err(candle_err)?;
            if !loss.is_finite() {
                return Err(TrainError::Diverged {
                    what: format!("loss is {loss}"),
                    epoch,
                    step,
                    seconds: start.elapsed().as_secs_f64(),
                });
            }
            loss_sum += loss * batch.len() as f64;
            step += 1;
        }
        final_loss = loss_sum / n_train as f64;
        if let Some(name) = non_finite_param(&net).map_err(candle_err)? {
            return Err(TrainError::Diverged {
                what: format!("parameter {name} is NaN or infinite"),
                epoch,
                step,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let eval_batch = config.batch_size.clamp(64, 256);
    let val_acc = accuracy(&net, &splits.val, eval_batch).map_err(candle_err)?;
    let test_acc = accuracy(&net, &splits.test, eval_batch).map_err(candle_err)?;
    let params = state
        .iter()
        .map(|v| v.as_tensor().flatten_all()?.to_vec1::<f32>())
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(candle_err)?;
    let checkpoint = Checkpoint {
        epoch: until,
        step,
        params,
        buffers: std::mem::take(&mut sgd.buffers),
    };
    let report = TrainReport {
        val_acc,
        test_acc,
        final_train_loss: final_loss,
        params: net.params().count(),
        steps: step,
        images_seen: n_train * (until - start_epoch),
        train_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
    };
    Ok((report, checkpoint, net))
}

/// The name of the first parameter holding a NaN or infinite value.
fn non_finite_param(net: &Network) -> candle_core::Result<Option<String>> {
    for (name, v) in net.params().params().in_creation_order() {
        let s = v.as_tensor().detach().sum_all()?.to_scalar::<f32>()?;
        if !s.is_finite() {
            return Ok(Some(name.to_string()));
        }
    }
    Ok(None)
}

fn batch_tensor(set: &Images, idx: &[usize]) -> candle_core::Result<Tensor> {
    let s = set.values_per_image();
    let mut v = Vec::with_capacity(idx.len() * s);
    for &i in idx {
        v.extend_from_slice(&set.pixels[i * s..(i + 1) * s]);
    }
    let shape = (idx.len(), set.channels, set.height, set.width);
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// The images at `idx`, each shifted by a random offset of up to an eighth of its side in each
/// direction (a random crop of the zero-padded image: zero is the training mean after
/// standardisation) and mirrored left to right with probability ½; three draws from `rng` per
/// image, in batch order.
fn augmented_batch(
    set: &Images,
    idx: &[usize],
    rng: &mut seed::Rng,
) -> candle_core::Result<Tensor> {
    let (c, h, w) = (set.channels, set.height, set.width);
    let s = set.values_per_image();
    let mut v = vec![0f32; idx.len() * s];
    for (out, &i) in v.chunks_mut(s).zip(idx) {
        let img = &set.pixels[i * s..(i + 1) * s];
        let (dy, dx, flip) = shift_and_flip(set, rng);
        for ch in 0..c {
            for y in 0..h as i64 {
                let sy = y + dy;
                if !(0..h as i64).contains(&sy) {
                    continue;
                }
                for x in 0..w as i64 {
                    let sx = if flip { w as i64 - 1 - x } else { x } + dx;
                    if (0..w as i64).contains(&sx) {
                        out[(ch * h + y as usize) * w + x as usize] =
                            img[(ch * h + sy as usize) * w + sx as usize];
                    }
                }
            }
        }
    }
    Tensor::from_vec(v, (idx.len(), c, h, w), &Device::Cpu)
}

/// One image's augmentation: a shift of up to an eighth of each side, and a mirror flip.
fn shift_and_flip(set: &Images, rng: &mut seed::Rng) -> (i64, i64, bool) {
    let (ph, pw) = (
        (set.height / 8).max(1) as i64,
        (set.width / 8).max(1) as i64,
    );
    let dy = rng.random_range(-ph..=ph);
    let dx = rng.random_range(-pw..=pw);
    (dy, dx, rng.random_bool(0.5))
}

#[allow(clippy::too_many_arguments)]
fn train_step(
    net: &Network,
    vars: &[Var],
    sgd: &mut Sgd,
    x: &Tensor,
    set: &Images,
    batch: &[usize],
    config: &TrainingConfig,
    lr: f64,
) -> candle_core::Result<f64> {
    let k = set.classes;
    let eps = config.label_smoothing as f32;
    let mut target = vec![eps / k as f32; batch.len() * k];
    for (r, &i) in batch.iter().enumerate() {
        target[r * k + set.labels[i] as usize] += 1.0 - eps;
    }
    let target = Tensor::from_vec(target, (batch.len(), k), &Device::Cpu)?;
    let logits = net.forward(x, true)?;
    let logp = candle_nn::ops::log_softmax(&logits, 1)?;
    let loss = ((logp * target)?.sum_all()? * (-1.0 / batch.len() as f64))?;
    let value = loss.to_scalar::<f32>()? as f64;
    if !value.is_finite() {
        return Ok(value);
    }
    let grads = loss.backward()?;
    sgd.step(vars, &grads, lr)?;
    Ok(value)
}

/// Accuracy (%) of `net` on `set`, in evaluation mode, in batches of `batch` images (small
/// batches keep each op's fresh output small: large fresh allocations cost page faults).
pub fn accuracy(net: &Network, set: &Images, batch: usize) -> candle_core::Result<f64> {
    let idx: Vec<usize> = (0..set.len()).collect();
    let mut correct = 0usize;
    for chunk in idx.chunks(batch.max(1)) {
        let pred: Vec<u32> = net
            .forward(&batch_tensor(set, chunk)?, false)?
            .argmax(1)?
            .to_vec1()?;
        correct += chunk
            .iter()
            .zip(pred)
            .filter(|(&i, p)| set.labels[i] as u32 == *p)
            .count();
    }
    Ok(100.0 * correct as f64 / set.len().max(1) as f64)
}

/// PyTorch's SGD: d = g + wd·p; buf = m·buf + d (buf = d at the first step);
/// p -= lr·(d + m·buf) with Nesterov, lr·buf without. Done on plain vectors: a few hundred
/// tiny tensor ops per step would cost more than the arithmetic.
struct Sgd {
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    buffers: Vec<Option<Vec<f32>>>,
}

impl Sgd {
    fn new(config: &TrainingConfig) -> Self {
        Self {
            momentum: config.momentum as f32,
            nesterov: config.nesterov,
            weight_decay: config.weight_decay as f32,
            buffers: Vec::new(),
        }
    }

    fn step(
        &mut self,
        vars: &[Var],
        grads: &candle_core::backprop::GradStore,
        lr: f64,
    ) -> candle_core::Result<()> {
        let (m, wd, lr) = (self.momentum, self.weight_decay, lr as f32);
        self.buffers.resize(vars.len(), None);
        for (var, buf) in vars.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = grads.get(var) else { continue };
            let mut g: Vec<f32> = g.flatten_all()?.to_vec1()?;
            let mut p: Vec<f32> = var.as_tensor().flatten_all()?.to_vec1()?;
            for (gi, &pi) in g.iter_mut().zip(&p) {
                *gi += wd * pi;
            }
            if m > 0.0 {
                let b = match buf {
                    None => buf.insert(g.clone()),
                    Some(b) => {
                        for (bi, &gi) in b.iter_mut().zip(&g) {
                            *bi = m * *bi + gi;
                        }
                        b
                    }
                };
                for ((pi, &gi), &bi) in p.iter_mut().zip(&g).zip(b.iter()) {
                    let u = if self.nesterov { gi + m * bi } else { bi };
                    *pi -= lr * u;
                }
            } else {
                for (pi, &gi) in p.iter_mut().zip(&g) {
                    *pi -= lr * gi;
                }
            }
            var.set(&Tensor::from_vec(p, var.shape(), &Device::Cpu)?)?;
        }
        Ok(())
    }
}
