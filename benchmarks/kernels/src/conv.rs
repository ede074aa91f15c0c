//! 2-D convolution, optionally of `relu(x)`, as one candle op with a hand-written backward pass.
//!
//! At stride 1 (padding below k: every 3×3 and 1×1 convolution of the NB201 cell) nothing is
//! unfolded. Image by image, the zero-padded, rectified input is convolved in place by
//! [`direct::conv`] (AVX-512, AVX2 or portable code, chosen at run time, all giving the same
//! bits); the input gradient is the same kernel applied to the output gradient with the weights
//! flipped and transposed, masked by the ReLU as it is written; the weight gradient is a sum over
//! output pixels of the gradient times the shifted input ([`direct::weight_grad`]).
//!
//! At stride 2 with a 3×3 kernel, padding 1 and even sizes (the reduction blocks) the same
//! kernels run on the four phases of the padded input (see [`Conv::phased`]).
//!
//! Other cases: a few images at a time (about a megabyte of patches), the op unfolds the input
//! into a reused per-thread buffer (im2col, applying the ReLU on the way) and multiplies it by
//! the weights with one single-threaded `gemm`, writing NCHW directly; the backward pass unfolds
//! each chunk again, adds its share of the weight gradient, and folds `wᵀ·grad` back into the
//! input's gradient (col2im), masked by the ReLU. Images are visited in order and nothing runs
//! on more than one thread, so the results do not depend on the thread count.

use crate::direct;
use crate::matmul::mm;
use crate::simd;
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
pub(crate) struct Conv {
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
    grad_chunk: Vec<f32>,
}

/// Called with each image's output as soon as it is written.
pub(crate) type EachImage<'a> = Option<&'a mut dyn FnMut(&[f32])>;

/// How a direct backward pass lays out a chunk's input: each image's channel `plane` values
/// long with rows `pitch` wide, the taps (where each reads, relative to its output), and how far
/// past a channel's last image the taps may read.
#[derive(Clone, Copy)]
struct ChunkLayout<'a> {
    plane: usize,
    pitch: usize,
    taps: &'a [usize],
    reach: usize,
}

