//! Error types of the benchmarks crate.

use std::path::PathBuf;
use thiserror::Error;

/// An architecture string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid architecture {input:?}: {reason}")]
pub struct ArchParseError {
    /// The string as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ArchParseError {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.chars().take(200).collect(),
            reason: reason.into(),
        }
    }
}

/// A benchmark data file that is missing, unreadable or corrupt.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("cannot read data file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not what was expected.
    #[error("corrupt data file {path}: {reason}. {hint}")]
    Corrupt {
        path: PathBuf,
        reason: String,
        hint: &'static str,
    },
}
