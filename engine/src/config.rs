//! Experiment files (TOML): typed, validated, with defaults filled, and errors that name the
//! file, line and column.

use crate::evaluators::{EvaluatorConfig, EvaluatorKind};
use crate::pipeline::filter::FilterConfig;
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::nb201::Nb201Space;
use emprox_benchmarks::toml_error;
use emprox_estimators::config::EstimatorConfig;
use emprox_strategies::StrategyConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A configuration error, as one readable line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The most runs (`seeds`) of one experiment.
pub const MAX_SEEDS: u64 = 100_000;

/// The largest master seed (`--seed`): the largest integer a TOML file holds, since the
/// resolved configuration records it.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// `--seed`'s value, if it is at most [`MAX_SEED`].
pub fn check_seed_flag(seed: u64) -> Result<u64, ConfigError> {
    if seed > MAX_SEED {
        return Err(ConfigError(format!(
            "--seed {seed} is above the largest seed, {MAX_SEED} (2^63 - 1, the largest integer \
             a TOML file holds)"
        )));
    }
    Ok(seed)
}

fn default_seeds() -> u64 {
    1
}

/// A search experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name of the experiment (default output folder `runs/<name>`).
    pub name: String,
    /// Master seed: every run's seed is derived from it.
    #[serde(default)]
    pub seed: u64,
    /// Number of independent runs (default 1).
    #[serde(default = "default_seeds")]
    pub seeds: u64,
    /// Several objectives (`[{ metric, goal, range }]`; the first is the search signal):
    /// `pareto.csv` and a hypervolume column per run. Empty or one: a single-objective search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<crate::objectives::ObjectiveSpec>,
    /// The benchmark and dataset.
    pub benchmark: BenchmarkConfig,
    /// The strategy.
    pub strategy: StrategyConfig,
    /// Stopping criteria (OR-ed).
    #[serde(default)]
    pub budget: Budget,
    /// Search-loop settings.
    #[serde(default)]
    pub search: SearchSettings,
    /// The estimator of the filter (with `[filter]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<EstimatorConfig>,
    /// The estimator filter: only the best-scored candidates are evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterConfig>,
    /// A multi-fidelity scheduler: which fidelity each trial runs at, which cells are promoted
    /// (absent: every trial at full fidelity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<crate::pipeline::scheduler::SchedulerConfig>,
    /// How cells are evaluated (default: a lookup in the `[benchmark]` table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<EvaluatorConfig>,
}

/// Stopping criteria: the run stops when any one is reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Number of queries (evaluations of cells not yet evaluated in the run; with a
    /// `[scheduler]`, every trial, promotions included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queries: Option<u64>,
    /// Simulated training seconds (the benchmark's training time of each queried cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sim_seconds: Option<f64>,
    /// Wall-clock seconds of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wall_seconds: Option<f64>,
}

/// Settings of the search loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Count isomorphic cells as the same cell: a proposal isomorphic to an evaluated cell is
    /// answered from the journal at no cost, and the filter drops isomorphs of evaluated cells
    /// and of other pool members (default false: only identical cells).
    #[serde(default)]
    pub dedup_isomorphic: bool,
    /// Stop when the strategy proposes only already-evaluated cells this many times in a row.
    #[serde(default = "default_max_repeats")]
    pub max_repeated_proposals: u64,
    /// Stop a run after this many failed evaluations in a row (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<u64>,
}

fn default_max_repeats() -> u64 {
    10_000
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            dedup_isomorphic: false,
            max_repeated_proposals: default_max_repeats(),
            max_failures: None,
        }
    }
}

