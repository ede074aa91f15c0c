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
