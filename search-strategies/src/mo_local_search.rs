//! Multi-objective local search by random scalarisation (ParEGO's scalarisation, Knowles 2006):
//! local search on an augmented Chebyshev scalarisation of the objectives, with new random
//! weights at every restart.

use crate::{Feedback, LocalSearch, Strategy};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use rand::Rng as _;
use rand_distr::Exp1;

/// The most objectives the weights cover (the engine's limit).
pub const MAX_OBJECTIVES: usize = 3;

/// ParEGO's augmentation factor: the weighted sum's share in the scalarisation.
pub const RHO: f64 = 0.05;

/// Local search ([`LocalSearch`], the same moves and batches) on the augmented Chebyshev
/// scalarisation of the objective utilities `u` (in [0, 1], larger better) with weights `w` on
/// the simplex:
///
/// `s(u) = -( max_k w_k (1 - u_k) + ρ Σ_k w_k (1 - u_k) )`, `ρ = 0.05`,
///
/// maximised (ParEGO's, for utilities). The weights are drawn from the strategy's RNG before the
/// first proposal and again at each restart, so each climb follows another direction of the
/// front: `MAX_OBJECTIVES` standard exponential draws, of which the first `d` (the number of
/// objectives told), divided by their sum, are the weights (uniform on the simplex: a flat
/// Dirichlet). With one objective the scalarisation is the score itself.
#[derive(Debug, Clone)]
pub struct MoLocalSearch<C> {
    inner: LocalSearch<C>,
    /// Exponential draws of the current weights (normalised over the objectives told).
    draws: Option<[f64; MAX_OBJECTIVES]>,
    /// The inner search's restart count when the weights were drawn.
    drawn_at: u64,
}

impl<C> MoLocalSearch<C> {
    /// Local search with `num_init` random initial cells (>= 1).
    pub fn new(num_init: usize) -> Self {
        Self {
            inner: LocalSearch::new(num_init),
            draws: None,
            drawn_at: 0,
        }
    }

    /// The current weights over `d` objectives (`None` before the first proposal).
    pub fn weights(&self, d: usize) -> Option<Vec<f64>> {
        let draws = self.draws?;
        let d = d.clamp(1, MAX_OBJECTIVES);
        let sum: f64 = draws[..d].iter().sum();
        Some(draws[..d].iter().map(|x| x / sum).collect())
    }

    /// New weights after a restart of the inner search (or before the first proposal).
    fn redraw(&mut self, rng: &mut Rng) {
        if self.draws.is_none() || self.inner.restarts() != self.drawn_at {
            self.draws = Some(std::array::from_fn(|_| rng.sample::<f64, _>(Exp1)));
            self.drawn_at = self.inner.restarts();
        }
    }
}

/// The augmented Chebyshev scalarisation of utilities `u` with weights `w` (see
/// [`MoLocalSearch`]).
pub fn chebyshev(u: &[f64], w: &[f64]) -> f64 {
    let gaps = u.iter().zip(w).map(|(u, w)| w * (1.0 - u));
    let (max, sum) = gaps.fold((f64::NEG_INFINITY, 0.0), |(m, s), g| (m.max(g), s + g));
    -(max + RHO * sum)
}

