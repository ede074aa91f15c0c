//! Real evaluations through the engine: the external command and training evaluators, the worker
//! pool (results independent of scheduling), failed trials, and the result cache.

mod common;
use common::{emprox_ok as emprox, lines};

#[test]
fn external_command_results_do_not_depend_on_timing() {
    // Two workers: which command finishes first varies, the journal does not.
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let common = ["--set", "budget.max_queries=14"];
    emprox(
        &[
            &[
                "run",
                "examples/external_command.toml",
                "--out",
                a.to_str().unwrap(),
            ][..],
            &common,
        ]
        .concat(),
    );
    emprox(
        &[
            &[
                "run",
                "examples/external_command.toml",
                "--out",
                b.to_str().unwrap(),
            ][..],
            &common,
        ]
        .concat(),
    );
    let ja = std::fs::read_to_string(a.join("seed-0/trials.jsonl")).unwrap();
    assert_eq!(
        ja,
        std::fs::read_to_string(b.join("seed-0/trials.jsonl")).unwrap()
    );
    let trials = lines(&a.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 14);
    for t in &trials {
        assert!(t["val_acc"].as_f64().unwrap() >= 10.0);
        assert!(
            t["cost_seconds"].is_null(),
            "measured costs stay out of the journal"
        );
    }
    let timings = lines(&a.join("seed-0/timings.jsonl"));
    assert!(timings.iter().all(|t| t["cost_seconds"].as_f64().is_some()));
}

#[test]
fn failed_evaluations_are_recorded_and_the_search_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("flaky.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in *avg_pool*) echo 'out of memory' >&2; exit 3;; esac\n\
         echo '{\"val_acc\": 80.5, \"test_acc\": 80.0}'\n",
    )
    .unwrap();
    let exp = tmp.path().join("flaky.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"flaky\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 12\n\
             [evaluator]\ntype = \"command\"\n[evaluator.command]\ncommand = [\"sh\", \"{}\", \"{{arch}}\"]\ntimeout_seconds = 20\n",
            script.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    emprox(&["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 12);
    let failed: Vec<_> = trials.iter().filter(|t| t["val_acc"].is_null()).collect();
    assert!(!failed.is_empty(), "some sampled cells contain avg_pool");
    for t in &failed {
        assert!(t["arch"].as_str().unwrap().contains("avg_pool"));
        assert!(
            t["error"].as_str().unwrap().contains("exit"),
            "{}",
            t["error"]
        );
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        s["runs"][0]["failed"].as_u64().unwrap(),
        failed.len() as u64
    );
    assert_eq!(s["runs"][0]["best"]["val_acc"], 80.5);
}

#[test]
fn training_search_reuses_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache.jsonl");
    let tiny = [
        "--set",
        "budget.max_queries=4",
        "--set",
        "evaluator.training.epochs=2",
        "--set",
        "evaluator.training.channels=4",
        "--set",
        "evaluator.training.max_train_images=300",
    ];
    let cache_set = format!("evaluator.cache=\"{}\"", cache.display());
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    emprox(
        &[
            &[
                "run",
                "examples/train_digits_evolution.toml",
                "--out",
                first.to_str().unwrap(),
                "--set",
                &cache_set,
            ][..],
            &tiny,
        ]
        .concat(),
    );
    let entries = std::fs::read_to_string(&cache).unwrap().lines().count();
    assert_eq!(entries, 4, "every successful training is cached");
    emprox(
        &[
            &[
                "run",
                "examples/train_digits_evolution.toml",
                "--out",
                second.to_str().unwrap(),
                "--set",
                &cache_set,
            ][..],
            &tiny,
        ]
        .concat(),
    );
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap().lines().count(),
        entries,
        "nothing trained twice"
    );
    let timings = lines(&second.join("seed-0/timings.jsonl"));
    assert!(
        timings.iter().all(|t| t["cached"] == true),
        "the re-run trained nothing"
    );
    assert_eq!(
        std::fs::read_to_string(first.join("seed-0/trials.jsonl")).unwrap(),
        std::fs::read_to_string(second.join("seed-0/trials.jsonl")).unwrap()
    );
    let trials = lines(&first.join("seed-0/trials.jsonl"));
    assert!(
        trials.iter().all(|t| t["val_acc"].as_f64().unwrap() > 10.0),
        "above chance on digits"
    );
}
