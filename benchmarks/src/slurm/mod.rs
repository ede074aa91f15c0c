//! The Slurm evaluator (`[evaluator] type = "slurm"`): each candidate is one batch job.
//!
//! For query `q` of a run, emprox writes into the run folder's `slurm/`:
//! - `q<q>.spec.json`: the trial's spec (as the command evaluator's `{spec}`),
//! - `q<q>.sh`: the job script, exactly as submitted (`#SBATCH` options from the config, the
//!   command with its placeholders filled in, between a start and an exit marker),
//! - `jobs.jsonl`: the ledger ([`ledger`]): the job's unique name, appended before `sbatch`
//!   runs, its id, appended as soon as `sbatch --parsable` returns it, and the jobs emprox
//!   cancelled;
//!
//! and Slurm writes `q<q>-<job id>.out` and `.err`. emprox then waits: it looks at the output
//! file every 50 ms and asks the scheduler (`scontrol show job`, `sacct` once the controller has
//! forgotten the job) at growing intervals up to `poll_seconds`. The result is the last JSON line
//! of the output, read as the command evaluator reads it. A job that exits non-zero, is
//! cancelled, runs past its time limit, runs out of memory or is lost with its node is a failed
//! trial whose reason is the scheduler's (journaled, so it holds no job id or time).
//!
//! Queue time is not evaluation time: `cost_seconds` is the job's run time (or the command's own
//! `cost_seconds`), and the `slurm_job` record of `timings.jsonl` ([`ledger::JobTiming`]) holds
//! the job id, the final state, the queue wait and the run time.
//!
//! **Interrupts and resume.** [`cancel_all`] (called on Ctrl-C or SIGTERM) cancels every job of
//! this process that is queued or running, and notes each in its ledger. On resume, a query
//! whose job is in the ledger is not submitted again: a job still queued or running is waited
//! for, a finished one is read back from its output file; only a job emprox cancelled (and
//! that had not finished) is submitted anew. A submission whose id was never written (emprox
//! was killed while `sbatch` ran) is looked up by its name (`squeue --name`), then by its output
//! file; only if neither exists is it submitted again.

pub mod config;
pub mod ledger;
pub mod scheduler;
pub mod script;

pub use config::{SlurmConfig, SlurmConfigError};

use crate::command::{
    cut_short, interrupted, parse_result, result_signal, substitute, tail, trial_spec, trial_values,
};
use crate::evaluator::{EvalFailure, Evaluator, Goal, Outcome, Signal, TrialContext};
use crate::space::SearchSpace;
use ledger::{Entry, JobTiming, Ledger};
use scheduler::JobStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The folder of a run that holds its job scripts, outputs and ledger.
pub const DIR: &str = "slurm";

/// How often the output file is looked at.
const FILE_POLL: Duration = Duration::from_millis(50);
/// The first pause between two questions to the scheduler.
const FIRST_POLL: Duration = Duration::from_millis(100);
/// How long a job that the scheduler says ended may take to show its exit marker (shared file
/// systems lag behind).
const OUTPUT_GRACE: Duration = Duration::from_secs(10);

/// Evaluates cells of a space `S` as Slurm batch jobs (see the module docs).
#[derive(Debug, Clone)]
pub struct SlurmEvaluator<S> {
    config: SlurmConfig,
    space: S,
    /// `{emprox}`: the running binary.
    emprox: String,
    /// The jobs' working directory.
    workdir: PathBuf,
    /// What the result line's objective is (key, goal, test key).
    signal: Signal,
}

/// The fidelity of a trial and the folder of its checkpoint folders.
struct Fidelity {
    fidelity: Option<f64>,
    checkpoints: PathBuf,
}

/// A submitted job.
struct Job {
    id: String,
    submitted_at: f64,
    resumed: bool,
}

/// How a job ended.
struct End {
    result: Result<Outcome, EvalFailure>,
    state: String,
    queue_seconds: Option<f64>,
    run_seconds: Option<f64>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl<S: SearchSpace> SlurmEvaluator<S> {
    /// Validates `config` and checks the cluster (the Slurm commands, the partition) before
    /// anything is submitted.
    pub fn new(config: SlurmConfig, space: S) -> Result<Self, SlurmConfigError> {
        config.validate()?;
        config.check_cluster()?;
        let emprox = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "emprox".into());
        let workdir = match &config.working_dir {
            Some(d) => std::path::absolute(d),
            None => std::env::current_dir(),
        }
        .map_err(|e| SlurmConfigError(format!("cannot find the working directory: {e}")))?;
        let signal = result_signal(config.objective.as_ref(), &Signal::accuracy());
        Ok(Self {
            config,
            space,
            emprox,
            workdir,
            signal,
        })
    }

