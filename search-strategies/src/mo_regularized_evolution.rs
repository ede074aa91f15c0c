//! Multi-objective regularized evolution (MO-REA, Guerrero-Viu et al., 2021): regularized
//! evolution whose tournament is won by NSGA-II's order, non-dominated rank then crowding
//! distance, over every objective the engine tells.

use crate::regularized_evolution::Ageing;
use crate::{Feedback, Strategy};
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::pareto;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;

/// Regularized evolution with NSGA-II selection.
///
/// The first `population_size` proposals are random samples. Afterwards each proposal draws
/// `sample_size` members from the population without replacement and mutates the winner of
/// NSGA-II's crowded comparison ([`nsga2_winner`]): the population is sorted into non-dominated
/// fronts over the objective utilities of [`Feedback::objectives`] (all maximised), and the
/// drawn member of the best front with the largest crowding distance inside it wins (ties: the
/// first drawn). Ranking the whole population rather than the sample measured better on all
/// three NAS-Bench-201 cases (README "Several objectives"). Each evaluated cell joins the population and the
/// oldest member leaves; a failed evaluation joins nothing. With one objective the tournament is
/// regularized evolution's (the best score wins).
#[derive(Debug, Clone)]
pub struct MoRegularizedEvolution<C> {
    ageing: Ageing<C, Vec<f64>>,
}

impl<C> MoRegularizedEvolution<C> {
    /// A strategy with the given population and tournament sizes (`1 <= sample_size <=
    /// population_size`, checked by [`crate::StrategyConfig`]).
    pub fn new(population_size: usize, sample_size: usize) -> Self {
        Self {
            ageing: Ageing::new(population_size, sample_size),
        }
    }

    /// The current population with each member's utilities, oldest first.
    pub fn population(&self) -> impl Iterator<Item = &(C, Vec<f64>)> {
        self.ageing.population.iter()
    }
}

/// NSGA-II's crowded-comparison tournament: the winner among the `drawn` indices of `points`
/// (utility vectors of the whole population, all maximised). Ranks and crowding distances are
/// those of the population: the lowest non-dominated rank wins, then the largest crowding
/// distance within its front, then the first drawn.
pub fn nsga2_winner(points: &[Vec<f64>], drawn: &[usize]) -> usize {
    let goals = vec![Goal::Maximize; points.first().map_or(0, Vec::len)];
    let fronts = pareto::non_dominated_sort(points, &goals).expect("utilities of one length");
    let mut key = vec![(0usize, 0.0f64); points.len()];
    for (rank, front) in fronts.iter().enumerate() {
        let crowding =
            pareto::crowding_distance(points, &goals, front).expect("utilities of one length");
        for (&i, &c) in front.iter().zip(&crowding) {
            key[i] = (rank, c);
        }
    }
    let mut best = drawn[0];
    for &i in &drawn[1..] {
        let ((r, c), (br, bc)) = (key[i], key[best]);
        if r < br || (r == br && c > bc) {
            best = i;
        }
    }
    best
}

impl<S: SearchSpace> Strategy<S> for MoRegularizedEvolution<S::Cell> {
    fn name(&self) -> &'static str {
        "mo_regularized_evolution"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        self.ageing.ask(space, rng, |population, drawn| {
            let points: Vec<Vec<f64>> = population.iter().map(|m| m.1.clone()).collect();
            nsga2_winner(&points, drawn)
        })
    }

    fn tell(&mut self, _space: &S, cell: &S::Cell, feedback: Option<&Feedback>) {
        self.ageing.tell(cell, feedback.map(Feedback::utilities));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
    use emprox_benchmarks::seed;

    #[test]
    fn the_winner_is_non_dominated_and_least_crowded() {
        // 0 is dominated by 1 and 3; 1, 2, 3, 4 form the first front, 2 and 3 inside it with
        // finite crowding, 3 the less crowded (its neighbours are further apart).
        let points = vec![
            vec![0.1, 0.1],
            vec![0.2, 0.9],
            vec![0.3, 0.8],
            vec![0.5, 0.5],
            vec![0.9, 0.1],
        ];
        let all: Vec<usize> = (0..5).collect();
        assert_eq!(
            nsga2_winner(&points, &all),
            1,
            "extremes are infinitely uncrowded"
        );
        assert_eq!(nsga2_winner(&points, &[4, 1]), 4, "ties: the first drawn");
        assert_eq!(nsga2_winner(&points, &[0, 2, 3]), 3, "less crowded");
        assert_eq!(nsga2_winner(&points, &[0, 2]), 2, "non-dominated");
        // Ranks are the population's, not the sample's: 0 is in the second front (dominated by
        // 1 only), 2 in the third; 0 beats 2, and with 1 drawn, 1 wins.
        let p = vec![vec![0.4, 0.4], vec![0.5, 0.5], vec![0.3, 0.3]];
        assert_eq!(nsga2_winner(&p, &[2, 0]), 0);
        assert_eq!(nsga2_winner(&p, &[2, 0, 1]), 1);
        // One objective: the best score.
        assert_eq!(nsga2_winner(&[vec![3.0], vec![5.0], vec![4.0]], &[0, 2]), 2);
        // Equal points share the front: the first drawn of equals wins.
        assert_eq!(nsga2_winner(&[vec![1.0, 1.0], vec![1.0, 1.0]], &[1, 0]), 1);
    }

    fn feedback(c: &Cell) -> Feedback {
        // Two conflicting objectives from the cell's code.
        let x = (c.code() % 97) as f64 / 96.0;
        Feedback {
            score: x,
            objectives: vec![x, 1.0 - x * x],
        }
    }

    /// Proposals of a strategy told `feedback`, from RNG seed `s`.
    fn trace(s: u64, n: usize) -> Vec<Cell> {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let mut st = MoRegularizedEvolution::new(10, 4);
        let mut rng = seed::stream(s, "strategy");
        (0..n)
            .map(|_| {
                let c = st.ask(&space, &mut rng);
                st.tell(&space, &c, Some(&feedback(&c)));
                c
            })
            .collect()
    }

    #[test]
    fn children_mutate_members_and_runs_repeat() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let t = trace(5, 40);
        assert_eq!(t, trace(5, 40), "same seed, same proposals");
        assert_ne!(t, trace(6, 40));
        for (i, c) in t.iter().enumerate().skip(10) {
            // Each child is one edge from one of the last 10 evaluated cells (the population).
            let parents = &t[i - 10..i];
            assert!(
                parents.iter().any(|p| space.neighbours(p).contains(c)),
                "query {i} mutates a member"
            );
        }
    }

    #[test]
    fn the_population_ages_and_skips_failures() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let mut st = MoRegularizedEvolution::new(3, 2);
        let mut rng = seed::stream(1, "strategy");
        let cells: Vec<Cell> = (0..5).map(|_| space.sample(&mut rng)).collect();
        for c in &cells {
            st.tell(&space, c, Some(&feedback(c)));
        }
        st.tell(&space, &cells[0], None);
        let members: Vec<Cell> = st.population().map(|m| m.0).collect();
        assert_eq!(members, cells[2..]);
        assert_eq!(
            st.population().next().unwrap().1,
            feedback(&cells[2]).objectives
        );
    }
}
