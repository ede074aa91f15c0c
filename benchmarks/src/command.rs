//! The external-command evaluator (`[evaluator] type = "command"`): runs a user's program per
//! candidate (a training script, or a script that submits a cluster job and waits) and reads
//! its result from the last JSON line of its standard output.
//!
//! The command is a list of arguments, spawned directly (no shell), in which these placeholders
//! are substituted inside any argument:
//!
//! | placeholder | value |
//! |---|---|
//! | `{arch}` | the space's architecture string (NB201: `\|nor_conv_3x3~0\|+\|…\|`; a table: its architecture columns) |
//! | `{index}` | the cell's index in its benchmark (NB201: 0..15625 in the table the experiment uses; a table: the data row) |
//! | `{spec}` | path of a JSON file with the full spec (below), deleted afterwards |
//! | `{seed}` | the trial seed (a `u64`) |
//! | `{values_json}` | the cell's dimensions as one JSON object, name → value (a value that reads as a JSON number is a number, others strings) |
//! | `{fidelity}` | with `fidelities = [...]`: the fidelity to train to (a `[scheduler]`'s rung; else the last, full one) |
//! | `{checkpoint_dir}` | with `fidelities`: a folder kept for this cell and seed (`seed-<i>/checkpoints/<key>/`), where the command keeps a checkpoint to continue from when the cell is promoted |
//!
//! The spec file holds `{"space": …, "arch": …, "index": … (null where the space has none),
//! "dimensions": [names], "values": [values], "seed": …}`: the cell's value in each dimension of
//! its space, in the space's order (NB201: the six edges `1<-0`, `2<-0`, `2<-1`, `3<-0`, `3<-1`,
//! `3<-2`, valued by op name; a table: each architecture column, or `column[i]` for position `i`
//! of a sequence column).
//!
//! The command must print, as its last line starting with `{`, a JSON object
//! `{"val_acc": …, "test_acc": …, "cost_seconds": …}` (accuracies in percent; `cost_seconds`
//! optional, default: the command's wall time; other numeric fields are kept as extras; an
//! `"error"` string field makes it a failure with that reason). A non-zero exit, a missing or
//! malformed line, or running past `timeout_seconds` (the command and its whole process group
//! are then killed) is an [`EvalFailure`] with the reason.

use crate::evaluator::{EvalFailure, Evaluator, Goal, Outcome, Signal};
use crate::space::SearchSpace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn default_timeout() -> f64 {
    3600.0
}

/// The `[evaluator] type = "command"` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Program and arguments, with placeholders (required, non-empty).
    pub command: Vec<String>,
    /// Seconds before the command is killed and the trial failed (default 3600).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Working directory of the command (default: the current directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    /// Extra environment variables for the command (default none; the rest is inherited).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Which field of the result line is the objective, and its goal (default: the benchmark's
    /// objective, see [`ResultObjective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ResultObjective>,
    /// The fidelities the command accepts in `{fidelity}`, ascending, the last the full one
    /// (e.g. epochs; default none: one fidelity). A `[scheduler]` then runs each trial at one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fidelities: Vec<f64>,
}

/// The objective of a command's result line, `objective = { key = "val_err", goal = "minimize",
/// test = "test_err" }` in `[evaluator.command]` or `[evaluator.slurm]`.
///
/// Without it the line's objective is the benchmark's: `val_acc` (maximised, a percentage) on
/// NAS-Bench-201; on a table, its objective column with the table's goal (the key named after
/// the column, or `val_acc`). `val_acc` and `test_acc` must be percentages in [0, 100]; any
/// other key any finite number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultObjective {
    /// The key of the objective in the result line.
    pub key: String,
    /// `maximize` or `minimize` (default: the benchmark's goal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// The key of the test value (reported only; default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// What it measures, for labels (`error`: "validation error"; default: the keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its unit, shown after labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Decimals shown for every value (default: two significant digits of the spread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

/// The search signal of a command's result line: `objective` where the config gives one (its
/// goal defaulting to the benchmark's), else the benchmark's own signal `default`.
pub fn result_signal(objective: Option<&ResultObjective>, default: &Signal) -> Signal {
    match objective {
        None => default.clone(),
        Some(o) => Signal {
            metric: o.key.clone(),
            goal: o.goal.unwrap_or(default.goal),
            test: o.test.clone(),
            label: o.label.clone(),
            unit: o.unit.clone(),
            decimals: o.decimals,
        },
    }
}

