//! The layers of the NAS-Bench-201 network, written on candle tensors with parameters drawn from
//! our own seeded RNG (candle's CPU RNG cannot be seeded).
//!
//! Layout is NCHW, `f32`. Initialisation follows PyTorch's defaults: convolution and linear
//! weights (and linear biases) uniform in ±1/√fan_in, batch-norm scale 1 and shift 0.

use crate::nb201::Op;
use crate::seed;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp3, DType, Device, Layout, Result, Shape, Tensor, Var,
};
use rand::Rng as _;
use std::sync::{Arc, Mutex};

/// The trainable parameters of a network, in creation order (deterministic, unlike a
/// `VarMap`), drawn from one seeded stream.
pub struct Params {
    vars: Vec<(String, Var)>,
    rng: seed::Rng,
    device: Device,
}

impl Params {
    /// An empty set whose initial values are drawn from `rng`.
    pub fn new(rng: seed::Rng) -> Self {
        Self {
            vars: Vec::new(),
            rng,
            device: Device::Cpu,
        }
    }

    /// The device (CPU).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A new parameter, uniform in `[-bound, bound)`.
    pub fn uniform(&mut self, name: &str, shape: &[usize], bound: f64) -> Result<Var> {
        let n: usize = shape.iter().product();
        let b = bound as f32;
        let v: Vec<f32> = (0..n).map(|_| self.rng.random_range(-b..b)).collect();
        self.push(name, Var::from_vec(v, shape, &self.device)?)
    }

    /// A new parameter filled with `value`.
    pub fn constant(&mut self, name: &str, shape: &[usize], value: f32) -> Result<Var> {
        let n: usize = shape.iter().product();
        self.push(name, Var::from_vec(vec![value; n], shape, &self.device)?)
    }

    fn push(&mut self, name: &str, var: Var) -> Result<Var> {
        self.vars.push((name.to_string(), var.clone()));
        Ok(var)
    }

    /// All parameters, in creation order.
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }
}

/// Batch normalisation over (N, H, W) with a learnt scale and shift; batch statistics when
/// training (updating running estimates with momentum 0.1 and the unbiased variance, as in
/// PyTorch), running estimates otherwise.
pub struct BatchNorm {
    gamma: Var,
    beta: Var,
    running_mean: Var,
    running_var: Var,
    channels: usize,
}

const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

impl BatchNorm {
    /// A batch norm over `channels` channels.
    pub fn new(p: &mut Params, name: &str, channels: usize) -> Result<Self> {
        let dev = p.device().clone();
        Ok(Self {
            gamma: p.constant(&format!("{name}.weight"), &[channels], 1.0)?,
            beta: p.constant(&format!("{name}.bias"), &[channels], 0.0)?,
            running_mean: Var::zeros(channels, DType::F32, &dev)?,
            running_var: Var::ones(channels, DType::F32, &dev)?,
            channels,
        })
    }