impl<S: SearchSpace> Strategy<S> for MoLocalSearch<S::Cell> {
    fn name(&self) -> &'static str {
        "mo_local_search"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        self.redraw(rng);
        let c = self.inner.ask(space, rng);
        self.redraw(rng);
        c
    }

    fn ask_pool(&mut self, space: &S, n: usize, rng: &mut Rng) -> Vec<S::Cell> {
        self.redraw(rng);
        let batch = self.inner.ask_pool(space, n, rng);
        self.redraw(rng);
        batch
    }

    fn tell(&mut self, space: &S, cell: &S::Cell, feedback: Option<&Feedback>) {
        let scalar =
            feedback.map(
                |f| match (f.objectives.len(), self.weights(f.objectives.len())) {
                    (0, _) | (_, None) => f.score,
                    (_, Some(w)) => chebyshev(&f.objectives, &w),
                },
            );
        self.inner
            .tell(space, cell, scalar.map(Feedback::single).as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
    use emprox_benchmarks::seed;

    #[test]
    fn chebyshev_prefers_the_weighted_direction() {
        let w = [0.8, 0.2];
        // Strong in the heavy objective beats strong in the light one.
        assert!(chebyshev(&[0.9, 0.2], &w) > chebyshev(&[0.2, 0.9], &w));
        // The ideal point scores 0, everything else below; dominance is respected.
        assert_eq!(chebyshev(&[1.0, 1.0], &w), 0.0);
        assert!(chebyshev(&[0.5, 0.6], &w) > chebyshev(&[0.5, 0.5], &w));
        // max(0.8·0.5, 0.2·0.5) + 0.05·(0.4 + 0.1) = 0.425.
        assert!((chebyshev(&[0.5, 0.5], &w) + 0.425).abs() < 1e-12);
    }

    fn feedback(c: &Cell) -> Feedback {
        let x = (c.code() % 89) as f64 / 88.0;
        Feedback {
            score: x,
            objectives: vec![x, 1.0 - x, (x * 7.0).fract()],
        }
    }

    /// Proposals and the weights before each, from RNG seed `s`.
    fn trace(s: u64, n: usize) -> (Vec<Cell>, Vec<Vec<f64>>) {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let mut st = MoLocalSearch::new(5);
        let mut rng = seed::stream(s, "strategy");
        let (mut cells, mut weights) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let c = st.ask(&space, &mut rng);
            weights.push(st.weights(3).unwrap());
            st.tell(&space, &c, Some(&feedback(&c)));
            cells.push(c);
        }
        (cells, weights)
    }

    #[test]
    fn weights_lie_on_the_simplex_change_at_restarts_and_repeat() {
        let (cells, weights) = trace(3, 400);
        assert_eq!((cells.clone(), weights.clone()), trace(3, 400));
        let mut distinct: Vec<&Vec<f64>> = Vec::new();
        for w in &weights {
            assert_eq!(w.len(), 3);
            assert!(w.iter().all(|x| *x > 0.0 && *x < 1.0), "{w:?}");
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            if distinct.last() != Some(&w) {
                distinct.push(w);
            }
        }
        // NAS-Bench-201 cells have 24 neighbours: 400 queries hold several climbs.
        assert!(distinct.len() >= 3, "{} weight vectors", distinct.len());
        // The weights over fewer objectives are the same draws, renormalised.
        let st = {
            let space = Nb201Space::new(Nb201Data::shipped().unwrap());
            let mut st = MoLocalSearch::<Cell>::new(1);
            let _ = st.ask(&space, &mut seed::stream(1, "x"));
            st
        };
        let (w3, w2) = (st.weights(3).unwrap(), st.weights(2).unwrap());
        assert!((w2[0] / w2[1] - w3[0] / w3[1]).abs() < 1e-12);
        assert_eq!(st.weights(1).unwrap(), vec![1.0]);
    }

    #[test]
    fn the_climb_follows_the_scalarisation() {
        // Told the scalarised value, plain local search makes the same proposals.
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let mut mo = MoLocalSearch::new(5);
        let mut plain = LocalSearch::new(5);
        let (mut r1, mut r2) = (seed::stream(9, "s"), seed::stream(9, "s"));
        // The MO search draws its first weights before its first proposal.
        let _: f64 = r2.sample(Exp1);
        let _: f64 = r2.sample(Exp1);
        let _: f64 = r2.sample(Exp1);
        for i in 0..60 {
            let a = mo.ask(&space, &mut r1);
            let b = Strategy::<Nb201Space>::ask(&mut plain, &space, &mut r2);
            assert_eq!(a, b, "proposal {i}");
            if plain.restarts() > 0 {
                break; // the MO search now draws new weights: the streams part
            }
            let f = feedback(&a);
            let w = mo.weights(3).unwrap();
            mo.tell(&space, &a, Some(&f));
            plain.tell(
                &space,
                &b,
                Some(&Feedback::single(chebyshev(&f.objectives, &w))),
            );
        }
    }
}
