//! The checked declared space and its [`SearchSpace`] implementation.

use super::cell::{self, OpRole};
use super::config::{DimensionConfig, DimensionType, Scalar, SpaceConfig};
use super::{
    SpaceError, DEFAULT_LEVELS, DEFAULT_STEP, JUMP_PROBABILITY, MAX_NODES, MAX_POSITIONS,
    MAX_VALUES,
};
use crate::error::ArchParseError;
use crate::space::{SearchSpace, SeqEncoding};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The value id an inactive position holds.
pub const INACTIVE: u16 = u16::MAX;

/// A member of a declared space: one value id per position ([`INACTIVE`] where the position's
/// dimension is inactive), in the order of the architecture string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclaredCell(pub Vec<u16>);

/// How a dimension's values behave under mutation.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `values`: any other value.
    Categorical,
    /// `range`, `log_range`: a neighbouring value (or, rarely, any other).
    Ordinal,
    /// A cell: each position an edge, each value an op.
    Cell { nodes: usize, roles: Vec<OpRole> },
}

/// A checked dimension.
#[derive(Debug, Clone)]
struct Dim {
    name: String,
    kind: Kind,
    /// The values as the architecture string writes them.
    values: Vec<String>,
    /// Its positions: `first..first + len`.
    first: usize,
    len: usize,
    /// Conditions: (parent dimension, allowed value ids as a mask), all to hold.
    when: Vec<(usize, Vec<bool>)>,
}

/// A checked declared space (see [the module docs](super)).
#[derive(Debug, Clone)]
pub struct DeclaredSpace {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    dims: Vec<Dim>,
    /// Dimensions with parents after their parents.
    order: Vec<usize>,
    /// Per position: its dimension and its component name.
    positions: Vec<(usize, String)>,
    /// Per position: its first token.
    offsets: Vec<u32>,
    vocab: usize,
    size: Option<u64>,
    /// Component name to position.
    by_name: HashMap<String, usize>,
}

/// A name or value the architecture string can carry: non-empty, no whitespace, `=`, `[`, `]`.
fn check_token(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || "=[]".contains(c)) {
        return Err(format!(
            "{what} {s:?} must be non-empty, without whitespace, `=`, `[` or `]`"
        ));
    }
    Ok(())
}

/// `x` rounded to `digits` significant digits, written in the shortest form that reads back.
fn tidy(x: f64, digits: usize) -> String {
    let r: f64 = format!("{:.*e}", digits - 1, x)
        .parse()
        .expect("a formatted float parses");
    let r = if r == 0.0 { 0.0 } else { r };
    format!("{r}")
}

