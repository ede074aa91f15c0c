//! `emprox._emprox`: the Rust half of the Python package. Every function calls what the
//! `emprox` command calls (`emprox_engine::commands`); the Python half (`python/emprox`) only
//! shapes arguments and results.

use emprox_benchmarks::command::TrialSpec;
use emprox_benchmarks::evaluator::{EvalFailure, Outcome, TrialContext};
use emprox_benchmarks::{Evaluator, SearchSpace};
use emprox_engine::benchmark::{Benchmark, WithBenchmark};
use emprox_engine::commands::{compare as cmp, one_line, run as cli};
use emprox_engine::config::{ConfigError, Experiment};
use emprox_engine::evaluators::{Evaluation, EvaluatorKind};
use emprox_engine::experiment::{execute, run_experiment, Execution, ExperimentError, Finished};
use emprox_engine::pipeline::search::{NoProgress, Progress, QueryEnd};
use emprox_engine::pipeline::stopping;
use emprox_engine::progress::Reporter;
use emprox_engine::resume::{resume_with, Resumed};
use emprox_engine::rundir::{self, FolderKind};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// An engine error as a Python exception with the CLI's one-line message: `ValueError` for a bad
/// configuration, `RuntimeError` otherwise.
fn py_err(e: anyhow::Error) -> PyErr {
    let msg = one_line(&e);
    if e.is::<ConfigError>() {
        PyValueError::new_err(msg)
    } else if matches!(
        e.downcast_ref::<ExperimentError>(),
        Some(ExperimentError::Run {
            source: emprox_engine::pipeline::search::RunError::Interrupted,
            ..
        })
    ) {
        PyKeyboardInterrupt::new_err(msg)
    } else {
        PyRuntimeError::new_err(msg)
    }
}

/// The progress display: the CLI's bar on stderr, or nothing.
fn reporter(quiet: bool) -> Box<dyn Progress + Send> {
    if quiet {
        Box::new(NoProgress)
    } else {
        Box::new(Reporter::new())
    }
}

/// What the `emprox` command does on Ctrl-C, for a process that goes on: every run stops
/// before its next journal line ([`stopping::interrupt`]); the external commands running are
/// stopped (their process groups: SIGTERM, then SIGKILL after 2 s) and trainings stop at their
/// next step, neither result journaled; the Slurm jobs in flight are cancelled and noted as such
/// in their ledgers (a resume submits them again).
fn stop_all_work() {
    stopping::interrupt();
    emprox_benchmarks::command::interrupt_all(Duration::from_secs(2));
    // As the command, which says so and exits: an scancel that fails leaves the jobs running.
    if let Err(e) = emprox_benchmarks::slurm::cancel_all() {
        emprox_engine::progress::say(&format!("error: scancel failed: {e}"));
    }
}

/// Runs `work` on its own thread with the GIL released, checking for Ctrl-C every 50 ms: on
/// one, the work in flight stops as on Ctrl-C in the CLI ([`stop_all_work`]: commands killed,
/// not waited for) and `KeyboardInterrupt` is raised once the work has returned (its folder
/// resumable, as after Ctrl-C in the CLI).
fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> PyResult<T> {
    // An earlier call's Ctrl-C is over: commands start and jobs are submitted again. (Cleared
    // here rather than when that call returned: a worker of its pool may still be finishing.)
    emprox_benchmarks::command::clear_interrupt();
    emprox_benchmarks::slurm::clear_cancel();
    let (tx, rx) = crossbeam::channel::bounded(1);
    let handle = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    loop {
        let got = py.allow_threads(|| rx.recv_timeout(Duration::from_millis(50)));
        match got {
            Ok(r) => {
                let _ = handle.join();
                return r.map_err(py_err);
            }
            Err(crossbeam::channel::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the engine thread panicked (a bug)",
                ));
            }
            Err(crossbeam::channel::RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = py.check_signals() {
            py.allow_threads(|| {
                stop_all_work();
                let _ = handle.join();
            });
            stopping::clear_interrupt();
            return Err(e);
        }
    }
}

