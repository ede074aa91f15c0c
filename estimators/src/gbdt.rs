//! `gbdt`: gradient-boosted regression trees on the one-hot encoding, written here (no maintained
//! pure-Rust XGBoost equivalent fits the workspace). Squared loss, XGBoost's exact greedy split
//! search over pre-sorted columns, leaf weight −G/(H+λ), gain G_L²/(H_L+λ) + G_R²/(H_R+λ) −
//! G²/(H+λ), `min_child_weight` on the hessian (= sample count). Defaults are NASLib's XGBoost
//! settings: depth 6, eta 0.3, 500 rounds, λ = 1, min_child_weight 1.

use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, Estimator, FittedEstimator, Needs};
use emprox_benchmarks::params::Range;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;

emprox_benchmarks::params! {
    /// The `gbdt` table: boosting hyperparameters (defaults: NASLib's XGBoost settings).
    pub struct GbdtParams;
    /// maximum tree depth
    max_depth: usize = 6, Range::Int(1, 16);
    /// shrinkage
    eta: f64 = 0.3, Range::Real { lo: 0.0, hi: 1.0, open_lo: true };
    /// boosting rounds
    rounds: usize = 500, Range::Int(1, 100_000);
    /// minimum samples (hessian sum) per leaf
    min_child_weight: f64 = 1.0, Range::Real { lo: 0.0, hi: 1e9, open_lo: false };
    /// L2 regularisation of leaf weights
    lambda: f64 = 1.0, Range::Real { lo: 0.0, hi: 1e9, open_lo: false };
}

impl GbdtParams {
    /// The validated estimator.
    pub fn check(&self) -> Result<Gbdt, String> {
        self.check_ranges()?;
        Ok(Gbdt {
            params: self.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(f64),
    Split {
        feature: usize,
        threshold: f32,
        left: usize,
        right: usize,
    },
}

/// One regression tree (`x[feature] < threshold` goes left).
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// The tree's output for one sample.
    pub fn predict(&self, x: &[f32]) -> f64 {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf(v) => return *v,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if x[*feature] < *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf(_)))
            .count()
    }
}

/// A boosted ensemble of trees.
#[derive(Debug, Clone)]
pub struct Booster {
    base: f64,
    trees: Vec<Tree>,
}

const NONE: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Best {
    gain: f64,
    feature: usize,
    threshold: f32,
}