    /// Reads the benchmark's objective `default` where the config names none (a table's
    /// objective column and goal).
    pub fn for_benchmark(mut self, default: &Signal) -> Self {
        self.signal = result_signal(self.config.objective.as_ref(), default);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &SlurmConfig {
        &self.config
    }

    /// Evaluates query `trial.query` of the run in `trial.dir` with trial seed `seed`: submits
    /// its job (or finds the one an interrupted emprox submitted) and waits for it.
    pub fn run(
        &self,
        trial: &TrialContext,
        cell: &S::Cell,
        seed: u64,
    ) -> Result<Outcome, EvalFailure> {
        let start = Instant::now();
        let fail = |reason: String| EvalFailure {
            reason,
            cost_seconds: 0.0,
        };
        if interrupted() {
            return Err(cut_short(start));
        }
        let run_dir = std::path::absolute(&trial.dir).unwrap_or_else(|_| trial.dir.clone());
        let dir = run_dir.join(DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        let stem = format!("q{:06}", trial.query);
        let arch = self.space.format(cell);
        let ledger = Ledger::new(&dir);
        if !in_flight::begin() {
            return Err(cut_short(start));
        }
        // With `fidelities`: `{fidelity}` and a `{checkpoint_dir}` under the run folder.
        let at = Fidelity {
            fidelity: trial.fidelity,
            checkpoints: run_dir.join(crate::evaluator::CHECKPOINT_DIR),
        };
        let submit = || self.submit(&dir, &stem, trial.query, cell, &arch, seed, &at, &ledger);
        let job = match ledger.find(trial.query, &arch, seed) {
            None => submit(),
            Some(f) => match f.job_id {
                // Submitted by an interrupted emprox: wait for it, or read it back.
                Some(id) if !f.cancelled || has_exited(&output(&dir, &stem, &id)) => Ok(Job {
                    id,
                    submitted_at: f.submitted_at,
                    resumed: true,
                }),
                // Cancelled by emprox before it ended.
                Some(_) => submit(),
                // emprox stopped while sbatch ran: the job may exist under its name.
                None => match self.lookup(&dir, &stem, &f, &ledger, trial.query, &arch, seed) {
                    Ok(Some(job)) => Ok(job),
                    Ok(None) => submit(),
                    Err(e) => Err(e),
                },
            },
        };
        let job = match job {
            Ok(j) => j,
            Err(reason) => {
                in_flight::end(None);
                return Err(fail(reason));
            }
        };
        if !in_flight::end(Some((&job.id, &ledger, trial.query))) {
            return Err(cut_short(start));
        }
        let Some(end) = self.wait(&dir, &stem, &job) else {
            return Err(cut_short(start));
        };
        in_flight::finished(&job.id);
        let timing = JobTiming {
            query: trial.query,
            job_id: job.id.clone(),
            state: end.state,
            queue_seconds: end.queue_seconds,
            run_seconds: end.run_seconds,
            resumed: job.resumed,
        };
        // Timings are wall-clock notes: a failure to write one does not fail the trial.
        let _ = append_timing(&run_dir, &timing);
        end.result
    }

    /// The job of a submission whose id was never written (emprox stopped while `sbatch` ran):
    /// the controller's job of that name, or else the one output file of the query that no
    /// ledger entry names. The id is then written to the ledger.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &self,
        dir: &Path,
        stem: &str,
        found: &ledger::Found,
        ledger: &Ledger,
        query: u64,
        arch: &str,
        seed: u64,
    ) -> Result<Option<Job>, String> {
        let id = match scheduler::find_by_name(&found.job_name)? {
            Some(id) => Some(id),
            None => {
                let known = ledger.job_ids();
                let prefix = format!("{stem}-");
                let unknown: Vec<String> = std::fs::read_dir(dir)
                    .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter_map(|n| {
                        Some(n.strip_prefix(&prefix)?.strip_suffix(".out")?.to_string())
                    })
                    .filter(|id| !known.contains(id))
                    .collect();
                (unknown.len() == 1).then(|| unknown[0].clone())
            }
        };
        let Some(id) = id else { return Ok(None) };
        let entry = submitted(query, arch, seed, &id, &found.job_name, found.submitted_at);
        ledger
            .append(&entry)
            .map_err(|e| format!("cannot write {}: {e}", ledger.path().display()))?;
        Ok(Some(Job {
            id,
            submitted_at: found.submitted_at,
            resumed: true,
        }))
    }

    /// Writes the spec and the job script of query `query` (at `at`'s fidelity) and submits it
    /// under a unique name; the ledger gets the name before `sbatch` runs and the job id before
    /// this returns.
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        dir: &Path,
        stem: &str,
        query: u64,
        cell: &S::Cell,
        arch: &str,
        seed: u64,
        at: &Fidelity,
        ledger: &Ledger,
    ) -> Result<Job, String> {
        let spec_path = dir.join(format!("{stem}.spec.json"));
        let spec = serde_json::to_vec_pretty(&trial_spec(&self.space, cell, seed))
            .expect("specs serialise");
        crate::fsutil::write_atomic(&spec_path, &spec)
            .map_err(|e| format!("cannot write {}: {e}", spec_path.display()))?;
        let mut values = trial_values(
            &self.space,
            cell,
            &self.config.command,
            &spec_path.display().to_string(),
            seed,
        )?;
        values.extend(crate::command::fidelity_values(
            &self.space,
            cell,
            seed,
            &self.config.fidelities,
            at.fidelity,
            Some(&at.checkpoints),
        )?);
        values.push((config::EMPROX_PLACEHOLDER, self.emprox.clone()));
        let args = substitute(&self.config.command, &values);
        let submitted_at = unix_now();
        let token = crate::digest::sha256_hex(
            format!(
                "{}|{query}|{seed}|{submitted_at}|{}",
                dir.display(),
                std::process::id()
            )
            .as_bytes(),
        );
        let name = format!("emprox-{stem}-{}", &token[..10]);
        let text = script::job_script(
            &self.config,
            &name,
            &dir.join(format!("{stem}-%j.out")),
            &dir.join(format!("{stem}-%j.err")),
            &self.workdir,
            &args,
        );
        let script_path = dir.join(format!("{stem}.sh"));
        crate::fsutil::write_atomic(&script_path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", script_path.display()))?;
        ledger
            .append(&Entry::Submitting {
                query,
                arch: arch.to_string(),
                seed,
                job_name: name.clone(),
                submitted_at,
            })
            .map_err(|e| format!("cannot write {}: {e}", ledger.path().display()))?;
        let id = scheduler::submit(&script_path)?;
        ledger
            .append(&submitted(query, arch, seed, &id, &name, submitted_at))
            .map_err(|e| {
                // Without its ledger line a resume could not find the job: do not leave it.
                let _ = scheduler::cancel(std::slice::from_ref(&id));
                format!(
                    "cannot write {}: {e} (job {id} cancelled)",
                    ledger.path().display()
                )
            })?;
        Ok(Job {
            id,
            submitted_at,
            resumed: false,
        })
    }

    /// Waits until the job has a result: its exit marker in the output file, or a final state
    /// from the scheduler (`None`: emprox is stopping, see [`cancel_all`]).
    fn wait(&self, dir: &Path, stem: &str, job: &Job) -> Option<End> {
        let out_path = output(dir, stem, &job.id);
        let max_poll = Duration::from_secs_f64(self.config.poll_seconds);
        let mut interval = FIRST_POLL.min(max_poll);
        let mut next_poll = Instant::now() + interval;
        let mut seen_len = None;
        let mut ended: Option<(JobStatus, Instant)> = None;
        loop {
            if interrupted() {
                return None;
            }
            let len = std::fs::metadata(&out_path).ok().map(|m| m.len());
            // A growing log is read whole only once its exit marker is at its end.
            if len.is_some() && len != seen_len && ends_with_exit(&out_path) {
                seen_len = len;
                let text = std::fs::read_to_string(&out_path).unwrap_or_default();
                let m = script::markers(&text);
                if let Some((code, at)) = m.exited {
                    return Some(self.command_end(dir, stem, job, &text, m.started, code, at));
                }
            }
            let now = Instant::now();
            match &ended {
                Some((status, at)) => {
                    let may_lag = match status {
                        JobStatus::Ended { state, .. } => state == "COMPLETED" || state == "FAILED",
                        _ => true,
                    };
                    if !may_lag || at.elapsed() >= OUTPUT_GRACE {
                        return Some(self.scheduler_end(stem, job, status, &out_path));
                    }
                }
                None if now >= next_poll => {
                    match scheduler::status(&job.id) {
                        Ok(JobStatus::Active { .. }) => {}
                        Ok(s) => ended = Some((s, now)),
                        // The controller is busy or restarting: ask again later.
                        Err(_) => {}
                    }
                    interval = (interval * 2).min(max_poll);
                    next_poll = now + interval;
                }
                None => {}
            }
            std::thread::sleep(FILE_POLL);
        }
    }

    /// The result of a job whose command ended (its exit marker is in the output).
    #[allow(clippy::too_many_arguments)]
    fn command_end(
        &self,
        dir: &Path,
        stem: &str,
        job: &Job,
        text: &str,
        started: Option<f64>,
        code: i32,
        ended_at: f64,
    ) -> End {
        let run_seconds = started.map(|s| (ended_at - s).max(0.0));
        let queue_seconds = started.map(|s| (s - job.submitted_at).max(0.0));
        let cost = run_seconds.unwrap_or(0.0);
        // The markers hold times: keep them out of reasons, which are journaled.
        let stdout: String = text
            .lines()
            .filter(|l| !l.starts_with(script::START) && !l.starts_with(script::EXIT))
            .collect::<Vec<_>>()
            .join("\n");
        let (state, result) = if code == 0 {
            let r = parse_result(&stdout, cost, &self.signal).map_err(|r| EvalFailure {
                reason: format!("{r}; stdout: {}", tail(&stdout, 400)),
                cost_seconds: cost,
            });
            ("COMPLETED", r)
        } else {
            let err = std::fs::read_to_string(dir.join(format!("{stem}-{}.err", job.id)))
                .unwrap_or_default();
            let reason = format!(
                "Slurm job FAILED (NonZeroExitCode): the command exited with {code}; stderr: {}",
                tail(&err, 400)
            );
            (
                "FAILED",
                Err(EvalFailure {
                    reason,
                    cost_seconds: cost,
                }),
            )
        };
        End {
            result,
            state: state.into(),
            queue_seconds,
            run_seconds,
        }
    }

    /// The failure of a job that ended without its command ending (time limit, cancelled, out
    /// of memory, node failure) or that the scheduler no longer knows.
    fn scheduler_end(&self, stem: &str, job: &Job, status: &JobStatus, out_path: &Path) -> End {
        let text = std::fs::read_to_string(out_path).unwrap_or_default();
        let started = script::markers(&text).started;
        let (state, reason, run_seconds) = match status {
            JobStatus::Ended {
                state,
                reason,
                run_seconds,
            } => (state.clone(), reason.clone(), *run_seconds),
            _ => ("UNKNOWN".to_string(), None, None),
        };
        let why = match (&reason, state.as_str()) {
            (Some(r), _) => format!("Slurm job {state} ({r})"),
            (None, "UNKNOWN") => "Slurm no longer knows the job and it left no result".to_string(),
            (None, _) => format!("Slurm job {state}"),
        };
        End {
            result: Err(EvalFailure {
                reason: format!("{why}; its output: {DIR}/{stem}-*.out and .err"),
                cost_seconds: run_seconds.unwrap_or(0.0),
            }),
            state,
            queue_seconds: started.map(|s| (s - job.submitted_at).max(0.0)),
            run_seconds,
        }
    }
}

impl<S: SearchSpace> Evaluator<S::Cell> for SlurmEvaluator<S> {
    fn evaluate(&self, _: &S::Cell, _: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        Err(EvalFailure {
            reason: "the Slurm evaluator needs a run folder for its job files".into(),
            cost_seconds: 0.0,
        })
    }