/// The values of one dimension and its kind, from whichever of its keys is given.
fn values_of(d: &DimensionConfig) -> Result<(Kind, Vec<String>), String> {
    let given: Vec<&str> = [
        ("values", d.values.is_some()),
        ("range", d.range.is_some()),
        ("log_range", d.log_range.is_some()),
        ("type = \"cell\"", d.kind.is_some()),
    ]
    .iter()
    .filter(|(_, g)| *g)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        return Err(format!(
            "needs exactly one of `values`, `range`, `log_range` or `type = \"cell\"`, found {}",
            if given.is_empty() {
                "none".to_string()
            } else {
                given.join(", ")
            }
        ));
    }
    let stray = |keys: &[(&str, bool)]| -> Result<(), String> {
        match keys.iter().find(|(_, g)| *g) {
            Some((k, _)) => Err(format!("`{k}` does not apply to `{}`", given[0])),
            None => Ok(()),
        }
    };
    stray(&[
        ("step", d.step.is_some() && d.range.is_none()),
        ("levels", d.levels.is_some() && d.log_range.is_none()),
        ("nodes", d.nodes.is_some() && d.kind.is_none()),
        ("ops", d.ops.is_some() && d.kind.is_none()),
        ("repeat", d.repeat.is_some() && d.kind.is_some()),
    ])?;
    let too_many = |n: usize| -> Result<(), String> {
        if n > MAX_VALUES {
            return Err(format!("has {n} values, more than {MAX_VALUES}"));
        }
        Ok(())
    };
    if let Some(v) = &d.values {
        if v.is_empty() {
            return Err("`values` is empty".into());
        }
        too_many(v.len())?;
        return Ok((Kind::Categorical, v.iter().map(Scalar::to_string).collect()));
    }
    if let Some([lo, hi]) = d.range {
        let step = d.step.unwrap_or(DEFAULT_STEP);
        if !(lo.is_finite() && hi.is_finite() && step.is_finite()) {
            return Err("`range` and `step` must be finite numbers".into());
        }
        if lo > hi {
            return Err(format!("`range` = [{lo}, {hi}] has lo > hi"));
        }
        if step <= 0.0 {
            return Err(format!("`step` = {step} must be positive"));
        }
        let n = ((hi - lo) / step * (1.0 + 1e-12)).floor() + 1.0;
        if n > MAX_VALUES as f64 {
            return Err(format!(
                "`range` / `step` gives {n} values, more than {MAX_VALUES}"
            ));
        }
        let values = (0..n as usize)
            .map(|i| tidy(lo + i as f64 * step, 12))
            .collect();
        return Ok((Kind::Ordinal, values));
    }
    if let Some([lo, hi]) = d.log_range {
        let levels = d.levels.unwrap_or(DEFAULT_LEVELS) as usize;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0) {
            return Err(format!(
                "`log_range` = [{lo}, {hi}] must be positive finite numbers"
            ));
        }
        if lo > hi {
            return Err(format!("`log_range` = [{lo}, {hi}] has lo > hi"));
        }
        if !(2..=MAX_VALUES).contains(&levels) {
            return Err(format!(
                "`levels` = {levels} must be between 2 and {MAX_VALUES}"
            ));
        }
        let (a, b) = (lo.ln(), hi.ln());
        let values = (0..levels)
            .map(|i| tidy((a + (b - a) * i as f64 / (levels - 1) as f64).exp(), 6))
            .collect();
        return Ok((Kind::Ordinal, values));
    }
    // type = "cell"
    let DimensionType::Cell = d.kind.expect("the one kind left");
    let nodes = d.nodes.ok_or("a cell needs `nodes`")? as usize;
    if !(2..=MAX_NODES).contains(&nodes) {
        return Err(format!(
            "`nodes` = {nodes} must be between 2 and {MAX_NODES}"
        ));
    }
    let ops = d.ops.clone().unwrap_or_default();
    if ops.is_empty() {
        return Err("a cell needs `ops` (at least one operation)".into());
    }
    too_many(ops.len())?;
    let roles = ops.iter().map(|o| OpRole::of(o)).collect();
    Ok((Kind::Cell { nodes, roles }, ops))
}

/// A dimension as an evaluator that reads members sees it (see [`DeclaredSpace::dimensions`]).
#[derive(Debug, Clone, Copy)]
pub struct DimensionView<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its values (a cell's ops), by value id.
    pub values: &'a [String],
    /// Its positions in a [`DeclaredCell`]: `first..first + len`.
    pub first: usize,
    /// Its number of positions (1, `repeat`, or a cell's edges).
    pub len: usize,
    /// A cell's number of nodes; `None` for the other kinds.
    pub nodes: Option<usize>,
    /// Whether it has a `when`.
    pub conditional: bool,
}

