//! Crash tests: a run killed with SIGKILL at a random moment, then resumed, ends with the same
//! journal as an uninterrupted run.

mod common;

use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emprox"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap());
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn journals(dir: &Path, seeds: usize) -> Vec<Vec<u8>> {
    (0..seeds)
        .map(|i| std::fs::read(dir.join(format!("seed-{i}/trials.jsonl"))).unwrap_or_default())
        .collect()
}

/// Starts `file` with a per-query delay, kills it after `after`, and returns the folder.
fn killed_run(file: &str, out: &Path, extra: &[&str], after: Duration) {
    let mut args = vec![
        "run",
        file,
        "--out",
        out.to_str().unwrap(),
        "--throttle-ms",
        "3",
    ];
    args.extend_from_slice(extra);
    let mut child = bin()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A kill before the folder's manifest exists leaves nothing to resume (the data and the
    // configuration are still being checked); count the random delay from the manifest on.
    let t0 = std::time::Instant::now();
    while !out.join("run.json").exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn check_kill_and_resume(file: &str, extra: &[&str], seeds: usize, rng: &mut impl Rng) {
    let tmp = tempfile::tempdir().unwrap();
    let full: PathBuf = tmp.path().join("full");
    let mut args = vec!["run", file, "--out", full.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = journals(&full, seeds);

    let killed = tmp.path().join("killed");
    let after = Duration::from_millis(rng.random_range(80..600));
    killed_run(file, &killed, extra, after);
    let partial = journals(&killed, seeds);
    assert!(
        !killed.join("summary.json").exists() || partial == expected,
        "{file}: killed after {after:?}"
    );
    let finished_before = killed.join("summary.json").exists();
    let o = run(&["resume", killed.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if !finished_before {
        // A resume that finishes the run writes its report too.
        assert!(String::from_utf8_lossy(&o.stdout).contains("report in"));
        assert!(killed.join("report.html").exists());
    }
    assert_eq!(
        journals(&killed, seeds),
        expected,
        "{file}: killed after {after:?}"
    );
    for i in 0..seeds {
        for f in ["trajectory.csv", "pareto.csv"] {
            let read = |d: &Path| {
                std::fs::read_to_string(d.join(format!("seed-{i}/{f}")))
                    .ok()
                    .map(|t| without_estimator_seconds(&t))
            };
            assert_eq!(read(&killed), read(&full), "{file}: seed-{i}/{f}");
        }
    }
    let summary = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        for run in v["runs"].as_array_mut().unwrap() {
            let run = run.as_object_mut().unwrap();
            run.remove("estimator_fit_seconds_total");
            run.remove("estimator_query_seconds_total");
        }
        v
    };
    assert_eq!(summary(&full), summary(&killed));
}

/// A trajectory without its `estimator_seconds` column (wall-clock, with a filter); other files
/// unchanged.
fn without_estimator_seconds(text: &str) -> String {
    let Some(col) = text
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == "estimator_seconds"))
    else {
        return text.to_string();
    };
    text.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(col);
            f.join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn killed_runs_resume_to_identical_journals() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    for file in [
        "examples/nb201_random.toml",
        "examples/nb201_evolution.toml",
        "examples/nb201_local_search.toml",
    ] {
        check_kill_and_resume(file, &["--seeds", "4", "--threads", "2"], 4, &mut rng);
    }
}

/// Several objectives: multi-objective evolution and local search with the filter (pools
/// ranked by predicted dominance and by hypervolume improvement) resume to the journals,
/// trajectories and fronts of uninterrupted runs.
#[test]
fn killed_multi_objective_runs_resume_to_identical_journals() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1212);
    let q = [
        "--seeds",
        "3",
        "--threads",
        "2",
        "--set",
        "budget.max_queries=80",
    ];
    let file = "examples/nb201_mo_evolution_emprox.toml";
    check_kill_and_resume(file, &q, 3, &mut rng);
    // The same file with local search and the hypervolume ranking.
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let start = text.find("type = \"mo_regularized_evolution\"").unwrap();
    let end = text.find("[budget]").unwrap();
    let desc = root.join("benchmarks/data/nb201_cifar10_hw.tabular.toml");
    let text = format!(
        "{}type = \"mo_local_search\"\n\n{}",
        &text[..start],
        &text[end..]
    )
    .replace("mo_rank = \"dominance\"", "mo_rank = \"hvi\"")
    .replace(
        "\"../benchmarks/data/nb201_cifar10_hw.tabular.toml\"",
        &format!("{:?}", desc.to_str().unwrap()),
    );
    let ls = tmp.path().join("mo_ls.toml");
    std::fs::write(&ls, text).unwrap();
    check_kill_and_resume(ls.to_str().unwrap(), &q, 3, &mut rng);
    // Expected improvement draws from its own stream per pool: a resume replays the draws.
    let mut ehvi = q.to_vec();
    ehvi.extend([
        "--set",
        "filter.mo_rank=\"ehvi\"",
        "--set",
        "filter.ensemble=3",
    ]);
    check_kill_and_resume(file, &ehvi, 3, &mut rng);
}

