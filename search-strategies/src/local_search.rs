//! Local search (White et al., 2020), as NASLib runs it on NAS-Bench-201.

use crate::{Feedback, Strategy};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use rand::seq::SliceRandom;

/// Local search: `num_init` random cells; then the whole one-edge neighbourhood of the current
/// best, in random order; move to the best neighbour when it improves on the current cell,
/// otherwise (a local optimum) restart from a new random cell.
///
/// In batches ([`Strategy::ask_pool`], as an estimator filter asks): a batch is the centre's
/// neighbours not yet proposed, in the same shuffled order as single asks would give them,
/// then restart samples (random cells) up to the batch size. Proposing a neighbour in a batch
/// visits it, whether or not the engine evaluates it (the filter judged it); the batch
/// changes neither the best cell nor the centre. Only when the centre's neighbourhood has been
/// proposed does the next ask or batch take local search's step, from the results told back:
/// move the centre to the best cell since the last restart if it improves on the centre
/// (a restart sample that was evaluated counts, as it would after a single-ask restart),
/// else restart, so that the batch is all restart samples and the best of those told back is
/// the next centre.
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
    /// Restarts so far.
    restarts: u64,
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
            restarts: 0,
        }
    }

    /// Restarts so far (a local optimum, or a centre without neighbours).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

