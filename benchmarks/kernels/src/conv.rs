//! 2-D convolution, optionally of `relu(x)`, as one candle op with a hand-written backward pass.
//!
//! A few images at a time (about a megabyte of patches), the op unfolds the input into a reused
//! per-thread buffer (im2col, applying the ReLU on the way) and multiplies it by the weights with
//! one single-threaded `gemm`, writing NCHW directly. The backward pass unfolds each chunk again,
//! adds its share of the weight gradient, and folds `wᵀ·grad` back into the input's gradient
//! (col2im), masked by the ReLU. Images are visited in order and `gemm` runs on one thread, so the
//! results do not depend on the thread count. One image's patches at CIFAR size (C = 16, 32×32)
//! are 0.6 MB; a whole batch's would be 38 MB, allocated and zeroed for every convolution.

use crate::matmul::mm;
use crate::storage::{f32_slice, with_f32};
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use std::cell::RefCell;

/// Convolves `x` (N, C_in, H, W) with `weight` (C_out, C_in, k, k), zero padding `padding`,
/// stride `stride`, no bias. Same result as candle's `conv2d` (see the tests).
pub fn conv2d(x: &Tensor, weight: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    Conv::new(stride, padding, false).apply(x, weight)
}

/// `conv2d(relu(x), …)` as one op: the ReLU is applied while unfolding, and its mask while
/// folding the gradient back, so no rectified copy of `x` is made.
pub fn relu_conv2d(x: &Tensor, weight: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    Conv::new(stride, padding, true).apply(x, weight)
}

/// Floats of patches unfolded at a time (1 MiB): as many whole images as fit, at least one.
const CHUNK_FLOATS: usize = 1 << 18;

struct Conv {
    stride: usize,
    padding: usize,
    relu: bool,
    chunk_floats: usize,
}

/// The shapes of one convolution.
#[derive(Clone, Copy)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    c_out: usize,
    k: usize,
    ho: usize,
    wo: usize,
}

impl Geom {
    fn new(x: &[usize], weight: &[usize], conv: &Conv) -> Result<Self> {
        let ([n, c, h, w], [c_out, c_in, k, k2]) = (x, weight) else {
            bail!("conv: x must be (N, C, H, W) and the weight (C_out, C_in, k, k)");
        };
        if c != c_in || k != k2 || h + 2 * conv.padding < *k || w + 2 * conv.padding < *k {
            bail!("conv: shapes {x:?} and {weight:?} do not fit");
        }
        let out = |len: usize| (len + 2 * conv.padding - k) / conv.stride + 1;
        Ok(Geom {
            n: *n,
            c: *c,
            h: *h,
            w: *w,
            c_out: *c_out,
            k: *k,
            ho: out(*h),
            wo: out(*w),
        })
    }

    /// Rows of the patch matrix (C·k·k).
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output pixels per image.
    fn pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// Input values per image.
    fn image(&self) -> usize {
        self.c * self.h * self.w
    }
}

/// Per-thread buffers, reused across calls: patches, a chunk's output or gradient (C_out rows),
/// and the patches' gradient.
#[derive(Default)]
struct Scratch {
    cols: Vec<f32>,
    rows_out: Vec<f32>,
    dcols: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// The first `len` values of `v`, grown (with zeros) as needed.
fn prefix(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len {
        v.resize(len, 0.0);
    }
    &mut v[..len]
}

impl Conv {
    fn new(stride: usize, padding: usize, relu: bool) -> Self {
        Conv {
            stride,
            padding,
            relu,
            chunk_floats: CHUNK_FLOATS,
        }
    }

    fn apply(self, x: &Tensor, weight: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op2(&weight.contiguous()?, self)
    }

    /// Images per chunk.
    fn chunk(&self, g: &Geom) -> usize {
        (self.chunk_floats / (g.rows() * g.pixels()).max(1)).clamp(1, g.n.max(1))
    }

    /// Walks the patch matrix of `nb` images: for each row r = (c, ki, kj) and each (b, oh)
    /// whose input row is inside the image, calls `f(dst, src, len)` where `dst` is the matrix
    /// index of the first in-image column (b, oh, ow_lo), `src` the input index of its pixel,
    /// and `len` the number of in-image columns (consecutive in the matrix, `stride` apart in
    /// the input).
    fn for_each_run(&self, g: &Geom, nb: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (k, s, p) = (g.k, self.stride, self.padding);
        let (h, w, ho, wo) = (g.h, g.w, g.ho, g.wo);
        let ncols = nb * ho * wo;
        for ch in 0..g.c {
            for ki in 0..k {
                for kj in 0..k {
                    let row = (ch * k + ki) * k + kj;
                    // Columns ow with 0 <= ow*s + kj - p < w.
                    let ow_lo = p.saturating_sub(kj).div_ceil(s);
                    let ow_hi = ((w + p - kj).div_ceil(s)).min(wo);
                    if ow_lo >= ow_hi {
                        continue;
                    }
                    for b in 0..nb {
                        let base = (b * g.c + ch) * h * w;
                        for oh in 0..ho {
                            let ih = oh * s + ki;
                            if ih < p || ih - p >= h {
                                continue;
                            }
                            let dst = row * ncols + (b * ho + oh) * wo + ow_lo;
                            let src = base + (ih - p) * w + ow_lo * s + kj - p;
                            f(dst, src, ow_hi - ow_lo);
                        }
                    }
                }
            }
        }
    }

