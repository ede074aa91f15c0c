//! `emprox compare`: run a comparison file.

use crate::compare::{markdown, run_comparison, Comparison};
use crate::experiment::{prepare_out_dir, Execution};
use crate::progress::Reporter;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `emprox compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The comparison file (TOML).
    pub file: PathBuf,
    /// Output folder (default: `runs/<name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs per experiment (overrides `seeds`).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Threads for parallel runs (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an output folder that already holds files.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `emprox compare`.
pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let mut c = Comparison::load(&args.file)?;
    if let Some(s) = args.seeds {
        anyhow::ensure!(s >= 1, "--seeds must be at least 1");
        c.seeds = s;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&c.name));
    prepare_out_dir(&out, args.overwrite)?;
    let reporter = Reporter::new(None);
    let exec = Execution {
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        progress: &reporter,
        resume: false,
        throttle: None,
    };
    let rows = run_comparison(&c, &out, &exec)?;
    reporter.finish();
    print!("{}", markdown(&c, &rows));
    println!("results in {}", out.display());
    Ok(())
}
