//! The output folder: its layout, its manifest, its lock, and which files in it emprox owns.
//!
//! Every folder emprox writes (an experiment, a comparison, a predictor evaluation) holds a
//! manifest, `run.json`, that says what kind of folder it is. `--overwrite` deletes only in
//! such a folder, and only the files the layout below names (the rest — a user's notes, a
//! plot they saved beside ours — stays). A process works in a folder only while it holds the
//! exclusive lock on `.emprox.lock`, for the whole life of a run, resume, comparison or
//! evaluation; the lock dies with its process, so a killed run never blocks a resume.

use crate::journal::{self, Trial};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "run.json";
/// The lock file's name.
pub const LOCK: &str = ".emprox.lock";
/// The resolved experiment configuration.
pub const CONFIG: &str = "config.resolved.toml";
/// The aggregate summary; written last, its presence marks a finished experiment.
pub const SUMMARY: &str = "summary.json";
/// The journal of a run.
pub const TRIALS: &str = "trials.jsonl";
/// Wall-clock timings of a run.
pub const TIMINGS: &str = "timings.jsonl";
/// Scored pools of a filtered run.
pub const POOLS: &str = "pools.jsonl";
/// The incumbent after each query.
pub const TRAJECTORY: &str = "trajectory.csv";
/// The incumbent plot.
pub const INCUMBENT_SVG: &str = "incumbent.svg";
/// The non-dominated evaluated cells of a run with several objectives.
pub const PARETO: &str = "pareto.csv";
/// Its plot, against each objective besides the search signal.
pub const PARETO_SVG: &str = "pareto.svg";
/// The page of an experiment or a comparison (`emprox report`).
pub const REPORT: &str = "report.html";
/// Every file emprox writes in a run folder.
const RUN_FILES: [&str; 8] = [
    TRIALS,
    TIMINGS,
    POOLS,
    TRAJECTORY,
    SUMMARY,
    INCUMBENT_SVG,
    PARETO,
    PARETO_SVG,
];

/// Folder of run `i` inside an experiment folder.
pub fn run_dir(out: &Path, i: u64) -> PathBuf {
    out.join(format!("seed-{i}"))
}

/// What an output folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FolderKind {
    /// `emprox run`: runs of one experiment.
    Experiment,
    /// `emprox compare`: experiments on the same seeds, one folder each.
    Comparison,
    /// `emprox eval-predictors`.
    PredictorEvaluation,
}

impl FolderKind {
    fn describe(self) -> &'static str {
        match self {
            FolderKind::Experiment => "an experiment (emprox run)",
            FolderKind::Comparison => "a comparison (emprox compare)",
            FolderKind::PredictorEvaluation => "a predictor evaluation (emprox eval-predictors)",
        }
    }
}

fn experiment_kind() -> FolderKind {
    FolderKind::Experiment
}

/// The manifest, written first into every output folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What the folder holds (folders of emprox 0.1 have no `kind`: experiments).
    #[serde(default = "experiment_kind")]
    pub kind: FolderKind,
    /// SHA-256 of the configuration the folder was made from.
    pub config_sha256: String,
    /// The emprox version that started it.
    pub emprox_version: String,
    /// A comparison: its experiment folders, relative (`<benchmark>/<label>`). `--overwrite`
    /// deletes these and no other folder inside it (an older comparison lists none: its
    /// experiments are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiments: Option<Vec<String>>,
    /// An experiment: the data files it reads (its table, its description), with their
    /// SHA-256, so that a resume refuses a changed table (older folders have none and are not
    /// checked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputDigest>,
    /// An experiment: its search signal, the metric the journals' `val_acc` and `test_acc` keys
    /// hold (kept under those names for compatibility, whatever the metric is), its goal and
    /// display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<emprox_benchmarks::Signal>,
}

/// A data file an experiment reads, and its SHA-256 when the experiment started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    /// What the file is to the experiment: `table` or `description`.
    pub what: String,
    /// Its path.
    pub path: PathBuf,
    /// SHA-256 (hex) of its bytes.
    pub sha256: String,
}

impl InputDigest {
    /// Reads and digests `path`.
    pub fn of(what: &str, path: &Path) -> Result<InputDigest, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
        Ok(InputDigest {
            what: what.to_string(),
            path: path.to_path_buf(),
            sha256: emprox_benchmarks::digest::sha256_hex(&bytes),
        })
    }
}

