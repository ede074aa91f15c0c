//! Nothing the user did not ask to lose is lost: `--overwrite` deletes only what emprox wrote
//! (in a comparison, only the experiments it lists), links out of a folder are never followed,
//! names are plain folder names, output folders are locked, the result cache survives torn
//! lines and bad values, and resume keeps what it keeps byte for byte.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

const RE: &str = "examples/nb201_evolution.toml";

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn overwrite_refuses_a_folder_emprox_did_not_write() {
    let t = tempfile::tempdir().unwrap();
    let thesis = t.path().join("thesis");
    write(&thesis.join("chapter1.tex"), "years of work");
    write(&thesis.join("figures/plot.svg"), "<svg/>");
    for cmd in [
        vec![
            "run",
            RE,
            "--seeds",
            "1",
            "--out",
            s(&thesis),
            "--overwrite",
        ],
        vec![
            "compare",
            "examples/compare_nb201.toml",
            "--seeds",
            "1",
            "--out",
            s(&thesis),
            "--overwrite",
        ],
    ] {
        let o = emprox(&cmd);
        assert_refused(&o, "not an emprox output folder");
    }
    assert_eq!(
        std::fs::read_to_string(thesis.join("chapter1.tex")).unwrap(),
        "years of work"
    );
    assert!(thesis.join("figures/plot.svg").exists());
    assert_eq!(
        std::fs::read_dir(&thesis).unwrap().count(),
        2,
        "nothing added either"
    );
}

#[test]
fn overwrite_deletes_only_emprox_files_in_an_emprox_folder() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    emprox_ok(&["run", RE, "--seeds", "3", "--out", s(&out)]);
    write(&out.join("notes.md"), "my notes");
    write(&out.join("seed-0/analysis.ipynb"), "{}");
    // Without --overwrite: refused, with a hint.
    assert_refused(
        &emprox(&["run", RE, "--seeds", "1", "--out", s(&out)]),
        "--overwrite",
    );
    emprox_ok(&["run", RE, "--seeds", "1", "--out", s(&out), "--overwrite"]);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.md")).unwrap(),
        "my notes"
    );
    assert!(out.join("seed-0/analysis.ipynb").exists());
    assert!(
        !out.join("seed-1").exists() && !out.join("seed-2").exists(),
        "old runs go"
    );
    assert_eq!(
        lines(&out.join("seed-0/trials.jsonl")).len(),
        150,
        "a fresh journal"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 1);
    // No temporary file is left behind by the atomic writes.
    for dir in [out.clone(), out.join("seed-0")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.ends_with(".tmp"), "{name}");
        }
    }
    // A search folder is not an evaluation folder, and the reverse.
    let eval = t.path().join("eval.toml");
    write(
        &eval,
        "[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n[evaluation]\n\
         train_sizes = [20]\ntest_size = 50\ntrials = 1\n[[estimators]]\ntype = \"knn_onehot\"\n",
    );
    assert_refused(
        &emprox(&["eval-predictors", s(&eval), "--out", s(&out)]),
        "already holds files",
    );
    assert_refused(
        &emprox(&["eval-predictors", s(&eval), "--out", s(&out), "--overwrite"]),
        "holds an experiment",
    );
    assert!(out.join("seed-0/trials.jsonl").exists());
    let ev_out = t.path().join("ev");
    emprox_ok(&["eval-predictors", s(&eval), "--out", s(&ev_out)]);
    assert_refused(
        &emprox(&["eval-predictors", s(&eval), "--out", s(&ev_out)]),
        "--overwrite",
    );
    write(&ev_out.join("keep.txt"), "mine");
    emprox_ok(&[
        "eval-predictors",
        s(&eval),
        "--out",
        s(&ev_out),
        "--overwrite",
    ]);
    assert!(ev_out.join("keep.txt").exists() && ev_out.join("results.csv").exists());
    assert_refused(
        &emprox(&[
            "run",
            RE,
            "--seeds",
            "1",
            "--out",
            s(&ev_out),
            "--overwrite",
        ]),
        "holds a predictor evaluation",
    );
}

