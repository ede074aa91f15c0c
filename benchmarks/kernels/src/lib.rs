#![warn(missing_docs)]
//! Fused candle CPU kernels with hand-written backward passes, shared by the EmProx estimator
//! (`emprox-estimators`) and the NAS-Bench-201 trainer (`emprox-train`), plus the pieces both
//! train with.
//!
//! candle's backward allocates a zero gradient and adds into it for every node, so a composed op
//! over small tensors costs far more than its arithmetic; each kernel here is one node. Every
//! kernel is tested against candle's own ops, values and gradients.
//!
//! - [`lstm`]: a single-layer LSTM over token sequences as one op; [`lstm::fast_tanh`].
//! - [`ops`]: softmax and L2 norm over the last dimension, `x·wᵀ + b` with a fused bias add.
//! - [`batch_norm`]: training-mode batch norm over (N, H, W) as one op.
//! - [`conv`]: 2-D convolution (optionally of `relu(x)`): at stride 1 direct kernels on the
//!   zero-padded input, whose bits do not depend on the SIMD width (AVX-512, AVX2 or none);
//!   otherwise im2col and `gemm` a few images at a time.
//! - [`conv_bn`]: ReLU → convolution → training-mode batch norm as one op (NAS-Bench-201's
//!   `ReLUConvBN`), bit for bit the two ops it replaces.
//! - [`pool`]: 3×3 average pooling (stride 1, padding not counted) as one op.
//! - [`simd`]: which SIMD instructions the kernels use (chosen at run time; same bits at each).
//! - [`fastmath`]: vectorisable exp, sigmoid, tanh.
//! - [`adam`]: Adam with L2 weight decay on plain `f32` slices (PyTorch's update rule).
//! - [`params`]: a registry of named parameters with seeded initialisation.
//! - [`storage`]: the contiguous `f32` view of a CPU storage that every kernel reads.

pub mod adam;
pub mod batch_norm;
pub mod conv;
pub mod conv_bn;
mod direct;
pub mod fastmath;
pub mod lstm;
mod matmul;
pub mod ops;
pub mod params;
pub mod pool;
pub mod simd;
pub mod storage;
#[cfg(test)]
mod testing;

pub use adam::Adam;
pub use params::{Init, ParamError, ParamSpec, Params, SeededParams};

/// The version of the kernels' numerics. Bump it whenever any kernel's results change bits (a
/// summation order, a new kernel, a changed approximation), so that cached trained results made
/// by other bits are not reused: it is part of the result-cache key of every trained result
/// (`emprox_train::TrainingEvaluator::cache_hash`), and of nothing else (not of the weights'
/// seed). 2: stride-1 convolutions run as [`conv`]'s direct kernels (one fused multiply-add
/// chain per result), batch norm's variance from per-plane moments. 3: stride-2 3×3
/// convolutions on the input's four phases, directly.
pub const NUMERICS_VERSION: u32 = 3;
