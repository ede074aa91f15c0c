//! A fused single-layer LSTM as one candle op, with a hand-written backward pass.
//!
//! candle's `LSTM::seq()` issues about 24 small ops per time step, each with a broadcast and its
//! own backward node; on a 2-core CPU that overhead, not arithmetic, dominates training. Here the
//! whole recurrence is one node: the caller computes the input pre-activations for all steps at
//! once (`xg`, one matmul or table lookup), the op runs the recurrence with one `gemm` per step
//! (all four gates batched into a single matmul) and vectorised activations, and its backward
//! runs back-propagation through time with two `gemm`s per step. Gate order is PyTorch's
//! (input, forget, cell, output).

use crate::fastmath::{sigmoid_slice, tanh, tanh_slice};
use crate::matmul::mm;
use crate::storage::f32_slice;
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

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

/// Runs `f` compiled for AVX2 + FMA when the CPU has them (runtime check), else for the
/// baseline target. LLVM does not contract `a * b + c` into FMA on its own, so both paths give
/// identical bits.
macro_rules! multiversion {
    ($name:ident, $imp:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) -> $ret {
                    $imp($($arg),*)
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the features were detected at run time.
                    return unsafe { fast($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

multiversion!(forward, forward_impl, (table: &[f32], tokens: &[u32], w: &[f32], s0: &[f32], d: Dims, reverse: bool) -> (Vec<f32>, Cache));
multiversion!(backward, backward_impl, (grad: &[f32], tokens: &[u32], vocab: usize, w: &[f32], c: &Cache, d: Dims, reverse: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>));
multiversion!(tanh_vec, tanh_slice, (v: &mut [f32]) -> ());

#[inline(always)]
fn forward_impl(
    table: &[f32],
    tokens: &[u32],
    w: &[f32],
    s0: &[f32],
    d: Dims,
    reverse: bool,
) -> (Vec<f32>, Cache) {
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
            let tok = tokens[bi * l + t] as usize;
            a[bi * g4..(bi + 1) * g4].copy_from_slice(&table[tok * g4..(tok + 1) * g4]);
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

/// Back-propagation through time. Returns (d table [V,4H], d w [4H,H], d s0 [B,2H]).
#[inline(always)]
fn backward_impl(
    grad: &[f32],
    tokens: &[u32],
    vocab: usize,
    w: &[f32],
    c: &Cache,
    d: Dims,
    reverse: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { b, l, h } = d;
    let g4 = 4 * h;
    let mut dtable = vec![0f32; vocab * g4];
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
            let tok = tokens[bi * l + t] as usize;
            for (dt, da) in dtable[tok * g4..(tok + 1) * g4].iter_mut().zip(dar.iter()) {
                *dt += da;
            }
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
    (dtable, dw, ds0)
}

struct LstmOp {
    tokens: Vec<u32>,
    len: usize,
    reverse: bool,
    keep: bool,
    cache: Mutex<Option<Cache>>,
}

impl LstmOp {
    fn dims(&self, table: &[usize], w: &[usize], s0: &[usize]) -> Result<(usize, Dims)> {
        let (&[v, g4], &[wg, h], &[b, s2]) = (table, w, s0) else {
            bail!("lstm: expected table [V,4H], w [4H,H], s0 [B,2H], got {table:?} {w:?} {s0:?}")
        };
        let l = self.len;
        if g4 != 4 * h || wg != g4 || s2 != 2 * h || self.tokens.len() != b * l {
            bail!(
                "lstm: inconsistent shapes table {table:?} w {w:?} s0 {s0:?}, {} tokens",
                self.tokens.len()
            );
        }
        if let Some(t) = self.tokens.iter().find(|&&t| t as usize >= v) {
            bail!("lstm: token {t} outside the table of {v} rows");
        }
        Ok((v, Dims { b, l, h }))
    }
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
        let (_, d) = self.dims(l1.dims(), l2.dims(), l3.dims())?;
        let (out, cache) = forward(
            f32_slice(s1, l1, "lstm")?,
            &self.tokens,
            f32_slice(s2, l2, "lstm")?,
            f32_slice(s3, l3, "lstm")?,
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
        table: &Tensor,
        w: &Tensor,
        s0: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (v, d) = self.dims(table.dims(), w.dims(), s0.dims())?;
        let wv = w.flatten_all()?.to_vec1::<f32>()?;
        let gv = grad.flatten_all()?.to_vec1::<f32>()?;
        let cached = self.cache.lock().expect("lstm cache").take();
        let cache = match cached {
            Some(c) => c,
            None => {
                let tv = table.flatten_all()?.to_vec1::<f32>()?;
                let sv = s0.flatten_all()?.to_vec1::<f32>()?;
                forward(&tv, &self.tokens, &wv, &sv, d, self.reverse).1
            }
        };
        let (dtable, dw, ds0) = backward(&gv, &self.tokens, v, &wv, &cache, d, self.reverse);
        let dev = table.device();
        Ok((
            Some(Tensor::from_vec(dtable, table.dims(), dev)?),
            Some(Tensor::from_vec(dw, w.dims(), dev)?),
            Some(Tensor::from_vec(ds0, s0.dims(), dev)?),
        ))
    }
}

/// Runs an LSTM layer over a batch of token sequences. `table`: the input pre-activations
/// `emb·W_ihᵀ + b` of every vocabulary token, `[V, 4H]` (so no `[B, L, 4H]` tensor, nor its
/// gradient, is ever materialised); `tokens`: `[B, L]` u32; `w_hh`: `[4H, H]`; `s0`: initial
/// `[h0, c0]` concatenated, `[B, 2H]`. With `reverse`, step 0 reads position L−1 (the backward
/// direction of a bidirectional LSTM); the output `[B, L, H]` is always in position order.
/// `train` records the op for backward.
pub fn lstm(
    table: &Tensor,
    tokens: &Tensor,
    w_hh: &Tensor,
    s0: &Tensor,
    reverse: bool,
    train: bool,
) -> Result<Tensor> {
    let (_, len) = tokens.dims2()?;
    let op = LstmOp {
        tokens: tokens.flatten_all()?.to_vec1::<u32>()?,
        len,
        reverse,
        keep: train,
        cache: Mutex::new(None),
    };
    let (t, w, s0) = (table.contiguous()?, w_hh.contiguous()?, s0.contiguous()?);
    if train {
        t.apply_op3(&w, &s0, op)
    } else {
        t.apply_op3_no_bwd(&w, &s0, &op)
    }
}

/// Element-wise tanh as one op, using the vectorised approximation (backward: 1 − y²).
struct FastTanh;

impl CustomOp1 for FastTanh {
    fn name(&self) -> &'static str {
        "fast-tanh"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut v = f32_slice(s, l, self.name())?.to_vec();
        tanh_vec(&mut v);
        Ok((CpuStorage::F32(v), l.shape().clone()))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.mul(&res.sqr()?.affine(-1.0, 1.0)?)?))
    }
}

/// tanh as a single fused op (see [`crate::fastmath::tanh`]).
pub fn fast_tanh(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FastTanh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grads_of_weighted_sum, max_abs, max_diff, rand_tensor};
    use candle_core::{Device, Var, D};
    use rand::{Rng, SeedableRng};

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
            let v = 4;
            let table = Var::from_tensor(&rand_tensor(&mut rng, &[v, 4 * h], 1.0)).unwrap();
            let toks: Vec<u32> = (0..b * l).map(|_| rng.random_range(0..v as u32)).collect();
            let toks = Tensor::from_vec(toks, (b, l), &Device::Cpu).unwrap();
            let xg = table
                .index_select(&toks.flatten_all().unwrap(), 0)
                .unwrap()
                .reshape((b, l, 4 * h))
                .unwrap();
            let w = Var::from_tensor(&rand_tensor(&mut rng, &[4 * h, h], 0.7)).unwrap();
            let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
            let probe = rand_tensor(&mut rng, &[b, l, h], 1.0);
            let ours = lstm(&table, &toks, &w, &s0, reverse, true).unwrap();
            let theirs = reference(&xg, &w, &s0, reverse);
            let diff = max_diff(&ours, &theirs);
            assert!(diff < 1e-5, "forward differs by {diff}");
            let g1 = grads_of_weighted_sum(&ours, &probe);
            let g2 = grads_of_weighted_sum(&theirs, &probe);
            for v in [&table, &w, &s0] {
                let a = g1.get(v).unwrap();
                let bb = g2.get(v).unwrap();
                let scale = max_abs(bb);
                let d = max_diff(a, bb);
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
