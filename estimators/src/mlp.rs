//! `mlp_ensemble`: a BANANAS-style ensemble of feed-forward networks on the path encoding.
//! Plain Rust (the networks are tiny and the input is sparse, so skipping zero activations
//! beats a tensor library); ReLU, Adam, MSE on standardised targets; the prediction is the
//! ensemble mean.

use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, standardise, Estimator, FittedEstimator, Needs};
use emprox_benchmarks::params::Range;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use emprox_kernels::Adam;
use rand::seq::SliceRandom;
use rand::Rng as _;

emprox_benchmarks::params! {
    /// The `mlp_ensemble` table. BANANAS: 5 networks of width 20, Adam lr 0.01, 200 epochs; 5
    /// hidden layers here (BANANAS uses 10, which is slower and no better at these
    /// training-set sizes).
    pub struct MlpParams;
    /// number of MLPs
    ensemble_size: usize = 5, Range::Int(1, 100);
    /// hidden layers
    layers: usize = 5, Range::Int(1, 64);
    /// hidden width
    width: usize = 20, Range::Int(1, 4096);
    /// training epochs
    epochs: usize = 200, Range::Int(1, 100_000);
    /// batch size
    batch_size: usize = 32, Range::Int(1, 100_000);
    /// Adam learning rate
    lr: f64 = 0.01, Range::Real { lo: 0.0, hi: 10.0, open_lo: true };
    /// L2 weight decay
    weight_decay: f64 = 0.0, Range::Real { lo: 0.0, hi: 1.0, open_lo: false };
}

/// The most hidden-layer weights of a whole ensemble (`ensemble_size` × `layers` × `width`²):
/// 1 GB of `f32`, kept for every network, plus three times one network's share while it trains
/// (gradients and Adam's two moments). Each key alone may be at its maximum, not all at once.
pub const MAX_WEIGHTS: u64 = 250_000_000;

impl MlpParams {
    /// The validated estimator.
    pub fn check(&self) -> Result<MlpEnsemble, String> {
        self.check_ranges()?;
        let weights = [self.ensemble_size, self.layers, self.width, self.width]
            .iter()
            .try_fold(1u64, |acc, &v| acc.checked_mul(v as u64))
            .filter(|&w| w <= MAX_WEIGHTS);
        if weights.is_none() {
            return Err(format!(
                "`ensemble_size` × `layers` × `width`² = {} × {} × {}² is more than the \
                 {MAX_WEIGHTS} hidden weights an ensemble may hold (1 GB): make it smaller",
                self.ensemble_size, self.layers, self.width
            ));
        }
        Ok(MlpEnsemble {
            params: self.clone(),
        })
    }
}

/// One network: weights stored input-major (`w[l][i * out + o]`).
#[derive(Debug, Clone)]
pub struct Mlp {
    dims: Vec<usize>,
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
}

impl Mlp {
    /// A network with He-uniform weights drawn from `rng`.
    pub fn new(dims: Vec<usize>, rng: &mut Rng) -> Self {
        let mut w = Vec::new();
        let mut b = Vec::new();
        for l in 0..dims.len() - 1 {
            let bound = (6.0 / dims[l] as f32).sqrt();
            w.push(
                (0..dims[l] * dims[l + 1])
                    .map(|_| rng.random_range(-bound..bound))
                    .collect(),
            );
            b.push(vec![0.0; dims[l + 1]]);
        }
        Self { dims, w, b }
    }

