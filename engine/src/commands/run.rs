//! `emprox run`: run an experiment file.

use crate::config::Experiment;
use crate::experiment::{prepare_out_dir, run_experiment};
use crate::progress::Reporter;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `emprox run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub file: PathBuf,
    /// Output folder (default: `runs/<name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Master seed (overrides `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of runs (overrides `seeds`).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Override any key of the file, e.g. `--set benchmark.dataset=cifar100`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Threads for parallel runs (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an output folder that already holds files.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `emprox run`.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let mut overrides = args.set.clone();
    if let Some(s) = args.seed {
        overrides.push(format!("seed={s}"));
    }
    if let Some(s) = args.seeds {
        overrides.push(format!("seeds={s}"));
    }
    let exp = Experiment::load(&args.file, &overrides)?;
    let out = args.out.clone().unwrap_or_else(|| exp.default_out_dir());
    prepare_out_dir(&out, args.overwrite)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let reporter = Reporter::new(exp.budget.max_queries.map(|q| q * exp.seeds));
    let start = std::time::Instant::now();
    let summary = run_experiment(&exp, &out, threads, &reporter)?;
    reporter.finish();
    println!(
        "{}: {} run(s) of {} on {} in {:.2}s",
        exp.name,
        summary.runs.len(),
        summary.strategy,
        summary.dataset,
        start.elapsed().as_secs_f64()
    );
    println!(
        "mean best test accuracy {:.2} ± {:.2} (validation {:.2}); results in {}",
        summary.mean_best_test_acc,
        summary.std_best_test_acc,
        summary.mean_best_val_acc,
        out.display()
    );
    if let Some(best) = summary
        .runs
        .iter()
        .filter_map(|r| r.best.as_ref())
        .max_by(|a, b| a.val_acc.total_cmp(&b.val_acc))
    {
        println!(
            "best found: {} (index {}) val {:.4} test {:.4}",
            best.arch, best.index, best.val_acc, best.test_acc
        );
    }
    Ok(())
}
