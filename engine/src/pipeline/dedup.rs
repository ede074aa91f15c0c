//! Dedup middleware: what counts as "the same cell" (the cell itself, or its isomorphism class
//! with `[search] dedup_isomorphic`), which cells the run has evaluated or has in flight, and
//! when a strategy that only re-proposes has exhausted the run.

use emprox_benchmarks::SearchSpace;
use emprox_strategies::Feedback;
use std::collections::{HashMap, HashSet};

/// A cell's identity for deduplication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DedupKey<C> {
    /// The cell itself.
    Cell(C),
    /// Its isomorphism class (the space's `iso_key`).
    Iso(u64),
}

impl<C: Clone> DedupKey<C> {
    /// The key of `cell`: its isomorphism class with `isomorphic`, else the cell.
    pub fn of<S: SearchSpace<Cell = C>>(space: &S, cell: &C, isomorphic: bool) -> Self {
        if isomorphic {
            DedupKey::Iso(space.iso_key(cell))
        } else {
            DedupKey::Cell(cell.clone())
        }
    }
}

/// What the run already knows of a proposed cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    /// Not evaluated, not in flight: evaluate it.
    New,
    /// Evaluated, with what its strategy was told (`None`: the evaluation failed).
    Evaluated(Option<Feedback>),
    /// Being evaluated.
    InFlight,
}

/// The cells of one run by [`DedupKey`], and the count of proposals in a row that were not new.
#[derive(Debug)]
pub struct Dedup<C> {
    isomorphic: bool,
    evaluated: HashMap<DedupKey<C>, Option<Feedback>>,
    in_flight: HashSet<DedupKey<C>>,
    repeats: u64,
    max_repeats: u64,
}

impl<C: Clone + Eq + std::hash::Hash> Dedup<C> {
    /// Keys by isomorphism class with `isomorphic`; a run is exhausted after `max_repeats`
    /// proposals in a row that were not new.
    pub fn new(isomorphic: bool, max_repeats: u64) -> Self {
        Self {
            isomorphic,
            evaluated: HashMap::new(),
            in_flight: HashSet::new(),
            repeats: 0,
            max_repeats,
        }
    }

    /// The key of `cell`.
    pub fn key<S: SearchSpace<Cell = C>>(&self, space: &S, cell: &C) -> DedupKey<C> {
        DedupKey::of(space, cell, self.isomorphic)
    }

    /// What the run knows of `cell`.
    pub fn known<S: SearchSpace<Cell = C>>(&self, space: &S, cell: &C) -> Known {
        let k = self.key(space, cell);
        match self.evaluated.get(&k) {
            Some(v) => Known::Evaluated(v.clone()),
            None if self.in_flight.contains(&k) => Known::InFlight,
            None => Known::New,
        }
    }

    /// True when `cell` (or, by the key, one like it) is evaluated or in flight.
    pub fn contains<S: SearchSpace<Cell = C>>(&self, space: &S, cell: &C) -> bool {
        self.known(space, cell) != Known::New
    }

    /// Number of evaluated keys.
    pub fn evaluated(&self) -> usize {
        self.evaluated.len()
    }

    /// Counts a proposal that was not new; true when the run is now exhausted.
    pub fn repeated(&mut self) -> bool {
        self.repeats += 1;
        self.repeats >= self.max_repeats
    }

    /// `cell` goes to evaluation (a new proposal: the repeat count starts again).
    pub fn start<S: SearchSpace<Cell = C>>(&mut self, space: &S, cell: &C) {
        self.repeats = 0;
        self.in_flight.insert(self.key(space, cell));
    }

    /// `cell` was evaluated, and its strategy told `told`.
    pub fn finish<S: SearchSpace<Cell = C>>(
        &mut self,
        space: &S,
        cell: &C,
        told: Option<Feedback>,
    ) {
        let k = self.key(space, cell);
        self.in_flight.remove(&k);
        self.evaluated.insert(k, told);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};

    fn space() -> Nb201Space {
        Nb201Space::new(Nb201Data::shipped().unwrap())
    }

    /// Two different cells of the same isomorphism class.
    fn isomorphs(
        s: &Nb201Space,
    ) -> (
        <Nb201Space as SearchSpace>::Cell,
        <Nb201Space as SearchSpace>::Cell,
    ) {
        let mut rng = emprox_benchmarks::seed::stream(1, "test");
        loop {
            let a = s.sample(&mut rng);
            let b = s.sample(&mut rng);
            if a != b && s.iso_key(&a) == s.iso_key(&b) {
                return (a, b);
            }
        }
    }

    #[test]
    fn tracks_cells_through_flight_and_evaluation() {
        let s = space();
        let (a, b) = isomorphs(&s);
        let mut d = Dedup::new(false, 10);
        assert_eq!(d.known(&s, &a), Known::New);
        d.start(&s, &a);
        assert_eq!(d.known(&s, &a), Known::InFlight);
        assert_eq!(
            d.known(&s, &b),
            Known::New,
            "identity keys keep isomorphs apart"
        );
        d.finish(&s, &a, Some(Feedback::single(91.5)));
        assert_eq!(
            d.known(&s, &a),
            Known::Evaluated(Some(Feedback::single(91.5)))
        );
        assert_eq!(d.evaluated(), 1);
        d.start(&s, &b);
        d.finish(&s, &b, None);
        assert_eq!(d.known(&s, &b), Known::Evaluated(None));
        assert_eq!(d.evaluated(), 2);
    }

    #[test]
    fn isomorphic_keys_join_isomorphs() {
        let s = space();
        let (a, b) = isomorphs(&s);
        let mut d = Dedup::new(true, 10);
        d.start(&s, &a);
        assert_eq!(d.known(&s, &b), Known::InFlight);
        d.finish(&s, &a, Some(Feedback::single(70.0)));
        assert_eq!(
            d.known(&s, &b),
            Known::Evaluated(Some(Feedback::single(70.0)))
        );
        assert!(d.contains(&s, &b));
    }

    #[test]
    fn repeats_in_a_row_exhaust_and_a_new_cell_resets_the_count() {
        let s = space();
        let (a, _) = isomorphs(&s);
        let mut d = Dedup::new(false, 3);
        assert!(!d.repeated() && !d.repeated());
        d.start(&s, &a);
        assert!(!d.repeated() && !d.repeated());
        assert!(d.repeated(), "the third repeat in a row exhausts");
    }
}
