//! Multi-fidelity search (issue 23) on the shipped examples, against known facts of the
//! NAS-Bench-201 table: every trial is journaled with its fidelity and that level's columns, the
//! incumbent is a 200-epoch trial, and the schedulers' rungs have the sizes they are set to.

mod common;

use common::{emprox_ok, lines, root, s};
use emprox_benchmarks::tabular::TabularBenchmark;
use serde_json::Value;
use std::path::Path;

fn cifar10() -> TabularBenchmark {
    TabularBenchmark::from_file(&root().join("benchmarks/data/nb201_cifar10.tabular.toml")).unwrap()
}

fn fidelities(trials: &[Value]) -> Vec<f64> {
    trials
        .iter()
        .map(|t| t["fidelity"].as_f64().unwrap())
        .collect()
}

#[test]
fn asha_journals_each_trial_at_its_level_and_the_incumbent_at_200_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("asha");
    emprox_ok(&[
        "run",
        "examples/nb201_asha_emprox.toml",
        "--seeds",
        "2",
        "--set",
        "budget.max_sim_seconds=60000",
        "--out",
        s(&out),
        "-q",
    ]);
    let table = cifar10();
    let t = table.table();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for run in 0..2 {
        let trials = lines(&out.join(format!("seed-{run}/trials.jsonl")));
        let mut seen_low = std::collections::HashSet::new();
        let mut best: Option<f64> = None;
        let mut sim = 0.0;
        for tr in &trials {
            let f = tr["fidelity"].as_f64().unwrap();
            let row = tr["index"].as_u64().unwrap() as usize;
            // The tabular space's rows are the file's rows, in NB201 index order.
            assert_eq!(t.file_row(row), row);
            let (val, test, cost) = t.at_level(f, row).unwrap();
            assert_eq!(tr["val_acc"].as_f64(), Some(val));
            assert_eq!(tr["test_acc"].as_f64(), test);
            assert_eq!(tr["cost_seconds"].as_f64(), Some(cost));
            sim += cost;
            assert!((tr["sim_seconds"].as_f64().unwrap() - sim).abs() < 1e-6);
            match f {
                12.0 => {
                    // A new cell enters at 12 epochs, once; its cost is 12/200 of the full one.
                    assert!(seen_low.insert(row), "{row} entered twice");
                    assert!((cost - 0.06 * t.cost().unwrap()[row]).abs() < 1e-9);
                    assert_eq!(tr["incumbent"], false, "a 12-epoch score is never the best");
                }
                200.0 => {
                    assert!(
                        seen_low.contains(&row),
                        "{row} promoted without a 12-epoch trial"
                    );
                    let better = best.is_none_or(|b| val > b);
                    assert_eq!(tr["incumbent"].as_bool(), Some(better));
                    if better {
                        best = Some(val);
                    }
                }
                _ => panic!("fidelity {f}"),
            }
        }
        let promoted = trials.iter().filter(|t| t["fidelity"] == 200.0).count();
        assert!(promoted >= 2, "{promoted}");
        // The summary names the incumbent's fidelity and splits the seconds by fidelity.
        let r = &summary["runs"][run];
        assert_eq!(r["best"]["val_acc"].as_f64(), best);
        assert_eq!(r["incumbent_fidelity"].as_f64(), Some(200.0));
        let by: f64 = r["sim_seconds_by_fidelity"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .sum();
        assert!((by - r["sim_seconds"].as_f64().unwrap()).abs() < 1e-6);
        assert!(r["sim_seconds"].as_f64().unwrap() >= 60000.0);
        // The trajectory starts at the first 200-epoch result.
        let traj = std::fs::read_to_string(out.join(format!("seed-{run}/trajectory.csv"))).unwrap();
        let first: Vec<&str> = traj.lines().nth(1).unwrap().split(',').collect();
        let q = trials.iter().position(|t| t["fidelity"] == 200.0).unwrap() + 1;
        assert_eq!(first[0], q.to_string());
    }
    // `show` says where the incumbent comes from and splits the seconds by fidelity.
    let shown = String::from_utf8(emprox_ok(&["show", s(&out)]).stdout).unwrap();
    assert!(
        shown.contains("incumbent chosen among fidelity 200 trials only"),
        "{shown}"
    );
    let runs = summary["runs"].as_array().unwrap();
    let low: f64 = runs
        .iter()
        .map(|r| r["sim_seconds_by_fidelity"][0][1].as_f64().unwrap())
        .sum::<f64>()
        / 2.0;
    let low = format!("{low:.0}");
    let low = format!("{},{}", &low[..low.len() - 3], &low[low.len() - 3..]);
    assert!(
        shown.contains(&format!("12: {low} (")),
        "{low} not in {shown}"
    );
}

