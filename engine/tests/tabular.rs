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

/// The `summary.json` rows of an evaluation folder: (estimator, train size) -> mean Kendall tau.
fn taus(out: &Path) -> std::collections::BTreeMap<(String, u64), f64> {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    summary["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let tau = r["kendall_tau_mean"].as_f64().unwrap();
            assert!(tau.is_finite(), "{r}");
            (
                (
                    r["estimator"].as_str().unwrap().to_string(),
                    r["train_size"].as_u64().unwrap(),
                ),
                tau,
            )
        })
        .collect()
}

/// A reduced copy of a shipped predictor-evaluation example (its description made absolute,
/// fewer sizes and trials, NAO's epochs cut), written to `dir`.
fn reduced_example(dir: &Path, example: &str, train_size: i64, trials: i64) -> String {
    let text = std::fs::read_to_string(root().join("examples").join(example)).unwrap();
    let mut t: toml::Table = toml::from_str(&text).unwrap();
    let b = t["benchmark"].as_table_mut().unwrap();
    let desc = root()
        .join("examples")
        .join(b["description"].as_str().unwrap());
    b.insert("description".into(), desc.to_str().unwrap().into());
    let e = t["evaluation"].as_table_mut().unwrap();
    e.insert("train_sizes".into(), vec![train_size].into());
    e.insert("trials".into(), trials.into());
    for est in t["estimators"].as_array_mut().unwrap() {
        let est = est.as_table_mut().unwrap();
        if est["type"].as_str() == Some("nao") {
            est.insert("epochs".into(), 3.into());
        }
    }
    let p = dir.join(example);
    std::fs::write(&p, toml::to_string(&t).unwrap()).unwrap();
    p.to_str().unwrap().to_string()
}

/// Every estimator of the example runs on the tabular space, and the model-based ones rank
/// clearly better than the random baseline.
fn check_example(example: &str, train_size: i64, gbdt_margin: f64, emprox_margin: f64) {
    let t = tempfile::tempdir().unwrap();
    let file = reduced_example(t.path(), example, train_size, 3);
    let out = t.path().join("out");
    emprox_ok(&["eval-predictors", &file, "--out", s(&out)]);
    let taus = taus(&out);
    let n = train_size as u64;
    let tau = |e: &str| taus[&(e.to_string(), n)];
    for e in [
        "emprox",
        "emprox_supervised",
        "knn_onehot",
        "gbdt",
        "mlp_ensemble",
        "random",
    ] {
        assert!(taus.contains_key(&(e.to_string(), n)), "{e} missing");
    }
    let random = tau("random");
    assert!(
        tau("gbdt") > random + gbdt_margin,
        "{example}: gbdt {} vs random {random}",
        tau("gbdt")
    );
    assert!(
        tau("emprox") > random + emprox_margin,
        "{example}: emprox {} vs random {random}",
        tau("emprox")
    );
    // The supervised embedding is what makes EmProx rank beyond NAS-Bench-201 (docs/results.md:
    // 0.36 against 0.14 on NB101 at n = 150, 0.65 against 0.13 on NB301 at n = 400).
    assert!(
        tau("emprox_supervised") > tau("emprox") + 0.1,
        "{example}: emprox_supervised {} vs emprox {}",
        tau("emprox_supervised"),
        tau("emprox")
    );
    // The predictions name rows of the table, with their validation accuracies (percent).
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    for l in preds.lines().skip(1).take(50) {
        let truth: f64 = l.rsplit(',').nth(1).unwrap().parse().unwrap();
        assert!((50.0..100.0).contains(&truth), "{l}");
    }
}

#[test]
fn the_nb101_predictor_example_runs_every_estimator_on_the_subset() {
    check_example("predictors_nb101.toml", 150, 0.15, 0.03);
    // 500 rows, 292 distinct networks: train + test beyond that is refused, naming the count.
    let t = tempfile::tempdir().unwrap();
    let file = reduced_example(t.path(), "predictors_nb101.toml", 200, 1);
    let o = emprox(&["eval-predictors", &file, "--out", s(&t.path().join("o"))]);
    assert_refused(&o, "the 292 isomorphism classes of nb101-subset500");
    assert!(!t.path().join("o").exists());
}

