//! Regularized evolution (Real et al., 2019): tournament selection, mutation and ageing.

use crate::{Feedback, Strategy};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use rand::seq::index::sample;
use std::collections::VecDeque;

/// Regularized ("ageing") evolution.
///
/// The first `population_size` proposals are random samples. Afterwards each proposal mutates the
/// best of `sample_size` members drawn from the population without replacement; each result joins
/// the population and the oldest member leaves.
#[derive(Debug, Clone)]
pub struct RegularizedEvolution<C> {
    population_size: usize,
    sample_size: usize,
    population: VecDeque<(C, f64)>,
    proposed: usize,
}

impl<C> RegularizedEvolution<C> {
    /// A strategy with the given population and tournament sizes (`1 <= sample_size <=
    /// population_size`, checked by [`crate::StrategyConfig`]).
    pub fn new(population_size: usize, sample_size: usize) -> Self {
        Self {
            population_size,
            sample_size,
            population: VecDeque::with_capacity(population_size + 1),
            proposed: 0,
        }
    }

    /// The current population, oldest first.
    pub fn population(&self) -> impl Iterator<Item = &(C, f64)> {
        self.population.iter()
    }
}

impl<S: SearchSpace> Strategy<S> for RegularizedEvolution<S::Cell> {
    fn name(&self) -> &'static str {
        "regularized_evolution"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        self.proposed += 1;
        if self.proposed <= self.population_size || self.population.is_empty() {
            return space.sample(rng);
        }
        let k = self.sample_size.min(self.population.len());
        let parent = sample(rng, self.population.len(), k)
            .into_iter()
            .map(|i| &self.population[i])
            // The first of equal accuracies wins, so ties do not depend on float quirks.
            .reduce(|best, m| if m.1 > best.1 { m } else { best })
            .expect("k >= 1");
        space.mutate(&parent.0, rng)
    }

    fn tell(&mut self, _space: &S, cell: &S::Cell, feedback: Option<&Feedback>) {
        let Some(f) = feedback else { return };
        self.population.push_back((cell.clone(), f.score));
        if self.population.len() > self.population_size {
            self.population.pop_front();
        }
    }
}
