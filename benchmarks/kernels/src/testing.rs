//! Helpers shared by the kernels' tests: seeded inputs, differences, and gradients of a weighted
//! sum, to compare each fused op with candle's composed one, values and gradients.

use candle_core::{backprop::GradStore, Device, Tensor};
use rand::{Rng, SeedableRng};

/// A tensor of uniform values in `(-scale, scale)` drawn from `rng`.
pub fn rand_tensor(rng: &mut rand_chacha::ChaCha8Rng, dims: &[usize], scale: f32) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

/// A tensor of uniform values in `(-1, 1)` from seed `seed`.
pub fn input(dims: &[usize], seed: u64) -> Tensor {
    rand_tensor(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed), dims, 1.0)
}

/// The largest absolute difference between two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    max_abs(&(a - b).unwrap())
}

/// The largest absolute value of a tensor.
pub fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Gradients of `sum(y * probe)`: every output weighted differently, so every gradient term
/// matters.
pub fn grads_of_weighted_sum(y: &Tensor, probe: &Tensor) -> GradStore {
    (y * probe).unwrap().sum_all().unwrap().backward().unwrap()
}

/// Gradients of `sum((y * weights)²)`: a loss that weights every output differently and is not
/// linear, so every gradient term of a normalising op matters.
pub fn grads_of_weighted_square(y: &Tensor, weights: &Tensor) -> GradStore {
    (y * weights)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
}

/// Asserts `|a - b| <= rel * (1 + |b|)` elementwise.
pub fn assert_close(a: &[f32], b: &[f32], rel: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= rel * (1.0 + y.abs()), "{what}: {x} vs {y}");
    }
}

/// A tensor's values, flattened.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}
