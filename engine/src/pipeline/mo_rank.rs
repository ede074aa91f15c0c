//! The filter's ranking with several objectives (`[filter] mo_rank`).
//!
//! The estimator predicts the expensive objective, the search signal (accuracy); the other
//! objectives are costs known before training (parameters, FLOPs, a table's measured
//! latencies: [`Evaluator::known_metrics`]) and are used exactly. Each candidate becomes a
//! vector of utilities (the experiment's normalisation, [`MultiObjective::utilities`]: in
//! [0, 1], larger better) with its predicted accuracy in the first place, and the pool is
//! ranked by
//!
//! - `dominance`: non-dominated sorting of the predicted vectors (NSGA-II's fronts), the
//!   larger crowding distance first within a front, then pool order; candidates that would add
//!   no hypervolume even alone (a utility at 0) last;
//! - `hvi`: predicted hypervolume improvement over the front of the cells evaluated so far,
//!   greedily: the candidate that adds the most hypervolume is chosen and joins the front, then
//!   the next, so that the `top_k` spread along the front instead of piling on one spot. Once no
//!   candidate adds anything (every one predicted dominated), the rest follow in `dominance`
//!   order. The improvement is that of the point prediction: the estimators give no spread, so
//!   an expected improvement would equal it.

use crate::objectives::MultiObjective;
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::pareto::{self, Bounds};
use emprox_benchmarks::Evaluator;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How the filter ranks a pool with several objectives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoRankKind {
    /// Predicted non-dominated rank, then crowding distance (the default: it found more
    /// hypervolume than `hvi` in every measured case, README "Several objectives").
    #[default]
    Dominance,
    /// Greedy predicted hypervolume improvement over the evaluated front.
    Hvi,
    /// Greedy expected hypervolume improvement: the improvement averaged over
    /// [`EHVI_SAMPLES`] draws of the predicted accuracy from a Gaussian with the ensemble's
    /// mean and spread (`[filter] ensemble > 1`; with one estimator it is `hvi`).
    Ehvi,
}

/// Draws of the predicted accuracy per candidate for `ehvi`.
pub const EHVI_SAMPLES: usize = 32;

/// A hypervolume improvement below this is none (rounding).
const NO_GAIN: f64 = 1e-12;

/// The filter's multi-objective ranking for one run.
pub struct MoRank<C> {
    kind: MoRankKind,
    objectives: MultiObjective,
    known: Arc<dyn Evaluator<C>>,
    /// The non-dominated utilities of the cells evaluated so far.
    front: Vec<Vec<f64>>,
}

/// Goals and bounds of the utility space: every coordinate maximised in [0, 1].
fn unit(d: usize) -> (Vec<Goal>, Vec<Bounds>) {
    (
        vec![Goal::Maximize; d],
        vec![Bounds::from_range(Goal::Maximize, 0.0, 1.0); d],
    )
}

fn hypervolume(points: &[Vec<f64>], d: usize) -> f64 {
    let (goals, bounds) = unit(d);
    pareto::hypervolume(points, &goals, &bounds).expect("utilities of one length")
}

/// Adds `p` to the non-dominated set `front` (maximised utilities).
fn join(front: &mut Vec<Vec<f64>>, p: &[f64]) {
    let goals = vec![Goal::Maximize; p.len()];
    if front
        .iter()
        .any(|q| pareto::dominates(q, p, &goals) || q == p)
    {
        return;
    }
    front.retain(|q| !pareto::dominates(p, q, &goals));
    front.push(p.to_vec());
}

/// Every index of `points` (maximised utilities), best first: by non-dominated front, then
/// larger crowding distance, then index; points with a utility at 0 (an accuracy predicted
/// below its range, a cost at or past its worst), which add no hypervolume whatever else is
/// evaluated, after all others (in the same order among themselves).
pub fn by_dominance(points: &[Vec<f64>]) -> Vec<usize> {
    let Some(d) = points.first().map(Vec::len) else {
        return Vec::new();
    };
    let goals = vec![Goal::Maximize; d];
    let fronts = pareto::non_dominated_sort(points, &goals).expect("utilities of one length");
    let mut order = Vec::with_capacity(points.len());
    let mut adds_nothing = Vec::new();
    for front in fronts {
        let crowding =
            pareto::crowding_distance(points, &goals, &front).expect("utilities of one length");
        let mut pos: Vec<usize> = (0..front.len()).collect();
        // Stable: equal distances keep the front's (index) order.
        pos.sort_by(|&a, &b| crowding[b].total_cmp(&crowding[a]));
        for i in pos.into_iter().map(|p| front[p]) {
            if points[i].iter().any(|&u| u <= 0.0) {
                adds_nothing.push(i);
            } else {
                order.push(i);
            }
        }
    }
    order.extend(adds_nothing);
    order
}

