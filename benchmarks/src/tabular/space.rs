//! The search space of a table: the architectures that exist are its rows.

use super::description::COLUMN_JOINER;
use super::table::TabularTable;
use crate::error::ArchParseError;
use crate::space::{SearchSpace, SeqEncoding};
use rand::Rng;
use std::sync::Arc;

/// An architecture of a tabular space: the dense number of its row among the selected rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TabCell(pub u32);

impl TabCell {
    /// The selected row's number (0-based, in file order among the selected rows).
    pub fn row(self) -> usize {
        self.0 as usize
    }
}

/// The space of a table. Each plain architecture column is one categorical dimension, each
/// position of a sequence column another.
///
/// - `sample`: uniform over the rows.
/// - `neighbours`: every row that differs from the cell in exactly one dimension, ordered by
///   dimension then by value id.
/// - `mutate`: one of the neighbours, uniformly; a cell without neighbours (possible in a sparse
///   table) is returned unchanged.
/// - `index`: the row's 0-based data-row number in the file (before selection).
/// - `components`: a plain column's name, or `column[position]` for a sequence position.
/// - `format`/`parse`: the architecture columns' raw cells, joined by `" | "` where there are
///   several.
/// - `iso_key`: the interned `iso_key` column, or the row number.
/// - `sequence` (both encodings): one token per dimension, `offset(dimension) + value id`;
///   `vocab_size` is the number of (dimension, value) pairs; `one_hot` concatenates one one-hot
///   block per dimension (length `vocab_size`); no path encoding.
#[derive(Debug, Clone)]
pub struct TabularSpace {
    table: Arc<TabularTable>,
}

impl TabularSpace {
    /// The space of a loaded table.
    pub fn new(table: Arc<TabularTable>) -> Self {
        Self { table }
    }

    /// The table behind the space.
    pub fn table(&self) -> &Arc<TabularTable> {
        &self.table
    }

    /// Every cell, in row order.
    pub fn all_cells(&self) -> impl Iterator<Item = TabCell> {
        (0..self.table.len() as u32).map(TabCell)
    }

    /// The value ids of a cell, one per dimension.
    pub fn codes(&self, cell: &TabCell) -> &[u32] {
        self.table.row_codes(cell.row())
    }

    /// The name of dimension `d` (as [`SearchSpace::components`] gives it): a plain column's
    /// name, or `column[position]` for a position of a sequence column.
    pub fn dimension_name(&self, d: usize) -> String {
        let dim = &self.table.dims[d];
        let column = &self.table.columns[dim.column].name;
        match dim.position {
            None => column.clone(),
            Some(p) => format!("{column}[{p}]"),
        }
    }

