//! What a person sees: plain progress lines outside a terminal, `--quiet`, a closed stdout, the
//! resume hint of an interrupted comparison, and output files that load cleanly.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn assert_plain(err: &str) {
    assert!(
        !err.contains('\x1b'),
        "colour codes outside a terminal: {err:?}"
    );
    assert!(!err.contains("Some("), "Rust debug text: {err}");
    assert!(!err.contains("None"), "Rust debug text: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A random search through an external command that prints a fixed result.
fn command_experiment(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("cmd.toml");
    std::fs::write(
        &p,
        "name = \"cmd\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
         [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 3\n\
         [evaluator]\ntype = \"command\"\n[evaluator.command]\n\
         command = [\"sh\", \"-c\", \"echo '{\\\"val_acc\\\": 70, \\\"test_acc\\\": 60}'\"]\n",
    )
    .unwrap();
    p
}

#[test]
fn phases_that_take_time_are_named_in_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let o = emprox_ok(&[
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        s(&tmp.path().join("f")),
        "--seeds",
        "1",
        "--set",
        "budget.max_queries=25",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_plain(&err);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].ends_with("1 run(s) of 25 queries started"),
        "{err}"
    );
    // The pre-training of the encoder (2,000 cells) takes seconds: said when it has taken one,
    // and when it ends, with its time.
    let named = "run 0: pre-training the EmProx encoder on 2000 cells, then fitting on 20";
    assert!(
        lines.iter().any(|l| l.ends_with(&format!("{named}..."))),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{named}: done in "))),
        "{err}"
    );
    assert!(!err.contains("ETA 0"), "{err}");
}

#[test]
fn progress_outside_a_terminal_is_plain_lines_and_quiet_prints_none() {
    let tmp = tempfile::tempdir().unwrap();
    // Table lookups: a line every so many queries and at the end, with the incumbent and an ETA.
    let o = emprox_ok(&[
        "run",
        "examples/nb201_random.toml",
        "--out",
        s(&tmp.path().join("table")),
        "--seeds",
        "2",
        "--set",
        "budget.max_queries=60",
        "-vv",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_plain(&err);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(" query ")).collect();
    assert!(!lines.is_empty(), "no progress line: {err}");
    let last = lines.last().unwrap();
    assert!(last.contains("120/120 queries"), "{err}");
    // The last line says the work is done; the others give an ETA.
    assert!(
        last.ends_with(", done") && last.contains("best val"),
        "{last}"
    );
    assert!(
        lines[..lines.len() - 1].iter().all(|l| l.contains("ETA")),
        "{err}"
    );
    // The first line comes at the start, and no ETA is a guess of zero.
    assert!(err.lines().next().unwrap().ends_with("started"), "{err}");
    assert!(!err.contains("ETA 0"), "{err}");

    // A slow evaluator (an external command): one line per evaluation.
    let exp = command_experiment(tmp.path());
    let o = emprox_ok(&["run", s(&exp), "--out", s(&tmp.path().join("cmd"))]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_plain(&err);
    for q in 1..=3 {
        // Each evaluation: its cell, its score and its time, with the incumbent.
        let line = err
            .lines()
            .find(|l| l.contains(&format!("run 0 query {q}/3: |")))
            .unwrap_or_else(|| panic!("no line for query {q}: {err}"));
        assert!(
            line.contains("| val_acc 70.00 in ") && line.contains("best val"),
            "{line}"
        );
        assert!(line.contains("ETA") || q == 3, "{line}");
    }

    // -v: a line per finished run; -vv: debug detail too; neither by default.
    let table = |name: &str, flag: &str| {
        let mut args = vec![
            "run",
            "examples/nb201_random.toml",
            "--seeds",
            "2",
            "--set",
            "budget.max_queries=20",
        ];
        let out = tmp.path().join(name);
        args.extend(["--out", s(&out)]);
        args.extend((!flag.is_empty()).then_some(flag));
        String::from_utf8_lossy(&emprox_ok(&args).stderr).into_owned()
    };
    let (plain, v, vv) = (table("v0", ""), table("v1", "-v"), table("v2", "-vv"));
    assert!(!plain.contains("finished after"), "{plain}");
    assert!(
        v.contains("run 1 (seed ") && v.contains("finished after 20 queries (max_queries"),
        "{v}"
    );
    assert!(!v.contains("starts in"), "{v}");
    assert!(vv.contains("starts in"), "{vv}");
    assert_plain(&vv);

    // --quiet: only the final result.
    for (name, file) in [
        ("quiet", s(&exp).to_string()),
        ("quiet-table", "examples/nb201_random.toml".into()),
    ] {
        let o = emprox_ok(&[
            "run",
            &file,
            "--out",
            s(&tmp.path().join(name)),
            "--set",
            "budget.max_queries=60",
            "--quiet",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.is_empty(), "--quiet printed: {err}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("mean best test accuracy"));
    }
}

#[test]
fn a_closed_stdout_ends_run_compare_and_eval_predictors_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let cmp = tmp.path().join("cmp.toml");
    std::fs::write(
        &cmp,
        "name = \"c\"\nseeds = 2\ndatasets = [\"cifar10\"]\nreport_at = [10]\n[budget]\nmax_queries = 10\n\
         [[experiments]]\nlabel = \"RS\"\n[experiments.strategy]\ntype = \"random\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let cmp_out = tmp.path().join("cmp");
    let ev = tmp.path().join("ev.toml");
    std::fs::write(
        &ev,
        "[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
         [evaluation]\ntrain_sizes = [10]\ntest_size = 20\ntrials = 1\n\
         [[estimators]]\ntype = \"knn_onehot\"\n[[estimators]]\ntype = \"random\"\n",
    )
    .unwrap();
    let ev_out = tmp.path().join("ev");
    for args in [
        vec![
            "run",
            "examples/nb201_random.toml",
            "--seeds",
            "2",
            "--out",
            s(&out),
        ],
        vec!["compare", s(&cmp), "--out", s(&cmp_out)],
        vec!["eval-predictors", s(&ev), "--out", s(&ev_out)],
    ] {
        let o = emprox_closed_stdout(&[&args[..], &["--quiet"]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.is_empty(), "{:?}: {err}", args[0]);
        assert!(o.status.success(), "{:?}: {:?} {err}", args[0], o.status);
    }
    assert!(out.join("summary.json").exists());
    assert!(cmp_out.join("comparison.json").exists());
    assert!(ev_out.join("summary.json").exists());
}

#[test]
fn an_interrupted_comparison_says_how_to_resume_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cmp.toml");
    std::fs::write(
        &file,
        "name = \"c\"\nseeds = 400\ndatasets = [\"cifar10\"]\nreport_at = [150]\n[budget]\nmax_queries = 150\n\
         [[experiments]]\nlabel = \"RS\"\n[experiments.strategy]\ntype = \"random\"\n\
         [[experiments]]\nlabel = \"RE\"\n[experiments.strategy]\ntype = \"regularized_evolution\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let child = bin()
        .args(["compare", s(&file), "--out", s(&out), "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !out.join("cifar10/RS/run.json").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let hint = format!("emprox compare {} --resume --out {}", s(&file), s(&out));
    assert!(err.contains(&format!("`{hint}`")), "{err}");
    // The hint works as printed.
    let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    emprox_ok(&[&args[..], &["--quiet"]].concat());
    assert!(out.join("comparison.json").exists());
}

#[test]
fn outputs_load_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    emprox_ok(&[
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        s(&out),
        "--seeds",
        "2",
        "--set",
        "budget.max_queries=30",
        "--set",
        "estimator.pretrain=0",
    ]);
    for run in 0..2u64 {
        let dir = out.join(format!("seed-{run}"));
        // The journal names its run; `val_acc` is the query's own score.
        let trials = lines(&dir.join("trials.jsonl"));
        assert_eq!(trials.len(), 30);
        assert!(trials.iter().all(|t| t["run"] == run), "{trials:?}");
        // The trajectory names the incumbent's scores as such.
        let csv = std::fs::read_to_string(dir.join("trajectory.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        assert!(header.contains(&"best_val_acc") && header.contains(&"best_test_acc"));
        assert!(!header.contains(&"val_acc") && !header.contains(&"test_acc"));
        // Timings: a `kind` per record and one set of fields per kind.
        let mut schemas: std::collections::HashMap<String, Vec<String>> = Default::default();
        for t in lines(&dir.join("timings.jsonl")) {
            let kind = t["kind"]
                .as_str()
                .expect("every record has a kind")
                .to_string();
            let keys: Vec<String> = t.as_object().unwrap().keys().cloned().collect();
            let first = schemas.entry(kind.clone()).or_insert_with(|| keys.clone());
            assert_eq!(*first, keys, "{kind}: two schemas");
        }
        let mut kinds: Vec<&String> = schemas.keys().collect();
        kinds.sort();
        assert_eq!(kinds, ["estimator_fit", "estimator_query", "evaluation"]);
        // The run's plot: every evaluation a point, the incumbent a line.
        let svg = std::fs::read_to_string(dir.join("incumbent.svg")).unwrap();
        // Queries far below the incumbent are counted in the legend, not drawn.
        let off: usize = svg
            .split(" off the axis)")
            .next()
            .and_then(|t| t.rsplit('(').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            svg.matches("<circle").count() + off >= 30,
            "no point per query"
        );
        assert!(svg.contains("<polyline"), "no incumbent line");
    }
    // The multi-run plot: a band of one standard deviation, said in the plot.
    let svg = std::fs::read_to_string(out.join("incumbent.svg")).unwrap();
    assert!(svg.contains("<polygon"), "no error band");
    assert!(svg.contains("std"), "the spread is not named");
    // Resume still replays the journal with its run numbers: cut a run and continue it.
    let j = out.join("seed-1/trials.jsonl");
    let full = std::fs::read_to_string(&j).unwrap();
    let cut: String = full.lines().take(12).map(|l| format!("{l}\n")).collect();
    std::fs::write(&j, cut).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    emprox_ok(&["resume", s(&out), "--quiet"]);
    assert_eq!(std::fs::read_to_string(&j).unwrap(), full);
}
