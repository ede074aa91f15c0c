//! `emprox compare`: run a comparison file.

use crate::compare::{markdown, run_comparison, Comparison};
use crate::experiment::Execution;
use crate::progress::Reporter;
use crate::rundir::{self, FolderKind, Manifest};
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
    /// The first run's seed (overrides `seed`): the same comparison on fresh seeds.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Threads for parallel runs (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an earlier comparison in the folder (only the files emprox wrote are deleted).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue an interrupted comparison in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// With `--resume`: continue a comparison that another emprox version started.
    #[arg(long, requires = "resume")]
    pub allow_version_change: bool,
    /// What `run`, `resume` and `compare` share.
    #[command(flatten)]
    pub work: super::run::WorkFlags,
}

/// Runs `emprox compare`.
pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let reporter = Reporter::new();
    let (text, out, report) = start_compare(args, &reporter)?;
    reporter.finish();
    let report = report
        .map(|p| format!("report in {}\n", p.display()))
        .unwrap_or_default();
    super::print_out(&format!("{text}results in {}\n{report}", out.display()))?;
    Ok(())
}

/// What `emprox compare` does before it prints: runs the comparison (`progress` hears of it)
/// and gives its Markdown table, output folder and report (the Python package's
/// `emprox.compare`).
pub fn start_compare(
    args: &CompareArgs,
    progress: &dyn crate::pipeline::search::Progress,
) -> anyhow::Result<(String, PathBuf, Option<PathBuf>)> {
    let threads = super::run::default_threads(args.threads)?;
    let mut c = Comparison::load(&args.file)?;
    if let Some(s) = args.seeds {
        let max = crate::config::MAX_SEEDS;
        if !(1..=max).contains(&s) {
            return Err(crate::config::ConfigError(format!(
                "--seeds must be between 1 and {max}, got {s}"
            ))
            .into());
        }
        c.seeds = s;
    }
    if let Some(s) = args.seed {
        c.seed = crate::config::check_seed_flag(s)?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&c.name));
    let text = std::fs::read_to_string(&args.file)?;
    // The file and the options that change it: resume must continue the same comparison.
    let mut manifest = Manifest::new(
        FolderKind::Comparison,
        &format!(
            "{text}\n# --seeds {:?}\n{}",
            args.seeds,
            args.seed
                .map(|s| format!("# --seed {s}\n"))
                .unwrap_or_default()
        ),
    );
    // What --overwrite may delete later: the experiment folders this comparison writes.
    manifest.experiments = Some(c.folders()?);
    // The experiment folders that --overwrite cleared: one that kept a file of the user's kept
    // its manifest too, and runs again beside it.
    let mut cleared = Vec::new();
    let _lock = if args.resume {
        let (lock, old) = rundir::lock_existing(&out, FolderKind::Comparison)?;
        old.check_version(&out, args.allow_version_change)?;
        anyhow::ensure!(
            old.config_sha256 == manifest.config_sha256,
            "{} changed since the comparison in {} started: refusing to resume with another file",
            args.file.display(),
            out.display()
        );
        lock
    } else {
        // The experiment folders an earlier comparison in `out` listed (its manifest is kept
        // until this one writes its own).
        let listed = || {
            Manifest::read(&out)
                .ok()
                .and_then(|m| m.experiments)
                .unwrap_or_default()
        };
        if args.overwrite {
            // Nothing is deleted while a folder the comparison would write holds another's
            // files (the listed ones, `rundir::prepare` checks).
            c.check_folders(&out, &listed())?;
        }
        let lock = rundir::prepare(&out, FolderKind::Comparison, args.overwrite)?;
        if args.overwrite {
            cleared = listed();
        }
        // Again under the lock, before the manifest lists them as the comparison's.
        c.check_folders(&out, &cleared)?;
        manifest.write(&out)?;
        rundir::write_file(&out.join("comparison.toml"), text.as_bytes())?;
        lock
    };
    // Every experiment folder, for the whole comparison: no other run writes there meanwhile.
    let held = c.lock_folders(&out, args.resume, &cleared)?;
    // Ctrl-C or SIGTERM from here on: say how to continue this comparison.
    crate::commands::run::set_resume_command(format!(
        "emprox compare {} --resume --out {}{}",
        args.file.display(),
        out.display(),
        args.seeds
            .map(|s| format!(" --seeds {s}"))
            .unwrap_or_default()
            + &args
                .seed
                .map(|s| format!(" --seed {s}"))
                .unwrap_or_default()
    ));
    let exec = Execution {
        threads,
        progress,
        resume: args.resume,
        throttle: args.work.throttle(),
        keep_weights: None,
        keep_checkpoints: args.work.keep_checkpoints,
    };
    let rows = run_comparison(&c, &out, &exec, &held)?;
    // Under the comparison's lock.
    let report = (!args.work.no_report)
        .then(|| super::report::write_locked(&out))
        .flatten();
    Ok((markdown(&c, &rows), out, report))
}
