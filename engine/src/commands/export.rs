//! `emprox export FOLDER`: write the experiment's best cell (or one run's, or any cell) out of
//! emprox, as [`crate::export`] describes.

use crate::benchmark::{self, WithBenchmark};
use crate::config::{parse_toml, ConfigError, Experiment};
use crate::journal::{self, Trial};
use crate::results::ExperimentSummary;
use crate::rundir;
use clap::Args;
use emprox_benchmarks::nb201::Nb201Data;
use emprox_benchmarks::SearchSpace;
use emprox_train::{TrainingConfig, TrainingEvaluator};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Arguments of `emprox export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A folder written by `emprox run`.
    pub folder: PathBuf,
    /// Export this run's incumbent (the `K` of `seed-K/`) instead of the best over all runs.
    #[arg(long, value_name = "K", conflicts_with = "index")]
    pub run: Option<u64>,
    /// Export the cell with this index (in the journals, or a NAS-Bench-201 index).
    #[arg(long, value_name = "N")]
    pub index: Option<u64>,
    /// Where to write (default: FOLDER/export; refused if it holds files emprox did not write).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Train the cell again with `train` and export its weights (a cell network only; without
    /// it, the weights the run kept with `--keep-weights`, if any).
    #[arg(long)]
    pub retrain: bool,
    /// With --retrain: epochs (default: the run's training settings, or train's defaults).
    #[arg(long, requires = "retrain")]
    pub epochs: Option<usize>,
    /// With --retrain: the trial seed.
    #[arg(long, default_value_t = 0, requires = "retrain")]
    pub seed: u64,
    /// With --retrain: a training setting, as a key of `[evaluator.training]`.
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "retrain")]
    pub set: Vec<String>,
}

/// The files an export writes (an existing export folder may be written again).
const FILES: [&str; 5] = [
    "architecture.json",
    "model.py",
    "weights.safetensors",
    "preprocess.json",
    "check.safetensors",
];

/// The cell to export, with its scores where a journal has them.
struct Chosen {
    arch: String,
    trial: Option<Trial>,
    what: String,
}

/// Runs `emprox export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let dir = &args.folder;
    let cfg_path = dir.join(rundir::CONFIG);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        anyhow::anyhow!("{}: {e}: not a folder emprox run wrote", cfg_path.display())
    })?;
    let exp: Experiment = parse_toml(&text, &cfg_path)?;
    exp.validate(&cfg_path)?;
    let trials = all_trials(dir)?;
    let chosen = choose(args, dir, &exp, &trials)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("export"));
    prepare(&out)?;
    let written = benchmark::open(
        &exp,
        &crate::pipeline::search::NoProgress,
        Writer {
            args,
            exp: &exp,
            chosen: &chosen,
            out: &out,
        },
    )??;
    super::print_out(&format!(
        "exported {} ({}) to {}: {}\n",
        chosen.arch,
        chosen.what,
        out.display(),
        written.join(", ")
    ))?;
    Ok(())
}

/// Every journal line of the folder's runs, in run order.
fn all_trials(dir: &Path) -> anyhow::Result<Vec<Trial>> {
    let mut out = Vec::new();
    for run in 0.. {
        let path = rundir::run_dir(dir, run).join(rundir::TRIALS);
        if !path.exists() {
            break;
        }
        out.extend(journal::read::<Trial>(&path)?.records);
    }
    Ok(out)
}

fn choose(
    args: &ExportArgs,
    dir: &Path,
    exp: &Experiment,
    trials: &[Trial],
) -> anyhow::Result<Chosen> {
    if let Some(i) = args.index {
        if let Some(t) = trials
            .iter()
            .find(|t| t.index == Some(i) && t.val_acc.is_some())
        {
            return Ok(Chosen {
                arch: t.arch.clone(),
                trial: Some(t.clone()),
                what: format!("index {i}, run {} query {}", t.run, t.query),
            });
        }
        anyhow::ensure!(
            exp.benchmark.kind == emprox_benchmarks::config::BenchmarkKind::NasBench201,
            "index {i} was not evaluated in {}",
            dir.display()
        );
        let cell = Nb201Data::shipped()?
            .by_index(i as usize)
            .map(|r| r.cell)
            .ok_or_else(|| anyhow::anyhow!("index {i} is out of range 0..=15624"))?;
        return Ok(Chosen {
            arch: cell.to_string(),
            trial: None,
            what: format!("NAS-Bench-201 index {i}, not evaluated in this folder"),
        });
    }
    let summary = ExperimentSummary::read(&dir.join(rundir::SUMMARY))
        .map_err(|e| anyhow::anyhow!("{e} (is the run finished? `emprox resume` finishes it)"))?;
    let (run, best) = match args.run {
        Some(k) => {
            let r = summary
                .runs
                .iter()
                .find(|r| r.run == k)
                .ok_or_else(|| anyhow::anyhow!("no run {k} in {}", dir.display()))?;
            let b = r
                .best
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("run {k} has no successful evaluation"))?;
            (r, b)
        }
        None => summary
            .best()
            .ok_or_else(|| anyhow::anyhow!("no run in {} evaluated a cell", dir.display()))?,
    };
    // The trial the journal marks the incumbent last (whose weights `--keep-weights
    // incumbents` keeps), else the first with the incumbent's scores.
    let same =
        |t: &&Trial| t.run == run.run && t.arch == best.arch && t.val_acc == Some(best.val_acc);
    let trial = trials
        .iter()
        .filter(same)
        .rfind(|t| t.incumbent)
        .or_else(|| trials.iter().find(same))
        .cloned();
    Ok(Chosen {
        arch: best.arch.clone(),
        what: match args.run {
            Some(k) => format!("run {k}'s incumbent"),
            None => format!("the best over {} runs", summary.runs.len()),
        },
        trial,
    })
}

