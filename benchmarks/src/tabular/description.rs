//! The description of a tabular benchmark: which file, which rows, which columns.
//!
//! ```toml
//! name = "gnn-cora"                        # optional; default: the data file's stem + selection
//! data = "table.csv.gz"                    # .csv or gzip (detected by magic bytes); relative paths
//!                                          # resolve against the description file's folder
//! select = { dataset = "cora" }            # optional: keep rows whose column equals the value
//! objective = { column = "val_acc", goal = "maximize" }   # or "minimize"; optional
//!                                          # label = "accuracy", unit = "%", decimals = 2
//! test = "test_acc"                        # optional, reported only
//! cost = "train_seconds"                   # optional simulated training seconds (else 0)
//! iso_key = "iso"                          # optional isomorphism key column
//! extras = ["params", "latency_ms"]        # optional numeric columns carried into results
//!
//! [[architecture]]                         # one or more categorical columns
//! column = "ops"
//! separator = " "                          # "" = one character per position; absent = whole cell
//! # choices = ["gat", "gcn", "gin", "skip"] # optional declared choices (else read from the table)
//!
//! [fidelity]                               # optional: cheaper levels (multi-fidelity search)
//! full = 200                               # the fidelity of objective, test and cost above
//! [[fidelity.levels]]                      # ascending, each below `full`
//! value = 12
//! objective = "val_acc_12ep"
//! test = "test_acc_12ep"                   # optional
//! cost_scale = 0.06                        # or cost = "<column>"
//! ```
//! The same fields may sit inline in another TOML table (an experiment's `[benchmark]`, e.g. an
//! internally tagged enum variant): the type deserialises with `deny_unknown_fields` from any
//! serde source; resolve `data` with [`TabularDescription::resolved`] against the folder of the
//! file it came from (loading validates the description again).
//!
//! Every metric cell (objective, test, cost, extras) of a selected row must be a finite number;
//! nothing is assumed of units (an accuracy may be a fraction or a percentage: values are only
//! compared). Architecture cells are read as strings (`"001"` keeps its leading zeros).

use super::error::TabularError;
use crate::evaluator::{Goal, Signal};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// A tabular benchmark: a CSV file plus what its columns mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularDescription {
    /// Name of the space (in results and saved models); default: the data file's name without
    /// `.csv`/`.gz`, followed by the selection, e.g. `synthetic_gnn[dataset=cora]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The table, `.csv` or gzip-compressed `.csv.gz`.
    pub data: PathBuf,
    /// Keep only rows whose column equals the value (all must match).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub select: BTreeMap<String, SelectValue>,
    /// The search signal.
    pub objective: Objective,
    /// A column reported as the test value (never used to choose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// A column of simulated training seconds (the cost of a query); absent: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// A column whose equal values mark the same network (isomorphic rows); absent: every row is
    /// its own class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso_key: Option<String>,
    /// Numeric columns carried into every outcome under their own names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    /// The architecture columns, each categorical (a plain column is one dimension, a sequence
    /// column one dimension per position).
    pub architecture: Vec<ArchColumn>,
    /// Cheaper fidelity levels beside the full one (absent: one fidelity, the columns above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<Fidelity>,
}

/// The fidelity levels of a table: the columns above are the full level (`full`, e.g. 200
/// epochs); each of `levels` names the columns of a cheaper one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fidelity {
    /// The fidelity of the description's own objective, test and cost columns (the highest).
    pub full: f64,
    /// The cheaper levels, in increasing fidelity, each below `full`.
    pub levels: Vec<FidelityLevel>,
}

/// One cheaper fidelity level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FidelityLevel {
    /// Its fidelity (e.g. epochs), below the next level's.
    pub value: f64,
    /// The objective column at this level (same goal and units as the full one).
    pub objective: String,
    /// The test column at this level (reported only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// A column of simulated training seconds at this level (or `cost_scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// This level's cost as a share of the full level's `cost` column (or `cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_scale: Option<f64>,
}

impl Fidelity {
    /// Every fidelity, ascending, the full one last.
    pub fn values(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.levels.iter().map(|l| l.value).collect();
        v.push(self.full);
        v
    }

