//! End-to-end tests of the `emprox` binary on the shipped examples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn emprox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emprox"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("binary runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_example(file: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", file, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = emprox(&args);
    assert!(
        o.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    json(&out.join("summary.json"))
}

#[test]
fn every_search_example_runs_and_writes_its_results() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, strategy) in [
        ("examples/nb201_random.toml", "random"),
        ("examples/nb201_evolution.toml", "regularized_evolution"),
        ("examples/nb201_local_search.toml", "local_search"),
    ] {
        let out = tmp.path().join(strategy);
        let s = run_example(file, &out, &[]);
        assert_eq!(s["strategy"], strategy);
        assert_eq!(s["dataset"], "cifar10");
        let runs = s["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 20);
        for r in runs {
            assert_eq!(r["queries"], 150);
            let best = &r["best"];
            // No cell beats the benchmark's optimum; the best validation is what the journal says.
            assert!(best["val_acc"].as_f64().unwrap() <= 91.6067);
            let q = r["first_query_reaching_best"].as_u64().unwrap();
            assert!((1..=150).contains(&q));
        }
        for f in [
            "config.resolved.toml",
            "incumbent.svg",
            "seed-0/trials.jsonl",
            "seed-0/timings.jsonl",
            "seed-0/trajectory.csv",
            "seed-0/summary.json",
            "seed-0/incumbent.svg",
        ] {
            assert!(out.join(f).exists(), "{strategy}: missing {f}");
        }
        // The journal: 150 lines, 1-based queries, cumulative cost, incumbents by validation.
        let text = std::fs::read_to_string(out.join("seed-3/trials.jsonl")).unwrap();
        let trials: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(trials.len(), 150);
        let mut sim = 0.0;
        let mut best = f64::MIN;
        let mut indices = std::collections::HashSet::new();
        for (i, t) in trials.iter().enumerate() {
            assert_eq!(t["query"].as_u64().unwrap(), i as u64 + 1);
            sim += t["cost_seconds"].as_f64().unwrap();
            assert!((t["sim_seconds"].as_f64().unwrap() - sim).abs() < 1e-6);
            let v = t["val_acc"].as_f64().unwrap();
            assert_eq!(t["incumbent"].as_bool().unwrap(), v > best);
            best = best.max(v);
            assert!(
                indices.insert(t["index"].as_u64().unwrap()),
                "a query is a cell not yet evaluated"
            );
            assert!(t.get("wall_seconds").is_none());
        }
        let run3 = &runs[3];
        assert_eq!(run3["best"]["val_acc"].as_f64().unwrap(), best);
    }
}

#[test]
fn same_seed_gives_identical_journals_at_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_example(
        "examples/nb201_evolution.toml",
        &a,
        &["--threads", "1", "--seeds", "6"],
    );
    run_example(
        "examples/nb201_evolution.toml",
        &b,
        &["--threads", "2", "--seeds", "6"],
    );
    for i in 0..6 {
        let f = format!("seed-{i}/trials.jsonl");
        assert_eq!(
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
    }
    let c = tmp.path().join("c");
    run_example(
        "examples/nb201_evolution.toml",
        &c,
        &["--seed", "1", "--seeds", "1"],
    );
    assert_ne!(
        std::fs::read(a.join("seed-0/trials.jsonl")).unwrap(),
        std::fs::read(c.join("seed-0/trials.jsonl")).unwrap(),
        "another master seed gives another run"
    );
}

/// Run seeds hash (master seed, run number): the runs of `--seed 1` and `--seed 2` share no
/// seed (with a sum, run k of one was run k + 1 of the other), every seed fits JSON's exact
/// integers (below 2^53), and the same master seed gives the same bytes.
#[test]
fn neighbouring_master_seeds_share_no_run() {
    let tmp = tempfile::tempdir().unwrap();
    let args = |s: &'static str| {
        [
            "--seed",
            s,
            "--seeds",
            "5",
            "--set",
            "budget.max_queries=10",
        ]
    };
    let run_seeds = |v: &serde_json::Value| -> Vec<u64> {
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seed"].as_u64().unwrap())
            .collect()
    };
    let one = run_seeds(&run_example(
        "examples/nb201_random.toml",
        &tmp.path().join("s1"),
        &args("1"),
    ));
    let two = run_seeds(&run_example(
        "examples/nb201_random.toml",
        &tmp.path().join("s2"),
        &args("2"),
    ));
    assert!(
        one.iter().all(|s| !two.contains(s)),
        "{one:?} and {two:?} share a run"
    );
    for s in one.iter().chain(&two) {
        assert!(*s < 1 << 53, "seed {s} is not exact in JSON");
    }
    // Run 1 of seed 1 is not run 0 of seed 2 (nor any other run of it).
    let t1 = std::fs::read(tmp.path().join("s1/seed-1/trials.jsonl")).unwrap();
    let t2 = std::fs::read(tmp.path().join("s2/seed-0/trials.jsonl")).unwrap();
    assert_ne!(t1, t2);
    run_example(
        "examples/nb201_random.toml",
        &tmp.path().join("s1b"),
        &args("1"),
    );
    for i in 0..5 {
        let f = format!("seed-{i}/trials.jsonl");
        assert_eq!(
            std::fs::read(tmp.path().join("s1").join(&f)).unwrap(),
            std::fs::read(tmp.path().join("s1b").join(&f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn overrides_switch_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c100");
    let s = run_example(
        "examples/nb201_random.toml",
        &out,
        &[
            "--set",
            "benchmark.dataset=cifar100",
            "--seeds",
            "2",
            "--set",
            "budget.max_queries=40",
        ],
    );
    assert_eq!(s["dataset"], "cifar100");
    assert_eq!(s["runs"][0]["queries"], 40);
    assert!(
        s["mean_best_test_acc"].as_f64().unwrap() < 74.0,
        "CIFAR-100 accuracies are below 73.52"
    );
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo_root().join("examples/nb201_evolution.toml")).unwrap();
    let cases = [
        (
            "malformed.toml",
            good.replace("seed = 0", "seed = = 0"),
            "malformed.toml:4",
        ),
        (
            "strategy.toml",
            good.replace("\"regularized_evolution\"", "\"genetic\""),
            "unknown variant `genetic`",
        ),
        (
            "dataset.toml",
            good.replace("\"cifar10\"", "\"cifar11\""),
            "did you mean `cifar10`",
        ),
        (
            "budget.toml",
            good.replace("max_queries = 150", ""),
            "[budget]",
        ),
    ];
    for (name, text, needle) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        let o = emprox(&[
            "run",
            p.to_str().unwrap(),
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(!err.contains("panicked"));
        assert!(
            !tmp.path().join("o").exists(),
            "no output folder after a config error"
        );
    }
    let o = emprox(&["run", "does/not/exist.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does/not/exist.toml"));
}

#[test]
fn show_prints_the_best_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ls");
    let s = run_example("examples/nb201_local_search.toml", &out, &["--seeds", "3"]);
    let o = emprox(&["show", out.to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("overall best"));
    let best_arch = s["runs"][0]["best"]["arch"].as_str().unwrap();
    assert!(text.contains(best_arch));
    // A second run into the same folder is refused.
    let o = emprox(&[
        "run",
        "examples/nb201_local_search.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("emprox resume"));
}