/// A Python keyword's value as a command-line flag's: `True` the flag alone, `False` and
/// `None` no flag, a list the flag once per item.
#[derive(FromPyObject)]
enum FlagValue {
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

/// The arguments of `emprox <name>` parsed by the command's own parser (its defaults, checks
/// and messages) from `flags`, keyword name → value (`keep_weights="all"` is
/// `--keep-weights=all`), and the positional `arg`. Every field of the command's arguments
/// comes from there: a flag the bindings do not pass has the command's default.
fn command_args<A: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    flags: Vec<(String, Option<FlagValue>)>,
    arg: &Path,
) -> PyResult<A> {
    let mut argv: Vec<std::ffi::OsString> = vec![name.into()];
    for (key, value) in flags {
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            None | Some(FlagValue::Bool(false)) => {}
            Some(FlagValue::Bool(true)) => argv.push(flag.into()),
            Some(FlagValue::Int(v)) => argv.push(format!("{flag}={v}").into()),
            Some(FlagValue::Text(v)) => argv.push(format!("{flag}={v}").into()),
            Some(FlagValue::List(vs)) => {
                argv.extend(vs.into_iter().map(|v| format!("{flag}={v}").into()))
            }
        }
    }
    // After `--`, a path that starts with `-` is still the positional argument.
    argv.extend(["--".into(), arg.as_os_str().to_owned()]);
    let cmd = A::augment_args(clap::Command::new(name));
    let clap_err = |e: clap::Error| {
        // clap's own message, without its `error: ` and its hint to `--help`.
        let text = e.render().to_string();
        let text = text.trim();
        let text = text.strip_prefix("error: ").unwrap_or(text);
        let text = text
            .split("\n\nFor more information")
            .next()
            .unwrap_or(text);
        PyValueError::new_err(text.trim_end().to_string())
    };
    let matches = cmd.try_get_matches_from(argv).map_err(clap_err)?;
    A::from_arg_matches(&matches).map_err(clap_err)
}

/// `emprox run FILE` with the flags of `flags` (see [`command_args`]): the summary (JSON) and
/// the output folder.
#[pyfunction]
#[pyo3(signature = (file, flags, quiet=true))]
fn run(
    py: Python<'_>,
    file: PathBuf,
    flags: Vec<(String, Option<FlagValue>)>,
    quiet: bool,
) -> PyResult<(String, PathBuf)> {
    let args: cli::RunArgs = command_args("run", flags, &file)?;
    interruptible(py, move || {
        let progress = reporter(quiet);
        let (summary, out, _report) = cli::start_run(&args, progress.as_ref())?;
        Ok((serde_json::to_string(&summary)?, out))
    })
}

/// `emprox resume OUT` with the flags of `flags`: the summary (JSON; `None` when the
/// experiment had already finished).
#[pyfunction]
#[pyo3(signature = (out, flags, quiet=true))]
fn resume(
    py: Python<'_>,
    out: PathBuf,
    flags: Vec<(String, Option<FlagValue>)>,
    quiet: bool,
) -> PyResult<Option<String>> {
    let args: cli::ResumeArgs = command_args("resume", flags, &out)?;
    interruptible(py, move || {
        let progress = reporter(quiet);
        Ok(match cli::start_resume(&args, progress.as_ref())? {
            Resumed::AlreadyFinished => None,
            Resumed::Finished(s) => Some(serde_json::to_string(&s)?),
        })
    })
}

/// `emprox compare FILE` with the flags of `flags`: the Markdown table and the output folder.
#[pyfunction]
#[pyo3(signature = (file, flags, quiet=true))]
fn compare(
    py: Python<'_>,
    file: PathBuf,
    flags: Vec<(String, Option<FlagValue>)>,
    quiet: bool,
) -> PyResult<(String, PathBuf)> {
    let args: cmp::CompareArgs = command_args("compare", flags, &file)?;
    interruptible(py, move || {
        let progress = reporter(quiet);
        cmp::start_compare(&args, progress.as_ref()).map(|(text, out, _report)| (text, out))
    })
}

