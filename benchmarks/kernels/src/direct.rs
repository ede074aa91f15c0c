//! Direct stride-1 convolution on the padded-width grid, vectorised across outputs, so that its
//! bits do not depend on the vector width.
//!
//! An input channel is stored zero-padded, `pitch` values a row; output p of a channel is the
//! point of the same grid where the kernel's top-left tap lands, so tap (ki, kj) of every output
//! reads the input shifted by ki·pitch + kj, in place (no patch copies). The last k - 1 columns
//! of each output row are not outputs of the convolution; the caller drops them.
//!
//! Every result is one chain of fused multiply-adds, from zero, in a fixed order: (ci, ki, kj)
//! for an output, and the output pixels in order for a weight's gradient. The SIMD lanes hold
//! different results (output pixels, or output channels for the weight gradient), never parts
//! of one sum. So AVX-512, AVX2 and the portable code give the same bits (a test runs each
//! that the machine has); [`crate::simd`] says which runs.

use crate::simd;
use pulp::{Arch, Simd, WithSimd};
use std::ptr::{read_unaligned, write_unaligned};

/// The most outputs a tile computes at once, past `np`: the input and output buffers need this
/// many values of slack after the last output (see [`Plan::x_len`], [`Plan::y_len`]).
pub(crate) const MAX_TILE: usize = 64;

/// Output channels padded to a multiple of this in the weight gradient's layouts.
pub(crate) const CO_ALIGN: usize = 16;

/// The shapes of a direct convolution: `c_in` input channels `x_stride` apart, `c_out` output
/// channels `y_stride` apart, `np` outputs per channel, and the taps: where each reads,
/// relative to its output (for a k×k kernel at stride 1 on rows `pitch` wide, ki·pitch + kj).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan<'a> {
    pub c_in: usize,
    pub c_out: usize,
    pub taps: &'a [usize],
    pub x_stride: usize,
    pub np: usize,
    pub y_stride: usize,
}

/// The taps of a k×k kernel at stride 1 on rows `pitch` wide: ki·pitch + kj, row by row.
pub(crate) fn square_taps(k: usize, pitch: usize) -> Vec<usize> {
    (0..k * k).map(|t| t / k * pitch + t % k).collect()
}

impl Plan<'_> {
    /// The input values the convolution may read: every channel's outputs, rounded up to a
    /// tile, shifted by up to the farthest tap.
    pub fn x_len(&self) -> usize {
        let reach = self.taps.iter().max().copied().unwrap_or(0);
        (self.c_in - 1) * self.x_stride + self.np + MAX_TILE + reach
    }

    /// The output values the convolution may write.
    pub fn y_len(&self) -> usize {
        (self.c_out - 1) * self.y_stride + self.np + MAX_TILE
    }
}

/// `y[co·y_stride + p] = Σ_(ci, t) w[(ci·T + t)·c_out + co] · x[ci·x_stride + p + taps[t]]`
/// for p < np (and a few p past it, up to a tile), summed in that order, one fused
/// multiply-add per term.
pub(crate) fn conv(plan: &Plan, x: &[f32], w: &[f32], y: &mut [f32]) {
    conv_with(simd::arch(), plan, x, w, y)
}

fn conv_with(arch: Arch, plan: &Plan, x: &[f32], w: &[f32], y: &mut [f32]) {
    assert!(plan.c_in > 0 && plan.c_out > 0 && !plan.taps.is_empty());
    assert!(x.len() >= plan.x_len() && y.len() >= plan.y_len());
    assert!(w.len() >= plan.c_in * plan.taps.len() * plan.c_out);
    assert!(plan.y_stride >= plan.np + MAX_TILE || plan.c_out == 1);
    arch.dispatch(Forward { plan, x, w, y })
}

struct Forward<'a> {
    plan: &'a Plan<'a>,
    x: &'a [f32],
    w: &'a [f32],
    y: &'a mut [f32],
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        // Accumulators: B output channels × R vectors of pixels, in registers (32 of AVX-512's,
        // 16 of AVX2's).
        if S::F32_LANES >= 16 {
            forward::<S, 8, 3>(s, self)
        } else {
            forward::<S, 4, 3>(s, self)
        }
    }
}

