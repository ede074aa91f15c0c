//! Several objectives on NAS-Bench-201 with device latencies: the hypervolume the engine reports
//! is a share of the table's true front that matches independent measurements.

mod common;
use common::*;
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::pareto::{hypervolume, Bounds};
use emprox_benchmarks::tabular::TabularBenchmark;

/// The hypervolume of the table's whole front, with the example's normalisation.
fn true_front_hypervolume() -> f64 {
    let b =
        TabularBenchmark::from_file(&root().join("benchmarks/data/nb201_cifar10_hw.tabular.toml"))
            .unwrap();
    let t = b.table();
    let val = t.objective();
    let lat = &t
        .extras()
        .iter()
        .find(|(n, _)| n == "latency_pixel3_ms")
        .unwrap()
        .1;
    let best_val = val.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(
        best_val, 91.6067,
        "the example's accuracy range ends at the table's best"
    );
    let (lo, hi) = lat
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let points: Vec<Vec<f64>> = val.iter().zip(lat).map(|(&v, &l)| vec![v, l]).collect();
    hypervolume(
        &points,
        &[Goal::Maximize, Goal::Minimize],
        &[
            Bounds::from_range(Goal::Maximize, 80.0, best_val),
            Bounds::from_range(Goal::Minimize, lo, hi),
        ],
    )
    .unwrap()
}

#[test]
fn random_search_reaches_the_measured_share_of_the_true_front() {
    let truth = true_front_hypervolume();
    assert!(truth > 0.5 && truth < 1.0, "{truth}");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let seeds = 50u64;
    emprox_ok(&[
        "run",
        "examples/nb201_mo_random.toml",
        "--seeds",
        &seeds.to_string(),
        "--set",
        "budget.max_queries=1000",
        "--out",
        s(&out),
        "--quiet",
    ]);
    let share_at = |q: usize| -> f64 {
        let mut sum = 0.0;
        for i in 0..seeds {
            let csv =
                std::fs::read_to_string(out.join(format!("seed-{i}/trajectory.csv"))).unwrap();
            let mut lines = csv.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let col = header.iter().position(|h| *h == "hypervolume").unwrap();
            let row = lines.nth(q - 1).unwrap();
            // The arch column holds no commas in this table.
            sum += row.split(',').nth(col).unwrap().parse::<f64>().unwrap();
        }
        sum / seeds as f64 / truth
    };
    // Measured independently (200 seeds): about 92% after 100 queries, 97% after 1,000.
    let (at100, at1000) = (share_at(100), share_at(1000));
    assert!(
        (0.89..0.95).contains(&at100),
        "share after 100 queries: {at100}"
    );
    assert!(
        (0.955..0.99).contains(&at1000),
        "share after 1000 queries: {at1000}"
    );
    assert!(at1000 > at100);
}

/// The rows of a CSV file as maps from header to field.
fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap_or_else(|e| panic!("{key}: {e}"))
}

#[test]
fn a_run_writes_its_front_and_both_hypervolumes_consistently() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    emprox_ok(&[
        "run",
        "examples/nb201_mo_random.toml",
        "--seeds",
        "2",
        "--set",
        "budget.max_queries=120",
        "--out",
        s(&out),
        "--quiet",
    ]);
    let b =
        TabularBenchmark::from_file(&root().join("benchmarks/data/nb201_cifar10_hw.tabular.toml"))
            .unwrap();
    let lat = &b
        .table()
        .extras()
        .iter()
        .find(|(n, _)| n == "latency_pixel3_ms")
        .unwrap()
        .1;
    let (lo, hi) = lat
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let goals = [Goal::Maximize, Goal::Minimize];
    let bounds = [
        Bounds::from_range(Goal::Maximize, 80.0, 91.6067),
        Bounds::from_range(Goal::Minimize, lo, hi),
    ];
    for run in 0..2 {
        let dir = out.join(format!("seed-{run}"));
        let front = csv_rows(&dir.join("pareto.csv"));
        let traj = csv_rows(&dir.join("trajectory.csv"));
        assert_eq!(traj.len(), 120);
        let last = traj.last().unwrap();
        // The final hypervolumes are those of the cells in pareto.csv, by validation and by
        // test value.
        let by = |signal: &str| -> f64 {
            let pts: Vec<Vec<f64>> = front
                .iter()
                .map(|r| vec![num(r, signal), num(r, "latency_pixel3_ms")])
                .collect();
            hypervolume(&pts, &goals, &bounds).unwrap()
        };
        assert!(!front.is_empty());
        assert!((num(last, "hypervolume") - by("c10_val_acc")).abs() < 1e-12);
        assert!((num(last, "test_hypervolume") - by("c10_test_acc")).abs() < 1e-12);
        // Validation hypervolume never falls; the test one is reported, not optimised.
        let hv: Vec<f64> = traj.iter().map(|r| num(r, "hypervolume")).collect();
        assert!(hv.windows(2).all(|w| w[1] >= w[0]));
        // The plot: the run's front, the table's front and the evaluated cells.
        let svg = std::fs::read_to_string(dir.join("pareto.svg")).unwrap();
        for label in [
            "front of this run",
            "true front of the table",
            "evaluated cells",
        ] {
            assert!(svg.contains(label), "{label}");
        }
    }
}

