//! `examples/declared_space_command.toml` end to end: a declared MLP space searched by
//! regularized evolution with the EmProx filter, every member really trained on the shipped
//! digits by `examples/declared_space_train.py` (numpy). Without numpy every trial fails, saying
//! `pip install numpy`; under `.ci/run` (`EMPROX_CI` set), which installs numpy, a missing numpy
//! fails the test instead.

mod common;

use common::{emprox, lines, root, s};
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::SearchSpace;
use std::process::Command;

const EXAMPLE: &str = "examples/declared_space_command.toml";

/// Whether the `python3` on PATH (the one the example runs) imports numpy.
fn has_numpy() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The example cut short: one run of `queries` queries, a small pre-training sample.
fn short_run(out: &std::path::Path, queries: usize) -> std::process::Output {
    let q = format!("budget.max_queries={queries}");
    emprox(&[
        "run",
        EXAMPLE,
        "--out",
        s(out),
        "-q",
        "--seeds",
        "1",
        "--set",
        &q,
        "--set",
        "estimator.pretrain=100",
        "--set",
        "filter.warmup=6",
        "--set",
        "filter.refit_every=3",
    ])
}

#[test]
fn the_example_trains_every_member_it_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    if !has_numpy() {
        assert!(
            std::env::var_os("EMPROX_CI").is_none(),
            "python3 has no numpy, which .ci/run installs: the example cannot train"
        );
        eprintln!("python3 has no numpy: checking that every trial fails saying so");
        let o = short_run(&out, 3);
        assert_eq!(o.status.code(), Some(1), "no trial succeeded: exit 1");
        let records = lines(&out.join("seed-0/trials.jsonl"));
        assert_eq!(records.len(), 3);
        for r in records {
            let e = r["error"].as_str().unwrap_or_default();
            assert!(e.contains("pip install numpy"), "{r}");
        }
        return;
    }
    let o = short_run(&out, 12);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(root().join(EXAMPLE)).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let b: BenchmarkConfig = table["benchmark"].clone().try_into().unwrap();
    let space = b.declared_space().unwrap();
    let records = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(records.len(), 12);
    let mut best: f64 = 0.0;
    for r in &records {
        assert!(r.get("error").is_none(), "{r}");
        let arch = r["arch"].as_str().unwrap();
        let cell = space.parse(arch).unwrap();
        assert!(space.is_valid(&cell), "{arch}");
        let depth = space.components(&cell)[0].1.parse::<usize>().unwrap();
        for (k, layer) in [("width2=", 2), ("width3=", 3)] {
            assert_eq!(arch.contains(k), depth >= layer, "{arch}");
        }
        let (val, test) = (
            r["val_acc"].as_f64().unwrap(),
            r["test_acc"].as_f64().unwrap(),
        );
        // Ten digits: a trained network is far above chance (10%), an untrained one near it.
        assert!(
            (0.0..=100.0).contains(&val) && (0.0..=100.0).contains(&test),
            "{r}"
        );
        best = best.max(val);
    }
    assert!(
        best > 80.0,
        "the best of 12 trained MLPs reaches only {best}%"
    );
    let predicted = records
        .iter()
        .filter(|r| r["predicted"].is_number())
        .count();
    assert!(
        predicted >= 6,
        "EmProx scored the queries after the warm-up"
    );
}

#[test]
fn a_member_and_a_seed_give_the_same_accuracies() {
    if !has_numpy() {
        assert!(
            std::env::var_os("EMPROX_CI").is_none(),
            "python3 has no numpy"
        );
        return;
    }
    let examples = root().join("examples");
    let train = |seed: &str| {
        let o = Command::new("python3")
            .current_dir(&examples)
            .env("OPENBLAS_NUM_THREADS", "1")
            .args([
                "declared_space_train.py",
                r#"{"depth": 2, "width1": 64, "width2": 32, "activation": "relu", "lr": 0.1}"#,
                "--seed",
                seed,
                "--epochs",
                "3",
                "--data",
                "../benchmarks/data/sklearn_digits_8x8.csv.gz",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        line
    };
    let (a, b) = (train("7"), train("7"));
    assert_eq!(a, b);
    // 64 inputs, 64 and 32 hidden units, 10 classes.
    assert_eq!(a["params"], 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10);
    assert!(a["val_acc"].as_f64().unwrap() > 80.0, "{a}");
}
