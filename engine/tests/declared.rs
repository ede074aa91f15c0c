//! Searches on a declared space (`examples/declared_command.toml`, scored by a deterministic
//! script): every strategy and the EmProx filter give journals of valid, distinct, pairwise
//! non-isomorphic members, and the same seed (or a killed and resumed run) gives the same
//! journal byte for byte. Declared cells trained by `train` (`examples/declared_train.toml`),
//! and declared spaces joined to a table (`examples/declared_nb201_table.toml`: the built-in
//! NAS-Bench-201's distribution; a member not in the table a failed trial; `eval-predictors`).

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

const JOINED: &str = "examples/declared_nb201_table.toml";

/// The best test accuracy of each run of `summary.json` in `out`.
fn best_tests(out: &Path) -> Vec<f64> {
    let sm = common::summary(out);
    let runs = sm["runs"].as_array().unwrap();
    runs.iter()
        .map(|r| r["best"]["test_acc"].as_f64().unwrap())
        .collect()
}

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical
/// distribution functions.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let cdf = |x: &[f64], t: f64| x.iter().filter(|&&v| v <= t).count() as f64 / x.len() as f64;
    a.iter()
        .chain(b)
        .map(|&t| (cdf(a, t) - cdf(b, t)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn declared_nb201_joined_to_the_table_matches_the_built_in_benchmark() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = 100usize;
    let built_in = tmp.path().join("built_in.toml");
    let text = std::fs::read_to_string(root().join(JOINED)).unwrap();
    let (head, rest) = text.split_once("[benchmark]").unwrap();
    let tail = &rest[rest.find("[strategy]").unwrap()..];
    std::fs::write(
        &built_in,
        format!("{head}[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\n{tail}"),
    )
    .unwrap();
    let joined = root().join(JOINED);
    for strategy in ["random", "regularized_evolution"] {
        let mut found = Vec::new();
        for (name, file) in [("built_in", &built_in), ("joined", &joined)] {
            let out = tmp.path().join(format!("{strategy}-{name}"));
            emprox_ok(&[
                "run",
                s(file),
                "--out",
                s(&out),
                "-q",
                "--seeds",
                &runs.to_string(),
                "--set",
                &format!("strategy.type={strategy}"),
            ]);
            found.push(best_tests(&out));
        }
        let (a, b) = (&found[0], &found[1]);
        assert_eq!((a.len(), b.len()), (runs, runs));
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        let sd = |x: &[f64]| {
            let m = mean(x);
            (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
        };
        // Same distribution, other random numbers: the means within 3 standard errors, and the
        // KS statistic under its 1% critical value, 1.628·√(2/n) (0.230 at n = 100).
        let se = ((sd(a).powi(2) + sd(b).powi(2)) / runs as f64).sqrt();
        let d = ks(a, b);
        eprintln!(
            "{strategy}: built-in {:.3} ± {:.3}, joined {:.3} ± {:.3}, KS D = {d:.3}",
            mean(a),
            sd(a),
            mean(b),
            sd(b)
        );
        assert!((mean(a) - mean(b)).abs() < 3.0 * se, "{strategy}: se {se}");
        assert!(
            d < 1.628 * (2.0 / runs as f64).sqrt(),
            "{strategy}: KS D = {d}"
        );
    }
}

#[test]
fn a_member_not_in_the_table_is_a_failed_trial_that_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    // The NB201 cell with a sixth op the table has not: its members are not in the table.
    let space = tmp.path().join("six.space.toml");
    let nb201 = std::fs::read_to_string(root().join("examples/spaces/nb201.space.toml")).unwrap();
    std::fs::write(
        &space,
        nb201.replace("\"avg_pool_3x3\"]", "\"avg_pool_3x3\", \"sep_conv_3x3\"]"),
    )
    .unwrap();
    let file = tmp.path().join("six.toml");
    let text = common::example_anywhere("declared_nb201_table.toml").replace(
        &format!("{:?}", s(&root().join("examples/spaces/nb201.space.toml"))),
        &format!("{:?}", s(&space)),
    );
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    emprox_ok(&["run", s(&file), "--out", s(&out), "-q", "--seeds", "1"]);
    let records = lines(&out.join("seed-0/trials.jsonl"));
    let (failed, found): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.get("error").is_some());
    assert_eq!(records.len(), 150);
    for r in &failed {
        assert_eq!(r["error"], "not in the table nb201-cifar10", "{r}");
        assert!(r["arch"].as_str().unwrap().contains("=sep_conv_3x3"), "{r}");
        assert!(r["val_acc"].is_null(), "{r}");
    }
    for r in &found {
        assert!(!r["arch"].as_str().unwrap().contains("sep_conv_3x3"), "{r}");
        assert!(r["val_acc"].as_f64().unwrap() > 0.0, "{r}");
    }
    // 1 - (5/6)^6 ≈ 67% of uniform members have the sixth op: evolution still finds both kinds.
    assert!(!failed.is_empty() && !found.is_empty());
    // The same seed at one thread: the same journal, failures included, byte for byte.
    let one = tmp.path().join("one");
    emprox_ok(&[
        "run",
        s(&file),
        "--out",
        s(&one),
        "-q",
        "--seeds",
        "1",
        "--threads",
        "1",
    ]);
    let read = |d: &Path| std::fs::read(d.join("seed-0/trials.jsonl")).unwrap();
    assert_eq!(read(&one), read(&out));
    let sm = common::summary(&out);
    assert_eq!(
        sm["runs"][0]["failed"].as_u64().unwrap() as usize,
        failed.len()
    );
}

#[test]
fn predictors_are_evaluated_on_a_declared_space_joined_to_the_nb301_subset() {
    let tmp = tempfile::tempdir().unwrap();
    let text = common::example_anywhere("predictors_nb301_declared.toml")
        .replace("train_sizes = [100, 400]", "train_sizes = [20]")
        .replace("trials = 5", "trials = 1")
        .replace("pretrain = 2000", "pretrain = 50");
    let file = tmp.path().join("p.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    emprox_ok(&["eval-predictors", s(&file), "--out", s(&out), "-q"]);
    let sm = common::summary(&out);
    let rows = sm["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{sm}");
    for r in rows {
        let tau = r["kendall_tau_mean"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&tau), "{r}");
    }
    // The splits name labelled members by their place among the 1,218 joined rows.
    let splits: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("splits.json")).unwrap()).unwrap();
    let t = &splits["trials"][0];
    let all: Vec<u64> = t["train"]
        .as_array()
        .unwrap()
        .iter()
        .chain(t["test"].as_array().unwrap())
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), 220);
    assert!(all.iter().all(|&i| i < 1218));
    assert_eq!(splits["space"], "darts-declared");
}
