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
    #[error("{}: {at}, column `{column}`: expected a number, found {value:?}", path.display())]
    NotNumeric {
        path: PathBuf,
        at: Row,
        column: String,
        value: String,
    },
    /// A metric cell is NaN or infinite.
    #[error("{}: {at}, column `{column}`: expected a finite number, found {value:?}", path.display())]
    NonFinite {
        path: PathBuf,
        at: Row,
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
    #[error("{}: {first} and {at} have the same architecture {arch:?} (architecture columns {columns}): add the column that tells them apart as another [[architecture]] column, or, if it is a task column (a dataset, a seed), pick one value of it with `select`", path.display())]
    Duplicate {
        path: PathBuf,
        first: Row,
        at: Row,
        arch: String,
        columns: String,
    },
    /// A sequence column whose rows have different numbers of tokens.
    #[error("{}: {at}, column `{column}`: {found} tokens, expected {expected} as in {first}", path.display())]
    RaggedSequence {
        path: PathBuf,
        at: Row,
        column: String,
        found: usize,
        expected: usize,
        first: Row,
    },
    /// A value outside the declared `choices` of an architecture column.
    #[error("{}: {at}, column `{column}`{}: {value:?} is not one of the declared choices [{choices}]", path.display(), position.map_or(String::new(), |p| format!(" position {p}")))]
    UnknownChoice {
        path: PathBuf,
        at: Row,
        column: String,
        /// The position within a sequence column (`None` for a plain column).
        position: Option<usize>,
        value: String,
        choices: String,
    },
    /// Any other row-level inconsistency (an empty sequence, a value containing the joiner, ...).
    #[error("{}: {at}, column `{column}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        at: Row,
        column: String,
        message: String,
    },
}

/// Where a row of a table is: its 0-based data row in the file (the journal's `index`, before
/// any `select`) and the file line an editor shows (1-based, the header on line 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// 0-based data row.
    pub index: u32,
    /// 1-based file line (saturating: 4 billion lines and more read as the most).
    pub line: u32,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data row {}, file line {}", self.index, self.line)
    }
}