/// Checks an `objective` table: non-empty, distinct keys that are not `cost_seconds` or
/// `error`, and its display settings.
pub fn check_result_objective(o: Option<&ResultObjective>) -> Result<(), String> {
    let Some(o) = o else { return Ok(()) };
    let keys = std::iter::once(&o.key).chain(o.test.as_ref());
    for k in keys {
        if k.trim().is_empty() || ["cost_seconds", "error"].contains(&k.as_str()) {
            return Err(format!(
                "`objective` key {k:?} cannot hold a result: name the field your command prints"
            ));
        }
    }
    if o.test.as_ref() == Some(&o.key) {
        return Err(format!(
            "`objective` names {:?} as both the objective and the test key",
            o.key
        ));
    }
    result_signal(Some(o), &Signal::accuracy())
        .check()
        .map_err(|e| format!("`objective`: {e}"))
}

/// A command config that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid command evaluator config: {0}")]
pub struct CommandConfigError(pub String);

impl CommandConfig {
    /// Checks the config: a non-empty program, a positive finite timeout, known placeholders.
    pub fn validate(&self) -> Result<(), CommandConfigError> {
        let err = |m: String| Err(CommandConfigError(m));
        let known: Vec<&str> = PLACEHOLDERS
            .into_iter()
            .chain(FIDELITY_PLACEHOLDERS)
            .collect();
        check_command(
            &self.command,
            &known,
            "[\"python3\", \"train.py\", \"{arch}\"]",
        )
        .map_err(CommandConfigError)?;
        check_fidelities(&self.command, &self.fidelities).map_err(CommandConfigError)?;
        if !(self.timeout_seconds.is_finite()
            && self.timeout_seconds > 0.0
            && self.timeout_seconds <= MAX_TIMEOUT_SECONDS)
        {
            return err(format!(
                "`timeout_seconds` must be a positive number of seconds up to {MAX_TIMEOUT_SECONDS} (30 days), got {}",
                seconds_text(self.timeout_seconds)
            ));
        }
        check_working_dir(self.working_dir.as_deref()).map_err(CommandConfigError)?;
        check_result_objective(self.objective.as_ref()).map_err(CommandConfigError)
    }
}

/// Checks that a `working_dir`, where one is given, is a directory (command and Slurm
/// evaluators).
pub fn check_working_dir(dir: Option<&std::path::Path>) -> Result<(), String> {
    match dir {
        Some(d) if !d.is_dir() => Err(format!("`working_dir` {} is not a directory", d.display())),
        _ => Ok(()),
    }
}

/// The longest `timeout_seconds`: 30 days.
pub const MAX_TIMEOUT_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// A number of seconds as written in a message: as a decimal where that is short (`0.5`,
/// `3600`), else in exponent form (`1e-300`, not three hundred digits).
pub fn seconds_text(x: f64) -> String {
    let plain = x.to_string();
    if plain.len() <= 12 {
        plain
    } else {
        format!("{x:e}")
    }
}

impl CommandConfig {
    /// Checks that the program can be started: a path (with a `/`) must name an executable
    /// file, relative to `working_dir` when one is set; a bare name must be found, executable,
    /// on `PATH` (the `env` table's, if it sets one).
    pub fn check_program(&self) -> Result<(), CommandConfigError> {
        let program = Path::new(&self.command[0]);
        let found = if self.command[0].contains('/') {
            let p = match &self.working_dir {
                Some(d) if program.is_relative() => d.join(program),
                _ => program.to_path_buf(),
            };
            if is_executable(&p) {
                return Ok(());
            }
            if p.exists() {
                return Err(CommandConfigError(format!(
                    "the program {} is not an executable file",
                    p.display()
                )));
            }
            false
        } else {
            let path = self
                .env
                .get("PATH")
                .map(std::ffi::OsString::from)
                .or_else(|| std::env::var_os("PATH"))
                .unwrap_or_default();
            std::env::split_paths(&path).any(|d| is_executable(&d.join(program)))
        };
        if found {
            Ok(())
        } else {
            Err(CommandConfigError(format!(
                "the program {:?} was not found{}",
                self.command[0],
                if self.command[0].contains('/') {
                    ""
                } else {
                    " on PATH"
                }
            )))
        }
    }
}

pub(crate) fn is_executable(p: &Path) -> bool {
    match std::fs::metadata(p) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// Placeholders of a command (a Slurm command adds `{emprox}`).
pub const PLACEHOLDERS: [&str; 5] = ["arch", "index", "spec", "seed", "values_json"];

/// The placeholders of a command (or a Slurm command) with `fidelities`.
pub const FIDELITY_PLACEHOLDERS: [&str; 2] = ["fidelity", "checkpoint_dir"];

/// Checks `fidelities` (positive, increasing) and that `command` uses a
/// [`FIDELITY_PLACEHOLDERS`] one only with them.
pub fn check_fidelities(command: &[String], fidelities: &[f64]) -> Result<(), String> {
    if let Some(f) = fidelities.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
        return Err(format!("`fidelities` must be positive numbers, got {f}"));
    }
    if let Some(w) = fidelities.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "`fidelities` must be increasing, but {} comes before {}",
            w[0], w[1]
        ));
    }
    let uses = |p: &str| command.iter().any(|a| a.contains(&format!("{{{p}}}")));
    match FIDELITY_PLACEHOLDERS.into_iter().find(|p| uses(p)) {
        Some(p) if fidelities.is_empty() => Err(format!(
            "{{{p}}} needs `fidelities = [...]`: the fidelities the command accepts"
        )),
        _ => Ok(()),
    }
}

