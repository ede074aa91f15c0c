//! Robustness through the real binary: closed pipes, commands that misbehave (detached children,
//! failures, missing programs), paths relative to the experiment file, interruption by a signal,
//! and failures made visible.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An experiment of 5 random-search trials through `command` (a TOML array body); `extra`
/// follows `[evaluator] type` (keys of `[evaluator]`, or other tables).
fn command_experiment(dir: &Path, name: &str, command: &str, extra: &str) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 5\n\
             [evaluator]\ntype = \"command\"\n{extra}\n[evaluator.command]\n\
             command = [{command}]\ntimeout_seconds = 20\n"
        ),
    )
    .unwrap();
    p
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    let many: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let cases: Vec<Vec<String>> = vec![
        vec!["list".into()],
        [vec!["arch".to_string()], many].concat(),
    ];
    for args in &cases {
        let o = emprox_closed_stdout(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.is_empty(), "{:?}: {err}", args[0]);
        use std::os::unix::process::ExitStatusExt;
        assert!(
            o.status.success() || o.status.signal() == Some(13),
            "{:?}: {:?}",
            args[0],
            o.status
        );
    }
}

/// `/dev/full`: every write fails with ENOSPC.
fn full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

#[test]
fn a_run_whose_stderr_cannot_be_written_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Progress lines (stderr is not a terminal) and `-v` log lines go to stderr.
    let o = bin()
        .args([
            "run",
            "examples/nb201_random.toml",
            "--seeds",
            "3",
            "-v",
            "--out",
            s(&out),
        ])
        .stderr(full())
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", o.status);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("mean best test"), "{stdout}");
    assert_eq!(
        json(&out.join("summary.json"))["runs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_result_that_cannot_be_written_is_one_error_line_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let runs = [
        vec!["list".to_string()],
        vec!["arch".into(), "0".into()],
        vec![
            "run".into(),
            "examples/nb201_random.toml".into(),
            "--seeds".into(),
            "1".into(),
            "--out".into(),
            s(&out).into(),
        ],
    ];
    for args in &runs {
        let o = bin().args(args).stdout(full()).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{:?}: {err}", args[0]);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(
            lines,
            ["error: cannot write the result to stdout: No space left on device (os error 28)"],
            "{:?}: {err}",
            args[0]
        );
        assert!(!err.contains("panicked"), "{err}");
        // The run's results are on disk whatever stdout did.
        assert_eq!(args[0] == "run", out.join("summary.json").exists());
        let _ = std::fs::remove_dir_all(&out);
        // Neither stream writable: still no panic and no abort, only the exit code.
        let o = bin()
            .args(args)
            .stdout(full())
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{:?}", args[0]);
        let _ = std::fs::remove_dir_all(&out);
    }
    emprox_ok(&[
        "run",
        "examples/nb201_random.toml",
        "--seeds",
        "1",
        "--out",
        s(&out),
    ]);
    let o = bin()
        .args(["show", s(&out)])
        .stdout(full())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "show: {err}");
    assert!(
        err.starts_with("error: cannot write the result to stdout"),
        "{err}"
    );
}

#[test]
fn a_run_stopped_before_its_first_query_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = emprox(&[
        "run",
        "examples/nb201_random.toml",
        "--seeds",
        "1",
        "--set",
        "budget.max_wall_seconds=1e-9",
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no evaluation succeeded in run 0 of 1: run 0 stopped (max_wall_seconds) before its first query"),
        "{err}"
    );
    assert!(
        !err.contains("trials.jsonl"),
        "nothing to read there: {err}"
    );
}

#[test]
fn show_reads_a_run_whose_evaluations_all_failed_and_failures_are_visible() {
    let tmp = tempfile::tempdir().unwrap();
    // Fails, naming its arguments (the spec file's path among them).
    let exp = command_experiment(
        tmp.path(),
        "failing",
        r#""sh", "-c", "echo \"cannot read $0 for $1\" >&2; exit 1", "{spec}", "{arch}""#,
        "",
    );
    let a = tmp.path().join("a");
    let o = emprox(&["run", s(&exp), "--out", s(&a)]);
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "nothing evaluated: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("failed: ")).collect();
    assert_eq!(warnings.len(), 3, "the first 3 in full: {err}");
    assert!(warnings[0].contains("cannot read {spec} for |"), "{err}");
    assert!(err.contains("2 more evaluation(s) failed"), "{err}");
    assert!(err.contains("no evaluation succeeded in run 0"), "{err}");
    assert!(out.contains("5 of 5 evaluations failed"), "{out}");
    let summary = json(&a.join("summary.json"));
    assert_eq!(summary["failed"], 5);
    assert_eq!(summary["runs"][0]["failed"], 5);
    let shown = emprox_ok(&["show", s(&a)]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("NaN"));
    // The reason holds `{spec}`, not the random temporary path: identical journals.
    let b = tmp.path().join("b");
    assert_eq!(
        emprox(&["run", s(&exp), "--out", s(&b)]).status.code(),
        Some(1)
    );
    let ja = std::fs::read_to_string(a.join("seed-0/trials.jsonl")).unwrap();
    assert!(!ja.contains("emprox-spec"), "{ja}");
    assert_eq!(
        ja,
        std::fs::read_to_string(b.join("seed-0/trials.jsonl")).unwrap()
    );
}

#[test]
fn max_failures_stops_a_run_after_failures_in_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = command_experiment(
        tmp.path(),
        "streak",
        r#""sh", "-c", "exit 3""#,
        "[search]\nmax_failures = 2",
    );
    let out = tmp.path().join("out");
    assert_eq!(
        emprox(&["run", s(&exp), "--out", s(&out)]).status.code(),
        Some(1)
    );
    assert_eq!(lines(&out.join("seed-0/trials.jsonl")).len(), 2);
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["runs"][0]["stop_reason"], "max_failures");
}

