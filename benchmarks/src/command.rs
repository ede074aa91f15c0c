//! The external-command evaluator (`[evaluator] type = "command"`): runs a user's program per
//! candidate (a training script, or a script that submits a cluster job and waits) and reads
//! its result from the last JSON line of its standard output.
//!
//! The command is a list of arguments, spawned directly (no shell), in which these placeholders
//! are substituted inside any argument:
//!
//! | placeholder | value |
//! |---|---|
//! | `{arch}` | the NB201 arch string, e.g. `\|nor_conv_3x3~0\|+\|…\|` |
//! | `{index}` | the official NAS-Bench-201 index (0..15625) |
//! | `{spec}` | path of a JSON file with the full spec (below), deleted afterwards |
//! | `{seed}` | the trial seed (a `u64`) |
//!
//! The spec file holds `{"space": "nasbench201", "arch": …, "index": …, "ops": [6 op names in
//! edge order], "edges": [[to, from], …], "seed": …}`.
//!
//! The command must print, as its last line starting with `{`, a JSON object
//! `{"val_acc": …, "test_acc": …, "cost_seconds": …}` (accuracies in percent; `cost_seconds`
//! optional, default: the command's wall time; other numeric fields are kept as extras; an
//! `"error"` string field makes it a failure with that reason). A non-zero exit, a missing or
//! malformed line, or running past `timeout_seconds` (the command and its whole process group
//! are then killed) is an [`EvalFailure`] with the reason.

use crate::evaluator::{EvalFailure, Evaluator, Outcome};
use crate::nb201::{Cell, Nb201Data, EDGES};
use crate::DataError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
}

/// A command config that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid command evaluator config: {0}")]
pub struct CommandConfigError(pub String);

impl CommandConfig {
    /// Checks the config: a non-empty program, a positive finite timeout, known placeholders.
    pub fn validate(&self) -> Result<(), CommandConfigError> {
        let err = |m: String| Err(CommandConfigError(m));
        match self.command.first() {
            None => {
                return err(
                    "`command` must name a program, e.g. [\"python3\", \"train.py\", \"{arch}\"]"
                        .into(),
                )
            }
            Some(p) if p.trim().is_empty() => {
                return err("`command[0]` (the program) is empty".into())
            }
            _ => {}
        }
        if !(self.timeout_seconds.is_finite() && self.timeout_seconds > 0.0) {
            return err(format!(
                "`timeout_seconds` must be a positive number, got {}",
                self.timeout_seconds
            ));
        }
        for arg in &self.command {
            let mut rest = arg.as_str();
            while let Some(i) = rest.find('{') {
                let after = &rest[i + 1..];
                if let Some(j) = after.find('}') {
                    let name = &after[..j];
                    let is_ident = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if is_ident && !PLACEHOLDERS.contains(&name) {
                        return err(format!(
                            "unknown placeholder {{{name}}} in {arg:?}; known: {{arch}}, {{index}}, {{spec}}, {{seed}}"
                        ));
                    }
                    rest = &after[j + 1..];
                } else {
                    break;
                }
            }
        }
        if let Some(d) = &self.working_dir {
            if !d.is_dir() {
                return err(format!("`working_dir` {} is not a directory", d.display()));
            }
        }
        Ok(())
    }
}

const PLACEHOLDERS: [&str; 4] = ["arch", "index", "spec", "seed"];

/// Why a [`CommandEvaluator`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CommandSetupError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] CommandConfigError),
    /// The NB201 table (for `{index}`) could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Evaluates cells by running an external command (see the module docs).
///
/// [`Evaluator::evaluate`] draws one `u64` from its rng as the trial seed (`{seed}`).
#[derive(Debug, Clone)]
pub struct CommandEvaluator {
    config: CommandConfig,
    table: Arc<Nb201Data>,
}