/// `emprox eval-predictors FILE` with the flags of `flags` (see [`command_args`]): the
/// Markdown table and the output folder. Ctrl-C is seen once the evaluation has ended (it has
/// no journal to resume).
#[pyfunction]
#[pyo3(signature = (file, flags, quiet=true))]
fn eval_predictors(
    py: Python<'_>,
    file: PathBuf,
    flags: Vec<(String, Option<FlagValue>)>,
    quiet: bool,
) -> PyResult<(String, PathBuf)> {
    let args: emprox_engine::commands::predictors::EvalPredictorsArgs =
        command_args("eval-predictors", flags, &file)?;
    interruptible(py, move || {
        emprox_engine::commands::predictors::start_eval_predictors(&args, &|line| {
            if !quiet {
                emprox_engine::progress::say(line);
            }
        })
    })
}

/// The folder of run `i` of the experiment in `out` (`seed-<i>`) and its journal file's name.
#[pyfunction]
fn run_files(out: PathBuf, i: u64) -> (PathBuf, &'static str) {
    (rundir::run_dir(&out, i), rundir::TRIALS)
}

/// The best architecture of an experiment summary (JSON), with its run, as JSON.
#[pyfunction]
fn best_of(summary: &str) -> PyResult<Option<String>> {
    let s: emprox_engine::results::ExperimentSummary =
        serde_json::from_str(summary).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(s.best().map(|(r, b)| {
        let mut v = serde_json::to_value(b).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("run".into(), r.run.into());
        }
        v.to_string()
    }))
}

