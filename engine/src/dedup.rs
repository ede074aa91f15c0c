//! What counts as "the same cell" for deduplication: the cell itself, or its isomorphism class.

use emprox_benchmarks::SearchSpace;

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
