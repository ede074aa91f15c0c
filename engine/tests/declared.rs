//! Searches on a declared space (`examples/declared_command.toml`, scored by a deterministic
//! script): every strategy and the EmProx filter give journals of valid, distinct, pairwise
//! non-isomorphic members, and the same seed (or a killed and resumed run) gives the same
//! journal byte for byte.

mod common;

use common::{emprox, emprox_ok, lines, root, s};
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::declared::DeclaredSpace;
use emprox_benchmarks::SearchSpace;
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const EXAMPLE: &str = "examples/declared_command.toml";

/// The example's space, as the Rust side reads it.
fn space() -> DeclaredSpace {
    let text = std::fs::read_to_string(root().join(EXAMPLE)).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let b: BenchmarkConfig = table["benchmark"].clone().try_into().unwrap();
    b.declared_space().unwrap()
}

/// Checks every journal of `dir`: each arch parses back to a valid member (inactive dimensions
/// left out), no member and no isomorphism class is queried twice, every evaluation succeeded.
fn check_journals(dir: &Path, seeds: usize, queries: usize) {
    let sp = space();
    for i in 0..seeds {
        let records = lines(&dir.join(format!("seed-{i}/trials.jsonl")));
        assert_eq!(records.len(), queries, "seed-{i}");
        let mut archs = HashSet::new();
        let mut keys = HashSet::new();
        for r in &records {
            let arch = r["arch"].as_str().unwrap();
            assert!(r.get("error").is_none(), "{r}");
            let cell = sp.parse(arch).unwrap();
            assert!(sp.is_valid(&cell), "{arch}");
            assert_eq!(sp.format(&cell), arch);
            let depth: usize = arch[6..7].parse().unwrap();
            assert_eq!(arch.contains("width3="), depth >= 3, "{arch}");
            assert_eq!(arch.contains("width4="), depth == 4, "{arch}");
            assert!(r["index"].is_null(), "a declared space has no index: {r}");
            assert!(archs.insert(arch.to_string()), "{arch} queried twice");
            assert!(
                keys.insert(sp.iso_key(&cell)),
                "{arch}: an isomorph was queried before"
            );
        }
    }
}

#[test]
fn every_strategy_and_the_filter_search_a_declared_space() {
    let tmp = tempfile::tempdir().unwrap();
    let filter = [
        "estimator.type=emprox",
        "estimator.pretrain=200",
        "filter.candidates=20",
        "filter.top_k=4",
        "filter.warmup=10",
        "filter.refit_every=5",
    ];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("random", vec!["strategy.type=random"]),
        ("re", vec![]),
        (
            "ls",
            vec!["strategy.type=local_search", "strategy.num_init=5"],
        ),
        ("re_emprox", filter.to_vec()),
    ];
    for (name, sets) in cases {
        let out = tmp.path().join(name);
        let mut args = vec!["run", EXAMPLE, "--out", s(&out), "-q"];
        for x in &sets {
            args.extend(["--set", x]);
        }
        emprox_ok(&args);
        check_journals(&out, 2, 30);
        if name == "re_emprox" {
            let predicted = lines(&out.join("seed-0/trials.jsonl"))
                .iter()
                .filter(|r| r.get("predicted").is_some_and(|p| p.is_number()))
                .count();
            assert!(
                predicted >= 10,
                "the filter scored the queries after warm-up"
            );
        }
    }
}

#[test]
fn the_same_seed_and_a_killed_and_resumed_run_give_the_same_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let read = |d: &Path| -> Vec<Vec<u8>> {
        (0..2)
            .map(|i| std::fs::read(d.join(format!("seed-{i}/trials.jsonl"))).unwrap_or_default())
            .collect()
    };
    let (a, b, killed) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("k"),
    );
    emprox_ok(&["run", EXAMPLE, "--out", s(&a), "-q"]);
    emprox_ok(&["run", EXAMPLE, "--out", s(&b), "-q", "--threads", "1"]);
    assert_eq!(read(&a), read(&b));
    check_journals(&a, 2, 30);
    // Killed a while after the folder exists, then resumed.
    let mut child = common::bin()
        .args(["run", EXAMPLE, "--out", s(&killed), "--throttle-ms", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !killed.join("run.json").exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = read(&killed);
    assert!(partial.iter().map(Vec::len).sum::<usize>() < read(&a).iter().map(Vec::len).sum());
    emprox_ok(&["resume", s(&killed)]);
    assert_eq!(read(&killed), read(&a));
}

#[test]
fn a_declared_space_needs_an_evaluator_and_train_needs_one_cell_of_its_ops() {
    let o = emprox(&[
        "run",
        EXAMPLE,
        "--set",
        "evaluator.type=nasbench201",
        "--out",
        "/nonexistent/never",
    ]);
    common::assert_refused(&o, "needs [evaluator] type = \"command\" or \"slurm\"");
    // The example's macro space has other dimensions than a cell: train cannot build it.
    let o = emprox(&[
        "run",
        EXAMPLE,
        "--set",
        "evaluator.type=train",
        "--out",
        "/nonexistent/never",
    ]);
    common::assert_refused(&o, "[benchmark.space] dimension \"depth\": [evaluator] type = \"train\" trains a space of exactly one");
    // An op train cannot build, named with its key, before anything is trained or written.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(TRAIN)).unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, text.replace("\"avg_pool_3x3\"]", "\"sep_conv_3x3\"]")).unwrap();
    let out = tmp.path().join("out");
    let o = emprox(&["run", s(&bad), "--out", s(&out)]);
    common::assert_refused(
        &o,
        "[benchmark.space] dimension \"cell\", `ops`: \"sep_conv_3x3\" is not an op",
    );
    assert!(!out.exists());
}

const TRAIN: &str = "examples/declared_train.toml";

#[test]
fn declared_cells_of_three_and_five_nodes_train_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(TRAIN)).unwrap();
    for nodes in [3usize, 5] {
        let file = tmp.path().join(format!("cell{nodes}.toml"));
        std::fs::write(
            &file,
            text.replace("nodes = 5", &format!("nodes = {nodes}")),
        )
        .unwrap();
        let out = tmp.path().join(format!("out{nodes}"));
        emprox_ok(&[
            "run",
            s(&file),
            "--out",
            s(&out),
            "-q",
            "--set",
            "budget.max_queries=3",
            "--set",
            "evaluator.training.epochs=1",
            "--set",
            "evaluator.training.channels=4",
            "--set",
            "evaluator.training.max_train_images=200",
        ]);
        let records = lines(&out.join("seed-0/trials.jsonl"));
        assert_eq!(records.len(), 3, "{nodes} nodes");
        for r in &records {
            assert!(r.get("error").is_none(), "{r}");
            let arch = r["arch"].as_str().unwrap();
            // One pair per edge: nodes·(nodes-1)/2.
            assert_eq!(arch.split(' ').count(), nodes * (nodes - 1) / 2, "{arch}");
            assert!(
                arch.contains(&format!("cell[{}<-{}]=", nodes - 1, nodes - 2)),
                "{arch}"
            );
            let val = r["val_acc"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&val), "{r}");
            assert!(r["test_acc"].as_f64().is_some(), "{r}");
        }
    }
}
