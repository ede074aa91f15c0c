//! Search spaces and evaluators for emprox.
//!
//! - [`space::SearchSpace`]: the trait every search space implements (sampling, mutation,
//!   neighbourhoods, isomorphism keys, encodings).
//! - [`nb201`]: the NAS-Bench-201 cell space and its tabular benchmark (shipped in the repo).
//! - [`tabular`]: any table (CSV + a TOML description) as a search space and an evaluator;
//!   NAS-Bench-201 and the NAS-Bench-101 / -301 subsets are shipped instances.
//! - [`evaluator::Evaluator`]: turns a cell into an [`evaluator::Outcome`].
//! - [`seed`]: named, deterministic RNG streams derived from one seed.
//! - [`pareto`]: non-dominated sorting, crowding distance and exact hypervolume (several objectives).
//! - [`digest`]: canonical JSON and SHA-256 of configurations (config hashes, cache keys).
//!
//! Training candidates for real (candle) lives in the `emprox-train` crate
//! (`benchmarks/train/`), so this crate, and the search strategies built on it, need no candle.

pub mod command;
pub mod config;
pub mod declared;
pub mod digest;
pub mod error;
pub mod evaluator;
pub mod fsutil;
pub mod nb201;
pub mod params;
pub mod pareto;
pub mod seed;
pub mod slurm;
pub mod space;
pub mod tabular;
pub mod toml_error;
pub mod workers;

pub use error::{ArchParseError, DataError};
pub use evaluator::{Evaluator, Goal, Outcome, Signal};
pub use space::{SearchSpace, SeqEncoding};