    /// Normalises `x` of shape (N, C, H, W). Training mode uses a fused kernel
    /// (`FusedBatchNorm`); evaluation mode uses tensor ops on the running estimates.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return self.forward_eval(x);
        }
        let (n, _, h, w) = x.dims4()?;
        let stats = Arc::new(Mutex::new(BatchStats::default()));
        let op = FusedBatchNorm {
            stats: stats.clone(),
        };
        let y = x
            .contiguous()?
            .apply_op3(self.gamma.as_tensor(), self.beta.as_tensor(), op)?;
        let st = stats.lock().expect("batch stats").clone();
        let m = (n * h * w) as f64;
        let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
        let mean = Tensor::from_vec(st.mean, self.channels, &Device::Cpu)?;
        let var = Tensor::from_vec(st.var, self.channels, &Device::Cpu)?;
        let rm = (self
            .running_mean
            .as_tensor()
            .detach()
            .affine(1.0 - BN_MOMENTUM, 0.0)?
            + mean.affine(BN_MOMENTUM, 0.0)?)?;
        let rv = (self
            .running_var
            .as_tensor()
            .detach()
            .affine(1.0 - BN_MOMENTUM, 0.0)?
            + var.affine(BN_MOMENTUM * unbiased, 0.0)?)?;
        self.running_mean.set(&rm)?;
        self.running_var.set(&rv)?;
        Ok(y)
    }

    /// Training-mode batch norm written with candle tensor ops: the reference that the fused
    /// kernel is tested against (it does not update the running estimates).
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.channels;
        let mean = x.mean_keepdim((0, 2, 3))?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim((0, 2, 3))?;
        let inv_std = (var + BN_EPS)?.sqrt()?.recip()?;
        let scale = inv_std.broadcast_mul(&self.gamma.as_tensor().reshape((1, c, 1, 1))?)?;
        centred
            .broadcast_mul(&scale)?
            .broadcast_add(&self.beta.as_tensor().reshape((1, c, 1, 1))?)
    }

    fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.channels;
        let mean = self
            .running_mean
            .as_tensor()
            .detach()
            .reshape((1, c, 1, 1))?;
        let inv_std = (self.running_var.as_tensor().detach() + BN_EPS)?
            .sqrt()?
            .recip()?
            .reshape((1, c, 1, 1))?;
        let scale = inv_std.broadcast_mul(&self.gamma.as_tensor().reshape((1, c, 1, 1))?)?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&scale)?
            .broadcast_add(&self.beta.as_tensor().reshape((1, c, 1, 1))?)
    }
}

/// Per-channel batch statistics of one fused batch-norm call (biased variance).
#[derive(Debug, Clone, Default)]
struct BatchStats {
    mean: Vec<f32>,
    var: Vec<f32>,
}

/// Training-mode batch norm `y = γ·(x − μ)/√(σ² + ε) + β` as one candle op with a hand-written
/// backward pass: about ten times faster on small tensors than the dozen tensor ops (with
/// broadcasting backward passes) it replaces. Inputs: x (N, C, H, W) contiguous, γ (C), β (C).
struct FusedBatchNorm {
    stats: Arc<Mutex<BatchStats>>,
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("fused batch norm needs contiguous inputs"),
    }
}

impl CustomOp3 for FusedBatchNorm {
    fn name(&self) -> &'static str {
        "fused-batch-norm"
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
        let (n, c, h, w) = l1.shape().dims4()?;
        let (x, gamma, beta) = (
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
        );
        let hw = h * w;
        let m = (n * hw) as f64;
        let mut mean = vec![0f32; c];
        let mut var = vec![0f32; c];
        let mut y = vec![0f32; x.len()];
        for ch in 0..c {
            let mut sum = 0f64;
            for b in 0..n {
                let o = (b * c + ch) * hw;
                sum += x[o..o + hw].iter().map(|&v| v as f64).sum::<f64>();
            }
            let mu = sum / m;
            let mut sq = 0f64;
            for b in 0..n {
                let o = (b * c + ch) * hw;
                sq += x[o..o + hw]
                    .iter()
                    .map(|&v| (v as f64 - mu).powi(2))
                    .sum::<f64>();
            }
            let v = sq / m;
            let inv = 1.0 / (v + BN_EPS).sqrt();
            let (scale, shift) = ((gamma[ch] as f64 * inv) as f32, beta[ch]);
            let mu32 = mu as f32;
            for b in 0..n {
                let o = (b * c + ch) * hw;
                for (yi, &xi) in y[o..o + hw].iter_mut().zip(&x[o..o + hw]) {
                    *yi = (xi - mu32) * scale + shift;
                }
            }
            mean[ch] = mu32;
            var[ch] = v as f32;
        }
        *self.stats.lock().expect("batch stats") = BatchStats { mean, var };
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, w) = x.dims4()?;
        let hw = h * w;
        let m = (n * hw) as f64;
        let st = self.stats.lock().expect("batch stats").clone();
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let gs: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let gamma: Vec<f32> = gamma.to_vec1()?;
        let mut dx = vec![0f32; xs.len()];
        let mut dgamma = vec![0f32; c];
        let mut dbeta = vec![0f32; c];
        for ch in 0..c {
            let mu = st.mean[ch];
            let inv = (1.0 / (st.var[ch] as f64 + BN_EPS).sqrt()) as f32;
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            for b in 0..n {
                let o = (b * c + ch) * hw;
                for (&xi, &gi) in xs[o..o + hw].iter().zip(&gs[o..o + hw]) {
                    sum_g += gi as f64;
                    sum_gx += (gi * (xi - mu) * inv) as f64;
                }
            }
            dbeta[ch] = sum_g as f32;
            dgamma[ch] = sum_gx as f32;
            // dx = γ·inv/m · (m·g − Σg − x̂·Σ(g·x̂))
            let k = gamma[ch] * inv / m as f32;
            let (sg, sgx) = (sum_g as f32, sum_gx as f32);
            for b in 0..n {
                let o = (b * c + ch) * hw;
                for ((d, &xi), &gi) in dx[o..o + hw]
                    .iter_mut()
                    .zip(&xs[o..o + hw])
                    .zip(&gs[o..o + hw])
                {
                    let xhat = (xi - mu) * inv;
                    *d = k * (m as f32 * gi - sg - xhat * sgx);
                }
            }
        }
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (n, c, h, w), dev)?),
            Some(Tensor::from_vec(dgamma, c, dev)?),
            Some(Tensor::from_vec(dbeta, c, dev)?),
        ))
    }
}

