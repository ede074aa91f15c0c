//! The external-command evaluator: success (placeholders, spec file, env, working dir),
//! failure (non-zero exit, bad output) and timeout (the command and its children killed).
#![cfg(unix)]

use emprox_benchmarks::command::{CommandConfig, CommandConfigError, CommandEvaluator};
use emprox_benchmarks::evaluator::Evaluator;
use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_benchmarks::tabular::{synthetic, TabularBenchmark};
use emprox_benchmarks::SearchSpace;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const ARCH: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

fn script(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    p.display().to_string()
}

fn evaluator(cfg: CommandConfig) -> Result<CommandEvaluator<Nb201Space>, CommandConfigError> {
    CommandEvaluator::new(cfg, Nb201Space::new(Nb201Data::shipped().unwrap()))
}

fn config(command: Vec<String>, timeout_seconds: f64) -> CommandConfig {
    CommandConfig {
        command,
        timeout_seconds,
        working_dir: None,
        env: BTreeMap::new(),
        objective: None,
        fidelities: Vec::new(),
    }
}

#[test]
fn success_substitutes_arguments_and_reads_the_last_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "ok.sh",
        r#"echo "arch=$1 index=$2 seed=$4" > args.txt
cp "$3" spec.json
echo "{\"val_acc\": 12, \"test_acc\": 1}"
echo "training with $GREETING..."
echo "{\"val_acc\": 91.25, \"test_acc\": 90.5, \"cost_seconds\": 3.5, \"params\": 1234}""#,
    );
    let mut cfg = config(
        vec![
            "sh".into(),
            s,
            "{arch}".into(),
            "--index={index}".into(),
            "{spec}".into(),
            "{seed}".into(),
        ],
        30.0,
    );
    cfg.working_dir = Some(dir.path().to_path_buf());
    cfg.env.insert("GREETING".into(), "hello; rm -rf /".into());
    let ev = evaluator(cfg).unwrap();
    let cell: Cell = ARCH.parse().unwrap();
    let mut rng = seed::Rng::seed_from_u64(5);
    let o = ev.evaluate(&cell, &mut rng).unwrap();
    assert_eq!(
        (o.val_acc, o.test_acc, o.cost_seconds),
        (91.25, Some(90.5), 3.5)
    );
    assert_eq!(o.extras, vec![("params".to_string(), 1234.0)]);
    let seed = seed::Rng::seed_from_u64(5);
    let seed = rand::RngCore::next_u64(&mut seed.clone());
    let args = std::fs::read_to_string(dir.path().join("args.txt")).unwrap();
    // The arch string's `|` and `~` reach the program verbatim: no shell in between.
    assert_eq!(
        args.trim(),
        format!("arch={ARCH} index=--index=1 seed={seed}")
    );
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["arch"], ARCH);
    assert_eq!(spec["index"], 1);
    assert_eq!(spec["seed"], seed);
    assert_eq!(spec["space"], "nasbench201");
    assert_eq!(
        spec["dimensions"],
        serde_json::json!(["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"])
    );
    assert_eq!(spec["values"][2], "avg_pool_3x3");
}

/// A table the project has never seen: the command gets the row's architecture string, its data
/// row as `{index}` and one value per dimension (each position of a token column).
#[test]
fn a_tabular_space_is_described_by_its_own_columns() {
    let dir = tempfile::tempdir().unwrap();
    let desc = synthetic::write_synthetic_benchmark(dir.path(), 600, 3, "cora").unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let space = bench.space.clone();
    let s = script(
        dir.path(),
        "tab.sh",
        r#"printf '%s\n%s\n' "$1" "$2" > args.txt
cp "$3" spec.json
echo '{"val_acc": 0.5, "test_acc": 0.4}'"#,
    );
    let mut cfg = config(
        vec![
            "sh".into(),
            s,
            "{arch}".into(),
            "{index}".into(),
            "{spec}".into(),
        ],
        30.0,
    );
    cfg.working_dir = Some(dir.path().to_path_buf());
    let ev = CommandEvaluator::new(cfg, space.clone()).unwrap();
    let mut rng = seed::Rng::seed_from_u64(1);
    let cell = space.sample(&mut rng);
    let o = ev.run(&cell, 9).unwrap();
    assert_eq!((o.val_acc, o.test_acc), (0.5, Some(0.4)));
    let args = std::fs::read_to_string(dir.path().join("args.txt")).unwrap();
    let arch = space.format(&cell);
    let index = space.index(&cell).unwrap();
    assert_eq!(args, format!("{arch}\n{index}\n"));
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["space"], space.name());
    assert_eq!(spec["arch"], arch);
    assert_eq!(spec["index"], index);
    let (names, values): (Vec<String>, Vec<String>) = space.components(&cell).into_iter().unzip();
    assert_eq!(spec["dimensions"], serde_json::json!(names));
    assert_eq!(spec["values"], serde_json::json!(values));
    // Every dimension is there, and the values rebuild the architecture.
    assert_eq!(names.len(), bench.table().dimensions().len());
    assert!(
        values.iter().all(|v| arch.contains(v.as_str())),
        "{values:?} vs {arch}"
    );
}

