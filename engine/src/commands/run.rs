//! `emprox run`: run an experiment file.

use super::print_out;
use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::Experiment;
use crate::experiment::{check_keep_weights, run_experiment, Execution, KeepWeights};
use crate::progress::Reporter;
use crate::resume::{resume, Resumed};
use crate::rundir::{self, FolderKind};
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Override any key of the file, e.g. `--set benchmark.dataset=cifar100`. Changing a
    /// table's type (`--set strategy.type=random`) replaces that table: the old type's keys
    /// go and the new type starts from its defaults (other `--set` keys of it still apply).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Threads for parallel runs (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an earlier emprox output in the folder (only the files emprox wrote are deleted).
    #[arg(long)]
    pub overwrite: bool,
    /// Keep the trained weights of the cells `train` evaluates (`all`) or of each run's
    /// incumbent (`incumbents`) in `seed-<i>/weights/`, for `emprox export` (not of trials at
    /// a `[scheduler]`'s fidelities, nor of results from the cache).
    #[arg(long, value_name = "WHICH")]
    pub keep_weights: Option<KeepWeights>,
    /// What `run`, `resume` and `compare` share.
    #[command(flatten)]
    pub work: WorkFlags,
}

/// The options of `emprox run`, `resume` and `compare` that are the same for the three.
#[derive(Debug, Clone, Default, Args)]
pub struct WorkFlags {
    /// Do not write report.html at the end (`emprox report FOLDER` writes it later).
    #[arg(long)]
    pub no_report: bool,
    /// Keep every checkpoint of a multi-fidelity run (by default one is removed once no
    /// promotion will continue from it).
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Sleep this many milliseconds after each query (for crash tests).
    #[arg(long, hide = true)]
    pub throttle_ms: Option<u64>,
}

impl WorkFlags {
    /// The pause after each query (`--throttle-ms`).
    pub fn throttle(&self) -> Option<std::time::Duration> {
        self.throttle_ms.map(std::time::Duration::from_millis)
    }
}

/// Arguments of `emprox resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The output folder of an interrupted run.
    pub out_dir: PathBuf,
    /// Threads for parallel runs (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Continue a folder started by another emprox version (its journal may not be reproduced).
    #[arg(long)]
    pub allow_version_change: bool,
    /// As `emprox run --keep-weights`, for the queries still to come.
    #[arg(long, value_name = "WHICH")]
    pub keep_weights: Option<KeepWeights>,
    /// What `run`, `resume` and `compare` share.
    #[command(flatten)]
    pub work: WorkFlags,
}

pub use emprox_benchmarks::workers::MAX_THREADS;