#[test]
fn the_nb301_predictor_example_runs_every_estimator_on_the_subset() {
    check_example("predictors_nb301.toml", 200, 0.15, 0.05);
}

/// A model that `eval-predictors` saved on a tabular space predicts through `predict` given the
/// same `[benchmark]` table, as it predicted in the evaluation; without it, the error names the
/// model's space and the flag.
#[test]
fn predict_uses_a_model_saved_on_a_tabular_space() {
    let t = tempfile::tempdir().unwrap();
    let desc = root().join("benchmarks/data/nb101_subset500.tabular.toml");
    let file = t.path().join("eval.toml");
    std::fs::write(
        &file,
        format!(
            "[benchmark]\ntype = \"tabular\"\ndescription = {:?}\n\
             [evaluation]\ntrain_sizes = [20]\ntest_size = 10\ntrials = 1\nsave_models = true\n\
             [[estimators]]\ntype = \"emprox\"\nepochs = 5\n",
            desc.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = t.path().join("out");
    emprox_ok(&["eval-predictors", s(&file), "--out", s(&out)]);
    let model = out.join("models/emprox-n20");
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let rows: Vec<(String, f64)> = preds
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[4].to_string(), f[6].parse().unwrap())
        })
        .collect();
    let archs: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let o = emprox_ok(
        &[
            &["predict", "--model", s(&model), "--benchmark", s(&file)],
            &archs[..],
        ]
        .concat(),
    );
    let lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (line, (arch, predicted)) in lines.iter().zip(&rows) {
        let (score, a) = line.split_once('\t').unwrap();
        assert_eq!(a, arch);
        let score: f64 = score.parse().unwrap();
        assert!((score - predicted).abs() < 1e-3, "{line} vs {predicted}");
    }
    // Without the table: NAS-Bench-201, and the error says what the model needs.
    let o = emprox(&["predict", "--model", s(&model), archs[0]]);
    assert_refused(
        &o,
        "the model is for space \"nb101-subset500\", not \"nasbench201\": give `--benchmark FILE`",
    );
    // An architecture of another space is named with the space it is not in.
    let o = emprox(&[
        "predict",
        "--model",
        s(&model),
        "--benchmark",
        s(&file),
        "|none~0|",
    ]);
    assert_refused(
        &o,
        "\"|none~0|\" is not an architecture of space \"nb101-subset500\"",
    );
}

