//! The NAS-Bench-201 cell space.

use super::cell::{Cell, Op, EDGES, NUM_CELLS, NUM_EDGES, NUM_OPS};
use super::data::Nb201Data;
use super::encoding;
use crate::error::ArchParseError;
use crate::space::{SearchSpace, SeqEncoding};
use rand::Rng;
use std::sync::Arc;

/// The NAS-Bench-201 space: 15,625 cells. Indices and isomorphism classes come from the shared
/// benchmark table.
#[derive(Debug, Clone)]
pub struct Nb201Space {
    data: Arc<Nb201Data>,
}

impl Nb201Space {
    /// A space over the given table.
    pub fn new(data: Arc<Nb201Data>) -> Self {
        Self { data }
    }

    /// The table behind the space.
    pub fn data(&self) -> &Arc<Nb201Data> {
        &self.data
    }

    /// Every cell of the space, in NB201 index order.
    pub fn all_cells(&self) -> Vec<Cell> {
        self.data.records().iter().map(|r| r.cell).collect()
    }

    /// The cell with NB201 index `index`.
    pub fn cell_at(&self, index: usize) -> Option<Cell> {
        self.data.by_index(index).map(|r| r.cell)
    }
}

impl SearchSpace for Nb201Space {
    type Cell = Cell;

    fn name(&self) -> &str {
        "nasbench201"
    }

    fn size(&self) -> Option<u64> {
        Some(NUM_CELLS as u64)
    }

    fn parse(&self, s: &str) -> Result<Cell, ArchParseError> {
        Cell::parse(s)
    }

    fn format(&self, cell: &Cell) -> String {
        cell.to_string()
    }

    fn index(&self, cell: &Cell) -> Option<u64> {
        Some(self.data.index_of(cell) as u64)
    }

    /// One dimension per edge, named `to<-from` (e.g. `1<-0`), valued by its op's name.
    fn components(&self, cell: &Cell) -> Vec<(String, String)> {
        EDGES
            .iter()
            .zip(cell.ops)
            .map(|(&(to, from), op)| (format!("{to}<-{from}"), op.name().to_string()))
            .collect()
    }

    fn sample(&self, rng: &mut dyn rand::RngCore) -> Cell {
        Cell::from_code(rng.random_range(0..NUM_CELLS)).expect("code in range")
    }

    fn mutate(&self, cell: &Cell, rng: &mut dyn rand::RngCore) -> Cell {
        let edge = rng.random_range(0..NUM_EDGES);
        // One of the 4 other ops, uniformly.
        let shift = rng.random_range(1..NUM_OPS);
        let mut out = *cell;
        out.ops[edge] = Op::ALL[(cell.ops[edge] as usize + shift) % NUM_OPS];
        out
    }

    fn neighbours(&self, cell: &Cell) -> Vec<Cell> {
        let mut out = Vec::with_capacity(NUM_EDGES * (NUM_OPS - 1));
        for e in 0..NUM_EDGES {
            for op in Op::ALL {
                if op != cell.ops[e] {
                    let mut n = *cell;
                    n.ops[e] = op;
                    out.push(n);
                }
            }
        }
        out
    }

    fn iso_key(&self, cell: &Cell) -> u64 {
        self.data.record(cell).iso_rep_index as u64
    }

    fn sequence(&self, cell: &Cell, enc: SeqEncoding) -> Vec<u32> {
        match enc {
            SeqEncoding::Nao => encoding::nao_sequence(cell),
            SeqEncoding::Compact => encoding::compact_sequence(cell),
        }
    }

    fn vocab_size(&self, enc: SeqEncoding) -> usize {
        match enc {
            SeqEncoding::Nao => encoding::NAO_VOCAB,
            SeqEncoding::Compact => encoding::COMPACT_VOCAB,
        }
    }

    fn one_hot(&self, cell: &Cell) -> Vec<f32> {
        encoding::one_hot(cell)
    }

    fn path_encoding(&self, cell: &Cell) -> Option<Vec<f32>> {
        Some(encoding::path_encoding(cell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn space() -> Nb201Space {
        Nb201Space::new(Nb201Data::shipped().unwrap())
    }

    #[test]
    fn index_round_trip_for_every_cell() {
        let s = space();
        for (i, c) in s.all_cells().iter().enumerate() {
            assert_eq!(s.index(c), Some(i as u64));
            assert_eq!(s.parse(&s.format(c)).unwrap(), *c);
        }
    }

    #[test]
    fn iso_key_groups_6466_classes() {
        let s = space();
        let keys: HashSet<u64> = s.all_cells().iter().map(|c| s.iso_key(c)).collect();
        assert_eq!(keys.len(), 6466);
    }

    proptest! {
        #[test]
        fn mutation_differs_in_exactly_one_edge(code in 0usize..NUM_CELLS, seed in any::<u64>()) {
            let s = space();
            let c = Cell::from_code(code).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let m = s.mutate(&c, &mut rng);
            let diff = c.ops.iter().zip(m.ops.iter()).filter(|(a, b)| a != b).count();
            prop_assert_eq!(diff, 1);
        }

        #[test]
        fn neighbourhood_has_24_distinct_cells(code in 0usize..NUM_CELLS) {
            let s = space();
            let c = Cell::from_code(code).unwrap();
            let n = s.neighbours(&c);
            prop_assert_eq!(n.len(), 24);
            let set: HashSet<Cell> = n.iter().copied().collect();
            prop_assert_eq!(set.len(), 24);
            prop_assert!(!set.contains(&c));
            for m in &n {
                let diff = c.ops.iter().zip(m.ops.iter()).filter(|(a, b)| a != b).count();
                prop_assert_eq!(diff, 1);
            }
        }
    }
}
