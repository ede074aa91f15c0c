//! The pairwise logistic ranking loss of `emprox_supervised`: over ordered pairs (i, j) whose
//! targets differ, the mean of `softplus(−s_ij · (o_i − o_j))`, with `s_ij = sign(y_i − y_j)`.
//! Its gradient is written by hand and enters the graph as a surrogate scalar: composed from
//! candle's own ops the loss is a dozen `[n, n]` nodes forward and as many backward, which cost
//! more than the rest of a training step.

use candle_core::{bail, Result, Tensor};
use emprox_kernels::fastmath::sigmoid;

/// The loss for fixed targets, over a fixed set of ordered pairs.
#[derive(Clone)]
pub struct PairwiseRankLoss {
    n: usize,
    /// (i, j, sign(y_i − y_j)) for the pairs in the loss, none with equal targets.
    pairs: Vec<(u32, u32, f32)>,
}

impl PairwiseRankLoss {
    /// The loss against `targets` over every ordered pair whose targets differ, or, where there
    /// are more than `max_pairs`, over `max_pairs` of them drawn from `rng` (uniformly, with
    /// replacement).
    pub fn new(targets: &[f32], max_pairs: usize, rng: &mut impl rand::Rng) -> Self {
        let n = targets.len();
        let sign = |i: usize, j: usize| match targets[i].partial_cmp(&targets[j]) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Less) => -1.0,
            _ => 0.0,
        };
        let candidate = |i: usize, j: usize| {
            let s = sign(i, j);
            (s != 0.0).then_some((i as u32, j as u32, s))
        };
        let pairs: Vec<(u32, u32, f32)> = if n * n.saturating_sub(1) <= max_pairs {
            (0..n * n)
                .filter_map(|ij| candidate(ij / n, ij % n))
                .collect()
        } else {
            (0..max_pairs)
                .filter_map(|_| candidate(rng.random_range(0..n), rng.random_range(0..n)))
                .collect()
        };
        Self { n, pairs }
    }

    /// Pairs in the loss (0: the loss is 0 and has no gradient).
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Calls `each(i, j, s_ij, z_ij)` for every pair, where `z_ij = −s_ij · (o_i − o_j)`.
    fn terms(&self, o: &[f32], mut each: impl FnMut(usize, usize, f32, f32)) {
        for &(i, j, s) in self.pairs.iter() {
            let (i, j) = (i as usize, j as usize);
            each(i, j, s, -s * (o[i] - o[j]));
        }
    }
}

impl PairwiseRankLoss {
    /// The loss at scores `o` (one per target).
    pub fn value(&self, o: &[f32]) -> f64 {
        let mut sum = 0f64;
        self.terms(o, |_, _, _, z| {
            sum += (z.max(0.0) + (-z.abs()).exp().ln_1p()) as f64;
        });
        if self.pairs() > 0 {
            sum / self.pairs() as f64
        } else {
            0.0
        }
    }

    /// The loss's gradient at scores `o`: term (i, j) moves o_i by −s·σ(z)/P and o_j by
    /// +s·σ(z)/P, for P pairs.
    pub fn gradient(&self, o: &[f32]) -> Vec<f32> {
        let mut d = vec![0f32; o.len()];
        if self.pairs() > 0 {
            let scale = 1.0 / self.pairs() as f32;
            self.terms(o, |i, j, s, z| {
                let t = s * sigmoid(z) * scale;
                d[i] -= t;
                d[j] += t;
            });
        }
        d
    }

