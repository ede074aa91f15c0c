//! The `[strategy]` table: a serde-tagged enum of checked parameter structs, the one place where
//! a strategy name becomes a strategy. Each parameter is declared once (name, default, range,
//! description); `emprox list` and the resolved configuration come from the same declarations.

use crate::{
    LocalSearch, MoLocalSearch, MoRegularizedEvolution, RandomSearch, RegularizedEvolution,
    Strategy,
};
use emprox_benchmarks::params::{Catalogue, Range};
use emprox_benchmarks::SearchSpace;
use serde::{Deserialize, Serialize};

/// An invalid strategy configuration.
#[derive(Debug, thiserror::Error)]
#[error("[strategy] {0}")]
pub struct StrategyError(pub String);

/// The largest population, tournament or initial sample a strategy accepts.
pub const MAX_SIZE: usize = 1_000_000;
const SIZE: Range = Range::Int(1, MAX_SIZE as u64);

emprox_benchmarks::params! {
    /// `random`: uniform random search (no parameters).
    pub struct RandomParams;
}

emprox_benchmarks::params! {
    /// `regularized_evolution` and `mo_regularized_evolution` (defaults: NASLib's
    /// NAS-Bench-201 config).
    pub struct RegularizedEvolutionParams;
    /// population size
    population_size: usize = 30, SIZE;
    /// tournament sample size (at most population_size)
    sample_size: usize = 10, SIZE;
}

emprox_benchmarks::params! {
    /// `local_search` and `mo_local_search` (default: NASLib's NAS-Bench-201 config).
    pub struct LocalSearchParams;
    /// random initial cells
    num_init: usize = 10, SIZE;
}

impl RandomParams {
    /// The validated strategy.
    pub fn check(&self) -> Result<RandomSearch, String> {
        self.check_ranges()?;
        Ok(RandomSearch)
    }
}

impl RegularizedEvolutionParams {
    /// The validated strategy.
    pub fn check<C>(&self) -> Result<RegularizedEvolution<C>, String> {
        self.check_ranges()?;
        if self.sample_size > self.population_size {
            return Err(format!(
                "`sample_size` must be between 1 and population_size ({}), got {}",
                self.population_size, self.sample_size
            ));
        }
        Ok(RegularizedEvolution::new(
            self.population_size,
            self.sample_size,
        ))
    }

    /// The validated multi-objective strategy (the same checks).
    pub fn check_mo<C>(&self) -> Result<MoRegularizedEvolution<C>, String> {
        self.check::<C>()?;
        Ok(MoRegularizedEvolution::new(
            self.population_size,
            self.sample_size,
        ))
    }
}

impl LocalSearchParams {
    /// The validated strategy.
    pub fn check<C>(&self) -> Result<LocalSearch<C>, String> {
        self.check_ranges()?;
        Ok(LocalSearch::new(self.num_init))
    }

    /// The validated multi-objective strategy (the same checks).
    pub fn check_mo<C>(&self) -> Result<MoLocalSearch<C>, String> {
        self.check_ranges()?;
        Ok(MoLocalSearch::new(self.num_init))
    }
}

/// The `[strategy]` table: `type` picks the strategy, the other keys are its parameters (a key
/// of another type is an unknown key). Every parameter has a default, and serialising writes
/// them all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StrategyConfig {
    /// Uniform random search.
    Random(RandomParams),
    /// Regularized evolution.
    RegularizedEvolution(RegularizedEvolutionParams),
    /// Local search.
    LocalSearch(LocalSearchParams),
    /// Regularized evolution with NSGA-II selection (several objectives).
    MoRegularizedEvolution(RegularizedEvolutionParams),
    /// Local search on random Chebyshev scalarisations (several objectives).
    MoLocalSearch(LocalSearchParams),
}

impl StrategyConfig {
    /// Every type with its defaults, in documentation order.
    pub fn all() -> [StrategyConfig; 5] {
        [
            StrategyConfig::Random(Default::default()),
            StrategyConfig::RegularizedEvolution(Default::default()),
            StrategyConfig::LocalSearch(Default::default()),
            StrategyConfig::MoRegularizedEvolution(Default::default()),
            StrategyConfig::MoLocalSearch(Default::default()),
        ]
    }

    /// True for a strategy that needs several objectives (it ranks by
    /// [`crate::Feedback::objectives`]).
    pub fn multi_objective(&self) -> bool {
        matches!(
            self,
            StrategyConfig::MoRegularizedEvolution(_) | StrategyConfig::MoLocalSearch(_)
        )
    }

