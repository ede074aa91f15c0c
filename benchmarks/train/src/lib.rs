//! `emprox-train`: evaluating candidates by really training them: the NAS-Bench-201 network on
//! candle (CPU), trained on images shipped in the repository (`benchmarks/data/`). See
//! `benchmarks/TRAINING.md`.
//!
//! The fused kernels (batch norm, im2col convolution) and the seeded parameter registry come from
//! `emprox-kernels`; the search space, evaluator trait, seeds and worker pool from
//! `emprox-benchmarks`, which itself needs no candle.
//!
//! - [`config::TrainingConfig`]: the `[evaluator] type = "train"` table, with defaults.
//! - [`evaluator::TrainingEvaluator`]: an [`emprox_benchmarks::Evaluator`] of NB201 cells.
//! - [`declared::DeclaredTraining`]: the same for a declared space of one cell (any node count).
//! - [`network::Network`], [`ops`]: the macro skeleton, the cell and its five ops.
//! - [`trainer::train`]: SGD (Nesterov momentum, weight decay, cosine rate, label smoothing).
//! - [`images`]: sklearn digits 8×8 and 10,000 MNIST images, split and standardised.
//! - [`data`]: your own images (image folders, CIFAR binary batches, NumPy arrays).

pub mod config;
pub mod data;
pub mod declared;
pub mod evaluator;
pub mod images;
pub mod network;
pub mod ops;
pub mod trainer;

pub use config::{DataOrder, ImageDataset, TrainingConfig, TrainingConfigError};
pub use declared::DeclaredTraining;
pub use evaluator::{TrainingEvaluator, TrainingSetupError};
pub use network::CellGraph;
pub use trainer::{TrainError, TrainReport, TrainSeeds};