/// TOML text of a table given as JSON (the Python package's dict experiments).
#[pyfunction]
fn toml_of_json(json: &str) -> PyResult<String> {
    let table: toml::Table =
        serde_json::from_str(json).map_err(|e| PyValueError::new_err(e.to_string()))?;
    toml::to_string(&table).map_err(|e| PyValueError::new_err(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Ask/tell: the engine's own loop on its own thread, with the user as its evaluator.

/// A trial handed to the user: run, query and the cell's spec.
struct Request {
    run: u64,
    query: u64,
    spec: TrialSpec,
}

#[derive(Default)]
struct HubState {
    /// Queries the engine gave the evaluator, in proposal order, not yet handed to the user.
    announced: VecDeque<(PathBuf, u64)>,
    /// Evaluations waiting for the user, by (run folder, query).
    requests: HashMap<(PathBuf, u64), Request>,
    /// Given to the user, not told yet: (run folder, query).
    outstanding: HashSet<(PathBuf, u64)>,
    /// Told, not yet taken by the waiting evaluation.
    results: HashMap<(PathBuf, u64), Result<Outcome, EvalFailure>>,
    /// The loop waits for this (run folder, query).
    waiting: Option<(PathBuf, u64)>,
    /// The folder is prepared and the runs go.
    started: bool,
    /// The experiment ended: its summary (JSON), or the error's line.
    finished: Option<Result<String, (bool, String)>>,
}

/// Where the engine's thread and the user's calls meet. Each side waits on its own condition
/// variable and is woken only by what it waits for (a trial or the end for `ask`, a result for
/// the engine): a wake-up is a context switch, and an ask/tell pair costs a few.
struct Hub {
    out: PathBuf,
    state: Mutex<HubState>,
    /// `ask` (and the start) waits on it: a request, the end, or the loop waiting for a trial
    /// the user holds.
    to_user: Condvar,
    /// The engine's evaluations wait on it: a result told.
    to_engine: Condvar,
}

/// Who waits.
#[derive(Clone, Copy)]
enum Side {
    User,
    Engine,
}

impl Hub {
    fn new(out: PathBuf) -> Hub {
        Hub {
            out,
            state: Mutex::default(),
            to_user: Condvar::new(),
            to_engine: Condvar::new(),
        }
    }
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn condvar(&self, side: Side) -> &Condvar {
        match side {
            Side::User => &self.to_user,
            Side::Engine => &self.to_engine,
        }
    }
    /// Changes the state and wakes `side`.
    fn update(&self, side: Side, f: impl FnOnce(&mut HubState)) {
        f(&mut self.lock());
        self.condvar(side).notify_all();
    }
    fn wait<'a>(&self, side: Side, g: MutexGuard<'a, HubState>) -> MutexGuard<'a, HubState> {
        self.condvar(side)
            .wait_timeout(g, Duration::from_millis(50))
            .unwrap_or_else(|p| p.into_inner())
            .0
    }
}

/// The user as the evaluator: each evaluation is a request that `ask` hands out, answered by
/// `tell`.
struct User<S: SearchSpace> {
    space: S,
    goal: emprox_benchmarks::evaluator::Goal,
    hub: Arc<Hub>,
}

impl<S: SearchSpace> Evaluator<S::Cell> for User<S> {
    fn evaluate(&self, _: &S::Cell, _: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        Err(EvalFailure {
            reason: "the user evaluator needs its trial".into(),
            cost_seconds: 0.0,
        })
    }
    fn evaluate_trial(
        &self,
        trial: &TrialContext,
        cell: &S::Cell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let run = run_of(&self.hub.out, &trial.dir);
        let key = (trial.dir.clone(), trial.query);
        let spec = TrialSpec::new(&self.space, cell, rng.next_u64());
        self.hub.update(Side::User, |s| {
            s.requests.insert(
                key.clone(),
                Request {
                    run,
                    query: trial.query,
                    spec,
                },
            );
        });
        let mut g = self.hub.lock();
        loop {
            if let Some(r) = g.results.remove(&key) {
                return r;
            }
            g = self.hub.wait(Side::Engine, g);
        }
    }
    fn goal(&self) -> emprox_benchmarks::evaluator::Goal {
        self.goal
    }
}

/// The number of the run whose folder in `out` is `dir`.
fn run_of(out: &Path, dir: &Path) -> u64 {
    (0..emprox_engine::config::MAX_SEEDS)
        .find(|&i| rundir::run_dir(out, i) == dir)
        .unwrap_or(0)
}

/// Tells the hub where the loop waits.
struct HubProgress(Arc<Hub>);

impl Progress for HubProgress {
    fn query(&self, _: &QueryEnd) {}
    fn evaluating(&self, run: u64, query: u64) {
        // Nothing for `ask` to take yet: its request comes when the evaluation starts.
        let dir = rundir::run_dir(&self.0.out, run);
        self.0.lock().announced.push_back((dir, query));
    }
    fn waiting(&self, run: u64, query: u64) {
        let key = (rundir::run_dir(&self.0.out, run), query);
        let mut g = self.0.lock();
        // `ask` needs to hear of it only where the user holds that trial (then it may have to
        // say so).
        let held = g.outstanding.contains(&key);
        g.waiting = Some(key);
        drop(g);
        if held {
            self.0.to_user.notify_all();
        }
    }
}

/// The benchmark with the user as its evaluator (its space, signal and objectives kept).
fn with_user<S: SearchSpace + Clone + 'static>(
    mut bench: Benchmark<S>,
    hub: &Arc<Hub>,
) -> Benchmark<S> {
    let e = &bench.evaluation;
    bench.evaluation = Evaluation {
        evaluator: Arc::new(User {
            space: bench.space.clone(),
            goal: e.signal.goal,
            hub: hub.clone(),
        }),
        kind: EvaluatorKind::Python,
        workers: e.workers,
        threads_per_worker: 1,
        dataset: e.dataset.clone(),
        space: e.space.clone(),
        config_hash: "python".into(),
        cache: None,
        signal: e.signal.clone(),
    };
    bench.best_val = None;
    bench
}

/// A new search in `out`, or (`overwrite = None`) the one there continued.
struct UserSearch<'a> {
    exp: &'a Experiment,
    out: &'a Path,
    overwrite: Option<bool>,
    exec: &'a Execution<'a>,
    hub: Arc<Hub>,
}

