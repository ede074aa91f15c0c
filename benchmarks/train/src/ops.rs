//! The layers of the NAS-Bench-201 network, written on candle tensors with parameters drawn from
//! our own seeded RNG (candle's CPU RNG cannot be seeded).
//!
//! Layout is NCHW, `f32`. Initialisation follows PyTorch's defaults: convolution and linear
//! weights (and linear biases) uniform in ±1/√fan_in, batch-norm scale 1 and shift 0.

use candle_core::{DType, Device, Result, Tensor, Var};
use emprox_benchmarks::nb201::Op;
use emprox_benchmarks::seed;
use emprox_kernels::batch_norm::{batch_norm_eval, batch_norm_train, BatchStats};
use emprox_kernels::conv::{conv2d, relu_conv2d};
use emprox_kernels::conv_bn::relu_conv_bn_train;
use emprox_kernels::SeededParams;

/// The trainable parameters of a network (`emprox_kernels::SeededParams`): each drawn from one
/// seeded stream when it is created, in creation order (the order the results depend on).
pub type Params = SeededParams<seed::Rng>;

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
        let dev = Device::Cpu;
        Ok(Self {
            gamma: p.constant(&format!("{name}.weight"), &[channels], 1.0)?,
            beta: p.constant(&format!("{name}.bias"), &[channels], 0.0)?,
            // Checkpoints keep them (`Params::buffers`).
            // PyTorch's names, so that an export loads into its BatchNorm2d.
            running_mean: p.buffer(
                &format!("{name}.running_mean"),
                Var::zeros(channels, DType::F32, &dev)?,
            ),
            running_var: p.buffer(
                &format!("{name}.running_var"),
                Var::ones(channels, DType::F32, &dev)?,
            ),
            channels,
        })
    }

    /// Normalises `x` of shape (N, C, H, W). Training mode uses a fused kernel
    /// (`emprox_kernels::batch_norm`); evaluation mode uses tensor ops on the running estimates.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return self.forward_eval(x);
        }
        let (y, st) = batch_norm_train(x, self.gamma.as_tensor(), self.beta.as_tensor(), BN_EPS)?;
        self.update_running(&st, x)?;
        Ok(y)
    }

    /// Moves the running estimates towards the batch statistics `st` of `x` (N, C, H, W).
    fn update_running(&self, st: &BatchStats, x: &Tensor) -> Result<()> {
        let (n, _, h, w) = x.dims4()?;
        let m = (n * h * w) as f64;
        let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
        let mean = Tensor::from_slice(&st.mean, self.channels, &Device::Cpu)?;
        let var = Tensor::from_slice(&st.var, self.channels, &Device::Cpu)?;
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
        Ok(())
    }

    /// Training-mode batch norm written with candle tensor ops: the reference that the fused
    /// kernel is tested against (it does not update the running estimates).
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        emprox_kernels::batch_norm::batch_norm_reference(
            x,
            self.gamma.as_tensor(),
            self.beta.as_tensor(),
            BN_EPS,
        )
    }

    fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        // 1/√(var + ε)·γ per channel with tensor ops, then one pass over x.
        let inv_std = (self.running_var.as_tensor().detach() + BN_EPS)?
            .sqrt()?
            .recip()?;
        let scale: Vec<f32> = (inv_std * self.gamma.as_tensor())?.to_vec1()?;
        let mean: Vec<f32> = self.running_mean.as_tensor().to_vec1()?;
        let beta: Vec<f32> = self.beta.as_tensor().to_vec1()?;
        batch_norm_eval(x, &mean, &scale, &beta)
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

    /// Applies the convolution (`emprox_kernels::conv`: im2col a few images at a time into a
    /// reused buffer and one matrix product, one candle op).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        conv2d(x, self.weight.as_tensor(), self.stride, self.padding)
    }

    /// The convolution of `relu(x)`, as one op (no rectified copy of `x`).
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        relu_conv2d(x, self.weight.as_tensor(), self.stride, self.padding)
    }

    /// The same convolution with candle's `conv2d` (the reference in tests).
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(self.weight.as_tensor(), self.padding, self.stride, 1, 1)
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

    /// Applies the block: in training one op (`emprox_kernels::conv_bn`, bit for bit the
    /// convolution then the batch norm).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return self.bn.forward(&self.conv.forward_relu(x)?, false);
        }
        let (conv, bn) = (&self.conv, &self.bn);
        let (y, st) = relu_conv_bn_train(
            x,
            conv.weight.as_tensor(),
            bn.gamma.as_tensor(),
            bn.beta.as_tensor(),
            (conv.stride, conv.padding),
            BN_EPS,
        )?;
        bn.update_running(&st, &y)?;
        Ok(y)
    }
}

/// 3×3 average pooling, stride 1, padding 1, padded positions not counted (PyTorch's
/// `AvgPool2d(3, 1, 1, count_include_pad=False)`, as in NAS-Bench-201): one op with a
/// hand-written backward pass (`emprox_kernels::pool`).
pub fn avg_pool_3x3(x: &Tensor) -> Result<Tensor> {
    emprox_kernels::pool::avg_pool_3x3(x)
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
    use rand::Rng as _;

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
            let e = EdgeOp::new(&mut p, &format!("e_{op:?}"), op, 4).unwrap();
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
