//! `EstimatorConfig`: the `type = "…"` table (in `[[estimators]]` of an evaluation file and in
//! an experiment's `[estimator]`): a serde-tagged enum of checked parameter structs, each
//! declared once next to its estimator (name, default, range, description). `emprox list` and
//! the resolved configuration come from the same declarations.

use crate::emprox::supervised::SupervisedParams;
use crate::emprox::EmproxSettings;
use crate::error::EstimatorError;
use crate::estimator::Estimator;
use crate::gbdt::GbdtParams;
use crate::knn::KnnOneHotParams;
use crate::mean::MeanEstimator;
use crate::mlp::MlpParams;
use crate::nao::NaoSettings;
use crate::random::RandomParams;
use emprox_benchmarks::params::{toml_value, Catalogue, ParamDoc, Range};
use emprox_benchmarks::SearchSpace;
use serde::{Deserialize, Serialize};

/// The estimator types, each with its parameters (a key of another type is an unknown key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EstimatorParams {
    /// EmProx: encoder-decoder embedding + distance-weighted kNN.
    Emprox(EmproxSettings),
    /// EmProx with an embedding learnt from the accuracies (regression and ranking losses).
    EmproxSupervised(SupervisedParams),
    /// NAO: the same encoder-decoder with an MLP regression head.
    Nao(NaoSettings),
    /// Distance-weighted kNN on the one-hot encoding.
    KnnOnehot(KnnOneHotParams),
    /// Gradient-boosted trees on the one-hot encoding.
    Gbdt(GbdtParams),
    /// BANANAS-style ensemble of MLPs on the path encoding.
    MlpEnsemble(MlpParams),
    /// Random scores.
    Random(RandomParams),
    /// The mean prediction of several estimators.
    Mean(MeanParams),
}

impl EstimatorParams {
    /// Unlabelled cells this estimator pre-trains an encoder on at its first fit (EmProx's
    /// `pretrain`, summed over a mean's members); 0 for none. Progress displays name that phase.
    pub fn pretrain_cells(&self) -> usize {
        match self {
            EstimatorParams::Emprox(p) => p.pretrain,
            EstimatorParams::Mean(m) => m.members.iter().map(Self::pretrain_cells).sum(),
            _ => 0,
        }
    }

    /// Every type with its defaults, in documentation order.
    pub fn all() -> [EstimatorParams; 8] {
        [
            EstimatorParams::Emprox(Default::default()),
            EstimatorParams::EmproxSupervised(Default::default()),
            EstimatorParams::Nao(Default::default()),
            EstimatorParams::KnnOnehot(Default::default()),
            EstimatorParams::Gbdt(Default::default()),
            EstimatorParams::MlpEnsemble(Default::default()),
            EstimatorParams::Random(Default::default()),
            EstimatorParams::Mean(Default::default()),
        ]
    }

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            EstimatorParams::Emprox(_) => "emprox",
            EstimatorParams::EmproxSupervised(_) => "emprox_supervised",
            EstimatorParams::Nao(_) => "nao",
            EstimatorParams::KnnOnehot(_) => "knn_onehot",
            EstimatorParams::Gbdt(_) => "gbdt",
            EstimatorParams::MlpEnsemble(_) => "mlp_ensemble",
            EstimatorParams::Random(_) => "random",
            EstimatorParams::Mean(_) => "mean",
        }
    }

    /// The parameters for the search run with seed `run_seed` (EmProx's `pretrain_per_run`
    /// gives each run its own pre-training seed); the others as they are.
    pub fn for_run(&self, run_seed: u64) -> EstimatorParams {
        match self {
            EstimatorParams::Emprox(p) => EstimatorParams::Emprox(p.for_run(run_seed)),
            EstimatorParams::Mean(p) => EstimatorParams::Mean(p.for_run(run_seed)),
            other => other.clone(),
        }
    }

    /// Checks the parameters and builds the estimator.
    pub fn build<S: SearchSpace + 'static>(&self) -> Result<Box<dyn Estimator<S>>, EstimatorError> {
        fn boxed<S: SearchSpace, E: Estimator<S> + 'static>(
            e: Result<E, String>,
        ) -> Result<Box<dyn Estimator<S>>, String> {
            e.map(|e| Box::new(e) as _)
        }
        match self {
            EstimatorParams::Emprox(p) => boxed(p.check()),
            EstimatorParams::EmproxSupervised(p) => boxed(p.check()),
            EstimatorParams::Nao(p) => boxed(p.check()),
            EstimatorParams::KnnOnehot(p) => boxed(p.check()),
            EstimatorParams::Gbdt(p) => boxed(p.check()),
            EstimatorParams::MlpEnsemble(p) => boxed(p.check()),
            EstimatorParams::Random(p) => boxed(p.check()),
            EstimatorParams::Mean(p) => boxed(p.check::<S>()),
        }
        .map_err(|e| EstimatorError::Config(format!("estimator `{}`: {e}", self.name())))
    }

    /// For `emprox list`: each type with its keys, their defaults, ranges and descriptions.
    pub fn describe() -> Catalogue {
        Self::all()
            .iter()
            .map(|p| {
                let docs = match p {
                    EstimatorParams::Emprox(_) => EmproxSettings::docs(),
                    EstimatorParams::EmproxSupervised(_) => SupervisedParams::docs(),
                    EstimatorParams::Nao(_) => NaoSettings::docs(),
                    EstimatorParams::KnnOnehot(_) => KnnOneHotParams::docs(),
                    EstimatorParams::Gbdt(_) => GbdtParams::docs(),
                    EstimatorParams::MlpEnsemble(_) => MlpParams::docs(),
                    EstimatorParams::Random(_) => RandomParams::docs(),
                    EstimatorParams::Mean(_) => MeanParams::docs(),
                };
                (p.name(), docs)
            })
            .collect()
    }
}