impl Booster {
    /// Fits `p.rounds` trees to `(x, y)` with squared loss, starting from the mean of `y`.
    pub fn fit(x: &[Vec<f32>], y: &[f64], p: &GbdtParams) -> Booster {
        let n = x.len();
        let d = x.first().map_or(0, |r| r.len());
        let base = y.iter().sum::<f64>() / n.max(1) as f64;
        let sorted: Vec<Vec<usize>> = (0..d)
            .map(|f| {
                let mut idx: Vec<usize> = (0..n).collect();
                idx.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]));
                idx
            })
            .collect();
        let mut pred = vec![base; n];
        let mut trees = Vec::with_capacity(p.rounds);
        for _ in 0..p.rounds {
            let g: Vec<f64> = pred.iter().zip(y).map(|(a, b)| a - b).collect();
            let tree = fit_tree(x, &sorted, &g, p);
            for (pi, xi) in pred.iter_mut().zip(x) {
                *pi += tree.predict(xi);
            }
            trees.push(tree);
        }
        Booster { base, trees }
    }

    /// The ensemble's output for one sample.
    pub fn predict(&self, x: &[f32]) -> f64 {
        self.base + self.trees.iter().map(|t| t.predict(x)).sum::<f64>()
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

fn fit_tree(x: &[Vec<f32>], sorted: &[Vec<usize>], g: &[f64], p: &GbdtParams) -> Tree {
    let n = x.len();
    let lambda = p.lambda;
    let score = |gs: f64, hs: f64| gs * gs / (hs + lambda);
    let mut nodes = vec![Node::Leaf(0.0)];
    // Per node: gradient and hessian sums (hessian = count for squared loss).
    let mut sums = vec![(g.iter().sum::<f64>(), n as f64)];
    let mut node_of = vec![0usize; n];
    let mut frontier = vec![0usize];
    for depth in 0..=p.max_depth {
        if frontier.is_empty() {
            break;
        }
        let mut pos_of = vec![NONE; nodes.len()];
        for (k, &nd) in frontier.iter().enumerate() {
            pos_of[nd] = k;
        }
        let mut best: Vec<Option<Best>> = vec![None; frontier.len()];
        if depth < p.max_depth {
            let m = frontier.len();
            let mut gl = vec![0f64; m];
            let mut hl = vec![0f64; m];
            let mut last = vec![f32::NAN; m];
            for (f, order) in sorted.iter().enumerate() {
                gl.iter_mut().for_each(|v| *v = 0.0);
                hl.iter_mut().for_each(|v| *v = 0.0);
                last.iter_mut().for_each(|v| *v = f32::NAN);
                for &i in order {
                    let nd = node_of[i];
                    if nd == NONE {
                        continue;
                    }
                    let k = pos_of[nd];
                    if k == NONE {
                        continue;
                    }
                    let v = x[i][f];
                    if !last[k].is_nan() && v > last[k] {
                        let (gs, hs) = sums[nd];
                        let (gr, hr) = (gs - gl[k], hs - hl[k]);
                        if hl[k] >= p.min_child_weight && hr >= p.min_child_weight {
                            let gain = score(gl[k], hl[k]) + score(gr, hr) - score(gs, hs);
                            if gain > 1e-12 && best[k].is_none_or(|b| gain > b.gain) {
                                best[k] = Some(Best {
                                    gain,
                                    feature: f,
                                    threshold: 0.5 * (last[k] + v),
                                });
                            }
                        }
                    }
                    gl[k] += g[i];
                    hl[k] += 1.0;
                    last[k] = v;
                }
            }
        }
        let mut next = Vec::new();
        let mut child_of = vec![(NONE, NONE); frontier.len()];
        for (k, &nd) in frontier.iter().enumerate() {
            match best[k] {
                Some(b) => {
                    let (l, r) = (nodes.len(), nodes.len() + 1);
                    nodes.push(Node::Leaf(0.0));
                    nodes.push(Node::Leaf(0.0));
                    sums.push((0.0, 0.0));
                    sums.push((0.0, 0.0));
                    nodes[nd] = Node::Split {
                        feature: b.feature,
                        threshold: b.threshold,
                        left: l,
                        right: r,
                    };
                    child_of[k] = (l, r);
                    next.push(l);
                    next.push(r);
                }
                None => {
                    let (gs, hs) = sums[nd];
                    nodes[nd] = Node::Leaf(-p.eta * gs / (hs + lambda));
                }
            }
        }
        for i in 0..n {
            let nd = node_of[i];
            if nd == NONE {
                continue;
            }
            let k = pos_of[nd];
            match (child_of[k], &nodes[nd]) {
                (
                    (l, r),
                    Node::Split {
                        feature, threshold, ..
                    },
                ) => {
                    let c = if x[i][*feature] < *threshold { l } else { r };
                    node_of[i] = c;
                    sums[c].0 += g[i];
                    sums[c].1 += 1.0;
                }
                _ => node_of[i] = NONE,
            }
        }
        frontier = next;
    }
    Tree { nodes }
}

/// The `gbdt` estimator.
#[derive(Debug, Clone)]
pub struct Gbdt {
    /// Its hyperparameters.
    pub params: GbdtParams,
}

struct FittedGbdt(Booster);

impl<S: SearchSpace> Estimator<S> for Gbdt {
    fn name(&self) -> &'static str {
        "gbdt"
    }
    fn needs(&self) -> Needs {
        Needs {
            min_train_size: 1,
            unlabelled_archs: 0,
        }
    }
    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        _rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let x: Vec<Vec<f32>> = cells.iter().map(|c| space.one_hot(c)).collect();
        Ok(Box::new(FittedGbdt(Booster::fit(
            &x,
            targets,
            &self.params,
        ))))
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedGbdt {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        Ok(cells
            .iter()
            .map(|c| self.0.predict(&space.one_hot(c)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stump_finds_the_step_and_the_regularised_leaf_values() {
        // y = 10 where x0 = 1, else 0; x1 is noise-free but irrelevant.
        let x: Vec<Vec<f32>> = (0..8)
            .map(|i| vec![(i % 2) as f32, (i / 4) as f32])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 10.0 * r[0] as f64).collect();
        let p = GbdtParams {
            max_depth: 1,
            eta: 1.0,
            rounds: 1,
            min_child_weight: 1.0,
            lambda: 1.0,
        };
        let b = Booster::fit(&x, &y, &p);
        assert_eq!(b.trees()[0].leaves(), 2);
        // base 5, residuals ±5 over 4 samples each: leaf = ∓(4·5)/(4+1) = ∓4.
        assert!((b.predict(&[1.0, 0.0]) - 9.0).abs() < 1e-9);
        assert!((b.predict(&[0.0, 1.0]) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn boosting_fits_an_additive_function() {
        let x: Vec<Vec<f32>> = (0..64)
            .map(|i| (0..6).map(|b| ((i >> b) & 1) as f32).collect())
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| 3.0 * r[0] as f64 - 2.0 * r[3] as f64 + r[5] as f64 * r[1] as f64)
            .collect();
        let b = Booster::fit(&x, &y, &GbdtParams::default());
        let mse: f64 = x
            .iter()
            .zip(&y)
            .map(|(r, t)| (b.predict(r) - t).powi(2))
            .sum::<f64>()
            / 64.0;
        assert!(mse < 1e-3, "mse {mse}");
        // min_child_weight larger than the data: no split at all.
        let p = GbdtParams {
            min_child_weight: 100.0,
            rounds: 3,
            ..GbdtParams::default()
        };
        let b = Booster::fit(&x, &y, &p);
        assert!(b.trees().iter().all(|t| t.leaves() == 1));
    }
}