impl Experiment {
    /// An inline `[benchmark.space]` that cannot be used: its error with the line of `path`
    /// where the key it names is written.
    fn check_inline_space(&self, path: &Path) -> Result<(), ConfigError> {
        let b = &self.benchmark;
        let (emprox_benchmarks::config::BenchmarkKind::Declared, None, Some(space)) =
            (b.kind, &b.description, &b.space)
        else {
            return Ok(());
        };
        match emprox_benchmarks::declared::DeclaredSpace::new(space) {
            Ok(_) => Ok(()),
            Err(e) => {
                let line = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|t| e.line_in(&t, true))
                    .map(|l| format!(":{l}"))
                    .unwrap_or_default();
                Err(ConfigError(format!(
                    "{}{line}: {} {e}",
                    path.display(),
                    b.space_origin()
                )))
            }
        }
    }

    /// Reads, overrides (`KEY=VALUE` pairs) and validates an experiment file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Experiment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "{}: cannot read experiment file: {e}",
                path.display()
            ))
        })?;
        Self::load_text(&text, path, overrides)
    }

    /// [`Experiment::load`] of the text of a file at `path` (relative paths in it are read
    /// from `path`'s folder).
    pub fn load_text(
        text: &str,
        path: &Path,
        overrides: &[String],
    ) -> Result<Experiment, ConfigError> {
        let exp: Experiment = parse_toml(text, path)?;
        let mut table: toml::Table = toml::from_str(text).expect("parsed above");
        let resolved_paths = resolve_paths(&mut table, &base_dir(path));
        let exp = if overrides.is_empty() && !resolved_paths {
            exp
        } else {
            let ordered = override_order(overrides);
            let parse = |n: usize| -> Result<Experiment, ConfigError> {
                let mut t = table.clone();
                for o in &ordered[..n] {
                    apply_override(&mut t, o)?;
                }
                let text = toml::to_string(&t).expect("a table serialises");
                toml::from_str(&text).map_err(|e| ConfigError(with_suggestion(e.message())))
            };
            parse(ordered.len()).map_err(|e| {
                // Blame the first --set after which the file no longer reads.
                let culprit = (1..=ordered.len())
                    .find(|&n| parse(n).is_err())
                    .map_or_else(|| overrides.join(" --set "), |n| ordered[n - 1].to_string());
                ConfigError(format!("{} with --set {culprit}: {}", path.display(), e.0))
            })?
        };
        let mut exp = exp;
        exp.benchmark
            .resolve_paths(path.parent().unwrap_or(Path::new("")));
        exp.validate(path)?;
        Ok(exp)
    }

    /// Checks values that the types alone cannot.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(format!("{}: {m}", path.display())));
        crate::rundir::check_folder_name("`name`", &self.name).or_else(err)?;
        self.check_inline_space(path)?;
        self.benchmark.validate().or_else(err)?;
        crate::objectives::check(&self.objectives).or_else(err)?;
        if self.seeds == 0 {
            return err("`seeds` must be at least 1".into());
        }
        if self.seeds > MAX_SEEDS {
            return err(format!(
                "`seeds` must be at most {MAX_SEEDS} (runs of one experiment), got {}",
                self.seeds
            ));
        }
        let b = &self.budget;
        if b.max_queries.is_none() && b.max_sim_seconds.is_none() && b.max_wall_seconds.is_none() {
            return err(
                "[budget] needs at least one of max_queries, max_sim_seconds, max_wall_seconds"
                    .into(),
            );
        }
        if b.max_queries == Some(0) {
            return err("[budget] max_queries must be at least 1".into());
        }
        for (k, v) in [
            ("max_sim_seconds", b.max_sim_seconds),
            ("max_wall_seconds", b.max_wall_seconds),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return err(format!("[budget] {k} must be a positive number, got {v}"));
                }
            }
        }
        if self.search.max_repeated_proposals == 0 {
            return err("[search] max_repeated_proposals must be at least 1".into());
        }
        if self.search.max_failures == Some(0) {
            return err("[search] max_failures must be at least 1".into());
        }
        self.strategy
            .validate()
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        if let Some(s) = &self.scheduler {
            s.validate().or_else(err)?;
        }
        if let Some(s) = self.scheduler.as_ref().filter(|s| s.active()) {
            // Only a table's lookup, `train` (`fidelity_epochs`), `command` and `slurm`
            // (`fidelities`) have fidelity levels (a description that does not read is reported when the table
            // is loaded).
            let levels = match (&self.benchmark.kind, &self.evaluator) {
                (emprox_benchmarks::config::BenchmarkKind::Tabular, None) => self
                    .benchmark
                    .tabular_description(Path::new(""))
                    .ok()
                    .map(|d| d.fidelity.map(|f| f.values()).unwrap_or_default()),
                (_, Some(e)) if e.kind == EvaluatorKind::Command => Some(
                    e.command
                        .as_ref()
                        .map(|c| c.fidelities.clone())
                        .unwrap_or_default(),
                ),
                (_, Some(e)) if e.kind == EvaluatorKind::Slurm => Some(
                    e.slurm
                        .as_ref()
                        .map(|c| c.fidelities.clone())
                        .unwrap_or_default(),
                ),
                (_, Some(e)) if e.kind == EvaluatorKind::Train => Some(
                    e.training
                        .as_ref()
                        .map(|t| t.fidelities())
                        .unwrap_or_default(),
                ),
                _ => Some(Vec::new()),
            };
            if let Some(levels) = levels {
                s.rungs(&levels).map(|_| ()).or_else(err)?;
            }
        }
        let several = self.objectives.len() > 1;
        if self.strategy.multi_objective() && !several {
            return err(format!(
                "[strategy] type = \"{}\" ranks by several objectives: give the experiment \
                 `objectives = [...]` with two or three metrics, or use type = \"{}\"",
                self.strategy.name(),
                self.strategy.name().trim_start_matches("mo_")
            ));
        }
        if self.filter.as_ref().is_some_and(|f| f.mo_rank.is_some()) && !several {
            return err(
                "[filter] mo_rank ranks pools by several objectives: it needs `objectives = [...]` \
                 with two or three metrics"
                    .into(),
            );
        }
        match (&self.estimator, &self.filter) {
            (Some(e), Some(f)) => {
                let est = e
                    .build::<Nb201Space>()
                    .map_err(|x| ConfigError(format!("{}: [estimator] {x}", path.display())))?;
                f.validate(est.needs().min_train_size)
                    .map_err(|x| ConfigError(format!("{}: {x}", path.display())))?;
            }
            (Some(_), None) => {
                return err(
                    "[estimator] needs a [filter] table (candidates, top_k, warmup, refit_every)"
                        .into(),
                )
            }
            (None, Some(_)) => {
                return err("[filter] needs an [estimator] table (e.g. type = \"emprox\")".into())
            }
            (None, None) => {}
        }
        let evaluated = self.evaluator.as_ref().is_some_and(|e| {
            matches!(
                e.kind,
                EvaluatorKind::Command
                    | EvaluatorKind::Slurm
                    | EvaluatorKind::Train
                    | EvaluatorKind::Python
            )
        });
        if self.benchmark.kind == emprox_benchmarks::config::BenchmarkKind::Declared {
            match (&self.benchmark.join, evaluated) {
                (None, false) => return err(crate::benchmark::DECLARED_NEEDS_COMMAND.into()),
                (Some(_), _) if self.evaluator.is_some() => {
                    return err(crate::benchmark::DECLARED_JOIN_NO_EVALUATOR.into())
                }
                _ => {}
            }
            if self.evaluator.as_ref().map(|e| e.kind) == Some(EvaluatorKind::Train) {
                let space = self.benchmark.declared_space();
                let checked = space.and_then(|s| {
                    emprox_train::DeclaredTraining::check(&s)
                        .map_err(|e| format!("{} {e}", self.benchmark.space_origin()))
                });
                if let Err(e) = checked {
                    return err(e);
                }
            }
        }
        if let Some(ev) = &self.evaluator {
            ev.validate()
                .map_err(|x| ConfigError(format!("{}: {x}", path.display())))?;
            if ev.kind != EvaluatorKind::Nasbench201 && self.budget.max_sim_seconds.is_some() {
                return err("[budget] max_sim_seconds applies to the tabular benchmark only; with real evaluations use max_wall_seconds or max_queries".into());
            }
        }
        if let Some(p) = &self.benchmark.data {
            if !p.exists() {
                return err(format!(
                    "[benchmark] data file {} does not exist",
                    p.display()
                ));
            }
        }
        Ok(())
    }

    /// Default output folder: `runs/<name>`.
    pub fn default_out_dir(&self) -> PathBuf {
        PathBuf::from("runs").join(&self.name)
    }
}

