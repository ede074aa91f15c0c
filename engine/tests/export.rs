//! `emprox export`: architecture.json for any space; for NAS-Bench-201 cells model.py (PyTorch,
//! no emprox import) and, with --retrain, weights that PyTorch loads unchanged and whose logits
//! equal candle's within 1e-4 (three cells, one with `none` and `avg_pool_3x3` edges). The
//! PyTorch check runs where `import torch, safetensors` works (`EMPROX_TORCH_PYTHON`, else
//! `python3`); in CI (`EMPROX_CI` set) a missing PyTorch fails the test.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The Python that has torch and safetensors, or why there is none.
fn torch_python() -> Result<String, String> {
    let py = std::env::var("EMPROX_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&py)
        .args(["-c", "import torch, safetensors"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(py),
        Ok(o) => Err(format!(
            "{py}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{py}: {e}")),
    }
}

/// The arguments of a small `train` run into `out`: `queries` cells trained for one epoch on
/// digits, then `extra`.
fn train_args(out: &Path, queries: u64, extra: &[&str]) -> Vec<String> {
    let queries = format!("budget.max_queries={queries}");
    let mut args = vec![
        "run",
        "examples/train_digits_evolution.toml",
        "--out",
        s(out),
    ];
    args.extend(["--quiet", "--no-report", "--set", &queries]);
    for set in [
        "evaluator.training.epochs=1",
        "strategy.population_size=2",
        "strategy.sample_size=2",
    ] {
        args.extend(["--set", set]);
    }
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

/// Runs [`train_args`] to completion.
fn train_run(out: &Path, queries: u64, extra: &[&str]) {
    let args = train_args(out, queries, extra);
    emprox_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The Python with PyTorch, or `None` where there is none (outside CI: in CI, `EMPROX_CI` set,
/// a missing PyTorch fails the test).
fn torch_or_skip() -> Option<String> {
    match torch_python() {
        Ok(py) => Some(py),
        Err(why) => {
            assert!(
                std::env::var_os("EMPROX_CI").is_none(),
                "PyTorch is needed for this test in CI: {why}"
            );
            eprintln!("PyTorch check skipped (no torch here: {why})");
            None
        }
    }
}

/// Runs `python model.py --check` in the export folder `dir` (of `what`): it must pass.
fn check_in_pytorch(py: &str, dir: &Path, what: &str) {
    let o = Command::new(py)
        .args(["model.py", "--check"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{what}: {text}");
    assert!(text.contains("largest difference"), "{text}");
}

#[test]
fn a_table_runs_best_cell_exports_its_architecture_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    emprox_ok(&[
        "run",
        "examples/nb201_random.toml",
        "--out",
        s(&out),
        "--quiet",
        "--seeds",
        "3",
        "--set",
        "budget.max_queries=20",
        "--no-report",
    ]);
    let o = emprox_ok(&["export", s(&out)]);
    let summary = json(&out.join("summary.json"));
    let a = json(&out.join("export/architecture.json"));
    // The best over the runs, by validation, with its journal scores.
    let best = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["best"])
        .max_by(|x, y| {
            x["val_acc"]
                .as_f64()
                .partial_cmp(&y["val_acc"].as_f64())
                .unwrap()
        })
        .unwrap();
    assert_eq!(a["arch"], best["arch"]);
    assert_eq!(a["scores"]["validation"], best["val_acc"]);
    assert_eq!(a["index"], best["index"]);
    assert_eq!(a["dimensions"].as_array().unwrap().len(), 6);
    assert_eq!(a["space"], "nasbench201");
    let model = std::fs::read_to_string(out.join("export/model.py")).unwrap();
    assert!(!model.contains("import emprox") && model.contains("def build()"));
    assert!(
        !out.join("export/weights.safetensors").exists(),
        "weights only with --retrain"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("architecture.json, model.py"));
    // One run's incumbent; a folder holding someone else's file is refused.
    emprox_ok(&[
        "export",
        s(&out),
        "--run",
        "1",
        "--out",
        s(&dir.path().join("r1")),
    ]);
    let r1 = json(&dir.path().join("r1/architecture.json"));
    assert_eq!(r1["arch"], summary["runs"][1]["best"]["arch"]);
    std::fs::write(dir.path().join("r1/notes.txt"), "mine").unwrap();
    let refused = emprox(&["export", s(&out), "--out", s(&dir.path().join("r1"))]);
    assert_refused(&refused, "notes.txt");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("r1/notes.txt")).unwrap(),
        "mine"
    );
    // A user's own model.py, alone in a folder: the name is an export's, the file is not.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("model.py"), "# mine").unwrap();
    let refused = emprox(&["export", s(&out), "--out", s(&theirs)]);
    assert_refused(&refused, "no architecture.json emprox export wrote");
    assert_eq!(
        std::fs::read_to_string(theirs.join("model.py")).unwrap(),
        "# mine"
    );
    // An export's own folder is written again.
    let again = dir.path().join("again");
    emprox_ok(&["export", s(&out), "--out", s(&again)]);
    emprox_ok(&["export", s(&out), "--out", s(&again)]);
}

#[test]
fn retrained_cells_load_in_pytorch_with_candles_logits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_run(&out, 2, &[]);
    let torch = torch_or_skip();
    // The run's best, a cell of 1×1 and 3×3 convolutions, and one with none and avg_pool edges.
    let cells: [&[&str]; 3] = [&[], &["--index", "1234"], &["--index", "1718"]];
    let mut seen = Vec::new();
    for (k, extra) in cells.iter().enumerate() {
        let to = dir.path().join(format!("export{k}"));
        let mut args = vec![
            "export",
            s(&out),
            "--retrain",
            "--epochs",
            "1",
            "--out",
            s(&to),
        ];
        args.extend_from_slice(extra);
        emprox_ok(&args);
        for f in [
            "model.py",
            "weights.safetensors",
            "preprocess.json",
            "check.safetensors",
        ] {
            assert!(to.join(f).exists(), "{f}");
        }
        let pre = json(&to.join("preprocess.json"));
        assert_eq!(
            (pre["channels"].as_u64(), pre["classes"].as_u64()),
            (Some(1), Some(10))
        );
        let arch = json(&to.join("architecture.json"))["arch"]
            .as_str()
            .unwrap()
            .to_string();
        seen.push(arch);
        if let Some(py) = &torch {
            check_in_pytorch(py, &to, &seen[k]);
        }
    }
    assert!(
        seen[2].contains("none") && seen[2].contains("avg_pool_3x3"),
        "{}",
        seen[2]
    );
    assert!(seen[1] != seen[0] && seen[2] != seen[1]);
}

/// The weight files kept in `run`'s `seed-0/weights/`, sorted.
fn kept(run: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(run.join("seed-0/weights"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn kept_weights_export_without_retraining_and_leave_the_journal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, keep: &[&str]| {
        let out = dir.path().join(name);
        train_run(&out, 4, keep);
        out
    };
    let plain = run("plain", &[]);
    let all = run("all", &["--keep-weights", "all"]);
    let inc = run("inc", &["--keep-weights", "incumbents"]);
    let journal = |d: &Path| std::fs::read(d.join("seed-0/trials.jsonl")).unwrap();
    assert_eq!(journal(&plain), journal(&all), "the journal is the same");
    assert_eq!(journal(&plain), journal(&inc), "the journal is the same");
    let trials = lines(&all.join("seed-0/trials.jsonl"));
    let trained: Vec<u64> = trials
        .iter()
        .filter(|t| t["val_acc"].is_number())
        .map(|t| t["query"].as_u64().unwrap())
        .collect();
    assert!(trained.len() >= 2, "{trials:?}");
    assert_eq!(kept(&all).len(), 2 * trained.len(), "{:?}", kept(&all));
    assert!(kept(&plain).is_empty());
    // Only the incumbent's two files remain.
    let last = trials
        .iter()
        .rev()
        .find(|t| t["incumbent"] == true)
        .unwrap()["query"]
        .as_u64()
        .unwrap();
    assert_eq!(
        kept(&inc),
        [
            format!("q{last}.logits.safetensors"),
            format!("q{last}.safetensors")
        ]
    );
    // Killed after its first trial and resumed: the same journal, the incumbent's weights.
    let killed = dir.path().join("killed");
    let args = train_args(&killed, 4, &["--keep-weights", "incumbents"]);
    kill_when(&args, &killed.join("seed-0/trials.jsonl"), 1);
    assert!(
        !killed.join("summary.json").exists(),
        "killed before the end"
    );
    emprox_ok(&[
        "resume",
        s(&killed),
        "--keep-weights",
        "incumbents",
        "--no-report",
    ]);
    assert_eq!(journal(&plain), journal(&killed));
    assert_eq!(kept(&killed), kept(&inc));

    let torch = torch_or_skip();
    // The best cell, from either run, and another cell of `all` by its index: no training.
    let other = trials
        .iter()
        .find(|t| t["val_acc"].is_number() && t["query"].as_u64() != Some(last))
        .unwrap()["index"]
        .as_u64()
        .unwrap()
        .to_string();
    for (k, (from, extra)) in [
        (&all, vec![]),
        (&inc, vec![]),
        (&all, vec!["--index", &other]),
    ]
    .into_iter()
    .enumerate()
    {
        let to = dir.path().join(format!("export{k}"));
        let mut args = vec!["export", s(from), "--out", s(&to)];
        args.extend_from_slice(&extra);
        let o = emprox_ok(&args);
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(said.contains("weights.safetensors"), "{said}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("retrained"),
            "no training"
        );
        for f in [
            "weights.safetensors",
            "preprocess.json",
            "check.safetensors",
        ] {
            assert!(to.join(f).exists(), "{f}");
        }
        if let Some(py) = &torch {
            check_in_pytorch(py, &to, &format!("export {k}"));
        }
    }
    // The kept weights are the trained ones: the first export's equal the incumbent's file.
    assert_eq!(
        std::fs::read(dir.path().join("export1/weights.safetensors")).unwrap(),
        std::fs::read(inc.join(format!("seed-0/weights/q{last}.safetensors"))).unwrap()
    );

    // --overwrite deletes the kept weights, not a file of the user's beside them.
    std::fs::write(all.join("seed-0/weights/mine.safetensors"), "mine").unwrap();
    emprox_ok(&[
        "run",
        "examples/nb201_random.toml",
        "--out",
        s(&all),
        "--overwrite",
        "--quiet",
        "--set",
        "budget.max_queries=3",
        "--no-report",
    ]);
    assert_eq!(kept(&all), ["mine.safetensors"]);
    // Only a training evaluator keeps weights.
    let o = emprox(&[
        "run",
        "examples/nb201_random.toml",
        "--out",
        s(&dir.path().join("table")),
        "--keep-weights",
        "all",
    ]);
    assert_refused(&o, "--keep-weights");
    assert!(!dir.path().join("table").exists());
}