/// A table with 30 extras (params, FLOPs, device latencies): every journal line carries them, in
/// the description's order and with the table's values, and a killed and resumed run ends with
/// the same journal as an uninterrupted one.
#[test]
fn journals_carry_every_metric_and_resume_to_identical_journals() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let desc = root.join("benchmarks/data/nb201_cifar10_hw.tabular.toml");
    let file = tmp.path().join("hw.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"hw\"\nseed = 5\nseeds = 3\nobjectives = [{{ metric = \"val_acc\", \
             goal = \"maximize\" }}, {{ metric = \"latency_pixel3_ms\", goal = \"minimize\" }}]\n\
             [benchmark]\ntype = \"tabular\"\n\
             description = {:?}\n[strategy]\ntype = \"regularized_evolution\"\n\
             population_size = 20\nsample_size = 5\n[budget]\nmax_queries = 150\n",
            desc.to_str().unwrap()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    check_kill_and_resume(file, &["--threads", "2"], 3, &mut rng);
    assert!(tmp.path().join("hw.toml").exists());

    let out = tmp.path().join("once");
    let o = run(&["run", file, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bench = emprox_benchmarks::tabular::TabularBenchmark::from_file(&desc).unwrap();
    let table = bench.table();
    let by_file_row: std::collections::HashMap<usize, usize> =
        (0..table.len()).map(|r| (table.file_row(r), r)).collect();
    assert_eq!(table.extras().len(), 30);
    let journal = String::from_utf8(journals(&out, 1).remove(0)).unwrap();
    assert_eq!(journal.lines().count(), 150);
    for line in journal.lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        let row = by_file_row[&(t["index"].as_u64().unwrap() as usize)];
        // The names in the line's own order (serde_json's map would sort them).
        let object = &line[line.find(r#""extras":{"#).unwrap() + 10..line.len() - 2];
        let names: Vec<&str> = object
            .split(',')
            .map(|kv| kv.split(':').next().unwrap().trim_matches('"'))
            .collect();
        let expected: Vec<&str> = table.extras().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected, "{line}");
        for (name, values) in table.extras() {
            assert_eq!(t["extras"][name].as_f64().unwrap(), values[row], "{name}");
        }
    }
}

#[test]
fn torn_last_line_is_discarded_and_finished_runs_are_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    assert!(run(&[
        "run",
        "examples/nb201_evolution.toml",
        "--seeds",
        "2",
        "--out",
        full.to_str().unwrap()
    ])
    .status
    .success());
    let expected = journals(&full, 2);

    // Simulate a crash in the middle of writing query 41 of run 1.
    let torn = tmp.path().join("torn");
    std::fs::create_dir_all(torn.join("seed-0")).unwrap();
    std::fs::create_dir_all(torn.join("seed-1")).unwrap();
    for f in ["config.resolved.toml", "run.json"] {
        std::fs::copy(full.join(f), torn.join(f)).unwrap();
    }
    let lines: Vec<&[u8]> = expected[1].split_inclusive(|&b| b == b'\n').collect();
    let mut partial: Vec<u8> = lines[..40].concat();
    partial.extend_from_slice(&lines[40][..lines[40].len() / 2]);
    std::fs::write(torn.join("seed-1/trials.jsonl"), &partial).unwrap();
    let o = run(&["resume", torn.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("half-written"));
    assert_eq!(journals(&torn, 2), expected);

    // A finished run: nothing changes.
    let before = journals(&torn, 2);
    let o = run(&["resume", torn.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("already finished"));
    assert_eq!(journals(&torn, 2), before);

    // A changed configuration is refused.
    std::fs::remove_file(torn.join("summary.json")).unwrap();
    let cfg = std::fs::read_to_string(torn.join("config.resolved.toml")).unwrap();
    std::fs::write(
        torn.join("config.resolved.toml"),
        cfg.replace("max_queries = 150", "max_queries = 160"),
    )
    .unwrap();
    let o = run(&["resume", torn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to resume"));

    // Not a run folder at all.
    let o = run(&["resume", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_a_valid_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    assert!(run(&[
        "run",
        "examples/nb201_random.toml",
        "--seeds",
        "1",
        "--out",
        full.to_str().unwrap()
    ])
    .status
    .success());
    let disk = tmp.path().join("disk");
    std::fs::create_dir_all(disk.join("seed-0")).unwrap();
    for f in ["config.resolved.toml", "run.json"] {
        std::fs::copy(full.join(f), disk.join(f)).unwrap();
    }
    // Files may not grow past the 20th line of the journal: the next write fails (EFBIG), as
    // on a full disk, in the middle of a line.
    let expected = std::fs::read_to_string(full.join("seed-0/trials.jsonl")).unwrap();
    let limit: usize = expected
        .lines()
        .take(20)
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + 10;
    let mut cmd = bin();
    cmd.args(["resume", disk.to_str().unwrap()]);
    common::limit_file_size(&mut cmd, limit as u64);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    // One error line (after the progress log's start line), the last one.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(err.lines().last(), errors.first().copied(), "{err}");
    assert!(
        errors[0].contains("trials.jsonl") && errors[0].contains("File too large"),
        "{err}"
    );
    // The journal's complete lines agree with the uninterrupted run; resume goes on from them.
    let written = std::fs::read_to_string(disk.join("seed-0/trials.jsonl")).unwrap();
    let complete = &written[..written.rfind('\n').unwrap() + 1];
    assert_eq!(complete.lines().count(), 20);
    assert!(expected.starts_with(complete));
    assert!(!disk.join("summary.json").exists());
    let o = run(&["resume", disk.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(journals(&disk, 1), journals(&full, 1));
}

/// Keeps the first `n` lines of a run's journal and removes the experiment's summary, as if the
/// run had been killed after query `n`.
fn cut_to(dir: &Path, n: usize) {
    let p = dir.join("seed-0/trials.jsonl");
    let j = std::fs::read(&p).unwrap();
    let lines: Vec<&[u8]> = j.split_inclusive(|&b| b == b'\n').collect();
    std::fs::write(&p, lines[..n].concat()).unwrap();
    let _ = std::fs::remove_file(dir.join("summary.json"));
}

#[test]
fn resume_checks_the_version_and_reads_sparse_resolved_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("exp.toml");
    std::fs::write(
        &exp,
        "name = \"v\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
         [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 40\n\
         [estimator]\ntype = \"knn_onehot\"\n[filter]\ncandidates = 20\ntop_k = 5\nwarmup = 10\n",
    )
    .unwrap();
    let full = tmp.path().join("full");
    let o = run(&[
        "run",
        exp.to_str().unwrap(),
        "--out",
        full.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = journals(&full, 1);
    let resolved = std::fs::read_to_string(full.join("config.resolved.toml")).unwrap();
    // Every default is written out, the estimator's included.
    assert!(
        resolved.contains("[estimator]\ntype = \"knn_onehot\"\nk = 10\n"),
        "{resolved}"
    );

    // A folder whose resolved config leaves the defaults out (as emprox wrote it before the
    // estimator's defaults were resolved) resumes to the same journal.
    let sparse = tmp.path().join("sparse");
    copy_run(&full, &sparse);
    let text = resolved.replace("type = \"knn_onehot\"\nk = 10\n", "type = \"knn_onehot\"\n");
    assert_ne!(text, resolved);
    std::fs::write(sparse.join("config.resolved.toml"), &text).unwrap();
    let manifest = std::fs::read_to_string(sparse.join("run.json")).unwrap();
    let old_hash = emprox_benchmarks::digest::sha256_hex(resolved.as_bytes());
    let new_hash = emprox_benchmarks::digest::sha256_hex(text.as_bytes());
    assert!(manifest.contains(&old_hash));
    std::fs::write(
        sparse.join("run.json"),
        manifest.replace(&old_hash, &new_hash),
    )
    .unwrap();
    cut_to(&sparse, 20);
    let o = run(&["resume", sparse.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(journals(&sparse, 1), expected);

    // A folder started by another version is refused (one line, exit 2, nothing written)...
    let other = tmp.path().join("other");
    copy_run(&full, &other);
    let manifest = std::fs::read_to_string(other.join("run.json")).unwrap();
    let this = format!("\"emprox_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(manifest.contains(&this), "{manifest}");
    std::fs::write(
        other.join("run.json"),
        manifest.replace(&this, "\"emprox_version\": \"0.0.1\""),
    )
    .unwrap();
    cut_to(&other, 20);
    let cut = journals(&other, 1);
    let o = run(&["resume", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("started by emprox 0.0.1")
            && err.contains(env!("CARGO_PKG_VERSION"))
            && err.contains("--allow-version-change"),
        "{err}"
    );
    assert_eq!(journals(&other, 1), cut);
    assert!(!other.join("summary.json").exists());
    // ...unless the user says so.
    let o = run(&["resume", other.to_str().unwrap(), "--allow-version-change"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(journals(&other, 1), expected);
}

/// Copies a finished experiment folder (its top files and `seed-0`).
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("seed-0")).unwrap();
    for f in ["config.resolved.toml", "run.json", "summary.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    for e in std::fs::read_dir(from.join("seed-0")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("seed-0").join(e.file_name())).unwrap();
    }
}

/// Copies a folder and everything in it.
fn copy_tree(from: &Path, to: &Path) {
    let o = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A run of a table killed midway resumes only on the table and the description it started
/// with: a changed one is refused with one line naming it, and the same one gives the journal of
/// an uninterrupted run. A manifest of an earlier emprox (no digests) still resumes.
#[test]
fn a_killed_run_resumes_on_its_own_table_only() {
    use emprox_benchmarks::tabular::synthetic::{write_synthetic_benchmark, write_synthetic_table};
    let tmp = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&tmp.path().join("bench"), 3000, 7, "cora").unwrap();
    let data = tmp.path().join("bench/synthetic_gnn.csv.gz");
    let file = tmp.path().join("exp.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"t\"\nseeds = 2\n[benchmark]\ntype = \"tabular\"\ndescription = {:?}\n\
             [strategy]\ntype = \"regularized_evolution\"\n[budget]\nmax_queries = 150\n",
            desc.to_str().unwrap()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let full = tmp.path().join("full");
    let o = run(&["run", file, "--out", full.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = journals(&full, 2);

    let killed = tmp.path().join("killed");
    killed_run(
        file,
        &killed,
        &["--threads", "1"],
        Duration::from_millis(150),
    );
    assert!(!killed.join("summary.json").exists(), "killed too late");
    let cut = journals(&killed, 2);
    assert!(!cut[0].is_empty(), "killed too early");
    let (old, described) = (tmp.path().join("old"), tmp.path().join("described"));
    copy_tree(&killed, &old);
    copy_tree(&killed, &described);
    let refused = |dir: &Path, what: &str, path: &Path| {
        let o = run(&["resume", dir.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("the {what} {} changed", path.display()))
                && err.contains("refusing to resume"),
            "{err}"
        );
        assert_eq!(journals(dir, 2), cut, "nothing appended");
    };

    // Other values in the table (the same rows, other numbers): refused.
    write_synthetic_table(&data, 3000, 8).unwrap();
    refused(&killed, "table", &data);
    // The table it started with: resumed to the uninterrupted run's journals.
    write_synthetic_table(&data, 3000, 7).unwrap();
    let o = run(&["resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(journals(&killed, 2), expected);

    // A changed description: refused.
    let text = std::fs::read_to_string(&desc).unwrap();
    std::fs::write(&desc, text.replace("\"cora\"", "\"citeseer\"")).unwrap();
    refused(&described, "description", &desc);
    std::fs::write(&desc, &text).unwrap();

    // A manifest without digests (an earlier emprox) is not checked, and resumes.
    let m = old.join("run.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(
        manifest["inputs"].as_array().unwrap().len(),
        2,
        "{manifest}"
    );
    manifest.as_object_mut().unwrap().remove("inputs");
    std::fs::write(&m, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let o = run(&["resume", old.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(journals(&old, 2), expected);

    // compare --resume checks each experiment's table the same way.
    let cmp_file = tmp.path().join("cmp.toml");
    std::fs::write(
        &cmp_file,
        format!(
            "name = \"c\"\nseeds = 1\nreport_at = [20]\n[benchmark]\ntype = \"tabular\"\n\
             description = {:?}\n[budget]\nmax_queries = 20\n\
             [[experiments]]\nlabel = \"RS\"\nstrategy = {{ type = \"random\" }}\n",
            desc.to_str().unwrap()
        ),
    )
    .unwrap();
    let cmp = tmp.path().join("cmp");
    let args = [
        "compare",
        cmp_file.to_str().unwrap(),
        "--out",
        cmp.to_str().unwrap(),
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(cmp.join("comparison.json")).unwrap();
    write_synthetic_table(&data, 3000, 8).unwrap();
    let o = run(&[&args[..], &["--resume"]].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("the table {} changed", data.display())),
        "{err}"
    );
}

/// Multi-fidelity runs (issue 23): ASHA with the EmProx filter, successive halving and
/// Hyperband, killed at random moments, resume to the journals of uninterrupted runs.
#[test]
fn killed_multi_fidelity_runs_resume_to_identical_journals() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
    let file = "examples/nb201_asha_emprox.toml";
    let small = [
        "--seeds",
        "2",
        "--threads",
        "2",
        "--set",
        "budget.max_sim_seconds=40000",
    ];
    check_kill_and_resume(file, &small, 2, &mut rng);
    for kind in ["successive_halving", "hyperband"] {
        let mut args = small.to_vec();
        let set = format!("scheduler.type={kind}");
        args.extend(["--set", &set, "--set", "scheduler.eta=3"]);
        check_kill_and_resume(file, &args, 2, &mut rng);
    }
}

/// A successive-halving run cut right after each rung's last evaluation, before the
/// promotions it decides (and in the middle of the promotions), resumes to the same journal.
#[test]
fn a_run_cut_between_a_rung_and_its_promotions_resumes_to_the_same_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    let common = [
        "examples/nb201_asha_emprox.toml",
        "--seeds",
        "1",
        "--set",
        "scheduler.type=successive_halving",
        "--set",
        "scheduler.eta=3",
        "--set",
        "scheduler.cells=9",
        "--set",
        "budget.max_sim_seconds=30000",
    ];
    let mut args = vec!["run"];
    args.extend(common);
    args.extend(["--out", full.to_str().unwrap()]);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = journals(&full, 1);
    let text = String::from_utf8(expected[0].clone()).unwrap();
    let fidelity: Vec<f64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["fidelity"]
                .as_f64()
                .unwrap()
        })
        .collect();
    // Brackets of 9 cells at 12 epochs, then their best 3 at 200.
    assert_eq!(
        fidelity[..12],
        [[12.0; 9].as_slice(), &[200.0; 3]].concat()[..]
    );
    // Each place where a rung ends and its promotions begin, and one promotion in.
    let cuts: Vec<usize> = (1..fidelity.len())
        .filter(|&n| fidelity[n - 1] == 12.0 && fidelity[n] == 200.0)
        .flat_map(|n| [n, n + 1])
        .collect();
    assert!(cuts.len() >= 4, "{cuts:?}");
    for n in cuts {
        let cut = tmp.path().join(format!("cut-{n}"));
        copy_run(&full, &cut);
        cut_to(&cut, n);
        let o = run(&["resume", cut.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(journals(&cut, 1), expected, "cut after {n} lines");
    }
}