/// Makes `out`, refusing a folder that holds files an export does not write.
fn prepare(out: &Path) -> anyhow::Result<()> {
    rundir::refuse_link(out)?;
    if out.exists() {
        let mut names = Vec::new();
        for e in std::fs::read_dir(out)? {
            let name = e?.file_name();
            anyhow::ensure!(
                FILES.iter().any(|f| **f == *name),
                "{} holds {} that emprox export did not write: choose another --out",
                out.display(),
                name.to_string_lossy()
            );
            names.push(name);
        }
        // Files with an export's names are an export's only beside its architecture.json
        // (a user's own model.py alone is not ours to replace).
        anyhow::ensure!(
            names.is_empty() || written_by_export(out),
            "{} holds files with an export's names but no architecture.json emprox export wrote: \
             choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out)?;
    for f in FILES {
        // A previous export's files: this one writes its own (weights only with --retrain).
        let p = out.join(f);
        rundir::refuse_link(&p)?;
        if p.exists() {
            std::fs::remove_file(p)?;
        }
    }
    Ok(())
}

/// True if `out/architecture.json` is one `emprox export` wrote (its `source` says where the
/// cell was chosen).
fn written_by_export(out: &Path) -> bool {
    std::fs::read(out.join("architecture.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["source"]["chosen"].is_string() && v["arch"].is_string())
}

struct Writer<'a> {
    args: &'a ExportArgs,
    exp: &'a Experiment,
    chosen: &'a Chosen,
    out: &'a Path,
}

impl WithBenchmark for Writer<'_> {
    type Output = anyhow::Result<Vec<&'static str>>;

    fn with<S: SearchSpace + 'static>(self, bench: benchmark::Benchmark<S>) -> Self::Output {
        let space = &bench.space;
        let cell = space
            .parse(&self.chosen.arch)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let components = space.components(&cell);
        let signal = &bench.evaluation.signal;
        let t = self.chosen.trial.as_ref();
        let arch = json!({
            "space": space.name(),
            "arch": space.format(&cell),
            "index": space.index(&cell),
            "dimensions": components.iter().map(|c| &c.0).collect::<Vec<_>>(),
            "values": components.iter().map(|c| &c.1).collect::<Vec<_>>(),
            "objective": signal,
            "scores": {
                "validation": t.and_then(|t| t.val_acc),
                "test": t.and_then(|t| t.test_acc),
                "extras": t.map(|t| t.extras.clone()),
            },
            "source": {
                "folder": std::path::absolute(&self.args.folder).unwrap_or_else(|_| self.args.folder.clone()),
                "experiment": self.exp.name,
                "evaluator": bench.evaluation.kind,
                "dataset": bench.evaluation.dataset,
                "run": t.map(|t| t.run),
                "query": t.map(|t| t.query),
                "chosen": self.chosen.what,
            },
        });
        let mut written = vec!["architecture.json"];
        std::fs::write(
            self.out.join("architecture.json"),
            serde_json::to_string_pretty(&arch)? + "\n",
        )?;
        let Some(graph) = crate::export::cell_graph(&components) else {
            anyhow::ensure!(
                !self.args.retrain,
                "--retrain needs a cell network `train` builds; {} is not one",
                space.name()
            );
            return Ok(written);
        };
        let training = training_config(self.exp, self.args)?;
        let trainer = TrainingEvaluator::new(training.clone())
            .map_err(|e| anyhow::anyhow!("[evaluator.training] {e}"))?;
        let images = &trainer.splits().train;
        std::fs::write(
            self.out.join("model.py"),
            crate::export::model_py(
                &graph,
                training.channels,
                training.cells_per_stage,
                images.channels,
                images.classes,
            ),
        )?;
        written.push("model.py");
        let network = [
            "weights.safetensors",
            "preprocess.json",
            "check.safetensors",
        ];
        if let (false, Some(t)) = (self.args.retrain, t) {
            let kept = rundir::run_dir(&self.args.folder, t.run)
                .join(emprox_train::evaluator::WEIGHTS_DIR);
            if crate::export::from_kept(&trainer, &kept, t.query, self.out)? {
                written.extend(network);
            }
        }
        if self.args.retrain {
            let r = crate::export::retrain(&trainer, &graph, self.args.seed, self.out)?;
            written.extend(network);
            crate::progress::say(&format!(
                "retrained {}: validation {:.2}%, test {:.2}% ({} epochs on {})",
                self.chosen.arch,
                r.val_acc,
                r.test_acc,
                training.epochs,
                trainer.dataset_name()
            ));
        }
        Ok(written)
    }
}

/// The training settings of a retraining: the run's (a `train` run) or the defaults, then
/// `--epochs` and `--set`.
fn training_config(exp: &Experiment, args: &ExportArgs) -> Result<TrainingConfig, ConfigError> {
    let base = exp
        .evaluator
        .as_ref()
        .and_then(|e| e.training.clone())
        .unwrap_or_default();
    let set: Vec<String> = args
        .epochs
        .map(|e| format!("epochs={e}"))
        .into_iter()
        .chain(args.set.iter().cloned())
        .collect();
    super::train_one::training_config_over(&base, &set, "export --set")
}
