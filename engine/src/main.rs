//! The `emprox` command-line tool.

use clap::{Parser, Subcommand};
use emprox_engine::commands::{
    arch, compare, export, list, one_line, predictors, report, run, show, train_one, StdoutFailed,
};
use emprox_engine::progress::say;
use std::process::ExitCode;

/// emprox: neural architecture search with cheap performance estimation.
#[derive(Debug, Parser)]
#[command(name = "emprox", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print only errors and the final result (no progress, no warnings).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail: `-v` adds informational log lines, `-vv` debug tracing (`RUST_LOG`, when
    /// set, chooses instead).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a search experiment from a TOML file.
    Run(run::RunArgs),
    /// Continue an interrupted run from its journal.
    Resume(run::ResumeArgs),
    /// Compare experiments on the same seeds: one table and one plot per dataset.
    Compare(compare::CompareArgs),
    /// Parse NB201 architectures (strings or indices) and print their benchmark entries.
    Arch(arch::ArchArgs),
    /// List strategies, estimators and benchmarks with their parameters and defaults.
    List,
    /// Show the best architectures of an output folder.
    Show(show::ShowArgs),
    /// Write report.html, one self-contained page, into a run or comparison folder.
    Report(report::ReportArgs),
    /// Evaluate performance predictors (NASLib protocol).
    EvalPredictors(predictors::EvalPredictorsArgs),
    /// Print a saved estimator's predictions for architectures.
    Predict(predictors::PredictArgs),
    /// Train one cell on shipped images and print its JSON result line (what a Slurm job of
    /// examples/slurm_digits_evolution.toml runs).
    TrainOne(train_one::TrainOneArgs),
    /// Write the best cell (or any) out of emprox: architecture.json, and for a cell network
    /// model.py (PyTorch) and, with --retrain, its weights.
    Export(export::ExportArgs),
}

fn main() -> ExitCode {
    // Keep candle's matrix products single-threaded: parallelism is at the level of runs and
    // trials, through explicit thread pools, so results do not depend on the thread count.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: called before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    emprox_engine::progress::set_quiet(cli.quiet);
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        // A log line that cannot be written is dropped: the default reports it with
        // `eprintln!`, which panics on the same stderr.
        .log_internal_errors(false)
        .init();
    if matches!(
        cli.command,
        Command::Arch(_)
            | Command::List
            | Command::Show(_)
            | Command::Predict(_)
            | Command::TrainOne(_)
    ) {
        quiet_on_closed_pipe();
    } else {
        stop_cleanly_on_signals();
    }
    let result = match &cli.command {
        Command::Run(a) => run::run(a),
        Command::Resume(a) => run::resume_cmd(a),
        Command::Compare(a) => compare::compare(a),
        Command::Arch(a) => arch::arch(a),
        Command::List => list::list(),
        Command::Show(a) => show::show(a),
        Command::Report(a) => report::report(a),
        Command::EvalPredictors(a) => predictors::eval_predictors(a),
        Command::Predict(a) => predictors::predict(a),
        Command::TrainOne(a) => train_one::train_one(a),
        Command::Export(a) => export::export(a),
    };
    if result.is_err() {
        // A run stopped by an error (a failed write) may leave commands in flight: stop them and
        // delete their spec files, as an interruption does, before the process exits.
        emprox_benchmarks::command::stop_all(std::time::Duration::from_secs(2));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.is::<run::NothingEvaluated>()
                || e.is::<train_one::TrainingFailed>()
                || e.is::<StdoutFailed>() =>
        {
            say(&format!("error: {}", one_line(&e)));
            ExitCode::from(1)
        }
        Err(e) => {
            say(&format!("error: {}", one_line(&e)));
            ExitCode::from(2)
        }
    }
}

/// Commands that only print (list, arch, show, predict) end quietly when their reader goes away
/// (`emprox list | head -1`), as Unix filters do: SIGPIPE gets its default action back (Rust
/// ignores it, and a write would then fail with `EPIPE`).
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// On Ctrl-C (SIGINT) or SIGTERM: stop the external commands (their process groups) and delete
/// their spec files, cancel the Slurm jobs in flight, say how to resume the run, and exit with
/// 128 + the signal number.
fn stop_cleanly_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                emprox_benchmarks::command::stop_all(std::time::Duration::from_secs(2));
                match emprox_benchmarks::slurm::cancel_all() {
                    Ok(ids) if ids.is_empty() => {}
                    Ok(ids) => say(&format!(
                        "\ncancelled {} Slurm job(s) in flight: {}",
                        ids.len(),
                        ids.join(" ")
                    )),
                    Err(e) => say(&format!("\nerror: scancel failed: {e}")),
                }
                let name = if sig == SIGINT {
                    "interrupted"
                } else {
                    "terminated"
                };
                match run::resume_hint() {
                    Some(command) => say(&format!(
                        "\n{name}: the run stopped; continue it with `{command}`"
                    )),
                    None => say(&format!("\n{name}")),
                }
                std::process::exit(128 + sig);
            }
        });
    }
}
