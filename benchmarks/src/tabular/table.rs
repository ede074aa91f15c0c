//! Loading a table: the selected rows as dense value codes per dimension, their metrics, and an
//! index from value vectors to rows.

use super::description::{TabularDescription, COLUMN_JOINER};
use super::error::{Row, TabularError};
use crate::evaluator::{Goal, Signal};
use flate2::read::GzDecoder;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

/// FxHash (rustc's hasher): fast for short integer keys; the keys are not attacker-chosen.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut rest = 0u64;
        for (i, b) in chunks.remainder().iter().enumerate() {
            rest |= (*b as u64) << (8 * i);
        }
        self.add(rest);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Rows by their value vector: packed into one `u64` (mixed radix) when the space's size fits,
/// else the vector itself.
#[derive(Debug)]
pub(crate) enum RowIndex {
    Packed {
        strides: Vec<u64>,
        map: FxMap<u64, u32>,
    },
    Boxed(FxMap<Box<[u32]>, u32>),
}

fn pack(strides: &[u64], codes: &[u32]) -> u64 {
    codes.iter().zip(strides).map(|(&c, &s)| c as u64 * s).sum()
}

impl RowIndex {
    fn new(dims: &[Dimension], rows: usize) -> Self {
        let mut strides = Vec::with_capacity(dims.len());
        let mut size: u64 = 1;
        for d in dims {
            strides.push(size);
            match size.checked_mul(d.values.len().max(1) as u64) {
                Some(s) => size = s,
                None => {
                    let mut m = FxMap::default();
                    m.reserve(rows);
                    return RowIndex::Boxed(m);
                }
            }
        }
        let mut map = FxMap::default();
        map.reserve(rows);
        RowIndex::Packed { strides, map }
    }

    fn get(&self, codes: &[u32]) -> Option<u32> {
        match self {
            RowIndex::Packed { strides, map } => {
                if codes.len() != strides.len() {
                    return None;
                }
                map.get(&pack(strides, codes)).copied()
            }
            RowIndex::Boxed(map) => map.get(codes).copied(),
        }
    }

    /// Inserts row `r`; returns the row already there, if any (and then inserts nothing).
    fn insert(&mut self, codes: &[u32], r: u32) -> Option<u32> {
        match self {
            RowIndex::Packed { strides, map } => match map.entry(pack(strides, codes)) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(r);
                    None
                }
            },
            RowIndex::Boxed(map) => match map.entry(codes.into()) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(r);
                    None
                }
            },
        }
    }
}

/// One architecture column of a loaded table.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Its separator (see [`super::ArchColumn::separator`]).
    pub separator: Option<String>,
    /// The dimensions it spans (one per position; one for a plain column).
    pub dims: std::ops::Range<usize>,
}

/// One categorical dimension: a plain column, or one position of a sequence column.
#[derive(Debug, Clone)]
pub struct Dimension {
    /// Index of its column in [`TabularTable::columns`].
    pub column: usize,
    /// Position within a sequence column (`None` for a plain column).
    pub position: Option<usize>,
    /// The choices, in id order.
    pub values: Vec<String>,
    lookup: FxMap<String, u32>,
}

impl Dimension {
    fn new(column: usize, position: Option<usize>, declared: Option<&[String]>) -> Self {
        let mut d = Dimension {
            column,
            position,
            values: Vec::new(),
            lookup: FxMap::default(),
        };
        for v in declared.unwrap_or(&[]) {
            d.intern(v);
        }
        d
    }

    fn intern(&mut self, v: &str) -> u32 {
        if let Some(&id) = self.lookup.get(v) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(v.to_string());
        self.lookup.insert(v.to_string(), id);
        id
    }

    /// The id of a choice.
    pub fn id(&self, v: &str) -> Option<u32> {
        self.lookup.get(v).copied()
    }
}