/// The absolute folder of an experiment file: its relative paths are resolved against it.
fn base_dir(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Resolves the relative paths of an experiment file's table against `base` (the file's
/// folder), so that a run does not depend on the current directory: `[benchmark] data`,
/// `[evaluator] cache`, `[evaluator.training] data`'s `path` and `labels`, and
/// `[evaluator.command]`/`[evaluator.slurm] working_dir` always; in
/// their `command`, the program and each argument that is a relative path
/// naming an existing file or folder in `base` (no placeholder). True if anything changed.
fn resolve_paths(table: &mut toml::Table, base: &Path) -> bool {
    fn at<'a>(t: &'a mut toml::Table, keys: &[&str]) -> Option<&'a mut toml::Value> {
        let (last, parents) = keys.split_last()?;
        let mut cur = t;
        for k in parents {
            cur = cur.get_mut(*k)?.as_table_mut()?;
        }
        cur.get_mut(*last)
    }
    let mut changed = false;
    let mut resolve = |v: &mut toml::Value, only_existing: bool| {
        if let toml::Value::String(s) = v {
            let p = Path::new(s.as_str());
            if !s.is_empty()
                && p.is_relative()
                && !(only_existing && (s.contains('{') || !base.join(p).exists()))
            {
                *s = base.join(p).display().to_string();
                changed = true;
            }
        }
    };
    for keys in [
        &["benchmark", "data"][..],
        &["evaluator", "cache"],
        &["evaluator", "training", "data", "path"],
        &["evaluator", "training", "data", "labels"],
        &["evaluator", "command", "working_dir"],
        &["evaluator", "slurm", "working_dir"],
    ] {
        if let Some(v) = at(table, keys) {
            resolve(v, false);
        }
    }
    for kind in ["command", "slurm"] {
        if let Some(toml::Value::Array(args)) = at(table, &["evaluator", kind, "command"]) {
            for a in args {
                resolve(a, true);
            }
        }
    }
    changed
}