/// The most members a `mean` may have.
pub const MAX_MEMBERS: usize = 8;

/// The `mean` table. Its members are this registry's own parameter types, so it lives here
/// rather than beside [`MeanEstimator`] (which only averages built estimators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeanParams {
    /// The estimators whose predictions are averaged (2 to [`MAX_MEMBERS`], any type but
    /// `mean`).
    pub members: Vec<EstimatorParams>,
}

impl Default for MeanParams {
    fn default() -> Self {
        Self {
            members: vec![
                EstimatorParams::Emprox(Default::default()),
                EstimatorParams::KnnOnehot(Default::default()),
            ],
        }
    }
}

impl MeanParams {
    /// Checks the members (count, no nesting).
    pub fn check_members(&self) -> Result<(), String> {
        if !(2..=MAX_MEMBERS).contains(&self.members.len()) {
            return Err(format!(
                "`members` must hold 2 to {MAX_MEMBERS} estimators, got {}",
                self.members.len()
            ));
        }
        if self
            .members
            .iter()
            .any(|m| matches!(m, EstimatorParams::Mean(_)))
        {
            return Err("`members` cannot hold another `mean`".into());
        }
        Ok(())
    }

    /// The validated estimator.
    pub fn check<S: SearchSpace + 'static>(&self) -> Result<MeanEstimator<S>, String> {
        self.check_members()?;
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.build::<S>().map_err(|e| match e {
                    EstimatorError::Config(msg) => format!("member {}: {msg}", i + 1),
                    other => format!("member {}: {other}", i + 1),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MeanEstimator::new(members))
    }

    /// The parameters for the search run with seed `run_seed` (each member's).
    pub fn for_run(&self, run_seed: u64) -> Self {
        Self {
            members: self.members.iter().map(|m| m.for_run(run_seed)).collect(),
        }
    }

    /// The key with its default, range and description.
    pub fn docs() -> Vec<ParamDoc> {
        vec![ParamDoc {
            name: "members",
            default: toml_value(&Self::default().members),
            range: Range::Any,
            doc: "estimators whose predictions are averaged (2-8, any type but mean)",
        }]
    }
}

/// One estimator table: the type and its parameters, and an optional label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorConfig {
    /// The type and its parameters (every one has a default; serialising writes them all).
    #[serde(flatten)]
    pub params: EstimatorParams,
    /// Label in results (default: the type; must be unique within a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl From<EstimatorParams> for EstimatorConfig {
    fn from(params: EstimatorParams) -> Self {
        EstimatorConfig { params, name: None }
    }
}

