//! Local search (White et al., 2020), as NASLib runs it on NAS-Bench-201.

use crate::Strategy;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use rand::seq::SliceRandom;

/// Local search: `num_init` random cells; then the whole one-edge neighbourhood of the current
/// best, in random order; move to the best neighbour when it improves on the current cell,
/// otherwise (a local optimum) restart from a new random cell.
#[derive(Debug, Clone)]
pub struct LocalSearch<C> {
    num_init: usize,
    proposed: usize,
    /// Best cell seen since the last restart.
    best: Option<(C, f64)>,
    /// The cell whose neighbourhood is being evaluated, with its accuracy.
    centre: Option<(C, f64)>,
    /// Neighbours of the centre not yet proposed (proposed from the back).
    queue: Vec<C>,
    /// After a restart: the random cell whose result is awaited.
    restarting: bool,
}

impl<C> LocalSearch<C> {
    /// Local search with `num_init` random initial cells (>= 1).
    pub fn new(num_init: usize) -> Self {
        Self {
            num_init,
            proposed: 0,
            best: None,
            centre: None,
            queue: Vec::new(),
            restarting: false,
        }
    }
}

impl<S: SearchSpace> Strategy<S> for LocalSearch<S::Cell> {
    fn name(&self) -> &'static str {
        "local_search"
    }

    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell {
        self.proposed += 1;
        if self.proposed <= self.num_init {
            return space.sample(rng);
        }
        if self.queue.is_empty() {
            let improved = match (&self.best, &self.centre) {
                (Some(b), Some(c)) => b.1 > c.1,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if improved && !self.restarting {
                let centre = self.best.clone().expect("improved implies a best cell");
                self.queue = space.neighbours(&centre.0);
                self.queue.shuffle(rng);
                self.centre = Some(centre);
            } else {
                // Local optimum (or nothing succeeded yet): restart from a random cell.
                self.best = None;
                self.centre = None;
                self.restarting = true;
                return space.sample(rng);
            }
        }
        self.queue.pop().expect("queue refilled above")
    }

    fn tell(&mut self, _space: &S, cell: &S::Cell, val_acc: Option<f64>) {
        self.restarting = false;
        let Some(v) = val_acc else { return };
        if self.best.as_ref().is_none_or(|b| v > b.1) {
            self.best = Some((cell.clone(), v));
        }
    }
}
