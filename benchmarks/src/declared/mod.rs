//! Declared search spaces: a `[space]` of dimensions that nobody enumerated, searched with a
//! `command` or `slurm` evaluator, `train` (a space of one cell), or looked up in a table joined
//! by key columns ([`join`]).
//!
//! ```toml
//! name = "cnn"
//! [[dimension]]
//! name = "depth"
//! values = [2, 3, 4]                    # categorical: strings or numbers
//! [[dimension]]
//! name = "width"
//! range = [16, 64]                      # ordinal: 16, 32, 48, 64
//! step = 16
//! repeat = 2                            # positions width[0], width[1]
//! [[dimension]]
//! name = "width_extra"
//! values = [32, 64]
//! when = { depth = [3, 4] }             # active only for these values of depth
//! [[dimension]]
//! name = "lr"
//! log_range = [1e-4, 1e-1]              # 4 values: 0.0001, 0.001, 0.01, 0.1
//! levels = 4
//! [[dimension]]
//! name = "cell"
//! type = "cell"                         # edges cell[1<-0], cell[2<-0], cell[2<-1], …
//! nodes = 4
//! ops = ["none", "skip_connect", "nor_conv_3x3"]
//! ```
//!
//! - **Values.** `values` are taken as written; `range = [lo, hi]` with `step` (default [`DEFAULT_STEP`]) gives
//!   `lo, lo + step, …` up to `hi`; `log_range = [lo, hi]` (positive) gives `levels` (default
//!   [`DEFAULT_LEVELS`]) values evenly spaced in log scale, rounded to 6 significant digits.
//!   Each value is one token for the estimators. At most [`MAX_VALUES`] values a dimension.
//! - **Positions.** A dimension is one position, `repeat = N` makes N (`name[0]` …), a cell
//!   one per edge j→i, `name[i<-j]`, in NAS-Bench-201's order (at most [`MAX_NODES`] nodes,
//!   [`MAX_POSITIONS`] positions in all). A space may mix cells and other dimensions.
//! - **Conditions.** `when = { d = [v, …], … }`: active only where each named dimension (a
//!   single value: not repeated, not a cell) is active and holds one of the values. An inactive
//!   dimension has one fixed token and is left out of the architecture string.
//! - **Architecture string.** The active positions as `name=value`, separated by spaces, in
//!   declaration order (`depth=3 width[0]=16 width[1]=48 width_extra=64 lr=0.001 cell[1<-0]=…`);
//!   the same pairs are a command's `dimensions` and `values`. `index` is always `None`: the
//!   space is never enumerated.
//! - **Sampling** draws the dimensions parents first, each uniformly over its values (uniform
//!   over members where no condition makes branches of unequal size).
//! - **Mutation** changes one active position with more than one value, chosen uniformly: a
//!   categorical one or a cell edge to any other value; an ordinal one (`range`, `log_range`)
//!   to a neighbouring value, or, with probability [`JUMP_PROBABILITY`], to any other value.
//!   Dimensions that become active are then drawn, those that become inactive are cleared.
//! - **Neighbours**: every cell one step away: the adjacent values of an ordinal position,
//!   every other value of the others (a dimension that becomes active takes its first value);
//!   at most [`MAX_POSITIONS`] × [`MAX_VALUES`], never an enumeration of the space.
//! - **Isomorphism**: cells with the same function (see [`cell::canonical`]) share a key; on
//!   NAS-Bench-201's 4 nodes and 5 ops its classes are exactly the table's `iso_rep_index`.
//! - **Encodings**: one token per position (both [`crate::SeqEncoding`]s), a one-hot block per
//!   position; no path encoding.

pub mod cell;
pub mod config;
pub mod join;
pub mod space;

pub use config::{DimensionConfig, DimensionType, Scalar, SpaceConfig};
pub use join::{JoinConfig, JoinedTable, NOT_IN_TABLE};
pub use space::{DeclaredCell, DeclaredSpace, DimensionView, INACTIVE};

/// The step of a `range` without `step`.
pub const DEFAULT_STEP: f64 = 1.0;
/// The values of a `log_range` without `levels`.
pub const DEFAULT_LEVELS: u32 = 10;
/// The chance that mutating an ordinal position jumps to any other value instead of a
/// neighbouring one.
pub const JUMP_PROBABILITY: f64 = 0.1;
/// The most values of one dimension (ops of a cell).
pub const MAX_VALUES: usize = 10_000;
/// The most positions of a space (repeats and cell edges included).
pub const MAX_POSITIONS: usize = 1_000;
/// The most nodes of a cell.
pub const MAX_NODES: usize = 8;

/// A `[space]` that cannot be used: the key (`dimension "width", `when``) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SpaceError {
    /// Where: `name`, `dimension`, or a dimension by its name (and key).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl SpaceError {
    /// The 1-based line of `text` where the key this error names is written: a space file's
    /// text, or (`inline`) an experiment file's whose space is `[benchmark.space]`. `None` where
    /// the text does not show it (a key set by `--set`, say).
    pub fn line_in(&self, text: &str, inline: bool) -> Option<usize> {
        let doc = toml_edit::ImDocument::parse(text).ok()?;
        let mut table = doc.as_table();
        if inline {
            table = table
                .get("benchmark")?
                .as_table()?
                .get("space")?
                .as_table()?;
        }
        let span = match self.key.strip_prefix("dimension") {
            None | Some("") => table.key(&self.key).or(table.key("dimension"))?.span()?,
            Some(rest) => {
                let rest = rest.trim_start();
                let dims = table.get("dimension")?.as_array_of_tables()?;
                let (which, field) = match rest.split_once(", `") {
                    Some((w, f)) => (w, f.strip_suffix('`')),
                    None => (rest, None),
                };
                let dim = match which.strip_prefix('#') {
                    Some(n) => dims.get(n.parse::<usize>().ok()?.checked_sub(1)?)?,
                    None => {
                        let name = which.trim_matches('"');
                        dims.iter()
                            .find(|d| d.get("name").and_then(|v| v.as_str()) == Some(name))?
                    }
                };
                field
                    .and_then(|f| dim.key(f))
                    .or(dim.key("name"))
                    .and_then(|k| k.span())
                    .or(dim.span())?
            }
        };
        Some(text[..span.start].matches('\n').count() + 1)
    }
}

#[cfg(test)]
mod tests;