    fn evaluate_trial(
        &self,
        trial: &TrialContext,
        cell: &S::Cell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        self.run(trial, cell, seed)
    }

    fn fidelities(&self) -> Vec<f64> {
        self.config.fidelities.clone()
    }

    fn goal(&self) -> Goal {
        self.signal.goal
    }
}

/// The ledger entry of a submitted job.
fn submitted(query: u64, arch: &str, seed: u64, id: &str, name: &str, at: f64) -> Entry {
    Entry::Submitted {
        query,
        arch: arch.to_string(),
        seed,
        job_id: id.to_string(),
        job_name: name.to_string(),
        submitted_at: at,
    }
}

/// The output file of job `id` of query file stem `stem`.
fn output(dir: &Path, stem: &str, id: &str) -> PathBuf {
    dir.join(format!("{stem}-{id}.out"))
}

/// True if the job's command ended (its exit marker is in `out`).
fn has_exited(out: &Path) -> bool {
    std::fs::read_to_string(out).is_ok_and(|t| script::markers(&t).exited.is_some())
}

/// True if the exit marker is in the last 4 KiB of `out`.
fn ends_with_exit(out: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(out) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(len.saturating_sub(4096)))
        .and_then(|_| f.read_to_end(&mut tail))
        .is_ok_and(|_| String::from_utf8_lossy(&tail).contains(script::EXIT))
}