#[test]
fn failures_are_reported_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let cell: Cell = ARCH.parse().unwrap();
    let cases = [
        (
            "exit.sh",
            "echo 'CUDA out of memory' >&2\nexit 3",
            "exit status: 3",
        ),
        ("garbage.sh", "echo 'accuracy: 91'", "no JSON line"),
        ("partial.sh", "echo '{\"val_acc\": 91'", "bad JSON"),
        ("missing.sh", "echo '{\"val_acc\": 91}'", "no `test_acc`"),
        (
            "error.sh",
            "echo '{\"error\": \"node failure\"}'",
            "node failure",
        ),
    ];
    for (name, body, why) in cases {
        let s = script(dir.path(), name, body);
        let ev = evaluator(config(vec!["sh".into(), s], 30.0)).unwrap();
        let e = ev.run(&cell, 0).unwrap_err();
        assert!(e.reason.contains(why), "{name}: {}", e.reason);
        assert!(e.cost_seconds >= 0.0);
    }
    // A missing program is refused before any trial.
    let e = evaluator(config(vec!["/no/such/program".into()], 30.0)).unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    // The stderr tail is part of the reason.
    let s = script(
        dir.path(),
        "oom.sh",
        "echo 'CUDA out of memory' >&2\nexit 3",
    );
    let e = evaluator(config(vec!["sh".into(), s], 30.0))
        .unwrap()
        .run(&cell, 0)
        .unwrap_err();
    assert!(e.reason.contains("CUDA out of memory"), "{}", e.reason);
}

#[test]
fn timeout_kills_the_command_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let s = script(
        dir.path(),
        "slow.sh",
        &format!("sleep 30 &\necho $! > {}\nwait", pidfile.display()),
    );
    let ev = evaluator(config(vec!["sh".into(), s], 0.5)).unwrap();
    let cell: Cell = ARCH.parse().unwrap();
    let start = Instant::now();
    let e = ev.run(&cell, 0).unwrap_err();
    let took = start.elapsed();
    assert!(e.reason.contains("timed out after 0.5 s"), "{}", e.reason);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(e.cost_seconds >= 0.5);
    // The background `sleep 30` is gone too (dead or a zombie awaiting its reaper).
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let alive = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).unwrap_or("").starts_with('Z'),
        Err(_) => false,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(), "child {pid} still running");
}

#[test]
fn the_shipped_example_script_works() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 not found: skipped");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/external_evaluator.py");
    let cfg = config(
        vec![
            "python3".into(),
            script.display().to_string(),
            "--spec".into(),
            "{spec}".into(),
            "--arch".into(),
            "{arch}".into(),
            "--seed".into(),
            "{seed}".into(),
        ],
        60.0,
    );
    let ev = evaluator(cfg).unwrap();
    let good = ev.run(&ARCH.parse().unwrap(), 1).unwrap();
    let cut: Cell = "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
        .parse()
        .unwrap();
    let bad = ev.run(&cut, 1).unwrap();
    assert_eq!(bad.val_acc, 10.0);
    assert!(good.val_acc > 70.0, "{good:?}");
    assert_eq!(good, {
        let mut again = ev.run(&ARCH.parse().unwrap(), 1).unwrap();
        again.cost_seconds = good.cost_seconds;
        again
    });
}
