//! A fused single-layer LSTM as one candle op, with a hand-written backward pass.
//!
//! candle's `LSTM::seq()` issues about 24 small ops per time step, each with a broadcast and its
//! own backward node; on a 2-core CPU that overhead, not arithmetic, dominates training. Here the
//! whole recurrence is one node: the caller computes the input pre-activations for all steps at
//! once (`xg`, one matmul or table lookup), the op runs the recurrence with one `gemm` per step
//! (all four gates batched into a single matmul) and vectorised activations, and its backward
//! runs back-propagation through time with two `gemm`s per step. Gate order is PyTorch's
//! (input, forget, cell, output).

use super::fastmath::{sigmoid_slice, tanh};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

/// `dst[m×n] = (acc ? dst : 0) + lhs[m×k] · rhs[k×n]`, all row/column strides in elements.
#[allow(clippy::too_many_arguments)]
#[inline]
fn mm(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (isize, isize),
    acc: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (isize, isize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (isize, isize),
) {
    let end = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows.saturating_sub(1)) as isize * rs + (cols.saturating_sub(1)) as isize * cs
    };
    assert!(end(m, n, dst_rs, dst_cs) < dst.len() as isize);
    assert!(end(m, k, lhs_rs, lhs_cs) < lhs.len() as isize);
    assert!(end(k, n, rhs_rs, rhs_cs) < rhs.len() as isize);
    // SAFETY: the asserts above keep every accessed element inside the slices; dst does not alias
    // lhs or rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            acc,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// What the backward pass needs from the forward pass, by step (not by time index).
struct Cache {
    acts: Vec<f32>, // [L][B][4H] activated gates
    cs: Vec<f32>,   // [L+1][B][H] cell states (cs[0] = c0)
    tcs: Vec<f32>,  // [L][B][H] tanh(c)
    hs: Vec<f32>,   // [L+1][B][H] hidden states (hs[0] = h0)
}

#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    l: usize,
    h: usize,
}

fn forward(xg: &[f32], w: &[f32], s0: &[f32], d: Dims, reverse: bool) -> (Vec<f32>, Cache) {
    let Dims { b, l, h } = d;
    let g4 = 4 * h;
    let mut acts = vec![0f32; l * b * g4];
    let mut cs = vec![0f32; (l + 1) * b * h];
    let mut hs = vec![0f32; (l + 1) * b * h];
    let mut tcs = vec![0f32; l * b * h];
    let mut out = vec![0f32; b * l * h];
    for bi in 0..b {
        hs[bi * h..(bi + 1) * h].copy_from_slice(&s0[bi * 2 * h..bi * 2 * h + h]);
        cs[bi * h..(bi + 1) * h].copy_from_slice(&s0[bi * 2 * h + h..(bi + 1) * 2 * h]);
    }
    for s in 0..l {
        let t = if reverse { l - 1 - s } else { s };
        let a = &mut acts[s * b * g4..(s + 1) * b * g4];
        for bi in 0..b {
            a[bi * g4..(bi + 1) * g4]
                .copy_from_slice(&xg[(bi * l + t) * g4..(bi * l + t + 1) * g4]);
        }
        let (hs_prev, hs_next) = hs.split_at_mut((s + 1) * b * h);
        let h_prev = &hs_prev[s * b * h..];
        mm(
            (b, g4, h),
            a,
            (g4 as isize, 1),
            true,
            h_prev,
            (h as isize, 1),
            w,
            (1, h as isize),
        );
        for bi in 0..b {
            let row = &mut a[bi * g4..(bi + 1) * g4];
            // tanh(x) = 2σ(2x) − 1: one vectorised sigmoid pass over all four gates.
            for x in &mut row[2 * h..3 * h] {
                *x *= 2.0;
            }
            sigmoid_slice(row);
            for x in &mut row[2 * h..3 * h] {
                *x = 2.0 * *x - 1.0;
            }
        }
        let (cs_prev, cs_next) = cs.split_at_mut((s + 1) * b * h);
        let c_prev = &cs_prev[s * b * h..];
        let c_new = &mut cs_next[..b * h];
        let h_new = &mut hs_next[..b * h];
        let tc = &mut tcs[s * b * h..(s + 1) * b * h];
        for bi in 0..b {
            let row = &a[bi * g4..(bi + 1) * g4];
            for j in 0..h {
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                let c = f * c_prev[bi * h + j] + i * g;
                let tcv = tanh(c);
                c_new[bi * h + j] = c;
                tc[bi * h + j] = tcv;
                let hv = o * tcv;
                h_new[bi * h + j] = hv;
                out[(bi * l + t) * h + j] = hv;
            }
        }
    }
    (out, Cache { acts, cs, tcs, hs })
}

