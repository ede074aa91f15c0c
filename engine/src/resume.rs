//! Resume: continue an interrupted experiment by replaying its journals.
//!
//! Every random stream of a run is derived from its seed, so replaying the journal through the
//! same strategy (evaluations answered from the journal instead of the evaluator) rebuilds the
//! strategy's state and RNGs exactly; the run then goes on and appends to the same journal.

use crate::config::{parse_toml, Experiment};
use crate::evaluators::Evaluation;
use crate::experiment::{execute, sha256_hex, Execution, ExperimentError, Manifest};
use crate::journal::{self, Trial, WriteError};
use crate::results::ExperimentSummary;
use std::path::Path;

/// What `resume` did.
pub enum Resumed {
    /// The experiment had already finished; nothing was changed.
    AlreadyFinished,
    /// The experiment was continued to its end.
    Finished(Box<ExperimentSummary>),
}

/// Continues the experiment in `out`.
pub fn resume(out: &Path, exec: &Execution) -> Result<Resumed, ExperimentError> {
    let other = |m: String| ExperimentError::Other(m);
    let cfg_path = out.join("config.resolved.toml");
    let man_path = out.join("run.json");
    if !out.is_dir() {
        return Err(other(format!("{} is not a folder", out.display())));
    }
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        other(format!(
            "{}: {e}: not an emprox output folder, or the run was killed before it started \
             (start it again with `emprox run --overwrite`)",
            cfg_path.display()
        ))
    })?;
    let manifest: Manifest = std::fs::read_to_string(&man_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|e| other(format!("{}: {e}", man_path.display())))?;
    if sha256_hex(&text) != manifest.config_sha256 {
        return Err(other(format!(
            "{} was changed after the run started (its SHA-256 no longer matches run.json): \
             refusing to resume with another configuration; start a new run instead",
            cfg_path.display()
        )));
    }
    let exp: Experiment = parse_toml(&text, &cfg_path).map_err(|e| other(e.to_string()))?;
    exp.validate(&cfg_path).map_err(|e| other(e.to_string()))?;
    if out.join("summary.json").exists() {
        return Ok(Resumed::AlreadyFinished);
    }
    let data = exp.benchmark.load_nb201()?;
    let exec = Execution {
        resume: true,
        ..*exec
    };
    let evaluation = Evaluation::build(&exp, data.clone()).map_err(other)?;
    execute(&exp, data, &evaluation, out, &exec).map(|f| Resumed::Finished(Box::new(f.summary)))
}

/// Reads a run folder's journal for replay, discarding (with a warning) a half-written last
/// line, and truncates the journal and timings to their complete lines.
pub fn prepare_run_dir(dir: &Path) -> Result<Vec<Trial>, ExperimentError> {
    let trials = dir.join("trials.jsonl");
    if !trials.exists() {
        return Ok(Vec::new());
    }
    let contents =
        journal::read::<Trial>(&trials).map_err(|e| ExperimentError::Other(e.to_string()))?;
    if let Some(tail) = &contents.discarded_tail {
        tracing::warn!(
            file = %trials.display(),
            bytes = tail.len(),
            "discarding a half-written last line of the journal"
        );
    }
    truncate(&trials, contents.valid_len)?;
    let timings = dir.join("timings.jsonl");
    if timings.exists() {
        let bytes = std::fs::read(&timings).map_err(|source| WriteError {
            path: timings.clone(),
            source,
        })?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        truncate(&timings, keep as u64)?;
    }
    let pools = dir.join("pools.jsonl");
    if pools.exists() {
        // Keep the pools scored before the first query that will be made anew; replay
        // rewrites none, the continued run appends the rest.
        let n = contents.records.len() as u64;
        let old = journal::read::<serde_json::Value>(&pools)
            .map_err(|e| ExperimentError::Other(e.to_string()))?;
        let mut kept = Vec::new();
        for r in old
            .records
            .iter()
            .filter(|r| r["after_query"].as_u64().is_some_and(|q| q < n))
        {
            kept.extend(serde_json::to_vec(r).expect("json"));
            kept.push(b'\n');
        }
        crate::experiment::write_file(&pools, &kept)?;
    }
    for (i, t) in contents.records.iter().enumerate() {
        if t.query != i as u64 + 1 {
            return Err(ExperimentError::Other(format!(
                "{}:{}: expected query {}, found {}",
                trials.display(),
                i + 1,
                i + 1,
                t.query
            )));
        }
    }
    Ok(contents.records)
}

fn truncate(path: &Path, len: u64) -> Result<(), WriteError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .map_err(|source| WriteError {
            path: path.to_path_buf(),
            source,
        })
}