/// The three comparison files run the same experiments (only the budget, scaled by the dataset's
/// mean 200-epoch time, and the proxy column differ), and the CIFAR-10 one runs with the
/// rungs its schedulers are set to.
#[test]
fn fidelity_comparisons_agree_and_their_schedulers_fill_their_rungs() {
    let read = |f: &str| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(root().join("examples").join(f)).unwrap()).unwrap()
    };
    let c10 = read("compare_nb201_fidelity.toml");
    let mean_time = |k: &str| {
        let b = TabularBenchmark::from_file(
            &root().join(format!("benchmarks/data/nb201_{k}.tabular.toml")),
        )
        .unwrap();
        let c = b.table().cost().unwrap();
        c.iter().sum::<f64>() / c.len() as f64
    };
    let budget = |t: &toml::Table| t["budget"]["max_sim_seconds"].as_integer().unwrap() as f64;
    for (k, code) in [("cifar100", "c100"), ("imagenet16-120", "in16")] {
        let other = read(&format!("compare_nb201_fidelity_{k}.toml"));
        let text = serde_json::to_string(&other["experiments"]).unwrap();
        assert_eq!(
            text.replace(&format!("{code}_params_M"), "c10_params_M"),
            serde_json::to_string(&c10["experiments"]).unwrap(),
            "{k}"
        );
        let scaled = budget(&c10) * mean_time(k) / mean_time("cifar10");
        assert!((budget(&other) - scaled).abs() <= 1.0, "{k}: {}", scaled);
    }

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    emprox_ok(&[
        "compare",
        "examples/compare_nb201_fidelity.toml",
        "--seeds",
        "1",
        "--out",
        s(&out),
        "-q",
    ]);
    let journal =
        |label: &str| lines(&out.join(format!("nb201-cifar10/{label}/seed-0/trials.jsonl")));
    // SH: 81 cells at 12 epochs, then the best 9 of them at 200, bracket after bracket.
    let sh = journal("SH");
    let f = fidelities(&sh);
    assert_eq!(f[..90], [vec![12.0; 81], vec![200.0; 9]].concat()[..]);
    let val = |t: &Value| t["val_acc"].as_f64().unwrap();
    let mut low: Vec<&Value> = sh[..81].iter().collect();
    low.sort_by(|a, b| val(b).total_cmp(&val(a)));
    let top: Vec<&Value> = low[..9].to_vec();
    for (p, want) in sh[81..90].iter().zip(top) {
        assert_eq!(p["index"], want["index"], "promoted best first");
    }
    // Hyperband (eta 3, two rungs): 3 cells at 12 epochs and the best at 200, then 2 cells
    // straight at 200, again and again.
    let hb = fidelities(&journal("Hyperband"));
    assert_eq!(
        hb[..12],
        [12.0, 12.0, 12.0, 200.0, 200.0, 200.0].repeat(2)[..]
    );
    // Runs without a scheduler journal no fidelity.
    assert!(journal("RS").iter().all(|t| t.get("fidelity").is_none()));
}