/// Back-propagation through time. Returns (d xg [B,L,4H], d w [4H,H], d s0 [B,2H]).
fn backward(
    grad: &[f32],
    w: &[f32],
    c: &Cache,
    d: Dims,
    reverse: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { b, l, h } = d;
    let g4 = 4 * h;
    let mut dxg = vec![0f32; b * l * g4];
    let mut dw = vec![0f32; g4 * h];
    let mut dh_next = vec![0f32; b * h];
    let mut dc_next = vec![0f32; b * h];
    let mut da = vec![0f32; b * g4];
    for s in (0..l).rev() {
        let t = if reverse { l - 1 - s } else { s };
        let acts = &c.acts[s * b * g4..(s + 1) * b * g4];
        let tcs = &c.tcs[s * b * h..(s + 1) * b * h];
        let c_prev = &c.cs[s * b * h..(s + 1) * b * h];
        for bi in 0..b {
            let row = &acts[bi * g4..(bi + 1) * g4];
            let dar = &mut da[bi * g4..(bi + 1) * g4];
            for j in 0..h {
                let k = bi * h + j;
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                let dh = grad[(bi * l + t) * h + j] + dh_next[k];
                let tc = tcs[k];
                let dc = dc_next[k] + dh * o * (1.0 - tc * tc);
                dar[j] = dc * g * i * (1.0 - i);
                dar[h + j] = dc * c_prev[k] * f * (1.0 - f);
                dar[2 * h + j] = dc * i * (1.0 - g * g);
                dar[3 * h + j] = dh * tc * o * (1.0 - o);
                dc_next[k] = dc * f;
            }
            dxg[(bi * l + t) * g4..(bi * l + t + 1) * g4].copy_from_slice(dar);
        }
        let h_prev = &c.hs[s * b * h..(s + 1) * b * h];
        // dW += daᵀ · h_prev
        mm(
            (g4, h, b),
            &mut dw,
            (h as isize, 1),
            true,
            &da,
            (1, g4 as isize),
            h_prev,
            (h as isize, 1),
        );
        // dh_prev = da · W
        mm(
            (b, h, g4),
            &mut dh_next,
            (h as isize, 1),
            false,
            &da,
            (g4 as isize, 1),
            w,
            (h as isize, 1),
        );
    }
    let mut ds0 = vec![0f32; b * 2 * h];
    for bi in 0..b {
        ds0[bi * 2 * h..bi * 2 * h + h].copy_from_slice(&dh_next[bi * h..(bi + 1) * h]);
        ds0[bi * 2 * h + h..(bi + 1) * 2 * h].copy_from_slice(&dc_next[bi * h..(bi + 1) * h]);
    }
    (dxg, dw, ds0)
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v,
        _ => bail!("lstm: only f32 is supported"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("lstm: inputs must be contiguous"),
    }
}

struct LstmOp {
    reverse: bool,
    keep: bool,
    cache: Mutex<Option<Cache>>,
}

fn dims(xg: &[usize], w: &[usize], s0: &[usize]) -> Result<Dims> {
    let (&[b, l, g4], &[wg, h], &[sb, s2]) = (xg, w, s0) else {
        bail!("lstm: expected xg [B,L,4H], w [4H,H], s0 [B,2H], got {xg:?} {w:?} {s0:?}")
    };
    if g4 != 4 * h || wg != g4 || sb != b || s2 != 2 * h {
        bail!("lstm: inconsistent shapes xg {xg:?} w {w:?} s0 {s0:?}");
    }
    Ok(Dims { b, l, h })
}

impl CustomOp3 for LstmOp {
    fn name(&self) -> &'static str {
        "fused-lstm"
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
        let d = dims(l1.dims(), l2.dims(), l3.dims())?;
        let (out, cache) = forward(
            f32_slice(s1, l1)?,
            f32_slice(s2, l2)?,
            f32_slice(s3, l3)?,
            d,
            self.reverse,
        );
        if self.keep {
            *self.cache.lock().expect("lstm cache") = Some(cache);
        }
        Ok((CpuStorage::F32(out), Shape::from((d.b, d.l, d.h))))
    }

    fn bwd(
        &self,
        xg: &Tensor,
        w: &Tensor,
        s0: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = dims(xg.dims(), w.dims(), s0.dims())?;
        let wv = w.flatten_all()?.to_vec1::<f32>()?;
        let gv = grad.flatten_all()?.to_vec1::<f32>()?;
        let cached = self.cache.lock().expect("lstm cache").take();
        let cache = match cached {
            Some(c) => c,
            None => {
                let xv = xg.flatten_all()?.to_vec1::<f32>()?;
                let sv = s0.flatten_all()?.to_vec1::<f32>()?;
                forward(&xv, &wv, &sv, d, self.reverse).1
            }
        };
        let (dxg, dw, ds0) = backward(&gv, &wv, &cache, d, self.reverse);
        let dev = xg.device();
        Ok((
            Some(Tensor::from_vec(dxg, xg.dims(), dev)?),
            Some(Tensor::from_vec(dw, w.dims(), dev)?),
            Some(Tensor::from_vec(ds0, s0.dims(), dev)?),
        ))
    }
}