#[inline(always)]
fn forward<S: Simd, const B: usize, const R: usize>(s: S, op: Forward) {
    let Forward { plan, x, w, y } = op;
    let tile = R * S::F32_LANES;
    assert!(tile <= MAX_TILE);
    let (x, w, y) = (x.as_ptr(), w.as_ptr(), y.as_mut_ptr());
    // Whole tiles of R vectors, then the rest a vector at a time (with twice the channels, to
    // keep as many sums in flight), so that a small image computes few outputs past np.
    let whole = plan.np / tile * tile;
    for p0 in (0..whole).step_by(tile) {
        // SAFETY: `conv_with` checked the lengths: reads stay below x_len, writes below
        // y_len, weights below c_in·k²·c_out.
        unsafe { forward_channels::<S, B, R>(s, plan, x, w, y, p0) };
    }
    for p0 in (whole..plan.np).step_by(S::F32_LANES) {
        // SAFETY: as above (a vector is at most a tile).
        unsafe { forward_channels::<S, 8, 1>(s, plan, x, w, y, p0) };
    }
}

/// Outputs p0..p0 + R·lanes of every channel, B channels at a time.
#[inline(always)]
unsafe fn forward_channels<S: Simd, const B: usize, const R: usize>(
    s: S,
    plan: &Plan,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    p0: usize,
) {
    let mut co = 0;
    while co + B <= plan.c_out {
        forward_tile::<S, B, R>(s, plan, x, w, y, p0, co);
        co += B;
    }
    while co < plan.c_out {
        forward_tile::<S, 1, R>(s, plan, x, w, y, p0, co);
        co += 1;
    }
}

/// Outputs p0..p0 + R·lanes of channels co..co + B.
#[inline(always)]
unsafe fn forward_tile<S: Simd, const B: usize, const R: usize>(
    s: S,
    plan: &Plan,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    p0: usize,
    co: usize,
) {
    let lanes = S::F32_LANES;
    let mut acc = [[s.splat_f32s(0.0); R]; B];
    let nt = plan.taps.len();
    for ci in 0..plan.c_in {
        let xc = x.add(ci * plan.x_stride + p0);
        let wc = w.add(ci * nt * plan.c_out + co);
        for (t, &tap) in plan.taps.iter().enumerate() {
            let xo = xc.add(tap);
            let xv: [S::f32s; R] =
                std::array::from_fn(|r| read_unaligned(xo.add(r * lanes) as *const S::f32s));
            let wt = wc.add(t * plan.c_out);
            for (b, acc) in acc.iter_mut().enumerate() {
                let wb = s.splat_f32s(*wt.add(b));
                for (a, &xr) in acc.iter_mut().zip(&xv) {
                    *a = s.mul_add_f32s(wb, xr, *a);
                }
            }
        }
    }
    for (b, acc) in acc.iter().enumerate() {
        let yo = y.add((co + b) * plan.y_stride + p0);
        for (r, &a) in acc.iter().enumerate() {
            write_unaligned(yo.add(r * lanes) as *mut S::f32s, a);
        }
    }
}

/// The shapes of a weight gradient: `c_in` input channels `x_stride` apart, the taps (as in
/// [`Plan`]), `c_out` output channels (padded to `co_pad`, a multiple of [`CO_ALIGN`]), and
/// the output pixels: runs of `run` pixels, run r starting at grid point `starts[r]`.
pub(crate) struct GradPlan<'a> {
    pub c_in: usize,
    pub c_out: usize,
    pub taps: &'a [usize],
    pub x_stride: usize,
    pub run: usize,
    /// The first grid point of each run, in order.
    pub starts: &'a [usize],
}

impl GradPlan<'_> {
    /// `c_out` rounded up to [`CO_ALIGN`].
    pub fn co_pad(&self) -> usize {
        co_pad(self.c_out)
    }
}

/// `c_out` rounded up to [`CO_ALIGN`]: the output channels of the weight gradient's layouts.
pub(crate) fn co_pad(c_out: usize) -> usize {
    c_out.div_ceil(CO_ALIGN) * CO_ALIGN
}

/// `dw[(t·c_in + ci)·co_pad + co] += Σ_i g[i·co_pad + co] · x[ci·x_stride + j_i + taps[t]]`
/// over the output pixels in order (i counts them, j_i is the grid point of pixel i), one
/// fused multiply-add per term (the chain goes on from the value `dw` holds). The padding
/// channels of `g` must be finite; their sums land in `dw`'s padding.
pub(crate) fn weight_grad(plan: &GradPlan, x: &[f32], g: &[f32], dw: &mut [f32]) {
    weight_grad_with(simd::arch(), plan, x, g, dw)
}

