//! Why a tabular description or table cannot be used. Every message is one line that names the
//! file (the description or the data), the column where there is one, and what was expected.

use std::path::PathBuf;
use thiserror::Error;

/// A tabular benchmark that cannot be loaded.
#[derive(Debug, Error)]
pub enum TabularError {
    /// A file (description or data) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The description does not parse or is inconsistent (the message names the field).
    #[error("{}: invalid tabular description: {message}", path.display())]
    Description { path: PathBuf, message: String },
    /// The data file is not a readable CSV (damaged gzip stream, bad quoting, not UTF-8, ...).
    #[error("{}: corrupt or unreadable table: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// A column named by the description is not in the header.
    #[error("{}: missing column `{column}` (the {role}); the header has: {available}", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        /// What the description uses it for (`objective`, `architecture`, ...).
        role: &'static str,
        available: String,
    },
    /// A column named by the description appears more than once in the header.
    #[error("{}: the header names column `{column}` (the {role}) twice, as columns {first} and {second}: rename one", path.display())]
    AmbiguousColumn {
        path: PathBuf,
        column: String,
        /// What the description uses it for.
        role: &'static str,
        /// Its first and second position in the header (1-based).
        first: usize,
        second: usize,
    },
    /// A metric cell is not a number.
    #[error("{}: line {line}, column `{column}`: expected a number, found {value:?}", path.display())]
    NotNumeric {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    /// A metric cell is NaN or infinite.
    #[error("{}: line {line}, column `{column}`: expected a finite number, found {value:?}", path.display())]
    NonFinite {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    /// No data row matches `select` (or the table has no data rows).
    #[error("{}: no data row matches the selection {selection} ({rows} data rows read)", path.display())]
    EmptySelection {
        path: PathBuf,
        selection: String,
        rows: usize,
    },
    /// Two selected rows have the same architecture.
    #[error("{}: lines {first_line} and {line} have the same architecture {arch:?} (architecture columns {columns}); add the column that tells them apart to `select`", path.display())]
    Duplicate {
        path: PathBuf,
        first_line: u64,
        line: u64,
        arch: String,
        columns: String,
    },
    /// A sequence column whose rows have different numbers of tokens.
    #[error("{}: line {line}, column `{column}`: {found} tokens, expected {expected} as on line {first_line}", path.display())]
    RaggedSequence {
        path: PathBuf,
        line: u64,
        column: String,
        found: usize,
        expected: usize,
        first_line: u64,
    },
    /// A value outside the declared `choices` of an architecture column.
    #[error("{}: line {line}, column `{column}`{}: {value:?} is not one of the declared choices [{choices}]", path.display(), position.map_or(String::new(), |p| format!(" position {p}")))]
    UnknownChoice {
        path: PathBuf,
        line: u64,
        column: String,
        /// The position within a sequence column (`None` for a plain column).
        position: Option<usize>,
        value: String,
        choices: String,
    },
    /// Any other row-level inconsistency (an empty sequence, a value containing the joiner, ...).
    #[error("{}: line {line}, column `{column}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
}