    /// Checks the levels: positive, in increasing order below `full`, one cost each (a
    /// `cost_scale` needs the full level's `cost`); `has_cost`: the description names `cost`.
    pub fn check(&self, has_cost: bool) -> Result<(), String> {
        let values = self.values();
        if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(format!(
                "`fidelity`: every level's value and `full` must be a positive number, got {v}"
            ));
        }
        if let Some(w) = values.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!(
                "`fidelity.levels` must be in increasing order of `value`, each below `full` \
                 ({}), but {} comes before {}",
                self.full, w[0], w[1]
            ));
        }
        for l in &self.levels {
            let at = format!("`fidelity.levels` value = {}", l.value);
            match (&l.cost, l.cost_scale) {
                (Some(_), None) => {}
                (None, Some(s)) if !(s.is_finite() && s > 0.0) => {
                    return Err(format!(
                        "{at}: `cost_scale` must be a positive number, got {s}"
                    ))
                }
                (None, Some(_)) if !has_cost => {
                    return Err(format!(
                        "{at}: `cost_scale` scales the full level's `cost` column, which the \
                         description does not name"
                    ))
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(format!(
                        "{at}: give exactly one of `cost` (a column) and `cost_scale` (a share of \
                         the full level's cost)"
                    ))
                }
            }
            if l.objective.is_empty() || l.test.as_deref() == Some("") {
                return Err(format!("{at}: names an empty column"));
            }
        }
        Ok(())
    }
}

/// The objective column and its direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Column name.
    pub column: String,
    /// `maximize` or `minimize` (required: the table's units are not guessed).
    pub goal: Goal,
    /// What the column measures, for people (`"error"`: labels read "validation error" and
    /// "test error"; default: the column names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its unit, shown after labels (`"%"`, `"ms"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Decimals shown for every value (default: two significant digits of the spread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

/// One architecture column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchColumn {
    /// Column name.
    pub column: String,
    /// Absent: the whole cell is one choice. `""`: one character per position. Otherwise the
    /// cell is split by this string into one token per position (every row the same count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// The declared choices (of every position), in this order; a value outside them is an
    /// error. Absent: the values seen in the selected rows, sorted (numerically when all are
    /// numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
}

/// A value to select rows by: a string compares exactly with the cell, a number numerically,
/// a boolean with `true`/`false` (any case) or `1`/`0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl SelectValue {
    /// Whether a raw CSV cell equals this value.
    pub fn matches(&self, cell: &str) -> bool {
        match self {
            SelectValue::Str(s) => cell == s,
            SelectValue::Int(i) => {
                let c = cell.trim();
                c.parse::<i64>().map(|x| x == *i).unwrap_or(false)
                    || c.parse::<f64>().map(|x| x == *i as f64).unwrap_or(false)
            }
            SelectValue::Float(f) => cell.trim().parse::<f64>().is_ok_and(|x| x == *f),
            SelectValue::Bool(b) => {
                let c = cell.trim();
                if *b {
                    c.eq_ignore_ascii_case("true") || c == "1"
                } else {
                    c.eq_ignore_ascii_case("false") || c == "0"
                }
            }
        }
    }
}

impl std::fmt::Display for SelectValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectValue::Bool(b) => write!(f, "{b}"),
            SelectValue::Int(i) => write!(f, "{i}"),
            SelectValue::Float(x) => write!(f, "{x}"),
            SelectValue::Str(s) => f.write_str(s),
        }
    }
}

/// Joins the architecture columns of a multi-column space in its architecture strings.
pub const COLUMN_JOINER: &str = " | ";

