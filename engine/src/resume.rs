//! Resume: continue an interrupted experiment by replaying its journals.
//!
//! Every random stream of a run is derived from its seed, so replaying the journal through the
//! same strategy (evaluations answered from the journal instead of the evaluator) rebuilds the
//! strategy's state and RNGs exactly; the run then goes on and appends to the same journal.

use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::{parse_toml, Experiment};
use crate::experiment::{execute, Execution, ExperimentError};
use crate::results::ExperimentSummary;
use crate::rundir::{self, FolderKind, Manifest};
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
    let exp = read_config(out, &manifest)?;
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

/// The experiment of the folder `out`: its `config.resolved.toml`, which must be the one the
/// manifest hashed when the run started, read and checked.
pub(crate) fn read_config(out: &Path, manifest: &Manifest) -> Result<Experiment, ExperimentError> {
    let other = |m: String| ExperimentError::Other(m);
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
    Ok(exp)
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