/// `--threads`, checked (1 to [`MAX_THREADS`]), or all cores.
pub(crate) fn default_threads(t: Option<usize>) -> Result<usize, crate::config::ConfigError> {
    match t {
        Some(t) if !(1..=MAX_THREADS).contains(&t) => Err(crate::config::ConfigError(format!(
            "--threads must be between 1 and {MAX_THREADS}, got {t}"
        ))),
        Some(t) => Ok(t),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The command that continues the work in progress, for the hint of an interruption.
static RESUME_COMMAND: Mutex<Option<String>> = Mutex::new(None);

/// The command that continues the run, resume or comparison in progress, once its folder
/// exists.
pub fn resume_hint() -> Option<String> {
    RESUME_COMMAND
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// Sets the command [`resume_hint`] gives.
pub fn set_resume_command(command: String) {
    *RESUME_COMMAND.lock().unwrap_or_else(|p| p.into_inner()) = Some(command);
}

fn set_resume_hint(out: &Path) {
    set_resume_command(format!("emprox resume {}", out.display()));
}

/// A run finished (its summary written) in which no evaluation succeeded: exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NothingEvaluated(pub String);

/// Err([`NothingEvaluated`]) when a run of the experiment has no successful evaluation.
pub fn check_evaluated(summary: &crate::results::ExperimentSummary) -> anyhow::Result<()> {
    let empty: Vec<&crate::results::RunSummary> =
        summary.runs.iter().filter(|r| r.best.is_none()).collect();
    let Some(first) = empty.first() else {
        return Ok(());
    };
    let runs: Vec<String> = empty.iter().map(|r| r.run.to_string()).collect();
    // A run stopped before its first query has no reasons to read: say why it stopped.
    let why = match first.queries {
        0 => format!(
            "run {} stopped ({}) before its first query",
            first.run, first.stop_reason
        ),
        _ => format!("see the reasons in seed-{}/trials.jsonl", first.run),
    };
    Err(NothingEvaluated(format!(
        "no evaluation succeeded in run {} of {}: {why}",
        runs.join(", "),
        summary.runs.len()
    ))
    .into())
}

/// Runs `emprox resume`.
pub fn resume_cmd(args: &ResumeArgs) -> anyhow::Result<()> {
    let reporter = Reporter::new();
    let r = start_resume(args, &reporter)?;
    reporter.finish();
    match r {
        Resumed::AlreadyFinished => print_out(&format!(
            "{}: the experiment had already finished; nothing changed\n",
            args.out_dir.display()
        ))?,
        Resumed::Finished(s) => {
            let mut text = summary_text(&s, &args.out_dir, None);
            if !args.work.no_report {
                // Under the folder's lock again: no other run writes there meanwhile.
                let _lock = rundir::FolderLock::acquire(&args.out_dir)?;
                if let Some(p) = super::report::write_locked(&args.out_dir) {
                    let _ = writeln!(text, "report in {}", p.display());
                }
            }
            print_out(&text)?;
            return check_evaluated(&s);
        }
    }
    Ok(())
}

/// What `emprox resume` does before it prints (the Python package's `emprox.resume`).
pub fn start_resume(
    args: &ResumeArgs,
    progress: &dyn crate::pipeline::search::Progress,
) -> anyhow::Result<Resumed> {
    let threads = default_threads(args.threads)?;
    set_resume_hint(&args.out_dir);
    let exec = Execution {
        threads,
        progress,
        resume: true,
        throttle: args.work.throttle(),
        keep_weights: args.keep_weights,
        keep_checkpoints: args.work.keep_checkpoints,
    };
    Ok(resume(&args.out_dir, &exec, args.allow_version_change)?)
}

/// Refuses an experiment whose results come from Python's ask/tell.
fn refuse_python(exp: &Experiment) -> Result<(), crate::config::ConfigError> {
    match &exp.evaluator {
        Some(e) if e.kind == crate::evaluators::EvaluatorKind::Python => Err(
            crate::config::ConfigError(crate::evaluators::PYTHON_ONLY.into()),
        ),
        _ => Ok(()),
    }
}

/// Runs `emprox run`.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let reporter = Reporter::new();
    let start = std::time::Instant::now();
    let (summary, out, report) = start_run(args, &reporter)?;
    reporter.finish();
    let mut text = summary_text(&summary, &out, Some(start.elapsed().as_secs_f64()));
    if let Some(p) = report {
        let _ = writeln!(text, "report in {}", p.display());
    }
    print_out(&text)?;
    check_evaluated(&summary)
}

/// What `emprox run` does before it prints: runs the experiment (`progress` hears of it) and
/// gives its summary, output folder and report (the Python package's `emprox.run`).
pub fn start_run(
    args: &RunArgs,
    progress: &dyn crate::pipeline::search::Progress,
) -> anyhow::Result<(crate::results::ExperimentSummary, PathBuf, Option<PathBuf>)> {
    let mut overrides = args.set.clone();
    if let Some(s) = args.seed {
        overrides.push(format!("seed={}", crate::config::check_seed_flag(s)?));
    }
    if let Some(s) = args.seeds {
        overrides.push(format!("seeds={s}"));
    }
    let threads = default_threads(args.threads)?;
    let exp = Experiment::load(&args.file, &overrides)?;
    refuse_python(&exp)?;
    let out = args.out.clone().unwrap_or_else(|| exp.default_out_dir());
    let exec = Execution {
        threads,
        progress,
        resume: false,
        throttle: args.work.throttle(),
        keep_weights: args.keep_weights,
        keep_checkpoints: args.work.keep_checkpoints,
    };
    // The data and the evaluator are loaded and checked before anything is created on disk.
    let (summary, report) = crate::benchmark::open(
        &exp,
        progress,
        NewRun {
            exp: &exp,
            out: &out,
            overwrite: args.overwrite,
            report: !args.work.no_report,
            exec: &exec,
        },
    )??;
    Ok((summary, out, report))
}

/// Starts a new experiment in a prepared, locked folder.
struct NewRun<'a> {
    exp: &'a Experiment,
    out: &'a std::path::Path,
    overwrite: bool,
    report: bool,
    exec: &'a Execution<'a>,
}

impl WithBenchmark for NewRun<'_> {
    type Output = anyhow::Result<(crate::results::ExperimentSummary, Option<PathBuf>)>;
    fn with<S: emprox_benchmarks::SearchSpace + Clone + 'static>(
        self,
        bench: Benchmark<S>,
    ) -> Self::Output {
        check_keep_weights(self.exec, &bench.evaluation)?;
        let _lock = rundir::prepare(self.out, FolderKind::Experiment, self.overwrite)?;
        set_resume_hint(self.out);
        let summary = run_experiment(self.exp, &bench, self.out, self.exec)?.summary;
        // Under the run's lock.
        let report = self
            .report
            .then(|| super::report::write_locked(self.out))
            .flatten();
        Ok((summary, report))
    }
}