/// The values of `{fidelity}` (`fidelity`, or the last of `fidelities`: the full one) and
/// `{checkpoint_dir}` (a folder for the cell and seed under `checkpoints`, created; `None`: an
/// empty value); none without `fidelities`.
pub(crate) fn fidelity_values<S: SearchSpace>(
    space: &S,
    cell: &S::Cell,
    seed: u64,
    fidelities: &[f64],
    fidelity: Option<f64>,
    checkpoints: Option<&Path>,
) -> Result<Vec<(&'static str, String)>, String> {
    let Some(full) = fidelities.last() else {
        return Ok(Vec::new());
    };
    let dir = match checkpoints {
        Some(base) => {
            let key = serde_json::json!({"arch": space.format(cell), "seed": seed});
            let digest = crate::digest::sha256_hex(key.to_string().as_bytes());
            let dir = base.join(&digest[..16]);
            std::fs::create_dir_all(&dir).map_err(|e| {
                format!("cannot create the checkpoint folder {}: {e}", dir.display())
            })?;
            dir.display().to_string()
        }
        None => String::new(),
    };
    Ok(vec![
        ("fidelity", fidelity.unwrap_or(*full).to_string()),
        ("checkpoint_dir", dir),
    ])
}

/// `{values_json}`: the cell's [`SearchSpace::components`] as a JSON object, name → value in the
/// space's order, a value that reads as a JSON number written as one.
pub fn values_json<S: SearchSpace>(space: &S, cell: &S::Cell) -> String {
    // Written by hand to keep the space's order (serde_json's maps sort their keys).
    let pairs: Vec<String> = space
        .components(cell)
        .into_iter()
        .map(|(name, value)| {
            let v = match serde_json::from_str::<serde_json::Number>(&value) {
                Ok(n) => serde_json::Value::Number(n),
                Err(_) => serde_json::Value::String(value),
            };
            format!("{}:{v}", serde_json::Value::String(name))
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// The values of the placeholders every command has: `{arch}`, `{index}`, `{spec}`, `{seed}`,
/// `{values_json}` (an `{index}` the space lacks is an error, see [`index_value`]).
pub(crate) fn trial_values<S: SearchSpace>(
    space: &S,
    cell: &S::Cell,
    args: &[String],
    spec: &str,
    seed: u64,
) -> Result<Vec<(&'static str, String)>, String> {
    Ok(vec![
        ("arch", space.format(cell)),
        ("index", index_value(space, cell, args)?),
        ("spec", spec.to_string()),
        ("seed", seed.to_string()),
        ("values_json", values_json(space, cell)),
    ])
}

/// Checks a command list: a program (non-empty; `example` shows one) and known placeholders.
pub fn check_command(command: &[String], known: &[&str], example: &str) -> Result<(), String> {
    match command.first() {
        None => return Err(format!("`command` must name a program, e.g. {example}")),
        Some(p) if p.trim().is_empty() => return Err("`command[0]` (the program) is empty".into()),
        _ => {}
    }
    check_placeholders(command, known)
}

/// Checks that every `{name}` (a name of letters, digits and `_`) in `args` is one of `known`;
/// other braces (a literal JSON argument) are left alone.
pub fn check_placeholders(args: &[String], known: &[&str]) -> Result<(), String> {
    for arg in args {
        let mut rest = arg.as_str();
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            let Some(j) = after.find('}') else { break };
            let name = &after[..j];
            let is_ident =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_ident && !known.contains(&name) {
                let list: Vec<String> = known.iter().map(|k| format!("{{{k}}}")).collect();
                return Err(format!(
                    "unknown placeholder {{{name}}} in {arg:?}; known: {}",
                    list.join(", ")
                ));
            }
            rest = &after[j + 1..];
        }
    }
    Ok(())
}

/// The value of `{index}` for `cell`: its index, or empty where the space has none and `args`
/// do not ask for it.
pub(crate) fn index_value<S: SearchSpace>(
    space: &S,
    cell: &S::Cell,
    args: &[String],
) -> Result<String, String> {
    match space.index(cell) {
        Some(i) => Ok(i.to_string()),
        None if args.iter().any(|a| a.contains("{index}")) => Err(format!(
            "the space {} has no index: use {{arch}} or {{spec}} instead of {{index}}",
            space.name()
        )),
        None => Ok(String::new()),
    }
}

/// `args` with each `{name}` of `values` replaced by its value, in the order given.
pub fn substitute<V: AsRef<str>>(args: &[String], values: &[(&str, V)]) -> Vec<String> {
    args.iter()
        .map(|a| {
            values.iter().fold(a.clone(), |a, (name, value)| {
                a.replace(&format!("{{{name}}}"), value.as_ref())
            })
        })
        .collect()
}

/// The JSON spec of a trial (the `{spec}` file): space, arch, index, dimensions, values, seed.
pub fn trial_spec<S: SearchSpace>(space: &S, cell: &S::Cell, seed: u64) -> serde_json::Value {
    serde_json::to_value(TrialSpec::new(space, cell, seed)).unwrap_or_default()
}

/// A trial's spec (what [`trial_spec`] gives as JSON): its space, architecture string, index,
/// dimensions with their values, and seed.
#[derive(Debug, Clone, Serialize)]
pub struct TrialSpec {
    /// The space's name.
    pub space: String,
    /// The architecture string.
    pub arch: String,
    /// The cell's index in its benchmark, where the space has one.
    pub index: Option<u64>,
    /// The dimensions' names, in the space's order.
    pub dimensions: Vec<String>,
    /// The cell's value in each dimension.
    pub values: Vec<String>,
    /// The trial seed.
    pub seed: u64,
}

impl TrialSpec {
    /// The spec of `cell` with trial seed `seed`.
    pub fn new<S: SearchSpace>(space: &S, cell: &S::Cell, seed: u64) -> Self {
        let (dimensions, values) = space.components(cell).into_iter().unzip();
        TrialSpec {
            space: space.name().to_string(),
            arch: space.format(cell),
            index: space.index(cell),
            dimensions,
            values,
            seed,
        }
    }
}

/// Evaluates cells of a space `S` by running an external command (see the module docs).
///
/// [`Evaluator::evaluate`] draws one `u64` from its rng as the trial seed (`{seed}`).
#[derive(Debug, Clone)]
pub struct CommandEvaluator<S> {
    config: CommandConfig,
    space: S,
    /// What the result line's objective is (key, goal, test key).
    signal: Signal,
}

impl<S: SearchSpace> CommandEvaluator<S> {
    /// Validates `config` and checks that its program can be started; cells are described (arch
    /// string, index, dimension values) by `space`.
    pub fn new(config: CommandConfig, space: S) -> Result<Self, CommandConfigError> {
        config.validate()?;
        config.check_program()?;
        let signal = result_signal(config.objective.as_ref(), &Signal::accuracy());
        Ok(Self {
            config,
            space,
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
    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    /// The JSON spec of a trial, as written to the `{spec}` file.
    pub fn spec(&self, cell: &S::Cell, seed: u64) -> serde_json::Value {
        trial_spec(&self.space, cell, seed)
    }

    /// Runs the command for `cell` with trial seed `seed`.
    ///
    /// `timeout_seconds` bounds the whole trial: waiting for the command and for its output.
    /// Something the command leaves running in the background (even in another session) that
    /// keeps its stdout or stderr open cannot hold the trial past its deadline (plus a grace of
    /// at most 2 s after the command exits, to read what it printed).
    pub fn run(&self, cell: &S::Cell, seed: u64) -> Result<Outcome, EvalFailure> {
        self.run_at(cell, seed, None, None)
    }

    /// [`CommandEvaluator::run`] at `fidelity` (`None`: the full one), with `{checkpoint_dir}`
    /// a folder for this cell and seed under `checkpoints` (created; `None`: an empty value).
    pub fn run_at(
        &self,
        cell: &S::Cell,
        seed: u64,
        fidelity: Option<f64>,
        checkpoints: Option<&Path>,
    ) -> Result<Outcome, EvalFailure> {
        let start = Instant::now();
        let fail = |reason: String| EvalFailure {
            reason,
            cost_seconds: start.elapsed().as_secs_f64(),
        };
        if interrupted() {
            return Err(cut_short(start));
        }
        let spec = SpecFile::write(&self.spec(cell, seed))
            .map_err(|e| fail(format!("cannot write the spec file: {e}")))?;
        let spec_s = spec.path.display().to_string();
        let mut values =
            trial_values(&self.space, cell, &self.config.command, &spec_s, seed).map_err(fail)?;
        values.extend(
            fidelity_values(
                &self.space,
                cell,
                seed,
                &self.config.fidelities,
                fidelity,
                checkpoints,
            )
            .map_err(fail)?,
        );
        // The spec file's name is random: keep it out of the reason, which is journaled.
        let fail = |reason: String| fail(reason.replace(&spec_s, "{spec}"));
        let args = substitute(&self.config.command, &values);
        let mut cmd = Command::new(&args[0]);
        cmd.args(&args[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .envs(&self.config.env);
        if let Some(d) = &self.config.working_dir {
            cmd.current_dir(d);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that a timeout kills its children too.
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot start {:?}: {e}", args[0])))?;
        spec.set_pgid(child.id());
        if interrupted() {
            // Stopped between the check above and the start: stop_all may not have seen it.
            kill_group(&mut child);
            drop(spec);
            return Err(cut_short(start));
        }
        let stdout = Capture::start(child.stdout.take());
        let stderr = Capture::start(child.stderr.take());
        let deadline = start + Duration::from_secs_f64(self.config.timeout_seconds);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(fail(format!("cannot wait for the command: {e}"))),
            }
        };
        if interrupted() {
            // emprox is stopping (Ctrl-C): this result is not one to record.
            drop(spec);
            return Err(cut_short(start));
        }
        let Some(status) = status else {
            kill_group(&mut child);
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {} s (killed)",
                seconds_text(self.config.timeout_seconds)
            )));
        };
        // The command exited. Something it left running in the background may still hold the
        // pipes open: give it a moment (within the deadline), then kill the group and keep
        // what was read.
        let now = Instant::now();
        let until =
            (now + Duration::from_secs(2)).min(deadline.max(now + Duration::from_millis(200)));
        let complete = stdout.wait_until(until) && stderr.wait_until(until);
        if !complete {
            kill_group(&mut child);
            let grace = Instant::now() + Duration::from_millis(100);
            stdout.wait_until(grace);
            stderr.wait_until(grace);
        }
        let (out, err) = (stdout.text(), stderr.text());
        let wall = start.elapsed().as_secs_f64();
        if !status.success() {
            return Err(fail(format!(
                "command exited with {status}; stderr: {}",
                tail(&err, 400)
            )));
        }
        parse_result(&out, wall, &self.signal)
            .map_err(|r| fail(format!("{r}; stdout: {}", tail(&out, 400))))
    }
}

impl<S: SearchSpace> Evaluator<S::Cell> for CommandEvaluator<S> {
    fn evaluate(
        &self,
        cell: &S::Cell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        self.run(cell, seed)
    }

    /// At `trial.fidelity`, `{checkpoint_dir}` under the run folder's [`CHECKPOINT_DIR`].
    fn evaluate_trial(
        &self,
        trial: &crate::evaluator::TrialContext,
        cell: &S::Cell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        let dir = trial.dir.join(crate::evaluator::CHECKPOINT_DIR);
        self.run_at(cell, seed, trial.fidelity, Some(&dir))
    }

    fn fidelities(&self) -> Vec<f64> {
        self.config.fidelities.clone()
    }

    fn goal(&self) -> Goal {
        self.signal.goal
    }
}

/// Parses the last line of `stdout` that starts with `{` into an [`Outcome`]; `wall` is the
/// cost used when the line has no `cost_seconds`. The objective is the field `signal.metric`
/// (or `val_acc` where that is absent), the test value `signal.test` (or `test_acc`; required
/// where the signal has a test metric).
pub fn parse_result(stdout: &str, wall: f64, signal: &Signal) -> Result<Outcome, String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with('{'))
        .ok_or_else(|| {
            format!(
                "no JSON line {{\"{}\": ..., \"cost_seconds\": ...}} on stdout",
                signal.metric
            )
        })?;
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bad JSON result line ({e})"))?;
    let obj = v
        .as_object()
        .ok_or("the result line is not a JSON object")?;
    if let Some(e) = obj.get("error") {
        return Err(format!(
            "the command reported an error: {}",
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string())
        ));
    }
    // The named key, else the documented default key.
    let field = |name: &str, fallback: &'static str| -> Option<(String, &serde_json::Value)> {
        [name, fallback]
            .into_iter()
            .find_map(|k| obj.get(k).map(|v| (k.to_string(), v)))
    };
    let number = |(name, v): (String, &serde_json::Value)| -> Result<(String, f64), String> {
        let x = v.as_f64().ok_or(format!("`{name}` is not a number"))?;
        let percent = name == "val_acc" || name == "test_acc";
        if percent && !(x.is_finite() && (0.0..=100.0).contains(&x)) {
            Err(format!("`{name}` = {x} is not a percentage in [0, 100]"))
        } else if !x.is_finite() {
            Err(format!("`{name}` = {x} is not a finite number"))
        } else {
            Ok((name, x))
        }
    };
    let (val_key, val) = number(
        field(&signal.metric, "val_acc")
            .ok_or(format!("the result line has no `{}`", signal.metric))?,
    )?;
    let test = match field(signal.test.as_deref().unwrap_or("test_acc"), "test_acc") {
        Some(f) => Some(number(f)?),
        None => match &signal.test {
            Some(t) => return Err(format!("the result line has no `{t}`")),
            None => None,
        },
    };
    let cost_seconds = match obj.get("cost_seconds") {
        None => wall,
        Some(c) => c
            .as_f64()
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or("`cost_seconds` is not a non-negative number")?,
    };
    let used =
        |k: &str| k == val_key || k == "cost_seconds" || test.as_ref().is_some_and(|(t, _)| t == k);
    let extras = obj
        .iter()
        .filter(|(k, _)| !used(k))
        .filter_map(|(k, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (k.clone(), x)))
        .collect();
    Ok(Outcome {
        val_acc: val,
        test_acc: test.map(|(_, t)| t),
        cost_seconds,
        extras,
    })
}