/// Parses TOML into `T`, turning errors into `FILE:LINE:COL: message` with a "did you mean".
pub fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let loc = toml_error::location(text, &e)
            .map(|(line, col)| format!(":{line}:{col}"))
            .unwrap_or_default();
        ConfigError(format!(
            "{}{loc}: {}",
            path.display(),
            with_suggestion(e.message())
        ))
    })
}

/// The NAS-Bench-101 and -301 subsets that ship as tables, by the number in the type names
/// users try (`nasbench101`, `nb301`).
const SHIPPED_SUBSETS: [(&str, &str, &str); 2] = [
    (
        "101",
        "benchmarks/data/nb101_subset500.tabular.toml",
        "a subset of 500 rows (292 networks): good for predictor evaluation; a search uses it up in about 30 queries",
    ),
    (
        "301",
        "benchmarks/data/nb301_subset.tabular.toml",
        "a subset of 1,218 rows: good for predictor evaluation, not a search of the DARTS space",
    ),
];

/// The hint for a `[benchmark] type` that names a benchmark shipped as a table.
fn shipped_table_hint(given: &str) -> Option<String> {
    let g = given.to_ascii_lowercase().replace(['-', '_'], "");
    if !(g.starts_with("nasbench") || g.starts_with("nb")) {
        return None;
    }
    let (_, file, what) = SHIPPED_SUBSETS.iter().find(|(n, _, _)| g.ends_with(n))?;
    Some(format!(
        "did you mean `type = \"tabular\"` with `description = \"{file}\"`? ({what}; the path is \
         the repository's, relative paths resolve against your file's folder)"
    ))
}

