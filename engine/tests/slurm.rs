//! The Slurm evaluator against a real Slurm cluster (`.ci/run` starts a one-node cluster on the
//! CI machine with `.ci/slurm/start`). Without one, these tests fail and say how to start it.
//!
//! - a search through Slurm journals exactly what the command evaluator journals;
//! - a job that exits non-zero and one that runs past its time limit are failed trials with
//!   the scheduler's reason, and the search goes on;
//! - SIGKILL of emprox while jobs run, then `emprox resume`: the uninterrupted journal, and no
//!   job submitted twice (sbatch calls counted through a logging shim on PATH);
//! - Ctrl-C cancels the jobs in flight (checked with `scontrol`), and a resume submits them
//!   again;
//! - the shipped example trains exactly as `train_digits_evolution.toml` does;
//! - bad configurations are refused before anything is submitted.

mod common;
use common::{assert_refused, bin, emprox_ok, lines, root, s};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Panics, saying how to start the local cluster, unless a Slurm cluster answers with a node
/// that takes jobs.
fn cluster() {
    let state = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let up = state.as_deref().is_some_and(|s| {
        s.lines()
            .any(|l| ["idle", "mixed", "allocated"].contains(&l.trim().trim_end_matches('*')))
    });
    assert!(
        up,
        "no Slurm cluster with a usable node answers here (sinfo: {state:?}). These tests need \
         one: start the local one-node cluster with `.ci/slurm/start` (as root; install it first \
         with `apt-get install -y slurm-wlm munge`), or run everything with `.ci/run`"
    );
}

/// The search behind examples/external_command.toml (regularized evolution, the toy Python
/// evaluator), as an experiment file with `evaluator` (`command` or `slurm`) and `extra` keys
/// in its evaluator table.
fn toy_experiment(dir: &Path, evaluator: &str, queries: u64, workers: u64, extra: &str) -> PathBuf {
    let script = root().join("benchmarks/examples/external_evaluator.py");
    let file = dir.join(format!("{evaluator}-{queries}.toml"));
    std::fs::write(
        &file,
        format!(
            "name = \"toy\"\nseed = 0\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"regularized_evolution\"\npopulation_size = 10\nsample_size = 3\n\
             [budget]\nmax_queries = {queries}\n[evaluator]\ntype = \"{evaluator}\"\nworkers = {workers}\n\
             [evaluator.{evaluator}]\ncommand = [\"python3\", \"{}\", \"--spec\", \"{{spec}}\", \
             \"--arch\", \"{{arch}}\", \"--seed\", \"{{seed}}\"{extra}\n",
            script.display()
        ),
    )
    .unwrap();
    file
}

/// `, "--sleep", "x"]` and the Slurm keys of the tests (short polls).
fn slurm_keys(sleep: f64) -> String {
    format!(", \"--sleep\", \"{sleep}\"]\npoll_seconds = 0.5")
}

fn journal(out: &Path) -> String {
    std::fs::read_to_string(out.join("seed-0/trials.jsonl")).unwrap()
}

/// The `slurm_job` records of a run's timings.
fn slurm_jobs(out: &Path) -> Vec<serde_json::Value> {
    lines(&out.join("seed-0/timings.jsonl"))
        .into_iter()
        .filter(|t| t["kind"] == "slurm_job")
        .collect()
}

