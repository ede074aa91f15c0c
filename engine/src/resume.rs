//! Resume: continue an interrupted experiment by replaying its journals.
//!
//! Every random stream of a run is derived from its seed, so replaying the journal through the
//! same strategy (evaluations answered from the journal instead of the evaluator) rebuilds the
//! strategy's state and RNGs exactly; the run then goes on and appends to the same journal.

use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::{parse_toml, Experiment};
use crate::experiment::{execute, Execution, ExperimentError};
use crate::journal::{self, Trial, WriteError};
use crate::results::ExperimentSummary;
use crate::rundir::{self, FolderKind};
use emprox_benchmarks::digest::sha256_hex;
use std::path::Path;

/// What `resume` did.
pub enum Resumed {
    /// The experiment had already finished; nothing was changed.
    AlreadyFinished,
    /// The experiment was continued to its end.
    Finished(Box<ExperimentSummary>),
}

/// Continues the experiment in `out`, holding its lock throughout. A folder started by another
/// emprox version is refused unless `allow_version_change`.
pub fn resume(
    out: &Path,
    exec: &Execution,
    allow_version_change: bool,
) -> Result<Resumed, ExperimentError> {
    let other = |m: String| ExperimentError::Other(m);
    let (_lock, manifest) =
        rundir::lock_existing(out, FolderKind::Experiment).map_err(|e| other(e.0))?;
    manifest
        .check_version(out, allow_version_change)
        .map_err(|e| other(e.0))?;
    let cfg_path = out.join(rundir::CONFIG);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        other(format!(
            "{}: {e}: the run was killed before it started (start it again with `emprox run --overwrite`)",
            cfg_path.display()
        ))
    })?;
    if sha256_hex(text.as_bytes()) != manifest.config_sha256 {
        return Err(other(format!(
            "{} was changed after the run started (its SHA-256 no longer matches {}): \
             refusing to resume with another configuration; start a new run instead",
            cfg_path.display(),
            rundir::MANIFEST
        )));
    }
    let exp: Experiment = parse_toml(&text, &cfg_path).map_err(|e| other(e.to_string()))?;
    exp.validate(&cfg_path).map_err(|e| other(e.to_string()))?;
    if out.join(rundir::SUMMARY).exists() {
        return Ok(Resumed::AlreadyFinished);
    }
    let exec = Execution {
        resume: true,
        ..*exec
    };
    crate::benchmark::open(
        &exp,
        Continue {
            exp: &exp,
            out,
            exec: &exec,
        },
    )
    .map_err(|e| other(format!("{e:#}")))?
    .map(|f| Resumed::Finished(Box::new(f.summary)))
}

/// Continues every run of an experiment from its journals.
pub(crate) struct Continue<'a> {
    pub exp: &'a Experiment,
    pub out: &'a Path,
    pub exec: &'a Execution<'a>,
}

impl WithBenchmark for Continue<'_> {
    type Output = Result<crate::experiment::Finished, ExperimentError>;
    fn with<S: emprox_benchmarks::SearchSpace + 'static>(
        self,
        bench: Benchmark<S>,
    ) -> Self::Output {
        execute(self.exp, &bench, self.out, self.exec)
    }
}

/// Reads a run folder's journal for replay, discarding (with a warning) a half-written last
/// line, and truncates the journal and timings to their complete lines.
pub fn prepare_run_dir(dir: &Path) -> Result<Vec<Trial>, ExperimentError> {
    let trials = dir.join(rundir::TRIALS);
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
    let timings = dir.join(rundir::TIMINGS);
    if timings.exists() {
        let bytes = std::fs::read(&timings).map_err(|source| WriteError {
            path: timings.clone(),
            source,
        })?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        truncate(&timings, keep as u64)?;
    }
    let pools = dir.join(rundir::POOLS);
    if pools.exists() {
        // Keep, byte for byte, the pools scored before the first query that will be made anew;
        // replay rewrites none, the continued run appends the rest.
        let n = contents.records.len() as u64;
        truncate(&pools, pools_prefix_len(&pools, n)?)?;
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

/// Byte length of the leading lines of `pools.jsonl` whose `after_query` is below `n`.
fn pools_prefix_len(pools: &Path, n: u64) -> Result<u64, ExperimentError> {
    #[derive(serde::Deserialize)]
    struct Head {
        after_query: u64,
    }
    let bytes = std::fs::read(pools)
        .map_err(|e| ExperimentError::Other(format!("cannot read {}: {e}", pools.display())))?;
    let mut keep = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let complete = line.ends_with(b"\n");
        match serde_json::from_slice::<Head>(line) {
            Ok(h) if complete && h.after_query < n => keep += line.len(),
            _ => break,
        }
    }
    Ok(keep as u64)
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
