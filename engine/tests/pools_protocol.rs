//! `emprox eval-predictors` with `[evaluation] protocol = "pools"` (issue 26): the estimators'
//! tau within the pools a filtered search scored, on the synthetic table
//! (examples/pools_synthetic.toml and its search, synthetic_random_knn_filter.toml).

mod common;

use common::{assert_refused, emprox, emprox_ok, lines, root, s, users_files_survive_overwrite};
use emprox_benchmarks::tabular::synthetic::write_synthetic_benchmark;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A folder with the synthetic table in `bench/` and the two example files beside it, the
/// evaluation's `[evaluation]` lines edited by `edit` (pairs of text to replace).
fn setup(dir: &Path, edit: &[(&str, &str)]) -> PathBuf {
    write_synthetic_benchmark(&dir.join("bench"), 2_000, 3, "cora").unwrap();
    let examples = root().join("examples");
    std::fs::copy(
        examples.join("synthetic_random_knn_filter.toml"),
        dir.join("synthetic_random_knn_filter.toml"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(examples.join("pools_synthetic.toml")).unwrap();
    for (a, b) in edit {
        assert!(text.contains(a), "{a:?} not in the example");
        text = text.replace(a, b);
    }
    let file = dir.join("pools.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// [`setup`] in `dir`, evaluated into `dir/o`: the file and the output folder.
fn evaluated(dir: &Path, edit: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let file = setup(dir, edit);
    let out = dir.join("o");
    emprox_ok(&["eval-predictors", s(&file), "--out", s(&out), "-q"]);
    (file, out)
}

/// The arguments of `emprox eval-predictors FILE --out OUT -q --overwrite`.
fn overwrite<'a>(file: &'a Path, out: &'a Path) -> [&'a str; 6] {
    [
        "eval-predictors",
        s(file),
        "--out",
        s(out),
        "-q",
        "--overwrite",
    ]
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            head.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn the_pool_protocol_runs_end_to_end_and_is_the_same_at_one_and_two_jobs() {
    let t = tempfile::tempdir().unwrap();
    let one = setup(t.path(), &[]);
    let out1 = t.path().join("one");
    let o = emprox_ok(&["eval-predictors", s(&one), "--out", s(&out1), "-q"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("| knn_onehot |"), "{stdout}");
    assert!(stdout.contains("uniform n=30"), "{stdout}");

    let two = t.path().join("two.toml");
    std::fs::write(
        &two,
        std::fs::read_to_string(&one)
            .unwrap()
            .replace("jobs = 1", "jobs = 2"),
    )
    .unwrap();
    let out2 = t.path().join("two");
    emprox_ok(&["eval-predictors", s(&two), "--out", s(&out2), "-q"]);
    for f in [
        "results.csv",
        "predictions.csv",
        "summary.md",
        "search/seed-0/trials.jsonl",
        "search/seed-1/pools.jsonl",
    ] {
        assert_eq!(
            std::fs::read(out1.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
            "{f} differs between jobs = 1 and 2"
        );
    }
    // summary.json says the jobs; all else is the same.
    let json = |o: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(o.join("summary.json")).unwrap()).unwrap();
        v["evaluation"]["jobs"] = 0.into();
        v
    };
    assert_eq!(json(&out1), json(&out2));

    // One row per run, sampled pool and estimator (the filter's own scores included); three
    // pools per run and range at most.
    let rows = csv_rows(&out1.join("results.csv"));
    let labels = ["filter_recorded", "knn_onehot", "gbdt", "random"];
    for l in labels {
        let n = rows.iter().filter(|r| r["estimator"] == l).count();
        assert!((2..=2 * 2 * 3).contains(&n), "{l}: {n} pools");
    }
    let summary = json(&out1);
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), labels.len() * 2);
    let tau = |e: &str| -> f64 {
        let sel: Vec<f64> = rows
            .iter()
            .filter(|r| r["estimator"] == e)
            .map(|r| r["kendall_tau"].parse().unwrap())
            .collect();
        sel.iter().sum::<f64>() / sel.len() as f64
    };
    // gbdt ranks the pools of this smooth table better than chance, the random estimator does not.
    assert!(tau("gbdt") > 0.2, "gbdt pool tau {}", tau("gbdt"));
    assert!(
        tau("random").abs() < tau("gbdt"),
        "random {}",
        tau("random")
    );
    assert_eq!(summary["uniform"].as_array().unwrap().len(), 3);
}

/// The training set rebuilt from the journal (the first `train_size` successful evaluations) is
/// the one the filter fitted on: refitting the run's own, deterministic estimator (knn_onehot)
/// on it reproduces every score the filter recorded.
#[test]
fn refitting_the_filters_estimator_reproduces_its_recorded_scores() {
    let t = tempfile::tempdir().unwrap();
    // Every pool, so that every refit is checked.
    let (_, out) = evaluated(
        t.path(),
        &[("pools_per_range = 3", "pools_per_range = 100")],
    );
    assert_recorded_scores_reproduced(&out, 1.0);
}

/// The same on a minimised objective: the filter ranks negated scores, and so does the
/// protocol, which writes its truth and predictions back in the objective's own units.
#[test]
fn on_a_minimised_objective_the_refit_reproduces_the_recorded_scores_too() {
    let t = tempfile::tempdir().unwrap();
    let file = setup(
        t.path(),
        &[("pools_per_range = 3", "pools_per_range = 100")],
    );
    let desc = t.path().join("bench/synthetic_gnn.tabular.toml");
    let text = std::fs::read_to_string(&desc).unwrap();
    assert!(text.contains("goal = \"maximize\""));
    std::fs::write(
        &desc,
        text.replace("goal = \"maximize\"", "goal = \"minimize\""),
    )
    .unwrap();
    let out = t.path().join("o");
    emprox_ok(&["eval-predictors", s(&file), "--out", s(&out), "-q"]);
    assert_recorded_scores_reproduced(&out, -1.0);
    let preds = csv_rows(&out.join("predictions.csv"));
    assert!(
        preds
            .iter()
            .all(|r| r["true"].parse::<f64>().unwrap() > 0.0),
        "the truth in the table's own units"
    );
}

/// Every pool the filter recorded in `out/search` is scored in `out/predictions.csv` by the
/// refitted `knn_onehot` and by `filter_recorded` exactly as the filter scored it: the filter
/// records maximised scores, the protocol writes the objective's units (`sign` -1 where it is
/// minimised).
fn assert_recorded_scores_reproduced(out: &Path, sign: f64) {
    let mut recorded: HashMap<(String, String), Vec<(u64, f64)>> = HashMap::new();
    let mut pools = 0;
    for run in 0..2 {
        for p in lines(&out.join(format!("search/seed-{run}/pools.jsonl"))) {
            pools += 1;
            let scored = p["scored"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x[0].as_u64().unwrap(), x[1].as_f64().unwrap()))
                .collect();
            recorded.insert((run.to_string(), p["after_query"].to_string()), scored);
        }
    }
    assert!(pools >= 2 * 8, "{pools} pools");
    let preds = csv_rows(&out.join("predictions.csv"));
    let mut checked = std::collections::HashSet::new();
    for estimator in ["knn_onehot", "filter_recorded"] {
        let mine: Vec<&HashMap<String, String>> = preds
            .iter()
            .filter(|r| r["estimator"] == estimator)
            .collect();
        for (i, r) in mine.iter().enumerate() {
            let key = (r["run"].clone(), r["after_query"].clone());
            let pool = &recorded[&key];
            let first = mine
                .iter()
                .position(|x| x["run"] == key.0 && x["after_query"] == key.1)
                .unwrap();
            let (index, score) = pool[i - first];
            assert_eq!(r["index"], index.to_string());
            let p: f64 = r["predicted"].parse().unwrap();
            assert_eq!(p, sign * score, "{estimator} at {key:?}, cell {index}");
            checked.insert(key);
        }
    }
    // Every pool the filter scored with a fitted estimator was checked.
    assert_eq!(checked.len(), pools);
    // The truth is the table's, not a prediction: it varies within the pools.
    let truth: Vec<f64> = preds
        .iter()
        .filter(|r| r["estimator"] == "knn_onehot")
        .map(|r| r["true"].parse().unwrap())
        .collect();
    assert!(truth.iter().any(|t| *t != truth[0]));
}

#[test]
fn the_pool_protocol_reads_an_existing_run_folder_the_same() {
    let t = tempfile::tempdir().unwrap();
    let (file, out) = evaluated(t.path(), &[]);
    let reread = t.path().join("reread.toml");
    std::fs::write(
        &reread,
        std::fs::read_to_string(&file).unwrap().replace(
            "experiment = \"synthetic_random_knn_filter.toml\"",
            "run_folder = \"o/search\"",
        ),
    )
    .unwrap();
    let out2 = t.path().join("o2");
    emprox_ok(&["eval-predictors", s(&reread), "--out", s(&out2), "-q"]);
    for f in ["results.csv", "predictions.csv"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!out2.join("search").exists());
    // --overwrite replaces the evaluation and its search folder, keeping nothing behind of
    // emprox's own and the user's file beside them.
    let mine = [out.join("notes.txt")];
    for f in &mine {
        std::fs::write(f, "the user's").unwrap();
    }
    emprox_ok(&overwrite(&file, &out));
    assert!(out.join("search/seed-1/pools.jsonl").exists());
    for f in &mine {
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            "the user's",
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_users_file_inside_the_search_folder_survives_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let (file, out) = evaluated(t.path(), &[]);
    let search = out.join("search");
    let mine = [search.join("notes.txt"), search.join("seed-0/mine.txt")];
    users_files_survive_overwrite(
        &out,
        &mine,
        &overwrite(&file, &out),
        &search.join("run.json"),
        || {
            for f in [
                "results.csv",
                "search/run.json",
                "search/seed-1/pools.jsonl",
            ] {
                assert!(out.join(f).exists(), "{f}");
            }
        },
    );
}

#[test]
fn bad_pool_files_get_one_line_errors_and_no_folder() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("o");
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("pools_per_range = 3", "pools_per_rnge = 3")],
            "unknown field `pools_per_rnge`",
        ),
        (
            &[(
                "type = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"",
                "type = \"nasbench201\"\ndataset = \"cifar10\"",
            )],
            "its [benchmark] is not the experiment's",
        ),
        (
            &[("seed = 0", "seed = 0\nrun_folder = \"x\"")],
            "exactly one of `evaluation.experiment`",
        ),
        (
            &[("ranges = [[0, 30], [30, 60]]", "ranges = [[30, 30]]")],
            "`evaluation.ranges` must be",
        ),
        (
            &[("protocol = \"pools\"", "protocol = \"pool\"")],
            "unknown variant `pool`",
        ),
    ];
    for (edit, needle) in cases {
        let file = setup(t.path(), edit);
        assert_refused(
            &emprox(&["eval-predictors", s(&file), "--out", s(&out)]),
            needle,
        );
        assert!(!out.exists(), "{needle}: a folder was left");
    }
    // An experiment without a filter.
    let file = setup(t.path(), &[]);
    let exp = t.path().join("synthetic_random_knn_filter.toml");
    let text = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(&exp, &text[..text.find("[estimator]").unwrap()]).unwrap();
    assert_refused(
        &emprox(&["eval-predictors", s(&file), "--out", s(&out)]),
        "has no `[estimator]` and `[filter]`",
    );
    assert!(!out.exists());
}

