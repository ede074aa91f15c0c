//! NAS-Bench-201's ReLU → convolution → batch norm (training mode) as one candle op.
//!
//! The same arithmetic as [`crate::conv::relu_conv2d`] followed by
//! [`crate::batch_norm::batch_norm_train`], bit for bit, but one node of the graph instead of
//! two: candle's backward pass adds every gradient into a fresh zero tensor, so the
//! convolution's output gradient (a full activation) is neither allocated twice nor added to
//! zeros. The convolution's output is kept inside the op for the backward pass, as the batch
//! norm's input was.

use crate::batch_norm::{self, BatchStats, Dims};
use crate::conv::{Conv, OutGrad};
use crate::storage::{f32_slice, with_f32};
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::{Arc, Mutex};

/// `batch_norm_train(relu_conv2d(x, weight, stride, padding), gamma, beta, eps)` as one op:
/// the output and the batch statistics (for running estimates).
pub fn relu_conv_bn_train(
    x: &Tensor,
    weight: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    (stride, padding): (usize, usize),
    eps: f64,
) -> Result<(Tensor, BatchStats)> {
    let saved = Arc::new(Mutex::new(Saved::default()));
    let op = ConvBn {
        conv: Conv::new(stride, padding, true),
        eps,
        saved: saved.clone(),
    };
    // γ and β as one (2, C) input: a custom op takes at most three.
    let affine = Tensor::stack(&[gamma, beta], 0)?;
    let y = x
        .contiguous()?
        .apply_op3(&weight.contiguous()?, &affine, op)?;
    let stats = saved.lock().expect("saved").stats.clone();
    Ok((y, stats))
}

/// What the forward pass keeps for the backward pass.
#[derive(Default)]
struct Saved {
    /// The convolution's output (the batch norm's input).
    z: Vec<f32>,
    /// Its shape.
    z_dims: [usize; 4],
    stats: BatchStats,
}

struct ConvBn {
    conv: Conv,
    eps: f64,
    saved: Arc<Mutex<Saved>>,
}

impl CustomOp3 for ConvBn {
    fn name(&self) -> &'static str {
        "relu-conv-bn"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, wt, affine) = (
            f32_slice(s1, l1, self.name())?,
            f32_slice(s2, l2, self.name())?,
            f32_slice(s3, l3, self.name())?,
        );
        // Each image's channel moments (for batch norm's statistics) taken while the image is
        // in cache.
        let mut sums = Vec::new();
        let mut each = |image: &[f32]| {
            let hw = image.len() / (l2.dims()[0].max(1));
            batch_norm::push_moments(hw, image, &mut sums)
        };
        let (z, z_dims) =
            self.conv
                .run_forward((x, l1.dims()), (wt, l2.dims()), Some(&mut each))?;
        let d = Dims::of(&z_dims)?;
        if affine.len() != 2 * d.c {
            bail!("relu-conv-bn: γ and β must have {} values each", d.c);
        }
        let (y, stats) = batch_norm::forward(d, &z, affine.split_at(d.c), self.eps, Some(&sums));
        *self.saved.lock().expect("saved") = Saved { z, z_dims, stats };
        Ok((CpuStorage::F32(y), Shape::from(z_dims.to_vec())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        affine: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.saved.lock().expect("saved");
        let d = Dims::of(&saved.z_dims)?;
        let gamma: Vec<f32> = affine.get(0)?.to_vec1()?;
        let grad = grad.contiguous()?;
        let op = self.name();
        let want_dx = x.track_op();
        let (dx, dw, dgamma, dbeta) = with_f32(&grad, op, |gs| {
            let (z, st) = (&saved.z, &saved.stats);
            let (terms, dgamma, dbeta) = batch_norm::grad_terms(d, z, gs, &gamma, st, self.eps);
            // The convolution's output gradient, computed a few images at a time as the
            // convolution's backward pass reads it.
            let fill = |first: usize, _count: usize, out: &mut [f32]| {
                batch_norm::input_grad(d, &terms, z, gs, first, out)
            };
            let (dx, dw) = with_f32(x, op, |xs| {
                with_f32(weight, op, |ws| {
                    let (x, w) = ((xs, x.dims()), (ws, weight.dims()));
                    self.conv
                        .run_backward(x, w, OutGrad::Computed(&fill), want_dx)
                })
            })???;
            Ok::<_, candle_core::Error>((dx, dw, dgamma, dbeta))
        })??;
        let dev = x.device();
        let daffine = [dgamma, dbeta].concat();
        Ok((
            dx.map(|dx| Tensor::from_vec(dx, x.shape(), dev))
                .transpose()?,
            Some(Tensor::from_vec(dw, weight.shape(), dev)?),
            Some(Tensor::from_vec(daffine, affine.shape(), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch_norm::batch_norm_train;
    use crate::conv::relu_conv2d;
    use crate::testing::{grads_of_weighted_square, input, values};
    use candle_core::Var;

    /// Bit for bit the two ops it fuses: output, statistics, and the gradients of x, the
    /// weight, γ and β.
    #[test]
    fn fused_op_is_relu_conv_then_batch_norm_to_the_bit() {
        for (c_in, c_out, k, stride, hw) in [
            (3, 4, 3, 1, 6),
            (4, 16, 3, 1, 8),
            (2, 3, 1, 1, 5),
            (3, 5, 3, 2, 7),
        ] {
            let x = Var::from_tensor(&input(&[3, c_in, hw, hw], 1)).unwrap();
            let w = Var::from_tensor(&input(&[c_out, c_in, k, k], 2)).unwrap();
            let gamma = Var::from_tensor(&(input(&[c_out], 3) + 1.0).unwrap()).unwrap();
            let beta = Var::from_tensor(&input(&[c_out], 4)).unwrap();
            let eps = 1e-5;
            let run = |fused: bool| {
                let (y, st) = if fused {
                    relu_conv_bn_train(
                        x.as_tensor(),
                        w.as_tensor(),
                        gamma.as_tensor(),
                        beta.as_tensor(),
                        (stride, k / 2),
                        eps,
                    )
                    .unwrap()
                } else {
                    let z = relu_conv2d(x.as_tensor(), w.as_tensor(), stride, k / 2).unwrap();
                    batch_norm_train(&z, gamma.as_tensor(), beta.as_tensor(), eps).unwrap()
                };
                let weights = input(y.dims(), 5);
                let g = grads_of_weighted_square(&y, &weights);
                let bits = |t: &Tensor| values(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                let stats: Vec<u32> = st.mean.iter().chain(&st.var).map(|v| v.to_bits()).collect();
                (
                    bits(&y),
                    stats,
                    [
                        x.as_tensor(),
                        w.as_tensor(),
                        gamma.as_tensor(),
                        beta.as_tensor(),
                    ]
                    .map(|t| bits(g.get(t).unwrap())),
                )
            };
            let (f, r) = (run(true), run(false));
            assert_eq!(f.0, r.0, "output, c {c_in}->{c_out} k {k} s {stride}");
            assert_eq!(f.1, r.1, "statistics");
            for (i, name) in ["x", "weight", "gamma", "beta"].iter().enumerate() {
                assert_eq!(
                    f.2[i], r.2[i],
                    "gradient of {name}, c {c_in}->{c_out} k {k} s {stride}"
                );
            }
        }
    }
}