/// The output gradient of a convolution's backward pass.
#[derive(Clone, Copy)]
pub(crate) enum OutGrad<'a> {
    /// All of it (N, C_out, ho, wo).
    Given(&'a [f32]),
    /// Computed a few images at a time: `fill(first, count, out)` writes the gradient of images
    /// first..first + count into `out`.
    Computed(&'a dyn Fn(usize, usize, &mut [f32])),
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
    pub(crate) fn new(stride: usize, padding: usize, relu: bool) -> Self {
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

    /// The output (NCHW) of `x` of shape `xd` convolved with the weight of shape `wd`, and its
    /// shape.
    pub(crate) fn run_forward(
        &self,
        (x, xd): (&[f32], &[usize]),
        (wt, wd): (&[f32], &[usize]),
        each: EachImage,
    ) -> Result<(Vec<f32>, [usize; 4])> {
        let g = Geom::new(xd, wd, self)?;
        let mut out = Vec::with_capacity(g.n * g.c_out * g.pixels());
        SCRATCH.with(|sc| self.forward(&g, x, wt, &mut out, &mut sc.borrow_mut(), each));
        Ok((out, [g.n, g.c_out, g.ho, g.wo]))
    }

    /// The gradients of `x` (if `want_dx`: not for images, which need none) and of the
    /// weight, given the output's gradient.
    pub(crate) fn run_backward(
        &self,
        (x, xd): (&[f32], &[usize]),
        (wt, wd): (&[f32], &[usize]),
        grad: OutGrad,
        want_dx: bool,
    ) -> Result<(Option<Vec<f32>>, Vec<f32>)> {
        let g = Geom::new(xd, wd, self)?;
        let mut dx = want_dx.then(|| Vec::with_capacity(g.n * g.image()));
        let mut dw = vec![0f32; g.c_out * g.rows()];
        SCRATCH.with(|sc| {
            let sc = &mut sc.borrow_mut();
            if self.padded_width(&g) {
                return self.backward_padded(&g, x, wt, grad, dx.as_mut(), &mut dw, sc);
            }
            if self.phased(&g) {
                return self.backward_phased(&g, x, wt, grad, dx.as_mut(), &mut dw, sc);
            }
            let whole;
            let grad = match grad {
                OutGrad::Given(all) => all,
                OutGrad::Computed(fill) => {
                    let mut all = vec![0f32; g.n * g.c_out * g.pixels()];
                    fill(0, g.n, &mut all);
                    whole = all;
                    &whole
                }
            };
            self.backward(&g, x, wt, grad, dx.as_mut(), &mut dw, sc)
        });
        Ok((dx, dw))
    }

    /// Images per chunk.
    fn chunk(&self, g: &Geom) -> usize {
        (self.chunk_floats / (g.rows() * g.ho * self.pitch(g)).max(1)).clamp(1, g.n.max(1))
    }

    /// Stride 1 (padding below k, as in every network here) convolves on the padded grid: the
    /// zero-padded input and the output share rows [`Conv::pitch`] wide (the last
    /// `pitch - wo` outputs of each row unused), so that every tap reads a contiguous run of
    /// the input. Other strides: im2col, rows `wo` wide.
    fn padded_width(&self, g: &Geom) -> bool {
        self.stride == 1 && self.padding < g.k
    }

    /// The width of a row: of the padded grid at stride 1, `w + p` (or `wo` if wider), the p
    /// zeros at the start of a row being also the right padding of the row before (a tap past
    /// the right edge reads on into them); other cases, an output row of the patch matrix.
    fn pitch(&self, g: &Geom) -> usize {
        if self.padded_width(g) {
            (g.w + self.padding).max(g.wo)
        } else {
            g.wo
        }
    }

    /// The size of one zero-padded input channel, h + 2p rows of [`Conv::pitch`].
    fn padded_plane(&self, g: &Geom) -> usize {
        (g.h + 2 * self.padding) * self.pitch(g)
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

    /// Unfolds the `nb` images `x` into `sc.cols` (rows × nb·ho·pitch), rectified if
    /// `self.relu`.
    fn unfold(&self, g: &Geom, x: &[f32], nb: usize, sc: &mut Scratch) {
        let relu = self.relu;
        let per_image = g.ho * self.pitch(g);
        let ncols = nb * per_image;
        let cols = prefix(&mut sc.cols, g.rows() * ncols);
        debug_assert!(!self.padded_width(g), "stride 1 convolves directly");
        cols.fill(0.0);
        let s = self.stride;
        self.for_each_run(g, nb, |dst, src, len| {
            let inp = x[src..].iter().step_by(s);
            let out = cols[dst..dst + len].iter_mut().zip(inp);
            out.for_each(|(o, &i)| *o = if relu { i.max(0.0) } else { i });
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
    fn transposed(&self, g: &Geom) -> (Conv, Geom) {
        debug_assert!(self.padded_width(g));
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
    }

    /// Writes image `img` (C channels of h×w) zero-padded into `xpad`, `plane` apart, rows
    /// `pitch` wide, rectified if `self.relu`. `xpad` must be zero where nothing is written.
    #[inline(always)]
    fn pad_into(&self, g: &Geom, img: &[f32], xpad: &mut [f32], plane: usize) {
        let (p, wp) = (self.padding, self.pitch(g));
        for (src, dst) in img.chunks_exact(g.h * g.w).zip(xpad.chunks_mut(plane)) {
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

    /// Image by image: `lay_in(image, buffer)` (which writes the same positions for every
    /// image, so the buffer is zeroed once), the direct convolution `plan` with the weights `w`,
    /// and the output rows, `pitch` wide, appended without their unused columns; zero where
    /// `mask` (of the output's shape) is not positive (the ReLU's gradient, when this computes
    /// an input gradient); `each` called with every image's output.
    #[allow(clippy::too_many_arguments)]
    fn convolve_images(
        g: &Geom,
        x: &[f32],
        (plan, w, pitch): (&direct::Plan, &[f32], usize),
        out: &mut Vec<f32>,
        sc: &mut Scratch,
        mask: Option<&[f32]>,
        mut each: EachImage,
        lay_in: impl Fn(&[f32], &mut [f32]),
    ) {
        let buf = prefix(&mut sc.xpad, plan.x_len().max(plan.c_in * plan.x_stride));
        let y = prefix(&mut sc.rows_out, plan.y_len());
        buf.fill(0.0);
        let per_out = g.c_out * g.pixels();
        simd::vectorize(
            #[inline(always)]
            || {
                for (b, img) in x.chunks_exact(g.image()).enumerate() {
                    lay_in(img, buf);
                    direct::conv(plan, buf, w, y);
                    let mask = mask.map(|m| &m[b * per_out..][..per_out]);
                    for co in 0..g.c_out {
                        let rows = y[co * plan.y_stride..][..plan.np].chunks_exact(pitch);
                        for (oh, row) in rows.enumerate() {
                            out.extend_from_slice(&row[..g.wo]);
                            if let Some(m) = mask {
                                let m = &m[(co * g.ho + oh) * g.wo..][..g.wo];
                                let at = out.len() - g.wo;
                                for (o, &m) in out[at..].iter_mut().zip(m) {
                                    *o = if m > 0.0 { *o } else { 0.0 };
                                }
                            }
                        }
                    }
                    if let Some(f) = each.as_deref_mut() {
                        f(&out[out.len() - per_out..]);
                    }
                }
            },
        );
    }

    /// Stride 1, padding below k: image by image, the zero-padded (rectified) input convolved
    /// in place ([`Conv::convolve_images`]), no patches.
    #[allow(clippy::too_many_arguments)]
    fn forward_direct(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        out: &mut Vec<f32>,
        sc: &mut Scratch,
        mask: Option<&[f32]>,
        each: EachImage,
    ) {
        let (pitch, plane) = (self.pitch(g), self.padded_plane(g));
        let np = g.ho * pitch;
        let taps = direct::square_taps(g.k, pitch);
        let plan = direct::Plan {
            c_in: g.c,
            c_out: g.c_out,
            taps: &taps,
            x_stride: plane,
            np,
            y_stride: np + direct::MAX_TILE,
        };
        let w = Self::by_input_channel(g, wt);
        let lay_in = |img: &[f32], buf: &mut [f32]| self.pad_into(g, img, buf, plane);
        Self::convolve_images(g, x, (&plan, &w, pitch), out, sc, mask, each, lay_in);
    }

    /// Appends the output of the `g.n` images `x` (NCHW) to `out`, in order: no zeroing. Calls
    /// `each` with every image's output as soon as it is written (while it is in cache).
    fn forward(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        out: &mut Vec<f32>,
        sc: &mut Scratch,
        mut each: EachImage,
    ) {
        if self.padded_width(g) {
            return self.forward_direct(g, x, wt, out, sc, None, each);
        }
        if self.phased(g) {
            return self.forward_phased(g, x, wt, out, sc, each);
        }
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
                if let Some(f) = each.as_deref_mut() {
                    f(&out[out.len() - c_out * g.pixels()..]);
                }
            }
        }
    }

    /// Stride 2, a 3×3 kernel, padding 1 and even sizes (NAS-Bench-201's reduction blocks):
    /// convolved directly on the four phases of the zero-padded input. Phase (a, b) holds the
    /// padded pixels (2i + a, 2j + b), so tap (ki, kj) of output (oh, ow) reads phase
    /// (ki mod 2, kj mod 2) at (oh + ki/2, ow + kj/2): a stride-1 direct convolution over the
    /// phases, rows `wo + 1` wide, nine taps, nothing unfolded.
    fn phased(&self, g: &Geom) -> bool {
        self.stride == 2
            && g.k == 3
            && self.padding == 1
            && g.h.is_multiple_of(2)
            && g.w.is_multiple_of(2)
    }

    /// The phases' row width and plane size.
    fn phase_dims(g: &Geom) -> (usize, usize) {
        let pp = g.wo + 1;
        (pp, (g.ho + 1) * pp)
    }

    /// The phases' row width, plane size and taps (in the weights' (ki, kj) order).
    fn phase_layout(g: &Geom) -> (usize, usize, Vec<usize>) {
        let (pp, psize) = Self::phase_dims(g);
        let taps = (0..9)
            .map(|t| {
                let (ki, kj) = (t / 3, t % 3);
                ((ki % 2) * 2 + kj % 2) * psize + ki / 2 * pp + kj / 2
            })
            .collect();
        (pp, psize, taps)
    }

    /// Writes the C channels of image `img` (h×w each), rectified if `self.relu`, into their
    /// phases: channel c at `dst[c·stride..]`, phase (a, b) `psize` apart. The padding is not
    /// written (the caller zeroes it once).
    #[inline(always)]
    #[allow(clippy::manual_div_ceil)] // (r + 1) / 2: padded row r + 1's phase row
    fn phase_into(&self, g: &Geom, img: &[f32], dst: &mut [f32], stride: usize) {
        let (pp, psize) = Self::phase_dims(g);
        for (ch, plane) in img.chunks_exact(g.h * g.w).enumerate() {
            for (r, row) in plane.chunks_exact(g.w).enumerate() {
                // Padded row r + 1: phase a = (r + 1) mod 2, phase row (r + 1) / 2.
                let base = ch * stride + ((r + 1) % 2) * 2 * psize + (r + 1) / 2 * pp;
                for (c, &v) in row.iter().enumerate() {
                    let at = base + ((c + 1) % 2) * psize + (c + 1) / 2;
                    dst[at] = if self.relu { v.max(0.0) } else { v };
                }
            }
        }
    }

    /// Stride 2 on the phases: appends the output of the `g.n` images `x` to `out`
    /// ([`Conv::convolve_images`]).
    fn forward_phased(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        out: &mut Vec<f32>,
        sc: &mut Scratch,
        each: EachImage,
    ) {
        let (pp, psize, taps) = Self::phase_layout(g);
        let np = g.ho * pp;
        let plan = direct::Plan {
            c_in: g.c,
            c_out: g.c_out,
            taps: &taps,
            x_stride: 4 * psize,
            np,
            y_stride: np + direct::MAX_TILE,
        };
        let w = Self::by_input_channel(g, wt);
        let lay_in = |img: &[f32], buf: &mut [f32]| self.phase_into(g, img, buf, 4 * psize);
        Self::convolve_images(g, x, (&plan, &w, pp), out, sc, None, each, lay_in);
    }

    /// The weights as w[ci][ki][kj][co]: a direct convolution's layout.
    fn by_input_channel(g: &Geom, wt: &[f32]) -> Vec<f32> {
        let mut w = vec![0f32; wt.len()];
        for (i, &v) in wt.iter().enumerate() {
            let (co, r) = (i / g.rows(), i % g.rows());
            w[r * g.c_out + co] = v;
        }
        w
    }

    /// Stride 2 on the phases: the backward pass ([`Conv::backward_chunks`]). The weight
    /// gradient sums the output gradient times the phases, shifted per tap; the input
    /// gradient's phase (a, b) is a stride-1 convolution of the output gradient (padded by one)
    /// with the taps of that phase, ki ≡ a and kj ≡ b (mod 2), read at (1 − ki/2, 1 − kj/2),
    /// and each padded pixel's value goes back to its place in the image, masked by the ReLU.
    #[allow(clippy::too_many_arguments)]
    fn backward_phased(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        grad: OutGrad,
        mut dx: Option<&mut Vec<f32>>,
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (c_out, px) = (g.c_out, g.pixels());
        let (pp, psize, taps) = Self::phase_layout(g);
        let plane = 4 * psize;
        let lay = ChunkLayout {
            plane,
            pitch: pp,
            taps: &taps,
            reach: direct::MAX_TILE + 2 * pp,
        };
        let lay_out = |xs: &[f32], xt: &mut [f32], len: usize| {
            for (b, img) in xs.chunks_exact(g.image()).enumerate() {
                self.phase_into(g, img, &mut xt[b * plane..], len);
            }
        };
        // The output gradient of one image, padded by one (rows pp wide), and the four phase
        // convolutions' taps and weights (w[co][t][ci]).
        let pad_g = Conv {
            stride: 1,
            padding: 1,
            relu: false,
            chunk_floats: self.chunk_floats,
        };
        let geom_g = Geom {
            n: 1,
            c: c_out,
            h: g.ho,
            w: g.wo,
            c_out: g.c,
            k: 3,
            ho: g.ho + 1,
            wo: g.wo + 1,
        };
        let plane_g = pad_g.padded_plane(&geom_g);
        let phases: Vec<(usize, usize, Vec<usize>, Vec<f32>)> = (0..4)
            .map(|ph| {
                let (a, b) = (ph / 2, ph % 2);
                let kept: Vec<(usize, usize)> = (0..3)
                    .flat_map(|ki| (0..3).map(move |kj| (ki, kj)))
                    .filter(|&(ki, kj)| ki % 2 == a && kj % 2 == b)
                    .collect();
                let offs = kept
                    .iter()
                    .map(|&(ki, kj)| (1 - ki / 2) * pp + 1 - kj / 2)
                    .collect();
                let mut w = Vec::with_capacity(c_out * kept.len() * g.c);
                for co in 0..c_out {
                    for &(ki, kj) in &kept {
                        w.extend((0..g.c).map(|ci| wt[((co * g.c + ci) * 3 + ki) * 3 + kj]));
                    }
                }
                (a, b, offs, w)
            })
            .collect();
        let mut dx_img = vec![0f32; g.image()];
        let input_grad = |xs: &[f32], gs: &[f32], sc: &mut Scratch| {
            let Some(dx) = dx.as_deref_mut() else {
                return;
            };
            let np = (g.ho + 1) * pp;
            let gpad = prefix(&mut sc.xpad, c_out * plane_g + direct::MAX_TILE + 2 * pp);
            // Every image writes the same (interior) values: the padding stays zero.
            gpad.fill(0.0);
            for (b, gi) in gs.chunks_exact(c_out * px).enumerate() {
                let gpad = &mut sc.xpad[..c_out * plane_g + direct::MAX_TILE + 2 * pp];
                pad_g.pad_into(&geom_g, gi, gpad, plane_g);
                for (a, bb, offs, w) in &phases {
                    let plan = direct::Plan {
                        c_in: c_out,
                        c_out: g.c,
                        taps: offs,
                        x_stride: plane_g,
                        np,
                        y_stride: np + direct::MAX_TILE,
                    };
                    let y = prefix(&mut sc.rows_out, plan.y_len());
                    direct::conv(&plan, &sc.xpad[..plan.x_len().max(c_out * plane_g)], w, y);
                    // Padded pixel (2i + a, 2j + b) is image pixel (2i + a − 1, 2j + b − 1):
                    // rows i with 1 ≤ 2i + a ≤ h, columns likewise.
                    let (i0, i1) = (1 - a, (g.h - a) / 2 + 1);
                    let (j0, j1) = (1 - bb, (g.w - bb) / 2 + 1);
                    for ci in 0..g.c {
                        for i in i0..i1 {
                            let src = &y[ci * plan.y_stride + i * pp..][j0..j1];
                            let row = (ci * g.h + 2 * i + a - 1) * g.w;
                            let dst = dx_img[row..row + g.w].iter_mut().skip(2 * j0 + bb - 1);
                            for (d, &v) in dst.step_by(2).zip(src) {
                                *d = v;
                            }
                        }
                    }
                }
                let xi = &xs[b * g.image()..][..g.image()];
                if self.relu {
                    dx.extend(
                        dx_img
                            .iter()
                            .zip(xi)
                            .map(|(&d, &v)| if v > 0.0 { d } else { 0.0 }),
                    );
                } else {
                    dx.extend_from_slice(&dx_img);
                }
            }
        };
        self.backward_chunks(g, x, grad, dw, sc, lay, lay_out, input_grad);
    }

    /// w_flipped[ci][co][a][b] = w[co][ci][k-1-a][k-1-b]: the weights of the transposed
    /// convolution.
    fn flipped(g: &Geom, wt: &[f32]) -> Vec<f32> {
        let kk = g.k * g.k;
        (0..wt.len())
            .map(|i| {
                let (ci, co, a) = (i / (g.c_out * kk), i / kk % g.c_out, i % kk);
                wt[(co * g.c + ci) * kk + (kk - 1 - a)]
            })
            .collect()
    }

    /// The chunk loop of the direct backward passes (padded grid and phases): a few images at
    /// a time, their output gradient read from `grad` or computed then (so that a gradient
    /// computed from others, as batch norm's input gradient, is never written out whole); their
    /// input laid out channel by channel, each channel's images `lay.plane` apart
    /// (`lay_out(images, into, channel stride)`), and the output gradient pixel by pixel
    /// (output channels side by side); the weight gradient's sums over the chunk's output
    /// pixels, in order ([`direct::weight_grad`]: the chunking does not change the bits), added
    /// to `dw`; then `input_grad(images, their output gradient, scratch)`.
    #[allow(clippy::too_many_arguments)]
    fn backward_chunks(
        &self,
        g: &Geom,
        x: &[f32],
        grad: OutGrad,
        dw: &mut [f32],
        sc: &mut Scratch,
        lay: ChunkLayout,
        lay_out: impl Fn(&[f32], &mut [f32], usize),
        mut input_grad: impl FnMut(&[f32], &[f32], &mut Scratch),
    ) {
        let (c_out, px, nt) = (g.c_out, g.pixels(), lay.taps.len());
        let plane = lay.plane;
        let chunk = (self.chunk_floats / ((g.c + c_out) * plane).max(1)).clamp(1, g.n.max(1));
        let co_pad = direct::co_pad(c_out);
        let mut tw = vec![0f32; nt * g.c * co_pad];
        let mut starts = Vec::with_capacity(chunk * g.ho);
        let mut computed = std::mem::take(&mut sc.grad_chunk);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let xs = &x[b0 * g.image()..(b0 + nb) * g.image()];
            let gs: &[f32] = match grad {
                OutGrad::Given(all) => &all[b0 * c_out * px..(b0 + nb) * c_out * px],
                OutGrad::Computed(fill) => {
                    let buf = prefix(&mut computed, nb * c_out * px);
                    fill(b0, nb, buf);
                    buf
                }
            };
            let len = nb * plane;
            let x_len = g.c * len + lay.reach;
            let xt = prefix(&mut sc.xt, x_len);
            let gt = prefix(&mut sc.gt, nb * px * co_pad);
            simd::vectorize(
                #[inline(always)]
                || {
                    xt.fill(0.0);
                    lay_out(xs, xt, len);
                    transpose_grad(gs, (c_out, px, co_pad), gt);
                },
            );
            starts.clear();
            starts.extend((0..nb * g.ho).map(|r| r / g.ho * plane + r % g.ho * lay.pitch));
            let plan = direct::GradPlan {
                c_in: g.c,
                c_out,
                taps: lay.taps,
                x_stride: len,
                run: g.wo,
                starts: &starts,
            };
            let (xt, gt) = (&sc.xt[..x_len], &sc.gt[..nb * px * co_pad]);
            direct::weight_grad(&plan, xt, gt, &mut tw);
            input_grad(xs, gs, sc);
        }
        sc.grad_chunk = computed;
        for (i, d) in dw.iter_mut().enumerate() {
            let (co, ci, t) = (i / (g.c * nt), i / nt % g.c, i % nt);
            *d += tw[(t * g.c + ci) * co_pad + co];
        }
    }

    /// Stride 1, padding below k: the backward pass on the padded grid ([`Conv::backward_chunks`]).
    /// The weight gradient sums the output gradient times the padded input shifted by
    /// ki·pitch + kj, read in place; the input gradient is the transposed convolution of the
    /// output gradient (this op's forward pass with the flipped weights), masked by the ReLU.
    #[allow(clippy::too_many_arguments)]
    fn backward_padded(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        grad: OutGrad,
        mut dx: Option<&mut Vec<f32>>,
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (wp, plane) = (self.pitch(g), self.padded_plane(g));
        let (conv_t, geom_t) = self.transposed(g);
        let w_flipped = Self::flipped(g, wt);
        let taps = direct::square_taps(g.k, wp);
        // The shifted reads go up to (k - 1)·(pitch + 1) past a channel's last image.
        let lay = ChunkLayout {
            plane,
            pitch: wp,
            taps: &taps,
            reach: g.k * wp,
        };
        let single = Geom { c: 1, ..*g };
        let lay_out = |xs: &[f32], xt: &mut [f32], len: usize| {
            for (b, img) in xs.chunks_exact(g.image()).enumerate() {
                for (ch, one) in img.chunks_exact(g.h * g.w).enumerate() {
                    let dst = &mut xt[ch * len + b * plane..][..plane];
                    self.pad_into(&single, one, dst, plane);
                }
            }
        };
        let input_grad = |xs: &[f32], gs: &[f32], sc: &mut Scratch| {
            if let Some(dx) = dx.as_deref_mut() {
                let mask = self.relu.then_some(xs);
                let geom = Geom {
                    n: xs.len() / g.image(),
                    ..geom_t
                };
                conv_t.forward_direct(&geom, gs, &w_flipped, dx, sc, mask, None);
            }
        };
        self.backward_chunks(g, x, grad, dw, sc, lay, lay_out, input_grad);
    }

    /// Other strides: appends the input gradient of the `g.n` images `x` to `dx` (if asked
    /// for) and adds the weight gradient to `dw`, given the output gradient `grad`, with im2col
    /// and `gemm` a few images at a time.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        g: &Geom,
        x: &[f32],
        wt: &[f32],
        grad: &[f32],
        mut dx: Option<&mut Vec<f32>>,
        dw: &mut [f32],
        sc: &mut Scratch,
    ) {
        let (rows, c_out, pitch) = (g.rows(), g.c_out, self.pitch(g));
        let (per_image, px) = (g.ho * pitch, g.pixels());
        let gs_of = |b0: usize, nb: usize| &grad[b0 * c_out * px..(b0 + nb) * c_out * px];
        let chunk = self.chunk(g);
        for b0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - b0);
            let ncols = nb * per_image;
            let xs = &x[b0 * g.image()..(b0 + nb) * g.image()];
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
            let Some(dx) = dx.as_deref_mut() else {
                continue;
            };
            let start = dx.len();
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

/// The output gradient `gs` (images of C_out planes of `px` pixels) pixel by pixel into `gt`:
/// gt[i·co_pad + co], output pixel i of the images in order, channels side by side (the
/// padding channels are left as they are; their sums are dropped).
#[inline(always)]
fn transpose_grad(gs: &[f32], (c_out, px, co_pad): (usize, usize, usize), gt: &mut [f32]) {
    for (b, img) in gs.chunks_exact(c_out * px).enumerate() {
        for i in 0..px {
            let dst = &mut gt[(b * px + i) * co_pad..][..c_out];
            for (co, d) in dst.iter_mut().enumerate() {
                *d = img[co * px + i];
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
        let (x, wt) = (
            f32_slice(s1, l1, self.name())?,
            f32_slice(s2, l2, self.name())?,
        );
        let (out, shape) = self.run_forward((x, l1.dims()), (wt, l2.dims()), None)?;
        Ok((CpuStorage::F32(out), Shape::from(shape.to_vec())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let op = self.name();
        let (dx, dw) = with_f32(x, op, |xs| {
            with_f32(weight, op, |ws| {
                with_f32(&grad, op, |gs| {
                    self.run_backward(
                        (xs, x.dims()),
                        (ws, weight.dims()),
                        OutGrad::Given(gs),
                        x.track_op(),
                    )
                })
            })
        })????;
        let dx = dx.map(|dx| Tensor::from_vec(dx, x.shape(), x.device()));
        Ok((
            dx.transpose()?,
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
            // Stride 2 on the phases (3×3, padding 1, even sizes), as in the reduction blocks,
            // whole vectors of output channels and not.
            check(Conv::new(2, 1, relu), (3, 16, 32, 3, 8), 11);
            check(Conv::new(2, 1, relu), (2, 3, 5, 3, 10), 12);
        }
    }

    #[test]
    fn images_get_no_gradient_and_the_weights_the_same_one() {
        for stride in [1, 2] {
            let w = Var::from_tensor(&input(&[4, 3, 3, 3], 1)).unwrap();
            let x = input(&[2, 3, 6, 6], 2);
            let xv = Var::from_tensor(&x).unwrap();
            let weights = input(&[2, 4, 6 / stride, 6 / stride], 3);
            let image = grads_of_weighted_square(
                &relu_conv2d(&x, w.as_tensor(), stride, 1).unwrap(),
                &weights,
            );
            let var = grads_of_weighted_square(
                &relu_conv2d(xv.as_tensor(), w.as_tensor(), stride, 1).unwrap(),
                &weights,
            );
            assert!(image.get(&x).is_none() && var.get(xv.as_tensor()).is_some());
            let bits = |g: &candle_core::backprop::GradStore| -> Vec<u32> {
                values(g.get(w.as_tensor()).unwrap())
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(bits(&image), bits(&var), "stride {stride}");
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
                let phased = Conv {
                    chunk_floats,
                    ..Conv::new(2, 1, relu)
                };
                check(phased, (5, 2, 3, 3, 6), 13);
            }
        }
    }
}
