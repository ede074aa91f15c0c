//! Right answers for any objective: a minimised table, a command's own error metric, a table of
//! fractions. Every place that chooses or prints a best follows the objective's goal, names
//! it by its own name and shows its values at their scale.

mod common;
use common::*;
use emprox_benchmarks::tabular::synthetic::write_synthetic_benchmark;
use emprox_benchmarks::tabular::TabularBenchmark;
use std::path::{Path, PathBuf};

/// The synthetic table with `latency_ms` as a minimised objective (label and unit given).
fn latency_table(dir: &Path) -> PathBuf {
    let desc = write_synthetic_benchmark(&dir.join("bench"), 20_000, 5, "cora").unwrap();
    let text = std::fs::read_to_string(&desc)
        .unwrap()
        .replace(
            "objective = { column = \"val_acc\", goal = \"maximize\" }",
            "objective = { column = \"latency_ms\", goal = \"minimize\", label = \"latency\", unit = \"ms\" }",
        )
        .replace("test = \"test_acc\"\n", "")
        .replace("extras = [\"latency_ms\", \"params\"]", "extras = [\"params\"]");
    std::fs::write(&desc, text).unwrap();
    desc
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The runs' best validation values, from `summary.json`.
fn run_bests(summary: &serde_json::Value) -> Vec<f64> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["best"]["val_acc"].as_f64().unwrap())
        .collect()
}

#[test]
fn a_minimised_table_names_its_lowest_cell_as_best_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let desc = latency_table(t.path());
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let file = write(
        t.path(),
        "lat.toml",
        "name = \"lat\"\nseeds = 6\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n[strategy]\ntype = \"random\"\n\
         [budget]\nmax_queries = 8\n",
    );
    let out = t.path().join("out");
    let o = emprox_ok(&["run", &file, "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["objective"]["metric"], "latency_ms");
    // The manifest names what the journals' val_acc holds.
    assert_eq!(
        json(&out.join("run.json"))["objective"]["metric"],
        "latency_ms"
    );
    assert_eq!(summary["objective"]["goal"], "minimize");
    let bests = run_bests(&summary);
    let lowest = bests.iter().cloned().fold(f64::MAX, f64::min);
    let highest = bests.iter().cloned().fold(f64::MIN, f64::max);
    assert!(lowest < highest, "runs should differ: {bests:?}");
    // The run's closing lines: the lowest of the runs' bests, by its own name, never "accuracy".
    let best_line = stdout
        .lines()
        .find(|l| l.starts_with("best found"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(best_line.contains("minimized latency_ms"), "{best_line}");
    let shown: f64 = best_line
        .split("latency_ms ")
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((shown - lowest).abs() < 1e-3, "{best_line} vs {lowest}");
    assert!(!stdout.contains("accuracy"), "{stdout}");
    assert!(stdout.contains("mean best validation latency"), "{stdout}");
    // `show` picks the same run.
    let o = emprox_ok(&["show", s(&out)]);
    let shown = String::from_utf8_lossy(&o.stdout).to_string();
    let overall = shown
        .lines()
        .find(|l| l.starts_with("overall best"))
        .unwrap()
        .to_string();
    let k = bests.iter().position(|&b| b == lowest).unwrap().to_string();
    assert!(
        overall.contains(&format!("run {k} ")) && overall.contains("minimized"),
        "{overall}"
    );
    assert!(!shown.contains("accuracy"), "{shown}");
    // The table's best really is the minimum.
    let min_row = bench
        .table()
        .objective()
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min);
    assert!(lowest >= min_row);
    // Plots say what is plotted.
    let svg = std::fs::read_to_string(out.join("incumbent.svg")).unwrap();
    assert!(
        svg.contains("latency (ms)") && !svg.contains("accuracy"),
        "{}",
        svg.split("<text")
            .skip(1)
            .map(|t| t.split('<').next().unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let run_svg = std::fs::read_to_string(out.join("seed-0/incumbent.svg")).unwrap();
    assert!(run_svg.contains("validation latency") && !run_svg.contains("accuracy"));
    // The report reads the minimised objective as such, by its label and unit.
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("minimized: lower is better"));
    assert!(
        report.contains("search signal: validation latency (ms)") && !report.contains("accuracy")
    );
}

#[test]
fn a_comparison_on_a_minimised_table_follows_the_goal_and_reports_only_reached_budgets() {
    let t = tempfile::tempdir().unwrap();
    let desc = latency_table(t.path());
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let table = bench.table();
    let lowest = table.objective()[table.best_row()];
    assert_eq!(
        lowest,
        table.objective().iter().cloned().fold(f64::MAX, f64::min)
    );
    // A simulated-time budget that stops every run before its 60th query.
    let cmp = write(
        t.path(),
        "cmp.toml",
        "name = \"cmp\"\nseeds = 3\nreport_at = [5, 60]\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n\
         [budget]\nmax_queries = 60\nmax_sim_seconds = 3000\n\
         [[experiments]]\nlabel = \"RE\"\nstrategy = { type = \"regularized_evolution\" }\n",
    );
    let out = t.path().join("cmp-out");
    let o = emprox_ok(&["compare", &cmp, "--out", s(&out)]);
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(!md.contains("NaN"), "{md}");
    assert!(md.contains("no run reached 60 queries"), "{md}");
    assert!(md.contains("validation latency @ 5 "), "{md}");
    assert!(!md.contains("accuracy"), "{md}");
    assert!(md.contains("minimized"), "{md}");
    // "Found the best-validation cell" means found the minimum: compare each run's journal.
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    let found = (0..3)
        .filter(|i| {
            let dir = std::fs::read_dir(out.join(rows[0]["dataset"].as_str().unwrap()))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            lines(&dir.join(format!("seed-{i}/trials.jsonl")))
                .iter()
                .any(|t| t["val_acc"].as_f64() == Some(lowest))
        })
        .count();
    assert_eq!(
        rows[0]["found_best_share"].as_f64().unwrap(),
        found as f64 / 3.0
    );
    let svg = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("incumbent_") && !n.starts_with("incumbent_time")
        })
        .unwrap();
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("latency") && !svg.contains("accuracy"));
}