    /// Unfolds the `nb` images `x` into `cols` (rows × nb·pixels), rectified if `self.relu`.
    fn unfold(&self, g: &Geom, x: &[f32], nb: usize, cols: &mut [f32]) {
        cols.fill(0.0);
        let (s, relu) = (self.stride, self.relu);
        self.for_each_run(g, nb, |dst, src, len| {
            let out = &mut cols[dst..dst + len];
            let inp = x[src..].iter().step_by(s);
            match (s, relu) {
                (1, false) => out.copy_from_slice(&x[src..src + len]),
                (1, true) => {
                    for (o, &i) in out.iter_mut().zip(&x[src..src + len]) {
                        *o = i.max(0.0);
                    }
                }
                (_, false) => out.iter_mut().zip(inp).for_each(|(o, &i)| *o = i),
                (_, true) => out.iter_mut().zip(inp).for_each(|(o, &i)| *o = i.max(0.0)),
            }
        });
    }

    /// Folds the patch gradient `dcols` of `nb` images back into their input gradient `dx`
    /// (adding), then masks it by the ReLU of their input `x`.
    fn fold(&self, g: &Geom, x: &[f32], nb: usize, dcols: &[f32], dx: &mut [f32]) {
        let s = self.stride;
        self.for_each_run(g, nb, |col, px, len| {
            for (d, gi) in dx[px..].iter_mut().step_by(s).zip(&dcols[col..col + len]) {
                *d += gi;
            }
        });
        if self.relu {
            for (d, &xi) in dx.iter_mut().zip(x) {
                *d = if xi > 0.0 { *d } else { 0.0 };
            }
        }
    }