/// The first `k` indices of `points` by greedy hypervolume improvement over `front` (see the
/// module documentation); ties go to the lower index.
pub fn by_hvi(front: &[Vec<f64>], points: &[Vec<f64>], k: usize) -> Vec<usize> {
    // The expected improvement of a prediction without spread: one draw at the point.
    let samples: Vec<Vec<Vec<f64>>> = points.iter().map(|p| vec![p.clone()]).collect();
    by_ehvi(front, points, &samples, k)
}

/// The first `k` indices by greedy expected hypervolume improvement over `front`: candidate
/// `i`'s gain is the mean improvement of its `samples[i]` (utility vectors drawn from its
/// predictive distribution); the chosen candidate joins the front at `points[i]` (its mean
/// prediction) before the next is scored. Ties go to the lower index; when nothing is expected
/// to improve the front, the rest follow by dominance of `points`.
pub fn by_ehvi(
    front: &[Vec<f64>],
    points: &[Vec<f64>],
    samples: &[Vec<Vec<f64>>],
    k: usize,
) -> Vec<usize> {
    let Some(d) = points.first().map(Vec::len) else {
        return Vec::new();
    };
    let mut front = front.to_vec();
    let mut base = hypervolume(&front, d);
    let mut left: Vec<usize> = (0..points.len()).collect();
    let mut order = Vec::with_capacity(k.min(points.len()));
    while order.len() < k && !left.is_empty() {
        let mut best: Option<(usize, f64)> = None;
        for (pos, &i) in left.iter().enumerate() {
            let mut gain = 0.0;
            for draw in &samples[i] {
                front.push(draw.clone());
                gain += hypervolume(&front, d) - base;
                front.pop();
            }
            let gain = gain / samples[i].len().max(1) as f64;
            if gain > NO_GAIN && best.is_none_or(|b| gain > b.1) {
                best = Some((pos, gain));
            }
        }
        let Some((pos, _)) = best else { break };
        let i = left.remove(pos);
        join(&mut front, &points[i]);
        base = hypervolume(&front, d);
        order.push(i);
    }
    let rest: Vec<Vec<f64>> = left.iter().map(|&i| points[i].clone()).collect();
    order.extend(by_dominance(&rest).into_iter().map(|p| left[p]));
    order.truncate(k);
    order
}

impl<C> MoRank<C> {
    /// The ranking `kind` for `objectives`, looking the known costs of a cell up in `known`.
    pub fn new(kind: MoRankKind, objectives: MultiObjective, known: Arc<dyn Evaluator<C>>) -> Self {
        Self {
            kind,
            objectives,
            known,
            front: Vec::new(),
        }
    }

    /// A cell was evaluated with these utilities (as its strategy was told).
    pub fn observe(&mut self, utilities: &[f64]) {
        join(&mut self.front, utilities);
    }

    /// The search signal's range as the filter scores it (maximised: negated for a minimised
    /// signal): the scores of its worst and its best value.
    pub fn score_range(&self) -> (f64, f64) {
        let b = self.objectives.bounds[0];
        match self.objectives.goals[0] {
            Goal::Maximize => (b.worst, b.best),
            Goal::Minimize => (-b.worst, -b.best),
        }
    }

    /// The predicted utilities of `cell` whose search signal is predicted as `score`
    /// (maximised, as the filter scores: negated for a minimised signal).
    pub fn predicted(&self, cell: &C, score: f64) -> Vec<f64> {
        let val = match self.objectives.goals[0] {
            Goal::Maximize => score,
            Goal::Minimize => -score,
        };
        self.objectives
            .utilities(val, &self.known.known_metrics(cell))
    }