impl Manifest {
    /// A manifest of this emprox version.
    pub fn new(kind: FolderKind, config_text: &str) -> Manifest {
        Manifest {
            kind,
            config_sha256: emprox_benchmarks::digest::sha256_hex(config_text.as_bytes()),
            emprox_version: env!("CARGO_PKG_VERSION").to_string(),
            experiments: None,
            inputs: Vec::new(),
            objective: None,
        }
    }

    /// Checks that this emprox version started the folder in `dir`: another version may not
    /// reproduce its journals. With `allow`, a different version is only warned about.
    pub fn check_version(&self, dir: &Path, allow: bool) -> Result<(), FolderError> {
        let this = env!("CARGO_PKG_VERSION");
        if self.emprox_version == this {
            return Ok(());
        }
        let what = format!(
            "{} was started by emprox {}, this is emprox {this}",
            dir.display(),
            self.emprox_version
        );
        if allow {
            tracing::warn!("{what}: continuing (--allow-version-change)");
            return Ok(());
        }
        Err(FolderError(format!(
            "{what}: another version may not reproduce its journal; \
             pass --allow-version-change to continue anyway, or start a new run"
        )))
    }

    /// Reads the manifest of `dir`.
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let p = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Writes the manifest into `dir` (atomically).
    pub fn write(&self, dir: &Path) -> Result<(), crate::journal::WriteError> {
        write_file(
            &dir.join(MANIFEST),
            &serde_json::to_vec_pretty(self).expect("manifests serialise"),
        )
    }
}

