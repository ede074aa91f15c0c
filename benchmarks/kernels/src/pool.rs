//! 3×3 average pooling, stride 1, padding 1, padded positions not counted (PyTorch's
//! `AvgPool2d(3, 1, 1, count_include_pad=False)`, NAS-Bench-201's `avg_pool_3x3`), as one op.
//!
//! Each output is a 3×3 box sum times one over the number of in-image pixels in its window.
//! The box sum is its own adjoint, so the backward pass is the box sum of the gradient times the
//! same factors. Written with tensor ops it is a dozen nodes (pads, shifted views, adds), each
//! allocating a copy of the input in both passes.

use crate::storage::{f32_slice, with_f32};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// 3×3 average pooling of `x` (N, C, H, W), stride 1, padding 1, averaging over the in-image
/// pixels of each window only.
pub fn avg_pool_3x3(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(AvgPool3x3)
}

struct AvgPool3x3;

/// One over the number of in-image pixels in each 3×3 window of an `h×w` image.
fn inverse_counts(h: usize, w: usize) -> Vec<f32> {
    let span = |i: usize, n: usize| (1 + usize::from(i > 0) + usize::from(i + 1 < n)) as f32;
    (0..h * w)
        .map(|i| 1.0 / (span(i / w, h) * span(i % w, w)))
        .collect()
}

/// For each `h×w` plane: `dst = box3(src ⊙ pre) ⊙ post`, where box3 sums each 3×3 window (zero
/// outside the image) and `pre`/`post` (one value per pixel) are applied when given.
fn box_sums(
    src: &[f32],
    (h, w): (usize, usize),
    pre: Option<&[f32]>,
    post: Option<&[f32]>,
) -> Vec<f32> {
    let mut dst = vec![0f32; src.len()];
    if src.is_empty() {
        return dst;
    }
    let mut rows = vec![0f32; h * w];
    let mut scaled = vec![0f32; w];
    for (s, d) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(h * w)) {
        // Row sums.
        for (i, (s, r)) in s.chunks_exact(w).zip(rows.chunks_exact_mut(w)).enumerate() {
            let s = match pre {
                Some(f) => {
                    for ((o, &v), &k) in scaled.iter_mut().zip(s).zip(&f[i * w..]) {
                        *o = v * k;
                    }
                    &scaled[..]
                }
                None => s,
            };
            r.copy_from_slice(s);
            for j in 1..w {
                r[j] += s[j - 1];
            }
            for j in 0..w - 1 {
                r[j] += s[j + 1];
            }
        }
        // Column sums of the row sums.
        for i in 0..h {
            let out = &mut d[i * w..(i + 1) * w];
            out.copy_from_slice(&rows[i * w..(i + 1) * w]);
            for di in [i.wrapping_sub(1), i + 1] {
                if di < h {
                    for (o, &v) in out.iter_mut().zip(&rows[di * w..(di + 1) * w]) {
                        *o += v;
                    }
                }
            }
            if let Some(f) = post {
                for (o, &k) in out.iter_mut().zip(&f[i * w..]) {
                    *o *= k;
                }
            }
        }
    }
    dst
}

impl CustomOp1 for AvgPool3x3 {
    fn name(&self) -> &'static str {
        "avg-pool-3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = l.shape().dims4()?;
        let x = f32_slice(s, l, self.name())?;
        let inv = inverse_counts(h, w);
        let y = box_sums(x, (h, w), None, Some(&inv));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = x.dims4()?;
        let inv = inverse_counts(h, w);
        let dx = with_f32(&grad.contiguous()?, self.name(), |g| {
            box_sums(g, (h, w), Some(&inv), None)
        })?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, grads_of_weighted_square, input, values};
    use candle_core::Var;

    /// The same pooling as sums of shifted views of the zero-padded input (tensor ops).
    fn reference(x: &Tensor) -> Tensor {
        let (_, _, h, w) = x.dims4().unwrap();
        let p = x.pad_with_zeros(2, 1, 1).unwrap();
        let rows = ((p.narrow(2, 0, h).unwrap() + p.narrow(2, 1, h).unwrap()).unwrap()
            + p.narrow(2, 2, h).unwrap())
        .unwrap();
        let p = rows.pad_with_zeros(3, 1, 1).unwrap();
        let sums = ((p.narrow(3, 0, w).unwrap() + p.narrow(3, 1, w).unwrap()).unwrap()
            + p.narrow(3, 2, w).unwrap())
        .unwrap();
        let inv = Tensor::from_vec(inverse_counts(h, w), (1, 1, h, w), x.device()).unwrap();
        sums.broadcast_mul(&inv).unwrap()
    }

    #[test]
    fn avg_pool_matches_shifted_views_forward_and_backward() {
        for (i, &(n, c, h, w)) in [
            (2, 3, 5, 6),
            (1, 2, 1, 4),
            (3, 1, 4, 1),
            (2, 2, 2, 2),
            (1, 1, 1, 1),
        ]
        .iter()
        .enumerate()
        {
            let x = Var::from_tensor(&input(&[n, c, h, w], 30 + i as u64)).unwrap();
            let weights = input(&[n, c, h, w], 40 + i as u64);
            let run = |fast: bool| {
                let y = if fast {
                    avg_pool_3x3(x.as_tensor()).unwrap()
                } else {
                    reference(x.as_tensor())
                };
                let g = grads_of_weighted_square(&y, &weights);
                (values(&y), values(g.get(x.as_tensor()).unwrap()))
            };
            let (f, r) = (run(true), run(false));
            let what = format!("{n}x{c}x{h}x{w}");
            assert_close(&f.0, &r.0, 1e-5, &what);
            assert_close(&f.1, &r.1, 1e-5, &what);
        }
    }
}
