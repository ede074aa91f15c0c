//! `emprox eval-predictors` and `emprox predict`.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `emprox eval-predictors`.
#[derive(Debug, Args)]
pub struct EvalPredictorsArgs {
    /// The predictor-evaluation file (TOML).
    pub file: PathBuf,
    /// Output folder (default: `runs/<file stem>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `emprox predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Folder of a saved, fitted model.
    #[arg(long)]
    pub model: PathBuf,
    /// Architecture strings to score.
    #[arg(required = true)]
    pub archs: Vec<String>,
}

/// Runs `emprox eval-predictors`.
pub fn eval_predictors(_args: &EvalPredictorsArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval-predictors is being built (issue 3)")
}

/// Runs `emprox predict`.
pub fn predict(_args: &PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("predict is being built (issue 3)")
}
