//! `emprox show`: what an output folder holds: an experiment's best per run and overall, a
//! comparison's table and plots, a predictor evaluation's summary, or how far an unfinished one
//! got and how to continue it.

use crate::results::{Best, ExperimentSummary};
use crate::rundir::{FolderKind, Manifest, MANIFEST, SUMMARY};
use clap::Args;
use emprox_benchmarks::Signal;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `emprox show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A folder written by `emprox run`, `emprox compare` or `emprox eval-predictors`.
    pub out_dir: PathBuf,
}

/// Runs `emprox show`: what the folder holds, by the kind its manifest names.
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let dir = &args.out_dir;
    // Folders of emprox 0.1 have a summary but may lack a manifest: experiments.
    let kind = Manifest::read(dir).map(|m| m.kind).or_else(|e| {
        if dir.join(SUMMARY).exists() {
            Ok(FolderKind::Experiment)
        } else {
            Err(anyhow::anyhow!(
                "{} is not an emprox output folder: it has no readable {MANIFEST} or {SUMMARY} ({e})",
                dir.display()
            ))
        }
    })?;
    let text = match kind {
        FolderKind::Experiment => experiment_text(dir)?,
        FolderKind::Comparison => comparison_text(dir)?,
        FolderKind::PredictorEvaluation => finished_markdown(
            dir,
            "summary.md",
            "emprox eval-predictors FILE --overwrite --out",
        )?,
    };
    Ok(super::print_out(&text)?)
}

/// An experiment's table, or how far its runs got and how to continue it.
fn experiment_text(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(SUMMARY);
    if !path.exists() {
        let mut out = String::new();
        for i in 0.. {
            let run = crate::rundir::run_dir(dir, i);
            if !run.is_dir() {
                break;
            }
            let n = std::fs::read_to_string(run.join(crate::rundir::TRIALS))
                .map_or(0, |t| t.lines().count());
            let _ = writeln!(out, "run {i}: {n} queries journaled");
        }
        let _ = writeln!(
            out,
            "{}: not finished: continue it with `emprox resume {}`",
            dir.display(),
            dir.display()
        );
        return Ok(out);
    }
    let s = ExperimentSummary::read(&path).map_err(anyhow::Error::msg)?;
    Ok(summary_table(&s, dir))
}

/// A comparison's table and where its plots are, or how to continue it.
fn comparison_text(dir: &Path) -> anyhow::Result<String> {
    let mut out = finished_markdown(
        dir,
        "comparison.md",
        &format!(
            "emprox compare {} --resume --out",
            dir.join("comparison.toml").display()
        ),
    )?;
    if dir.join("comparison.md").exists() {
        let mut plots: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".svg"))
            .collect();
        plots.sort();
        let _ = writeln!(out, "plots in {}: {}", dir.display(), plots.join(", "));
    }
    Ok(out)
}

/// The Markdown summary `file` of a finished folder, or a line saying that it is not finished
/// and the command (`continue`, followed by the folder) that finishes it.
fn finished_markdown(dir: &Path, file: &str, continue_with: &str) -> anyhow::Result<String> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(format!(
            "{}: not finished: continue it with `{continue_with} {}`\n",
            dir.display(),
            dir.display()
        )),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// What `show` prints of an experiment's summary: one row per run, the overall best by the
/// signal's goal, the means, and the fronts with several objectives.
pub fn summary_table(s: &ExperimentSummary, dir: &Path) -> String {
    let sig = &s.objective;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {} on {}", s.experiment, s.strategy, s.dataset);
    let _ = writeln!(
        out,
        "{} ({}d{})",
        sig.val_label(),
        sig.goal.name(),
        sig.unit
            .as_ref()
            .map(|u| format!(", {u}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "{:>4} {:>8} {:>12} {:>9} {:>9} {:>6}  arch",
        "run", "queries", "sim seconds", "val", "test", "found"
    );
    // One precision for the column: that of the spread over runs.
    let vals: Vec<f64> = s
        .runs
        .iter()
        .filter_map(|r| r.best.as_ref().map(|b| b.val_acc))
        .collect();
    let (m, sd) = crate::results::mean_std(&vals);
    let d = sig.decimals_for(m, sd);
    for r in &s.runs {
        let _ = match &r.best {
            Some(b) => writeln!(
                out,
                "{:>4} {:>8} {:>12.0} {:>9.d$} {:>9} {:>6}  {}",
                r.run,
                r.queries,
                r.sim_seconds,
                b.val_acc,
                b.test_acc.map_or("-".into(), |t| format!("{t:.d$}")),
                r.first_query_reaching_best,
                b.arch
            ),
            None => writeln!(
                out,
                "{:>4} {:>8} {:>12.0} {:>9} {:>9} {:>6}  -",
                r.run, r.queries, r.sim_seconds, "-", "-", "-"
            ),
        };
    }
    if let Some((r, b)) = s.best() {
        let _ = writeln!(
            out,
            "overall best (by {}, {}d): run {} {}{} {}",
            sig.val_label(),
            sig.goal.name(),
            r.run,
            b.arch,
            b.index.map(|i| format!(" (index {i})")).unwrap_or_default(),
            scores_text(sig, b)
        );
    }
    let _ = writeln!(out, "{} over {} runs", means_text(s), s.runs.len());
    if let Some(f) = s.fronts() {
        let _ = writeln!(out, "{}", fronts_text(&f, dir));
    }
    if let Some(f) = fidelity_text(s) {
        let _ = writeln!(out, "{f}");
    }
    out
}

/// `mean best test accuracy 94.30 ± 0.21 (std over runs; validation accuracy 91.55)`, or the
/// validation mean alone where the benchmark has no test values.
pub fn means_text(s: &ExperimentSummary) -> String {
    let sig = &s.objective;
    if s.mean_best_test_acc.is_nan() {
        format!(
            "mean best {} {} (no test values)",
            sig.val_label(),
            sig.value(s.mean_best_val_acc)
        )
    } else {
        format!(
            "mean best {} {} (std over runs; {} {})",
            sig.test_label(),
            sig.mean_std(s.mean_best_test_acc, s.std_best_test_acc),
            sig.val_label(),
            sig.value(s.mean_best_val_acc)
        )
    }
}

/// `val_acc 91.6067 test_acc 94.3700`: a cell's scores by the signal's own names (` (no test
/// value)` where the benchmark has none).
pub fn scores_text(sig: &Signal, b: &Best) -> String {
    let val = format!("{} {}", sig.metric, sig.value(b.val_acc));
    match (b.test_acc, &sig.test) {
        (Some(t), Some(name)) => format!("{val} {name} {}", sig.value(t)),
        (Some(t), None) => format!("{val} test {}", sig.value(t)),
        (None, _) => format!("{val} (no test value)"),
    }
}

/// With a `[scheduler]`: the fidelity the incumbent is chosen at and the mean simulated seconds
/// per run spent at each fidelity, e.g. `incumbent chosen among fidelity 200 trials only;
/// simulated seconds per run by fidelity: 12: 29,382 (29%), 200: 70,983 (71%)`.
pub fn fidelity_text(s: &ExperimentSummary) -> Option<String> {
    let top = s.runs.iter().find_map(|r| r.incumbent_fidelity)?;
    let mut by: Vec<(f64, f64)> = Vec::new();
    for (f, secs) in s.runs.iter().flat_map(|r| &r.sim_seconds_by_fidelity) {
        match by.iter_mut().find(|(g, _)| g == f) {
            Some((_, t)) => *t += secs,
            None => by.push((*f, *secs)),
        }
    }
    by.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = by.iter().map(|(_, t)| t).sum();
    let top = format!("incumbent chosen among fidelity {top} trials only");
    if total <= 0.0 {
        // Measured evaluations (training, a command): their seconds are in timings.jsonl.
        return Some(top);
    }
    let n = s.runs.len().max(1) as f64;
    let parts: Vec<String> = by
        .iter()
        .map(|(f, t)| {
            let share = if total > 0.0 { 100.0 * t / total } else { 0.0 };
            format!("{f}: {} ({share:.0}%)", thousands(t / n))
        })
        .collect();
    Some(format!(
        "{top}; simulated seconds per run by fidelity: {}",
        parts.join(", ")
    ))
}

/// `29382.1` as `29,382`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The lines on the final fronts of a run with several objectives.
pub fn fronts_text(f: &crate::results::Fronts, dir: &Path) -> String {
    let (hv, sd) = f.hypervolume;
    let d = emprox_benchmarks::evaluator::decimals(hv, sd);
    let test = f
        .test_hypervolume
        .map(|(t, tsd)| format!(", test {t:.d$} ± {tsd:.d$}"))
        .unwrap_or_default();
    format!(
        "final front: hypervolume {hv:.d$} ± {sd:.d$} (validation, std over runs{test}), \
         {:.1} non-dominated cells per run; fronts in {}",
        f.mean_size,
        dir.join("seed-*/pareto.csv (and pareto.svg)").display()
    )
}