impl DeclaredSpace {
    /// The dimensions, in declaration order.
    pub fn dimensions(&self) -> impl Iterator<Item = DimensionView<'_>> {
        self.inner.dims.iter().map(|d| DimensionView {
            name: &d.name,
            values: &d.values,
            first: d.first,
            len: d.len,
            nodes: match d.kind {
                Kind::Cell { nodes, .. } => Some(nodes),
                _ => None,
            },
            conditional: !d.when.is_empty(),
        })
    }

    /// Checks a `[space]` table into a space. Each error names the dimension and key.
    pub fn new(config: &SpaceConfig) -> Result<DeclaredSpace, SpaceError> {
        let at = |i: usize, d: &DimensionConfig| -> String {
            if d.name.is_empty() {
                format!("dimension #{}", i + 1)
            } else {
                format!("dimension {:?}", d.name)
            }
        };
        let fail = |key: String, message: String| SpaceError { key, message };
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| "declared".to_string());
        check_token("`name`", &name).map_err(|m| fail("name".into(), m))?;
        if config.dimension.is_empty() {
            return Err(fail(
                "dimension".into(),
                "the space has no dimensions: add a [[dimension]] with `name` and `values`".into(),
            ));
        }
        let mut dims: Vec<Dim> = Vec::new();
        let mut positions: Vec<(usize, String)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, d) in config.dimension.iter().enumerate() {
            let key = at(i, d);
            check_token("`name`", &d.name).map_err(|m| fail(key.clone(), m))?;
            if index.insert(d.name.as_str(), i).is_some() {
                return Err(fail(key, "`name` is used by two dimensions".into()));
            }
            let (kind, values) = values_of(d).map_err(|m| fail(key.clone(), m))?;
            let mut seen = std::collections::HashSet::new();
            for v in &values {
                check_token("value", v).map_err(|m| fail(key.clone(), m))?;
                if !seen.insert(v) {
                    return Err(fail(key, format!("value {v:?} is listed twice")));
                }
            }
            let names: Vec<String> = match &kind {
                Kind::Cell { nodes, .. } => cell::edges(*nodes)
                    .into_iter()
                    .map(|(to, from)| format!("{}[{to}<-{from}]", d.name))
                    .collect(),
                _ => match d.repeat {
                    Some(0) => return Err(fail(key, "`repeat` = 0: give at least 1".into())),
                    None => vec![d.name.clone()],
                    Some(n) if n as usize > MAX_POSITIONS => {
                        return Err(fail(
                            key,
                            format!("`repeat` = {n} is more than {MAX_POSITIONS}"),
                        ))
                    }
                    Some(n) => (0..n).map(|p| format!("{}[{p}]", d.name)).collect(),
                },
            };
            let first = positions.len();
            positions.extend(names.into_iter().map(|n| (i, n)));
            if positions.len() > MAX_POSITIONS {
                return Err(fail(
                    key,
                    format!("the space has more than {MAX_POSITIONS} positions"),
                ));
            }
            dims.push(Dim {
                name: d.name.clone(),
                kind,
                values,
                first,
                len: positions.len() - first,
                when: Vec::new(),
            });
        }
        // Conditions, once every dimension is known.
        for (i, d) in config.dimension.iter().enumerate() {
            let key = format!("{}, `when`", at(i, d));
            for (parent, allowed) in d.when.iter().flatten() {
                let &p = index.get(parent.as_str()).ok_or_else(|| {
                    fail(
                        key.clone(),
                        format!("names the unknown dimension {parent:?}"),
                    )
                })?;
                let pd = &dims[p];
                if p == i {
                    return Err(fail(key, "a dimension cannot depend on itself".into()));
                }
                if pd.len != 1 || matches!(pd.kind, Kind::Cell { .. }) {
                    return Err(fail(
                        key,
                        format!(
                            "{parent:?} is a cell or repeated: a condition needs a single value"
                        ),
                    ));
                }
                if allowed.is_empty() {
                    return Err(fail(key, format!("no value of {parent:?} is listed")));
                }
                let mut mask = vec![false; pd.values.len()];
                for v in allowed {
                    let v = v.to_string();
                    let id = pd.values.iter().position(|x| *x == v).ok_or_else(|| {
                        fail(
                            key.clone(),
                            format!(
                                "{v:?} is not a value of {parent:?} ([{}])",
                                pd.values.join(", ")
                            ),
                        )
                    })?;
                    mask[id] = true;
                }
                dims[i].when.push((p, mask));
            }
        }
        let order = topological(&dims).map_err(|d| {
            fail(
                format!("dimension {:?}, `when`", dims[d].name),
                "the conditions form a cycle".into(),
            )
        })?;
        let mut offsets = Vec::with_capacity(positions.len());
        let mut vocab = 0usize;
        for (d, _) in &positions {
            offsets.push(vocab as u32);
            let dim = &dims[*d];
            vocab += dim.values.len() + usize::from(!dim.when.is_empty());
        }
        let by_name = positions
            .iter()
            .enumerate()
            .map(|(p, (_, n))| (n.clone(), p))
            .collect();
        let mut inner = Inner {
            name,
            dims,
            order,
            positions,
            offsets,
            vocab,
            size: None,
            by_name,
        };
        inner.size = count(&inner);
        if inner.size == Some(1) {
            return Err(fail(
                "dimension".into(),
                "the space has one member: give some dimension a second value".into(),
            ));
        }
        Ok(DeclaredSpace {
            inner: Arc::new(inner),
        })
    }

    /// The component names, one per position, in the architecture string's order.
    pub fn position_names(&self) -> impl Iterator<Item = &str> {
        self.inner.positions.iter().map(|(_, n)| n.as_str())
    }

    /// Whether each dimension is active in `cell` (all its conditions hold).
    pub fn active_dims(&self, cell: &DeclaredCell) -> Vec<bool> {
        let mut active = vec![true; self.inner.dims.len()];
        for &d in &self.inner.order {
            active[d] = self.inner.dims[d].when.iter().all(|(p, mask)| {
                let v = cell.0[self.inner.dims[*p].first];
                active[*p] && v != INACTIVE && mask[v as usize]
            });
        }
        active
    }

    /// Whether the cell holds a value at every active position and [`INACTIVE`] elsewhere.
    pub fn is_valid(&self, cell: &DeclaredCell) -> bool {
        if cell.0.len() != self.inner.positions.len() {
            return false;
        }
        let active = self.active_dims(cell);
        self.inner
            .positions
            .iter()
            .zip(&cell.0)
            .all(|((d, _), &v)| {
                if active[*d] {
                    (v as usize) < self.inner.dims[*d].values.len()
                } else {
                    v == INACTIVE
                }
            })
    }

    /// Makes `cell` valid after position `changed` took a new value: a dimension that became
    /// active takes a value (drawn by `pick`, given the number of values), one that became
    /// inactive takes [`INACTIVE`]. Parents come first, so a chain of conditions settles.
    fn settle(&self, cell: &mut DeclaredCell, mut pick: impl FnMut(usize) -> u16) {
        let inner = &self.inner;
        let mut active = vec![true; inner.dims.len()];
        for &d in &inner.order {
            let dim = &inner.dims[d];
            active[d] = dim.when.iter().all(|(p, mask)| {
                let v = cell.0[inner.dims[*p].first];
                active[*p] && v != INACTIVE && mask[v as usize]
            });
            for v in &mut cell.0[dim.first..dim.first + dim.len] {
                match (active[d], *v == INACTIVE) {
                    (true, true) => *v = pick(dim.values.len()),
                    (false, false) => *v = INACTIVE,
                    _ => {}
                }
            }
        }
    }

    /// The positions a mutation may change: active, with more than one value.
    fn mutable_positions(&self, cell: &DeclaredCell) -> Vec<usize> {
        let active = self.active_dims(cell);
        (0..cell.0.len())
            .filter(|&p| {
                let d = self.inner.positions[p].0;
                active[d] && self.inner.dims[d].values.len() > 1
            })
            .collect()
    }
}