impl WithBenchmark for UserSearch<'_> {
    type Output = Result<Finished, ExperimentError>;
    fn with<S: SearchSpace + Clone + 'static>(self, bench: Benchmark<S>) -> Self::Output {
        let bench = with_user(bench, &self.hub);
        match self.overwrite {
            Some(overwrite) => {
                let _lock = rundir::prepare(self.out, FolderKind::Experiment, overwrite)?;
                self.hub.update(Side::User, |s| s.started = true);
                run_experiment(self.exp, &bench, self.out, self.exec)
            }
            None => {
                self.hub.update(Side::User, |s| s.started = true);
                execute(self.exp, &bench, self.out, self.exec)
            }
        }
    }
}

/// An ask/tell search: the engine's loop runs on its own thread and asks the user for each
/// evaluation.
#[pyclass(module = "emprox._emprox")]
struct Search {
    hub: Arc<Hub>,
}

impl Search {
    /// Starts the engine's thread (`exp = None`: resume `out`) and waits until it runs.
    fn spawn(
        py: Python<'_>,
        exp: Option<Experiment>,
        out: PathBuf,
        overwrite: bool,
    ) -> PyResult<Search> {
        let hub = Arc::new(Hub::new(out.clone()));
        let h = hub.clone();
        std::thread::spawn(move || {
            let progress = HubProgress(h.clone());
            let exec = Execution {
                threads: 1,
                progress: &progress,
                resume: exp.is_none(),
                throttle: None,
                keep_weights: None,
                keep_checkpoints: false,
            };
            let search = |exp: &Experiment, exec: &Execution, overwrite| {
                emprox_engine::benchmark::open(
                    exp,
                    exec.progress,
                    UserSearch {
                        exp,
                        out: &out,
                        overwrite,
                        exec,
                        hub: h.clone(),
                    },
                )
                .map_err(|e| ExperimentError::Other(one_line(&e)))?
            };
            let r: anyhow::Result<Option<String>> = match &exp {
                Some(exp) => search(exp, &exec, Some(overwrite))
                    .map_err(anyhow::Error::from)
                    .and_then(|f| Ok(Some(serde_json::to_string(&f.summary)?))),
                None => resume_with(&out, &exec, false, |exp, exec| search(exp, exec, None))
                    .map_err(anyhow::Error::from)
                    .and_then(|r| match r {
                        Resumed::AlreadyFinished => Ok(None),
                        Resumed::Finished(s) => Ok(Some(serde_json::to_string(&s)?)),
                    }),
            };
            h.update(Side::User, |s| {
                s.finished = Some(match r {
                    Ok(s) => Ok(s.unwrap_or_default()),
                    Err(e) => Err((e.is::<ConfigError>(), one_line(&e))),
                })
            });
        });
        // Errors of the configuration, the data and the folder come before the first ask.
        py.allow_threads(|| {
            let mut g = hub.lock();
            while !g.started && g.finished.is_none() {
                g = hub.wait(Side::User, g);
            }
            match &g.finished {
                Some(Err((config, msg))) if !g.started => Err((*config, msg.clone())),
                _ => Ok(()),
            }
        })
        .map_err(|(config, msg)| {
            if config {
                PyValueError::new_err(msg)
            } else {
                PyRuntimeError::new_err(msg)
            }
        })?;
        Ok(Search { hub })
    }

    fn key(&self, run: u64, query: u64) -> (PathBuf, u64) {
        (rundir::run_dir(&self.hub.out, run), query)
    }
}

/// What `ask` found.
enum Asked {
    Trial(Request),
    Finished,
    Blocked(String),
}