/// The output of a pipe, read by a background thread into a shared buffer, so that what was read
/// can be taken at a deadline even when the pipe never closes.
struct Capture {
    state: Arc<CaptureState>,
}

/// The bytes read so far and whether the pipe is closed, with a condition variable.
type CaptureState = (Mutex<(Vec<u8>, bool)>, Condvar);

impl Capture {
    fn start<R: Read + Send + 'static>(r: Option<R>) -> Capture {
        let state = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            if let Some(mut r) = r {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let mut g = shared.0.lock().unwrap_or_else(|p| p.into_inner());
                    g.0.extend_from_slice(&chunk[..n]);
                    // Keep at most the last 1 MiB.
                    if g.0.len() > 2 << 20 {
                        let cut = g.0.len() - (1 << 20);
                        g.0.drain(..cut);
                    }
                }
            }
            shared.0.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
            shared.1.notify_all();
        });
        Capture { state }
    }

    /// Waits until the pipe is closed or `until`; true if it was closed.
    fn wait_until(&self, until: Instant) -> bool {
        let (m, cv) = &*self.state;
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        while !g.1 {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            g = cv
                .wait_timeout(g, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// What was read so far.
    fn text(&self) -> String {
        let g = self.state.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&g.0).into_owned()
    }
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with a negative pid signals the process group we created for this
        // child (process_group(0) makes its pgid equal to its pid); no memory is touched.
        unsafe {
            libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

pub(crate) fn tail(s: &str, max: usize) -> String {
    let t = s.trim();
    let start = t.len().saturating_sub(max);
    let start = (start..=t.len())
        .find(|&i| t.is_char_boundary(i))
        .unwrap_or(t.len());
    format!("{:?}", &t[start..])
}

/// A spec file in the temp directory, deleted on drop. While it lives it is registered, with the
/// process group of its command, for [`stop_all`].
struct SpecFile {
    id: u64,
    path: PathBuf,
}

/// Commands running now: spec file and process group (once started), by spec id.
static RUNNING: Mutex<BTreeMap<u64, (PathBuf, Option<u32>)>> = Mutex::new(BTreeMap::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set by [`stop_all`]: the process exits, evaluations cut short never return.
static EXITING: AtomicBool = AtomicBool::new(false);

fn running() -> std::sync::MutexGuard<'static, BTreeMap<u64, (PathBuf, Option<u32>)>> {
    RUNNING.lock().unwrap_or_else(|p| p.into_inner())
}

/// True once [`stop_all`] or [`interrupt_all`] was called (and not [`clear_interrupt`]ed): no
/// command is started any more.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Blocks the calling thread for good (the process is about to exit).
pub(crate) fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// What an evaluation cut short by an interruption gives, started at `start`: nothing, ever,
/// where the process exits ([`stop_all`]); a failure that the caller does not record where it
/// goes on ([`interrupt_all`]). For any evaluator that checks [`interrupted`] while it works.
pub fn cut_short(start: Instant) -> EvalFailure {
    if EXITING.load(Ordering::SeqCst) {
        park_forever();
    }
    EvalFailure {
        reason: "interrupted".into(),
        cost_seconds: start.elapsed().as_secs_f64(),
    }
}

/// Stops every external command of this process, for an interruption (Ctrl-C, SIGTERM): no new
/// command starts; each running command's process group gets SIGTERM, then SIGKILL if it is
/// still there after `grace`; the spec files are deleted. Evaluations cut short this way never
/// return: the caller is expected to exit the process.
pub fn stop_all(grace: Duration) {
    EXITING.store(true, Ordering::SeqCst);
    interrupt_all(grace);
}

/// [`stop_all`] for a caller that goes on (a library's Ctrl-C, e.g. the Python package's): the
/// commands are stopped the same way, but the evaluations cut short return a failure (reason
/// `interrupted`), which the caller must not record; [`clear_interrupt`] lets commands start
/// again.
pub fn interrupt_all(grace: Duration) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let groups: Vec<u32> = running().values().filter_map(|r| r.1).collect();
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on process groups created for our commands; no memory is touched.
        let signal = |sig| {
            groups
                .iter()
                .filter(|&&g| unsafe { libc::kill(-(g as libc::pid_t), sig) } == 0)
                .count()
        };
        signal(libc::SIGTERM);
        let end = Instant::now() + grace;
        while signal(0) > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(libc::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = (groups, grace);
    for (path, _) in running().values() {
        let _ = std::fs::remove_file(path);
    }
}

/// Undoes [`interrupt_all`]: commands start again (not after [`stop_all`]).
pub fn clear_interrupt() {
    if !EXITING.load(Ordering::SeqCst) {
        INTERRUPTED.store(false, Ordering::SeqCst);
    }
}

impl SpecFile {
    fn write(spec: &serde_json::Value) -> std::io::Result<SpecFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "emprox-spec-{}-{n}-{nanos}.json",
            std::process::id()
        ));
        running().insert(n, (path.clone(), None));
        let file = SpecFile { id: n, path };
        std::fs::write(&file.path, serde_json::to_vec_pretty(spec)?)?;
        Ok(file)
    }

    /// Records the process group of the command that reads this spec.
    fn set_pgid(&self, pgid: u32) {
        if let Some(r) = running().get_mut(&self.id) {
            r.1 = Some(pgid);
        }
    }
}

