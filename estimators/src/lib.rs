#![warn(missing_docs)]
//! Performance estimators for NAS and the predictor-evaluation protocol.
//!
//! - [`Estimator`] / [`FittedEstimator`]: fit on (architectures, accuracies), then score.
//! - [`EstimatorConfig`]: the `type = "…"` TOML table that builds any estimator.
//! - Estimators: [`emprox`] (the paper's method), [`nao`], [`knn`] (`knn_onehot`), [`gbdt`],
//!   [`mlp`] (`mlp_ensemble`), [`random`], and [`mean`] of several.
//! - [`metrics`]: Kendall tau, Spearman, Pearson, MAE, RMSE, precision@k.
//! - [`evaluation`]: the NASLib protocol behind `emprox eval-predictors`.

pub mod config;
pub mod emprox;
pub mod error;
pub mod estimator;
pub mod evaluation;
pub mod gbdt;
pub mod knn;
pub mod mean;
pub mod metrics;
pub mod mlp;
pub mod nao;
pub mod plot;
pub mod random;

pub use config::{EstimatorConfig, EstimatorParams};
pub use error::EstimatorError;
pub use estimator::{Estimator, FittedEstimator, Needs};
pub use evaluation::{EvaluationSettings, PredictorEvalConfig};