/// A comparison file on the synthetic table: RS, RE and LS, each with and without the filter.
fn synthetic_comparison(path: &Path, description: &str) {
    let mut text = format!(
        "name = \"synthetic\"\nseed = 0\nseeds = 4\nreport_at = [20, 60]\n\
         [benchmark]\ntype = \"tabular\"\ndescription = {description:?}\n\
         [budget]\nmax_queries = 60\n"
    );
    for (label, strategy) in [
        ("RS", "random"),
        ("RE", "regularized_evolution"),
        ("LS", "local_search"),
    ] {
        for filter in [false, true] {
            text.push_str(&format!(
                "[[experiments]]\nlabel = \"{label}{}\"\nstrategy = {{ type = {strategy:?} }}\n",
                if filter { "+EmProx" } else { "" }
            ));
            if filter {
                text.push_str(
                    "estimator = { type = \"emprox\", pretrain = 300, pretrain_epochs = 5 }\n\
                     filter = { warmup = 20, candidates = 50, top_k = 5, refit_every = 10 }\n",
                );
            }
        }
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_unseen_table_is_compared_and_evaluated_by_predictors_without_code() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 30_000, 11, "cora").unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let best_val = bench.table().objective()[bench.table().best_row()];
    std::fs::create_dir(t.path().join("files")).unwrap();
    // `emprox compare`, its description relative to the comparison file, run from elsewhere.
    let cmp = t.path().join("files/cmp.toml");
    synthetic_comparison(&cmp, "../bench/synthetic_gnn.tabular.toml");
    let out = t.path().join("cmp-out");
    let o = bin()
        .args(["compare", s(&cmp), "--out", s(&out)])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 6);
    let name = rows[0]["dataset"].as_str().unwrap().to_string();
    assert!(name.contains("cora"), "{name}");
    for f in [
        "comparison.md".to_string(),
        format!("incumbent_{name}.svg"),
        format!("incumbent_time_{name}.svg"),
        format!("{name}/RS_EmProx/seed-3/trials.jsonl"),
        format!("{name}/LS/summary.json"),
    ] {
        assert!(out.join(&f).exists(), "{f} missing");
    }
    let final_val = |label: &str| {
        let r = rows.iter().find(|r| r["label"] == label).unwrap();
        let at = r["at"].as_array().unwrap();
        assert_eq!(
            (at[0]["queries"].as_u64(), at[1]["queries"].as_u64()),
            (Some(20), Some(60))
        );
        // The table has a test column: test values are reported.
        assert!(at[1]["mean"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(
            r["estimator_seconds_per_run"].is_null(),
            !label.contains('+')
        );
        let v = at[1]["mean_val"].as_f64().unwrap();
        assert!(
            v <= best_val && v >= at[0]["mean_val"].as_f64().unwrap(),
            "{r}"
        );
        v
    };
    let plain_rs_at_20 = rows.iter().find(|r| r["label"] == "RS").unwrap()["at"][0]["mean_val"]
        .as_f64()
        .unwrap();
    for s_ in ["RS", "RE", "LS"] {
        let (plain, filtered) = (final_val(s_), final_val(&format!("{s_}+EmProx")));
        eprintln!("{s_}: {plain:.4} plain, {filtered:.4} with the EmProx filter");
        // After its 20 warm-up queries the filter only improves on where random search stood.
        assert!(
            filtered > plain_rs_at_20,
            "{s_}+EmProx {filtered} vs RS@20 {plain_rs_at_20}"
        );
    }
    // Random search with the filter beats random search without it (4 runs each).
    assert!(final_val("RS+EmProx") >= final_val("RS"));

    // `emprox eval-predictors` on the same table.
    let ev = t.path().join("files/pred.toml");
    std::fs::write(
        &ev,
        "[benchmark]\ntype = \"tabular\"\ndescription = \"../bench/synthetic_gnn.tabular.toml\"\n\
         [evaluation]\ntrain_sizes = [20, 100]\ntest_size = 100\ntrials = 3\n\
         [[estimators]]\ntype = \"emprox\"\n[[estimators]]\ntype = \"gbdt\"\n\
         [[estimators]]\ntype = \"knn_onehot\"\n[[estimators]]\ntype = \"random\"\n",
    )
    .unwrap();
    let ev_out = t.path().join("pred-out");
    let o = bin()
        .args(["eval-predictors", s(&ev), "--out", s(&ev_out)])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let taus = taus(&ev_out);
    let tau = |e: &str| taus[&(e.to_string(), 100)];
    eprintln!("synthetic taus at n = 100: {taus:?}");
    assert!(tau("gbdt") > tau("random") + 0.2, "{taus:?}");
    assert!(tau("emprox") > tau("random") + 0.1, "{taus:?}");
    let splits: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev_out.join("splits.json")).unwrap()).unwrap();
    assert_eq!(splits["space"], bench.space.name());
    // Predictions name the table's rows by their file row and architecture string.
    let preds = std::fs::read_to_string(ev_out.join("predictions.csv")).unwrap();
    let mut r = csv::Reader::from_reader(preds.as_bytes());
    for rec in r.records().take(100) {
        let rec = rec.unwrap();
        let cell = bench.space.parse(&rec[4]).unwrap();
        assert_eq!(bench.space.index(&cell), Some(rec[3].parse().unwrap()));
        let truth: f64 = rec[5].parse().unwrap();
        assert_eq!(truth, bench.table().objective()[cell.row()]);
    }
}

