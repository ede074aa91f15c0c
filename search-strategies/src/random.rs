//! Random search: uniform samples from the space.

use crate::{Feedback, Strategy};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;

/// Samples cells uniformly at random.
#[derive(Debug, Clone, Default)]
pub struct RandomSearch;

impl<S: SearchSpace> Strategy<S> for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        space.sample(rng)
    }

    fn tell(&mut self, _space: &S, _cell: &S::Cell, _feedback: Option<&Feedback>) {}
}
