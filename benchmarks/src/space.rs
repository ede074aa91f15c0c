//! The search-space trait: what a strategy and an estimator may know about architectures.

use crate::error::ArchParseError;
use std::fmt::Debug;
use std::hash::Hash;

/// A token-sequence encoding of an architecture (for sequence models such as EmProx / NAO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeqEncoding {
    /// The NAO / SemiNAS sequence: the cell as a DAG, each column its adjacency bits then its op.
    Nao,
    /// One token per edge, combining the edge position and its op.
    Compact,
}

/// A search space of architectures ("cells").
///
/// Strategies use sampling, mutation and neighbourhoods; estimators use the encodings; the engine
/// uses parsing, formatting and isomorphism keys. A second space implements the same trait without
/// touching strategies or estimators.
pub trait SearchSpace: Send + Sync {
    /// One architecture of the space.
    type Cell: Clone + Eq + Hash + Ord + Debug + Send + Sync + 'static;

    /// Short name of the space, e.g. `nasbench201` (a tabular space names its table).
    fn name(&self) -> &str;
    /// Number of architectures, if finite.
    fn size(&self) -> Option<u64>;
    /// Parses the space's official architecture string.
    fn parse(&self, s: &str) -> Result<Self::Cell, ArchParseError>;
    /// Formats a cell as the space's official architecture string.
    fn format(&self, cell: &Self::Cell) -> String;
    /// The cell's index in the benchmark's own order, if the space has one.
    fn index(&self, cell: &Self::Cell) -> Option<u64>;
    /// The cell's value in each dimension, as (dimension name, value) in a fixed order: what a
    /// program outside emprox needs to build the architecture (the command evaluator's spec).
    fn components(&self, cell: &Self::Cell) -> Vec<(String, String)>;
    /// A cell drawn uniformly at random.
    fn sample(&self, rng: &mut dyn rand::RngCore) -> Self::Cell;
    /// A random neighbour: the cell with one component changed.
    fn mutate(&self, cell: &Self::Cell, rng: &mut dyn rand::RngCore) -> Self::Cell;
    /// All cells that differ from `cell` in exactly one component, in a fixed order.
    fn neighbours(&self, cell: &Self::Cell) -> Vec<Self::Cell>;
    /// A key equal for isomorphic cells (cells that compute the same function) and only for them.
    fn iso_key(&self, cell: &Self::Cell) -> u64;
    /// Token sequence of a cell in the given encoding.
    fn sequence(&self, cell: &Self::Cell, enc: SeqEncoding) -> Vec<u32>;
    /// Vocabulary size of a sequence encoding (tokens are `0..vocab`).
    fn vocab_size(&self, enc: SeqEncoding) -> usize;
    /// One-hot encoding (fixed length).
    fn one_hot(&self, cell: &Self::Cell) -> Vec<f32>;
    /// Path encoding (BANANAS; fixed length), or `None` where the space has none (callers fall
    /// back to [`SearchSpace::one_hot`]).
    fn path_encoding(&self, cell: &Self::Cell) -> Option<Vec<f32>>;
}
