//! The `[space]` table as written (serde): checked into a [`super::DeclaredSpace`] by
//! [`super::DeclaredSpace::new`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A declared search space: `name` and one `[[dimension]]` per choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceConfig {
    /// The space's name (journals, result folders); default `declared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The dimensions, in the order of the architecture string.
    #[serde(default)]
    pub dimension: Vec<DimensionConfig>,
}

/// A value of `values = [...]` or of a condition: a string or a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => write!(f, "{s}"),
        }
    }
}

/// `type = "cell"`: the one dimension kind not told by its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionType {
    /// A cell of `nodes` nodes whose every edge j→i (j < i) takes one of `ops`.
    Cell,
}

/// One `[[dimension]]`: `name` and exactly one of `values`, `range` (+ `step`), `log_range`
/// (+ `levels`) or `type = "cell"` (+ `nodes`, `ops`); optionally `repeat` and `when`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionConfig {
    /// The dimension's name (no whitespace, `=`, `[` or `]`).
    pub name: String,
    /// `"cell"`; absent for the other kinds.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DimensionType>,
    /// Categorical: the choices (strings or numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Scalar>>,
    /// Ordinal: `[lo, hi]`, values `lo, lo + step, …` up to `hi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// The step of `range` (default [`super::DEFAULT_STEP`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Ordinal, positive: `[lo, hi]`, `levels` values evenly spaced in log scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_range: Option<[f64; 2]>,
    /// The number of values of `log_range` (default [`super::DEFAULT_LEVELS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<u32>,
    /// N positions of the same choice, `name[0]` … `name[N-1]` (default 1: the name alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Active only where every named dimension has one of the listed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<BTreeMap<String, Vec<Scalar>>>,
    /// Cell: its number of nodes (input 0, output `nodes - 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Cell: the operations an edge takes (`none`: no edge; `skip_connect`: identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<Vec<String>>,
}

impl SpaceConfig {
    /// Reads a space file (its top level is the space: `name`, `[[dimension]]`).
    pub fn from_file(path: &Path) -> Result<SpaceConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read space file: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let loc = crate::toml_error::location(&text, &e)
                .map(|(l, c)| format!(":{l}:{c}"))
                .unwrap_or_default();
            format!(
                "{}{loc}: {}",
                path.display(),
                crate::toml_error::message(&e)
            )
        })
    }
}