/// A bias-free 2-D convolution.
pub struct Conv2d {
    weight: Var,
    padding: usize,
    stride: usize,
}

impl Conv2d {
    /// A `k×k` convolution from `c_in` to `c_out` channels.
    pub fn new(
        p: &mut Params,
        name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        Ok(Self {
            weight: p.uniform(&format!("{name}.weight"), &[c_out, c_in, k, k], bound)?,
            padding,
            stride,
        })
    }

    /// Applies the convolution: an im2col op and one matrix product (candle's gemm), about twice
    /// as fast in training as candle's `conv2d` on these small images.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, _, h, w) = x.dims4()?;
        let (c_out, c_in, k, _) = self.weight.dims4()?;
        let ho = (h + 2 * self.padding - k) / self.stride + 1;
        let wo = (w + 2 * self.padding - k) / self.stride + 1;
        let cols = x.contiguous()?.apply_op1(Im2Col {
            k,
            stride: self.stride,
            padding: self.padding,
        })?;
        self.weight
            .as_tensor()
            .reshape((c_out, c_in * k * k))?
            .matmul(&cols)?
            .reshape((c_out, n, ho * wo))?
            .transpose(0, 1)?
            .contiguous()?
            .reshape((n, c_out, ho, wo))
    }

    /// The same convolution with candle's `conv2d` (the reference in tests).
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(self.weight.as_tensor(), self.padding, self.stride, 1, 1)
    }
}

/// Unfolds (N, C, H, W) into the (C·k·k, N·Ho·Wo) matrix of a `k×k` convolution's input
/// patches (zero padding); its backward pass folds the gradient back (scatter-add).
struct Im2Col {
    k: usize,
    stride: usize,
    padding: usize,
}