/// The closing lines of a run or resume.
pub fn summary_text(
    summary: &crate::results::ExperimentSummary,
    out: &std::path::Path,
    secs: Option<f64>,
) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: {} run(s) of {} on {}{}",
        summary.experiment,
        summary.runs.len(),
        summary.strategy,
        summary.dataset,
        secs.map(|s| format!(" in {s:.2}s")).unwrap_or_default()
    );
    let sig = &summary.objective;
    let _ = writeln!(
        text,
        "{}; results in {}",
        crate::commands::show::means_text(summary),
        out.display()
    );
    if let Some((_, best)) = summary.best() {
        let _ = writeln!(
            text,
            "best found ({}d {}): {}{} {}",
            sig.goal.name(),
            sig.metric,
            best.arch,
            best.index
                .map(|i| format!(" (index {i})"))
                .unwrap_or_default(),
            crate::commands::show::scores_text(sig, best)
        );
    }
    if let Some(f) = summary.fronts() {
        let _ = writeln!(text, "{}", crate::commands::show::fronts_text(&f, out));
    }
    if let Some(f) = crate::commands::show::fidelity_text(summary) {
        let _ = writeln!(text, "{f}");
    }
    if summary.failed > 0 {
        let n: u64 = summary.runs.iter().map(|r| r.queries).sum();
        let _ = writeln!(
            text,
            "{} of {n} evaluations failed (reasons in trials.jsonl)",
            summary.failed
        );
    }
    // A run that ends because its strategy found nothing new stopped short of its budget: say so.
    let exhausted: Vec<String> = summary
        .runs
        .iter()
        .filter(|r| r.stop_reason == crate::pipeline::stopping::StopReason::Exhausted)
        .map(|r| format!("run {} after {} queries", r.run, r.queries))
        .collect();
    if !exhausted.is_empty() {
        let _ = writeln!(
            text,
            "{} run(s) stopped before the budget because the strategy kept proposing cells already \
             evaluated ({}; [search] max_repeated_proposals): the space, or the part of it the \
             strategy reaches, is used up",
            exhausted.len(),
            exhausted.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                + if exhausted.len() > 3 { ", ..." } else { "" }
        );
    }
    text
}