    /// The `k` candidates of `pool` to evaluate, best first, from the acquisition's `scores`
    /// or, for `ehvi`, the ensemble's `means` and `spread` (draws from `rng`).
    pub fn order(
        &self,
        pool: &[C],
        scores: &[f64],
        means: &[f64],
        spread: &[f64],
        k: usize,
        rng: &mut emprox_benchmarks::seed::Rng,
    ) -> Vec<usize> {
        if self.kind == MoRankKind::Ehvi {
            use rand_distr::{Distribution, StandardNormal};
            let points: Vec<Vec<f64>> = pool
                .iter()
                .zip(means)
                .map(|(c, &m)| self.predicted(c, m))
                .collect();
            let samples: Vec<Vec<Vec<f64>>> = pool
                .iter()
                .zip(means.iter().zip(spread))
                .map(|(c, (&m, &sd))| {
                    (0..EHVI_SAMPLES)
                        .map(|_| {
                            let z: f64 = StandardNormal.sample(rng);
                            self.predicted(c, m + sd * z)
                        })
                        .collect()
                })
                .collect();
            return by_ehvi(&self.front, &points, &samples, k);
        }
        let points: Vec<Vec<f64>> = pool
            .iter()
            .zip(scores)
            .map(|(c, &s)| self.predicted(c, s))
            .collect();
        match self.kind {
            MoRankKind::Dominance => {
                let mut order = by_dominance(&points);
                order.truncate(k);
                order
            }
            MoRankKind::Hvi | MoRankKind::Ehvi => by_hvi(&self.front, &points, k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objectives::{resolve, Metrics, ObjectiveSpec};
    use emprox_benchmarks::evaluator::{EvalFailure, Outcome};

    fn p(x: &[f64]) -> Vec<f64> {
        x.to_vec()
    }

    #[test]
    fn ehvi_averages_the_improvement_of_the_draws() {
        let front = vec![p(&[0.5, 0.5])];
        let points = vec![p(&[0.6, 0.5]), p(&[0.4, 0.4])];
        // Candidate 0: both draws at its mean, 0.05 each. Candidate 1: one draw adds
        // 0.5 · 0.1 + 0.0 (at [0.4, 0.6]: 0.4 · 0.1 = 0.04) and one nothing: mean 0.02.
        let samples = vec![
            vec![p(&[0.6, 0.5]), p(&[0.6, 0.5])],
            vec![p(&[0.4, 0.6]), p(&[0.1, 0.1])],
        ];
        assert_eq!(by_ehvi(&front, &points, &samples, 2), vec![0, 1]);
        // A draw far out lifts candidate 1's expectation above candidate 0's: at [0.4, 1.0]
        // it adds 0.4 · 0.5 = 0.2, so the mean is 0.1.
        let samples = vec![
            vec![p(&[0.6, 0.5]), p(&[0.6, 0.5])],
            vec![p(&[0.4, 1.0]), p(&[0.1, 0.1])],
        ];
        assert_eq!(by_ehvi(&front, &points, &samples, 1), vec![1]);
        // Nothing expected to improve: by dominance.
        let none = vec![vec![p(&[0.1, 0.1])], vec![p(&[0.2, 0.2])]];
        assert_eq!(by_ehvi(&front, &points, &none, 2), vec![0, 1]);
    }

    #[test]
    fn dominance_orders_by_front_then_crowding() {
        let points = vec![
            p(&[0.5, 0.5]), // front 1, inside: finite crowding
            p(&[0.4, 0.4]), // front 2
            p(&[0.9, 0.1]), // front 1, extreme
            p(&[0.1, 0.9]), // front 1, extreme
            p(&[0.1, 0.1]), // front 4: dominated by [0.3, 0.3]
            p(&[0.3, 0.3]), // front 3
        ];
        assert_eq!(by_dominance(&points), vec![2, 3, 0, 1, 5, 4]);
        assert!(by_dominance(&[]).is_empty());
        // A point at 0 in one utility (below the accuracy range) is on the first front but
        // adds no hypervolume: it goes last.
        let clipped = vec![p(&[0.0, 1.0]), p(&[0.5, 0.5]), p(&[0.4, 0.4])];
        assert_eq!(by_dominance(&clipped), vec![1, 2, 0]);
    }

    #[test]
    fn hvi_picks_the_largest_gain_then_spreads() {
        let front = vec![p(&[0.5, 0.5])]; // hypervolume 0.25
        let points = vec![
            p(&[0.4, 0.4]),   // dominated: gain 0
            p(&[0.6, 0.55]),  // dominates the front: 0.33 - 0.25 = 0.08
            p(&[0.9, 0.2]),   // 0.25 + 0.4·0.2 = gain 0.08 (ties with 1: the lower index)
            p(&[0.95, 0.21]), // gain 0.45·0.21 = 0.0945: the largest
            p(&[0.2, 0.95]),  // gain 0.45·0.2 = 0.09
        ];
        // After 3 joins, 2 adds nothing (3 dominates it) while 4 (0.09) and then 1 still add.
        let order = by_hvi(&front, &points, 5);
        assert_eq!(order[..3], [3, 4, 1]);
        // The two that add nothing come last, by dominance (neither dominates: pool order).
        assert_eq!(order[3..], [0, 2]);
        assert_eq!(by_hvi(&front, &points, 2), vec![3, 4]);
        // Nothing evaluated yet: the gain is the candidate's own box.
        assert_eq!(by_hvi(&[], &points, 1), vec![1]);
    }

    #[test]
    fn three_objectives_rank_exactly_too() {
        let front = vec![p(&[0.5, 0.5, 0.5])];
        let points = vec![
            p(&[0.5, 0.5, 0.4]),
            p(&[0.5, 0.5, 0.95]), // gain 0.25·0.45 = 0.1125: first
            p(&[0.9, 0.5, 0.5]),  // gain 0.1, still 0.1 after 1 joins
            p(&[0.6, 0.6, 0.6]),  // 0.216 - 0.125 = 0.091, after 1 joins 0.216 - 0.15
        ];
        assert_eq!(by_hvi(&front, &points, 2), vec![1, 2]);
        assert_eq!(by_dominance(&points)[..3], [1, 2, 3]);
    }

    /// Known costs: the cell (a number) is its own latency.
    struct Lat;
    impl Evaluator<u32> for Lat {
        fn evaluate(&self, _: &u32, _: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
            unreachable!("the ranking never evaluates")
        }
        fn known_metrics(&self, c: &u32) -> Vec<(String, f64)> {
            vec![("lat".into(), *c as f64)]
        }
    }

    #[test]
    fn the_pool_is_ranked_by_predicted_accuracy_and_exact_costs() {
        let spec = |m: &str, goal: Goal, range: [f64; 2]| ObjectiveSpec {
            metric: m.into(),
            goal,
            range: Some(range),
        };
        let extras = vec![("lat".to_string(), vec![0.0, 10.0])];
        let mo = resolve(
            &[
                spec("val_acc", Goal::Maximize, [80.0, 100.0]),
                spec("lat", Goal::Minimize, [0.0, 10.0]),
            ],
            &Metrics {
                signal_names: vec!["val_acc"],
                goal: Goal::Maximize,
                signal: &[],
                extras: Some(&extras),
            },
        )
        .unwrap()
        .unwrap();
        let mut rank = MoRank::new(MoRankKind::Hvi, mo.clone(), Arc::new(Lat));
        assert_eq!(rank.predicted(&5, 90.0), vec![0.5, 0.5]);
        // Evaluated: 95% at latency 5 -> (0.75, 0.5).
        rank.observe(&[0.75, 0.5]);
        // Cells 2, 5, 8, 9 predicted at 85, 99, 70 (below 80: no accuracy utility), 100.
        let pool = [2u32, 5, 8, 9];
        let scores = [85.0, 99.0, 70.0, 100.0];
        // 5 at 99% adds 0.2 · 0.5 = 0.1; then 2 at 85% adds 0.25 · 0.3 = 0.075 and 9 (latency
        // utility 0.1) only 0.05 · 0.1.
        let mut rng = emprox_benchmarks::seed::stream(1, "test");
        let no_spread = [0.0; 4];
        let order = |r: &MoRank<u32>, k: usize, rng: &mut emprox_benchmarks::seed::Rng| {
            r.order(&pool, &scores, &scores, &no_spread, k, rng)
        };
        assert_eq!(order(&rank, 2, &mut rng), vec![1, 0]);
        let dom = MoRank::new(MoRankKind::Dominance, mo.clone(), Arc::new(Lat));
        // Front: 2 (0.25, 0.8), 5 (0.95, 0.5), 9 (1.0, 0.1); 8 (0, 0.2) is dominated by 2.
        assert_eq!(order(&dom, 4, &mut rng), vec![0, 3, 1, 2]);
        // Without spread the expected improvement is the predicted one.
        let mut ehvi = MoRank::new(MoRankKind::Ehvi, mo, Arc::new(Lat));
        ehvi.observe(&[0.75, 0.5]);
        assert_eq!(order(&ehvi, 2, &mut rng), vec![1, 0]);
        // A wide spread on cell 2 (85%, latency utility 0.8: a point gain of 0.075, behind
        // cell 5's 0.1): its draws near 100% would add up to 0.425, so its expected gain
        // (about 0.17) puts it first.
        let wide = [40.0, 0.0, 0.0, 0.0];
        let first = ehvi.order(&pool, &scores, &scores, &wide, 1, &mut rng);
        assert_eq!(first, vec![0]);
    }
}