#[test]
fn a_table_without_test_values_reports_none_instead_of_nan() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 3_000, 5, "pubmed").unwrap();
    let text = std::fs::read_to_string(&desc).unwrap();
    assert!(text.contains("test = \"test_acc\"\n"));
    std::fs::write(&desc, text.replace("test = \"test_acc\"\n", "")).unwrap();
    let file = experiment(
        t.path(),
        "notest",
        "type = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"",
        "random",
        false,
    );
    let out = t.path().join("run-out");
    let o = emprox_ok(&["run", &file, "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stdout.contains("NaN"), "{stdout}");
    assert!(stdout.contains("no test value"), "{stdout}");
    let sm: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(sm["mean_best_test_acc"].is_null(), "{sm}");
    assert!(sm["runs"][0]["best"]["test_acc"].is_null(), "{sm}");
    assert!(sm["checkpoints"][0]["mean_best_test_acc"].is_null(), "{sm}");
    let traj = std::fs::read_to_string(out.join("seed-0/trajectory.csv")).unwrap();
    assert!(!traj.contains("NaN"), "{traj}");
    let shown = emprox_ok(&["show", s(&out)]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        !shown.contains("NaN") && shown.contains("no test value"),
        "{shown}"
    );

    let cmp = t.path().join("cmp.toml");
    std::fs::write(
        &cmp,
        "name = \"notest\"\nseeds = 2\nreport_at = [10, 20]\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n[budget]\nmax_queries = 20\n\
         [[experiments]]\nlabel = \"RS\"\nstrategy = { type = \"random\" }\n",
    )
    .unwrap();
    let cmp_out = t.path().join("cmp-out");
    let o = emprox_ok(&["compare", s(&cmp), "--out", s(&cmp_out)]);
    let md = String::from_utf8_lossy(&o.stdout);
    // Without test values the table reports the validation score, by its name.
    assert!(
        !md.contains("NaN") && md.contains(" val_acc @ 10 |") && !md.contains("test"),
        "{md}"
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(cmp_out.join("comparison.json")).unwrap()).unwrap();
    let at = &rows[0]["at"][1];
    assert!(at["mean"].is_null() && at["std"].is_null(), "{at}");
    assert!(at["mean_val"].as_f64().unwrap() > 0.0, "{at}");
}

#[test]
fn predictors_of_a_minimised_objective_rank_positively() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 5_000, 3, "citeseer").unwrap();
    let text = std::fs::read_to_string(&desc).unwrap().replace(
        "objective = { column = \"val_acc\", goal = \"maximize\" }\n",
        "objective = { column = \"latency_ms\", goal = \"minimize\" }\n",
    );
    std::fs::write(
        &desc,
        text.replace("extras = [\"latency_ms\", \"params\"]", ""),
    )
    .unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let ev = t.path().join("pred.toml");
    std::fs::write(
        &ev,
        "[benchmark]\ntype = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"\n\
         [evaluation]\ntrain_sizes = [100]\ntest_size = 100\ntrials = 3\n\
         [[estimators]]\ntype = \"gbdt\"\n[[estimators]]\ntype = \"random\"\n",
    )
    .unwrap();
    let out = t.path().join("out");
    emprox_ok(&["eval-predictors", s(&ev), "--out", s(&out)]);
    let taus = taus(&out);
    let (gbdt, random) = (
        taus[&("gbdt".to_string(), 100)],
        taus[&("random".to_string(), 100)],
    );
    // A good predictor of a minimised objective has a positive rank correlation.
    assert!(gbdt > 0.3 && gbdt > random + 0.2, "{taus:?}");
    // Predictions and truths are written in the table's own units (latency, not negated).
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let mut r = csv::Reader::from_reader(preds.as_bytes());
    for rec in r.records().take(50) {
        let rec = rec.unwrap();
        let cell = bench.space.parse(&rec[4]).unwrap();
        let truth: f64 = rec[5].parse().unwrap();
        assert!(truth > 0.0);
        assert_eq!(truth, bench.table().objective()[cell.row()]);
        if &rec[1] == "gbdt" {
            assert!(rec[6].parse::<f64>().unwrap() > 0.0, "{rec:?}");
        }
    }
}