impl Im2Col {
    fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        (
            (h + 2 * self.padding - self.k) / self.stride + 1,
            (w + 2 * self.padding - self.k) / self.stride + 1,
        )
    }

    /// Walks the patch matrix: for each row r = (c, ki, kj) and each (b, oh) whose input row
    /// is inside the image, calls `f(dst, src, len)` where `dst` is the matrix index of the
    /// first in-image column (b, oh, ow_lo), `src` the input index of its pixel, and `len` the
    /// number of in-image columns (consecutive in the matrix, `stride` apart in the input).
    fn for_each_run(
        &self,
        (n, c, h, w): (usize, usize, usize, usize),
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let (ho, wo) = self.out_hw(h, w);
        let (k, s, p) = (self.k, self.stride, self.padding);
        let ncols = n * ho * wo;
        for ch in 0..c {
            for ki in 0..k {
                for kj in 0..k {
                    let row = (ch * k + ki) * k + kj;
                    // Columns ow with 0 <= ow*s + kj - p < w.
                    let ow_lo = p.saturating_sub(kj).div_ceil(s);
                    let ow_hi = ((w + p - kj).div_ceil(s)).min(wo);
                    if ow_lo >= ow_hi {
                        continue;
                    }
                    for b in 0..n {
                        let base = (b * c + ch) * h * w;
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
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let x = contiguous_f32(s, l)?;
        let (ho, wo) = self.out_hw(h, w);
        let rows = c * self.k * self.k;
        let mut out = vec![0f32; rows * n * ho * wo];
        let s = self.stride;
        self.for_each_run((n, c, h, w), |dst, src, len| {
            if s == 1 {
                out[dst..dst + len].copy_from_slice(&x[src..src + len]);
            } else {
                for (o, i) in out[dst..dst + len]
                    .iter_mut()
                    .zip(x[src..].iter().step_by(s))
                {
                    *o = *i;
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((rows, n * ho * wo))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (n, c, h, w) = x.dims4()?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let mut dx = vec![0f32; n * c * h * w];
        let s = self.stride;
        self.for_each_run((n, c, h, w), |col, px, len| {
            for (d, gi) in dx[px..].iter_mut().step_by(s).zip(&g[col..col + len]) {
                *d += gi;
            }
        });
        Ok(Some(Tensor::from_vec(dx, (n, c, h, w), x.device())?))
    }
}

/// NAS-Bench-201's ReLU → Conv → BN.
pub struct ReluConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ReluConvBn {
    /// ReLU, a `k×k` convolution (padding `k/2`) and batch norm.
    pub fn new(
        p: &mut Params,
        name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self> {
        Ok(Self {
            conv: Conv2d::new(p, &format!("{name}.conv"), c_in, c_out, k, stride, k / 2)?,
            bn: BatchNorm::new(p, &format!("{name}.bn"), c_out)?,
        })
    }

    /// Applies the block.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.bn.forward(&self.conv.forward(&x.relu()?)?, train)
    }
}

/// 3×3 average pooling, stride 1, padding 1, padded positions not counted (PyTorch's
/// `AvgPool2d(3, 1, 1, count_include_pad=False)`, as in NAS-Bench-201). Written as sums of
/// shifted views because candle cannot differentiate overlapping pooling windows.
pub fn avg_pool_3x3(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let p = x.pad_with_zeros(2, 1, 1)?;
    let rows = ((p.narrow(2, 0, h)? + p.narrow(2, 1, h)?)? + p.narrow(2, 2, h)?)?;
    let p = rows.pad_with_zeros(3, 1, 1)?;
    let sums = ((p.narrow(3, 0, w)? + p.narrow(3, 1, w)?)? + p.narrow(3, 2, w)?)?;
    let span = |i: usize, n: usize| (1 + usize::from(i > 0) + usize::from(i + 1 < n)) as f32;
    let mut inv = Vec::with_capacity(h * w);
    for i in 0..h {
        for j in 0..w {
            inv.push(1.0 / (span(i, h) * span(j, w)));
        }
    }
    sums.broadcast_mul(&Tensor::from_vec(inv, (1, 1, h, w), x.device())?)
}

/// One edge of a cell: an NB201 op with its parameters, if any.
pub enum EdgeOp {
    /// Zero.
    None,
    /// Identity.
    Skip,
    /// ReLU-Conv1×1-BN or ReLU-Conv3×3-BN.
    Conv(ReluConvBn),
    /// 3×3 average pooling.
    AvgPool,
}

impl EdgeOp {
    /// The edge for `op` on `channels` channels (stride 1, shape-preserving).
    pub fn new(p: &mut Params, name: &str, op: Op, channels: usize) -> Result<Self> {
        Ok(match op {
            Op::None => EdgeOp::None,
            Op::SkipConnect => EdgeOp::Skip,
            Op::NorConv1x1 => EdgeOp::Conv(ReluConvBn::new(p, name, channels, channels, 1, 1)?),
            Op::NorConv3x3 => EdgeOp::Conv(ReluConvBn::new(p, name, channels, channels, 3, 1)?),
            Op::AvgPool3x3 => EdgeOp::AvgPool,
        })
    }

    /// Applies the op. `None` input or output stands for an all-zero tensor of `shape`.
    pub fn forward(
        &self,
        x: Option<&Tensor>,
        shape: &[usize],
        train: bool,
    ) -> Result<Option<Tensor>> {
        Ok(match (self, x) {
            (EdgeOp::None, _) => None,
            (EdgeOp::Skip, x) => x.cloned(),
            (EdgeOp::AvgPool, x) => x.map(avg_pool_3x3).transpose()?,
            // BN of a zero input in training mode yields its shift, not zero: compute it.
            (EdgeOp::Conv(l), Some(x)) => Some(l.forward(x, train)?),
            (EdgeOp::Conv(l), None) => {
                Some(l.forward(&Tensor::zeros(shape, DType::F32, &Device::Cpu)?, train)?)
            }
        })
    }
}

/// A fully connected layer with bias.
pub struct Linear {
    weight: Var,
    bias: Var,
}

impl Linear {
    /// `c_in` → `c_out`.
    pub fn new(p: &mut Params, name: &str, c_in: usize, c_out: usize) -> Result<Self> {
        let bound = 1.0 / (c_in as f64).sqrt();
        Ok(Self {
            weight: p.uniform(&format!("{name}.weight"), &[c_out, c_in], bound)?,
            bias: p.uniform(&format!("{name}.bias"), &[c_out], bound)?,
        })
    }

    /// Applies the layer to (N, c_in).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::new(seed::stream(0, "test"))
    }

    fn input(shape: &[usize], s: u64) -> Tensor {
        let mut rng = seed::stream(s, "input");
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn every_op_keeps_the_shape() {
        let mut p = params();
        let shape = [3, 4, 5, 6];
        let x = input(&shape, 1);
        for op in Op::ALL {
            let e = EdgeOp::new(&mut p, "e", op, 4).unwrap();
            for train in [true, false] {
                let y = e.forward(Some(&x), &shape, train).unwrap();
                match op {
                    Op::None => assert!(y.is_none()),
                    _ => assert_eq!(y.unwrap().dims(), &shape, "{op:?}"),
                }
            }
        }
        let r = ReluConvBn::new(&mut p, "r", 4, 8, 3, 2).unwrap();
        assert_eq!(r.forward(&x, true).unwrap().dims(), &[3, 8, 3, 3]);
        let l = Linear::new(&mut p, "l", 4, 10).unwrap();
        assert_eq!(l.forward(&input(&[3, 4], 2)).unwrap().dims(), &[3, 10]);
    }

    #[test]
    fn avg_pool_matches_a_direct_computation() {
        let (h, w) = (4, 5);
        let x = input(&[1, 1, h, w], 3);
        let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        let y: Vec<f32> = avg_pool_3x3(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for i in 0..h as i64 {
            for j in 0..w as i64 {
                let (mut s, mut n) = (0.0, 0.0);
                for di in -1..=1 {
                    for dj in -1..=1 {
                        let (a, b) = (i + di, j + dj);
                        if a >= 0 && b >= 0 && a < h as i64 && b < w as i64 {
                            s += v[(a * w as i64 + b) as usize];
                            n += 1.0;
                        }
                    }
                }
                let got = y[(i * w as i64 + j) as usize];
                assert!((got - s / n).abs() < 1e-6, "({i},{j}): {got} vs {}", s / n);
            }
        }
    }

    #[test]
    fn fused_batch_norm_matches_tensor_ops_forward_and_backward() {
        let mut p = params();
        let bn = BatchNorm::new(&mut p, "bn", 3).unwrap();
        // Non-trivial scale and shift.
        bn.gamma
            .set(&Tensor::new(&[0.5f32, 1.5, -2.0], &Device::Cpu).unwrap())
            .unwrap();
        bn.beta
            .set(&Tensor::new(&[0.1f32, -0.3, 0.7], &Device::Cpu).unwrap())
            .unwrap();
        let x =
            Var::from_tensor(&((input(&[5, 3, 4, 4], 9) * 3.0).unwrap() + 1.0).unwrap()).unwrap();
        let weights = input(&[5, 3, 4, 4], 10);
        let run = |fused: bool| {
            let y = if fused {
                bn.forward(x.as_tensor(), true).unwrap()
            } else {
                bn.forward_reference(x.as_tensor()).unwrap()
            };
            // A loss that weights every output differently, so all gradient terms matter.
            let loss = (y.clone() * &weights)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let g = loss.backward().unwrap();
            let v = |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
            (
                v(&y),
                v(g.get(x.as_tensor()).unwrap()),
                v(g.get(bn.gamma.as_tensor()).unwrap()),
                v(g.get(bn.beta.as_tensor()).unwrap()),
            )
        };
        let (f, r) = (run(true), run(false));
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                    "{what}: {x} vs {y}"
                );
            }
        };
        close(&f.0, &r.0, "output");
        close(&f.1, &r.1, "dx");
        close(&f.2, &r.2, "dgamma");
        close(&f.3, &r.3, "dbeta");
    }

    #[test]
    fn im2col_convolution_matches_candle_conv2d() {
        let mut p = params();
        for (c_in, c_out, k, stride, hw) in [
            (3, 4, 3, 1, 5),
            (3, 4, 3, 2, 6),
            (4, 2, 1, 1, 3),
            (2, 3, 3, 2, 7),
        ] {
            let conv = Conv2d::new(&mut p, "c", c_in, c_out, k, stride, k / 2).unwrap();
            let x = Var::from_tensor(&input(&[2, c_in, hw, hw], 11)).unwrap();
            let out_shape = conv
                .forward_reference(x.as_tensor())
                .unwrap()
                .dims()
                .to_vec();
            let weights = input(&out_shape, 12);
            let run = |fast: bool| {
                let y = if fast {
                    conv.forward(x.as_tensor()).unwrap()
                } else {
                    conv.forward_reference(x.as_tensor()).unwrap()
                };
                let loss = (y.clone() * &weights)
                    .unwrap()
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap();
                let g = loss.backward().unwrap();
                let v = |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
                (
                    y.dims().to_vec(),
                    v(&y),
                    v(g.get(x.as_tensor()).unwrap()),
                    v(g.get(conv.weight.as_tensor()).unwrap()),
                )
            };
            let (f, r) = (run(true), run(false));
            assert_eq!(f.0, r.0);
            for (a, b) in [(&f.1, &r.1), (&f.2, &r.2), (&f.3, &r.3)] {
                for (x, y) in a.iter().zip(b.iter()) {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "k{k} s{stride}: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn batch_norm_normalises_in_training() {
        let mut p = params();
        let bn = BatchNorm::new(&mut p, "bn", 2).unwrap();
        let x = (input(&[8, 2, 3, 3], 4) * 5.0).unwrap() + 3.0;
        let y = bn.forward(&x.unwrap(), true).unwrap();
        let mean: Vec<f32> = y
            .mean_keepdim((0, 2, 3))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let var: Vec<f32> = y
            .sqr()
            .unwrap()
            .mean_keepdim((0, 2, 3))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for c in 0..2 {
            assert!(
                mean[c].abs() < 1e-5 && (var[c] - 1.0).abs() < 1e-3,
                "{mean:?} {var:?}"
            );
        }
        let rm: Vec<f32> = bn.running_mean.as_tensor().to_vec1().unwrap();
        assert!(rm.iter().all(|m| (m - 0.3).abs() < 0.1), "{rm:?}");
    }
}
