//! The `[evaluator.slurm]` table and the checks made before anything is submitted.

use crate::command::check_command;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// The placeholder a Slurm command has beyond the command evaluator's
/// ([`crate::command::PLACEHOLDERS`]): `{emprox}`, the path of the running emprox binary, so
/// that a job can run `emprox train-one`.
pub const EMPROX_PLACEHOLDER: &str = "emprox";

fn default_poll_seconds() -> f64 {
    5.0
}

/// The `[evaluator] type = "slurm"` table: one batch job per candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// Program and arguments run inside the job, with placeholders (required, non-empty).
    pub command: Vec<String>,
    /// `--partition` (default: the cluster's default partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--time`, Slurm's time limit: `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
    /// `days-hours`, `days-hours:minutes` or `days-hours:minutes:seconds` (default: the
    /// partition's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `--cpus-per-task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `4G` or `500M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// `--gres`, e.g. `gpu:1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// `--account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `--qos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<String>,
    /// More `sbatch` options, each one `#SBATCH` line, e.g. `["--constraint=a100"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbatch_args: Vec<String>,
    /// Working directory of the job (default: the folder emprox runs in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    /// Environment variables exported in the job script (the rest is what `sbatch` passes on).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The longest pause, in seconds, between two questions to the scheduler about a job
    /// (default 5; the pause starts at 0.1 s and doubles; the job's output file is looked at
    /// every 50 ms).
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: f64,
    /// Which field of the result line is the objective, and its goal (as in
    /// `[evaluator.command]`: [`crate::command::ResultObjective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<crate::command::ResultObjective>,
    /// The fidelities the command accepts in `{fidelity}`, ascending, the last the full one
    /// (as in `[evaluator.command]`; default none: one fidelity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fidelities: Vec<f64>,
}

/// A Slurm config that cannot work, or a cluster that cannot take its jobs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SlurmConfigError(pub String);

/// Minutes in a Slurm time limit, or `None` for a malformed one. Accepts Slurm's formats
/// (`M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`) and `UNLIMITED`/`INFINITE`
/// (`Some(u64::MAX)`); seconds round up to a minute, as Slurm does.
pub fn time_limit_minutes(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") || s.eq_ignore_ascii_case("infinite") {
        return Some(u64::MAX);
    }
    let num = |t: &str| -> Option<u64> {
        (!t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(num(d)?), r),
        None => (None, s),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Option<_>>()?;
    let (h, m, sec) = match (days, parts.as_slice()) {
        (None, [m]) => (0, *m, 0),
        (None, [m, s]) => (0, *m, *s),
        (None, [h, m, s]) | (Some(_), [h, m, s]) => (*h, *m, *s),
        (Some(_), [h]) => (*h, 0, 0),
        (Some(_), [h, m]) => (*h, *m, 0),
        _ => return None,
    };
    if days.is_some() && h >= 24 || parts.len() > 1 && (sec >= 60 || (parts.len() == 3 && m >= 60))
    {
        return None;
    }
    Some(days.unwrap_or(0) * 1440 + h * 60 + m + sec.div_ceil(60))
}