#[pymethods]
impl Search {
    /// A new search of the experiment (TOML text; relative paths read from `path`'s folder),
    /// whose `[evaluator]` becomes `type = "python"` with `workers` trials outstanding at most.
    #[staticmethod]
    #[pyo3(signature = (text, path, out, overrides=Vec::new(), overwrite=false, workers=1))]
    fn start(
        py: Python<'_>,
        text: &str,
        path: PathBuf,
        out: PathBuf,
        mut overrides: Vec<String>,
        overwrite: bool,
        workers: i64,
    ) -> PyResult<Search> {
        overrides.push("evaluator.type=\"python\"".into());
        overrides.push(format!("evaluator.workers={workers}"));
        let exp = Experiment::load_text(text, &path, &overrides)
            .map_err(|e| PyValueError::new_err(e.0))?;
        Search::spawn(py, Some(exp), out, overwrite)
    }

    /// The search in `out` continued: its journal replayed, the next proposals as they would
    /// have been.
    #[staticmethod]
    fn resume(py: Python<'_>, out: PathBuf) -> PyResult<Search> {
        Search::spawn(py, None, out, false)
    }

    /// The next trial as (run, query, space, arch, index, dimensions, values, seed), or `None`
    /// once the search has ended.
    #[allow(clippy::type_complexity)]
    fn ask(
        &self,
        py: Python<'_>,
    ) -> PyResult<
        Option<(
            u64,
            u64,
            String,
            String,
            Option<u64>,
            Vec<String>,
            Vec<String>,
            u64,
        )>,
    > {
        loop {
            let asked = py.allow_threads(|| {
                let mut g = self.hub.lock();
                for _ in 0..4 {
                    // Trials go out in the order the engine proposed them, each once its
                    // evaluation has asked for it.
                    if let Some(next) = g.announced.front().cloned() {
                        if let Some(r) = g.requests.remove(&next) {
                            g.announced.pop_front();
                            g.outstanding.insert(next);
                            return Some(Asked::Trial(r));
                        }
                    }
                    if g.finished.is_some() {
                        return Some(Asked::Finished);
                    }
                    if let (true, Some((dir, q))) = (g.announced.is_empty(), &g.waiting) {
                        // Nothing proposed and not handed out, and the loop waits for a trial
                        // the user holds: no trial comes before it is told.
                        if g.outstanding.contains(&(dir.clone(), *q)) {
                            return Some(Asked::Blocked(format!(
                                "the search waits for the result of query {q} (in {}): tell it \
                                 before asking for another (results are taken in the order \
                                 the trials were asked, `workers` at a time)",
                                dir.display()
                            )));
                        }
                    }
                    g = self.hub.wait(Side::User, g);
                }
                None
            });
            match asked {
                Some(Asked::Trial(Request { run, query, spec })) => {
                    let TrialSpec {
                        space,
                        arch,
                        index,
                        dimensions,
                        values,
                        seed,
                    } = spec;
                    return Ok(Some((
                        run, query, space, arch, index, dimensions, values, seed,
                    )));
                }
                Some(Asked::Finished) => {
                    let g = self.hub.lock();
                    return match &g.finished {
                        Some(Err((_, msg))) => Err(PyRuntimeError::new_err(msg.clone())),
                        _ => Ok(None),
                    };
                }
                Some(Asked::Blocked(msg)) => return Err(PyRuntimeError::new_err(msg)),
                None => py.check_signals()?,
            }
        }
    }

    /// The result of trial (run, query): `val` (`None`: it failed, for `reason`).
    #[pyo3(signature = (run, query, val=None, test=None, cost_seconds=0.0, reason=None))]
    fn tell(
        &self,
        run: u64,
        query: u64,
        val: Option<f64>,
        test: Option<f64>,
        cost_seconds: f64,
        reason: Option<String>,
    ) -> PyResult<()> {
        if !cost_seconds.is_finite() || cost_seconds < 0.0 {
            return Err(PyValueError::new_err(format!(
                "cost_seconds must be a finite number >= 0, got {cost_seconds}"
            )));
        }
        let result = match (val, reason) {
            (Some(v), None) if v.is_finite() && test.is_none_or(f64::is_finite) => Ok(Outcome {
                val_acc: v,
                test_acc: test,
                cost_seconds,
                extras: vec![],
            }),
            (Some(v), None) => {
                return Err(PyValueError::new_err(format!(
                    "val_acc and test_acc must be finite numbers, got {v} and {test:?}"
                )))
            }
            (_, Some(reason)) => Err(EvalFailure {
                reason,
                cost_seconds,
            }),
            (None, None) => {
                return Err(PyValueError::new_err(
                    "tell needs val_acc (or tell_failed with a reason)",
                ))
            }
        };
        let key = self.key(run, query);
        let mut g = self.hub.lock();
        if !g.outstanding.remove(&key) {
            return Err(PyValueError::new_err(format!(
                "query {query} of run {run} is not an outstanding trial of this search (asked \
                 and not yet told)"
            )));
        }
        g.results.insert(key, result);
        drop(g);
        self.hub.to_engine.notify_all();
        Ok(())
    }