    /// The name used in experiment files.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random(_) => "random",
            StrategyConfig::RegularizedEvolution(_) => "regularized_evolution",
            StrategyConfig::LocalSearch(_) => "local_search",
            StrategyConfig::MoRegularizedEvolution(_) => "mo_regularized_evolution",
            StrategyConfig::MoLocalSearch(_) => "mo_local_search",
        }
    }

    /// Checks the parameters (ranges, and rules that join several keys).
    pub fn validate(&self) -> Result<(), StrategyError> {
        let checked = match self {
            StrategyConfig::Random(p) => p.check().map(drop),
            StrategyConfig::RegularizedEvolution(p) => p.check::<()>().map(drop),
            StrategyConfig::LocalSearch(p) | StrategyConfig::MoLocalSearch(p) => {
                p.check::<()>().map(drop)
            }
            StrategyConfig::MoRegularizedEvolution(p) => p.check::<()>().map(drop),
        };
        checked.map_err(|e| self.error(e))
    }

    fn error(&self, e: String) -> StrategyError {
        StrategyError(format!("type = \"{}\": {e}", self.name()))
    }

    /// Builds the strategy (validating first).
    pub fn build<S: SearchSpace + 'static>(&self) -> Result<Box<dyn Strategy<S>>, StrategyError> {
        let built: Result<Box<dyn Strategy<S>>, String> = match self {
            StrategyConfig::Random(p) => p.check().map(|s| Box::new(s) as _),
            StrategyConfig::RegularizedEvolution(p) => p.check().map(|s| Box::new(s) as _),
            StrategyConfig::LocalSearch(p) => p.check().map(|s| Box::new(s) as _),
            StrategyConfig::MoRegularizedEvolution(p) => p.check_mo().map(|s| Box::new(s) as _),
            StrategyConfig::MoLocalSearch(p) => p.check_mo().map(|s| Box::new(s) as _),
        };
        built.map_err(|e| self.error(e))
    }

    /// Strategies and their parameters with defaults, for `emprox list`.
    pub fn describe() -> Catalogue {
        Self::all()
            .iter()
            .map(|c| {
                let docs = match c {
                    StrategyConfig::Random(_) => RandomParams::docs(),
                    StrategyConfig::RegularizedEvolution(_)
                    | StrategyConfig::MoRegularizedEvolution(_) => {
                        RegularizedEvolutionParams::docs()
                    }
                    StrategyConfig::LocalSearch(_) | StrategyConfig::MoLocalSearch(_) => {
                        LocalSearchParams::docs()
                    }
                };
                (c.name(), docs)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StrategyConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn the_table_users_write_parses_and_resolves_every_default() {
        let c = parse("type = \"regularized_evolution\"\npopulation_size = 40").unwrap();
        assert_eq!(
            c,
            StrategyConfig::RegularizedEvolution(RegularizedEvolutionParams {
                population_size: 40,
                sample_size: 10
            })
        );
        let text = toml::to_string(&c).unwrap();
        assert_eq!(
            text,
            "type = \"regularized_evolution\"\npopulation_size = 40\nsample_size = 10\n"
        );
        assert_eq!(parse(&text).unwrap(), c);
        let ls = toml::to_string(&parse("type = \"local_search\"").unwrap()).unwrap();
        assert_eq!(ls, "type = \"local_search\"\nnum_init = 10\n");
        let mo = parse("type = \"mo_regularized_evolution\"\nsample_size = 5").unwrap();
        assert!(mo.multi_objective() && !c.multi_objective());
        assert_eq!(
            toml::to_string(&mo).unwrap(),
            "type = \"mo_regularized_evolution\"\npopulation_size = 30\nsample_size = 5\n"
        );
        let e = parse("type = \"mo_local_search\"\nnum_init = 0")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mo_local_search") && e.contains("num_init"),
            "{e}"
        );
    }

    #[test]
    fn bad_tables_are_one_line_errors_naming_the_key() {
        let e = parse("type = \"random\"\npopulation_size = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `population_size`"), "{e}");
        let e = parse("type = \"local_search\"\nnum_innit = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`num_innit`") && e.contains("`num_init`"), "{e}");
        assert!(parse("population_size = 3").is_err());
        let c = parse("type = \"regularized_evolution\"\nsample_size = 40").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("sample_size") && e.contains("(30)"), "{e}");
        assert!(!e.contains('\n'));
        let c = parse("type = \"local_search\"\nnum_init = 0").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(
            e,
            "[strategy] type = \"local_search\": `num_init` = 0 is out of range [1, 1000000]"
        );
    }

    #[test]
    fn list_shows_what_the_structs_declare() {
        let d = StrategyConfig::describe();
        let names: Vec<&str> = d.iter().map(|x| x.0).collect();
        assert_eq!(
            names,
            [
                "random",
                "regularized_evolution",
                "local_search",
                "mo_regularized_evolution",
                "mo_local_search"
            ]
        );
        assert!(d[0].1.is_empty());
        let re: Vec<(&str, &str)> = d[1]
            .1
            .iter()
            .map(|p| (p.name, p.default.as_str()))
            .collect();
        assert_eq!(re, [("population_size", "30"), ("sample_size", "10")]);
        for c in StrategyConfig::all() {
            assert!(c.validate().is_ok(), "{}", c.name());
        }
    }
}