/// Dimensions in an order where every parent comes before its children (Kahn), or a dimension
/// on a cycle.
fn topological(dims: &[Dim]) -> Result<Vec<usize>, usize> {
    let mut indegree: Vec<usize> = dims.iter().map(|d| d.when.len()).collect();
    let mut order = Vec::with_capacity(dims.len());
    let mut ready: Vec<usize> = (0..dims.len())
        .filter(|&d| indegree[d] == 0)
        .rev()
        .collect();
    while let Some(d) = ready.pop() {
        order.push(d);
        for (c, child) in dims.iter().enumerate().rev() {
            for (p, _) in &child.when {
                if *p == d {
                    indegree[c] -= 1;
                    if indegree[c] == 0 {
                        ready.push(c);
                    }
                }
            }
        }
    }
    if order.len() < dims.len() {
        return Err((0..dims.len())
            .find(|&d| indegree[d] > 0)
            .expect("one is left"));
    }
    Ok(order)
}

/// The number of members, where it is known: every assignment of the dimensions that others
/// depend on (active ones only) is enumerated, at most [`COUNT_LEAVES`] of them, and the
/// other active dimensions multiply in. `None` if there are more assignments or more members
/// than a `u64` holds.
fn count(inner: &Inner) -> Option<u64> {
    let parents: Vec<usize> = inner
        .order
        .iter()
        .copied()
        .filter(|&d| {
            inner
                .dims
                .iter()
                .any(|c| c.when.iter().any(|(p, _)| *p == d))
        })
        .collect();
    let mut leaves = 0usize;
    let mut values: Vec<Option<u16>> = vec![None; inner.dims.len()];
    fn active(inner: &Inner, values: &[Option<u16>], d: usize) -> bool {
        inner.dims[d]
            .when
            .iter()
            .all(|(p, mask)| values[*p].is_some_and(|v| mask[v as usize]))
    }
    fn walk(
        inner: &Inner,
        parents: &[usize],
        values: &mut Vec<Option<u16>>,
        leaves: &mut usize,
    ) -> Option<u128> {
        let Some((&d, rest)) = parents.split_first() else {
            *leaves += 1;
            if *leaves > COUNT_LEAVES {
                return None;
            }
            let mut n: u128 = 1;
            for (i, dim) in inner.dims.iter().enumerate() {
                if values[i].is_none() && active(inner, values, i) {
                    let per = (dim.values.len() as u128).checked_pow(dim.len as u32)?;
                    n = n.checked_mul(per)?;
                }
            }
            return Some(n);
        };
        if !active(inner, values, d) {
            return walk(inner, rest, values, leaves);
        }
        let mut total: u128 = 0;
        for v in 0..inner.dims[d].values.len() {
            values[d] = Some(v as u16);
            total = total.checked_add(walk(inner, rest, values, leaves)?)?;
        }
        values[d] = None;
        Some(total)
    }
    // `values[d]` is set only for enumerated parents; the others multiply in at the leaves.
    // A parent that is inactive stays `None` and is skipped at the leaves only if inactive.
    let n = walk(inner, &parents, &mut values, &mut leaves)?;
    u64::try_from(n).ok()
}

