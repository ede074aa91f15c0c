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
    ageing: Ageing<C, f64>,
}

impl<C> RegularizedEvolution<C> {
    /// A strategy with the given population and tournament sizes (`1 <= sample_size <=
    /// population_size`, checked by [`crate::StrategyConfig`]).
    pub fn new(population_size: usize, sample_size: usize) -> Self {
        Self {
            ageing: Ageing::new(population_size, sample_size),
        }
    }

    /// The current population, oldest first.
    pub fn population(&self) -> impl Iterator<Item = &(C, f64)> {
        self.ageing.population.iter()
    }
}

/// The ageing population of regularized evolution, whatever its members' fitness `V` and its
/// tournament rule: random proposals until the population is full, then mutations of a tournament
/// winner among `sample_size` members drawn without replacement; each evaluated cell joins and
/// the oldest member leaves.
#[derive(Debug, Clone)]
pub(crate) struct Ageing<C, V> {
    population_size: usize,
    sample_size: usize,
    pub(crate) population: VecDeque<(C, V)>,
    proposed: usize,
}

impl<C, V> Ageing<C, V> {
    pub(crate) fn new(population_size: usize, sample_size: usize) -> Self {
        Self {
            population_size,
            sample_size,
            population: VecDeque::with_capacity(population_size + 1),
            proposed: 0,
        }
    }

    /// The next proposal: a random cell, or a mutation of the member that `winner` picks from
    /// the population and the drawn indices (in draw order).
    pub(crate) fn ask<S: SearchSpace<Cell = C>>(
        &mut self,
        space: &S,
        rng: &mut Rng,
        winner: impl FnOnce(&VecDeque<(C, V)>, &[usize]) -> usize,
    ) -> C {
        self.proposed += 1;
        if self.proposed <= self.population_size || self.population.is_empty() {
            return space.sample(rng);
        }
        let k = self.sample_size.min(self.population.len());
        let drawn = sample(rng, self.population.len(), k).into_vec();
        let parent = &self.population[winner(&self.population, &drawn)].0;
        space.mutate(parent, rng)
    }

    /// An evaluated cell joins with its fitness (`None`: failed, nothing joins).
    pub(crate) fn tell(&mut self, cell: &C, fitness: Option<V>)
    where
        C: Clone,
    {
        let Some(v) = fitness else { return };
        self.population.push_back((cell.clone(), v));
        if self.population.len() > self.population_size {
            self.population.pop_front();
        }
    }
}

impl<S: SearchSpace> Strategy<S> for RegularizedEvolution<S::Cell> {
    fn name(&self) -> &'static str {
        "regularized_evolution"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        self.ageing.ask(space, rng, |population, drawn| {
            // The first of equal accuracies wins, so ties do not depend on float quirks.
            let mut best = drawn[0];
            for &i in &drawn[1..] {
                if population[i].1 > population[best].1 {
                    best = i;
                }
            }
            best
        })
    }

    fn tell(&mut self, _space: &S, cell: &S::Cell, feedback: Option<&Feedback>) {
        self.ageing.tell(cell, feedback.map(|f| f.score));
    }
}