/// Every shipped pool-protocol example runs, cut to one run of 30 queries, one pool per range
/// and a uniform n of 10: each estimator it names scores the pool. On NAS-Bench-201 the
/// pre-trained EmProx refitted on the rebuilt training set gives the filter's own scores.
#[test]
fn the_shipped_pool_examples_run_cut_down() {
    let t = tempfile::tempdir().unwrap();
    let examples = root().join("examples");
    for name in [
        "pools_nb201_cifar10.toml",
        "pools_nb201_cifar100.toml",
        "pools_nb201_imagenet16.toml",
        "pools_nb101.toml",
        "pools_nb301.toml",
    ] {
        let text = common::example_anywhere(name)
            .replace(
                "experiment = \"",
                &format!("experiment = \"{}/", examples.display()),
            )
            .replace("runs = 10", "runs = 1")
            .replace("queries = 150", "queries = 30")
            .replace("pools_per_range = 5", "pools_per_range = 1")
            .replace("jobs = 2", "jobs = 1")
            .replace("uniform_sizes = [50, 100]", "uniform_sizes = [10]");
        let file = t.path().join(name);
        std::fs::write(&file, &text).unwrap();
        let out = t.path().join(name.trim_end_matches(".toml"));
        emprox_ok(&["eval-predictors", s(&file), "--out", s(&out), "-q"]);
        let rows = csv_rows(&out.join("results.csv"));
        let labels = [
            "filter_recorded",
            "emprox_supervised",
            "emprox",
            "gbdt",
            "mlp_ensemble",
            "knn_onehot",
            "mean",
            "random",
        ];
        let got: Vec<&str> = rows.iter().map(|r| r["estimator"].as_str()).collect();
        assert_eq!(got, labels, "{name}");
        assert!(rows.iter().all(|r| r["after_query"] == "20"), "{name}");
        if name.starts_with("pools_nb201") {
            // The filter's EmProx, refitted, scores as the filter did.
            assert_eq!(rows[0]["kendall_tau"], rows[2]["kendall_tau"], "{name}");
        }
    }
}