    /// Activations of every layer (the last is the scalar output).
    fn forward(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut acts = vec![x.to_vec()];
        let last = self.w.len() - 1;
        for l in 0..self.w.len() {
            let out = self.dims[l + 1];
            let mut z = self.b[l].clone();
            for (i, &a) in acts[l].iter().enumerate() {
                if a != 0.0 {
                    let row = &self.w[l][i * out..(i + 1) * out];
                    for (zo, wo) in z.iter_mut().zip(row) {
                        *zo += a * wo;
                    }
                }
            }
            if l < last {
                z.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            acts.push(z);
        }
        acts
    }

    /// The output for one input.
    pub fn predict(&self, x: &[f32]) -> f32 {
        self.forward(x).last().expect("output")[0]
    }
}

fn train(net: &mut Mlp, x: &[Vec<f32>], y: &[f32], p: &MlpParams, rng: &mut Rng) {
    let nl = net.w.len();
    // Adam slots: (w, b) of layer 0, then of layer 1, ...
    let mut adam = Adam::new(
        net.w
            .iter()
            .zip(&net.b)
            .flat_map(|(w, b)| [w.len(), b.len()]),
        p.lr as f32,
        p.weight_decay as f32,
    );
    let mut order: Vec<usize> = (0..x.len()).collect();
    for _ in 0..p.epochs {
        order.shuffle(rng);
        for chunk in order.chunks(p.batch_size.max(1)) {
            let mut gw: Vec<Vec<f32>> = net.w.iter().map(|v| vec![0.0; v.len()]).collect();
            let mut gb: Vec<Vec<f32>> = net.b.iter().map(|v| vec![0.0; v.len()]).collect();
            for &s in chunk {
                let acts = net.forward(&x[s]);
                let mut dz = vec![2.0 * (acts[nl][0] - y[s]) / chunk.len() as f32];
                for l in (0..nl).rev() {
                    let out = net.dims[l + 1];
                    let a = &acts[l];
                    let mut da = vec![0f32; a.len()];
                    for (i, &ai) in a.iter().enumerate() {
                        let row = &net.w[l][i * out..(i + 1) * out];
                        let grow = &mut gw[l][i * out..(i + 1) * out];
                        let mut acc = 0.0;
                        for o in 0..out {
                            grow[o] += ai * dz[o];
                            acc += row[o] * dz[o];
                        }
                        da[i] = acc;
                    }
                    for (g, d) in gb[l].iter_mut().zip(&dz) {
                        *g += d;
                    }
                    if l > 0 {
                        // ReLU of the previous layer's output.
                        for (d, &ai) in da.iter_mut().zip(a) {
                            if ai <= 0.0 {
                                *d = 0.0;
                            }
                        }
                    }
                    dz = da;
                }
            }
            adam.next_step();
            for l in 0..nl {
                adam.update(2 * l, &mut net.w[l], &gw[l], 1.0);
                adam.update(2 * l + 1, &mut net.b[l], &gb[l], 1.0);
            }
        }
    }
}

/// The `mlp_ensemble` estimator.
#[derive(Debug, Clone)]
pub struct MlpEnsemble {
    /// Its hyperparameters.
    pub params: MlpParams,
}

struct FittedMlp {
    nets: Vec<Mlp>,
    mean: f64,
    std: f64,
}

/// The MLP's input (and `emprox_supervised`'s): the path encoding, or the one-hot encoding where
/// the space has no paths.
pub(crate) fn features<S: SearchSpace>(space: &S, cell: &S::Cell) -> Vec<f32> {
    space
        .path_encoding(cell)
        .unwrap_or_else(|| space.one_hot(cell))
}

impl<S: SearchSpace> Estimator<S> for MlpEnsemble {
    fn name(&self) -> &'static str {
        "mlp_ensemble"
    }
    fn needs(&self) -> Needs {
        Needs {
            min_train_size: 2,
            unlabelled_archs: 0,
        }
    }
    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let x: Vec<Vec<f32>> = cells.iter().map(|c| features(space, c)).collect();
        let (mean, std, y) = standardise(targets);
        let p = &self.params;
        let mut dims = vec![x[0].len()];
        dims.extend(std::iter::repeat_n(p.width, p.layers));
        dims.push(1);
        let nets = (0..p.ensemble_size)
            .map(|_| {
                let mut net = Mlp::new(dims.clone(), rng);
                train(&mut net, &x, &y, p, rng);
                net
            })
            .collect();
        Ok(Box::new(FittedMlp { nets, mean, std }))
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedMlp {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        Ok(cells
            .iter()
            .map(|c| {
                let x = features(space, c);
                let m = self.nets.iter().map(|n| n.predict(&x) as f64).sum::<f64>()
                    / self.nets.len() as f64;
                self.mean + self.std * m
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn learns_a_smooth_function() {
        let mut rng = Rng::seed_from_u64(3);
        let x: Vec<Vec<f32>> = (0..64)
            .map(|i| (0..6).map(|b| ((i >> b) & 1) as f32).collect())
            .collect();
        let y: Vec<f32> = x.iter().map(|r| r[0] - 0.5 * r[2] + r[4] * r[5]).collect();
        let mut net = Mlp::new(vec![6, 16, 16, 1], &mut rng);
        let mse = |net: &Mlp| {
            x.iter()
                .zip(&y)
                .map(|(r, t)| (net.predict(r) - t).powi(2))
                .sum::<f32>()
                / 64.0
        };
        let before = mse(&net);
        let p = MlpParams {
            epochs: 300,
            batch_size: 16,
            ..MlpParams::default()
        };
        train(&mut net, &x, &y, &p, &mut rng);
        let after = mse(&net);
        assert!(after < 0.01 && after < before / 10.0, "{before} → {after}");
    }

    #[test]
    fn an_ensemble_too_large_for_memory_is_refused_though_each_key_is_in_range() {
        let p = |ensemble_size, layers, width| MlpParams {
            ensemble_size,
            layers,
            width,
            ..MlpParams::default()
        };
        let e = p(100, 64, 4096).check().err().unwrap();
        assert!(
            e.contains("`ensemble_size` × `layers` × `width`² = 100 × 64 × 4096²")
                && e.contains(&MAX_WEIGHTS.to_string()),
            "{e}"
        );
        assert!(p(5, 5, 20).check().is_ok());
        assert!(p(1, 1, 4096).check().is_ok(), "the largest width alone");
        assert!(
            p(100, 1, 1024).check().is_ok(),
            "the largest ensemble alone"
        );
        assert!(p(1, 64, 1024).check().is_ok(), "the most layers alone");
        assert!(p(14, 1, 4096).check().is_ok());
        assert!(p(14, 2, 4096).check().is_err());
    }
}