/// A small comparison file: RS on CIFAR-10, `queries` queries per run.
fn small_comparison(dir: &Path, queries: u64) -> std::path::PathBuf {
    let file = dir.join("cmp.toml");
    write(
        &file,
        &format!(
            "name = \"c\"\nseeds = 1\ndatasets = [\"cifar10\"]\nreport_at = [10]\n\
             [budget]\nmax_queries = {queries}\n\
             [[experiments]]\nlabel = \"RS\"\n[experiments.strategy]\ntype = \"random\"\n\
             [[experiments]]\nlabel = \"RE\"\n[experiments.strategy]\n\
             type = \"regularized_evolution\"\n"
        ),
    );
    file
}

/// A small comparison of 20 queries, run into `dir/cmp`: its file and its folder.
fn compared(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let file = small_comparison(dir, 20);
    let cmp = dir.join("cmp");
    emprox_ok(&["compare", s(&file), "--out", s(&cmp)]);
    (file, cmp)
}

#[test]
fn comparison_overwrite_deletes_only_the_experiments_it_lists() {
    let t = tempfile::tempdir().unwrap();
    let (file, cmp) = compared(t.path());
    // A separate run and a user's backup of an experiment, inside the comparison's folder.
    let mine = cmp.join("cifar10/mine");
    emprox_ok(&["run", RE, "--seeds", "1", "--out", s(&mine)]);
    let backup = cmp.join("cifar10/RS-backup");
    std::fs::create_dir_all(backup.join("seed-0")).unwrap();
    for f in [
        "run.json",
        "config.resolved.toml",
        "summary.json",
        "seed-0/trials.jsonl",
    ] {
        std::fs::copy(cmp.join("cifar10/RS").join(f), backup.join(f)).unwrap();
    }
    let (before_mine, before_backup) = (tree(&mine), tree(&backup));
    emprox_ok(&["compare", s(&file), "--out", s(&cmp), "--overwrite"]);
    assert_eq!(
        tree(&mine),
        before_mine,
        "a separate run is not the comparison's"
    );
    assert_eq!(tree(&backup), before_backup, "nor is a backup");
    // The manifest lists the comparison's own experiments.
    let manifest = std::fs::read_to_string(cmp.join("run.json")).unwrap();
    assert!(
        manifest.contains("\"cifar10/RS\"") && manifest.contains("\"cifar10/RE\""),
        "{manifest}"
    );
    assert_eq!(lines(&cmp.join("cifar10/RS/seed-0/trials.jsonl")).len(), 20);
    // A comparison whose experiment folder holds a run it did not write refuses to replace it.
    let other = t.path().join("other.toml");
    write(
        &other,
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace("label = \"RE\"", "label = \"mine\""),
    );
    let before = tree(&cmp);
    assert_refused(
        &emprox(&["compare", s(&other), "--out", s(&cmp), "--overwrite"]),
        "did not write",
    );
    assert_eq!(tree(&cmp), before, "refused before anything is deleted");
}

#[test]
fn a_users_file_inside_a_comparisons_experiment_survives_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let (file, cmp) = compared(t.path());
    // Rewritten with fewer queries, to tell the runs apart.
    small_comparison(t.path(), 15);
    let rs = cmp.join("cifar10/RS");
    users_files_survive_overwrite(
        &cmp,
        &[rs.join("notes.txt"), rs.join("seed-0/mine.txt")],
        &["compare", s(&file), "--out", s(&cmp), "--overwrite"],
        &rs.join("run.json"),
        || {
            for e in ["RS", "RE"] {
                let trials = cmp.join("cifar10").join(e).join("seed-0/trials.jsonl");
                assert_eq!(lines(&trials).len(), 15, "{e}");
            }
            assert!(rs.join("run.json").exists() && cmp.join("comparison.md").exists());
        },
    );
}