impl EstimatorConfig {
    /// The label used in results: `name`, or the type.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.params.name().to_string())
    }

    /// Validates the table and builds its estimator.
    pub fn build<S: SearchSpace + 'static>(&self) -> Result<Box<dyn Estimator<S>>, EstimatorError> {
        if let Some(n) = &self.name {
            if n.is_empty() || n.contains(',') || n.contains('"') || n.contains('\n') {
                return Err(EstimatorError::Config(format!(
                    "estimator `{}`: `name` = {n:?} must be non-empty, without commas, quotes or newlines",
                    self.params.name()
                )));
            }
        }
        self.params.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_checked() {
        let one = MeanParams {
            members: vec![EstimatorParams::KnnOnehot(Default::default())],
        };
        assert!(one.check_members().unwrap_err().contains("2 to 8"));
        let nested = MeanParams {
            members: vec![
                EstimatorParams::KnnOnehot(Default::default()),
                EstimatorParams::Mean(Default::default()),
            ],
        };
        assert!(nested
            .check_members()
            .unwrap_err()
            .contains("another `mean`"));
        assert!(MeanParams::default().check_members().is_ok());
    }
    use emprox_benchmarks::nb201::Nb201Space;
    use emprox_benchmarks::SeqEncoding;

    fn parse(s: &str) -> Result<EstimatorConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn defaults_build_for_every_type_and_list_matches_the_structs() {
        let d = EstimatorParams::describe();
        assert_eq!(d.len(), EstimatorParams::all().len());
        for (p, (name, keys)) in EstimatorParams::all().into_iter().zip(d) {
            let e = EstimatorConfig::from(p.clone())
                .build::<Nb201Space>()
                .unwrap();
            assert_eq!(e.name(), p.name());
            assert_eq!(name, p.name());
            // The resolved table holds exactly the documented keys (but the unset `steps`),
            // with the documented defaults, and parses back to the same value.
            let text = toml::to_string(&EstimatorConfig::from(p.clone())).unwrap();
            let table: toml::Table = toml::from_str(&text).unwrap();
            for k in &keys {
                match table.get(k.name) {
                    Some(v) => assert_eq!(v.to_string(), k.default, "{name}.{}", k.name),
                    None => assert_eq!(k.default, "none", "{name}.{}", k.name),
                }
            }
            assert_eq!(
                table.len(),
                1 + keys.iter().filter(|k| k.default != "none").count()
            );
            assert_eq!(parse(&text).unwrap(), EstimatorConfig::from(p));
        }
    }

    #[test]
    fn out_of_range_and_foreign_keys_are_clear_errors() {
        let c = parse("type = \"emprox\"\nk = 0").unwrap();
        let e = c.build::<Nb201Space>().err().unwrap().to_string();
        assert!(
            e.contains("estimator `emprox`: `k` = 0 is out of range [1, 100000]"),
            "{e}"
        );
        let e = parse("type = \"gbdt\"\nk = 5").unwrap_err().to_string();
        assert!(
            e.contains("unknown field `k`") && e.contains("max_depth"),
            "{e}"
        );
        let c = parse("type = \"nao\"\ntrade_off = 0.0").unwrap();
        assert!(c.build::<Nb201Space>().is_err());
        let c = parse("type = \"emprox\"\ntrade_off = 0.5\nhead_layers = 0").unwrap();
        assert!(c
            .build::<Nb201Space>()
            .err()
            .unwrap()
            .to_string()
            .contains("`head_layers` >= 1"));
        let c = parse("type = \"emprox\"\nlr = -1.0").unwrap();
        assert!(c
            .build::<Nb201Space>()
            .err()
            .unwrap()
            .to_string()
            .contains("`lr` = -1 is out of range (0, 10]"));
        let c = parse("type = \"emprox\"\nname = \"a,b\"").unwrap();
        assert!(c.build::<Nb201Space>().is_err());
        // Unknown keys and types fail at parse time.
        let e = parse("type = \"emprox\"\nkk = 3").unwrap_err().to_string();
        assert!(e.contains("unknown field `kk`"), "{e}");
        assert!(parse("type = \"xgboost\"").is_err());
        assert!(parse("k = 3").is_err());
    }

    #[test]
    fn values_reach_the_estimator_and_the_label() {
        let c = parse(
            "type = \"emprox\"\nk = 60\nencoding = \"compact\"\npretrain = 500\nname = \"mine\"",
        )
        .unwrap();
        let EstimatorParams::Emprox(p) = &c.params else {
            panic!("{c:?}")
        };
        let e = p.check().unwrap();
        assert_eq!((e.params.k, e.params.pretrain), (60, 500));
        assert_eq!(e.params.net.encoding, SeqEncoding::Compact);
        assert_eq!(e.params.net.train.epochs, 50);
        assert_eq!(c.label(), "mine");
        // pretrain_per_run: each run its own pre-training seed; otherwise the file's.
        let c = parse("type = \"emprox\"\npretrain = 100\npretrain_per_run = true").unwrap();
        let seed_of = |p: EstimatorParams| match p {
            EstimatorParams::Emprox(e) => e.pretrain_seed,
            _ => unreachable!(),
        };
        let (a, b) = (seed_of(c.params.for_run(1)), seed_of(c.params.for_run(2)));
        assert!(a != b && a != 0, "{a} {b}");
        assert_eq!(seed_of(c.params.for_run(1)), a);
        let shared = parse("type = \"emprox\"\npretrain = 100\npretrain_seed = 3").unwrap();
        assert_eq!(seed_of(shared.params.for_run(1)), 3);
        let c = parse("type = \"nao\"").unwrap();
        assert_eq!(c.label(), "nao");
        let EstimatorParams::Nao(p) = &c.params else {
            panic!("{c:?}")
        };
        assert_eq!((p.epochs, p.trade_off), (200, 0.8));
    }
}