    /// The trials asked and not yet told, as (run, query) pairs.
    fn outstanding(&self) -> Vec<(u64, u64)> {
        let g = self.hub.lock();
        let mut v: Vec<(u64, u64)> = g
            .outstanding
            .iter()
            .map(|(dir, q)| (run_of(&self.hub.out, dir), *q))
            .collect();
        v.sort_unstable();
        v
    }

    /// The output folder.
    #[getter]
    fn out(&self) -> PathBuf {
        self.hub.out.clone()
    }
}

/// The Rust half of the `emprox` package.
#[pymodule]
fn _emprox(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(eval_predictors, m)?)?;
    m.add_function(wrap_pyfunction!(run_files, m)?)?;
    m.add_function(wrap_pyfunction!(toml_of_json, m)?)?;
    m.add_function(wrap_pyfunction!(best_of, m)?)?;
    m.add_class::<Search>()?;
    m.add_class::<Estimator>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Estimators on arrays: the estimators crate's fit and predict on architecture strings.

/// Architectures as Python gives them: an architecture string, or (a tabular space) one value
/// per dimension.
#[derive(FromPyObject)]
enum Arch {
    Text(String),
    Values(Vec<String>),
}

/// An estimator of one space, its type erased.
trait Fitter: Send + Sync {
    fn fit(&mut self, archs: &[Arch], targets: &[f64], seed: u64) -> Result<(), String>;
    fn predict(&self, archs: &[Arch]) -> Result<Vec<f64>, String>;
    fn save(&self, dir: &Path) -> Result<(), String>;
}

struct Typed<S: SearchSpace> {
    space: S,
    estimator: Box<dyn emprox_estimators::Estimator<S>>,
    fitted: Option<Box<dyn emprox_estimators::FittedEstimator<S>>>,
}

impl<S: SearchSpace + 'static> Typed<S> {
    /// The cells of `archs`: each string parsed by the space, each value list looked up by a
    /// tabular space as its parser does ([`TabularSpace::cell_of_values`]).
    fn cells(&self, archs: &[Arch]) -> Result<Vec<S::Cell>, String> {
        use emprox_benchmarks::tabular::TabularSpace;
        use std::any::Any;
        let name = self.space.name();
        archs
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Arch::Text(a) => self
                    .space
                    .parse(a)
                    .map_err(|e| format!("{a:?} is not an architecture of space {name:?}: {e}")),
                Arch::Values(values) => {
                    let tabular = (&self.space as &dyn Any)
                        .downcast_ref::<TabularSpace>()
                        .ok_or_else(|| {
                            format!(
                                "row {i}: value lists need a tabular space ([benchmark] type = \
                                 \"tabular\"); space {name:?} takes architecture strings"
                            )
                        })?;
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    let cell = tabular
                        .cell_of_values(&values)
                        .map_err(|e| format!("row {i} of space {name:?}: {e}"))?;
                    // S is TabularSpace: its cell is a TabCell.
                    (Box::new(cell) as Box<dyn Any>)
                        .downcast::<S::Cell>()
                        .map(|c| *c)
                        .map_err(|_| "a tabular space whose cell is not a TabCell (a bug)".into())
                }
            })
            .collect()
    }
}