/// Adds "did you mean `x`?" to serde's "unknown field/variant `a`, expected one of `b`, `c`".
fn with_suggestion(message: &str) -> String {
    let msg = message.trim().replace('\n', " ");
    let ticked: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    if ticked.len() < 2 || !(msg.starts_with("unknown field") || msg.starts_with("unknown variant"))
    {
        return msg;
    }
    let given = ticked[0];
    if let Some(hint) = shipped_table_hint(given) {
        return format!("{msg}; {hint}");
    }
    let best = ticked[1..]
        .iter()
        .map(|c| (strsim::levenshtein(given, c), *c))
        .min();
    match best {
        Some((d, c)) if d <= 3.max(given.len() / 3) => format!("{msg}; did you mean `{c}`?"),
        _ => msg,
    }
}

/// The order in which `--set` pairs apply: those that change a table's `type` first (they reset
/// the table), then the others, each group in the order given.
fn override_order(overrides: &[String]) -> Vec<&str> {
    let is_type = |o: &&str| {
        o.split_once('=')
            .is_some_and(|(k, _)| k.trim().ends_with(".type"))
    };
    let all: Vec<&str> = overrides.iter().map(String::as_str).collect();
    let (mut first, rest): (Vec<&str>, Vec<&str>) = all.into_iter().partition(is_type);
    first.extend(rest);
    first
}

