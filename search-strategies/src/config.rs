//! The `[strategy]` table: one place where a strategy name becomes a strategy.

use crate::{LocalSearch, RandomSearch, RegularizedEvolution, Strategy};
use emprox_benchmarks::SearchSpace;
use serde::{Deserialize, Serialize};

/// The strategies known to emprox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Uniform random search.
    Random,
    /// Regularized evolution.
    RegularizedEvolution,
    /// Local search.
    LocalSearch,
}

impl StrategyKind {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Random => "random",
            StrategyKind::RegularizedEvolution => "regularized_evolution",
            StrategyKind::LocalSearch => "local_search",
        }
    }
}

/// An invalid strategy configuration.
#[derive(Debug, thiserror::Error)]
#[error("[strategy] {0}")]
pub struct StrategyError(pub String);

/// Default population size of regularized evolution (NASLib's NAS-Bench-201 config).
pub const DEFAULT_POPULATION_SIZE: usize = 30;
/// Default tournament size of regularized evolution (NASLib's NAS-Bench-201 config).
pub const DEFAULT_SAMPLE_SIZE: usize = 10;
/// Default number of random initial cells of local search (NASLib's NAS-Bench-201 config).
pub const DEFAULT_NUM_INIT: usize = 10;

/// The largest population, tournament or initial sample a strategy accepts.
pub const MAX_SIZE: usize = 1_000_000;

/// Names with their parameters as (key, default, description), for `emprox list`.
pub type Catalogue = Vec<(&'static str, Vec<(&'static str, String, &'static str)>)>;

/// The `[strategy]` table. Keys that do not apply to the chosen `type` are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// `random`, `regularized_evolution` or `local_search`.
    #[serde(rename = "type")]
    pub kind: StrategyKind,
    /// Regularized evolution: population size (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population_size: Option<usize>,
    /// Regularized evolution: tournament sample size (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<usize>,
    /// Local search: number of random initial cells (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_init: Option<usize>,
}

impl StrategyConfig {
    /// A config of `kind` with every parameter at its default.
    pub fn new(kind: StrategyKind) -> Self {
        Self {
            kind,
            population_size: None,
            sample_size: None,
            num_init: None,
        }
    }

    /// Checks the parameters: ranges, and keys that do not apply to the type.
    pub fn validate(&self) -> Result<(), StrategyError> {
        for (key, v) in [
            ("population_size", self.population_size),
            ("sample_size", self.sample_size),
            ("num_init", self.num_init),
        ] {
            if let Some(v) = v.filter(|&v| v > MAX_SIZE) {
                return Err(StrategyError(format!(
                    "{key} must be at most {MAX_SIZE}, got {v}"
                )));
            }
        }
        let not_for = |key: &str| {
            Err(StrategyError(format!(
                "`{key}` does not apply to type = \"{}\"",
                self.kind.name()
            )))
        };
        match self.kind {
            StrategyKind::Random => {
                if self.population_size.is_some() {
                    return not_for("population_size");
                }
                if self.sample_size.is_some() {
                    return not_for("sample_size");
                }
                if self.num_init.is_some() {
                    return not_for("num_init");
                }
            }
            StrategyKind::RegularizedEvolution => {
                if self.num_init.is_some() {
                    return not_for("num_init");
                }
                let p = self.population_size.unwrap_or(DEFAULT_POPULATION_SIZE);
                let s = self.sample_size.unwrap_or(DEFAULT_SAMPLE_SIZE);
                if p < 1 {
                    return Err(StrategyError("population_size must be at least 1".into()));
                }
                if s < 1 || s > p {
                    return Err(StrategyError(format!(
                        "sample_size must be between 1 and population_size ({p}), got {s}"
                    )));
                }
            }
            StrategyKind::LocalSearch => {
                if self.population_size.is_some() {
                    return not_for("population_size");
                }
                if self.sample_size.is_some() {
                    return not_for("sample_size");
                }
                if self.num_init == Some(0) {
                    return Err(StrategyError("num_init must be at least 1".into()));
                }
            }
        }
        Ok(())
    }

    /// Builds the strategy (validating first).
    pub fn build<S: SearchSpace + 'static>(&self) -> Result<Box<dyn Strategy<S>>, StrategyError> {
        self.validate()?;
        Ok(match self.kind {
            StrategyKind::Random => Box::new(RandomSearch),
            StrategyKind::RegularizedEvolution => Box::new(RegularizedEvolution::new(
                self.population_size.unwrap_or(DEFAULT_POPULATION_SIZE),
                self.sample_size.unwrap_or(DEFAULT_SAMPLE_SIZE),
            )),
            StrategyKind::LocalSearch => {
                Box::new(LocalSearch::new(self.num_init.unwrap_or(DEFAULT_NUM_INIT)))
            }
        })
    }

    /// Strategies and their parameters with defaults, for `emprox list`.
    pub fn describe() -> Catalogue {
        vec![
            ("random", vec![]),
            (
                "regularized_evolution",
                vec![
                    (
                        "population_size",
                        DEFAULT_POPULATION_SIZE.to_string(),
                        "population size",
                    ),
                    (
                        "sample_size",
                        DEFAULT_SAMPLE_SIZE.to_string(),
                        "tournament sample size",
                    ),
                ],
            ),
            (
                "local_search",
                vec![(
                    "num_init",
                    DEFAULT_NUM_INIT.to_string(),
                    "random initial cells",
                )],
            ),
        ]
    }
}

impl StrategyConfig {
    /// The config with every default of its type written out.
    pub fn resolved(&self) -> StrategyConfig {
        let mut c = self.clone();
        match self.kind {
            StrategyKind::Random => {}
            StrategyKind::RegularizedEvolution => {
                c.population_size.get_or_insert(DEFAULT_POPULATION_SIZE);
                c.sample_size.get_or_insert(DEFAULT_SAMPLE_SIZE);
            }
            StrategyKind::LocalSearch => {
                c.num_init.get_or_insert(DEFAULT_NUM_INIT);
            }
        }
        c
    }
}