/// Appends a `slurm_job` record to the run's `timings.jsonl` (one `write`, as the engine's).
fn append_timing(run_dir: &Path, t: &JobTiming) -> std::io::Result<()> {
    use std::io::Write;
    #[derive(serde::Serialize)]
    struct Tagged<'a> {
        kind: &'static str,
        #[serde(flatten)]
        timing: &'a JobTiming,
    }
    let mut line = serde_json::to_vec(&Tagged {
        kind: "slurm_job",
        timing: t,
    })
    .expect("timings serialise");
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("timings.jsonl"))?
        .write_all(&line)
}

/// The jobs of this process that are queued or running, for [`cancel_all`].
mod in_flight {
    use super::*;

    pub(super) struct Flight {
        pub cancelled: bool,
        /// Workers between [`begin`] and [`end`] (submitting or adopting a job).
        pub submitting: usize,
        /// Job id → its ledger and query.
        pub jobs: BTreeMap<String, (Ledger, u64)>,
    }

    pub(super) static FLIGHT: Mutex<Flight> = Mutex::new(Flight {
        cancelled: false,
        submitting: 0,
        jobs: BTreeMap::new(),
    });
    pub(super) static CHANGED: Condvar = Condvar::new();

    pub(super) fn lock() -> std::sync::MutexGuard<'static, Flight> {
        FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker is about to submit (or adopt) a job; false once [`cancel_all`] has run.
    pub fn begin() -> bool {
        let mut f = lock();
        if f.cancelled {
            return false;
        }
        f.submitting += 1;
        true
    }