/// Runs an LSTM layer over a batch. `xg`: input pre-activations `x·W_ihᵀ + b` for every step,
/// `[B, L, 4H]`; `w_hh`: `[4H, H]`; `s0`: initial `[h0, c0]` concatenated, `[B, 2H]`. With
/// `reverse`, step 0 reads position L−1 (the backward direction of a bidirectional LSTM); the
/// output `[B, L, H]` is always in position order. `train` records the op for backward.
pub fn lstm(xg: &Tensor, w_hh: &Tensor, s0: &Tensor, reverse: bool, train: bool) -> Result<Tensor> {
    let op = LstmOp {
        reverse,
        keep: train,
        cache: Mutex::new(None),
    };
    let (xg, w, s0) = (xg.contiguous()?, w_hh.contiguous()?, s0.contiguous()?);
    if train {
        xg.apply_op3(&w, &s0, op)
    } else {
        xg.apply_op3_no_bwd(&w, &s0, &op)
    }
}

/// Element-wise tanh as one op, using the vectorised approximation (backward: 1 − y²).
struct FastTanh;

impl CustomOp1 for FastTanh {
    fn name(&self) -> &'static str {
        "fast-tanh"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut v = f32_slice(s, l)?.to_vec();
        super::fastmath::tanh_slice(&mut v);
        Ok((CpuStorage::F32(v), l.shape().clone()))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.mul(&res.sqr()?.affine(-1.0, 1.0)?)?))
    }
}

/// tanh as a single fused op (see [`super::fastmath::tanh`]).
pub fn fast_tanh(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FastTanh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};
    use rand::{Rng, SeedableRng};

    fn rand_tensor(rng: &mut rand_chacha::ChaCha8Rng, dims: &[usize], scale: f32) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    /// The same LSTM from plain candle ops, step by step.
    fn reference(xg: &Tensor, w: &Tensor, s0: &Tensor, reverse: bool) -> Tensor {
        let (_, l, g4) = xg.dims3().unwrap();
        let h = g4 / 4;
        let mut hh = s0.narrow(1, 0, h).unwrap();
        let mut cc = s0.narrow(1, h, h).unwrap();
        let mut outs = vec![None; l];
        for s in 0..l {
            let t = if reverse { l - 1 - s } else { s };
            let a = (xg.narrow(1, t, 1).unwrap().squeeze(1).unwrap()
                + hh.matmul(&w.t().unwrap()).unwrap())
            .unwrap();
            let i = candle_nn::ops::sigmoid(&a.narrow(1, 0, h).unwrap()).unwrap();
            let f = candle_nn::ops::sigmoid(&a.narrow(1, h, h).unwrap()).unwrap();
            let g = a.narrow(1, 2 * h, h).unwrap().tanh().unwrap();
            let o = candle_nn::ops::sigmoid(&a.narrow(1, 3 * h, h).unwrap()).unwrap();
            cc = ((f * &cc).unwrap() + (i * g).unwrap()).unwrap();
            hh = (o * cc.tanh().unwrap()).unwrap();
            outs[t] = Some(hh.unsqueeze(1).unwrap());
        }
        let outs: Vec<Tensor> = outs.into_iter().map(|o| o.unwrap()).collect();
        Tensor::cat(&outs, 1).unwrap()
    }

    #[test]
    fn matches_plain_candle_forward_and_gradients() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (b, l, h) = (3, 5, 4);
        for reverse in [false, true] {
            let xg = Var::from_tensor(&rand_tensor(&mut rng, &[b, l, 4 * h], 1.0)).unwrap();
            let w = Var::from_tensor(&rand_tensor(&mut rng, &[4 * h, h], 0.7)).unwrap();
            let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
            let probe = rand_tensor(&mut rng, &[b, l, h], 1.0);
            let ours = lstm(&xg, &w, &s0, reverse, true).unwrap();
            let theirs = reference(&xg, &w, &s0, reverse);
            let diff = (&ours - &theirs)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "forward differs by {diff}");
            let g1 = (ours * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (theirs * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for v in [&xg, &w, &s0] {
                let a = g1.get(v).unwrap();
                let bb = g2.get(v).unwrap();
                let scale = bb
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = (a - bb)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    scale > 1e-3 && d < 1e-4 * scale.max(1.0),
                    "grad differs by {d}"
                );
            }
        }
    }

    #[test]
    fn fast_tanh_grad() {
        let x = Var::from_tensor(&Tensor::new(&[-2.0f32, 0.0, 0.5, 3.0], &Device::Cpu).unwrap())
            .unwrap();
        let y = fast_tanh(&x).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        let gx = g.get(&x).unwrap().to_vec1::<f32>().unwrap();
        for (gi, xi) in gx.iter().zip([-2.0f32, 0.0, 0.5, 3.0]) {
            assert!((gi - (1.0 - xi.tanh().powi(2))).abs() < 1e-6);
        }
        let _ = D::Minus1;
    }
}
