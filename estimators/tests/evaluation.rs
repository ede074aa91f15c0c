//! The predictor-evaluation protocol on the shipped example file, reduced to a few seconds.

use emprox_estimators::evaluation::{self, PredictorEvalConfig};
use emprox_estimators::EstimatorParams;
use std::path::Path;

const MINIMAL: &str = r#"
[benchmark]
type = "nasbench201"
dataset = "cifar10"

[evaluation]
train_sizes = [121]
test_size = 200
trials = 20
seed = 0

[[estimators]]
type = "emprox"
k = 10

[[estimators]]
type = "nao"
"#;

fn example() -> PredictorEvalConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/predictors_nb201.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap()
}

/// The example with every estimator kept but its training cut to a token amount.
fn tiny(mut cfg: PredictorEvalConfig) -> PredictorEvalConfig {
    cfg.evaluation.train_sizes = vec![10, 25];
    cfg.evaluation.trials = 2;
    cfg.evaluation.trials_per_size.clear();
    cfg.evaluation.test_size = 30;
    for e in &mut cfg.estimators {
        match &mut e.params {
            EstimatorParams::Emprox(p) => {
                p.epochs = 3;
                p.steps = p.steps.map(|_| 3);
                if p.pretrain > 0 {
                    p.pretrain = 50;
                    p.pretrain_epochs = 2;
                }
            }
            EstimatorParams::Nao(p) => {
                p.epochs = 3;
                p.steps = p.steps.map(|_| 3);
            }
            EstimatorParams::MlpEnsemble(p) => p.epochs = 3,
            EstimatorParams::Gbdt(p) => p.rounds = 20,
            EstimatorParams::Mean(m) => {
                for p in &mut m.members {
                    if let EstimatorParams::Emprox(p) = p {
                        p.epochs = 3;
                        if p.pretrain > 0 {
                            p.pretrain = 50;
                            p.pretrain_epochs = 2;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    cfg
}

#[test]
fn minimal_file_from_the_issue_is_accepted() {
    let cfg: PredictorEvalConfig = toml::from_str(MINIMAL).unwrap();
    let est = cfg.validate(Path::new(".")).unwrap();
    assert_eq!(est.len(), 2);
    assert_eq!(cfg.evaluation.trials_for(121), 20);
    let bad = MINIMAL.replace("trials = 20", "trials = 20\ntrails = 3");
    let e = toml::from_str::<PredictorEvalConfig>(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("trails"), "{e}");
}

#[test]
fn shipped_example_validates_and_a_tiny_run_writes_all_evidence() {
    let full = example();
    let labels: Vec<String> = full.validate(Path::new(".")).unwrap();
    assert!(full.evaluation.trials >= 20 && full.evaluation.trials_for(121) > 20);
    assert_eq!(
        full.evaluation.train_sizes,
        vec![10, 25, 50, 121, 200, 400, 1000]
    );
    for kind in EstimatorParams::all() {
        assert!(
            full.estimators
                .iter()
                .any(|e| e.params.name() == kind.name()),
            "{kind:?} missing"
        );
    }

    let cfg = tiny(full);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    let outcome = evaluation::run(&cfg, &out, dir.path(), &|_| {}).unwrap();
    assert_eq!(outcome.summary.len(), labels.len() * 2);
    for f in [
        "results.csv",
        "predictions.csv",
        "splits.json",
        "summary.json",
        "summary.md",
        "tau_vs_n.svg",
        "tau_vs_fit_time.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(
        preds.lines().next().unwrap(),
        "trial,estimator,train_size,index,arch,true,predicted"
    );
    assert_eq!(preds.lines().count(), 1 + labels.len() * 2 * 2 * 30);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + labels.len() * 2 * 2);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = summary["results"].as_array().unwrap();
    assert_eq!(rows.len(), labels.len() * 2);
    for r in rows {
        for key in [
            "kendall_tau_mean",
            "kendall_tau_std",
            "spearman_mean",
            "pearson_mean",
            "precision_at_10_mean",
            "fit_seconds_mean",
            "query_seconds_per_arch_mean",
        ] {
            assert!(r[key].is_number(), "{key} missing in {r}");
        }
        assert!(labels.contains(&r["estimator"].as_str().unwrap().to_string()));
        assert!(r["train_size"].is_u64());
    }
    let svg = std::fs::read_to_string(out.join("tau_vs_n.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("emprox"));

    // The written splits, read back, reproduce every prediction exactly.
    let mut again = cfg.clone();
    again.evaluation.splits = Some("a/splits.json".into());
    again.evaluation.seed = 999; // ignored for splits; estimators draw from the trial seeds
    let out2 = dir.path().join("b");
    evaluation::run(&again, &out2, dir.path(), &|_| {}).unwrap();
    let splits_a = std::fs::read_to_string(out.join("splits.json")).unwrap();
    let splits_b = std::fs::read_to_string(out2.join("splits.json")).unwrap();
    assert_eq!(splits_a, splits_b);
    let preds2 = std::fs::read_to_string(out2.join("predictions.csv")).unwrap();
    let firsts = |p: &str| -> Vec<String> {
        p.lines()
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
            .collect()
    };
    // Same architectures and truths in the same order (estimator seeds differ with `seed`).
    assert_eq!(firsts(&preds), firsts(&preds2));
}

#[test]
fn inconsistent_files_are_rejected_with_reasons() {
    let mut cfg: PredictorEvalConfig = toml::from_str(MINIMAL).unwrap();
    cfg.evaluation.train_sizes = vec![6400];
    let e = cfg.validate(Path::new(".")).err().unwrap().to_string();
    assert!(
        e.contains("the 6466 isomorphism classes of nasbench201"),
        "{e}"
    );
    let mut cfg: PredictorEvalConfig = toml::from_str(MINIMAL).unwrap();
    cfg.estimators.push(cfg.estimators[0].clone());
    assert!(cfg
        .validate(Path::new("."))
        .err()
        .unwrap()
        .to_string()
        .contains("name"));
    let mut cfg: PredictorEvalConfig = toml::from_str(MINIMAL).unwrap();
    cfg.evaluation.trials_per_size.insert("50".into(), 3);
    assert!(cfg
        .validate(Path::new("."))
        .err()
        .unwrap()
        .to_string()
        .contains("trials_per_size"));
}
