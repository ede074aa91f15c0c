//! The error type of the estimators crate.

use thiserror::Error;

/// Why an estimator could not be built, fitted, saved or loaded.
#[derive(Debug, Error)]
pub enum EstimatorError {
    /// A hyperparameter is out of range or does not apply to the estimator type.
    #[error("invalid estimator config: {0}")]
    Config(String),
    /// The training data cannot be used (too few points, mismatched lengths, non-finite values).
    #[error("invalid training data: {0}")]
    Data(String),
    /// The tensor library failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A saved model is malformed or does not match this build.
    #[error("invalid saved model: {0}")]
    Model(String),
    /// A saved model was fitted on another search space than the one it is loaded for.
    #[error("the model is for space {model:?}, not {given:?}")]
    WrongSpace {
        /// The model's space.
        model: String,
        /// The space it was loaded for.
        given: String,
    },
    /// A fitted estimator could not score the architectures (e.g. an empty reference set, or a
    /// model whose outputs are not finite).
    #[error("cannot predict: {0}")]
    Predict(String),
    /// The operation is not offered by this estimator.
    #[error("{0}")]
    Unsupported(String),
}

impl From<emprox_kernels::ParamError> for EstimatorError {
    fn from(e: emprox_kernels::ParamError) -> Self {
        match e {
            emprox_kernels::ParamError::Candle(e) => EstimatorError::Candle(e),
            other => EstimatorError::Model(other.to_string()),
        }
    }
}
