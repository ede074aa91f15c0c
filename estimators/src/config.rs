//! `EstimatorConfig`: the flat `type = "…"` table (in `[[estimators]]` of an evaluation file and
//! in an experiment's `[estimator]`) that validates hyperparameters and builds an estimator.

use crate::emprox::{EmProx, EmProxParams, NetParams};
use crate::error::EstimatorError;
use crate::estimator::Estimator;
use crate::gbdt::{Gbdt, GbdtParams};
use crate::knn::KnnOneHot;
use crate::mlp::{MlpEnsemble, MlpParams};
use crate::nao::Nao;
use crate::random::RandomEstimator;
use emprox_benchmarks::{SearchSpace, SeqEncoding};
use serde::{Deserialize, Serialize};

/// One key of `emprox list`: (key, default, description).
pub type KeyDoc = (&'static str, String, &'static str);
/// One type of `emprox list`: (type, its keys).
pub type TypeDoc = (&'static str, Vec<KeyDoc>);

/// The estimator types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// EmProx: encoder-decoder embedding + distance-weighted kNN.
    Emprox,
    /// NAO: the same encoder-decoder with an MLP regression head.
    Nao,
    /// Distance-weighted kNN on the one-hot encoding.
    KnnOnehot,
    /// Gradient-boosted trees on the one-hot encoding.
    Gbdt,
    /// BANANAS-style ensemble of MLPs on the path encoding.
    MlpEnsemble,
    /// Random scores.
    Random,
}

impl EstimatorKind {
    /// All types, in documentation order.
    pub const ALL: [EstimatorKind; 6] = [
        EstimatorKind::Emprox,
        EstimatorKind::Nao,
        EstimatorKind::KnnOnehot,
        EstimatorKind::Gbdt,
        EstimatorKind::MlpEnsemble,
        EstimatorKind::Random,
    ];

    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            EstimatorKind::Emprox => "emprox",
            EstimatorKind::Nao => "nao",
            EstimatorKind::KnnOnehot => "knn_onehot",
            EstimatorKind::Gbdt => "gbdt",
            EstimatorKind::MlpEnsemble => "mlp_ensemble",
            EstimatorKind::Random => "random",
        }
    }

    /// The keys (besides `type` and `name`) that apply to this type.
    pub fn keys(self) -> &'static [&'static str] {
        const NET: [&str; 12] = [
            "encoding",
            "embedding_size",
            "hidden_size",
            "epochs",
            "steps",
            "batch_size",
            "lr",
            "weight_decay",
            "grad_clip",
            "trade_off",
            "head_layers",
            "head_width",
        ];
        match self {
            EstimatorKind::Emprox => &[
                "k",
                NET[0],
                NET[1],
                NET[2],
                NET[3],
                NET[4],
                NET[5],
                NET[6],
                NET[7],
                NET[8],
                NET[9],
                NET[10],
                NET[11],
                "pretrain",
                "pretrain_epochs",
                "pretrain_seed",
            ],
            EstimatorKind::Nao => &NET,
            EstimatorKind::KnnOnehot => &["k"],
            EstimatorKind::Gbdt => &["max_depth", "eta", "rounds", "min_child_weight", "lambda"],
            EstimatorKind::MlpEnsemble => &[
                "ensemble_size",
                "layers",
                "width",
                "epochs",
                "batch_size",
                "lr",
                "weight_decay",
            ],
            EstimatorKind::Random => &[],
        }
    }
}

