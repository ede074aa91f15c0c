//! Resume: continue an interrupted experiment by replaying its journals.
//!
//! Every random stream of a run is derived from its seed, so replaying the journal through the
//! same strategy (evaluations answered from the journal instead of the evaluator) rebuilds the
//! strategy's state and RNGs exactly; the run then goes on and appends to the same journal.

use crate::benchmark::{Benchmark, WithBenchmark};
use crate::config::{parse_toml, Experiment};
use crate::experiment::{execute, Execution, ExperimentError};
use crate::results::ExperimentSummary;
use crate::rundir::{self, FolderKind, InputDigest, Manifest};
use emprox_benchmarks::config::BenchmarkKind;
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
    resume_with(out, exec, allow_version_change, |exp, exec| {
        if exp
            .evaluator
            .as_ref()
            .is_some_and(|e| e.kind == crate::evaluators::EvaluatorKind::Python)
        {
            return Err(ExperimentError::Other(
                crate::evaluators::PYTHON_ONLY.into(),
            ));
        }
        crate::benchmark::open(exp, exec.progress, Continue { exp, out, exec })
            .map_err(|e| ExperimentError::Other(format!("{e:#}")))?
    })
}

/// [`resume`], whose runs `go` continues once the folder is locked and checked (the Python
/// ask/tell opens the benchmark with the user as its evaluator, then calls [`execute`]).
pub fn resume_with(
    out: &Path,
    exec: &Execution,
    allow_version_change: bool,
    go: impl FnOnce(&Experiment, &Execution) -> Result<crate::experiment::Finished, ExperimentError>,
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
    check_inputs(out, &manifest).map_err(other)?;
    let exec = Execution {
        resume: true,
        ..*exec
    };
    go(&exp, &exec).map(|f| Resumed::Finished(Box::new(f.summary)))
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

/// The data files `exp` reads, digested: a NAS-Bench-201 `data` copy (the shipped table goes
/// with the emprox version), a tabular description file and its table.
pub(crate) fn input_digests(exp: &Experiment) -> Result<Vec<InputDigest>, String> {
    let b = &exp.benchmark;
    let mut inputs = Vec::new();
    match b.kind {
        BenchmarkKind::NasBench201 => {
            if let Some(p) = &b.data {
                inputs.push(InputDigest::of("table", p)?);
            }
        }
        BenchmarkKind::Tabular => {
            if let Some(p) = &b.description {
                inputs.push(InputDigest::of("description", p)?);
            }
            // Paths were made absolute when the experiment was loaded.
            let d = b
                .tabular_description(Path::new(""))
                .map_err(|e| e.to_string())?;
            inputs.push(InputDigest::of("table", &d.data)?);
        }
        BenchmarkKind::Declared => {
            if let Some(p) = &b.description {
                inputs.push(InputDigest::of("space", p)?);
            }
        }
    }
    Ok(inputs)
}

/// Refuses to continue the experiment in `out` when a data file its manifest digested has
/// changed since it started: the journal would mix values from two tables. (A manifest of an
/// earlier emprox digests none.)
pub(crate) fn check_inputs(out: &Path, manifest: &Manifest) -> Result<(), String> {
    for old in &manifest.inputs {
        let refuse = |why: String| {
            format!(
                "{why}: refusing to resume {}, whose journal holds values of the {} as it was \
                 when the run started; start a new run instead",
                out.display(),
                old.what
            )
        };
        let now = InputDigest::of(&old.what, &old.path).map_err(refuse)?;
        if now.sha256 != old.sha256 {
            return Err(refuse(format!(
                "the {} {} changed since the run started (its SHA-256 no longer matches {})",
                old.what,
                old.path.display(),
                rundir::MANIFEST
            )));
        }
    }
    Ok(())
}

/// Continues every run of an experiment from its journals.
pub(crate) struct Continue<'a> {
    pub exp: &'a Experiment,
    pub out: &'a Path,
    pub exec: &'a Execution<'a>,
}

impl WithBenchmark for Continue<'_> {
    type Output = Result<crate::experiment::Finished, ExperimentError>;
    fn with<S: emprox_benchmarks::SearchSpace + Clone + 'static>(
        self,
        bench: Benchmark<S>,
    ) -> Self::Output {
        execute(self.exp, &bench, self.out, self.exec)
    }
}
