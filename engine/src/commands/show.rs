//! `emprox show`: a table of the best found per run and overall.

use crate::results::ExperimentSummary;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `emprox show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// An output folder written by `emprox run`.
    pub out_dir: PathBuf,
}

/// Runs `emprox show`.
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let path = args.out_dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e} (is it an emprox output folder?)",
            path.display()
        )
    })?;
    let s: ExperimentSummary = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not an emprox summary: {e}", path.display()))?;
    let mut o = Vec::new();
    o.push(format!(
        "{} — {} on {}",
        s.experiment, s.strategy, s.dataset
    ));
    o.push(format!(
        "{:>4} {:>8} {:>12} {:>9} {:>9} {:>6}  arch",
        "run", "queries", "sim seconds", "val", "test", "found"
    ));
    for r in &s.runs {
        match &r.best {
            Some(b) => o.push(format!(
                "{:>4} {:>8} {:>12.0} {:>9.4} {:>9} {:>6}  {}",
                r.run,
                r.queries,
                r.sim_seconds,
                b.val_acc,
                b.test_acc.map_or("-".into(), |t| format!("{t:.4}")),
                r.first_query_reaching_best,
                b.arch
            )),
            None => o.push(format!(
                "{:>4} {:>8} {:>12.0} {:>9} {:>9} {:>6}  -",
                r.run, r.queries, r.sim_seconds, "-", "-", "-"
            )),
        }
    }
    if let Some((r, b)) = s
        .runs
        .iter()
        .filter_map(|r| r.best.as_ref().map(|b| (r, b)))
        .max_by(|a, b| a.1.val_acc.total_cmp(&b.1.val_acc))
    {
        o.push(format!(
            "overall best (by validation): run {} {}{} val {:.4}{}",
            r.run,
            b.arch,
            b.index.map(|i| format!(" (index {i})")).unwrap_or_default(),
            b.val_acc,
            test_text(b.test_acc)
        ));
    }
    if s.mean_best_test_acc.is_nan() {
        o.push(format!(
            "mean best val {:.4} over {} runs (no test values)",
            s.mean_best_val_acc,
            s.runs.len()
        ));
    } else {
        o.push(format!(
            "mean best test {:.4} ± {:.4}, mean best val {:.4} over {} runs",
            s.mean_best_test_acc,
            s.std_best_test_acc,
            s.mean_best_val_acc,
            s.runs.len()
        ));
    }
    super::print_out(&(o.join("\n") + "\n"))?;
    Ok(())
}

/// ` test 12.3456`, or ` (no test value)` where the benchmark has none.
pub fn test_text(test: Option<f64>) -> String {
    test.map_or(" (no test value)".into(), |t| format!(" test {t:.4}"))
}