#[test]
fn a_comparison_names_datasets_or_a_benchmark() {
    let t = tempfile::tempdir().unwrap();
    write_synthetic_benchmark(&t.path().join("bench"), 1_000, 3, "cora").unwrap();
    let tail = "[budget]\nmax_queries = 10\n[[experiments]]\nlabel = \"RS\"\n\
                strategy = { type = \"random\" }\n";
    let bench =
        "[benchmark]\ntype = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"\n";
    for (head, needle) in [
        ("name = \"c\"\nseeds = 1\n", "either `datasets"),
        (
            &format!("name = \"c\"\nseeds = 1\ndatasets = [\"cifar10\"]\n{bench}") as &str,
            "either `datasets",
        ),
        (
            &format!("name = \"c\"\nseeds = 1\nnoise = \"sample\"\n{bench}"),
            "`noise` applies to `datasets`",
        ),
        (
            "name = \"c\"\nseeds = 1\n[benchmark]\ntype = \"tabular\"\ndescription = \"missing.toml\"\n",
            "missing.toml",
        ),
    ] {
        let f = t.path().join("c.toml");
        std::fs::write(&f, format!("{head}{tail}")).unwrap();
        let out = t.path().join("c-out");
        let o = emprox(&["compare", s(&f), "--out", s(&out)]);
        assert_refused(&o, needle);
        assert!(!out.exists());
    }
}

/// A comparison on a table names its folder, plots and rows readably: the data file's name and
/// the selection (`synthetic_gnn-cora`), or the description's `name` made a folder name.
#[test]
fn a_comparison_names_a_table_readably() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 1_000, 3, "cora").unwrap();
    let f = t.path().join("c.toml");
    std::fs::write(
        &f,
        "name = \"c\"\nseeds = 1\nreport_at = [10]\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n[budget]\nmax_queries = 10\n\
         [[experiments]]\nlabel = \"RS\"\nstrategy = { type = \"random\" }\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&desc).unwrap();
    for (name, folder) in [
        (None, "synthetic_gnn-cora"),
        (Some("GNN bench (cora)"), "GNN-bench-cora"),
    ] {
        if let Some(n) = name {
            std::fs::write(&desc, format!("name = {n:?}\n{text}")).unwrap();
        }
        let out = t.path().join(folder);
        emprox_ok(&["compare", s(&f), "--out", s(&out)]);
        assert!(out.join(folder).join("RS/seed-0/trials.jsonl").exists());
        assert!(out.join(format!("incumbent_{folder}.svg")).exists());
        let rows: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
        assert_eq!(rows[0]["dataset"], folder);
    }
}