#[test]
fn compare_reports_hypervolume_as_a_share_of_the_true_front() {
    let truth = true_front_hypervolume();
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("cmp.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "mo"
seeds = 6
objectives = [
    {{ metric = "c10_val_acc", goal = "maximize", range = [80, 91.6067] }},
    {{ metric = "latency_pixel3_ms", goal = "minimize" }},
]
report_at = [20, 60]
[benchmark]
type = "tabular"
description = "{}"
[budget]
max_queries = 60
[[experiments]]
label = "RS"
strategy = {{ type = "random" }}
[[experiments]]
label = "RE"
strategy = {{ type = "regularized_evolution" }}
"#,
            root()
                .join("benchmarks/data/nb201_cifar10_hw.tabular.toml")
                .display()
        ),
    )
    .unwrap();
    let out = t.path().join("out");
    emprox_ok(&["compare", s(&file), "--out", s(&out), "--quiet"]);
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let t = r["true_front_hypervolume"].as_f64().unwrap();
        assert!((t - truth).abs() < 1e-12, "{t} vs {truth}");
        let at = r["at"].as_array().unwrap();
        let shares: Vec<f64> = at
            .iter()
            .map(|a| {
                let h = &a["hypervolume"];
                let share = h["share_of_front"].as_f64().unwrap();
                assert!((share - h["mean"].as_f64().unwrap() / truth).abs() < 1e-12);
                share
            })
            .collect();
        assert!(shares[0] < shares[1] && shares[1] < 1.0, "{shares:?}");
        // The mean over the runs' own trajectories.
        let label = r["label"].as_str().unwrap();
        let mean60: f64 = (0..6)
            .map(|i| {
                let traj = csv_rows(
                    &out.join(format!("nb201-cifar10-hw/{label}/seed-{i}/trajectory.csv")),
                );
                num(&traj[59], "hypervolume")
            })
            .sum::<f64>()
            / 6.0;
        assert!((mean60 - at[1]["hypervolume"]["mean"].as_f64().unwrap()).abs() < 1e-12);
    }
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        md.contains("| hypervolume @ 20 | hypervolume @ 60 |"),
        "{md}"
    );
    assert!(out.join("hypervolume_nb201-cifar10-hw.svg").exists());
}

#[test]
fn the_built_in_table_offers_its_params_flops_and_latency_as_objectives() {
    // The FLOPs front of CIFAR-10 through the built-in NAS-Bench-201 benchmark and through
    // the shipped tabular copy of its columns: the same true front.
    let t = tempfile::tempdir().unwrap();
    let true_hv = |name: &str, target: &str, acc: &str, flops: &str| -> f64 {
        let file = t.path().join(format!("{name}.toml"));
        std::fs::write(
            &file,
            format!(
                "name = \"{name}\"\nseeds = 2\nreport_at = [30]\nobjectives = [{{ metric = \"{acc}\", goal = \"maximize\", range = [80, 91.6067] }}, {{ metric = \"{flops}\", goal = \"minimize\" }}]\n{target}\n[budget]\nmax_queries = 30\n[[experiments]]\nlabel = \"RE\"\nstrategy = {{ type = \"regularized_evolution\" }}\n"
            ),
        )
        .unwrap();
        let out = t.path().join(name);
        emprox_ok(&["compare", s(&file), "--out", s(&out), "--quiet"]);
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
        let share = rows[0]["at"][0]["hypervolume"]["share_of_front"]
            .as_f64()
            .unwrap();
        assert!(share > 0.5 && share < 1.0, "{share}");
        rows[0]["true_front_hypervolume"].as_f64().unwrap()
    };
    let built_in = true_hv("builtin", "datasets = [\"cifar10\"]", "val_acc", "flops_m");
    let tabular = true_hv(
        "tabular",
        &format!(
            "[benchmark]\ntype = \"tabular\"\ndescription = \"{}\"",
            root()
                .join("benchmarks/data/nb201_cifar10_hw.tabular.toml")
                .display()
        ),
        "c10_val_acc",
        "c10_flops_M",
    );
    assert!(built_in > 0.5, "{built_in}");
    assert!((built_in - tabular).abs() < 1e-9, "{built_in} vs {tabular}");
}