/// A loaded table: the selected rows of a CSV file, each a vector of value ids (one per
/// dimension), with their metrics. Shared (`Arc`) by a [`super::TabularSpace`] and its
/// [`super::TabularEvaluator`].
#[derive(Debug)]
pub struct TabularTable {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) columns: Vec<ColumnInfo>,
    pub(crate) dims: Vec<Dimension>,
    pub(crate) offsets: Vec<u32>,
    pub(crate) vocab: usize,
    /// `rows × dims` value ids, row-major.
    pub(crate) codes: Vec<u32>,
    pub(crate) file_rows: Vec<u32>,
    pub(crate) iso: Vec<u64>,
    pub(crate) iso_classes: usize,
    pub(crate) index: RowIndex,
    pub(crate) signal: Signal,
    pub(crate) objective: Vec<f64>,
    pub(crate) test: Option<Vec<f64>>,
    pub(crate) cost: Option<Vec<f64>>,
    pub(crate) extras: Vec<(String, Vec<f64>)>,
    /// The cheaper fidelity levels, ascending (empty: the table has one fidelity).
    pub(crate) levels: Vec<Level>,
    /// The fidelity of `objective`, `test` and `cost` (with levels).
    pub(crate) full: Option<f64>,
}

/// One cheaper fidelity level's values by row.
#[derive(Debug)]
pub(crate) struct Level {
    pub(crate) value: f64,
    pub(crate) objective: Vec<f64>,
    pub(crate) test: Option<Vec<f64>>,
    pub(crate) cost: Vec<f64>,
}

/// How a column's cell splits into tokens.
#[derive(Clone, Copy)]
enum Split<'a> {
    Whole,
    Chars,
    By(&'a str),
}

/// The byte ranges of a cell's tokens.
fn tokens(cell: &str, split: Split<'_>, out: &mut Vec<(usize, usize)>) {
    out.clear();
    match split {
        Split::Whole => out.push((0, cell.len())),
        Split::Chars => out.extend(cell.char_indices().map(|(i, c)| (i, i + c.len_utf8()))),
        Split::By(s) => {
            let mut start = 0;
            for (i, _) in cell.match_indices(s) {
                out.push((start, i));
                start = i + s.len();
            }
            out.push((start, cell.len()));
        }
    }
}

