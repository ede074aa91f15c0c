//! The command evaluator on a space other than NAS-Bench-201: a table's rows are the candidates,
//! the user's program evaluates them, and it is told each row's architecture string, data row and
//! dimension values. Also: a run on a sparse table that runs out of new cells says so.
#![cfg(unix)]

mod common;
use common::*;
use emprox_benchmarks::tabular::synthetic::write_synthetic_benchmark;
use emprox_benchmarks::tabular::TabularBenchmark;
use emprox_benchmarks::SearchSpace;
use std::path::Path;

/// An evaluator script: logs what it was given, scores a cell by its data row (deterministic).
fn write_script(dir: &Path) -> String {
    let p = dir.join("score.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\n\
         # $1 = {index}, $2 = {spec}\n\
         printf '%s\\n' \"$(tr -d '\\n' < \"$2\")\" >> \"$(dirname \"$0\")/specs.log\"\n\
         echo \"{\\\"val_acc\\\": $(( $1 % 97 )), \\\"test_acc\\\": $(( $1 % 89 ))}\"\n",
    )
    .unwrap();
    p.display().to_string()
}

fn experiment(dir: &Path, evaluator: &str) -> String {
    let text = format!(
        "name = \"tab-command\"\nseeds = 1\n\
         [benchmark]\ntype = \"tabular\"\ndescription = \"bench/synthetic_gnn.tabular.toml\"\n\
         [strategy]\ntype = \"regularized_evolution\"\npopulation_size = 10\nsample_size = 3\n\
         [budget]\nmax_queries = 25\n{evaluator}"
    );
    let p = dir.join("exp.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn a_command_evaluates_the_rows_of_a_table() {
    let t = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(&t.path().join("bench"), 30_000, 5, "cora").unwrap();
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let script = write_script(t.path());
    let file = experiment(
        t.path(),
        &format!(
            "[evaluator]\ntype = \"command\"\nworkers = 2\n\
             [evaluator.command]\ncommand = [\"sh\", {script:?}, \"{{index}}\", \"{{spec}}\"]\n"
        ),
    );
    let out = t.path().join("out");
    emprox_ok(&["run", &file, "--out", s(&out)]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 25);
    let specs: Vec<serde_json::Value> = std::fs::read_to_string(t.path().join("specs.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(specs.len(), 25, "one command per query");
    for tr in &trials {
        let arch = tr["arch"].as_str().unwrap();
        let index = tr["index"].as_u64().unwrap();
        // The journal's arch and index are the table's own.
        let cell = bench.space.parse(arch).unwrap();
        assert_eq!(bench.space.index(&cell), Some(index), "{arch}");
        // The command scored that very row.
        assert_eq!(tr["val_acc"].as_f64().unwrap(), (index % 97) as f64);
        // And was told its dimension values.
        let spec = specs.iter().find(|s| s["arch"] == arch).expect("spec");
        assert_eq!(spec["index"], index);
        assert_eq!(spec["space"], bench.space.name());
        let values: Vec<String> = bench
            .space
            .components(&cell)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(spec["values"], serde_json::json!(values));
    }
    // The incumbent is the best of the command's scores (nothing looked up in the table).
    let best = trials
        .iter()
        .map(|t| t["val_acc"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"][0]["best"]["val_acc"].as_f64(), Some(best));
}

#[test]
fn training_does_not_apply_to_a_table() {
    let t = tempfile::tempdir().unwrap();
    write_synthetic_benchmark(&t.path().join("bench"), 500, 5, "cora").unwrap();
    let file = experiment(t.path(), "[evaluator]\ntype = \"train\"\n");
    let o = emprox(&["run", &file, "--out", s(&t.path().join("out"))]);
    assert_refused(
        &o,
        "only [evaluator] type = \"command\" or \"slurm\" applies to a tabular benchmark",
    );
    assert!(!t.path().join("out").exists(), "nothing written");
}

/// A strategy that can reach nothing new ends its run before the budget, and the user is told.
#[test]
fn a_run_that_runs_out_of_new_cells_says_so() {
    let t = tempfile::tempdir().unwrap();
    // A sparse table: few rows have neighbours, so mutations mostly give cells already seen.
    write_synthetic_benchmark(&t.path().join("bench"), 2_000, 5, "cora").unwrap();
    let file = experiment(t.path(), "");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("max_queries = 25", "max_queries = 5000");
    std::fs::write(&file, text).unwrap();
    let o = emprox_ok(&["run", &file, "--out", s(&t.path().join("out"))]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 run(s) stopped before the budget")
            && out.contains("run 0 after")
            && out.contains("max_repeated_proposals"),
        "{out}"
    );
}