impl CommandEvaluator {
    /// Validates `config`; `{index}` uses the shipped NB201 table.
    pub fn new(config: CommandConfig) -> Result<Self, CommandSetupError> {
        config.validate()?;
        Ok(Self {
            config,
            table: Nb201Data::shipped()?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    /// The result-cache key of evaluating `cell` with `seed` (the seed given to
    /// [`crate::workers::WorkerPool::submit`]): [`crate::workers::cache_key`] of
    /// (`nasbench201`, arch string, `external`, hash of this config, seed), as the engine keys it.
    pub fn cache_key(&self, cell: &Cell, seed: u64) -> String {
        crate::workers::cache_key(
            "nasbench201",
            &cell.to_string(),
            "external",
            &crate::digest::config_hash(&self.config),
            seed,
        )
    }

    /// The JSON spec of a trial, as written to the `{spec}` file.
    pub fn spec(&self, cell: &Cell, seed: u64) -> serde_json::Value {
        serde_json::json!({
            "space": "nasbench201",
            "arch": cell.to_string(),
            "index": self.table.index_of(cell),
            "ops": cell.ops.iter().map(|o| o.name()).collect::<Vec<_>>(),
            "edges": EDGES.iter().map(|&(t, f)| [t, f]).collect::<Vec<_>>(),
            "seed": seed,
        })
    }

    /// Runs the command for `cell` with trial seed `seed`.
    pub fn run(&self, cell: &Cell, seed: u64) -> Result<Outcome, EvalFailure> {
        let start = Instant::now();
        let fail = |reason: String| EvalFailure {
            reason,
            cost_seconds: start.elapsed().as_secs_f64(),
        };
        let spec = SpecFile::write(&self.spec(cell, seed))
            .map_err(|e| fail(format!("cannot write the spec file: {e}")))?;
        let arch = cell.to_string();
        let index = self.table.index_of(cell).to_string();
        let seed_s = seed.to_string();
        let spec_s = spec.path.display().to_string();
        let args: Vec<String> = self
            .config
            .command
            .iter()
            .map(|a| {
                a.replace("{arch}", &arch)
                    .replace("{index}", &index)
                    .replace("{spec}", &spec_s)
                    .replace("{seed}", &seed_s)
            })
            .collect();
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
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let timeout = Duration::from_secs_f64(self.config.timeout_seconds);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() >= timeout => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(fail(format!("cannot wait for the command: {e}"))),
            }
        };
        let Some(status) = status else {
            kill_group(&mut child);
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {} s (killed)",
                self.config.timeout_seconds
            )));
        };
        // The command exited. Something it left running in the background may still hold the
        // pipes open: give it a moment, then kill the group.
        let grace = Duration::from_secs(2);
        let (out, err) = match (stdout.recv_timeout(grace), stderr.recv_timeout(grace)) {
            (Ok(o), Ok(e)) => (o, e),
            (o, e) => {
                kill_group(&mut child);
                let o = o.or_else(|_| stdout.recv()).unwrap_or_default();
                let e = e.or_else(|_| stderr.recv()).unwrap_or_default();
                (o, e)
            }
        };
        let wall = start.elapsed().as_secs_f64();
        if !status.success() {
            return Err(fail(format!(
                "command exited with {status}; stderr: {}",
                tail(&err, 400)
            )));
        }
        parse_result(&out, wall).map_err(|r| fail(format!("{r}; stdout: {}", tail(&out, 400))))
    }
}

impl Evaluator<Cell> for CommandEvaluator {
    fn evaluate(&self, cell: &Cell, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        self.run(cell, seed)
    }
}

/// Parses the last line of `stdout` that starts with `{` into an [`Outcome`]; `wall` is the
/// cost used when the line has no `cost_seconds`.
pub fn parse_result(stdout: &str, wall: f64) -> Result<Outcome, String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with('{'))
        .ok_or(
            "no JSON line {\"val_acc\": ..., \"test_acc\": ..., \"cost_seconds\": ...} on stdout",
        )?;
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
    let acc = |name: &str| -> Result<f64, String> {
        let x = obj
            .get(name)
            .ok_or(format!("the result line has no `{name}`"))?
            .as_f64()
            .ok_or(format!("`{name}` is not a number"))?;
        if x.is_finite() && (0.0..=100.0).contains(&x) {
            Ok(x)
        } else {
            Err(format!("`{name}` = {x} is not a percentage in [0, 100]"))
        }
    };
    let val_acc = acc("val_acc")?;
    let test_acc = acc("test_acc")?;
    let cost_seconds = match obj.get("cost_seconds") {
        None => wall,
        Some(c) => c
            .as_f64()
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or("`cost_seconds` is not a non-negative number")?,
    };
    let extras = obj
        .iter()
        .filter(|(k, _)| !["val_acc", "test_acc", "cost_seconds"].contains(&k.as_str()))
        .filter_map(|(k, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (k.clone(), x)))
        .collect();
    Ok(Outcome {
        val_acc,
        test_acc: Some(test_acc),
        cost_seconds,
        extras,
    })
}

fn read_in_background<R: Read + Send + 'static>(
    r: Option<R>,
) -> crossbeam::channel::Receiver<String> {
    let (tx, rx) = crossbeam::channel::bounded(1);
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            // Keep at most the last 1 MiB.
            let mut chunk = [0u8; 8192];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 << 20 {
                    buf.drain(..buf.len() - (1 << 20));
                }
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
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

fn tail(s: &str, max: usize) -> String {
    let t = s.trim();
    let start = t.len().saturating_sub(max);
    let start = (start..=t.len())
        .find(|&i| t.is_char_boundary(i))
        .unwrap_or(t.len());
    format!("{:?}", &t[start..])
}

/// A spec file in the temp directory, deleted on drop.
struct SpecFile {
    path: PathBuf,
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
        std::fs::write(&path, serde_json::to_vec_pretty(spec)?)?;
        Ok(SpecFile { path })
    }
}

impl Drop for SpecFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines() {
        let o = parse_result(
            "log\n{\"val_acc\": 1}\nmore\n{\"val_acc\": 91.5, \"test_acc\": 90, \"cost_seconds\": 12, \"params\": 3}\n",
            7.0,
        )
        .unwrap();
        assert_eq!(
            (o.val_acc, o.test_acc, o.cost_seconds),
            (91.5, Some(90.0), 12.0)
        );
        assert_eq!(o.extras, vec![("params".to_string(), 3.0)]);
        let o = parse_result("{\"val_acc\": 50, \"test_acc\": 40}", 7.0).unwrap();
        assert_eq!(o.cost_seconds, 7.0);
        for (bad, why) in [
            ("nothing", "no JSON line"),
            ("{\"val_acc\": 50", "bad JSON"),
            ("{\"test_acc\": 50}", "no `val_acc`"),
            ("{\"val_acc\": 150, \"test_acc\": 1}", "percentage"),
            ("{\"val_acc\": \"x\", \"test_acc\": 1}", "not a number"),
            ("{\"error\": \"out of memory\"}", "out of memory"),
        ] {
            let e = parse_result(bad, 1.0).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
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
}