/// The tiny Hyperband over `train` epochs (1 and 3) on the shipped digits, written to `out`.
fn digits_hyperband(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "examples/train_digits_hyperband.toml",
        "--set",
        "budget.max_queries=10",
        "--set",
        "evaluator.training.epochs=3",
        "--set",
        "evaluator.training.fidelity_epochs=[1]",
        "--set",
        "evaluator.training.max_train_images=256",
        "--set",
        "evaluator.training.channels=4",
        "-q",
        "--out",
        s(out),
    ]
    .map(String::from)
    .to_vec();
    a.extend(extra.iter().map(|x| x.to_string()));
    a
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// The names in a run's checkpoint folder, sorted.
fn checkpoints(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("seed-0/checkpoints"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Hyperband over `train` epochs on the shipped digits: a run cut right after a rung's trials
/// (before the promotions, which continue checkpoints on disk) resumes to the journal of the
/// uninterrupted run, bit for bit. With `--keep-checkpoints` every checkpoint stays.
#[test]
fn hyperband_over_epochs_resumes_from_its_checkpoints_to_the_same_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    let a = digits_hyperband(&full, &["--keep-checkpoints"]);
    emprox_ok(&strs(&a));
    let journal = std::fs::read_to_string(full.join("seed-0/trials.jsonl")).unwrap();
    let trials = lines(&full.join("seed-0/trials.jsonl"));
    // eta 3 over 1 and 3 epochs: 3 cells at 1 epoch, the best continued to 3; 2 cells at 3.
    assert_eq!(
        fidelities(&trials),
        [1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 3.0]
    );
    let best = (0..3)
        .max_by(|&a, &b| {
            let v = |i: usize| trials[i]["val_acc"].as_f64().unwrap();
            v(a).total_cmp(&v(b)).then(b.cmp(&a))
        })
        .unwrap();
    assert_eq!(trials[3]["index"], trials[best]["index"]);
    // One checkpoint per 1-epoch training (the top rung keeps none), all kept.
    let ckpts = checkpoints(&full);
    let low = trials
        .iter()
        .filter(|t| t["fidelity"] == 1.0 && t["val_acc"].is_number())
        .count();
    assert_eq!(ckpts.len(), low, "{ckpts:?}");
    assert!(ckpts.iter().all(|c| c.ends_with("-e1.ckpt")), "{ckpts:?}");
    // Cut after the first rung (3 lines) and resume: the promotion continues the checkpoint.
    let cut = tmp.path().join("cut");
    std::fs::create_dir_all(cut.join("seed-0/checkpoints")).unwrap();
    for f in ["config.resolved.toml", "run.json"] {
        std::fs::copy(full.join(f), cut.join(f)).unwrap();
    }
    for c in &ckpts {
        let from = full.join("seed-0/checkpoints").join(c);
        std::fs::copy(from, cut.join("seed-0/checkpoints").join(c)).unwrap();
    }
    let head: String = journal.split_inclusive('\n').take(3).collect();
    std::fs::write(cut.join("seed-0/trials.jsonl"), head).unwrap();
    emprox_ok(&["resume", s(&cut), "-q", "--keep-checkpoints"]);
    assert_eq!(
        std::fs::read_to_string(cut.join("seed-0/trials.jsonl")).unwrap(),
        journal
    );
    assert_eq!(checkpoints(&cut), ckpts);
    // --overwrite deletes the checkpoints with the run's other files.
    emprox_ok(&strs(&digits_hyperband(&full, &["--overwrite"])));
    assert!(checkpoints(&full).is_empty());
}

/// Without `--keep-checkpoints` a checkpoint goes once no promotion will continue it: a run
/// killed after the first rung holds its three (each may still go up); after the promotion
/// none is left (the top rung keeps none). The killed run resumes to the journal of an
/// uninterrupted one, and at the end only the files emprox did not write remain.
#[test]
fn checkpoints_go_once_no_promotion_reads_them_and_a_killed_run_resumes_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    emprox_ok(&strs(&digits_hyperband(&whole, &[])));
    let journal = std::fs::read_to_string(whole.join("seed-0/trials.jsonl")).unwrap();
    assert!(checkpoints(&whole).is_empty(), "{:?}", checkpoints(&whole));
    let low = |n: usize| {
        lines(&whole.join("seed-0/trials.jsonl"))[..n]
            .iter()
            .filter(|t| t["fidelity"] == 1.0 && t["val_acc"].is_number())
            .count()
    };
    // Killed while it sleeps after its 3rd, then after its 4th journal line.
    let out = tmp.path().join("killed");
    for (n, left) in [(3, low(3)), (4, 0)] {
        let mut a = digits_hyperband(&out, &["--throttle-ms", "3000"]);
        if n > 3 {
            a = vec!["resume".into(), s(&out).into(), "-q".into()];
            a.extend(["--throttle-ms".into(), "3000".into()]);
        }
        let mut child = common::bin().args(strs(&a)).spawn().unwrap();
        let journal_path = out.join("seed-0/trials.jsonl");
        let t0 = std::time::Instant::now();
        while std::fs::read_to_string(&journal_path).map_or(0, |j| j.lines().count()) < n {
            assert!(
                t0.elapsed().as_secs() < 300,
                "the run did not reach {n} lines"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let text = std::fs::read_to_string(&journal_path).unwrap();
        assert_eq!(text.lines().count(), n);
        let ckpts = checkpoints(&out);
        assert_eq!(ckpts.len(), left, "after {n} lines: {ckpts:?}");
    }
    // Files in the folder that emprox did not write stay, even one named like a checkpoint
    // of another cell.
    let mine = ["0123456789abcdef-e1.ckpt", "notes.txt"];
    for m in mine {
        std::fs::write(out.join("seed-0/checkpoints").join(m), "mine").unwrap();
    }
    emprox_ok(&["resume", s(&out), "-q"]);
    assert_eq!(
        std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap(),
        journal
    );
    assert_eq!(checkpoints(&out), mine);
}

/// A command with `fidelities`: successive halving passes each rung in `{fidelity}` and a folder
/// per cell in `{checkpoint_dir}`; the example script continues its lower rung's checkpoint, so
/// that a promoted cell's 9-epoch score is the one training it in one go gives. A run cut after
/// the first rung resumes to the same journal, and `--overwrite` removes the checkpoint folders.
#[test]
fn a_command_continues_its_checkpoint_when_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sh");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "examples/command_fidelity_sh.toml",
            "-q",
            "--out",
            s(&out),
        ];
        a.extend_from_slice(extra);
        emprox_ok(&a);
    };
    run(&[]);
    let journal = std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap();
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    let f = fidelities(&trials);
    assert_eq!(
        f[..13],
        [vec![1.0; 9], vec![3.0; 3], vec![9.0]].concat()[..]
    );
    // The 9-epoch trial, trained again in one go in a fresh folder, gives the same score.
    let top = &trials[12];
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let o = std::process::Command::new("python3")
        .arg(root().join("examples/fidelity_command.py"))
        .args([top["arch"].as_str().unwrap(), "9", s(&fresh)])
        .output()
        .unwrap();
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["val_acc"], top["val_acc"]);
    assert_eq!(line["epochs_trained_now"], 9);
    assert_eq!(top["incumbent"], true);
    // Cut after the first rung and resume: the promotions continue the checkpoints.
    let text: String = journal.split_inclusive('\n').take(9).collect();
    std::fs::write(out.join("seed-0/trials.jsonl"), text).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    emprox_ok(&["resume", s(&out), "-q"]);
    assert_eq!(
        std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap(),
        journal
    );
    // Every checkpoint folder is the run's: --overwrite deletes them.
    run(&["--overwrite"]);
    assert_eq!(
        std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap(),
        journal
    );
}