impl<C: Clone> LocalSearch<C> {
    /// The step taken once the centre's neighbourhood has been proposed: move the centre to
    /// the best cell since the last restart (queueing its neighbours, shuffled) if it improves
    /// on the centre, else restart. True when there are neighbours to propose.
    fn step<S: SearchSpace<Cell = C>>(&mut self, space: &S, rng: &mut Rng) -> bool {
        let improved = match (&self.best, &self.centre) {
            (Some(b), Some(c)) => b.1 > c.1,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match (&self.best, improved && !self.restarting) {
            (Some(best), true) => {
                let centre = best.clone();
                self.queue = space.neighbours(&centre.0);
                self.queue.shuffle(rng);
                self.centre = Some(centre);
            }
            _ => self.queue.clear(),
        }
        if self.queue.is_empty() {
            // Local optimum, nothing succeeded yet, or a cell without neighbours: restart.
            self.best = None;
            self.centre = None;
            self.restarting = true;
            self.restarts += 1;
        }
        !self.queue.is_empty()
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
        if self.queue.is_empty() && !self.step(space, rng) {
            return space.sample(rng);
        }
        self.queue
            .pop()
            .expect("a step with neighbours fills the queue")
    }

    fn ask_pool(&mut self, space: &S, n: usize, rng: &mut Rng) -> Vec<S::Cell> {
        let start = self.proposed;
        self.proposed = self.proposed.saturating_add(n);
        let mut batch = Vec::with_capacity(n);
        if start >= self.num_init && (!self.queue.is_empty() || self.step(space, rng)) {
            let k = n.min(self.queue.len());
            let rest = self.queue.len() - k;
            batch.extend(self.queue.drain(rest..).rev());
        }
        // The initial random cells, or restart samples after the neighbours.
        while batch.len() < n {
            batch.push(space.sample(rng));
        }
        batch
    }

    fn tell(&mut self, _space: &S, cell: &S::Cell, feedback: Option<&Feedback>) {
        self.restarting = false;
        let Some(v) = feedback.map(|f| f.score) else {
            return;
        };
        if self.best.as_ref().is_none_or(|b| v > b.1) {
            self.best = Some((cell.clone(), v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
    use emprox_benchmarks::seed;
    use std::collections::HashSet;

    fn space() -> Nb201Space {
        Nb201Space::new(Nb201Data::shipped().unwrap())
    }

    fn set(cells: &[Cell]) -> HashSet<Cell> {
        cells.iter().copied().collect()
    }

    /// Local search past its single initial cell `a` (told `val`), with `a` as the best.
    fn started(s: &Nb201Space, rng: &mut Rng, val: f64) -> (LocalSearch<Cell>, Cell) {
        let mut ls = LocalSearch::new(1);
        let a = Strategy::<Nb201Space>::ask(&mut ls, s, rng);
        ls.tell(s, &a, Some(&Feedback::single(val)));
        (ls, a)
    }

    #[test]
    fn a_batch_is_the_centres_neighbours_then_restart_samples() {
        let s = space();
        let mut rng = seed::stream(1, "test");
        let (mut ls, a) = started(&s, &mut rng, 50.0);
        let batch = ls.ask_pool(&s, 100, &mut rng);
        let hood = s.neighbours(&a);
        assert_eq!(batch.len(), 100);
        assert_eq!(set(&batch[..hood.len()]), set(&hood));
        assert!(!set(&hood).is_superset(&set(&batch[hood.len()..])));
        // Smaller batches take the next unvisited neighbours, in single-ask order.
        let mut r1 = seed::stream(1, "test");
        let (mut one, _) = started(&s, &mut r1, 50.0);
        let mut r2 = seed::stream(1, "test");
        let (mut two, _) = started(&s, &mut r2, 50.0);
        let batched = [two.ask_pool(&s, 5, &mut r2), two.ask_pool(&s, 5, &mut r2)].concat();
        let asked: Vec<Cell> = (0..10).map(|_| one.ask(&s, &mut r1)).collect();
        assert_eq!(batched, asked);
    }

    #[test]
    fn batches_keep_the_best_and_move_the_centre_to_an_improvement() {
        let s = space();
        let mut rng = seed::stream(2, "test");
        let (mut ls, a) = started(&s, &mut rng, 50.0);
        let batch = ls.ask_pool(&s, 100, &mut rng);
        // The engine evaluates two of the batch: one better than the centre, one worse.
        ls.tell(&s, &batch[3], Some(&Feedback::single(60.0)));
        ls.tell(&s, &batch[7], Some(&Feedback::single(40.0)));
        let next = ls.ask_pool(&s, 100, &mut rng);
        let hood = s.neighbours(&batch[3]);
        assert_eq!(
            set(&next[..hood.len()]),
            set(&hood),
            "the centre moved to the best"
        );
        assert!(
            hood.contains(&a),
            "a's neighbour has a among its neighbours"
        );
    }

    #[test]
    fn a_local_optimum_restarts_and_the_best_restart_sample_is_the_next_centre() {
        let s = space();
        let mut rng = seed::stream(3, "test");
        let (mut ls, a) = started(&s, &mut rng, 50.0);
        let batch = ls.ask_pool(&s, 30, &mut rng);
        for c in &batch[..5] {
            ls.tell(&s, c, Some(&Feedback::single(10.0)));
        }
        // Nothing beat the centre: the next batch is all restart samples (the batch did not
        // forget the centre's accuracy and walk down to a worse neighbour).
        let restart = ls.ask_pool(&s, 30, &mut rng);
        assert!(!set(&restart).is_superset(&set(&s.neighbours(&batch[0]))));
        assert!(!set(&s.neighbours(&a)).is_superset(&set(&restart)));
        // The best of the restart samples told back becomes the centre, however low.
        ls.tell(&s, &restart[4], Some(&Feedback::single(5.0)));
        ls.tell(&s, &restart[9], None);
        let next = ls.ask_pool(&s, 30, &mut rng);
        let hood = s.neighbours(&restart[4]);
        assert_eq!(set(&next[..hood.len()]), set(&hood));
    }

    #[test]
    fn initial_batches_are_random_and_end_the_initial_phase() {
        let s = space();
        let mut rng = seed::stream(4, "test");
        let mut ls = LocalSearch::new(10);
        let batch = ls.ask_pool(&s, 20, &mut rng);
        assert_eq!(set(&batch).len(), 20);
        ls.tell(&s, &batch[0], Some(&Feedback::single(1.0)));
        let next = ls.ask(&s, &mut rng);
        assert!(s.neighbours(&batch[0]).contains(&next));
    }
}