    /// A scalar whose gradient with respect to `o` (`[n]`) is the loss's: `Σ o_i · g_i` with the
    /// gradient `g` at `o` held constant. Its value is not the loss (see [`Self::value`]); the
    /// training reads only gradients, and this skips the loss's logarithms.
    pub fn surrogate(&self, o: &Tensor) -> Result<Tensor> {
        let scores = o.flatten_all()?.to_vec1::<f32>()?;
        if scores.len() != self.n {
            bail!(
                "pairwise rank loss: {} scores for {} targets",
                scores.len(),
                self.n
            );
        }
        let g = Tensor::from_vec(self.gradient(&scores), o.dims(), o.device())?;
        (o * g)?.sum_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The same loss from candle's own ops.
    fn composed(o: &Tensor, targets: &[f32]) -> Tensor {
        let n = targets.len();
        let mut s = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] =
                    (targets[i] - targets[j]).signum() * ((targets[i] != targets[j]) as u8 as f32);
            }
        }
        let pairs = s.iter().filter(|v| **v != 0.0).count() as f64;
        let st = Tensor::from_vec(s, (n, n), &Device::Cpu).unwrap();
        let col = o.unsqueeze(1).unwrap();
        let diff = col.broadcast_sub(&col.t().unwrap()).unwrap();
        let z = (diff * &st).unwrap().neg().unwrap();
        let sp = (z.relu().unwrap()
            + (z.abs().unwrap().neg().unwrap().exp().unwrap() + 1.0)
                .unwrap()
                .log()
                .unwrap())
        .unwrap();
        ((sp * st.abs().unwrap()).unwrap().sum_all().unwrap() / pairs).unwrap()
    }

    #[test]
    fn value_and_gradient_match_candles_composed_ops() {
        let targets = [0.3f32, -1.0, 0.3, 2.0, 0.7, -0.2, 1.5];
        let ov: Vec<f32> = (0..7).map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.4).collect();
        let o = Var::from_vec(ov, 7, &Device::Cpu).unwrap();
        let mut rng = emprox_benchmarks::seed::stream(0, "pairs");
        let loss = PairwiseRankLoss::new(&targets, 42, &mut rng);
        assert_eq!(loss.pairs(), 40, "7·6 ordered pairs less the 2 tied");
        let fused = loss.surrogate(o.as_tensor()).unwrap();
        let reference = composed(o.as_tensor(), &targets);
        let (a, b) = (
            loss.value(&o.as_tensor().to_vec1::<f32>().unwrap()),
            reference.to_scalar::<f32>().unwrap() as f64,
        );
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        let grad = |l: &Tensor| {
            l.backward()
                .unwrap()
                .get(&o)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let (ga, gb) = (grad(&fused), grad(&reference));
        for (x, y) in ga.iter().zip(&gb) {
            assert!((x - y).abs() < 1e-6, "{ga:?} vs {gb:?}");
        }
        assert!(
            ga.iter().any(|g| g.abs() > 1e-3),
            "a gradient that can fail"
        );
    }

    #[test]
    fn above_max_pairs_a_sample_of_that_size_is_drawn() {
        let targets: Vec<f32> = (0..50).map(|i| i as f32).collect();
        let mut rng = emprox_benchmarks::seed::stream(0, "pairs");
        let all = PairwiseRankLoss::new(&targets, 50 * 49, &mut rng);
        assert_eq!(all.pairs(), 50 * 49);
        let some = PairwiseRankLoss::new(&targets, 500, &mut rng);
        // Draws of i = j (about 1 in 50) are dropped.
        assert!((470..=500).contains(&some.pairs()), "{}", some.pairs());
        assert!(some
            .pairs
            .iter()
            .all(|&(i, j, s)| i != j && s == (i as f32 - j as f32).signum()));
    }

    #[test]
    fn equal_targets_give_zero_loss_and_gradient() {
        let o = Var::from_vec(vec![1.0f32, -2.0, 0.5], 3, &Device::Cpu).unwrap();
        let mut rng = emprox_benchmarks::seed::stream(0, "pairs");
        let loss = PairwiseRankLoss::new(&[4.0, 4.0, 4.0], 100, &mut rng);
        assert_eq!(loss.value(&[1.0, -2.0, 0.5]), 0.0);
        let l = loss.surrogate(o.as_tensor()).unwrap();
        let g = l
            .backward()
            .unwrap()
            .get(&o)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(g, vec![0.0; 3]);
    }
}