    /// The worker's job (if it got one) is registered; false if [`cancel_all`] started
    /// meanwhile (it waits for this call and cancels the job).
    pub fn end(job: Option<(&str, &Ledger, u64)>) -> bool {
        let mut f = lock();
        if let Some((id, ledger, query)) = job {
            f.jobs.insert(id.to_string(), (ledger.clone(), query));
        }
        f.submitting -= 1;
        CHANGED.notify_all();
        !f.cancelled
    }

    /// The job ended.
    pub fn finished(id: &str) {
        lock().jobs.remove(id);
    }
}

/// Cancels every Slurm job of this process that is queued or running (Ctrl-C, SIGTERM): no job
/// is submitted any more, a submission under way is waited for (up to 30 s), each job is noted
/// as cancelled in its run's ledger (so that a resume submits its query again) and `scancel`ed.
/// Returns the ids of the jobs cancelled. Evaluations cut short this way return as
/// [`crate::command::stop_all`] or [`crate::command::interrupt_all`] (called first) has them
/// do: never, or with a failure not to record.
pub fn cancel_all() -> Result<Vec<String>, String> {
    let mut f = in_flight::lock();
    f.cancelled = true;
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.submitting > 0 && Instant::now() < deadline {
        f = in_flight::CHANGED
            .wait_timeout(f, Duration::from_millis(100))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    let jobs = std::mem::take(&mut f.jobs);
    drop(f);
    let ids: Vec<String> = jobs.keys().cloned().collect();
    for (id, (ledger, query)) in jobs {
        let _ = ledger.append(&Entry::Cancelled { query, job_id: id });
    }
    scheduler::cancel(&ids)?;
    Ok(ids)
}

/// Undoes [`cancel_all`] (a caller that goes on after an interruption): jobs are submitted
/// again.
pub fn clear_cancel() {
    in_flight::lock().cancelled = false;
}
