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
fn training_search_reuses_its_cache_of_its_own_kernel_numerics_only() {
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
    let run = |out: &std::path::Path| {
        let head = ["run", "examples/train_digits_evolution.toml", "--out"];
        emprox(
            &[
                &head[..],
                &[out.to_str().unwrap(), "--set", &cache_set],
                &tiny,
            ]
            .concat(),
        );
    };
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    run(&first);
    let entries = std::fs::read_to_string(&cache).unwrap().lines().count();
    assert_eq!(entries, 4, "every successful training is cached");
    run(&second);
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap().lines().count(),
        entries,
        "nothing trained twice"
    );
    // A later run in `out` journals the first's results, each from the cache or not.
    let same_as_first = |out: &std::path::Path, cached: bool, why: &str| {
        let timings = lines(&out.join("seed-0/timings.jsonl"));
        assert!(timings.iter().all(|t| t["cached"] == cached), "{why}");
        assert_eq!(
            std::fs::read_to_string(first.join("seed-0/trials.jsonl")).unwrap(),
            std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap()
        );
    };
    same_as_first(&second, true, "the re-run trained nothing");
    let trials = lines(&first.join("seed-0/trials.jsonl"));
    assert!(
        trials.iter().all(|t| t["val_acc"].as_f64().unwrap() > 10.0),
        "above chance on digits"
    );

    // The same entries as kernels of another numerics version would have keyed them (and with
    // values no training gave): they are not reused, and every cell is trained again.
    let numerics = emprox_kernels::NUMERICS_VERSION;
    let key = training_keys(&first);
    let text = std::fs::read_to_string(&cache).unwrap();
    let mut other = String::new();
    for t in &trials {
        let arch = t["arch"].as_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&key(arch, numerics)))
            .expect("the cache keys a training by this kernel version");
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["key"] = key(arch, numerics + 1).into();
        v["outcome"]["val_acc"] = 12.5.into();
        other += &format!("{v}\n");
    }
    std::fs::write(&cache, &other).unwrap();
    let third = tmp.path().join("third");
    run(&third);
    same_as_first(
        &third,
        false,
        "another kernel version's results are not reused",
    );
    let after = std::fs::read_to_string(&cache).unwrap();
    assert!(after.starts_with(&other) && after.lines().count() == 2 * entries);
}

/// The cache key of training `arch` in run 0 of the experiment in `out` by kernels of numerics
/// version `numerics`, as the engine forms it.
fn training_keys(out: &std::path::Path) -> impl Fn(&str, u32) -> String {
    use emprox_benchmarks::{seed, workers::cache_key};
    let path = out.join(emprox_engine::rundir::CONFIG);
    let text = std::fs::read_to_string(&path).unwrap();
    let exp: emprox_engine::config::Experiment =
        emprox_engine::config::parse_toml(&text, &path).unwrap();
    let training = exp.evaluator.unwrap().training.unwrap_or_default();
    let trainer = emprox_train::TrainingEvaluator::new(training).unwrap();
    let trial_seed = seed::derive(seed::run_seed(exp.seed, 0), "evaluator");
    move |arch, numerics| {
        let config = emprox_train::evaluator::numerics_keyed(trainer.config_hash(), numerics);
        cache_key(
            "nasbench201",
            arch,
            &trainer.dataset_name(),
            &config,
            trial_seed,
        )
    }
}