impl<S: SearchSpace + 'static> Fitter for Typed<S> {
    fn fit(&mut self, archs: &[Arch], targets: &[f64], seed: u64) -> Result<(), String> {
        let cells = self.cells(archs)?;
        let mut rng = emprox_benchmarks::seed::stream(seed, "estimator");
        let fitted = self
            .estimator
            .fit(&self.space, &cells, targets, &mut rng)
            .map_err(|e| e.to_string())?;
        self.fitted = Some(fitted);
        Ok(())
    }
    fn predict(&self, archs: &[Arch]) -> Result<Vec<f64>, String> {
        let fitted = self
            .fitted
            .as_ref()
            .ok_or("the estimator is not fitted: call fit first")?;
        let cells = self.cells(archs)?;
        fitted
            .predict(&self.space, &cells)
            .map_err(|e| e.to_string())
    }
    fn save(&self, dir: &Path) -> Result<(), String> {
        let fitted = self
            .fitted
            .as_ref()
            .ok_or("the estimator is not fitted: call fit first")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        fitted.save(dir).map_err(|e| e.to_string())
    }
}

/// Builds the estimator of `params` on the space the lookup opens.
struct Build(emprox_estimators::EstimatorParams);

impl emprox_benchmarks::config::WithLookup for Build {
    type Output = Result<Box<dyn Fitter>, String>;
    fn with<S: SearchSpace + 'static>(
        self,
        lookup: emprox_benchmarks::config::Lookup<S>,
    ) -> Self::Output {
        let estimator = self.0.build::<S>().map_err(|e| e.to_string())?;
        Ok(Box::new(Typed {
            space: lookup.space,
            estimator,
            fitted: None,
        }))
    }
}

/// A performance estimator of the estimators crate, on architecture strings of a space.
#[pyclass(module = "emprox._emprox")]
struct Estimator {
    inner: Box<dyn Fitter>,
}

#[pymethods]
impl Estimator {
    /// The estimator of the `[estimator]`-style table `params` (JSON, with its `type`) on the
    /// space of the `[benchmark]` table `benchmark` (JSON; relative paths from `base`).
    #[new]
    fn new(params: &str, benchmark: &str, base: PathBuf) -> PyResult<Estimator> {
        let value = |what: &str, json: &str| -> PyResult<toml::Table> {
            serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
        };
        let params: emprox_estimators::EstimatorParams = value("estimator", params)?
            .try_into()
            .map_err(|e: toml::de::Error| {
                PyValueError::new_err(format!("estimator: {}", e.message()))
            })?;
        let mut bench: emprox_benchmarks::config::BenchmarkConfig = value("benchmark", benchmark)?
            .try_into()
            .map_err(|e: toml::de::Error| {
                PyValueError::new_err(format!("benchmark: {}", e.message()))
            })?;
        bench.resolve_paths(&base);
        let inner = bench
            .open_lookup(&base, Build(params))
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .map_err(PyValueError::new_err)?;
        Ok(Estimator { inner })
    }

    /// Fits on `archs` (architecture strings, or a tabular space's value lists) with targets
    /// `y` (the GIL released).
    fn fit(&mut self, py: Python<'_>, archs: Vec<Arch>, y: Vec<f64>, seed: u64) -> PyResult<()> {
        let inner = &mut self.inner;
        py.allow_threads(|| inner.fit(&archs, &y, seed))
            .map_err(PyValueError::new_err)
    }

    /// Scores of `archs` (as for `fit`; higher is better).
    fn predict(&self, py: Python<'_>, archs: Vec<Arch>) -> PyResult<Vec<f64>> {
        let inner = &self.inner;
        py.allow_threads(|| inner.predict(&archs))
            .map_err(PyValueError::new_err)
    }

    /// Saves the fitted model to `dir` (what `emprox predict --model DIR` reads; EmProx only).
    fn save(&self, dir: PathBuf) -> PyResult<()> {
        self.inner.save(&dir).map_err(PyRuntimeError::new_err)
    }
}