/// A script that prints an error metric computed from the architecture string: lower is
/// better, and the value differs between cells.
fn error_script(dir: &Path, keys: (&str, &str)) -> String {
    write(
        dir,
        "err.py",
        &format!(
            "import json, sys, zlib\n\
             a = sys.argv[1]\n\
             e = (zlib.crc32(a.encode()) % 10000) / 100.0\n\
             print(json.dumps({{{:?}: e, {:?}: e + 0.5, 'cost_seconds': 1}}))\n",
            keys.0, keys.1
        ),
    )
}

/// The incumbent flags of a journal mark each new minimum of its scores.
fn assert_minimised(trials: &[serde_json::Value]) {
    let mut best = f64::MAX;
    let mut lows = 0;
    for t in trials {
        let v = t["val_acc"].as_f64().unwrap();
        assert_eq!(t["incumbent"].as_bool().unwrap(), v < best, "{t}");
        if v < best {
            lows += 1;
        }
        best = best.min(v);
    }
    assert!(lows >= 2, "no improvement to check");
}

#[test]
fn a_command_reads_the_objective_the_experiment_names_and_minimises_it() {
    let t = tempfile::tempdir().unwrap();
    let script = error_script(t.path(), ("val_err", "test_err"));
    let file = write(
        t.path(),
        "cmd.toml",
        &format!(
            "name = \"cmd\"\nseeds = 1\n[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [strategy]\ntype = \"random\"\n[budget]\nmax_queries = 12\n\
             [evaluator]\ntype = \"command\"\n[evaluator.command]\n\
             command = [\"python3\", {script:?}, \"{{arch}}\"]\n\
             objective = {{ key = \"val_err\", goal = \"minimize\", test = \"test_err\", label = \"error\", unit = \"%\" }}\n"
        ),
    );
    let out = t.path().join("out");
    let o = emprox_ok(&["run", &file, "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 12);
    assert_minimised(&trials);
    // The other keys of the line are not taken for the score.
    assert!(trials
        .iter()
        .all(|t| t["test_acc"].as_f64().unwrap() == t["val_acc"].as_f64().unwrap() + 0.5));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["objective"]["metric"], "val_err");
    let min = trials
        .iter()
        .map(|t| t["val_acc"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(run_bests(&summary), vec![min]);
    assert!(stdout.contains("mean best test error"), "{stdout}");
    assert!(stdout.contains("minimized val_err"), "{stdout}");
}

#[test]
fn a_command_on_a_minimised_table_minimises_without_being_told() {
    let t = tempfile::tempdir().unwrap();
    latency_table(t.path());
    // The script names its metric after the table's objective column.
    let script = error_script(t.path(), ("latency_ms", "other"));
    let file = write(
        t.path(),
        "cmd.toml",
        &format!(
            "name = \"cmd\"\nseeds = 1\n[benchmark]\ntype = \"tabular\"\n\
             description = \"bench/synthetic_gnn.tabular.toml\"\n\
             [strategy]\ntype = \"regularized_evolution\"\npopulation_size = 5\nsample_size = 2\n\
             [budget]\nmax_queries = 15\n\
             [evaluator]\ntype = \"command\"\n[evaluator.command]\n\
             command = [\"python3\", {script:?}, \"{{arch}}\"]\n"
        ),
    );
    let out = t.path().join("out");
    emprox_ok(&["run", &file, "--out", s(&out)]);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_minimised(&trials);
    assert_eq!(
        json(&out.join("summary.json"))["objective"]["goal"],
        "minimize"
    );
}

/// The std of `mean ± std` in a line, as printed.
fn printed_std(line: &str) -> String {
    line.split(" ± ")
        .nth(1)
        .unwrap()
        .split([' ', '|', '('])
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn fractions_are_printed_with_the_digits_that_differ() {
    let t = tempfile::tempdir().unwrap();
    write_synthetic_benchmark(&t.path().join("bench"), 3_000, 5, "cora").unwrap();
    let file = write(
        t.path(),
        "frac.toml",
        "name = \"frac\"\nseeds = 8\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n[strategy]\ntype = \"random\"\n\
         [budget]\nmax_queries = 5\n",
    );
    let out = t.path().join("out");
    let o = emprox_ok(&["run", &file, "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("mean best test_acc"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // Two significant digits of the spread: 0.80 ± 0.01 would hide the differences.
    let sd = printed_std(line);
    let significant = sd.trim_start_matches(['0', '.']);
    assert!(significant.len() >= 2, "{line}");
    let summary = json(&out.join("summary.json"));
    let std = summary["std_best_test_acc"].as_f64().unwrap();
    assert!(std > 0.0 && std < 0.1, "{std}");
    assert!(
        (sd.parse::<f64>().unwrap() - std).abs() <= std * 0.06,
        "{line} {std}"
    );
}

#[test]
fn several_objectives_end_with_the_fronts() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("mo");
    let o = emprox_ok(&[
        "run",
        "examples/nb201_mo_random.toml",
        "--out",
        s(&out),
        "--seeds",
        "3",
        "--set",
        "budget.max_queries=40",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("final front: hypervolume"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // The mean size is that of the runs' pareto.csv files.
    let sizes: Vec<usize> = (0..3)
        .map(|i| {
            std::fs::read_to_string(out.join(format!("seed-{i}/pareto.csv")))
                .unwrap()
                .lines()
                .count()
                - 1
        })
        .collect();
    let mean = sizes.iter().sum::<usize>() as f64 / 3.0;
    assert!(
        line.contains(&format!("{mean:.1} non-dominated cells per run")),
        "{line} {sizes:?}"
    );
    assert!(
        line.contains("test ") && line.contains("pareto.csv"),
        "{line}"
    );
    // The hypervolume is the runs' final one, as in trajectory.csv.
    let summary = json(&out.join("summary.json"));
    let hv: Vec<f64> = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["front"]["hypervolume"].as_f64().unwrap())
        .collect();
    let last = std::fs::read_to_string(out.join("seed-0/trajectory.csv")).unwrap();
    let header: Vec<&str> = last.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "hypervolume").unwrap();
    let final_hv: f64 = last
        .lines()
        .last()
        .unwrap()
        .split(',')
        .nth(col)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(hv[0], final_hv);
    let shown = emprox_ok(&["show", s(&out)]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("final front: hypervolume"));
    // pareto.csv names the signal by its column.
    let csv = std::fs::read_to_string(out.join("seed-0/pareto.csv")).unwrap();
    assert!(
        csv.starts_with("query,index,arch,c10_val_acc,latency_pixel3_ms,c10_test_acc\n"),
        "{csv}"
    );
}

#[test]
fn the_filter_minimises_a_minimised_objective() {
    let t = tempfile::tempdir().unwrap();
    let desc = latency_table(t.path());
    let bench = TabularBenchmark::from_file(&desc).unwrap();
    let mut all = bench.table().objective().to_vec();
    all.sort_by(f64::total_cmp);
    let file = write(
        t.path(),
        "f.toml",
        "name = \"f\"\nseeds = 2\n[benchmark]\ntype = \"tabular\"\n\
         description = \"bench/synthetic_gnn.tabular.toml\"\n[strategy]\ntype = \"random\"\n\
         [budget]\nmax_queries = 60\n[estimator]\ntype = \"knn_onehot\"\n\
         [filter]\nwarmup = 20\ncandidates = 100\ntop_k = 5\nrefit_every = 5\n",
    );
    let out = t.path().join("out");
    emprox_ok(&["run", &file, "--out", s(&out)]);
    for run in 0..2 {
        let trials = lines(&out.join(format!("seed-{run}/trials.jsonl")));
        let val = |t: &serde_json::Value| t["val_acc"].as_f64().unwrap();
        // Predictions are in the table's units (latencies, positive), and the filtered queries
        // are lower on average than the unfiltered warm-up.
        let filtered: Vec<&serde_json::Value> = trials[20..].iter().collect();
        assert!(filtered
            .iter()
            .all(|t| t["predicted"].as_f64().unwrap() > 0.0));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let warm: Vec<f64> = trials[..20].iter().map(val).collect();
        let chosen: Vec<f64> = filtered.iter().map(|t| val(t)).collect();
        assert!(
            mean(&chosen) < mean(&warm),
            "{} vs {}",
            mean(&chosen),
            mean(&warm)
        );
        // The run's best is in the table's lowest tenth.
        let best = trials.iter().map(val).fold(f64::MAX, f64::min);
        assert!(best <= all[all.len() / 10], "{best}");
    }
}