/// Successive halving on a minimised objective (the CIFAR-10 table with its goal turned to
/// `minimize`): each bracket promotes its lowest 12-epoch cells, and the incumbent is the lowest
/// 200-epoch one.
#[test]
fn successive_halving_promotes_the_lowest_cells_when_the_goal_is_to_minimise() {
    let tmp = tempfile::tempdir().unwrap();
    let data = root().join("benchmarks/data");
    let desc = std::fs::read_to_string(data.join("nb201_cifar10.tabular.toml"))
        .unwrap()
        .replace("goal = \"maximize\"", "goal = \"minimize\"")
        .replace(
            "data = \"nb201.csv.gz\"",
            &format!("data = {:?}", s(&data.join("nb201.csv.gz"))),
        );
    assert!(desc.contains("goal = \"minimize\""));
    let desc_path = tmp.path().join("min.tabular.toml");
    std::fs::write(&desc_path, desc).unwrap();
    let exp = tmp.path().join("min.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"sh-min\"\nseed = 3\nseeds = 2\n[benchmark]\ntype = \"tabular\"\n\
             description = {:?}\n[strategy]\ntype = \"random\"\n[budget]\nmax_queries = 40\n\
             [scheduler]\ntype = \"successive_halving\"\neta = 3\ncells = 9\n",
            s(&desc_path)
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    emprox_ok(&["run", s(&exp), "--out", s(&out), "-q", "--no-report"]);
    let t = cifar10();
    let low = |row: usize| t.table().at_level(12.0, row).unwrap().0;
    for run in 0..2 {
        let trials = lines(&out.join(format!("seed-{run}/trials.jsonl")));
        let row = |tr: &Value| tr["index"].as_u64().unwrap() as usize;
        let mut brackets = 0;
        let mut best: Option<f64> = None;
        let mut i = 0;
        while i < trials.len() {
            // A bracket: its 12-epoch trials, then the promotions to 200 epochs.
            let entered: Vec<usize> = trials[i..]
                .iter()
                .take_while(|t| t["fidelity"] == 12.0)
                .map(row)
                .collect();
            i += entered.len();
            let promoted: Vec<&Value> = trials[i..]
                .iter()
                .take_while(|t| t["fidelity"] == 200.0)
                .collect();
            i += promoted.len();
            if promoted.is_empty() {
                continue;
            }
            brackets += 1;
            let worst_promoted = promoted
                .iter()
                .map(|t| low(row(t)))
                .fold(f64::MIN, f64::max);
            let left = entered
                .iter()
                .filter(|r| !promoted.iter().any(|t| row(t) == **r));
            for r in left {
                assert!(
                    low(*r) >= worst_promoted,
                    "run {run}: row {r} ranked above a promoted one"
                );
            }
            for tr in promoted {
                let v = tr["val_acc"].as_f64().unwrap();
                let better = best.is_none_or(|b| v < b);
                assert_eq!(
                    tr["incumbent"].as_bool(),
                    Some(better),
                    "the lowest is the best"
                );
                if better {
                    best = Some(v);
                }
            }
        }
        assert!(brackets >= 2, "run {run}: {brackets} brackets");
        let summary: Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["runs"][run]["best"]["val_acc"].as_f64(), best);
    }
}