/// One estimator table. All hyperparameters are optional (defaults: [`EstimatorConfig::describe`]);
/// a key that does not apply to the `type` is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimatorConfig {
    /// The estimator type.
    #[serde(rename = "type")]
    pub kind: EstimatorKind,
    /// Label in results (default: the type; must be unique within a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// kNN neighbours (emprox, knn_onehot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// Token-sequence encoding: `nao` or `compact` (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<SeqEncoding>,
    /// Embedding size (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_size: Option<usize>,
    /// Hidden size per encoder direction (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_size: Option<usize>,
    /// Training epochs (emprox, nao, mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Adam steps instead of epochs (emprox, nao): fit cost independent of n.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Batch size (emprox, nao, mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Adam learning rate (emprox, nao, mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// L2 weight decay (emprox, nao, mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Gradient-norm clip (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Weight of the regression loss in [0, 1] (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_off: Option<f64>,
    /// Hidden layers of the regression head (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_layers: Option<usize>,
    /// Width of the regression head (emprox, nao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_width: Option<usize>,
    /// Unlabelled architectures for encoder pre-training, 0 = off (emprox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<usize>,
    /// Pre-training epochs (emprox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain_epochs: Option<usize>,
    /// Pre-training seed (emprox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain_seed: Option<u64>,
    /// Maximum tree depth (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Shrinkage (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// Boosting rounds (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Minimum hessian (sample count) per leaf (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_child_weight: Option<f64>,
    /// L2 regularisation of leaf weights (gbdt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// Number of MLPs (mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble_size: Option<usize>,
    /// Hidden layers per MLP (mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// Hidden-layer width (mlp_ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
}

fn err(kind: EstimatorKind, msg: String) -> EstimatorError {
    EstimatorError::Config(format!("estimator `{}`: {msg}", kind.as_str()))
}

fn range_usize(
    kind: EstimatorKind,
    key: &str,
    v: Option<usize>,
    default: usize,
    lo: usize,
    hi: usize,
) -> Result<usize, EstimatorError> {
    let x = v.unwrap_or(default);
    if x < lo || x > hi {
        return Err(err(
            kind,
            format!("`{key}` = {x} is out of range [{lo}, {hi}]"),
        ));
    }
    Ok(x)
}

fn range_f64(
    kind: EstimatorKind,
    key: &str,
    v: Option<f64>,
    default: f64,
    lo: f64,
    hi: f64,
    open_lo: bool,
) -> Result<f64, EstimatorError> {
    let x = v.unwrap_or(default);
    let bad = !x.is_finite() || x > hi || x < lo || (open_lo && x == lo);
    if bad {
        let l = if open_lo { "(" } else { "[" };
        return Err(err(
            kind,
            format!("`{key}` = {x} is out of range {l}{lo}, {hi}]"),
        ));
    }
    Ok(x)
}

impl EstimatorConfig {
    /// A table of the given type with every hyperparameter at its default.
    pub fn new(kind: EstimatorKind) -> Self {
        Self {
            kind,
            name: None,
            k: None,
            encoding: None,
            embedding_size: None,
            hidden_size: None,
            epochs: None,
            steps: None,
            batch_size: None,
            lr: None,
            weight_decay: None,
            grad_clip: None,
            trade_off: None,
            head_layers: None,
            head_width: None,
            pretrain: None,
            pretrain_epochs: None,
            pretrain_seed: None,
            max_depth: None,
            eta: None,
            rounds: None,
            min_child_weight: None,
            lambda: None,
            ensemble_size: None,
            layers: None,
            width: None,
        }
    }