/// `objectives`: one objective is today's search byte for byte; two give `pareto.csv` (exactly
/// the non-dominated evaluated cells of the journal) and a non-decreasing `hypervolume` column;
/// a bad objective is one line, exit 2.
#[test]
fn objectives_give_a_pareto_front_and_a_hypervolume() {
    let t = tempfile::tempdir().unwrap();
    let desc = root().join("benchmarks/data/nb201_cifar10_hw.tabular.toml");
    let write = |name: &str, objectives: &str| {
        let p = t.path().join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "name = {name:?}\nseed = 3\nseeds = 2\n{objectives}\n[benchmark]\ntype = \"tabular\"\n\
                 description = {:?}\n[strategy]\ntype = \"regularized_evolution\"\n\
                 population_size = 20\nsample_size = 5\n[budget]\nmax_queries = 80\n",
                desc.to_str().unwrap()
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let go = |file: &str, out: &str| {
        let out = t.path().join(out);
        emprox_ok(&["run", file, "--out", s(&out), "-q"]);
        out
    };
    let plain = go(&write("plain", ""), "plain");
    let one = go(
        &write(
            "one",
            "objectives = [{ metric = \"val_acc\", goal = \"maximize\" }]",
        ),
        "one",
    );
    for f in ["trials.jsonl", "trajectory.csv"] {
        let a = std::fs::read(plain.join("seed-1").join(f)).unwrap();
        assert_eq!(a, std::fs::read(one.join("seed-1").join(f)).unwrap(), "{f}");
    }
    assert!(!one.join("seed-0/pareto.csv").exists());

    let two = go(
        &write(
            "two",
            "objectives = [{ metric = \"val_acc\", goal = \"maximize\", range = [80, 92] }, \
             { metric = \"latency_pixel3_ms\", goal = \"minimize\" }]",
        ),
        "two",
    );
    // The search itself is unchanged: the same journal as the single-objective run.
    let journal = std::fs::read_to_string(two.join("seed-0/trials.jsonl")).unwrap();
    assert_eq!(
        journal,
        std::fs::read_to_string(plain.join("seed-0/trials.jsonl")).unwrap()
    );
    let points: Vec<(u64, f64, f64, f64)> = lines(&two.join("seed-0/trials.jsonl"))
        .iter()
        .map(|t| {
            (
                t["query"].as_u64().unwrap(),
                t["val_acc"].as_f64().unwrap(),
                t["extras"]["latency_pixel3_ms"].as_f64().unwrap(),
                t["test_acc"].as_f64().unwrap(),
            )
        })
        .collect();
    let dominated = |p: &(u64, f64, f64, f64)| {
        points
            .iter()
            .any(|q| q.1 >= p.1 && q.2 <= p.2 && (q.1 > p.1 || q.2 < p.2))
    };
    let expected: Vec<String> = points
        .iter()
        .filter(|p| !dominated(p))
        .map(|p| format!("{},{},{},{}", p.0, p.1, p.2, p.3))
        .collect();
    let pareto = std::fs::read_to_string(two.join("seed-0/pareto.csv")).unwrap();
    let mut rows = pareto.lines();
    assert_eq!(
        rows.next(),
        Some("query,index,arch,c10_val_acc,latency_pixel3_ms,c10_test_acc")
    );
    let got: Vec<String> = rows
        .map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            format!("{},{},{},{}", f[0], f[3], f[4], f[5])
        })
        .collect();
    assert!(!got.is_empty());
    assert_eq!(got, expected);
    let traj = std::fs::read_to_string(two.join("seed-0/trajectory.csv")).unwrap();
    let header: Vec<&str> = traj.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "hypervolume").unwrap();
    // The arch column holds no commas in this table.
    let hv: Vec<f64> = traj
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(hv.len(), 80);
    assert!(hv.windows(2).all(|w| w[0] <= w[1]), "{hv:?}");
    assert!(hv[79] > 0.5 && hv[79] <= 1.0, "{}", hv[79]);

    for (objectives, needle) in [
        (
            "objectives = [{ metric = \"val_acc\", goal = \"maximize\" }, { metric = \"latency_pixel9_ms\", goal = \"minimize\" }]",
            "unknown metric `latency_pixel9_ms` (available: val_acc, c10_params_M,",
        ),
        (
            "objectives = [{ metric = \"val_acc\", goal = \"minimize\" }]",
            "to be maximized, not minimized",
        ),
        (
            "objectives = [{ metric = \"latency_pixel3_ms\", goal = \"minimize\" }]",
            "the first objective must be the search signal",
        ),
        (
            "objectives = [{ metric = \"val_acc\", goal = \"maximize\", range = [1, 1] }]",
            "lo < hi",
        ),
        (
            "objectives = [{ metric = \"val_acc\", goal = \"upwards\" }]",
            "unknown variant `upwards`",
        ),
    ] {
        let file = write("bad", objectives);
        let out = t.path().join("bad-out");
        assert_refused(&emprox(&["run", &file, "--out", s(&out)]), needle);
        assert!(!out.exists(), "{objectives}");
    }
}