    fn forward(&self, g: &Geom, x: &[f32], wt: &[f32], out: &mut [f32], sc: &mut Scratch) {
        let (rows, px, c_out) = (g.rows(), g.pixels(), g.c_out);
        let chunk = self.chunk(g);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let ncols = nb * px;
            let cols = prefix(&mut sc.cols, rows * ncols);
            self.unfold(g, &x[b0 * g.image()..(b0 + nb) * g.image()], nb, cols);
            let dst = &mut out[b0 * c_out * px..(b0 + nb) * c_out * px];
            // One product for the chunk, (C_out, nb·pixels): straight into the output for one
            // image, else into a buffer whose rows then go to NCHW.
            let y = if nb == 1 {
                &mut *dst
            } else {
                prefix(&mut sc.rows_out, c_out * ncols)
            };
            let (ncols_s, rows_s) = (ncols as isize, rows as isize);
            mm(
                (c_out, ncols, rows),
                y,
                (ncols_s, 1),
                false,
                wt,
                (rows_s, 1),
                cols,
                (ncols_s, 1),
            );
            if nb == 1 {
                continue;
            }
            let y = &sc.rows_out;
            for (b, img) in dst.chunks_exact_mut(c_out * px).enumerate() {
                for (co, o) in img.chunks_exact_mut(px).enumerate() {
                    o.copy_from_slice(&y[co * ncols + b * px..][..px]);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        grad: &[f32],
        dx: &mut [f32],
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (rows, px, c_out) = (g.rows(), g.pixels(), g.c_out);
        let chunk = self.chunk(g);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let ncols = nb * px;
            let xs = &x[b0 * g.image()..(b0 + nb) * g.image()];
            let cols = prefix(&mut sc.cols, rows * ncols);
            self.unfold(g, xs, nb, cols);
            let gs = &grad[b0 * c_out * px..(b0 + nb) * c_out * px];
            // The chunk's gradient as (C_out, nb·pixels).
            let gy: &[f32] = if nb == 1 {
                gs
            } else {
                let y = prefix(&mut sc.rows_out, c_out * ncols);
                for (b, img) in gs.chunks_exact(c_out * px).enumerate() {
                    for (co, gi) in img.chunks_exact(px).enumerate() {
                        y[co * ncols + b * px..][..px].copy_from_slice(gi);
                    }
                }
                y
            };
            let (ncols_s, rows_s) = (ncols as isize, rows as isize);
            // dw += gy · colsᵀ.
            mm(
                (c_out, rows, ncols),
                dw,
                (rows_s, 1),
                true,
                gy,
                (ncols_s, 1),
                cols,
                (1, ncols_s),
            );
            // dcols = wᵀ · gy, folded back into dx.
            let dcols = prefix(&mut sc.dcols, rows * ncols);
            mm(
                (rows, ncols, c_out),
                dcols,
                (ncols_s, 1),
                false,
                wt,
                (1, rows_s),
                gy,
                (ncols_s, 1),
            );
            let dxs = &mut dx[b0 * g.image()..(b0 + nb) * g.image()];
            self.fold(g, xs, nb, dcols, dxs);
        }
    }
}

impl CustomOp2 for Conv {
    fn name(&self) -> &'static str {
        if self.relu {
            "relu-conv2d"
        } else {
            "conv2d"
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geom::new(l1.dims(), l2.dims(), self)?;
        let (x, wt) = (
            f32_slice(s1, l1, self.name())?,
            f32_slice(s2, l2, self.name())?,
        );
        let mut out = vec![0f32; g.n * g.c_out * g.pixels()];
        SCRATCH.with(|sc| self.forward(&g, x, wt, &mut out, &mut sc.borrow_mut()));
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.n, g.c_out, g.ho, g.wo)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = Geom::new(x.dims(), weight.dims(), self)?;
        let grad = grad.contiguous()?;
        let mut dx = vec![0f32; g.n * g.image()];
        let mut dw = vec![0f32; g.c_out * g.rows()];
        let op = self.name();
        with_f32(x, op, |xs| {
            with_f32(weight, op, |ws| {
                with_f32(&grad, op, |gs| {
                    SCRATCH.with(|sc| {
                        self.backward(&g, xs, ws, gs, &mut dx, &mut dw, &mut sc.borrow_mut())
                    })
                })
            })
        })???;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), x.device())?),
            Some(Tensor::from_vec(dw, weight.shape(), x.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, grads_of_weighted_square, input, values};
    use candle_core::Var;

    /// `conv` against candle's `conv2d` of `x` (or of `relu(x)`): output shape, values, and the
    /// gradients of `x` and of the weight.
    fn check(conv: Conv, (n, c_in, c_out, k, hw): (usize, usize, usize, usize, usize), seed: u64) {
        let (stride, padding, relu) = (conv.stride, conv.padding, conv.relu);
        let what = format!(
            "n{n} c{c_in}->{c_out} k{k} s{stride} p{padding} hw{hw} relu {relu}, chunk {}",
            conv.chunk_floats
        );
        let weight = Var::from_tensor(&input(&[c_out, c_in, k, k], 20 + seed)).unwrap();
        let x = Var::from_tensor(&input(&[n, c_in, hw, hw], 11 + seed)).unwrap();
        let reference = |x: &Tensor| {
            let x = if relu { x.relu().unwrap() } else { x.clone() };
            x.conv2d(weight.as_tensor(), padding, stride, 1, 1).unwrap()
        };
        let out_shape = reference(x.as_tensor()).dims().to_vec();
        let weights = input(&out_shape, 12 + seed);
        let mut conv = Some(conv);
        let mut run = |fast: bool| {
            let y = if fast {
                conv.take()
                    .unwrap()
                    .apply(x.as_tensor(), weight.as_tensor())
                    .unwrap()
            } else {
                reference(x.as_tensor())
            };
            let g = grads_of_weighted_square(&y, &weights);
            (
                y.dims().to_vec(),
                values(&y),
                values(g.get(x.as_tensor()).unwrap()),
                values(g.get(weight.as_tensor()).unwrap()),
            )
        };
        let (f, r) = (run(true), run(false));
        assert_eq!(f.0, r.0, "{what}");
        for (a, b) in [(&f.1, &r.1), (&f.2, &r.2), (&f.3, &r.3)] {
            assert_close(a, b, 1e-4, &what);
        }
    }

    #[test]
    fn convolution_matches_candle_conv2d() {
        for (i, (c_in, c_out, k, stride, hw)) in [
            (3, 4, 3, 1, 5),
            (3, 4, 3, 2, 6),
            (4, 2, 1, 1, 3),
            (2, 3, 3, 2, 7),
            (4, 8, 1, 2, 6),
        ]
        .into_iter()
        .enumerate()
        {
            for relu in [false, true] {
                let conv = Conv::new(stride, k / 2, relu);
                check(conv, (2, c_in, c_out, k, hw), i as u64);
            }
        }
        // Padding other than k/2, and none.
        check(Conv::new(1, 0, true), (3, 2, 3, 3, 5), 7);
        check(Conv::new(2, 2, false), (3, 2, 3, 3, 5), 8);
    }

    #[test]
    fn chunks_of_one_or_several_images_give_the_same_result() {
        // 5 images of 2·3·3 = 18 patch rows by 36 pixels (648 floats each): chunks of 1, 2 (the
        // last one short) and all 5 images.
        for chunk_floats in [1, 2 * 648, 2 * 648 + 100, CHUNK_FLOATS] {
            for relu in [false, true] {
                let conv = Conv {
                    chunk_floats,
                    ..Conv::new(1, 1, relu)
                };
                check(conv, (5, 2, 3, 3, 6), 9);
            }
        }
    }
}
