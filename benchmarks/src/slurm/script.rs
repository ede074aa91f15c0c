//! The job script emprox writes for each candidate, and the markers it prints around the
//! command so that emprox can read the start, the end and the exit code from the output file,
//! even after the scheduler has forgotten the job.

use super::config::SlurmConfig;
use std::fmt::Write as _;
use std::path::Path;

/// Printed (with the Unix time) when the job starts.
pub const START: &str = "EMPROX_JOB_START";
/// Printed (with the command's exit code and the Unix time) when the command ends.
pub const EXIT: &str = "EMPROX_JOB_EXIT";

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job script: `#SBATCH` options from `config` (job name, output and error files, working
/// directory, then partition, time, CPUs, memory, GRES, account, QoS and `sbatch_args`), the
/// exported `env`, and `args` between the start and exit markers.
pub fn job_script(
    config: &SlurmConfig,
    name: &str,
    output: &Path,
    error: &Path,
    workdir: &Path,
    args: &[String],
) -> String {
    let mut s = String::from("#!/bin/bash\n# Written by emprox: one candidate of a search.\n");
    let mut opt = |o: String| {
        let _ = writeln!(s, "#SBATCH {o}");
    };
    opt(format!("--job-name={name}"));
    opt(format!("--output={}", output.display()));
    opt(format!("--error={}", error.display()));
    opt(format!("--chdir={}", workdir.display()));
    opt("--nodes=1".into());
    opt("--ntasks=1".into());
    let named = [
        ("partition", &config.partition),
        ("time", &config.time),
        ("mem", &config.mem),
        ("gres", &config.gres),
        ("account", &config.account),
        ("qos", &config.qos),
    ];
    for (key, value) in named {
        if let Some(v) = value {
            opt(format!("--{key}={v}"));
        }
    }
    if let Some(c) = config.cpus_per_task {
        opt(format!("--cpus-per-task={c}"));
    }
    for a in &config.sbatch_args {
        opt(a.clone());
    }
    for (k, v) in &config.env {
        let _ = writeln!(s, "export {k}={}", quote(v));
    }
    let command: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let _ = write!(
        s,
        "echo \"{START} $(date +%s.%N)\"\n{}\ncode=$?\necho \"{EXIT} $code $(date +%s.%N)\"\nexit $code\n",
        command.join(" ")
    );
    s
}

/// What the markers in a job's output say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Markers {
    /// Unix time the job started.
    pub started: Option<f64>,
    /// The command's exit code and the Unix time it ended.
    pub exited: Option<(i32, f64)>,
}

/// Reads the markers of a job's output.
pub fn markers(output: &str) -> Markers {
    let mut m = Markers {
        started: None,
        exited: None,
    };
    for line in output.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some(START) => m.started = w.next().and_then(|t| t.parse().ok()),
            Some(EXIT) => {
                let code = w.next().and_then(|c| c.parse().ok());
                let time = w.next().and_then(|t| t.parse().ok());
                if let (Some(c), Some(t)) = (code, time) {
                    m.exited = Some((c, t));
                }
            }
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_quotes_arguments_and_carries_every_option() {
        let config: SlurmConfig = toml::from_str(
            "command = [\"x\"]\npartition = \"gpu\"\ntime = \"1:00:00\"\ngres = \"gpu:1\"\n\
             cpus_per_task = 4\nmem = \"8G\"\naccount = \"lab\"\nqos = \"high\"\n\
             sbatch_args = [\"--constraint=a100\"]\nenv = { OMP_NUM_THREADS = \"4\" }",
        )
        .unwrap();
        let s = job_script(
            &config,
            "emprox-q1",
            Path::new("/r/q1-%j.out"),
            Path::new("/r/q1-%j.err"),
            Path::new("/w"),
            &["python3".into(), "it's.py".into(), "|a~0|+|b~1|".into()],
        );
        for line in [
            "#SBATCH --job-name=emprox-q1",
            "#SBATCH --output=/r/q1-%j.out",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=1:00:00",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=8G",
            "#SBATCH --account=lab",
            "#SBATCH --qos=high",
            "#SBATCH --constraint=a100",
            "export OMP_NUM_THREADS='4'",
            r"'python3' 'it'\''s.py' '|a~0|+|b~1|'",
        ] {
            assert!(s.lines().any(|l| l == line), "{line} missing from\n{s}");
        }
    }

    #[test]
    fn markers_give_start_end_and_exit_code() {
        let m =
            markers("EMPROX_JOB_START 100.5\nlog\n{\"val_acc\": 1}\nEMPROX_JOB_EXIT 3 110.25\n");
        assert_eq!(m.started, Some(100.5));
        assert_eq!(m.exited, Some((3, 110.25)));
        assert_eq!(markers("EMPROX_JOB_START 1\n").exited, None);
        assert_eq!(
            markers("EMPROX_JOB_EXIT 0\n").exited,
            None,
            "a line cut short"
        );
    }

    #[test]
    fn the_script_runs_and_reports_its_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let config: SlurmConfig = toml::from_str("command = [\"x\"]").unwrap();
        let s = job_script(
            &config,
            "n",
            &dir.path().join("o"),
            &dir.path().join("e"),
            dir.path(),
            &["sh".into(), "-c".into(), "echo '{\"a\": 1}'; exit 4".into()],
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&s)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4));
        let text = String::from_utf8(out.stdout).unwrap();
        let m = markers(&text);
        assert!(m.started.unwrap() <= m.exited.unwrap().1);
        assert_eq!(m.exited.unwrap().0, 4);
        assert!(text.contains("{\"a\": 1}"));
    }
}