fn weight_grad_with(arch: Arch, plan: &GradPlan, x: &[f32], g: &[f32], dw: &mut [f32]) {
    let co_pad = plan.co_pad();
    let last = plan.starts.iter().max().map_or(0, |&s| s + plan.run);
    let reach = plan.taps.iter().max().copied().unwrap_or(0);
    assert!(
        plan.starts.is_empty()
            || plan.run == 0
            || x.len() >= (plan.c_in - 1) * plan.x_stride + last + reach
    );
    assert!(g.len() >= plan.starts.len() * plan.run * co_pad);
    assert!(dw.len() >= plan.taps.len() * plan.c_in * co_pad);
    // Each tap (ci, t): where it reads (relative to the output pixel) and where its gradient
    // goes.
    let nt = plan.taps.len();
    let taps: Vec<(usize, usize)> = (0..plan.c_in)
        .flat_map(|ci| {
            (0..nt).map(move |t| {
                (
                    ci * plan.x_stride + plan.taps[t],
                    (t * plan.c_in + ci) * co_pad,
                )
            })
        })
        .collect();
    arch.dispatch(WeightGrad {
        plan,
        taps: &taps,
        x,
        g,
        dw,
    })
}

struct WeightGrad<'a> {
    plan: &'a GradPlan<'a>,
    taps: &'a [(usize, usize)],
    x: &'a [f32],
    g: &'a [f32],
    dw: &'a mut [f32],
}

impl WithSimd for WeightGrad<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        // Accumulators: T taps × V vectors of output channels.
        let vectors = self.plan.co_pad() / S::F32_LANES;
        match (S::F32_LANES >= 16, vectors.is_multiple_of(2)) {
            (true, true) => weight_grad_blocks::<S, 12, 2>(s, self),
            (true, false) => weight_grad_blocks::<S, 24, 1>(s, self),
            (false, true) => weight_grad_blocks::<S, 6, 2>(s, self),
            (false, false) => weight_grad_blocks::<S, 12, 1>(s, self),
        }
    }
}

#[inline(always)]
fn weight_grad_blocks<S: Simd, const T: usize, const V: usize>(s: S, op: WeightGrad) {
    let WeightGrad {
        plan,
        taps,
        x,
        g,
        dw,
    } = op;
    let lanes = S::F32_LANES;
    let co_pad = plan.co_pad();
    let (x, g, dw) = (x.as_ptr(), g.as_ptr(), dw.as_mut_ptr());
    let mut v0 = 0;
    while v0 < co_pad / lanes {
        let mut t0 = 0;
        while t0 + T <= taps.len() {
            // SAFETY: `weight_grad_with` checked the lengths of x, g and dw against the runs.
            unsafe {
                weight_grad_tile::<S, T, V>(s, plan, &taps[t0..t0 + T], x, g, dw, v0 * lanes)
            };
            t0 += T;
        }
        while t0 < taps.len() {
            // SAFETY: as above.
            unsafe {
                weight_grad_tile::<S, 1, V>(s, plan, &taps[t0..t0 + 1], x, g, dw, v0 * lanes)
            };
            t0 += 1;
        }
        v0 += V;
    }
}