/// Reads a file, decompressing it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, TabularError> {
    let bytes = std::fs::read(path).map_err(|source| TabularError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| TabularError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("gzip stream is damaged ({e})"),
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Sorts undeclared choices (numerically when all parse as numbers) and returns old id → new id.
fn sort_values(values: &mut [String]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    let nums: Option<Vec<f64>> = values
        .iter()
        .map(|v| v.trim().parse::<f64>().ok())
        .collect();
    match nums {
        Some(n) if n.iter().all(|x| x.is_finite()) => order.sort_by(|&a, &b| {
            n[a].total_cmp(&n[b])
                .then_with(|| values[a].cmp(&values[b]))
        }),
        _ => order.sort_by(|&a, &b| values[a].cmp(&values[b])),
    }
    let mut remap = vec![0u32; values.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new as u32;
    }
    let sorted: Vec<String> = order.iter().map(|&i| values[i].clone()).collect();
    values.clone_from_slice(&sorted);
    remap
}

impl TabularTable {
    /// Loads the rows `desc` selects from `desc.data` (relative paths resolve against the
    /// current directory: call [`TabularDescription::resolved`] first).
    pub fn load(desc: &TabularDescription) -> Result<TabularTable, TabularError> {
        let path = desc.data.clone();
        let bytes = read_maybe_gz(&path)?;
        Self::from_csv_bytes(desc, &bytes, &path)
    }

    /// Loads from CSV bytes already in memory; `path` names them in errors.
    pub fn from_csv_bytes(
        desc: &TabularDescription,
        csv: &[u8],
        path: &Path,
    ) -> Result<TabularTable, TabularError> {
        // A description built in code or deserialised inline has not been checked yet.
        desc.validate(path)?;
        let corrupt = |reason: String| TabularError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let mut rdr = csv::ReaderBuilder::new().from_reader(csv);
        let headers = rdr
            .byte_headers()
            .map_err(|e| corrupt(format!("unreadable header ({e})")))?
            .clone();
        let headers: Vec<String> = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let col = |name: &str, role: &'static str| -> Result<usize, TabularError> {
            let mut at = headers.iter().enumerate().filter(|(_, h)| *h == name);
            let (first, _) = at.next().ok_or_else(|| TabularError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                role,
                available: headers.join(", "),
            })?;
            match at.next() {
                Some((second, _)) => Err(TabularError::AmbiguousColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    role,
                    first: first + 1,
                    second: second + 1,
                }),
                None => Ok(first),
            }
        };
        let select: Vec<(usize, &super::SelectValue)> = desc
            .select
            .iter()
            .map(|(k, v)| Ok((col(k, "select")?, v)))
            .collect::<Result<_, TabularError>>()?;
        let arch_cols: Vec<usize> = desc
            .architecture
            .iter()
            .map(|a| col(&a.column, "architecture"))
            .collect::<Result<_, _>>()?;
        let c_obj = col(&desc.objective.column, "objective")?;
        let c_test = desc.test.as_deref().map(|c| col(c, "test")).transpose()?;
        let c_cost = desc.cost.as_deref().map(|c| col(c, "cost")).transpose()?;
        let c_iso = desc
            .iso_key
            .as_deref()
            .map(|c| col(c, "iso_key"))
            .transpose()?;
        let c_extras: Vec<usize> = desc
            .extras
            .iter()
            .map(|c| col(c, "extras"))
            .collect::<Result<_, _>>()?;
        let level_specs = desc.fidelity.as_ref().map_or(&[][..], |f| &f.levels[..]);
        // Per level: objective, test and cost columns.
        type LevelCols = (usize, Option<usize>, Option<usize>);
        let c_levels: Vec<LevelCols> = level_specs
            .iter()
            .map(|l| {
                Ok((
                    col(&l.objective, "fidelity.levels objective")?,
                    l.test
                        .as_deref()
                        .map(|c| col(c, "fidelity.levels test"))
                        .transpose()?,
                    l.cost
                        .as_deref()
                        .map(|c| col(c, "fidelity.levels cost"))
                        .transpose()?,
                ))
            })
            .collect::<Result<_, TabularError>>()?;
        let mut levels: Vec<Level> = level_specs
            .iter()
            .zip(&c_levels)
            .map(|(l, c)| Level {
                value: l.value,
                objective: Vec::new(),
                test: c.1.map(|_| Vec::new()),
                cost: Vec::new(),
            })
            .collect();

        let splits: Vec<Split> = desc
            .architecture
            .iter()
            .map(|a| match a.separator.as_deref() {
                None => Split::Whole,
                Some("") => Split::Chars,
                Some(s) => Split::By(s),
            })
            .collect();
        let multi = desc.architecture.len() > 1;
        // Dimensions of each column, created on the first selected row.
        let mut columns: Vec<ColumnInfo> = Vec::new();
        let mut dims: Vec<Dimension> = Vec::new();
        let mut first_row = Row { index: 0, line: 0 };

        let mut codes: Vec<u32> = Vec::new();
        let mut file_rows: Vec<u32> = Vec::new();
        let mut lines: Vec<Row> = Vec::new();
        let mut objective = Vec::new();
        let mut test = c_test.map(|_| Vec::new());
        let mut cost = c_cost.map(|_| Vec::new());
        let mut extras: Vec<Vec<f64>> = vec![Vec::new(); c_extras.len()];
        let mut iso_ids: FxMap<String, u64> = FxMap::default();
        let mut iso = Vec::new();

        let mut rec = csv::ByteRecord::new();
        let mut toks: Vec<(usize, usize)> = Vec::new();
        let mut file_row = 0usize;
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(corrupt(e.to_string())),
            }
            let line = rec.position().map_or(0, |p| p.line());
            let this_row = file_row;
            file_row += 1;
            let at = Row {
                index: this_row as u32,
                line: u32::try_from(line).unwrap_or(u32::MAX),
            };
            let field = |i: usize| -> Result<&str, TabularError> {
                std::str::from_utf8(rec.get(i).unwrap_or(b""))
                    .map_err(|_| corrupt(format!("{at}, column `{}`: not valid UTF-8", headers[i])))
            };
            let mut keep = true;
            for (c, v) in &select {
                if !v.matches(field(*c)?) {
                    keep = false;
                    break;
                }
            }
            if !keep {
                continue;
            }
            let num = |i: usize| -> Result<f64, TabularError> {
                let s = field(i)?;
                match s.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    Ok(_) => Err(TabularError::NonFinite {
                        path: path.to_path_buf(),
                        at,
                        column: headers[i].clone(),
                        value: s.to_string(),
                    }),
                    Err(_) => Err(TabularError::NotNumeric {
                        path: path.to_path_buf(),
                        at,
                        column: headers[i].clone(),
                        value: s.chars().take(80).collect(),
                    }),
                }
            };
            let invalid = |c: usize, message: String| TabularError::Invalid {
                path: path.to_path_buf(),
                at,
                column: headers[c].clone(),
                message,
            };
            let first = columns.is_empty();
            for (k, (&c, a)) in arch_cols.iter().zip(&desc.architecture).enumerate() {
                let cell = field(c)?;
                if multi && cell.contains(COLUMN_JOINER) {
                    return Err(invalid(
                        c,
                        format!("{cell:?} contains {COLUMN_JOINER:?}, which joins the architecture columns"),
                    ));
                }
                // A cell ending with the start of the joiner (`"x |"`) would run into the joiner
                // after it: its architecture string would split in the wrong place.
                let j = COLUMN_JOINER;
                if multi
                    && k + 1 < arch_cols.len()
                    && (1..j.len()).any(|l| cell.ends_with(&j[..l]) && j.starts_with(&j[l..]))
                {
                    return Err(invalid(
                        c,
                        format!(
                            "{cell:?} ends as {j:?}, which joins the architecture columns, \
                             begins: the architecture string would split in the wrong place"
                        ),
                    ));
                }
                tokens(cell, splits[k], &mut toks);
                if first {
                    if toks.is_empty() {
                        return Err(invalid(c, "the sequence is empty".into()));
                    }
                    let start = dims.len();
                    let seq = a.separator.is_some();
                    for p in 0..toks.len() {
                        dims.push(Dimension::new(k, seq.then_some(p), a.choices.as_deref()));
                    }
                    columns.push(ColumnInfo {
                        name: a.column.clone(),
                        separator: a.separator.clone(),
                        dims: start..dims.len(),
                    });
                    first_row = at;
                }
                let range = columns[k].dims.clone();
                if toks.len() != range.len() {
                    return Err(TabularError::RaggedSequence {
                        path: path.to_path_buf(),
                        at,
                        column: a.column.clone(),
                        found: toks.len(),
                        expected: range.len(),
                        first: first_row,
                    });
                }
                for (p, &(t0, t1)) in toks.iter().enumerate() {
                    let t = &cell[t0..t1];
                    let d = &mut dims[range.start + p];
                    let id = match &a.choices {
                        Some(ch) => d.id(t).ok_or_else(|| TabularError::UnknownChoice {
                            path: path.to_path_buf(),
                            at,
                            column: a.column.clone(),
                            position: d.position,
                            value: t.to_string(),
                            choices: ch.join(", "),
                        })?,
                        None => {
                            if t.is_empty() && a.separator.is_some() {
                                return Err(invalid(
                                    c,
                                    format!("empty token at position {p} (check the separator)"),
                                ));
                            }
                            d.intern(t)
                        }
                    };
                    codes.push(id);
                }
            }
            objective.push(num(c_obj)?);
            if let (Some(t), Some(c)) = (test.as_mut(), c_test) {
                t.push(num(c)?);
            }
            if let (Some(t), Some(c)) = (cost.as_mut(), c_cost) {
                let seconds = num(c)?;
                if seconds < 0.0 {
                    return Err(invalid(
                        c,
                        format!(
                            "the `cost` (simulated training seconds) must be >= 0, found {seconds}"
                        ),
                    ));
                }
                t.push(seconds);
            }
            for (e, &c) in extras.iter_mut().zip(&c_extras) {
                e.push(num(c)?);
            }
            for ((level, spec), &(c_o, c_t, c_c)) in
                levels.iter_mut().zip(level_specs).zip(&c_levels)
            {
                level.objective.push(num(c_o)?);
                if let (Some(t), Some(c)) = (level.test.as_mut(), c_t) {
                    t.push(num(c)?);
                }
                let seconds = match (c_c, spec.cost_scale, cost.as_ref()) {
                    (Some(c), _, _) => num(c)?,
                    (None, Some(scale), Some(full)) => scale * full[full.len() - 1],
                    _ => 0.0,
                };
                if seconds < 0.0 {
                    return Err(invalid(
                        c_c.unwrap_or(c_obj),
                        format!("a fidelity level's cost must be >= 0, found {seconds}"),
                    ));
                }
                level.cost.push(seconds);
            }
            iso.push(match c_iso {
                Some(c) => {
                    let k = field(c)?;
                    match iso_ids.get(k) {
                        Some(&id) => id,
                        None => {
                            let id = iso_ids.len() as u64;
                            iso_ids.insert(k.to_string(), id);
                            id
                        }
                    }
                }
                None => objective.len() as u64 - 1,
            });
            file_rows.push(this_row as u32);
            lines.push(at);
        }
        let n = objective.len();
        if n == 0 {
            return Err(TabularError::EmptySelection {
                path: path.to_path_buf(),
                selection: desc.selection_text(),
                rows: file_row,
            });
        }
        let nd = dims.len();
        // Undeclared choices: sorted, so that the order does not depend on the rows' order.
        for (d, dim) in dims.iter_mut().enumerate() {
            if desc.architecture[dim.column].choices.is_some() {
                continue;
            }
            let remap = sort_values(&mut dim.values);
            dim.lookup = dim
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32))
                .collect();
            for r in 0..n {
                let c = &mut codes[r * nd + d];
                *c = remap[*c as usize];
            }
        }
        let mut offsets = Vec::with_capacity(nd);
        let mut vocab = 0usize;
        for d in &dims {
            offsets.push(vocab as u32);
            vocab += d.values.len();
        }
        let mut index = RowIndex::new(&dims, n);
        let mut table = TabularTable {
            name: desc.space_name(),
            path: path.to_path_buf(),
            columns,
            dims,
            offsets,
            vocab,
            codes,
            file_rows,
            iso,
            iso_classes: if c_iso.is_some() { iso_ids.len() } else { n },
            index: RowIndex::Boxed(FxMap::default()),
            signal: desc.signal(),
            objective,
            test,
            cost,
            extras: desc.extras.iter().cloned().zip(extras).collect(),
            levels,
            full: desc.fidelity.as_ref().map(|f| f.full),
        };
        for r in 0..n {
            if let Some(prev) = index.insert(table.row_codes(r), r as u32) {
                return Err(TabularError::Duplicate {
                    path: path.to_path_buf(),
                    first: lines[prev as usize],
                    at: lines[r],
                    arch: table.format_row(r),
                    columns: desc
                        .architecture
                        .iter()
                        .map(|a| format!("`{}`", a.column))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        table.index = index;
        Ok(table)
    }

    /// The value ids of row `r`, one per dimension.
    pub fn row_codes(&self, r: usize) -> &[u32] {
        let nd = self.dims.len();
        &self.codes[r * nd..(r + 1) * nd]
    }

    /// The row with these value ids, if the table has it.
    pub fn find(&self, codes: &[u32]) -> Option<usize> {
        self.index.get(codes).map(|r| r as usize)
    }

    /// Calls `f` with every row that differs from row `r` in exactly one dimension, ordered by
    /// dimension, then by value id.
    pub fn for_each_neighbour(&self, r: usize, mut f: impl FnMut(usize)) {
        let codes = self.row_codes(r);
        match &self.index {
            RowIndex::Packed { strides, map } => {
                let key = pack(strides, codes);
                for (d, (&orig, &stride)) in codes.iter().zip(strides).enumerate() {
                    let base = key - orig as u64 * stride;
                    for v in 0..self.dims[d].values.len() as u64 {
                        if v != orig as u64 {
                            if let Some(&n) = map.get(&(base + v * stride)) {
                                f(n as usize);
                            }
                        }
                    }
                }
            }
            RowIndex::Boxed(map) => {
                let mut key: Vec<u32> = codes.to_vec();
                for d in 0..key.len() {
                    let orig = key[d];
                    for v in 0..self.dims[d].values.len() as u32 {
                        if v != orig {
                            key[d] = v;
                            if let Some(&n) = map.get(&key[..]) {
                                f(n as usize);
                            }
                        }
                    }
                    key[d] = orig;
                }
            }
        }
    }

    /// The architecture string of row `r`: each column's raw cell (tokens joined by the
    /// separator), the columns joined by [`COLUMN_JOINER`].
    pub fn format_row(&self, r: usize) -> String {
        let codes = self.row_codes(r);
        let mut out = String::new();
        for (k, c) in self.columns.iter().enumerate() {
            if k > 0 {
                out.push_str(COLUMN_JOINER);
            }
            for (p, d) in c.dims.clone().enumerate() {
                if p > 0 {
                    out.push_str(c.separator.as_deref().unwrap_or(""));
                }
                out.push_str(&self.dims[d].values[codes[d] as usize]);
            }
        }
        out
    }

    /// Name of the space (see [`TabularDescription::space_name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of selected rows (architectures).
    pub fn len(&self) -> usize {
        self.objective.len()
    }

    /// Whether no row is selected (never true for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.objective.is_empty()
    }

    /// The architecture columns.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// The dimensions, in order (columns in description order, positions in order).
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// Number of distinct isomorphism keys (the number of rows where there is no key column).
    pub fn iso_classes(&self) -> usize {
        self.iso_classes
    }

    /// Maximise or minimise the objective.
    pub fn goal(&self) -> Goal {
        self.signal.goal
    }

    /// The objective column's name.
    pub fn objective_name(&self) -> &str {
        &self.signal.metric
    }

    /// The search signal: the objective column, its goal and display, the test column.
    pub fn signal(&self) -> &Signal {
        &self.signal
    }

    /// Objective values by row.
    pub fn objective(&self) -> &[f64] {
        &self.objective
    }

    /// Test values by row, if the description names a test column.
    pub fn test(&self) -> Option<&[f64]> {
        self.test.as_deref()
    }

    /// The fidelities the table holds, ascending, the full one last (empty: one fidelity).
    pub fn fidelities(&self) -> Vec<f64> {
        match self.full {
            Some(full) => self.levels.iter().map(|l| l.value).chain([full]).collect(),
            None => Vec::new(),
        }
    }

    /// Objective, test and cost of row `r` at fidelity `fidelity` (`None` where the table has
    /// no such level; the full level's are [`TabularTable::objective`] and its neighbours).
    pub fn at_level(&self, fidelity: f64, r: usize) -> Option<(f64, Option<f64>, f64)> {
        if self.full == Some(fidelity) {
            return Some((
                self.objective[r],
                self.test.as_ref().map(|v| v[r]),
                self.cost.as_ref().map_or(0.0, |v| v[r]),
            ));
        }
        let l = self.levels.iter().find(|l| l.value == fidelity)?;
        Some((l.objective[r], l.test.as_ref().map(|v| v[r]), l.cost[r]))
    }

    /// Cost values by row, if the description names a cost column.
    pub fn cost(&self) -> Option<&[f64]> {
        self.cost.as_deref()
    }

    /// Extra columns by name, values by row.
    pub fn extras(&self) -> &[(String, Vec<f64>)] {
        &self.extras
    }

    /// The 0-based data row in the file (before selection) of selected row `r`.
    pub fn file_row(&self, r: usize) -> usize {
        self.file_rows[r] as usize
    }

    /// The best row under the goal (the first of equals).
    pub fn best_row(&self) -> usize {
        let mut best = 0;
        for (r, &v) in self.objective.iter().enumerate() {
            if self.goal().better(v, self.objective[best]) {
                best = r;
            }
        }
        best
    }
}