/// The most assignments of conditioning dimensions [`DeclaredSpace`] enumerates to count its
/// members.
const COUNT_LEAVES: usize = 1_000_000;

impl SearchSpace for DeclaredSpace {
    type Cell = DeclaredCell;

    fn name(&self) -> &str {
        &self.inner.name
    }

    fn size(&self) -> Option<u64> {
        self.inner.size
    }

    fn parse(&self, s: &str) -> Result<DeclaredCell, ArchParseError> {
        let inner = &self.inner;
        let mut cell = DeclaredCell(vec![INACTIVE; inner.positions.len()]);
        let mut given = vec![false; inner.positions.len()];
        for pair in s.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| ArchParseError::new(s, format!("{pair:?} is not name=value")))?;
            let &p = inner.by_name.get(k).ok_or_else(|| {
                ArchParseError::new(
                    s,
                    format!("{k:?} is not a dimension of the space {}", inner.name),
                )
            })?;
            if std::mem::replace(&mut given[p], true) {
                return Err(ArchParseError::new(s, format!("{k:?} is given twice")));
            }
            let dim = &inner.dims[inner.positions[p].0];
            let id = dim.values.iter().position(|x| x == v).ok_or_else(|| {
                ArchParseError::new(
                    s,
                    format!("{k}: {v:?} is not one of [{}]", dim.values.join(", ")),
                )
            })?;
            cell.0[p] = id as u16;
        }
        let active = self.active_dims(&cell);
        for (p, (d, name)) in inner.positions.iter().enumerate() {
            match (active[*d], given[p]) {
                (true, false) => return Err(ArchParseError::new(s, format!("{name} is missing"))),
                (false, true) => {
                    return Err(ArchParseError::new(
                        s,
                        format!("{name} is given but inactive (its `when` does not hold)"),
                    ))
                }
                _ => {}
            }
        }
        Ok(cell)
    }

    fn format(&self, cell: &DeclaredCell) -> String {
        self.components(cell)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn index(&self, _cell: &DeclaredCell) -> Option<u64> {
        None
    }

    /// The active positions, in declaration order: `name`, `name[i]` for a repeat, and
    /// `name[to<-from]` for a cell's edges; an inactive dimension is left out.
    fn components(&self, cell: &DeclaredCell) -> Vec<(String, String)> {
        let inner = &self.inner;
        inner
            .positions
            .iter()
            .zip(&cell.0)
            .filter(|(_, &v)| v != INACTIVE)
            .map(|((d, n), &v)| (n.clone(), inner.dims[*d].values[v as usize].clone()))
            .collect()
    }

    fn sample(&self, rng: &mut dyn rand::RngCore) -> DeclaredCell {
        let mut cell = DeclaredCell(vec![INACTIVE; self.inner.positions.len()]);
        self.settle(&mut cell, |n| rng.random_range(0..n) as u16);
        cell
    }

    fn mutate(&self, cell: &DeclaredCell, rng: &mut dyn rand::RngCore) -> DeclaredCell {
        let choices = self.mutable_positions(cell);
        if choices.is_empty() {
            return cell.clone();
        }
        let p = choices[rng.random_range(0..choices.len())];
        let dim = &self.inner.dims[self.inner.positions[p].0];
        let (n, old) = (dim.values.len(), cell.0[p] as usize);
        let other = |rng: &mut dyn rand::RngCore| (old + rng.random_range(1..n)) % n;
        let new = match dim.kind {
            Kind::Ordinal if !rng.random_bool(JUMP_PROBABILITY) => match (old, old + 1 < n) {
                (0, _) => 1,
                (_, false) => old - 1,
                _ if rng.random_bool(0.5) => old - 1,
                _ => old + 1,
            },
            _ => other(rng),
        };
        let mut out = cell.clone();
        out.0[p] = new as u16;
        self.settle(&mut out, |n| rng.random_range(0..n) as u16);
        out
    }

    /// One per other value of each active position: the adjacent values of an ordinal
    /// position, every other value of a categorical position or cell edge; a dimension that
    /// becomes active takes its first value.
    fn neighbours(&self, cell: &DeclaredCell) -> Vec<DeclaredCell> {
        let mut out = Vec::new();
        for p in self.mutable_positions(cell) {
            let dim = &self.inner.dims[self.inner.positions[p].0];
            let (n, old) = (dim.values.len(), cell.0[p] as usize);
            let news: Vec<usize> = match dim.kind {
                Kind::Ordinal => [old.checked_sub(1), Some(old + 1).filter(|&x| x < n)]
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => (0..n).filter(|&v| v != old).collect(),
            };
            for v in news {
                let mut c = cell.clone();
                c.0[p] = v as u16;
                self.settle(&mut c, |_| 0);
                out.push(c);
            }
        }
        out
    }

    /// SHA-256 (first 8 bytes) of the value ids of every position outside cells and of each
    /// cell's canonical expression ([`cell::canonical`]).
    fn iso_key(&self, cell: &DeclaredCell) -> u64 {
        let mut h = Sha256::new();
        for dim in &self.inner.dims {
            let ids = &cell.0[dim.first..dim.first + dim.len];
            match &dim.kind {
                Kind::Cell { nodes, roles } if ids[0] != INACTIVE => {
                    h.update(cell::canonical(*nodes, ids, &dim.values, roles).as_bytes());
                }
                _ => ids.iter().for_each(|v| h.update(v.to_le_bytes())),
            }
            h.update([0xff]);
        }
        u64::from_le_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
    }

    /// One token per position, both encodings: the position's offset plus its value id (plus
    /// one extra token, the last, for an inactive conditional position).
    fn sequence(&self, cell: &DeclaredCell, _enc: SeqEncoding) -> Vec<u32> {
        let inner = &self.inner;
        cell.0
            .iter()
            .zip(&inner.positions)
            .zip(&inner.offsets)
            .map(|((&v, (d, _)), &o)| {
                let n = inner.dims[*d].values.len() as u32;
                o + if v == INACTIVE { n } else { v as u32 }
            })
            .collect()
    }

    fn vocab_size(&self, _enc: SeqEncoding) -> usize {
        self.inner.vocab
    }

    fn one_hot(&self, cell: &DeclaredCell) -> Vec<f32> {
        let mut v = vec![0.0; self.inner.vocab];
        for t in self.sequence(cell, SeqEncoding::Compact) {
            v[t as usize] = 1.0;
        }
        v
    }

    fn path_encoding(&self, _cell: &DeclaredCell) -> Option<Vec<f32>> {
        None
    }
}