/// An oracle: a pool made of cells the filter had been told, scored by knn_onehot with k = 1,
/// is ranked exactly as the table ranks it (tau 1, every top cell kept); the random estimator
/// is not. The run folder is the search's with its pools replaced by that one pool.
#[test]
fn knn_with_k1_on_a_training_set_holding_the_pool_ranks_it_perfectly() {
    let t = tempfile::tempdir().unwrap();
    let (file, out) = evaluated(t.path(), &[]);
    let crafted = t.path().join("crafted");
    std::fs::create_dir_all(crafted.join("seed-0")).unwrap();
    std::fs::copy(
        out.join("search/config.resolved.toml"),
        crafted.join("config.resolved.toml"),
    )
    .unwrap();
    std::fs::copy(
        out.join("search/seed-0/trials.jsonl"),
        crafted.join("seed-0/trials.jsonl"),
    )
    .unwrap();
    let told: Vec<u64> = lines(&out.join("search/seed-0/trials.jsonl"))
        .iter()
        .filter(|t| !t["val_acc"].is_null())
        .map(|t| t["index"].as_u64().unwrap())
        .collect();
    let pool: Vec<serde_json::Value> = told[..25]
        .iter()
        .map(|&i| serde_json::json!([i, 0.0]))
        .collect();
    let record = serde_json::json!({
        "after_query": 40, "train_size": told.len(), "scored": pool, "chosen": []
    });
    std::fs::write(crafted.join("seed-0/pools.jsonl"), format!("{record}\n")).unwrap();
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace(
            "experiment = \"synthetic_random_knn_filter.toml\"",
            "run_folder = \"crafted\"",
        )
        .replace("runs = 2", "runs = 1")
        .replace("uniform_sizes = [30]", "")
        .replace(
            "type = \"knn_onehot\"\nk = 5",
            "type = \"knn_onehot\"\nk = 1",
        );
    let oracle = t.path().join("oracle.toml");
    std::fs::write(&oracle, text).unwrap();
    let out2 = t.path().join("o2");
    emprox_ok(&["eval-predictors", s(&oracle), "--out", s(&out2), "-q"]);
    let rows = csv_rows(&out2.join("results.csv"));
    let get = |e: &str, col: &str| -> f64 {
        rows.iter().find(|r| r["estimator"] == e).unwrap()[col]
            .parse()
            .unwrap()
    };
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(get("knn_onehot", "kendall_tau"), 1.0);
    assert_eq!(get("knn_onehot", "precision_top_k"), 1.0);
    assert!(get("random", "kendall_tau") < 0.9);
    // The recorded scores are all 0: no ranking at all.
    assert_eq!(get("filter_recorded", "kendall_tau"), 0.0);
}