impl TabularDescription {
    /// Reads a description file (TOML), resolves `data` against the file's folder and validates.
    pub fn from_file(path: &Path) -> Result<Self, TabularError> {
        let text = std::fs::read_to_string(path).map_err(|source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let d = Self::from_toml_str(&text, path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        Ok(d.resolved(base))
    }

    /// Parses and validates a description; `origin` names the text in errors. `data` stays as
    /// written (see [`TabularDescription::resolved`]).
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, TabularError> {
        let d: Self = toml::from_str(text).map_err(|e| TabularError::Description {
            path: origin.to_path_buf(),
            message: toml_message(text, &e),
        })?;
        d.validate(origin)?;
        Ok(d)
    }

    /// The description with a relative `data` path joined onto `base` (the folder of the file
    /// the description was read from).
    pub fn resolved(mut self, base: &Path) -> Self {
        if self.data.is_relative() {
            self.data = base.join(&self.data);
        }
        self
    }

    /// Checks what can be checked without the data: at least one architecture column, no
    /// column used twice in one role, declared choices non-empty and distinct, non-empty names.
    /// `origin` names the description in errors.
    pub fn validate(&self, origin: &Path) -> Result<(), TabularError> {
        let bad = |message: String| TabularError::Description {
            path: origin.to_path_buf(),
            message,
        };
        if self.data.as_os_str().is_empty() {
            return Err(bad("`data` is empty: name the CSV file".into()));
        }
        self.signal()
            .check()
            .map_err(|e| bad(format!("objective: {e}")))?;
        if self.architecture.is_empty() {
            return Err(bad(
                "no [[architecture]] column: name at least one categorical column".into(),
            ));
        }
        let mut names: Vec<(&str, &str)> = vec![(&self.objective.column, "objective.column")];
        names.extend(self.test.as_deref().map(|c| (c, "test")));
        names.extend(self.cost.as_deref().map(|c| (c, "cost")));
        names.extend(self.iso_key.as_deref().map(|c| (c, "iso_key")));
        names.extend(self.extras.iter().map(|c| (c.as_str(), "extras")));
        names.extend(self.select.keys().map(|c| (c.as_str(), "select")));
        names.extend(
            self.architecture
                .iter()
                .map(|a| (a.column.as_str(), "architecture.column")),
        );
        for (c, role) in &names {
            if c.is_empty() {
                return Err(bad(format!("`{role}` names an empty column")));
            }
        }
        // A metric that is also an architecture column would score a cell by its own name.
        for (c, role) in &names {
            if matches!(*role, "objective.column" | "test" | "cost")
                && self.architecture.iter().any(|a| a.column == *c)
            {
                return Err(bad(format!(
                    "`{role}` = `{c}` is also an [[architecture]] column: a column describes \
                     the architecture or measures it, not both"
                )));
            }
        }
        let mut seen = HashSet::new();
        for a in &self.architecture {
            if !seen.insert(a.column.as_str()) {
                return Err(bad(format!(
                    "column `{}` is listed twice in [[architecture]]",
                    a.column
                )));
            }
            if let Some(ch) = &a.choices {
                if ch.is_empty() {
                    return Err(bad(format!("column `{}`: `choices` is empty", a.column)));
                }
                let mut s = HashSet::new();
                for c in ch {
                    if !s.insert(c) {
                        return Err(bad(format!(
                            "column `{}`: choice {c:?} is declared twice",
                            a.column
                        )));
                    }
                    if a.separator.as_deref() == Some("") && c.chars().count() != 1 {
                        return Err(bad(format!(
                            "column `{}`: choice {c:?} is not one character, but `separator = \"\"` splits the cell into characters",
                            a.column
                        )));
                    }
                    if let Some(sep) = a.separator.as_deref().filter(|s| !s.is_empty()) {
                        if c.contains(sep) {
                            return Err(bad(format!(
                                "column `{}`: choice {c:?} contains the separator {sep:?}",
                                a.column
                            )));
                        }
                    }
                }
            }
        }
        if let Some(f) = &self.fidelity {
            f.check(self.cost.is_some()).map_err(bad)?;
        }
        let mut seen = HashSet::new();
        for e in &self.extras {
            if !seen.insert(e.as_str()) {
                return Err(bad(format!("column `{e}` is listed twice in `extras`")));
            }
        }
        if let Some(n) = &self.name {
            if let Some(why) = crate::fsutil::plain_name_problem(n) {
                return Err(bad(format!(
                    "`name` {:?} {why} (it names the benchmark in results, folders and models)",
                    n.chars().take(120).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    /// The search signal this table gives: its objective column, goal and display, its test
    /// column.
    pub fn signal(&self) -> Signal {
        Signal {
            metric: self.objective.column.clone(),
            goal: self.objective.goal,
            test: self.test.clone(),
            label: self.objective.label.clone(),
            unit: self.objective.unit.clone(),
            decimals: self.objective.decimals,
        }
    }

    /// The space's name: `name`, else the data file's name without `.gz`/`.csv` plus the
    /// selection (`nb201[dataset=cifar10]`).
    pub fn space_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let stem = self.data_stem();
        if self.select.is_empty() {
            stem
        } else {
            let sel: Vec<String> = self
                .select
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{stem}[{}]", sel.join(","))
        }
    }

    /// The data file's name without `.gz`/`.csv` (`gnn_bench` for `gnn_bench.csv.gz`).
    pub fn data_stem(&self) -> String {
        let file = self
            .data
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file.strip_suffix(".gz").unwrap_or(&file);
        stem.strip_suffix(".csv").unwrap_or(stem).to_string()
    }

    /// The selection as text for messages (`{dataset = "cora"}`, or `(none)`).
    pub(crate) fn selection_text(&self) -> String {
        if self.select.is_empty() {
            return "(none)".into();
        }
        let sel: Vec<String> = self
            .select
            .iter()
            .map(|(k, v)| match v {
                SelectValue::Str(s) => format!("{k} = {s:?}"),
                v => format!("{k} = {v}"),
            })
            .collect();
        format!("{{{}}}", sel.join(", "))
    }
}

/// A `toml` error on one line: `line L, column C: message`.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let msg = crate::toml_error::message(e);
    match crate::toml_error::location(text, e) {
        Some((line, col)) => format!("line {line}, column {col}: {msg}"),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TabularDescription, String> {
        TabularDescription::from_toml_str(text, Path::new("desc.toml")).map_err(|e| e.to_string())
    }

    const OK: &str = r#"
data = "t.csv"
select = { dataset = "cora", seed = 1 }
objective = { column = "acc", goal = "maximize" }
[[architecture]]
column = "ops"
separator = " "
"#;

    #[test]
    fn parses_and_names() {
        let d = parse(OK).unwrap();
        assert_eq!(d.objective.goal, Goal::Maximize);
        assert_eq!(d.space_name(), "t[dataset=cora,seed=1]");
        assert_eq!(d.selection_text(), "{dataset = \"cora\", seed = 1}");
        let r = d.resolved(Path::new("/base"));
        assert_eq!(r.data, PathBuf::from("/base/t.csv"));
        assert!(SelectValue::Int(1).matches("1.0") && !SelectValue::Int(1).matches("x"));
        assert!(SelectValue::Bool(true).matches("True") && SelectValue::Bool(false).matches("0"));
        assert!(SelectValue::Float(0.5).matches(" 0.50"));
    }

    #[test]
    fn description_errors_are_one_line_naming_file_and_field() {
        let cases = [
            (
                OK.replace("goal = \"maximize\"", "goal = \"up\""),
                "line 4, column 38: unknown variant `up`, expected `maximize` or `minimize`",
            ),
            (OK.replace("select", "selekt"), "selekt"),
            (
                OK.replace(
                    "[[architecture]]\ncolumn = \"ops\"\nseparator = \" \"\n",
                    "",
                ),
                "architecture",
            ),
            (
                format!("{OK}[[architecture]]\ncolumn = \"ops\"\n"),
                "`ops` is listed twice",
            ),
            (format!("{OK}choices = []\n"), "`ops`: `choices` is empty"),
            (format!("{OK}choices = [\"a\", \"a\"]\n"), "declared twice"),
            (
                format!("{OK}choices = [\"a b\"]\n"),
                "contains the separator",
            ),
            (
                OK.replace("separator = \" \"", "separator = \"\"\nchoices = [\"ab\"]"),
                "not one character",
            ),
            (
                format!("extras = [\"p\", \"p\"]\n{OK}"),
                "`p` is listed twice",
            ),
            (
                OK.replace(
                    "objective = { column = \"acc\", goal = \"maximize\" }",
                    "objective = { column = \"acc\" }",
                ),
                "goal",
            ),
            (
                OK.replace("column = \"ops\"", "column = \"\""),
                "empty column",
            ),
            (
                OK.replace("column = \"acc\"", "column = \"ops\""),
                "`objective.column` = `ops` is also an [[architecture]] column",
            ),
            (
                format!("cost = \"ops\"\n{OK}"),
                "`cost` = `ops` is also an [[architecture]] column",
            ),
            (
                format!("name = \"\\u001b[31mred\"\n{OK}"),
                "`name` \"\\u{1b}[31mred\" must not contain control characters",
            ),
            (
                format!("name = \"abc\\u202Egpj\"\n{OK}"),
                "`name` \"abc\\u{202e}gpj\" must not contain Unicode format characters",
            ),
            (
                format!("name = \"{}\"\n{OK}", "n".repeat(300)),
                "must be at most 100 characters",
            ),
            (
                format!("name = \"a/b\"\n{OK}"),
                "must be a plain folder name",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err();
            assert!(!e.contains('\n'), "one line: {e}");
            assert!(
                e.starts_with("desc.toml: invalid tabular description"),
                "{e}"
            );
            assert!(e.contains(want), "{want:?} in {e}");
        }
        let e = parse(&OK.replace("selekt", "x").replace("select", "selekt")).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }
}