impl Drop for SpecFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        running().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nb201::{Cell, Nb201Data, Nb201Space};

    #[test]
    fn parses_result_lines() {
        let acc = Signal::accuracy();
        let o = parse_result(
            "log\n{\"val_acc\": 1}\nmore\n{\"val_acc\": 91.5, \"test_acc\": 90, \"cost_seconds\": 12, \"params\": 3}\n",
            7.0,
            &acc,
        )
        .unwrap();
        assert_eq!(
            (o.val_acc, o.test_acc, o.cost_seconds),
            (91.5, Some(90.0), 12.0)
        );
        assert_eq!(o.extras, vec![("params".to_string(), 3.0)]);
        let o = parse_result("{\"val_acc\": 50, \"test_acc\": 40}", 7.0, &acc).unwrap();
        assert_eq!(o.cost_seconds, 7.0);
        for (bad, why) in [
            ("nothing", "no JSON line"),
            ("{\"val_acc\": 50", "bad JSON"),
            ("{\"test_acc\": 50}", "no `val_acc`"),
            ("{\"val_acc\": 150, \"test_acc\": 1}", "percentage"),
            ("{\"val_acc\": \"x\", \"test_acc\": 1}", "not a number"),
            ("{\"error\": \"out of memory\"}", "out of memory"),
        ] {
            let e = parse_result(bad, 1.0, &acc).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_named_objective_is_read_with_its_goal() {
        let o = ResultObjective {
            key: "val_err".into(),
            goal: Some(Goal::Minimize),
            test: Some("test_err".into()),
            label: None,
            unit: None,
            decimals: None,
        };
        let signal = result_signal(Some(&o), &Signal::accuracy());
        assert_eq!(signal.goal, Goal::Minimize);
        // Not a percentage: any finite number; the keys used are not extras.
        let r = parse_result(
            "{\"val_err\": 2.5, \"test_err\": 3.25, \"val_acc\": 97.5, \"cost_seconds\": 1}",
            9.0,
            &signal,
        )
        .unwrap();
        assert_eq!((r.val_acc, r.test_acc), (2.5, Some(3.25)));
        assert_eq!(r.extras, vec![("val_acc".to_string(), 97.5)]);
        assert!(parse_result("{\"val_err\": 250}", 1.0, &signal)
            .unwrap_err()
            .contains("no `test_err`"));
        assert!(parse_result("{\"val_err\": 1e999}", 1.0, &signal).is_err());
        // No goal given: the benchmark's (a table's minimised objective).
        let table = Signal {
            metric: "loss".into(),
            goal: Goal::Minimize,
            test: None,
            label: None,
            unit: None,
            decimals: None,
        };
        let no_goal = ResultObjective {
            goal: None,
            ..o.clone()
        };
        assert_eq!(result_signal(Some(&no_goal), &table).goal, Goal::Minimize);
        // No objective table: the benchmark's, read under the column's name or `val_acc`.
        let r = parse_result("{\"loss\": 0.5}", 1.0, &table).unwrap();
        assert_eq!((r.val_acc, r.test_acc), (0.5, None));
        let r = parse_result("{\"val_acc\": 7}", 1.0, &table).unwrap();
        assert_eq!(r.val_acc, 7.0);
        for bad in [
            r#"{"command": ["x"], "objective": {"key": ""}}"#,
            r#"{"command": ["x"], "objective": {"key": "cost_seconds"}}"#,
            r#"{"command": ["x"], "objective": {"key": "a", "test": "a"}}"#,
            r#"{"command": ["x"], "objective": {"key": "a", "decimals": 40}}"#,
            r#"{"command": ["x"], "objective": {"key": "a", "goal": "down"}}"#,
        ] {
            let c = serde_json::from_str::<CommandConfig>(bad)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.to_string()));
            assert!(c.is_err(), "{bad}");
        }
    }

    #[test]
    fn config_validation() {
        let ok: CommandConfig =
            serde_json::from_str(r#"{"command": ["python3", "t.py", "--arch={arch}", "{spec}"]}"#)
                .unwrap();
        assert_eq!(ok.timeout_seconds, 3600.0);
        ok.validate().unwrap();
        let bad = |json: &str| {
            serde_json::from_str::<CommandConfig>(json)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.to_string()))
                .unwrap_err()
        };
        assert!(bad(r#"{"command": []}"#).contains("must name a program"));
        assert!(bad(r#"{"command": ["x", "{archh}"]}"#).contains("unknown placeholder {archh}"));
        assert!(bad(r#"{"command": ["x"], "timeout_seconds": 0}"#).contains("timeout_seconds"));
        assert!(bad(r#"{"command": ["x"], "timeout": 5}"#).contains("unknown field"));
        // A literal JSON argument is not mistaken for a placeholder.
        let json_arg: CommandConfig =
            serde_json::from_str(r#"{"command": ["x", "{\"a\": 1}"]}"#).unwrap();
        json_arg.validate().unwrap();
    }

    fn evaluator(command: &[&str], timeout_seconds: f64) -> CommandEvaluator<Nb201Space> {
        CommandEvaluator::new(
            CommandConfig {
                command: command.iter().map(|s| s.to_string()).collect(),
                timeout_seconds,
                working_dir: None,
                env: BTreeMap::new(),
                objective: None,
                fidelities: Vec::new(),
            },
            Nb201Space::new(Nb201Data::shipped().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn a_tiny_timeout_is_printed_short() {
        assert_eq!(seconds_text(0.5), "0.5");
        assert_eq!(seconds_text(3600.0), "3600");
        assert_eq!(seconds_text(1e20), "1e20");
        let e = evaluator(&["sleep", "1"], 1e-300)
            .run(&Cell::from_code(1).unwrap(), 1)
            .unwrap_err();
        assert!(
            e.reason.contains("timed out after 1e-300 s (killed)"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn timeout_holds_when_a_detached_process_keeps_the_pipes_open() {
        let cell = Cell::from_code(1234).unwrap();
        // A process in another session holds stdout: killing the group cannot reach it.
        let ev = evaluator(&["sh", "-c", "setsid sleep 15 & sleep 30"], 2.0);
        let t = Instant::now();
        let e = ev.run(&cell, 1).unwrap_err();
        assert!(e.reason.contains("timed out"), "{}", e.reason);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        // The command answers and exits, its detached child keeps the pipes: the answer counts.
        let ev = evaluator(
            &[
                "sh",
                "-c",
                "setsid sleep 15 & echo '{\"val_acc\": 50, \"test_acc\": 40}'",
            ],
            3.0,
        );
        let t = Instant::now();
        let o = ev.run(&cell, 1).unwrap();
        assert_eq!((o.val_acc, o.test_acc), (50.0, Some(40.0)));
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn failure_reasons_name_the_spec_placeholder_not_the_file() {
        let cell = Cell::from_code(99).unwrap();
        let ev = evaluator(
            &["sh", "-c", "echo \"cannot open $0\" >&2; exit 1", "{spec}"],
            10.0,
        );
        let a = ev.run(&cell, 7).unwrap_err().reason;
        assert!(a.contains("cannot open {spec}"), "{a}");
        assert!(!a.contains("emprox-spec"), "{a}");
        assert_eq!(a, ev.run(&cell, 7).unwrap_err().reason);
    }

    #[test]
    fn the_program_must_exist_and_be_executable() {
        let cfg = |p: &str| CommandConfig {
            command: vec![p.to_string()],
            timeout_seconds: 10.0,
            working_dir: None,
            env: BTreeMap::new(),
            objective: None,
            fidelities: Vec::new(),
        };
        cfg("sh").check_program().unwrap();
        cfg("/bin/sh").check_program().unwrap();
        let e = cfg("no-such-program-emprox").check_program().unwrap_err();
        assert!(e.to_string().contains("not found on PATH"), "{e}");
        let e = cfg("./no/such/script.sh").check_program().unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("script.sh");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let e = cfg(f.to_str().unwrap()).check_program().unwrap_err();
        assert!(e.to_string().contains("not an executable file"), "{e}");
        let mut huge = cfg("sh");
        huge.timeout_seconds = 1e20;
        assert!(huge.validate().unwrap_err().to_string().contains("30 days"));
    }
}
