//! `emprox eval-predictors` with `[evaluation] protocol = "pools"`: runs the experiment's
//! filtered search through `emprox run`'s own path (into `search/` of the output folder), or
//! reads an existing run folder, and hands its journals to
//! [`emprox_estimators::evaluation::pools`], which fits and scores the estimators on the pools
//! the filter scored. With `uniform_sizes`, the NASLib protocol runs on the same benchmark into
//! `uniform/` and its tau is reported beside.
//!
//! The filter's training set when it scored a pool is the first `train_size` successful
//! evaluations of the run's journal, in journal order: the search tells the filter each
//! successful result in query order (results that come early wait for their turn), replayed and
//! cached results included, and a repeated proposal answered from the journal is neither a
//! query nor told to the filter.

use super::predictors::EvalPredictorsArgs;
use super::run::{start_run, RunArgs, WorkFlags};
use crate::config::{parse_toml, ConfigError, Experiment};
use crate::journal::{self, Trial};
use crate::pipeline::search::NoProgress;
use crate::rundir::{self, FolderKind, Manifest};
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_estimators::evaluation::pools::{self, PoolEvalConfig, RunJournal, ScoredPool, Source};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The subfolder the search runs in.
pub const SEARCH_DIR: &str = "search";
/// The subfolder of the NASLib evaluation beside.
pub const UNIFORM_DIR: &str = "uniform";

/// What the pool protocol writes at the top of its folder.
pub const FILES: &str = "results.csv, predictions.csv, summary.json, summary.md";

/// A line of `pools.jsonl` (the filter's `PoolRecord`), as read back.
#[derive(Deserialize)]
struct Recorded {
    after_query: u64,
    train_size: usize,
    scored: Vec<(Option<u64>, Option<f64>)>,
}

/// Runs the pool protocol of the evaluation file `args.file`, whose text is `text`: its
/// Markdown and output folder.
pub fn start_pools(
    args: &EvalPredictorsArgs,
    text: &str,
    say: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<(String, PathBuf)> {
    let file = &args.file;
    let in_file = |m: String| ConfigError(format!("{}: {m}", file.display()));
    let cfg: PoolEvalConfig = parse_toml(text, file)?;
    cfg.check().map_err(|e| in_file(e.to_string()))?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let ev = &cfg.evaluation;
    let (exp_file, run_folder) = match (&ev.experiment, &ev.run_folder) {
        (Some(e), _) => (base.join(e), None),
        (None, Some(f)) => {
            let f = base.join(f);
            (f.join(rundir::CONFIG), Some(f))
        }
        (None, None) => unreachable!("checked: one of experiment and run_folder"),
    };
    let exp = Experiment::load(&exp_file, &[])?;
    let (Some(_), Some(filter)) = (&exp.estimator, &exp.filter) else {
        return Err(in_file(format!(
            "the experiment {} has no `[estimator]` and `[filter]`: the pool protocol scores the pools a filter ranks",
            exp_file.display()
        ))
        .into());
    };
    if exp.scheduler.is_some() || exp.objectives.len() > 1 {
        return Err(in_file(format!(
            "the experiment {} has a `[scheduler]` or several objectives: the pool protocol takes a single-objective, full-fidelity search",
            exp_file.display()
        ))
        .into());
    }
    if let Some(b) = &cfg.benchmark {
        let mut b = b.clone();
        b.resolve_paths(&base);
        if canonical(&b) != canonical(&exp.benchmark) {
            return Err(in_file(format!(
                "its [benchmark] is not the experiment's ({}): give the same benchmark or leave [benchmark] out",
                exp_file.display()
            ))
            .into());
        }
    }
    cfg.validate(&exp.benchmark)
        .map_err(|e| in_file(e.to_string()))?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map_or("predictors".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from("runs").join(stem)
    });
    let _lock = rundir::prepare(&out, FolderKind::PredictorEvaluation, args.overwrite)?;
    Manifest::new(FolderKind::PredictorEvaluation, text).write(&out)?;
    let (folder, shown) = match run_folder {
        Some(f) => {
            let shown = ev.run_folder.clone().expect("a run folder");
            (f, shown)
        }
        None => {
            let search = out.join(SEARCH_DIR);
            say(&format!(
                "running {} ({} runs of {} queries) into {}",
                exp.name,
                ev.runs,
                ev.queries,
                search.display()
            ));
            start_run(
                &RunArgs {
                    file: exp_file.clone(),
                    out: Some(search.clone()),
                    seed: None,
                    seeds: Some(ev.runs),
                    set: vec![format!("budget.max_queries={}", ev.queries)],
                    threads: Some(ev.jobs),
                    // The folder is this evaluation's, cleared by its own --overwrite (which
                    // refused it already where this would, and kept its manifest where a file
                    // of the user's stays).
                    overwrite: true,
                    keep_weights: None,
                    work: WorkFlags {
                        no_report: true,
                        ..WorkFlags::default()
                    },
                },
                &NoProgress,
            )?;
            (search, PathBuf::from(SEARCH_DIR))
        }
    };
    let runs = (0..ev.runs)
        .map(|r| read_run(&folder, r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let uniform = match cfg
        .uniform(&exp.benchmark)
        .map_err(|e| in_file(e.to_string()))?
    {
        Some(u) => {
            say("the NASLib protocol on the same benchmark (uniform samples)");
            emprox_estimators::evaluation::run(&u, &out.join(UNIFORM_DIR), Path::new(""), say)
                .map_err(|e| in_file(e.to_string()))?
                .summary
        }
        None => Vec::new(),
    };
    let source = Source {
        experiment: exp.name.clone(),
        top_k: filter.top_k,
        folder: shown,
    };
    let outcome = pools::run(&cfg, &exp.benchmark, &source, &runs, &uniform, &out, say)
        .map_err(|e| in_file(e.to_string()))?;
    rundir::write_file(&out.join("config.toml"), text.as_bytes())?;
    Ok((outcome.markdown, out))
}

/// `b` with the files it names spelled canonically (`a/../b` as `b`, links followed), so that
/// two spellings of the same table compare equal.
fn canonical(b: &BenchmarkConfig) -> BenchmarkConfig {
    let mut b = b.clone();
    b.for_each_path(|p| {
        if let Ok(c) = std::fs::canonicalize(&*p) {
            *p = c;
        }
    });
    b
}

/// Run `run` of the experiment folder `folder`: the cells its filter was told, in order, and
/// the pools it scored.
pub fn read_run(folder: &Path, run: u64) -> anyhow::Result<RunJournal> {
    let dir = folder.join(format!("seed-{run}"));
    let trials = journal::read::<Trial>(&dir.join(rundir::TRIALS))?.records;
    let no_index = |what: &str| {
        anyhow::anyhow!(
            "{}: {what} without a table index: the pool protocol needs a benchmark whose cells have one",
            dir.display()
        )
    };
    let mut told = Vec::new();
    for t in &trials {
        if let Some(v) = t.val_acc {
            told.push((t.index.ok_or_else(|| no_index("a trial"))?, v));
        }
    }
    let pools_file = dir.join(rundir::POOLS);
    let recorded = journal::read::<Recorded>(&pools_file)?.records;
    let mut pools = Vec::with_capacity(recorded.len());
    for p in recorded {
        let scored = p
            .scored
            .into_iter()
            .map(|(i, s)| {
                Ok((
                    i.ok_or_else(|| no_index("a pool's cell"))?,
                    s.unwrap_or(f64::NAN),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        pools.push(ScoredPool {
            after_query: p.after_query,
            train_size: p.train_size,
            scored,
        });
    }
    Ok(RunJournal { run, told, pools })
}
