//! Trains random NB201 cells through the worker pool and prints one JSON line per candidate
//! (in completion order) and a summary: wall time, mean cost per candidate, best and mean
//! validation accuracy. Measures what a search with the `train` evaluator costs.
//!
//! ```text
//! cargo run --release -p emprox-train --example train_pool -- \
//!     [--workers 2] [--candidates 30] [--seed 0] [--trial-seed N] [--config JSON]
//! ```
//! `--seed` picks the candidates; `--trial-seed` (default: derived from `--seed`) seeds their
//! training.
//! ```text
//! ```

use emprox_benchmarks::nb201::{Cell, NUM_CELLS};
use emprox_benchmarks::seed;
use emprox_benchmarks::workers::WorkerPool;
use emprox_train::{TrainingConfig, TrainingEvaluator};
use rand::Rng;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let (mut workers, mut candidates, mut master) = (2usize, 30usize, 0u64);
    let mut trial_seed: Option<u64> = None;
    let mut config = TrainingConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args
            .next()
            .unwrap_or_else(|| die(&format!("{a} needs a value")));
        match a.as_str() {
            "--workers" => workers = v.parse().unwrap_or_else(|_| die("bad --workers")),
            "--candidates" => candidates = v.parse().unwrap_or_else(|_| die("bad --candidates")),
            "--seed" => master = v.parse().unwrap_or_else(|_| die("bad --seed")),
            "--trial-seed" => {
                trial_seed = Some(v.parse().unwrap_or_else(|_| die("bad --trial-seed")))
            }
            "--config" => {
                config =
                    serde_json::from_str(&v).unwrap_or_else(|e| die(&format!("bad --config: {e}")))
            }
            other => die(&format!("unknown argument {other}")),
        }
    }
    let ev = TrainingEvaluator::new(config.clone()).unwrap_or_else(|e| die(&e.to_string()));
    let mut pool = WorkerPool::with_threads(workers, config.threads, Arc::new(ev))
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut rng = seed::stream(master, "candidates");
    let cells: Vec<Cell> = (0..candidates)
        .map(|_| Cell::from_code(rng.random_range(0..NUM_CELLS)).expect("valid code"))
        .collect();
    let trial_seed = trial_seed.unwrap_or_else(|| seed::derive(master, "trial"));
    let start = Instant::now();
    for (i, c) in cells.iter().enumerate() {
        pool.submit(i as u64, *c, trial_seed);
    }
    let (mut cost, mut vals, mut best): (f64, Vec<f64>, Option<(f64, f64, String)>) =
        (0.0, Vec::new(), None);
    let mut failures = 0;
    while let Some(f) = pool.recv() {
        match &f.result {
            Ok(o) => {
                cost += o.cost_seconds;
                vals.push(o.val_acc);
                if best.as_ref().is_none_or(|b| o.val_acc > b.0) {
                    best = Some((
                        o.val_acc,
                        o.test_acc.unwrap_or(f64::NAN),
                        f.cell.to_string(),
                    ));
                }
                println!(
                    "{}",
                    serde_json::json!({"job": f.job_id, "worker": f.worker, "arch": f.cell.to_string(),
                        "val_acc": o.val_acc, "test_acc": o.test_acc, "cost_seconds": o.cost_seconds})
                );
            }
            Err(e) => {
                failures += 1;
                println!(
                    "{}",
                    serde_json::json!({"job": f.job_id, "arch": f.cell.to_string(), "error": e.reason})
                );
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
    let best = best.unwrap_or((f64::NAN, f64::NAN, String::new()));
    println!(
        "{}",
        serde_json::json!({"summary": {"workers": workers, "candidates": candidates,
            "failures": failures, "wall_seconds": wall, "mean_cost_seconds": cost / vals.len().max(1) as f64,
            "best_val_acc": best.0, "best_test_acc": best.1, "best_arch": best.2,
            "mean_val_acc": mean}})
    );
}

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}
