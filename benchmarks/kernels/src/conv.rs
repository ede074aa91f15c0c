//! 2-D convolution, optionally of `relu(x)`, as one candle op with a hand-written backward pass.
//!
//! A few images at a time (about a megabyte of patches), the op unfolds the input into a reused
//! per-thread buffer (im2col, applying the ReLU on the way) and multiplies it by the weights with
//! one single-threaded `gemm`, writing NCHW directly. The backward pass unfolds each chunk again,
//! adds its share of the weight gradient, and folds `wᵀ·grad` back into the input's gradient
//! (col2im), masked by the ReLU. At stride 1 (padding below k) it unfolds nothing: the input
//! gradient is a convolution of the output gradient, and the weight gradient k² products with
//! the padded input read in place, shifted. Images are visited in order and `gemm` runs on one thread, so the
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

#[derive(Clone, Copy)]
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

/// Per-thread buffers, reused across calls: the zero-padded input (or its gradient), patches, a
/// chunk's output or gradient (C_out rows), the patches' gradient, and for the weight gradient
/// without patches the padded input channel by channel and the output gradient pixel by pixel.
#[derive(Default)]
struct Scratch {
    xpad: Vec<f32>,
    cols: Vec<f32>,
    rows_out: Vec<f32>,
    dcols: Vec<f32>,
    xt: Vec<f32>,
    gt: Vec<f32>,
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
        (self.chunk_floats / (g.rows() * g.ho * self.pitch(g)).max(1)).clamp(1, g.n.max(1))
    }

    /// Stride 1 (padding below k, as in every network here) unfolds in padded-width layout: an
    /// image's columns are its output rows, each `w + 2·padding` wide (the last `k - 1` of each
    /// row unused), so that a patch row is one contiguous run of the zero-padded input. Other
    /// cases: `wo` wide, no unused columns.
    fn padded_width(&self, g: &Geom) -> bool {
        self.stride == 1 && self.padding < g.k
    }

    /// The width of an output row in the patch matrix.
    fn pitch(&self, g: &Geom) -> usize {
        if self.padded_width(g) {
            g.w + 2 * self.padding
        } else {
            g.wo
        }
    }

    /// The size of one zero-padded input channel, (h + 2p)·(w + 2p).
    fn padded_plane(&self, g: &Geom) -> usize {
        (g.h + 2 * self.padding) * (g.w + 2 * self.padding)
    }

    /// Walks the patch matrix of `nb` images (pitch `wo`): for each row r = (c, ki, kj) and each
    /// (b, oh) whose input row is inside the image, calls `f(dst, src, len)` where `dst` is the
    /// matrix index of the first in-image column (b, oh, ow_lo), `src` the input index of its
    /// pixel, and `len` the number of in-image columns (consecutive in the matrix, `stride`
    /// apart in the input).
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

    /// Stride 1: calls `f(r, b, offset)` for each patch row r = (c, ki, kj) and image b, where
    /// `offset` is where that row's run starts in the padded input (image b, channel c).
    fn for_each_padded_row(&self, g: &Geom, nb: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (k, wp, plane) = (g.k, self.pitch(g), self.padded_plane(g));
        for ch in 0..g.c {
            for ki in 0..k {
                for kj in 0..k {
                    let row = (ch * k + ki) * k + kj;
                    for b in 0..nb {
                        f(row, b, (b * g.c + ch) * plane + ki * wp + kj);
                    }
                }
            }
        }
    }

    /// Unfolds the `nb` images `x` into `sc.cols` (rows × nb·ho·pitch), rectified if
    /// `self.relu`.
    fn unfold(&self, g: &Geom, x: &[f32], nb: usize, sc: &mut Scratch) {
        let relu = self.relu;
        let rect = move |o: &mut [f32], i: &[f32]| {
            if relu {
                o.iter_mut().zip(i).for_each(|(o, &i)| *o = i.max(0.0));
            } else {
                o.copy_from_slice(i);
            }
        };
        let per_image = g.ho * self.pitch(g);
        let ncols = nb * per_image;
        let cols = prefix(&mut sc.cols, g.rows() * ncols);
        if !self.padded_width(g) {
            cols.fill(0.0);
            let s = self.stride;
            self.for_each_run(g, nb, |dst, src, len| {
                let inp = x[src..].iter().step_by(s);
                let out = cols[dst..dst + len].iter_mut().zip(inp);
                out.for_each(|(o, &i)| *o = if relu { i.max(0.0) } else { i });
            });
            return;
        }
        // The zero-padded, rectified input, with k - 1 zeros after it: the unused columns of
        // the last row of the last channel read that far.
        let (p, wp, plane) = (self.padding, self.pitch(g), self.padded_plane(g));
        let xpad = prefix(&mut sc.xpad, nb * g.c * plane + g.k);
        xpad.fill(0.0);
        for (src, dst) in x.chunks_exact(g.h * g.w).zip(xpad.chunks_exact_mut(plane)) {
            for (i, o) in src
                .chunks_exact(g.w)
                .zip(dst[p * wp..].chunks_exact_mut(wp))
            {
                rect(&mut o[p..p + g.w], i);
            }
        }
        self.for_each_padded_row(g, nb, |row, b, off| {
            let dst = &mut cols[row * ncols + b * per_image..][..per_image];
            dst.copy_from_slice(&xpad[off..off + per_image]);
        });
    }

    /// Folds the patch gradient `dcols` (pitch `wo`) of `nb` images back into their input
    /// gradient `dx`, adding.
    fn fold(&self, g: &Geom, nb: usize, dcols: &[f32], dx: &mut [f32]) {
        let s = self.stride;
        self.for_each_run(g, nb, |col, px, len| {
            for (d, gi) in dx[px..].iter_mut().step_by(s).zip(&dcols[col..col + len]) {
                *d += gi;
            }
        });
    }

    /// In padded-width layout (stride 1, padding below k), the input gradient is itself a convolution, of the output
    /// gradient with the weights transposed and flipped, padding k - 1 - padding. It runs as
    /// this op's forward pass (a product with C_out·k·k terms, where folding back `wᵀ·grad`
    /// takes a product with only C_out terms and k² scattered adds per input value).
    fn transposed(&self, g: &Geom) -> Option<(Conv, Geom)> {
        self.padded_width(g).then(|| {
            let conv = Conv {
                padding: g.k - 1 - self.padding,
                relu: false,
                ..*self
            };
            let geom = Geom {
                c: g.c_out,
                h: g.ho,
                w: g.wo,
                c_out: g.c,
                ho: g.h,
                wo: g.w,
                ..*g
            };
            (conv, geom)
        })
    }

    /// Appends the output of the `g.n` images `x` (NCHW) to `out`, in order: no zeroing.
    fn forward(&self, g: &Geom, x: &[f32], wt: &[f32], out: &mut Vec<f32>, sc: &mut Scratch) {
        let (rows, c_out, pitch) = (g.rows(), g.c_out, self.pitch(g));
        let per_image = g.ho * pitch;
        let chunk = self.chunk(g);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let ncols = nb * per_image;
            self.unfold(g, &x[b0 * g.image()..(b0 + nb) * g.image()], nb, sc);
            // One product for the chunk, (C_out, nb·ho·pitch), whose rows then go to NCHW.
            let y = prefix(&mut sc.rows_out, c_out * ncols);
            let (ncols_s, rows_s) = (ncols as isize, rows as isize);
            let cols = &sc.cols[..rows * ncols];
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
            for b in 0..nb {
                for co in 0..c_out {
                    let src = &y[co * ncols + b * per_image..][..per_image];
                    for row in src.chunks(pitch) {
                        out.extend_from_slice(&row[..g.wo]);
                    }
                }
            }
        }
    }

    /// Stride 1, padding below k: adds the weight gradient to `dw` without unfolding the input.
    /// A few images at a time, the zero-padded (rectified) input is laid out channel by channel,
    /// each channel's images one after another (`plane` apart), and the output gradient pixel
    /// by pixel on the same padded-width grid (zero outside the output). Weight (·, ·, ki, kj)'s
    /// gradient is then one product of that gradient with the input shifted by ki·pitch + kj:
    /// k² products reading the padded input in place, instead of a copy of k² times it.
    fn weight_grad_padded(
        &self,
        g: &Geom,
        x: &[f32],
        grad: &[f32],
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (p, k, c_out) = (self.padding, g.k, g.c_out);
        let (wp, plane, px) = (self.pitch(g), self.padded_plane(g), g.pixels());
        let kk = k * k;
        let chunk = (self.chunk_floats / ((g.c + c_out) * plane).max(1)).clamp(1, g.n.max(1));
        let mut tw = vec![0f32; kk * g.c * c_out];
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let len = nb * plane;
            // The shifted reads go up to (k - 1)·(pitch + 1) past a channel's last image.
            let xt = prefix(&mut sc.xt, g.c * len + k * wp);
            xt.fill(0.0);
            for b in 0..nb {
                let img = &x[(b0 + b) * g.image()..][..g.image()];
                for (ch, src) in img.chunks_exact(g.h * g.w).enumerate() {
                    let dst = &mut xt[ch * len + b * plane..][..plane];
                    for (i, o) in src
                        .chunks_exact(g.w)
                        .zip(dst[p * wp..].chunks_exact_mut(wp))
                    {
                        let o = &mut o[p..p + g.w];
                        if self.relu {
                            o.iter_mut().zip(i).for_each(|(o, &i)| *o = i.max(0.0));
                        } else {
                            o.copy_from_slice(i);
                        }
                    }
                }
            }
            // gt[j·C_out + co]: column j = b·plane + oh·pitch + ow.
            let gt = prefix(&mut sc.gt, len * c_out);
            gt.fill(0.0);
            for b in 0..nb {
                let img = &grad[(b0 + b) * c_out * px..][..c_out * px];
                for (co, gi) in img.chunks_exact(px).enumerate() {
                    for (oh, row) in gi.chunks_exact(g.wo).enumerate() {
                        let j0 = b * plane + oh * wp;
                        for (ow, &v) in row.iter().enumerate() {
                            gt[(j0 + ow) * c_out + co] = v;
                        }
                    }
                }
            }
            let gt = &sc.gt[..len * c_out];
            let xt = &sc.xt[..g.c * len + k * wp];
            for ki in 0..k {
                for kj in 0..k {
                    // tw[ki][kj][ci][co] += Σ_j gt[j][co] · xt[ci][j + ki·pitch + kj]. Column-major
                    // (co contiguous) on both sides, so that gemm packs neither operand.
                    mm(
                        (c_out, g.c, len),
                        &mut tw[(ki * k + kj) * g.c * c_out..][..g.c * c_out],
                        (1, c_out as isize),
                        b0 > 0,
                        gt,
                        (1, c_out as isize),
                        &xt[ki * wp + kj..],
                        (1, len as isize),
                    );
                }
            }
        }
        for (i, d) in dw.iter_mut().enumerate() {
            let (co, ci, a) = (i / (g.c * kk), i / kk % g.c, i % kk);
            *d += tw[(a * g.c + ci) * c_out + co];
        }
    }

    /// Appends the input gradient of the `g.n` images `x` to `dx` and adds the weight gradient
    /// to `dw`, given the output gradient `grad`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        grad: &[f32],
        dx: &mut Vec<f32>,
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (rows, c_out, pitch) = (g.rows(), g.c_out, self.pitch(g));
        let (per_image, px) = (g.ho * pitch, g.pixels());
        let transposed = self.transposed(g);
        // w_flipped[ci][co][a][b] = w[co][ci][k-1-a][k-1-b].
        let kk = g.k * g.k;
        let mut w_flipped = vec![0f32; if transposed.is_some() { wt.len() } else { 0 }];
        for (i, v) in w_flipped.iter_mut().enumerate() {
            let (ci, co, a) = (i / (c_out * kk), i / kk % c_out, i % kk);
            *v = wt[(co * g.c + ci) * kk + (kk - 1 - a)];
        }
        let gs_of = |b0: usize, nb: usize| &grad[b0 * c_out * px..(b0 + nb) * c_out * px];
        if transposed.is_some() {
            self.weight_grad_padded(g, x, grad, dw, sc);
        }
        let chunk = self.chunk(g);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let ncols = nb * per_image;
            let xs = &x[b0 * g.image()..(b0 + nb) * g.image()];
            let start = dx.len();
            if let Some((conv, geom)) = &transposed {
                conv.forward(&Geom { n: nb, ..*geom }, gs_of(b0, nb), &w_flipped, dx, sc);
                if self.relu {
                    for (d, &xi) in dx[start..].iter_mut().zip(xs) {
                        *d = if xi > 0.0 { *d } else { 0.0 };
                    }
                }
                continue;
            }
            self.unfold(g, xs, nb, sc);
            // The chunk's gradient as (C_out, nb·ho·pitch), zero in the unused columns.
            let gy = prefix(&mut sc.rows_out, c_out * ncols);
            let gs = gs_of(b0, nb);
            for (b, img) in gs.chunks_exact(c_out * px).enumerate() {
                for (co, gi) in img.chunks_exact(px).enumerate() {
                    let dst = &mut gy[co * ncols + b * per_image..][..per_image];
                    for (o, i) in dst.chunks_mut(pitch).zip(gi.chunks_exact(g.wo)) {
                        o[..g.wo].copy_from_slice(i);
                        o[g.wo..].fill(0.0);
                    }
                }
            }
            let (ncols_s, rows_s) = (ncols as isize, rows as isize);
            let cols = &sc.cols[..rows * ncols];
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
            dx.resize(start + nb * g.image(), 0.0);
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
            self.fold(g, nb, dcols, &mut dx[start..]);
            if self.relu {
                for (d, &xi) in dx[start..].iter_mut().zip(xs) {
                    *d = if xi > 0.0 { *d } else { 0.0 };
                }
            }
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
        let mut out = Vec::with_capacity(g.n * g.c_out * g.pixels());
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
        let mut dx = Vec::with_capacity(g.n * g.image());
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
        check(Conv::new(1, 3, true), (3, 2, 3, 3, 5), 9);
        // 16 output channels: the weight gradient's products at stride 1 read both operands in
        // place, unpacked (C_out a multiple of gemm's 8 lanes).
        for relu in [false, true] {
            check(Conv::new(1, 1, relu), (3, 16, 16, 3, 8), 10);
        }
    }

    #[test]
    fn chunks_of_one_or_several_images_give_the_same_result() {
        // 5 images of 2·3·3 = 18 patch rows by 6 output rows of 8 padded columns (864 floats
        // each): chunks of 1, 2 (the last one short) and all 5 images. The weight gradient at
        // stride 1 chunks by (2 + 3) channels of 8×8 padded planes (320 floats an image): 2 * 320
        // gives it chunks of 2 images, the last one short.
        for chunk_floats in [1, 2 * 320, 2 * 864, 2 * 864 + 100, CHUNK_FLOATS] {
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