    /// The cell of one value per dimension, in the order of [`SearchSpace::components`]: what
    /// [`SearchSpace::parse`] looks up once it has split the string into columns and tokens.
    /// An error names the first value (its 0-based position and dimension) that is not one of
    /// its dimension's choices, or says the row is not in the table.
    pub fn cell_of_values(&self, values: &[&str]) -> Result<TabCell, String> {
        let dims = &self.table.dims;
        if values.len() != dims.len() {
            return Err(format!(
                "{} values, expected {} (one per dimension: {})",
                values.len(),
                dims.len(),
                (0..dims.len())
                    .map(|d| self.dimension_name(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        self.row_of(values).map_err(|miss| match miss {
            Miss::Value(d) => format!(
                "value {d} ({}): {:?} is not one of [{}]",
                self.dimension_name(d),
                values[d],
                dims[d].values.join(", ")
            ),
            Miss::Row => self.not_in_table(),
        })
    }

    /// The row of one token per dimension (as many as there are dimensions).
    fn row_of(&self, toks: &[&str]) -> Result<TabCell, Miss> {
        let t = &self.table;
        let key = t
            .dims
            .iter()
            .zip(toks)
            .enumerate()
            .map(|(d, (dim, tok))| dim.id(tok).ok_or(Miss::Value(d)))
            .collect::<Result<Vec<u32>, Miss>>()?;
        t.find(&key).map(|r| TabCell(r as u32)).ok_or(Miss::Row)
    }

    fn not_in_table(&self) -> String {
        format!(
            "not in the table {} ({} architectures)",
            self.table.path.display(),
            self.table.len()
        )
    }

    /// Calls `f` for each neighbour in the fixed order (no allocation of the result).
    pub fn for_each_neighbour(&self, cell: &TabCell, mut f: impl FnMut(TabCell)) {
        self.table
            .for_each_neighbour(cell.row(), |r| f(TabCell(r as u32)));
    }
}

/// Why tokens name no row: the value of a dimension is not one of its choices, or no row has
/// these values.
enum Miss {
    Value(usize),
    Row,
}

impl SearchSpace for TabularSpace {
    type Cell = TabCell;

    fn name(&self) -> &str {
        self.table.name()
    }

    fn size(&self) -> Option<u64> {
        Some(self.table.len() as u64)
    }

    fn parse(&self, s: &str) -> Result<TabCell, ArchParseError> {
        let t = &self.table;
        let parts: Vec<&str> = if t.columns.len() == 1 {
            vec![s]
        } else {
            s.split(COLUMN_JOINER).collect()
        };
        if parts.len() != t.columns.len() {
            return Err(ArchParseError::new(
                s,
                format!(
                    "expected {} columns ({}) joined by {COLUMN_JOINER:?}, found {}",
                    t.columns.len(),
                    t.columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    parts.len()
                ),
            ));
        }
        let mut toks: Vec<&str> = Vec::with_capacity(t.dims.len());
        for (c, part) in t.columns.iter().zip(parts) {
            let before = toks.len();
            match c.separator.as_deref() {
                None => toks.push(part),
                Some("") => toks.extend(
                    part.char_indices()
                        .map(|(i, ch)| &part[i..i + ch.len_utf8()]),
                ),
                Some(sep) => toks.extend(part.split(sep)),
            }
            if toks.len() - before != c.dims.len() {
                return Err(ArchParseError::new(
                    s,
                    format!(
                        "column `{}`: {} tokens, expected {}",
                        c.name,
                        toks.len() - before,
                        c.dims.len()
                    ),
                ));
            }
        }
        self.row_of(&toks).map_err(|miss| {
            let message = match miss {
                Miss::Value(d) => {
                    let dim = &t.dims[d];
                    let pos = dim
                        .position
                        .map_or(String::new(), |p| format!(" position {p}"));
                    format!(
                        "column `{}`{pos}: {:?} is not one of [{}]",
                        t.columns[dim.column].name,
                        toks[d],
                        dim.values.join(", ")
                    )
                }
                Miss::Row => self.not_in_table(),
            };
            ArchParseError::new(s, message)
        })
    }

    fn format(&self, cell: &TabCell) -> String {
        self.table.format_row(cell.row())
    }

    fn index(&self, cell: &TabCell) -> Option<u64> {
        Some(self.table.file_row(cell.row()) as u64)
    }

    /// One entry per dimension: a plain column's name, or `column[position]` (0-based) for a
    /// position of a sequence column.
    fn components(&self, cell: &TabCell) -> Vec<(String, String)> {
        let codes = self.codes(cell);
        self.table
            .dims
            .iter()
            .zip(codes)
            .enumerate()
            .map(|(i, (d, &v))| (self.dimension_name(i), d.values[v as usize].clone()))
            .collect()
    }

    fn sample(&self, rng: &mut dyn rand::RngCore) -> TabCell {
        TabCell(rng.random_range(0..self.table.len() as u32))
    }

    fn mutate(&self, cell: &TabCell, rng: &mut dyn rand::RngCore) -> TabCell {
        let n = self.neighbours(cell);
        if n.is_empty() {
            *cell
        } else {
            n[rng.random_range(0..n.len())]
        }
    }

    fn neighbours(&self, cell: &TabCell) -> Vec<TabCell> {
        let mut out = Vec::new();
        self.for_each_neighbour(cell, |c| out.push(c));
        out
    }

    fn iso_key(&self, cell: &TabCell) -> u64 {
        self.table.iso[cell.row()]
    }

    fn sequence(&self, cell: &TabCell, _enc: SeqEncoding) -> Vec<u32> {
        self.codes(cell)
            .iter()
            .zip(&self.table.offsets)
            .map(|(c, o)| o + c)
            .collect()
    }

    fn vocab_size(&self, _enc: SeqEncoding) -> usize {
        self.table.vocab
    }

    fn one_hot(&self, cell: &TabCell) -> Vec<f32> {
        let mut v = vec![0.0; self.table.vocab];
        for t in self.sequence(cell, SeqEncoding::Compact) {
            v[t as usize] = 1.0;
        }
        v
    }

    fn path_encoding(&self, _cell: &TabCell) -> Option<Vec<f32>> {
        None
    }
}