/// The ledger's entries.
fn ledger(out: &Path) -> Vec<serde_json::Value> {
    let p = out.join("seed-0/slurm/jobs.jsonl");
    if !p.exists() {
        return vec![];
    }
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn submitted(out: &Path) -> Vec<String> {
    ledger(out)
        .iter()
        .filter(|e| e["event"] == "submitted")
        .map(|e| e["job_id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits up to `secs` for `ok`.
fn wait_for(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The job's state as `scontrol` reports it.
fn job_state(id: &str) -> String {
    let o = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    text.split_whitespace()
        .find_map(|f| f.strip_prefix("JobState="))
        .unwrap_or("GONE")
        .to_string()
}

#[test]
fn a_search_through_slurm_journals_what_the_command_evaluator_does() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("command"), tmp.path().join("slurm"));
    let command = toy_experiment(tmp.path(), "command", 24, 2, "]");
    let slurm = toy_experiment(tmp.path(), "slurm", 24, 2, &slurm_keys(0.0));
    emprox_ok(&["-q", "run", s(&command), "--out", s(&a)]);
    emprox_ok(&["-q", "run", s(&slurm), "--out", s(&b)]);
    assert_eq!(journal(&a), journal(&b), "byte-identical journals");
    let trials = lines(&b.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 24);
    assert!(trials
        .iter()
        .all(|t| t["val_acc"].as_f64().unwrap() >= 10.0));
    // One job per query, each with its id, queue wait and run time.
    let jobs = slurm_jobs(&b);
    assert_eq!(jobs.len(), 24);
    let mut ids: Vec<&str> = jobs.iter().map(|j| j["job_id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24, "a job per query");
    for j in &jobs {
        assert_eq!(j["state"], "COMPLETED");
        assert!(j["queue_seconds"].as_f64().unwrap() >= 0.0);
        assert!(j["run_seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(j["resumed"], false);
    }
    // The job scripts are in the run folder, as submitted.
    let script = std::fs::read_to_string(b.join("seed-0/slurm/q000001.sh")).unwrap();
    assert!(
        script.contains("#SBATCH --job-name=emprox-q000001-"),
        "{script}"
    );
    assert!(script.contains("external_evaluator.py"), "{script}");
}

#[test]
fn failed_and_timed_out_jobs_are_failed_trials_and_the_search_goes_on() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    // The cells a random search proposes do not depend on their scores: look them up first.
    let exp = |evaluator: &str| {
        format!(
            "name = \"t\"\nseed = 3\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 6\n{evaluator}"
        )
    };
    let lookup = tmp.path().join("lookup.toml");
    std::fs::write(&lookup, exp("")).unwrap();
    let looked = tmp.path().join("looked");
    emprox_ok(&["-q", "run", s(&lookup), "--out", s(&looked)]);
    let archs: Vec<String> = lines(&looked.join("seed-0/trials.jsonl"))
        .iter()
        .map(|t| t["arch"].as_str().unwrap().to_string())
        .collect();
    // Query 2 sleeps past the 1-minute time limit, query 3 exits 3.
    let script = tmp.path().join("job.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n'{}') sleep 300;;\n'{}') echo 'out of memory' >&2; exit 3;;\nesac\n\
             echo '{{\"val_acc\": 50, \"test_acc\": 40}}'\n",
            archs[1], archs[2]
        ),
    )
    .unwrap();
    let file = tmp.path().join("slurm.toml");
    std::fs::write(
        &file,
        exp(&format!(
            "[evaluator]\ntype = \"slurm\"\nworkers = 2\n[evaluator.slurm]\n\
             command = [\"sh\", \"{}\", \"{{arch}}\"]\ntime = \"1\"\npoll_seconds = 1\n",
            script.display()
        )),
    )
    .unwrap();
    let out = tmp.path().join("out");
    emprox_ok(&["-q", "run", s(&file), "--out", s(&out)]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 6, "the search went on after both failures");
    let error = |q: usize| trials[q]["error"].as_str().unwrap_or("").to_string();
    assert!(trials[1]["val_acc"].is_null() && trials[2]["val_acc"].is_null());
    assert!(
        error(1).starts_with("Slurm job TIMEOUT (TimeLimit)"),
        "{}",
        error(1)
    );
    assert!(
        error(2).contains("FAILED (NonZeroExitCode): the command exited with 3")
            && error(2).contains("out of memory"),
        "{}",
        error(2)
    );
    for q in [0, 3, 4, 5] {
        assert_eq!(trials[q]["val_acc"], 50.0, "query {}", q + 1);
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"][0]["failed"], 2);
    let jobs = slurm_jobs(&out);
    let timeout = jobs.iter().find(|j| j["query"] == 2).unwrap();
    assert_eq!(timeout["state"], "TIMEOUT");
    assert!(
        timeout["run_seconds"].as_f64().unwrap() >= 60.0,
        "{timeout}"
    );
    assert_eq!(
        jobs.iter().find(|j| j["query"] == 3).unwrap()["state"],
        "FAILED"
    );
}

/// A folder holding an `sbatch` that logs each call to `log`, runs the real one, and takes
/// 0.3 s more to hand back the job id (a window in which to kill emprox).
fn sbatch_shim(dir: &Path, log: &Path) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let real = std::env::split_paths(&path)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
        .expect("sbatch on PATH");
    let shim = dir.join("shim");
    std::fs::create_dir_all(&shim).unwrap();
    let f = shim.join("sbatch");
    std::fs::write(
        &f,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\n'{}' \"$@\"\ncode=$?\nsleep 0.3\nexit $code\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut dirs = vec![shim];
    dirs.extend(std::env::split_paths(&path));
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

#[test]
fn a_killed_search_resumes_to_the_same_journal_without_submitting_twice() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let command = toy_experiment(tmp.path(), "command", 14, 2, "]");
    emprox_ok(&["-q", "run", s(&command), "--out", s(&reference)]);
    let slurm = toy_experiment(tmp.path(), "slurm", 14, 2, &slurm_keys(1.5));
    let log = tmp.path().join("sbatch.log");
    let path = sbatch_shim(tmp.path(), &log);
    let out = tmp.path().join("out");
    let mut child = bin()
        .env("PATH", &path)
        .args(["-q", "run", s(&slurm), "--out", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill while jobs are in flight and another is being submitted (its name is in the
    // ledger, its id not yet).
    let trials = out.join("seed-0/trials.jsonl");
    wait_for(120, "a submission under way after a few queries", || {
        let done = std::fs::read_to_string(&trials).map_or(0, |t| t.lines().count());
        let naming = ledger(&out)
            .iter()
            .filter(|e| e["event"] == "submitting")
            .count();
        done >= 4 && naming > submitted(&out).len()
    });
    child.kill().unwrap(); // SIGKILL: the jobs, and the sbatch under way, go on
    child.wait().unwrap();
    // The orphaned sbatch gets its job in.
    std::thread::sleep(Duration::from_secs(1));
    let journaled = journal(&out).lines().count();
    assert!(journaled < 14, "killed before the end");
    let o = bin()
        .env("PATH", &path)
        .args(["-q", "resume", s(&out)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        journal(&out),
        journal(&reference),
        "the uninterrupted journal"
    );
    // Every query submitted exactly once: by the killed emprox or by the resume.
    let calls = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(calls, 14, "sbatch calls");
    let queries: std::collections::BTreeSet<u64> = ledger(&out)
        .iter()
        .filter(|e| e["event"] == "submitted")
        .map(|e| e["query"].as_u64().unwrap())
        .collect();
    assert_eq!(queries.len(), 14);
    assert_eq!(submitted(&out).len(), 14, "each job's id, once");
    // The job whose sbatch was cut off was found by its name, not submitted again.
    let named = ledger(&out)
        .iter()
        .filter(|e| e["event"] == "submitting")
        .count();
    assert_eq!(named, 14, "one submission per query");
    let resumed = slurm_jobs(&out)
        .iter()
        .filter(|j| j["resumed"] == true)
        .count();
    assert!(
        resumed >= 1,
        "the jobs in flight at the kill were waited for"
    );
}

#[test]
fn ctrl_c_cancels_the_jobs_in_flight_and_resume_submits_them_again() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    // Jobs hang while `hold` exists.
    let hold = tmp.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let script = tmp.path().join("job.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nwhile [ -e '{}' ]; do sleep 0.2; done\n\
             echo '{{\"val_acc\": 50, \"test_acc\": 40}}'\n",
            hold.display()
        ),
    )
    .unwrap();
    let file = tmp.path().join("slurm.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"t\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 4\n[evaluator]\ntype = \"slurm\"\n\
             workers = 2\n[evaluator.slurm]\ncommand = [\"sh\", \"{}\"]\npoll_seconds = 0.5\n",
            script.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let child = bin()
        .args(["run", s(&file), "--out", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(120, "two jobs running", || {
        let ids = submitted(&out);
        ids.len() == 2 && ids.iter().all(|id| job_state(id) == "RUNNING")
    });
    let ids = submitted(&out);
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("cancelled 2 Slurm job(s) in flight"), "{err}");
    assert!(err.contains("emprox resume"), "{err}");
    for id in &ids {
        wait_for(30, "the job cancelled", || {
            ["CANCELLED", "GONE"].contains(&job_state(id).as_str())
        });
    }
    let cancelled = ledger(&out)
        .iter()
        .filter(|e| e["event"] == "cancelled")
        .count();
    assert_eq!(cancelled, 2);
    // Resume submits the cancelled queries again and finishes.
    std::fs::remove_file(&hold).unwrap();
    emprox_ok(&["-q", "resume", s(&out)]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 4);
    assert!(trials.iter().all(|t| t["val_acc"] == 50.0));
    assert_eq!(submitted(&out).len(), 6, "2 cancelled, then 4 that ran");
}

#[test]
fn the_slurm_example_trains_exactly_as_the_training_evaluator() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("train"), tmp.path().join("slurm"));
    let budget = ["--set", "budget.max_queries=12"];
    emprox_ok(
        &[
            &[
                "-q",
                "run",
                "examples/train_digits_evolution.toml",
                "--out",
                s(&a),
            ][..],
            &budget,
        ]
        .concat(),
    );
    emprox_ok(
        &[
            &[
                "-q",
                "run",
                "examples/slurm_digits_evolution.toml",
                "--out",
                s(&b),
            ][..],
            &budget,
        ]
        .concat(),
    );
    assert_eq!(
        journal(&a),
        journal(&b),
        "train-one in a Slurm job = the train evaluator"
    );
    let trials = lines(&b.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 12);
    assert!(
        trials
            .iter()
            .filter(|t| t["val_acc"].as_f64().unwrap_or(0.0) > 50.0)
            .count()
            > 6,
        "most cells learn digits well above chance"
    );
    assert_eq!(slurm_jobs(&b).len(), 12);
}

/// `{fidelity}` and `{checkpoint_dir}` in a Slurm command, as in a command's: successive
/// halving over the example's fidelities (1, 3, 9) journals what the command evaluator journals,
/// each job continues its cell's checkpoint from the lower rung, and the folders are the run's.
#[test]
fn a_slurm_command_gets_each_rung_and_its_checkpoint_folder() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(root().join("examples/command_fidelity_sh.toml")).unwrap();
    let script = root().join("examples/fidelity_command.py");
    let slurm = example
        .replace("type = \"command\"", "type = \"slurm\"")
        .replace(
            "[evaluator.command]",
            "[evaluator.slurm]\npoll_seconds = 0.5",
        )
        .replace("\"fidelity_command.py\"", &format!("{:?}", s(&script)))
        .replace("timeout_seconds = 60", "");
    let file = tmp.path().join("slurm.toml");
    std::fs::write(&file, slurm).unwrap();
    let (a, b) = (tmp.path().join("command"), tmp.path().join("slurm"));
    let one_bracket = ["--set", "budget.max_queries=13", "-q"];
    let mut args = vec!["run", "examples/command_fidelity_sh.toml", "--out", s(&a)];
    args.extend(one_bracket);
    emprox_ok(&args);
    let mut args = vec!["run", s(&file), "--out", s(&b)];
    args.extend(one_bracket);
    emprox_ok(&args);
    assert_eq!(journal(&a), journal(&b), "byte-identical journals");
    let trials = lines(&b.join("seed-0/trials.jsonl"));
    let f: Vec<f64> = trials
        .iter()
        .map(|t| t["fidelity"].as_f64().unwrap())
        .collect();
    assert_eq!(f, [vec![1.0; 9], vec![3.0; 3], vec![9.0]].concat());
    // The job scripts carry the rung and the cell's folder; a promoted job continued there.
    let q12 = std::fs::read_to_string(b.join("seed-0/slurm/q000012.sh")).unwrap();
    let ckpt = b.join("seed-0/checkpoints");
    assert!(q12.contains(" '3' ") && q12.contains(s(&ckpt)), "{q12}");
    let job = &slurm_jobs(&b)[12];
    let err = b.join(format!(
        "seed-0/slurm/q000013-{}.err",
        job["job_id"].as_str().unwrap()
    ));
    let err = std::fs::read_to_string(err).unwrap();
    assert!(err.contains("continuing from epoch 3"), "{err}");
    // One folder per cell, each with the script's checkpoint.
    let cells = std::fs::read_dir(&ckpt).unwrap().count();
    assert_eq!(cells, 9);
}

#[test]
fn bad_slurm_configurations_are_refused_before_anything_is_submitted() {
    cluster();
    let tmp = tempfile::tempdir().unwrap();
    let file = toy_experiment(tmp.path(), "slurm", 4, 1, "]");
    let out = tmp.path().join("out");
    let run = |set: &[&str], path: Option<&str>| {
        let mut c = bin();
        if let Some(p) = path {
            c.env("PATH", p);
        }
        let o = c
            .args([&["run", s(&file), "--out", s(&out)][..], set].concat())
            .output()
            .unwrap();
        assert!(!out.exists(), "nothing created");
        o
    };
    assert_refused(
        &run(&["--set", "evaluator.slurm.partition=nosuch"], None),
        "unknown partition \"nosuch\"; this cluster has: debug",
    );
    assert_refused(
        &run(&["--set", "evaluator.slurm.time=\"1h\""], None),
        "`time` = \"1h\" is not a Slurm time limit",
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_refused(&run(&[], Some(s(&empty))), "`sbatch` is not on PATH");
}