#[test]
fn a_running_comparison_locks_every_experiment_folder() {
    let t = tempfile::tempdir().unwrap();
    let file = small_comparison(t.path(), 60);
    let cmp = t.path().join("cmp");
    let mut child = bin()
        .args(["compare", s(&file), "--out", s(&cmp), "--threads", "1"])
        .args(["--throttle-ms", "50"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |p: &Path| {
        let t0 = std::time::Instant::now();
        while std::fs::metadata(p).map_or(0, |m| m.len()) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(30), "{}", p.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let in_use = format!("pid {}", child.id());
    // The first experiment runs: the second, not started yet, is locked too.
    wait_for(&cmp.join("cifar10/RS/seed-0/trials.jsonl"));
    let re = cmp.join("cifar10/RE");
    assert_refused(
        &emprox(&["run", RE, "--seeds", "1", "--out", s(&re)]),
        &in_use,
    );
    // The first has finished, the second runs: the first is still locked.
    let rs = cmp.join("cifar10/RS");
    wait_for(&rs.join("summary.json"));
    let journal = std::fs::read(rs.join("seed-0/trials.jsonl")).unwrap();
    assert_refused(
        &emprox(&["run", RE, "--seeds", "1", "--out", s(&rs), "--overwrite"]),
        &in_use,
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(rs.join("seed-0/trials.jsonl")).unwrap(),
        journal
    );
    assert_eq!(lines(&re.join("seed-0/trials.jsonl")).len(), 60);
}

#[cfg(unix)]
#[test]
fn overwrite_and_resume_refuse_a_linked_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    emprox_ok(&["run", RE, "--seeds", "2", "--out", s(&out)]);
    // seed-1 moved elsewhere and linked back: the link leads out of the folder.
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(out.join("seed-1"), elsewhere.join("seed-1")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("seed-1"), out.join("seed-1")).unwrap();
    let before = tree(&elsewhere);
    let link = out.join("seed-1");
    let o = emprox(&["run", RE, "--seeds", "2", "--out", s(&out), "--overwrite"]);
    assert_refused(&o, &format!("{} is a symbolic link", link.display()));
    std::fs::remove_file(out.join("summary.json")).unwrap();
    assert_refused(
        &emprox(&["resume", s(&out)]),
        &format!("{} is a symbolic link", link.display()),
    );
    assert_eq!(tree(&elsewhere), before, "nothing written through the link");
    assert!(out.join("seed-0/trials.jsonl").exists(), "nothing deleted");
    // A journal linked out of the folder is refused the same way.
    std::fs::remove_file(&link).unwrap();
    let journal = out.join("seed-0/trials.jsonl");
    std::fs::rename(&journal, elsewhere.join("trials.jsonl")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("trials.jsonl"), &journal).unwrap();
    let before = tree(&elsewhere);
    assert_refused(
        &emprox(&["resume", s(&out)]),
        "trials.jsonl is a symbolic link",
    );
    assert_refused(
        &emprox(&["run", RE, "--seeds", "2", "--out", s(&out), "--overwrite"]),
        "trials.jsonl is a symbolic link",
    );
    assert_eq!(tree(&elsewhere), before);
}

#[test]
fn experiment_names_are_plain_folder_names() {
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(common::root().join(RE)).unwrap();
    let long = "n".repeat(300);
    for name in [
        "..",
        ".",
        "../../x",
        "/tmp/abs",
        "a/b",
        "tab\there",
        long.as_str(),
    ] {
        let file = t.path().join("exp.toml");
        let text = base.replacen("name = \"nb201-re\"", &format!("name = {name:?}"), 1);
        assert_ne!(text, base, "the example's name line changed");
        write(&file, &text);
        // Run in a scratch folder: nothing may be created, deleted or written there.
        write(&t.path().join("cwd/runs/keep/file"), "x");
        let o = bin()
            .args(["run", s(&file), "--seeds", "1", "--overwrite"])
            .current_dir(t.path().join("cwd"))
            .output()
            .unwrap();
        assert_refused(&o, "name");
        assert!(t.path().join("cwd/runs/keep/file").exists());
        assert_eq!(
            std::fs::read_dir(t.path().join("cwd/runs"))
                .unwrap()
                .count(),
            1
        );
    }
}

#[test]
fn comparison_labels_that_share_a_folder_are_rejected() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("cmp.toml");
    write(
        &file,
        "name = \"c\"\nseeds = 1\ndatasets = [\"cifar10\"]\n[budget]\nmax_queries = 10\n\
         [[experiments]]\nlabel = \"RE+X\"\n[experiments.strategy]\ntype = \"random\"\n\
         [[experiments]]\nlabel = \"RE_X\"\n[experiments.strategy]\ntype = \"random\"\n",
    );
    let o = emprox(&["compare", s(&file), "--out", s(&t.path().join("o"))]);
    assert_refused(&o, "both map to the folder `RE_X`");
    assert!(!t.path().join("o").exists());
}

#[test]
fn a_locked_folder_is_refused_and_a_killed_holder_does_not_block() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let mut first = bin()
        .args([
            "run",
            RE,
            "--seeds",
            "1",
            "--threads",
            "1",
            "--out",
            s(&out),
            "--throttle-ms",
            "40",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it has started writing its journal.
    let journal = out.join("seed-0/trials.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&journal).map_or(0, |m| m.len()) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = format!("pid {}", first.id());
    assert_refused(&emprox(&["resume", s(&out)]), &pid);
    assert_refused(
        &emprox(&["run", RE, "--seeds", "1", "--out", s(&out), "--overwrite"]),
        &pid,
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // The lock died with its process: resume goes ahead and finishes the run.
    emprox_ok(&["resume", s(&out)]);
    assert_eq!(lines(&journal).len(), 150);
}

fn cache_experiment(dir: &Path, cache: &Path, counter: &Path) -> std::path::PathBuf {
    let script = dir.join("eval.sh");
    write(
        &script,
        &format!(
            "#!/bin/sh\necho x >> {}\necho '{{\"val_acc\": 70.5, \"test_acc\": 70.0, \"cost_seconds\": 1}}'\n",
            counter.display()
        ),
    );
    let exp = dir.join("cached.toml");
    write(
        &exp,
        &format!(
            "name = \"cached\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 5\n\
             [evaluator]\ntype = \"command\"\ncache = {:?}\n[evaluator.command]\n\
             command = [\"sh\", {:?}, \"{{arch}}\"]\ntimeout_seconds = 20\n",
            cache.display().to_string(),
            script.display().to_string()
        ),
    );
    exp
}

#[test]
fn the_result_cache_recovers_from_torn_lines_and_ignores_absurd_values() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache.jsonl");
    let counter = t.path().join("calls");
    let exp = cache_experiment(t.path(), &cache, &counter);
    emprox_ok(&["run", s(&exp), "--out", s(&t.path().join("a"))]);
    let calls = |p: &Path| std::fs::read_to_string(p).map_or(0, |s| s.lines().count());
    assert_eq!(calls(&counter), 5);
    let good = std::fs::read_to_string(&cache).unwrap();
    let mut entries: Vec<serde_json::Value> = good
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 5);
    // Poison one entry with an absurd accuracy, and tear the last line (a kill mid-append).
    entries[0]["outcome"]["val_acc"] = serde_json::json!(1e9);
    let mut text: String = entries[..4]
        .iter()
        .map(|e| format!("{}\n", serde_json::to_string(e).unwrap()))
        .collect();
    let last = serde_json::to_string(&entries[4]).unwrap();
    text.push_str(&last[..last.len() / 2]);
    std::fs::write(&cache, &text).unwrap();
    std::fs::remove_file(&counter).unwrap();
    let b = t.path().join("b");
    emprox_ok(&["run", s(&exp), "--out", s(&b)]);
    // The poisoned and the torn entries were evaluated again; the other three came from the cache.
    assert_eq!(calls(&counter), 2);
    let trials = lines(&b.join("seed-0/trials.jsonl"));
    assert!(
        trials.iter().all(|t| t["val_acc"] == 70.5),
        "no 1e9 incumbent"
    );
    // The torn line was removed under the lock, the whole lines kept: every line parses, and a
    // third run takes everything from the cache without a word about a torn line.
    let after = std::fs::read_to_string(&cache).unwrap();
    assert!(after.ends_with('\n'));
    assert_eq!(
        after.lines().count(),
        6,
        "4 old (1 poisoned) + 2 new: {after}"
    );
    for l in after.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    std::fs::remove_file(&counter).unwrap();
    let o = emprox_ok(&["run", s(&exp), "--out", s(&t.path().join("c"))]);
    assert_eq!(calls(&counter), 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("torn"), "{err}");
    assert!(
        err.contains("ignored 1 invalid entry"),
        "the poisoned one: {err}"
    );
}

#[test]
fn resume_keeps_the_lines_it_keeps_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let fast = [
        "--set",
        "estimator.pretrain=200",
        "--set",
        "estimator.pretrain_epochs=5",
        "--set",
        "budget.max_queries=40",
        "--seeds",
        "1",
    ];
    let mut args = vec![
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        s(&out),
    ];
    args.extend_from_slice(&fast);
    emprox_ok(&args);
    let run = out.join("seed-0");
    let pools = std::fs::read(run.join("pools.jsonl")).unwrap();
    let trials = std::fs::read(run.join("trials.jsonl")).unwrap();
    // Cut the run back to 25 queries, as a kill would, and resume it.
    let cut: usize = trials
        .split_inclusive(|&b| b == b'\n')
        .take(25)
        .map(|l| l.len())
        .sum();
    std::fs::write(run.join("trials.jsonl"), &trials[..cut]).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    emprox_ok(&["resume", s(&out)]);
    assert_eq!(std::fs::read(run.join("trials.jsonl")).unwrap(), trials);
    assert_eq!(std::fs::read(run.join("pools.jsonl")).unwrap(), pools);
}

#[test]
fn a_killed_comparison_resumes_to_the_same_results() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("cmp.toml");
    write(
        &file,
        "name = \"c\"\nseeds = 2\ndatasets = [\"cifar10\"]\nreport_at = [10, 30]\n[budget]\nmax_queries = 30\n\
         [[experiments]]\nlabel = \"RS\"\n[experiments.strategy]\ntype = \"random\"\n\
         [[experiments]]\nlabel = \"RE\"\n[experiments.strategy]\ntype = \"regularized_evolution\"\n",
    );
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    emprox_ok(&["compare", s(&file), "--out", s(&a)]);
    emprox_ok(&["compare", s(&file), "--out", s(&b)]);
    // As if killed during the second experiment: its journal cut, nothing after it written.
    let re = b.join("cifar10/RE");
    let j = re.join("seed-1/trials.jsonl");
    let text = std::fs::read_to_string(&j).unwrap();
    let cut: String = text.lines().take(12).map(|l| format!("{l}\n")).collect();
    std::fs::write(&j, cut).unwrap();
    for f in [
        re.join("summary.json"),
        b.join("comparison.json"),
        b.join("comparison.md"),
    ] {
        std::fs::remove_file(f).unwrap();
    }
    assert_refused(&emprox(&["compare", s(&file), "--out", s(&b)]), "--resume");
    emprox_ok(&["compare", s(&file), "--out", s(&b), "--resume"]);
    assert_eq!(std::fs::read_to_string(&j).unwrap(), text);
    assert_eq!(
        std::fs::read(a.join("comparison.json")).unwrap(),
        std::fs::read(b.join("comparison.json")).unwrap()
    );
    // Resuming with a different --seeds is another comparison: refused.
    assert_refused(
        &emprox(&[
            "compare",
            s(&file),
            "--out",
            s(&b),
            "--resume",
            "--seeds",
            "3",
        ]),
        "refusing to resume",
    );
    // A comparison started by another emprox version is refused unless asked for.
    let m = b.join("run.json");
    let manifest = std::fs::read_to_string(&m).unwrap();
    let version = format!("\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(manifest.contains(&version), "{manifest}");
    std::fs::write(&m, manifest.replace(&version, "\"0.0.1\"")).unwrap();
    assert_refused(
        &emprox(&["compare", s(&file), "--out", s(&b), "--resume"]),
        "was started by emprox 0.0.1",
    );
    emprox_ok(&[
        "compare",
        s(&file),
        "--out",
        s(&b),
        "--resume",
        "--allow-version-change",
    ]);
}

#[test]
fn a_cache_path_naming_a_users_file_leaves_it_untouched() {
    let t = tempfile::tempdir().unwrap();
    let notes = t.path().join("notes.txt");
    let text = "my notes\nline two, not JSON\n";
    write(&notes, text);
    let exp = t.path().join("e.toml");
    write(
        &exp,
        &format!(
            "name = \"c\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 2\n\
             [evaluator]\ntype = \"command\"\ncache = {:?}\n[evaluator.command]\n\
             command = [\"sh\", \"-c\", \"echo '{{\\\"val_acc\\\": 70, \\\"test_acc\\\": 60}}'\"]\n",
            notes.to_str().unwrap()
        ),
    );
    let out = t.path().join("out");
    let o = emprox(&["run", s(&exp), "--out", s(&out)]);
    assert_refused(&o, "not an emprox result cache");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), text);
    assert!(!out.exists());
}
