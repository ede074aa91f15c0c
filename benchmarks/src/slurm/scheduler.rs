//! Talking to Slurm: `sbatch --parsable`, `scontrol show job` (with `sacct` as a fallback once
//! the controller has forgotten a job), and `scancel`.

use std::process::Command;

/// What the scheduler says about a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    /// Queued, running, completing or otherwise not finished.
    Active {
        /// `PENDING`, `RUNNING`, `COMPLETING`, ...
        state: String,
    },
    /// Finished, in one of Slurm's final states.
    Ended {
        /// `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `NODE_FAIL`, `OUT_OF_MEMORY`, ...
        state: String,
        /// The scheduler's reason (`TimeLimit`, `NonZeroExitCode`, ...), if it gives one.
        reason: Option<String>,
        /// Seconds the job ran, if known.
        run_seconds: Option<f64>,
    },
    /// Neither the controller nor accounting knows the job (any more).
    Unknown,
}

/// Slurm's final job states.
const FINAL: [&str; 11] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
    "SPECIAL_EXIT",
    "REVOKED",
];

/// Submits `script` with `sbatch --parsable`; the job id.
pub fn submit(script: &std::path::Path) -> Result<String, String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run sbatch: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "sbatch refused the job ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " ")
        ));
    }
    parse_job_id(&stdout).ok_or_else(|| format!("sbatch printed no job id: {:?}", stdout.trim()))
}

/// The job id in `sbatch --parsable`'s output (`id` or `id;cluster`).
pub fn parse_job_id(stdout: &str) -> Option<String> {
    let id = stdout.lines().rfind(|l| !l.trim().is_empty())?.trim();
    let id = id.split(';').next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'_')).then(|| id.to_string())
}

/// The id of the job named `name` that the controller knows (queued, running, or ended less
/// than `MinJobAge` ago), if any.
pub fn find_by_name(name: &str) -> Result<Option<String>, String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%i", "--name", name])
        .output()
        .map_err(|e| format!("cannot run squeue: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "squeue --name {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_job_id(&String::from_utf8_lossy(&out.stdout)))
}

/// Asks the scheduler about job `id`. An `Err` is a failure to ask (the controller is busy or
/// down), to be retried.
pub fn status(id: &str) -> Result<JobStatus, String> {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .map_err(|e| format!("cannot run scontrol: {e}"))?;
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(s) = parse_scontrol(&text) {
            return Ok(s);
        }
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.contains("Invalid job id") {
        return Err(format!("scontrol show job {id}: {}", err.trim()));
    }
    // The controller forgot it (MinJobAge): accounting may remember.
    Ok(sacct(id).unwrap_or(JobStatus::Unknown))
}

/// The fields of one line of `scontrol show job -o`: `Key=Value` pairs separated by spaces,
/// where a value may itself hold spaces (`Reason=(ReqNodeNotAvail, ...)`).
fn fields(line: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for token in line.split(' ') {
        let key = token.split_once('=').map(|(k, _)| k).filter(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/:_".contains(&b))
        });
        match (key, out.last_mut()) {
            (Some(k), _) => out.push((k, token[k.len() + 1..].to_string())),
            (None, Some(last)) => {
                last.1.push(' ');
                last.1.push_str(token);
            }
            (None, None) => {}
        }
    }
    out
}

/// Parses `scontrol show job -o` output.
pub fn parse_scontrol(text: &str) -> Option<JobStatus> {
    let f = fields(text.lines().find(|l| l.contains("JobState="))?.trim());
    let get = |k: &str| f.iter().find(|(key, _)| *key == k).map(|(_, v)| v.trim());
    let state = get("JobState")?.to_string();
    if !FINAL.contains(&state.as_str()) {
        return Some(JobStatus::Active { state });
    }
    let reason = get("Reason")
        .filter(|r| !r.is_empty() && *r != "None")
        .map(str::to_string);
    Some(JobStatus::Ended {
        state,
        reason,
        run_seconds: get("RunTime").and_then(duration_seconds),
    })
}

/// Seconds in a Slurm duration `[D-]HH:MM:SS` (or `MM:SS`).
pub fn duration_seconds(s: &str) -> Option<f64> {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, s),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let secs = match parts.as_slice() {
        [h, m, s] => h * 3600 + m * 60 + s,
        [m, s] => m * 60 + s,
        _ => return None,
    };
    Some((days * 86400 + secs) as f64)
}

/// `sacct`'s record of job `id`, where accounting runs.
fn sacct(id: &str) -> Option<JobStatus> {
    let out = Command::new("sacct")
        .args(["-n", "-X", "-P", "-j", id, "-o", "State,Elapsed"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (state, elapsed) = text.lines().next()?.split_once('|')?;
    // `CANCELLED by 1000`: the state is the first word.
    let state = state.split_whitespace().next()?.to_string();
    Some(if FINAL.contains(&state.as_str()) {
        JobStatus::Ended {
            state,
            reason: None,
            run_seconds: duration_seconds(elapsed.trim()),
        }
    } else {
        JobStatus::Active { state }
    })
}

/// Cancels jobs (`scancel ID...`); the ids it was given, on success.
pub fn cancel(ids: &[String]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let out = Command::new("scancel")
        .args(ids)
        .output()
        .map_err(|e| format!("cannot run scancel: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scontrols_one_line_records() {
        let running = "JobId=12 JobName=emprox-q3 UserId=root(0) JobState=RUNNING Reason=None \
                       ExitCode=0:0 RunTime=00:00:04 TimeLimit=00:01:00";
        assert_eq!(
            parse_scontrol(running),
            Some(JobStatus::Active {
                state: "RUNNING".into()
            })
        );
        let timeout = "JobId=1 JobName=wrap JobState=TIMEOUT Reason=TimeLimit Dependency=(null) \
                       ExitCode=0:15 RunTime=00:01:21 TimeLimit=00:01:00";
        assert_eq!(
            parse_scontrol(timeout),
            Some(JobStatus::Ended {
                state: "TIMEOUT".into(),
                reason: Some("TimeLimit".into()),
                run_seconds: Some(81.0),
            })
        );
        let pending = "JobId=5 JobState=PENDING Reason=(ReqNodeNotAvail, UnavailableNodes:n1) Dependency=(null)";
        assert!(matches!(
            parse_scontrol(pending),
            Some(JobStatus::Active { .. })
        ));
        let f = fields(pending);
        assert_eq!(
            f[2],
            (
                "Reason",
                "(ReqNodeNotAvail, UnavailableNodes:n1)".to_string()
            )
        );
        assert_eq!(parse_scontrol("no job here"), None);
    }

    #[test]
    fn reads_job_ids_and_durations() {
        assert_eq!(parse_job_id("42\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("42;cluster1\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("Submitted batch job 42"), None);
        assert_eq!(duration_seconds("1-02:03:04"), Some(93784.0));
        assert_eq!(duration_seconds("03:04"), Some(184.0));
        assert_eq!(duration_seconds("x"), None);
    }
}