#[test]
fn the_timeout_holds_when_a_detached_child_keeps_the_output_open() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = command_experiment(
        tmp.path(),
        "detached",
        r#""sh", "-c", "setsid sleep 12 & sleep 30""#,
        "",
    );
    let out = tmp.path().join("out");
    let t = Instant::now();
    let o = emprox(&[
        "run",
        s(&exp),
        "--out",
        s(&out),
        "--set",
        "budget.max_queries=1",
        "--set",
        "evaluator.command.timeout_seconds=2",
    ]);
    assert!(t.elapsed() < Duration::from_secs(7), "{:?}", t.elapsed());
    assert_eq!(o.status.code(), Some(1));
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert!(trials[0]["error"].as_str().unwrap().contains("timed out"));
}

#[test]
fn a_missing_program_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = command_experiment(tmp.path(), "missing", r#""./train-me.sh", "{arch}""#, "");
    let out = tmp.path().join("out");
    let o = emprox(&["run", s(&exp), "--out", s(&out)]);
    assert_refused(&o, "not found");
    assert!(!out.exists());
}

#[test]
fn example_paths_resolve_against_the_file_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let example = root().join("examples/external_command.toml");
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "run",
            s(&example),
            "--out",
            "out",
            "--set",
            "budget.max_queries=4",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trials = lines(&tmp.path().join("out/seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 4);
    assert!(
        trials.iter().all(|t| t["val_acc"].as_f64().is_some()),
        "{trials:?}"
    );
}

#[test]
fn sigterm_stops_the_commands_and_the_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_dir = tmp.path().join("tmp");
    std::fs::create_dir(&spec_dir).unwrap();
    let pids = tmp.path().join("pids");
    let go = tmp.path().join("go");
    let script = format!(
        "echo $$ >> {}; [ -e {} ] || sleep 60; echo '{{\"val_acc\": 70, \"test_acc\": 60}}'",
        pids.display(),
        go.display()
    );
    let exp = command_experiment(
        tmp.path(),
        "interrupted",
        &format!("\"sh\", \"-c\", {script:?}, \"{{spec}}\""),
        "",
    );
    let out = tmp.path().join("out");
    let child = bin()
        .args(["run", s(&exp), "--out", s(&out)])
        .env("TMPDIR", &spec_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::fs::read_to_string(&pids).map_or(true, |p| p.trim().is_empty()) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the command never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(&pids).unwrap().trim().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(
        err.contains(&format!("emprox resume {}", out.display())),
        "{err}"
    );
    let t = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "command {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(&spec_dir).unwrap().collect();
    assert!(left.is_empty(), "spec files left: {left:?}");
    // No trial was recorded for the stopped command; the resumed run finishes.
    std::fs::write(&go, "").unwrap();
    emprox_ok(&["resume", s(&out)]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 5);
    assert!(trials.iter().all(|t| t["val_acc"] == 70.0), "{trials:?}");
}

/// A run that stops on a write error while commands are in flight stops them and deletes their
/// spec files, as an interruption does.
#[test]
fn a_write_error_stops_the_commands_in_flight_and_deletes_their_spec_files() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_dir = tmp.path().join("tmp");
    std::fs::create_dir(&spec_dir).unwrap();
    let (pids, first, fast) = (
        tmp.path().join("pids"),
        tmp.path().join("first"),
        tmp.path().join("fast"),
    );
    // Query 1 fails after a moment with a long reason (a journal line of ~660 bytes); the
    // others record their process and wait.
    let script = format!(
        "if [ -e {fast} ] || [ \"$1\" = \"$(cat {first})\" ]; then sleep 0.5; \
         x=$(printf '%0400d' 0); echo \"$x\" >&2; exit 1; fi; echo $$ >> {pids}; sleep 60",
        fast = fast.display(),
        first = first.display(),
        pids = pids.display()
    );
    let exp = command_experiment(
        tmp.path(),
        "w",
        &format!("\"sh\", \"-c\", {script:?}, \"{{spec}}\", \"{{index}}\""),
        "workers = 3",
    );
    // The cell of query 1 (random search proposes the same cells whatever the results).
    std::fs::write(&fast, "").unwrap();
    let probe = tmp.path().join("probe");
    let o = emprox(&["run", s(&exp), "--out", s(&probe)]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_file(&fast).unwrap();
    let q1 = &lines(&probe.join("seed-0/trials.jsonl"))[0];
    std::fs::write(&first, q1["index"].to_string()).unwrap();
    // Files may not grow past 600 bytes: the configuration and the spec files fit, the journal
    // line of query 1 does not.
    let mut cmd = bin();
    cmd.args(["run", s(&exp), "--out", s(&tmp.path().join("out"))])
        .env("TMPDIR", &spec_dir);
    limit_file_size(&mut cmd, 600);
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let started: Vec<String> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    let t = Instant::now();
    let alive = |pid: &String| Path::new(&format!("/proc/{pid}")).exists();
    while started.iter().any(alive) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(&spec_dir).unwrap().collect();
    let still: Vec<&String> = started.iter().filter(|p| alive(p)).collect();
    for pid in &still {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("trials.jsonl") && err.contains("File too large"),
        "{err}"
    );
    assert_eq!(started.len(), 2, "queries 2 and 3 were in flight: {err}");
    assert!(still.is_empty(), "commands still running: {still:?}");
    assert!(left.is_empty(), "spec files left: {left:?}");
}