    /// The label used in results: `name`, or the type.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.kind.as_str().to_string())
    }

    /// Keys set in this table (besides `type` and `name`).
    pub fn set_keys(&self) -> Vec<String> {
        let v = serde_json::to_value(self).expect("config serialises");
        v.as_object()
            .expect("object")
            .keys()
            .filter(|k| *k != "type" && *k != "name")
            .cloned()
            .collect()
    }

    fn check_keys(&self) -> Result<(), EstimatorError> {
        let allowed = self.kind.keys();
        for k in self.set_keys() {
            if !allowed.contains(&k.as_str()) {
                let list = if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(err(
                    self.kind,
                    format!("key `{k}` does not apply to this type (its keys: {list})"),
                ));
            }
        }
        if let Some(n) = &self.name {
            if n.is_empty() || n.contains(',') || n.contains('"') || n.contains('\n') {
                return Err(err(
                    self.kind,
                    format!("`name` = {n:?} must be non-empty, without commas, quotes or newlines"),
                ));
            }
        }
        Ok(())
    }

    fn net_params(&self, mut d: NetParams) -> Result<NetParams, EstimatorError> {
        let k = self.kind;
        d.encoding = self.encoding.unwrap_or(d.encoding);
        d.embedding_size = range_usize(
            k,
            "embedding_size",
            self.embedding_size,
            d.embedding_size,
            1,
            1024,
        )?;
        d.hidden_size = range_usize(k, "hidden_size", self.hidden_size, d.hidden_size, 1, 1024)?;
        d.head_layers = range_usize(k, "head_layers", self.head_layers, d.head_layers, 0, 16)?;
        d.head_width = range_usize(k, "head_width", self.head_width, d.head_width, 1, 4096)?;
        let t = &mut d.train;
        t.epochs = range_usize(k, "epochs", self.epochs, t.epochs, 1, 100_000)?;
        if let Some(st) = self.steps {
            t.steps = Some(range_usize(k, "steps", Some(st), st, 1, 10_000_000)?);
        }
        t.batch_size = range_usize(k, "batch_size", self.batch_size, t.batch_size, 1, 100_000)?;
        t.lr = range_f64(k, "lr", self.lr, t.lr, 0.0, 10.0, true)?;
        t.weight_decay = range_f64(
            k,
            "weight_decay",
            self.weight_decay,
            t.weight_decay,
            0.0,
            1.0,
            false,
        )?;
        t.grad_clip = range_f64(k, "grad_clip", self.grad_clip, t.grad_clip, 0.0, 1e6, true)?;
        t.trade_off = range_f64(k, "trade_off", self.trade_off, t.trade_off, 0.0, 1.0, false)?;
        if t.trade_off > 0.0 && d.head_layers == 0 {
            return Err(err(k, "`trade_off` > 0 needs `head_layers` >= 1".into()));
        }
        Ok(d)
    }

    /// The EmProx hyperparameters of an `emprox` table (defaults filled in, ranges checked).
    pub fn emprox_params(&self) -> Result<EmProxParams, EstimatorError> {
        let d = EmProxParams::default();
        let k = self.kind;
        Ok(EmProxParams {
            net: self.net_params(d.net)?,
            k: range_usize(k, "k", self.k, d.k, 1, 100_000)?,
            pretrain: range_usize(k, "pretrain", self.pretrain, d.pretrain, 0, 1_000_000)?,
            pretrain_epochs: range_usize(
                k,
                "pretrain_epochs",
                self.pretrain_epochs,
                d.pretrain_epochs,
                1,
                100_000,
            )?,
            pretrain_seed: self.pretrain_seed.unwrap_or(d.pretrain_seed),
        })
    }

    /// Validates the table and builds its estimator.
    pub fn build<S: SearchSpace + 'static>(&self) -> Result<Box<dyn Estimator<S>>, EstimatorError> {
        self.check_keys()?;
        let k = self.kind;
        Ok(match k {
            EstimatorKind::Emprox => Box::new(EmProx {
                params: self.emprox_params()?,
            }),
            EstimatorKind::Nao => {
                let p = self.net_params(Nao::default_params())?;
                if p.train.trade_off == 0.0 {
                    return Err(err(
                        k,
                        "`trade_off` must be > 0: NAO predicts with its head".into(),
                    ));
                }
                if p.head_layers == 0 {
                    return Err(err(k, "`head_layers` must be >= 1".into()));
                }
                Box::new(Nao { params: p })
            }
            EstimatorKind::KnnOnehot => Box::new(KnnOneHot {
                k: range_usize(k, "k", self.k, 10, 1, 100_000)?,
            }),
            EstimatorKind::Gbdt => {
                let d = GbdtParams::default();
                Box::new(Gbdt {
                    params: GbdtParams {
                        max_depth: range_usize(k, "max_depth", self.max_depth, d.max_depth, 1, 16)?,
                        eta: range_f64(k, "eta", self.eta, d.eta, 0.0, 1.0, true)?,
                        rounds: range_usize(k, "rounds", self.rounds, d.rounds, 1, 100_000)?,
                        min_child_weight: range_f64(
                            k,
                            "min_child_weight",
                            self.min_child_weight,
                            d.min_child_weight,
                            0.0,
                            1e9,
                            false,
                        )?,
                        lambda: range_f64(k, "lambda", self.lambda, d.lambda, 0.0, 1e9, false)?,
                    },
                })
            }
            EstimatorKind::MlpEnsemble => {
                let d = MlpParams::default();
                Box::new(MlpEnsemble {
                    params: MlpParams {
                        ensemble_size: range_usize(
                            k,
                            "ensemble_size",
                            self.ensemble_size,
                            d.ensemble_size,
                            1,
                            100,
                        )?,
                        layers: range_usize(k, "layers", self.layers, d.layers, 1, 64)?,
                        width: range_usize(k, "width", self.width, d.width, 1, 4096)?,
                        epochs: range_usize(k, "epochs", self.epochs, d.epochs, 1, 100_000)?,
                        batch_size: range_usize(
                            k,
                            "batch_size",
                            self.batch_size,
                            d.batch_size,
                            1,
                            100_000,
                        )?,
                        lr: range_f64(k, "lr", self.lr, d.lr, 0.0, 10.0, true)?,
                        weight_decay: range_f64(
                            k,
                            "weight_decay",
                            self.weight_decay,
                            d.weight_decay,
                            0.0,
                            1.0,
                            false,
                        )?,
                    },
                })
            }
            EstimatorKind::Random => Box::new(RandomEstimator),
        })
    }

    /// For `emprox list`: each type with its keys, their defaults and a short description.
    pub fn describe() -> Vec<TypeDoc> {
        let e = EmProxParams::default();
        let n = Nao::default_params();
        let g = GbdtParams::default();
        let m = MlpParams::default();
        let net = |p: &NetParams| -> Vec<(&'static str, String, &'static str)> {
            vec![
                (
                    "encoding",
                    format!("{:?}", p.encoding).to_lowercase(),
                    "token sequence: nao (35 tokens) or compact (6)",
                ),
                (
                    "embedding_size",
                    p.embedding_size.to_string(),
                    "embedding / decoder size",
                ),
                (
                    "hidden_size",
                    p.hidden_size.to_string(),
                    "hidden size per encoder LSTM direction",
                ),
                ("epochs", p.train.epochs.to_string(), "training epochs"),
                (
                    "steps",
                    "none".into(),
                    "Adam steps instead of epochs (fit cost independent of n)",
                ),
                ("batch_size", p.train.batch_size.to_string(), "batch size"),
                ("lr", p.train.lr.to_string(), "Adam learning rate"),
                (
                    "weight_decay",
                    p.train.weight_decay.to_string(),
                    "L2 weight decay",
                ),
                (
                    "grad_clip",
                    p.train.grad_clip.to_string(),
                    "gradient-norm clip",
                ),
                (
                    "trade_off",
                    p.train.trade_off.to_string(),
                    "weight of the regression (MSE) loss in [0, 1]",
                ),
                (
                    "head_layers",
                    p.head_layers.to_string(),
                    "hidden layers of the regression head",
                ),
                (
                    "head_width",
                    p.head_width.to_string(),
                    "width of the regression head",
                ),
            ]
        };
        let mut emprox = vec![("k", e.k.to_string(), "kNN neighbours (distance-weighted)")];
        emprox.extend(net(&e.net));
        emprox.extend([
            (
                "pretrain",
                e.pretrain.to_string(),
                "unlabelled archs to pre-train the encoder on (0: off); cached in-process",
            ),
            (
                "pretrain_epochs",
                e.pretrain_epochs.to_string(),
                "pre-training epochs",
            ),
            (
                "pretrain_seed",
                e.pretrain_seed.to_string(),
                "pre-training seed",
            ),
        ]);
        vec![
            ("emprox", emprox),
            ("nao", net(&n)),
            (
                "knn_onehot",
                vec![("k", "10".into(), "kNN neighbours on the one-hot encoding")],
            ),
            (
                "gbdt",
                vec![
                    ("max_depth", g.max_depth.to_string(), "maximum tree depth"),
                    ("eta", g.eta.to_string(), "shrinkage"),
                    ("rounds", g.rounds.to_string(), "boosting rounds"),
                    (
                        "min_child_weight",
                        g.min_child_weight.to_string(),
                        "minimum samples per leaf",
                    ),
                    (
                        "lambda",
                        g.lambda.to_string(),
                        "L2 regularisation of leaf weights",
                    ),
                ],
            ),
            (
                "mlp_ensemble",
                vec![
                    (
                        "ensemble_size",
                        m.ensemble_size.to_string(),
                        "number of MLPs",
                    ),
                    ("layers", m.layers.to_string(), "hidden layers"),
                    ("width", m.width.to_string(), "hidden width"),
                    ("epochs", m.epochs.to_string(), "training epochs"),
                    ("batch_size", m.batch_size.to_string(), "batch size"),
                    ("lr", m.lr.to_string(), "Adam learning rate"),
                    (
                        "weight_decay",
                        m.weight_decay.to_string(),
                        "L2 weight decay",
                    ),
                ],
            ),
            ("random", vec![]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::Nb201Space;

    fn parse(s: &str) -> Result<EstimatorConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn defaults_build_for_every_type() {
        for kind in EstimatorKind::ALL {
            let c = EstimatorConfig::new(kind);
            let e = c.build::<Nb201Space>().unwrap();
            assert_eq!(e.name(), kind.as_str());
        }
        let d = EstimatorConfig::describe();
        assert_eq!(d.len(), EstimatorKind::ALL.len());
        for (kind, keys) in d {
            let k = EstimatorKind::ALL
                .iter()
                .find(|k| k.as_str() == kind)
                .unwrap();
            let listed: Vec<&str> = keys.iter().map(|x| x.0).collect();
            assert_eq!(listed, k.keys().to_vec(), "{kind}");
        }
    }

    #[test]
    fn out_of_range_and_foreign_keys_are_clear_errors() {
        let c = parse("type = \"emprox\"\nk = 0").unwrap();
        let e = c.build::<Nb201Space>().err().unwrap().to_string();
        assert!(e.contains("`k` = 0") && e.contains("emprox"), "{e}");
        let c = parse("type = \"gbdt\"\nk = 5").unwrap();
        let e = c.build::<Nb201Space>().err().unwrap().to_string();
        assert!(
            e.contains("key `k` does not apply") && e.contains("max_depth"),
            "{e}"
        );
        let c = parse("type = \"nao\"\ntrade_off = 0.0").unwrap();
        assert!(c.build::<Nb201Space>().is_err());
        let c = parse("type = \"emprox\"\nlr = -1.0").unwrap();
        assert!(c
            .build::<Nb201Space>()
            .err()
            .unwrap()
            .to_string()
            .contains("`lr`"));
        // Unknown keys and types fail at parse time, with a position.
        let e = parse("type = \"emprox\"\nkk = 3").unwrap_err().to_string();
        assert!(e.contains("kk") && e.contains("line 2"), "{e}");
        assert!(parse("type = \"xgboost\"").is_err());
    }

    #[test]
    fn values_reach_the_estimator() {
        let c = parse("type = \"emprox\"\nk = 60\nencoding = \"compact\"\npretrain = 500").unwrap();
        let p = c.emprox_params().unwrap();
        assert_eq!((p.k, p.pretrain), (60, 500));
        assert_eq!(p.net.encoding, SeqEncoding::Compact);
        assert_eq!(c.set_keys().len(), 3);
    }
}