impl SlurmConfig {
    /// Checks the table itself (no scheduler needed): the command, its placeholders, the time
    /// limit, memory, CPUs and the poll interval.
    pub fn validate(&self) -> Result<(), SlurmConfigError> {
        let err = |m: String| Err(SlurmConfigError(m));
        let known = [
            &crate::command::PLACEHOLDERS[..],
            &crate::command::FIDELITY_PLACEHOLDERS[..],
            &[EMPROX_PLACEHOLDER],
        ]
        .concat();
        check_command(
            &self.command,
            &known,
            "[\"{emprox}\", \"train-one\", \"--arch\", \"{arch}\"]",
        )
        .map_err(SlurmConfigError)?;
        crate::command::check_fidelities(&self.command, &self.fidelities)
            .map_err(SlurmConfigError)?;
        if let Some(t) = &self.time {
            match time_limit_minutes(t) {
                Some(0) => return err(format!("`time` = {t:?} is zero: Slurm's shortest time limit is 1 minute")),
                Some(_) => {}
                None => {
                    return err(format!(
                        "`time` = {t:?} is not a Slurm time limit: use minutes (\"30\"), \
                         \"hours:minutes:seconds\" (\"2:00:00\") or \"days-hours:minutes:seconds\" (\"1-12:00:00\")"
                    ))
                }
            }
        }
        if let Some(m) = &self.mem {
            let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || m.len() > digits.len() + 1
            {
                return err(format!(
                    "`mem` = {m:?} is not a Slurm memory size: a number with an optional unit K, M, G or T (\"4G\")"
                ));
            }
        }
        if self.cpus_per_task == Some(0) {
            return err("`cpus_per_task` must be at least 1".into());
        }
        for (key, v) in [
            ("partition", &self.partition),
            ("gres", &self.gres),
            ("account", &self.account),
            ("qos", &self.qos),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return err(format!("`{key}` = {v:?} must be one word"));
                }
            }
        }
        for a in &self.sbatch_args {
            if !a.starts_with('-') || a.contains('\n') {
                return err(format!(
                    "`sbatch_args` entry {a:?} is not an sbatch option (it must start with `-`, one option per entry)"
                ));
            }
        }
        for k in self.env.keys() {
            let ok = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return err(format!("`env` key {k:?} is not a variable name"));
            }
        }
        if !(self.poll_seconds.is_finite()
            && self.poll_seconds > 0.0
            && self.poll_seconds <= 3600.0)
        {
            return err(format!(
                "`poll_seconds` must be a positive number of seconds up to 3600, got {}",
                self.poll_seconds
            ));
        }
        crate::command::check_working_dir(self.working_dir.as_deref()).or_else(err)?;
        crate::command::check_result_objective(self.objective.as_ref()).or_else(err)
    }

    /// Checks that the cluster can take the jobs: the Slurm commands are on `PATH`, the
    /// scheduler answers, and the partition (if one is named) exists.
    pub fn check_cluster(&self) -> Result<(), SlurmConfigError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        for tool in ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] {
            if !std::env::split_paths(&path).any(|d| crate::command::is_executable(&d.join(tool))) {
                return Err(SlurmConfigError(format!(
                    "`{tool}` is not on PATH: the slurm evaluator needs Slurm's commands (run emprox \
                     where `sbatch` works, e.g. a login node; to test on this machine start the \
                     local cluster with .ci/slurm/start)"
                )));
            }
        }
        let sinfo = |args: &[&str]| -> Result<String, SlurmConfigError> {
            let out = Command::new("sinfo")
                .args(args)
                .output()
                .map_err(|e| SlurmConfigError(format!("cannot run sinfo: {e}")))?;
            if !out.status.success() {
                return Err(SlurmConfigError(format!(
                    "the Slurm scheduler does not answer (`sinfo {}` failed: {})",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                        .trim()
                        .replace('\n', " ")
                )));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let all = sinfo(&["-h", "-o", "%P"])?;
        if let Some(p) = &self.partition {
            let known: Vec<&str> = all
                .lines()
                .map(|l| l.trim().trim_end_matches('*'))
                .filter(|l| !l.is_empty())
                .collect();
            if !known.contains(&p.as_str()) {
                return Err(SlurmConfigError(format!(
                    "unknown partition {p:?}; this cluster has: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_in_slurms_formats() {
        for (s, m) in [
            ("30", 30),
            ("0:30", 1),
            ("1:30", 2),
            ("2:00:00", 120),
            ("1-0", 1440),
            ("1-12:30", 2190),
            ("2-01:00:01", 2941),
            ("UNLIMITED", u64::MAX),
        ] {
            assert_eq!(time_limit_minutes(s), Some(m), "{s}");
        }
        for bad in [
            "", "1h", "1:2:3:4", "-5", "1-25", "10:61", "1:60:00", "abc", "1.5",
        ] {
            assert_eq!(time_limit_minutes(bad), None, "{bad}");
        }
    }

    fn config(extra: &str) -> Result<SlurmConfig, String> {
        let c: SlurmConfig = toml::from_str(&format!("command = [\"x\", \"{{arch}}\"]\n{extra}"))
            .map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn validation_names_the_bad_key() {
        let c = config("time = \"0:05\"\npartition = \"gpu\"\nmem = \"4G\"").unwrap();
        assert_eq!(c.poll_seconds, 5.0);
        for (extra, why) in [
            ("time = \"1h\"", "not a Slurm time limit"),
            ("time = \"0\"", "shortest time limit"),
            ("mem = \"4GB\"", "memory size"),
            ("cpus_per_task = 0", "at least 1"),
            ("partition = \"a b\"", "one word"),
            ("sbatch_args = [\"constraint=x\"]", "not an sbatch option"),
            ("poll_seconds = 0", "poll_seconds"),
            ("timeout_seconds = 5", "unknown field"),
            ("env = { \"A-B\" = \"1\" }", "variable name"),
        ] {
            let e = config(extra).unwrap_err();
            assert!(e.contains(why), "{extra}: {e}");
        }
        let c: SlurmConfig = toml::from_str("command = [\"x\", \"{archh}\"]").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("unknown placeholder {archh}") && e.contains("{emprox}"),
            "{e}"
        );
    }
}