/// Writes a result file through a temporary file and a rename (never half-written).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), crate::journal::WriteError> {
    emprox_benchmarks::fsutil::write_atomic(path, bytes).map_err(|source| {
        crate::journal::WriteError {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// An error preparing or locking an output folder, as one readable line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FolderError(pub String);

/// The exclusive lock on an output folder, held until dropped (or the process dies).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

impl FolderLock {
    /// Takes the lock on `dir` (which must exist), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<FolderLock, FolderError> {
        let path = dir.join(LOCK);
        refuse_link(&path)?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // A link put there after the check above is not followed either.
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let mut file = options
            .open(&path)
            .map_err(|e| FolderError(format!("cannot open lock file {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the message another process prints.
                let pid = std::process::id().to_string();
                let _ = file
                    .set_len(0)
                    .and_then(|_| file.rewind())
                    .and_then(|_| file.write_all(pid.as_bytes()));
                Ok(FolderLock { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another emprox process".to_string()
                } else {
                    format!("another emprox process (pid {holder})")
                };
                Err(FolderError(format!(
                    "{} is in use by {who}: wait for it to finish or stop it, then try again",
                    dir.display()
                )))
            }
            Err(TryLockError::Error(e)) => {
                Err(FolderError(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }
}

/// Refuses `path` if it is a symbolic link: emprox never writes or deletes through a link in a
/// folder it owns (the link could lead out of it).
pub fn refuse_link(path: &Path) -> Result<(), FolderError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FolderError(format!(
            "{} is a symbolic link: emprox does not write or delete through links in its \
             folders; remove the link (or choose another --out)",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Locks an existing output folder for resuming: it must hold a manifest of `kind`, and no
/// link where emprox writes.
pub fn lock_existing(dir: &Path, kind: FolderKind) -> Result<(FolderLock, Manifest), FolderError> {
    if !dir.is_dir() {
        return Err(FolderError(format!("{} is not a folder", dir.display())));
    }
    refuse_link(&dir.join(MANIFEST))?;
    let manifest = Manifest::read(dir).map_err(|e| {
        FolderError(format!(
            "{e}: not an emprox output folder, or it was killed before it started \
             (start it again with --overwrite)"
        ))
    })?;
    if manifest.kind != kind {
        return Err(FolderError(format!(
            "{} holds {}, not {}",
            dir.display(),
            manifest.kind.describe(),
            kind.describe()
        )));
    }
    let lock = FolderLock::acquire(dir)?;
    let listed = manifest.experiments.clone().unwrap_or_default();
    sweep(dir, kind, &listed, false)?;
    Ok((lock, manifest))
}

/// Whether the folder `d` holds anything besides a lock (a missing folder holds nothing).
pub fn holds_files(d: &Path) -> Result<bool, FolderError> {
    if !d.exists() {
        return Ok(false);
    }
    let mut it = std::fs::read_dir(d)
        .map_err(|e| FolderError(format!("cannot read output folder {}: {e}", d.display())))?;
    Ok(it.any(|e| e.map_or(true, |e| e.file_name() != LOCK)))
}

/// Prepares `dir` for a new output of `kind` and locks it.
///
/// A missing or empty folder is created. A folder that holds files is refused unless
/// `overwrite`; with it, only an emprox folder of the same kind is accepted, and only the files
/// emprox wrote there are deleted (the manifest is kept until the caller writes its new one):
/// in a comparison, only the experiment folders its manifest lists; in a predictor evaluation,
/// its search folder. Each of these is locked first and accepted only where a new run could
/// replace it (`emprox run --overwrite`'s rule: an experiment folder, or nothing); one that
/// keeps a file of the user's keeps its manifest too, for that run to replace. A link where
/// emprox writes or deletes is refused before anything is deleted.
pub fn prepare(dir: &Path, kind: FolderKind, overwrite: bool) -> Result<FolderLock, FolderError> {
    // The manifest of a folder to clear, `None` for a missing or empty one.
    let check = |d: &Path,
                 kind: FolderKind,
                 overwrite: bool|
     -> Result<Option<Manifest>, FolderError> {
        if !d.exists() {
            return Ok(None);
        }
        if !d.is_dir() {
            return Err(FolderError(format!(
                "output folder {} is a file, not a folder",
                d.display()
            )));
        }
        if !holds_files(d)? {
            return Ok(None);
        }
        if !overwrite {
            let resume = match kind {
                FolderKind::Experiment => {
                    format!(", or continue it with `emprox resume {}`", d.display())
                }
                FolderKind::Comparison => format!(
                    ", or continue it with `emprox compare FILE --resume --out {}`",
                    d.display()
                ),
                FolderKind::PredictorEvaluation => String::new(),
            };
            return Err(FolderError(format!(
                "output folder {} already holds files: choose another --out or pass --overwrite{resume}",
                d.display()
            )));
        }
        refuse_link(&d.join(MANIFEST))?;
        let m = Manifest::read(d).map_err(|_| {
            FolderError(format!(
                "{} is not an emprox output folder (it has no {MANIFEST}): --overwrite deletes \
                 only what emprox wrote, so it refuses this folder; choose another --out",
                d.display()
            ))
        })?;
        if m.kind != kind {
            return Err(FolderError(format!(
                "{} holds {}; --overwrite replaces only {}: choose another --out",
                d.display(),
                m.kind.describe(),
                kind.describe()
            )));
        }
        Ok(Some(m))
    };
    // Checked before anything is created, and again under the lock.
    check(dir, kind, overwrite)?;
    std::fs::create_dir_all(dir).map_err(|e| {
        FolderError(format!(
            "cannot create output folder {}: {e}",
            dir.display()
        ))
    })?;
    let lock = FolderLock::acquire(dir)?;
    if let Some(m) = check(dir, kind, overwrite)? {
        let listed = m.experiments.unwrap_or_default();
        // Links first, then the experiment folders inside, then their locks: nothing is deleted
        // unless all is well.
        sweep(dir, kind, &listed, false)?;
        let inside: Vec<PathBuf> = match kind {
            FolderKind::PredictorEvaluation => vec![dir.join(crate::commands::pools::SEARCH_DIR)],
            _ => listed.iter().map(|e| dir.join(e)).collect(),
        };
        // A search or an experiment runs again in each with `--overwrite`: what that would
        // refuse after this deletes, this refuses now.
        for p in &inside {
            check(p, FolderKind::Experiment, true)?;
        }
        let _experiments = inside
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
            .map(|p| FolderLock::acquire(&p))
            .collect::<Result<Vec<_>, _>>()?;
        let kept = sweep(dir, kind, &listed, true)?;
        if kept > 0 {
            tracing::warn!(
                folder = %dir.display(),
                kept,
                "--overwrite kept files that emprox did not write"
            );
        }
    }
    Ok(lock)
}

/// Walks the folder `dir` of `kind` (a comparison listing the experiment folders `listed`):
/// refuses a link where emprox writes or deletes and, with `delete`, deletes what emprox wrote
/// (keeping the lock and the manifest at the top); returns how many entries emprox did not write
/// were kept.
fn sweep(
    dir: &Path,
    kind: FolderKind,
    listed: &[String],
    delete: bool,
) -> Result<usize, FolderError> {
    let mut walk = Walk { listed, delete };
    walk.clean(dir, Layout::Top(kind), true)
        .map_err(|e| match e {
            WalkError::Link(e) => e,
            WalkError::Io(e) => {
                FolderError(format!("cannot clear output folder {}: {e}", dir.display()))
            }
        })
}

/// The layout of a folder, for telling emprox's files from others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The top of an output folder of this kind.
    Top(FolderKind),
    /// `seed-<i>/` of an experiment.
    Run,
    /// `seed-<i>/slurm/`: the Slurm evaluator's job files.
    Slurm,
    /// `seed-<i>/checkpoints/`: the training evaluator's checkpoints (multi-fidelity).
    Checkpoints,
    /// `seed-<i>/weights/`: the training evaluator's kept weights (`--keep-weights`).
    Weights,
    /// `seed-<i>/checkpoints/<key>/`: the folder emprox makes for a command's checkpoints of
    /// one cell (`{checkpoint_dir}`): everything in it is the trial's.
    CommandCheckpoint,
    /// `<dataset>/` of a comparison: the experiment folders its manifest lists.
    ComparisonDataset,
    /// An experiment folder of a comparison (its lock is deleted with it).
    ComparisonExperiment,
    /// `models/` of a predictor evaluation.
    Models,
    /// `models/<label>-n<n>/`.
    Model,
}

fn strip_tmp(name: &str) -> &str {
    name.strip_suffix(".tmp").unwrap_or(name)
}

/// Whether `name` (a file) is one emprox writes in a folder of this layout.
fn owns_file(layout: Layout, name: &str) -> bool {
    let n = strip_tmp(name);
    match layout {
        Layout::Top(FolderKind::Experiment) | Layout::ComparisonExperiment => {
            [MANIFEST, CONFIG, SUMMARY, INCUMBENT_SVG, REPORT].contains(&n)
                // Temporary files of emprox 0.1 (`summary.tmp`).
                || ["run.tmp", "config.resolved.tmp", "summary.tmp", "incumbent.tmp"].contains(&name)
        }
        Layout::Run => {
            RUN_FILES.contains(&n)
                || [
                    "trajectory.tmp",
                    "summary.tmp",
                    "incumbent.tmp",
                    "pareto.tmp",
                ]
                .contains(&name)
        }
        Layout::Top(FolderKind::Comparison) => {
            [
                MANIFEST,
                "comparison.md",
                "comparison.json",
                "comparison.toml",
                REPORT,
            ]
            .contains(&n)
                || ((n.starts_with("incumbent_") || n.starts_with("hypervolume_"))
                    && n.ends_with(".svg"))
        }
        Layout::Top(FolderKind::PredictorEvaluation) => [
            MANIFEST,
            "config.toml",
            "results.csv",
            "predictions.csv",
            "splits.json",
            SUMMARY,
            "summary.md",
            "tau_vs_n.svg",
            "tau_vs_fit_time.svg",
        ]
        .contains(&n),
        Layout::Model => ["weights.safetensors", "model.json"].contains(&n),
        Layout::Slurm => is_slurm_file(name),
        Layout::Checkpoints => emprox_train::evaluator::is_checkpoint_file(name),
        Layout::Weights => emprox_train::evaluator::kept_weights_query(name).is_some(),
        Layout::CommandCheckpoint => true,
        Layout::ComparisonDataset | Layout::Models => false,
    }
}

/// The layout of subfolder `name` of the folder `dir` of `layout`, if emprox writes such a
/// folder (in a comparison: one its manifest lists, `listed`).
fn owns_dir(layout: Layout, dir: &Path, name: &str, listed: &[String]) -> Option<Layout> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match layout {
        Layout::Top(FolderKind::Experiment) | Layout::ComparisonExperiment => name
            .strip_prefix("seed-")
            .filter(|s| digits(s))
            .map(|_| Layout::Run),
        Layout::Top(FolderKind::Comparison) => listed
            .iter()
            .any(|e| e.split_once('/').is_some_and(|(d, _)| d == name))
            .then_some(Layout::ComparisonDataset),
        Layout::ComparisonDataset => {
            let dataset = dir.file_name()?.to_str()?;
            listed
                .iter()
                .any(|e| e.split_once('/') == Some((dataset, name)))
                .then_some(Layout::ComparisonExperiment)
        }
        Layout::Top(FolderKind::PredictorEvaluation) => match name {
            "models" => Some(Layout::Models),
            // The pool protocol's search and its NASLib evaluation beside.
            crate::commands::pools::SEARCH_DIR => Some(Layout::ComparisonExperiment),
            crate::commands::pools::UNIFORM_DIR => {
                Some(Layout::Top(FolderKind::PredictorEvaluation))
            }
            _ => None,
        },
        Layout::Models => name
            .rsplit_once("-n")
            .filter(|(_, n)| digits(n))
            .map(|_| Layout::Model),
        Layout::Run if name == emprox_train::evaluator::CHECKPOINT_DIR => Some(Layout::Checkpoints),
        Layout::Run if name == emprox_train::evaluator::WEIGHTS_DIR => Some(Layout::Weights),
        Layout::Run => (name == emprox_benchmarks::slurm::DIR).then_some(Layout::Slurm),
        Layout::Checkpoints => (name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Layout::CommandCheckpoint),
        Layout::Model | Layout::Slurm | Layout::CommandCheckpoint | Layout::Weights => None,
    }
}

/// Whether `name` is a file the Slurm evaluator writes (or has Slurm write) in `slurm/`: the
/// ledger, `q<query>.sh`, `q<query>.spec.json` (and their `.tmp`), `q<query>-<job id>.out` and
/// `.err`.
fn is_slurm_file(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name == emprox_benchmarks::slurm::ledger::FILE {
        return true;
    }
    let Some(rest) = name.strip_prefix('q') else {
        return false;
    };
    let rest = rest.strip_suffix(".tmp").unwrap_or(rest);
    if let Some(q) = rest
        .strip_suffix(".sh")
        .or_else(|| rest.strip_suffix(".spec.json"))
    {
        return digits(q);
    }
    match rest
        .strip_suffix(".out")
        .or_else(|| rest.strip_suffix(".err"))
        .and_then(|r| r.split_once('-'))
    {
        Some((q, id)) => digits(q) && digits(id),
        None => false,
    }
}

/// Why a walk stopped.
enum WalkError {
    /// A link where emprox writes or deletes.
    Link(FolderError),
    /// Reading or deleting failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for WalkError {
    fn from(e: std::io::Error) -> Self {
        WalkError::Io(e)
    }
}

/// A walk over an output folder by its layout.
struct Walk<'a> {
    /// A comparison's experiment folders (`<dataset>/<label>`).
    listed: &'a [String],
    /// Delete what emprox wrote (else only check for links).
    delete: bool,
}

impl Walk<'_> {
    /// Walks `dir` of `layout` recursively: refuses a link with a name emprox writes and, with
    /// `delete`, deletes the files emprox owns, then every folder of ours left empty; returns
    /// how many entries that emprox did not write were kept. At the top the lock and (with
    /// `keep_manifest`) the manifest stay.
    fn clean(
        &mut self,
        dir: &Path,
        layout: Layout,
        keep_manifest: bool,
    ) -> Result<usize, WalkError> {
        let mut kept = 0;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                kept += 1;
                continue;
            };
            let path = entry.path();
            let ty = entry.file_type()?;
            let sub = owns_dir(layout, dir, name, self.listed);
            if ty.is_symlink() {
                if sub.is_some() || name == LOCK || owns_file(layout, name) {
                    return Err(WalkError::Link(refuse_link(&path).unwrap_err()));
                }
                kept += 1;
            } else if ty.is_dir() {
                match sub {
                    Some(sub) => {
                        // An experiment folder inside keeps its manifest while a file of the
                        // user's stays in it: it is still an emprox folder, for a new run
                        // (`--overwrite`) to replace.
                        let experiment = sub == Layout::ComparisonExperiment;
                        let theirs = self.clean(&path, sub, experiment)?;
                        kept += theirs;
                        if self.delete {
                            if experiment && theirs == 0 {
                                // Locked by the caller, and going with its folder.
                                let _ = std::fs::remove_file(path.join(LOCK));
                                let _ = std::fs::remove_file(path.join(MANIFEST));
                            }
                            // Fails (and keeps it) when something we do not own is left inside.
                            if std::fs::remove_dir(&path).is_err() {
                                kept += 1;
                            }
                        }
                    }
                    None => kept += 1,
                }
            } else if name == LOCK || (keep_manifest && name == MANIFEST) {
                // The lock is held by this process; the manifest is replaced by the caller.
            } else if ty.is_file()
                && owns_file(layout, name)
                // A report.html of the user's under our name stays.
                && (name != REPORT || crate::report::written_by_emprox(&path))
            {
                if self.delete {
                    std::fs::remove_file(&path)?;
                }
            } else {
                kept += 1;
            }
        }
        Ok(kept)
    }
}

/// Checks that `name` can be used as one folder name under `runs/`.
pub fn check_folder_name(what: &str, name: &str) -> Result<(), String> {
    match emprox_benchmarks::fsutil::plain_name_problem(name) {
        Some(why) => Err(format!(
            "{what} {:?} {why} (it names the output folder runs/<name>)",
            name.chars().take(120).collect::<String>()
        )),
        None => Ok(()),
    }
}

/// Reads a run folder's journal for replay, discarding (with a warning) a half-written last
/// line, and truncates the journal and timings to their complete lines.
pub fn prepare_run_dir(dir: &Path) -> Result<Vec<Trial>, FolderError> {
    let trials = dir.join(TRIALS);
    if !trials.exists() {
        return Ok(Vec::new());
    }
    let contents = journal::read::<Trial>(&trials).map_err(|e| FolderError(e.to_string()))?;
    if let Some(tail) = &contents.discarded_tail {
        tracing::warn!(
            file = %trials.display(),
            bytes = tail.len(),
            "discarding a half-written last line of the journal"
        );
    }
    truncate(&trials, contents.valid_len)?;
    let timings = dir.join(TIMINGS);
    if timings.exists() {
        let bytes = std::fs::read(&timings)
            .map_err(|e| FolderError(format!("cannot read {}: {e}", timings.display())))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        truncate(&timings, keep as u64)?;
    }
    let pools = dir.join(POOLS);
    if pools.exists() {
        // Keep, byte for byte, the pools scored before the first query that will be made anew;
        // replay rewrites none, the continued run appends the rest.
        let n = contents.records.len() as u64;
        truncate(&pools, pools_prefix_len(&pools, n)?)?;
    }
    for (i, t) in contents.records.iter().enumerate() {
        if t.query != i as u64 + 1 {
            return Err(FolderError(format!(
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
fn pools_prefix_len(pools: &Path, n: u64) -> Result<u64, FolderError> {
    #[derive(serde::Deserialize)]
    struct Head {
        after_query: u64,
    }
    let bytes = std::fs::read(pools)
        .map_err(|e| FolderError(format!("cannot read {}: {e}", pools.display())))?;
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

fn truncate(path: &Path, len: u64) -> Result<(), FolderError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .map_err(|e| FolderError(format!("cannot truncate {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    fn experiment_folder(d: &Path) {
        std::fs::create_dir_all(d).unwrap();
        Manifest::new(FolderKind::Experiment, "cfg")
            .write(d)
            .unwrap();
        for f in [CONFIG, SUMMARY, INCUMBENT_SVG] {
            touch(&d.join(f));
        }
        for f in RUN_FILES {
            touch(&run_dir(d, 0).join(f));
        }
    }

    #[test]
    fn refuses_a_folder_that_is_not_emprox_output() {
        let t = tempfile::tempdir().unwrap();
        let thesis = t.path().join("thesis");
        touch(&thesis.join("chapter1.tex"));
        let e = prepare(&thesis, FolderKind::Experiment, true).unwrap_err();
        assert!(e.0.contains("not an emprox output folder"), "{e}");
        assert!(thesis.join("chapter1.tex").exists());
        assert!(
            !thesis.join(LOCK).exists(),
            "nothing is created in a refused folder"
        );
        let e = prepare(&thesis, FolderKind::Experiment, false).unwrap_err();
        assert!(e.0.contains("already holds files"), "{e}");
    }

    #[test]
    fn overwrite_deletes_only_what_emprox_wrote() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("exp");
        experiment_folder(&d);
        touch(&d.join("notes.md"));
        touch(&run_dir(&d, 0).join("my-plot.png"));
        touch(&d.join("seed-x").join("trials.jsonl"));
        let _lock = prepare(&d, FolderKind::Experiment, true).unwrap();
        assert!(d.join("notes.md").exists());
        assert!(run_dir(&d, 0).join("my-plot.png").exists());
        assert!(
            d.join("seed-x").join("trials.jsonl").exists(),
            "not our layout"
        );
        assert!(!run_dir(&d, 0).join(TRIALS).exists());
        assert!(!d.join(SUMMARY).exists() && !d.join(CONFIG).exists());
        assert!(d.join(MANIFEST).exists(), "replaced by the caller");
    }

    #[test]
    fn overwrite_deletes_a_report_emprox_wrote_and_keeps_another() {
        let t = tempfile::tempdir().unwrap();
        let ours = t.path().join("ours");
        experiment_folder(&ours);
        std::fs::write(ours.join(REPORT), format!("{}<html>", crate::report::HEAD)).unwrap();
        drop(prepare(&ours, FolderKind::Experiment, true).unwrap());
        assert!(!ours.join(REPORT).exists());
        let theirs = t.path().join("theirs");
        experiment_folder(&theirs);
        std::fs::write(theirs.join(REPORT), "<!DOCTYPE html>\n<p>mine").unwrap();
        drop(prepare(&theirs, FolderKind::Experiment, true).unwrap());
        assert!(theirs.join(REPORT).exists());
    }

    #[test]
    fn overwrite_deletes_the_slurm_job_files_and_keeps_the_users() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("exp");
        experiment_folder(&d);
        let slurm = run_dir(&d, 0).join("slurm");
        let ours = [
            "jobs.jsonl",
            "q000001.sh",
            "q000001.sh.tmp",
            "q000001.spec.json",
            "q000001-4711.out",
            "q000001-4711.err",
        ];
        for f in ours {
            touch(&slurm.join(f));
        }
        touch(&slurm.join("checkpoint.pt"));
        touch(&slurm.join("q1-x.out"));
        let _lock = prepare(&d, FolderKind::Experiment, true).unwrap();
        for f in ours {
            assert!(!slurm.join(f).exists(), "{f}");
        }
        assert!(slurm.join("checkpoint.pt").exists() && slurm.join("q1-x.out").exists());
    }

    #[test]
    fn overwrite_deletes_the_kept_weights_and_keeps_the_users() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("exp");
        experiment_folder(&d);
        let weights = run_dir(&d, 0).join("weights");
        let ours = [
            "q1.safetensors",
            "q1.logits.safetensors",
            "q12.safetensors.tmp",
        ];
        for f in ours {
            touch(&weights.join(f));
        }
        for f in ["best.safetensors", "q1.pt", "qx.safetensors"] {
            touch(&weights.join(f));
        }
        drop(prepare(&d, FolderKind::Experiment, true).unwrap());
        for f in ours {
            assert!(!weights.join(f).exists(), "{f}");
        }
        for f in ["best.safetensors", "q1.pt", "qx.safetensors"] {
            assert!(weights.join(f).exists(), "{f}");
        }
    }

    #[test]
    fn overwrite_removes_a_whole_emprox_folder_and_refuses_another_kind() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("exp");
        experiment_folder(&d);
        drop(prepare(&d, FolderKind::Experiment, true).unwrap());
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        let e = prepare(&d, FolderKind::PredictorEvaluation, true).unwrap_err();
        assert!(e.0.contains("holds an experiment"), "{e}");
    }

    fn comparison_folder(d: &Path, listed: Option<Vec<String>>) {
        std::fs::create_dir_all(d).unwrap();
        let mut m = Manifest::new(FolderKind::Comparison, "c");
        m.experiments = listed;
        m.write(d).unwrap();
        touch(&d.join("comparison.md"));
        touch(&d.join("incumbent_cifar10.svg"));
    }

    #[test]
    fn comparison_overwrite_deletes_only_the_experiments_its_manifest_lists() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("cmp");
        comparison_folder(&d, Some(vec!["cifar10/RE".into(), "cifar10/LS".into()]));
        let re = d.join("cifar10").join("RE");
        experiment_folder(&re);
        touch(&re.join(LOCK));
        // A user's backup, a separate run and their data beside the comparison's experiments.
        let backup = d.join("cifar10").join("RE-backup");
        experiment_folder(&backup);
        experiment_folder(&d.join("other").join("RE"));
        touch(&d.join("cifar10").join("mine").join("data.csv"));
        drop(prepare(&d, FolderKind::Comparison, true).unwrap());
        assert!(!re.exists(), "listed: deleted, its lock with it");
        assert!(backup.join(CONFIG).exists() && run_dir(&backup, 0).join(TRIALS).exists());
        assert!(run_dir(&d.join("other").join("RE"), 0)
            .join(TRIALS)
            .exists());
        assert!(d.join("cifar10").join("mine").join("data.csv").exists());
        assert!(!d.join("comparison.md").exists());
        // A comparison whose manifest lists nothing (an earlier emprox): every experiment stays.
        comparison_folder(&d, None);
        experiment_folder(&re);
        drop(prepare(&d, FolderKind::Comparison, true).unwrap());
        assert!(run_dir(&re, 0).join(TRIALS).exists());
        assert!(!d.join("comparison.md").exists());
    }

    #[test]
    fn a_listed_experiment_in_use_is_not_deleted() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("cmp");
        comparison_folder(&d, Some(vec!["cifar10/RE".into()]));
        let re = d.join("cifar10").join("RE");
        experiment_folder(&re);
        let held = FolderLock::acquire(&re).unwrap();
        let e = prepare(&d, FolderKind::Comparison, true).unwrap_err();
        assert!(e.0.contains("is in use"), "{e}");
        assert!(run_dir(&re, 0).join(TRIALS).exists() && d.join("comparison.md").exists());
        drop(held);
    }

    #[cfg(unix)]
    #[test]
    fn links_where_emprox_writes_are_refused_before_anything_is_deleted() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().unwrap();
        let elsewhere = t.path().join("elsewhere");
        experiment_folder(&elsewhere);
        let d = t.path().join("exp");
        experiment_folder(&d);
        let link = run_dir(&d, 1);
        symlink(run_dir(&elsewhere, 0), &link).unwrap();
        let refused = |e: FolderError, link: &Path| {
            assert!(
                e.0.contains(&link.display().to_string()) && e.0.contains("symbolic link"),
                "{e}"
            );
        };
        refused(
            prepare(&d, FolderKind::Experiment, true).unwrap_err(),
            &link,
        );
        refused(
            lock_existing(&d, FolderKind::Experiment).unwrap_err(),
            &link,
        );
        assert!(run_dir(&d, 0).join(TRIALS).exists(), "nothing deleted");
        assert!(run_dir(&elsewhere, 0).join(TRIALS).exists());
        // A file emprox writes, linked out of the folder.
        std::fs::remove_file(&link).unwrap();
        let file = run_dir(&d, 0).join(TIMINGS);
        std::fs::remove_file(&file).unwrap();
        symlink(run_dir(&elsewhere, 0).join(TIMINGS), &file).unwrap();
        refused(
            prepare(&d, FolderKind::Experiment, true).unwrap_err(),
            &file,
        );
        std::fs::remove_file(&file).unwrap();
        // The lock file, and a comparison's listed experiment.
        let lock = d.join(LOCK);
        std::fs::remove_file(&lock).unwrap();
        symlink(elsewhere.join("x"), &lock).unwrap();
        refused(FolderLock::acquire(&d).unwrap_err(), &lock);
        assert!(!elsewhere.join("x").exists());
        std::fs::remove_file(&lock).unwrap();
        let c = t.path().join("cmp");
        comparison_folder(&c, Some(vec!["cifar10/RE".into()]));
        std::fs::create_dir_all(c.join("cifar10")).unwrap();
        symlink(&elsewhere, c.join("cifar10").join("RE")).unwrap();
        refused(
            prepare(&c, FolderKind::Comparison, true).unwrap_err(),
            &c.join("cifar10").join("RE"),
        );
        assert!(c.join("comparison.md").exists());
        // A link of the user's, under a name emprox does not write, is kept and not followed.
        symlink(&elsewhere, d.join("my-data")).unwrap();
        drop(prepare(&d, FolderKind::Experiment, true).unwrap());
        assert!(d.join("my-data").exists() && run_dir(&elsewhere, 0).join(TRIALS).exists());
        assert!(elsewhere.join(CONFIG).exists());
    }

    #[test]
    fn the_lock_is_exclusive_and_names_its_holder() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("exp");
        let lock = prepare(&d, FolderKind::Experiment, false).unwrap();
        Manifest::new(FolderKind::Experiment, "cfg")
            .write(&d)
            .unwrap();
        let e = lock_existing(&d, FolderKind::Experiment).unwrap_err();
        assert!(e.0.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(lock);
        lock_existing(&d, FolderKind::Experiment).unwrap();
    }

    #[test]
    fn folder_names_are_plain() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/abs",
            "a/b",
            "a\\b",
            "a\nb",
            &"x".repeat(101),
        ] {
            assert!(check_folder_name("name", bad).is_err(), "{bad:?}");
        }
        for good in ["nb201-re", "RE+EmProx", "résumé", "a b"] {
            check_folder_name("name", good).unwrap();
        }
    }
}