/// Digits with an optional sign.
fn is_whole_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Applies `a.b.c=VALUE` to a TOML table. VALUE is read as a TOML value, else as a string (a
/// whole number beyond TOML's integers is an error).
///
/// A `type` that changes (`strategy.type=random` where the file says `regularized_evolution`)
/// replaces its table: the old type's keys go, and the new type starts from its defaults.
pub(crate) fn apply_override(table: &mut toml::Table, pair: &str) -> Result<(), ConfigError> {
    let (key, raw) = pair
        .split_once('=')
        .ok_or_else(|| ConfigError(format!("--set {pair}: expected KEY=VALUE")))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError(format!("--set {pair}: invalid key `{key}`")));
    }
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("just parsed"),
        // A whole number TOML cannot hold is a number out of range, not a string.
        Err(_) if is_whole_number(raw) => {
            return Err(ConfigError(format!(
                "--set {pair}: {raw} is out of range: integers go from {} to {} (TOML's)",
                i64::MIN,
                i64::MAX
            )))
        }
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError(format!("--set {pair}: `{p}` is not a table")))?;
    }
    let last = parts[parts.len() - 1];
    if last == "type" && parts.len() > 1 && cur.get("type").is_some_and(|t| *t != value) {
        cur.clear();
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"name = "nb201-re"
seed = 0
seeds = 20                      # independent runs, seeds derived from `seed`

[benchmark]
type = "nasbench201"
dataset = "cifar10"             # cifar10 | cifar100 | imagenet16-120

[strategy]
type = "regularized_evolution"  # random | regularized_evolution | local_search
population_size = 30
sample_size = 10

[budget]
max_queries = 150
"#;

    fn load_str(text: &str, overrides: &[&str]) -> Result<Experiment, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exp.toml");
        std::fs::write(&p, text).unwrap();
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Experiment::load(&p, &o)
    }

    #[test]
    fn minimal_file_is_accepted() {
        let e = load_str(MINIMAL, &[]).unwrap();
        assert_eq!(e.seeds, 20);
        assert_eq!(e.budget.max_queries, Some(150));
        assert_eq!(
            e.strategy,
            StrategyConfig::RegularizedEvolution(
                emprox_strategies::config::RegularizedEvolutionParams {
                    population_size: 30,
                    sample_size: 10
                }
            )
        );
    }

    #[test]
    fn unknown_key_names_line_column_and_suggestion() {
        let bad = MINIMAL.replace("sample_size = 10", "sampel_size = 10");
        let e = load_str(&bad, &[]).unwrap_err().to_string();
        assert!(e.contains("exp.toml:12:1"), "{e}");
        assert!(e.contains("did you mean `sample_size`"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn nasbench101_and_301_point_at_the_shipped_subsets() {
        for (ty, file) in [
            ("nasbench101", "nb101_subset500.tabular.toml"),
            ("nas-bench-301", "nb301_subset.tabular.toml"),
            ("nb101", "nb101_subset500.tabular.toml"),
        ] {
            let bad = MINIMAL.replace("type = \"nasbench201\"", &format!("type = {ty:?}"));
            let e = load_str(&bad, &[]).unwrap_err().to_string();
            assert!(
                e.contains("did you mean `type = \"tabular\"`") && e.contains(file),
                "{e}"
            );
            assert!(e.contains("subset") && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn unknown_strategy_lists_choices() {
        let bad = MINIMAL.replace(
            "\"regularized_evolution\"  #",
            "\"regularised_evolution\"  #",
        );
        let e = load_str(&bad, &[]).unwrap_err().to_string();
        assert!(e.contains(":10:8"), "{e}");
        assert!(
            e.contains("local_search") && e.contains("did you mean `regularized_evolution`"),
            "{e}"
        );
    }

    #[test]
    fn overrides_are_validated_like_the_file() {
        let e = load_str(
            MINIMAL,
            &["benchmark.dataset=cifar100", "budget.max_queries=50"],
        )
        .unwrap();
        assert_eq!(e.benchmark.dataset().unwrap().name(), "cifar100");
        assert_eq!(e.budget.max_queries, Some(50));
        let err = load_str(MINIMAL, &["benchmark.dataset=cifar1000"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--set") && err.contains("cifar100"), "{err}");
        assert!(load_str(MINIMAL, &["budget.max_queries=lots"]).is_err());
        assert!(load_str(MINIMAL, &["nonsense"]).is_err());
    }

    #[test]
    fn a_type_changed_by_set_starts_from_its_defaults_and_errors_name_their_set() {
        // The file's population_size belongs to evolution: random search starts afresh.
        let e = load_str(MINIMAL, &["strategy.type=random"]).unwrap();
        assert_eq!(e.strategy.name(), "random");
        // A key for the new type, given before or after the type, is kept.
        for sets in [
            ["strategy.type=local_search", "strategy.num_init=7"],
            ["strategy.num_init=7", "strategy.type=local_search"],
        ] {
            let e = load_str(MINIMAL, &sets).unwrap();
            let resolved = toml::to_string(&e.strategy).unwrap();
            assert!(resolved.contains("num_init = 7"), "{resolved}");
        }
        // The same type keeps the file's keys.
        let e = load_str(MINIMAL, &["strategy.type=regularized_evolution"]).unwrap();
        assert!(toml::to_string(&e.strategy)
            .unwrap()
            .contains("population_size = 30"));
        // The error names the --set that caused it, not every --set.
        let err = load_str(
            MINIMAL,
            &["budget.max_queries=50", "strategy.sampel_size=3"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--set strategy.sampel_size=3:") && !err.contains("max_queries"),
            "{err}"
        );
        assert!(err.contains("did you mean `sample_size`"), "{err}");
    }

    #[test]
    fn inconsistent_values_are_rejected() {
        assert!(load_str(&MINIMAL.replace("max_queries = 150", ""), &[]).is_err());
        assert!(load_str(&MINIMAL.replace("seeds = 20", "seeds = 0"), &[]).is_err());
        assert!(load_str(
            &MINIMAL.replace("sample_size = 10", "sample_size = 31"),
            &[]
        )
        .is_err());
        assert!(load_str(&MINIMAL.replace("seeds = 20", "seeds = \"x\""), &[]).is_err());
        assert!(load_str("name = [", &[]).is_err());
    }
}
