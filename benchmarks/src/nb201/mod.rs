//! NAS-Bench-201: the cell space and its tabular benchmark.

pub mod cell;
pub mod data;
pub mod encoding;
pub mod space;
pub mod tabular;

pub use cell::{Cell, Op, EDGES, NUM_CELLS, NUM_EDGES, NUM_OPS};
pub use data::{Dataset, Nb201Data, Record};
pub use space::Nb201Space;
pub use tabular::{Nb201Tabular, NoiseModel};