/// The gradients of taps `taps` (T of them) for output channels co..co + V·lanes.
#[inline(always)]
unsafe fn weight_grad_tile<S: Simd, const T: usize, const V: usize>(
    s: S,
    plan: &GradPlan,
    taps: &[(usize, usize)],
    x: *const f32,
    g: *const f32,
    dw: *mut f32,
    co: usize,
) {
    let (lanes, co_pad) = (S::F32_LANES, plan.co_pad());
    let tap: [(usize, usize); T] = std::array::from_fn(|t| taps[t]);
    let mut acc: [[S::f32s; V]; T] = std::array::from_fn(|t| {
        std::array::from_fn(|v| read_unaligned(dw.add(tap[t].1 + co + v * lanes) as *const S::f32s))
    });
    for (r, &start) in plan.starts.iter().enumerate() {
        for (i, j) in (start..start + plan.run).enumerate() {
            let gj = g.add((r * plan.run + i) * co_pad + co);
            let gv: [S::f32s; V] =
                std::array::from_fn(|v| read_unaligned(gj.add(v * lanes) as *const S::f32s));
            let xj = x.add(j);
            for (t, acc) in acc.iter_mut().enumerate() {
                let xb = s.splat_f32s(*xj.add(tap[t].0));
                for (a, &gv) in acc.iter_mut().zip(&gv) {
                    *a = s.mul_add_f32s(gv, xb, *a);
                }
            }
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        for (v, &a) in acc.iter().enumerate() {
            write_unaligned(dw.add(tap[t].1 + co + v * lanes) as *mut S::f32s, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction set this machine has, the portable code first.
    fn arches() -> Vec<(&'static str, Arch)> {
        let mut v = vec![("portable", Arch::Scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(s) = pulp::x86::V3::try_new() {
                v.push(("avx2", Arch::V3(s)));
            }
            if let Some(s) = pulp::x86::V4::try_new() {
                v.push(("avx512", Arch::V4(s)));
            }
        }
        v.push(("detected", Arch::new()));
        v
    }

    /// Values with a wide spread of magnitudes, so that a different summation order would
    /// round differently.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                u * 10f32.powi(((state >> 20) % 5) as i32 - 2)
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn forward_is_the_sum_in_order_at_every_vector_width() {
        for (c_in, c_out, k, pitch, rows) in [(3, 5, 3, 7, 5), (16, 16, 3, 34, 32), (2, 9, 1, 3, 3)]
        {
            let np = rows * pitch;
            let plane = (rows + k) * pitch;
            let taps = square_taps(k, pitch);
            let plan = Plan {
                c_in,
                c_out,
                taps: &taps,
                x_stride: plane,
                np,
                y_stride: np + MAX_TILE,
            };
            let x = values(plan.x_len(), 1);
            let w = values(c_in * k * k * c_out, 2);
            // The definition, one scalar fma chain per output.
            let mut want = vec![0f32; c_out * np];
            for co in 0..c_out {
                for p in 0..np {
                    let mut a = 0f32;
                    for ci in 0..c_in {
                        for t in 0..k * k {
                            let xv = x[ci * plane + p + t / k * pitch + t % k];
                            a = w[(ci * k * k + t) * c_out + co].mul_add(xv, a);
                        }
                    }
                    want[co * np + p] = a;
                }
            }
            for (name, arch) in arches() {
                let mut y = vec![f32::NAN; plan.y_len()];
                conv_with(arch, &plan, &x, &w, &mut y);
                let got: Vec<f32> = (0..c_out)
                    .flat_map(|co| y[co * plan.y_stride..][..np].to_vec())
                    .collect();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{name}, c_in {c_in} c_out {c_out} k {k}"
                );
            }
        }
    }

    #[test]
    fn weight_gradient_is_the_sum_in_order_at_every_vector_width() {
        for (c_in, c_out, k, pitch, rows, run) in [
            (3, 5, 3, 7, 5, 5),
            (16, 16, 3, 10, 8, 8),
            (4, 32, 3, 6, 4, 4),
            (2, 48, 1, 3, 3, 3),
        ] {
            let plane = (rows + k) * pitch;
            // Two images, `plane` apart, `rows` runs each.
            let starts: Vec<usize> = (0..2 * rows)
                .map(|i| i / rows * plane + i % rows * pitch)
                .collect();
            let taps = square_taps(k, pitch);
            let plan = GradPlan {
                c_in,
                c_out,
                taps: &taps,
                x_stride: 2 * plane + MAX_TILE,
                run,
                starts: &starts,
            };
            let co_pad = plan.co_pad();
            let x = values(c_in * plan.x_stride + MAX_TILE, 3);
            // The gradient pixel by pixel, in the runs' order.
            let mut g = values(starts.len() * run * co_pad, 4);
            for (i, v) in g.iter_mut().enumerate() {
                if i % co_pad >= c_out {
                    *v = 0.0;
                }
            }
            let dw0 = values(k * k * c_in * co_pad, 5);
            let mut want = dw0.clone();
            for ci in 0..c_in {
                for t in 0..k * k {
                    for co in 0..co_pad {
                        let d = &mut want[(t * c_in + ci) * co_pad + co];
                        for (r, &s) in starts.iter().enumerate() {
                            for (i, j) in (s..s + run).enumerate() {
                                let xv = x[ci * plan.x_stride + j + t / k * pitch + t % k];
                                *d = g[(r * run + i) * co_pad + co].mul_add(xv, *d);
                            }
                        }
                    }
                }
            }
            for (name, arch) in arches() {
                let mut dw = dw0.clone();
                weight_grad_with(arch, &plan, &x, &g, &mut dw);
                assert_eq!(
                    bits(&dw),
                    bits(&want),
                    "{name}, c_in {c_in} c_out {c_out} k {k}"
                );
            }
        }
    }
}
