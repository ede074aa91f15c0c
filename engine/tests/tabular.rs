//! Any table, without code: a benchmark the project has never seen, given only as a CSV and a
//! description, is searched by every strategy, with and without the EmProx filter; NAS-Bench-201
//! through the generic path behaves as the built-in one.

mod common;
use common::*;
use emprox_benchmarks::tabular::synthetic::{synthetic_optimum, write_synthetic_benchmark};
use emprox_benchmarks::tabular::TabularBenchmark;
use emprox_benchmarks::SearchSpace;
use std::path::Path;

fn experiment(dir: &Path, name: &str, benchmark: &str, strategy: &str, filter: bool) -> String {
    let mut text = format!(
        "name = {name:?}\nseeds = 2\n[benchmark]\n{benchmark}\n[strategy]\ntype = {strategy:?}\n\
         [budget]\nmax_queries = 60\n"
    );
    if filter {
        text.push_str(
            "[estimator]\ntype = \"emprox\"\npretrain = 300\npretrain_epochs = 5\n\
             [filter]\nwarmup = 20\ncandidates = 50\ntop_k = 5\nrefit_every = 10\n",
        );
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn an_unseen_table_is_searched_by_every_strategy_with_and_without_the_filter() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 30_000, 11, "cora").unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let optimum = synthetic_optimum(0);
    let best_val = bench.table().objective()[bench.table().best_row()];
    // Relative to the experiment file's folder.
    let benchmark = "type = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"";
    for strategy in ["random", "regularized_evolution", "local_search"] {
        for filter in [false, true] {
            let name = format!("{strategy}-{filter}");
            let file = experiment(t.path(), &name, benchmark, strategy, filter);
            let out = t.path().join("out").join(&name);
            // Run from another folder: the description path is the file's, not the cwd's.
            let o = bin()
                .args(["run", &file, "--out", s(&out)])
                .current_dir(t.path())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            for run in 0..2 {
                let trials = lines(&out.join(format!("seed-{run}/trials.jsonl")));
                assert_eq!(trials.len(), 60, "{name}");
                let mut seen = std::collections::HashSet::new();
                for tr in &trials {
                    // Every journaled architecture is a row of the table, evaluated once.
                    let arch = tr["arch"].as_str().unwrap();
                    let cell = bench.space.parse(arch).unwrap();
                    assert_eq!(tr["index"].as_u64(), bench.space.index(&cell));
                    assert!(seen.insert(arch.to_string()), "{name}: {arch} twice");
                    let v = tr["val_acc"].as_f64().unwrap();
                    assert!((0.0..=1.0).contains(&v), "fractions stay fractions: {v}");
                    assert!(v <= best_val);
                }
                if filter {
                    assert!(trials[20..].iter().all(|t| t["predicted"].is_number()));
                }
            }
            let summary: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
            assert!(
                summary["dataset"].as_str().unwrap().contains("cora"),
                "{summary}"
            );
            assert!(summary["mean_best_val_acc"].as_f64().unwrap() > 0.0);
        }
    }
    // The optimum the generator planted is the table's best.
    let cell = bench.space.parse(&optimum.arch).unwrap();
    assert_eq!(bench.table().objective()[cell.row()], best_val);
}

#[test]
fn a_minimised_objective_is_minimised() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 5_000, 3, "citeseer").unwrap();
    let text = std::fs::read_to_string(&desc)
        .unwrap()
        .replace(
            "objective = { column = \"val_acc\", goal = \"maximize\" }",
            "objective = { column = \"latency_ms\", goal = \"minimize\" }",
        )
        .replace(
            "extras = [\"latency_ms\", \"params\"]",
            "extras = [\"params\"]",
        );
    std::fs::write(&desc, text).unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let lowest = bench
        .table()
        .objective()
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min);
    let file = experiment(
        t.path(),
        "lat",
        "type = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"",
        "regularized_evolution",
        false,
    );
    let out = t.path().join("lat-out");
    emprox_ok(&[
        "run",
        &file,
        "--out",
        s(&out),
        "--set",
        "budget.max_queries=400",
    ]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    let vals: Vec<f64> = trials
        .iter()
        .map(|t| t["val_acc"].as_f64().unwrap())
        .collect();
    let min = vals.iter().cloned().fold(f64::MAX, f64::min);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("seed-0/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"][0]["best"]["val_acc"].as_f64().unwrap(), min);
    // The incumbent flags mark each new minimum.
    let mut best = f64::MAX;
    for (t, v) in trials.iter().zip(&vals) {
        assert_eq!(t["incumbent"].as_bool().unwrap(), *v < best);
        best = best.min(*v);
    }
    // Evolution towards low latency beats the median row by far.
    let mut all = bench.table().objective().to_vec();
    all.sort_by(f64::total_cmp);
    assert!(min < all[all.len() / 20], "found {min}, table min {lowest}");
}

#[test]
fn nb201_through_the_generic_path_matches_the_built_in() {
    let t = tempfile::tempdir().unwrap();
    let desc = root().join("benchmarks/data/nb201_cifar10.tabular.toml");
    for strategy in ["random", "regularized_evolution"] {
        let mut stats = Vec::new();
        for benchmark in [
            "type = \"nasbench201\"\ndataset = \"cifar10\"".to_string(),
            format!(
                "type = \"tabular\"\ndescription = {:?}",
                desc.to_str().unwrap()
            ),
        ] {
            let name = format!("{strategy}-{}", stats.len());
            let file = experiment(t.path(), &name, &benchmark, strategy, false);
            let out = t.path().join(&name);
            emprox_ok(&[
                "run",
                &file,
                "--out",
                s(&out),
                "--seeds",
                "100",
                "--set",
                "budget.max_queries=150",
            ]);
            let sm: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
            let found = sm["runs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["best"]["val_acc"].as_f64().unwrap() >= 91.6067 - 1e-9)
                .count();
            stats.push((
                sm["mean_best_test_acc"].as_f64().unwrap(),
                sm["std_best_test_acc"].as_f64().unwrap(),
                found,
            ));
        }
        let ((m0, s0, f0), (m1, s1, f1)) = (stats[0], stats[1]);
        // Same distribution, other random numbers: the means agree within 3 standard errors.
        let se = ((s0 * s0 + s1 * s1) / 100.0).sqrt();
        assert!(
            (m0 - m1).abs() < 3.0 * se,
            "{strategy}: {m0} vs {m1} (se {se})"
        );
        eprintln!("{strategy}: built-in {m0:.3} ± {s0:.3} ({f0} found) vs tabular {m1:.3} ± {s1:.3} ({f1} found)");
    }
}
