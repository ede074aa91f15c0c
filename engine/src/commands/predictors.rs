//! `emprox eval-predictors` and `emprox predict`.

use crate::rundir::{self, FolderKind, Manifest};
use anyhow::Context;
use clap::Args;
use emprox_benchmarks::config::{BenchmarkConfig, Lookup, WithLookup};
use emprox_benchmarks::SearchSpace;
use emprox_estimators::emprox::persist;
use emprox_estimators::evaluation::pools::Protocol;
use emprox_estimators::{EstimatorError, FittedEstimator, PredictorEvalConfig};
use std::path::{Path, PathBuf};

/// Arguments of `emprox eval-predictors`.
#[derive(Debug, Args)]
pub struct EvalPredictorsArgs {
    /// The predictor-evaluation file (TOML).
    pub file: PathBuf,
    /// Output folder (default: `runs/<file stem>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier evaluation in the folder (only the files emprox wrote are deleted).
    #[arg(long)]
    pub overwrite: bool,
}

/// Arguments of `emprox predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Folder of a saved, fitted model.
    #[arg(long)]
    pub model: PathBuf,
    /// A TOML file whose `[benchmark]` table names the model's space (the predictor-evaluation
    /// file that saved it, or an experiment file); default: NAS-Bench-201.
    #[arg(long, value_name = "FILE")]
    pub benchmark: Option<PathBuf>,
    /// Architecture strings to score.
    #[arg(required = true)]
    pub archs: Vec<String>,
}

/// Parses an evaluation file; errors name the file, line and column.
pub fn load_eval_config(path: &Path) -> anyhow::Result<(PredictorEvalConfig, String)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cfg: PredictorEvalConfig = crate::config::parse_toml(&text, path)?;
    Ok((cfg, text))
}

/// Runs `emprox eval-predictors`.
pub fn eval_predictors(args: &EvalPredictorsArgs) -> anyhow::Result<()> {
    let (markdown, out) = start_eval_predictors(args, &|line| {
        if !crate::progress::quiet() {
            crate::progress::say(line);
        }
    })?;
    let files = if is_pools(&args.file)? {
        super::pools::FILES
    } else {
        "results.csv, predictions.csv, splits.json, summary.json, summary.md, tau_vs_n.svg, tau_vs_fit_time.svg"
    };
    // A reader that goes away (`| head`) ends the output quietly: the results are on disk.
    super::print_out(&format!(
        "{markdown}\nwrote {}/{{{files}}}\n",
        out.display()
    ))?;
    Ok(())
}

/// Just the protocol of an evaluation file (its other keys are read by the protocol's own table).
#[derive(serde::Deserialize)]
struct ProtocolOf {
    evaluation: Option<EvaluationProtocol>,
}

#[derive(serde::Deserialize)]
struct EvaluationProtocol {
    #[serde(default)]
    protocol: Protocol,
}

/// The protocol the text of evaluation file `path` asks for.
fn protocol_of(text: &str, path: &Path) -> anyhow::Result<Protocol> {
    let p: ProtocolOf = crate::config::parse_toml(text, path)?;
    Ok(p.evaluation.map(|e| e.protocol).unwrap_or_default())
}

/// Whether the evaluation file `path` asks for the pool protocol.
fn is_pools(path: &Path) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(protocol_of(&text, path)? == Protocol::Pools)
}

/// What `emprox eval-predictors` does before it prints (`say` hears its progress lines): its
/// Markdown table and output folder (the Python package's `emprox.eval_predictors`).
pub fn start_eval_predictors(
    args: &EvalPredictorsArgs,
    say: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<(String, PathBuf)> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if protocol_of(&text, &args.file)? == Protocol::Pools {
        return super::pools::start_pools(args, &text, say);
    }
    let (cfg, text) = load_eval_config(&args.file)?;
    let base = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    cfg.validate(&base)
        .map_err(|e| crate::config::ConfigError(format!("{}: {e}", args.file.display())))?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or("predictors".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from("runs").join(stem)
    });
    let _lock = rundir::prepare(&out, FolderKind::PredictorEvaluation, args.overwrite)?;
    Manifest::new(FolderKind::PredictorEvaluation, &text).write(&out)?;
    let outcome = emprox_estimators::evaluation::run(&cfg, &out, &base, say)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    rundir::write_file(&out.join("config.toml"), text.as_bytes())?;
    Ok((outcome.markdown, out))
}

/// The `[benchmark]` table of any emprox file (its other tables are ignored).
#[derive(serde::Deserialize)]
struct BenchmarkOf {
    benchmark: BenchmarkConfig,
}

/// Runs `emprox predict`: one line per architecture, `score<TAB>arch`, on the space of
/// `--benchmark` (NAS-Bench-201 by default).
pub fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let (benchmark, base) = match &args.benchmark {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut b = crate::config::parse_toml::<BenchmarkOf>(&text, file)?.benchmark;
            let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
            b.resolve_paths(&base);
            (b, base)
        }
        None => (
            toml::from_str("type = \"nasbench201\"\ndataset = \"cifar10\"")
                .expect("NAS-Bench-201's table parses"),
            PathBuf::new(),
        ),
    };
    let from = args.benchmark.as_deref();
    let lines = benchmark
        .open_lookup(&base, Predict(args))
        .map_err(|e| match from {
            Some(f) => anyhow::anyhow!("{}: {e}", f.display()),
            None => e.into(),
        })??;
    super::print_out(&lines)?;
    Ok(())
}

struct Predict<'a>(&'a PredictArgs);

impl WithLookup for Predict<'_> {
    type Output = anyhow::Result<String>;
    fn with<S: SearchSpace + 'static>(self, lookup: Lookup<S>) -> Self::Output {
        let (args, space) = (self.0, &lookup.space);
        let dir = args.model.display();
        let model = persist::load(&args.model, space).map_err(|e| match e {
            EstimatorError::WrongSpace { .. } => anyhow::anyhow!(
                "{dir}: {e}: give `--benchmark FILE`, a file whose [benchmark] table is that \
                 space (the evaluation file that saved the model)"
            ),
            e => anyhow::anyhow!("{dir}: {e}"),
        })?;
        let mut cells = Vec::with_capacity(args.archs.len());
        for a in &args.archs {
            cells.push(space.parse(a).map_err(|e| {
                anyhow::anyhow!(
                    "{a:?} is not an architecture of space {:?}: {e}",
                    space.name()
                )
            })?);
        }
        let scores = FittedEstimator::<S>::predict(&model, space, &cells)
            .map_err(|e| anyhow::anyhow!("{dir}: {e}"))?;
        Ok(scores
            .iter()
            .zip(&args.archs)
            .map(|(s, a)| format!("{s:.4}\t{a}\n"))
            .collect())
    }
}
