//! `slurm/jobs.jsonl` in a run folder: every submission, written before `sbatch` runs (with the
//! job's unique name) and again as soon as `sbatch` returns the id (before the job is waited
//! for), and every job emprox cancelled. On resume, a query whose job is in the ledger is waited
//! for or read back instead of submitted again; a submission without its id (emprox was killed
//! while `sbatch` ran) is looked up by its name.
//!
//! Also the `slurm_job` record of `timings.jsonl`: job id, final state, queue wait, run time.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The ledger's file name, in the run folder's `slurm/`.
pub const FILE: &str = "jobs.jsonl";

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// A job named `job_name` is about to be submitted for query `query` (written before
    /// `sbatch` runs).
    Submitting {
        /// The query.
        query: u64,
        /// The cell's architecture string.
        arch: String,
        /// The trial seed.
        seed: u64,
        /// The job's name, unique to this submission.
        job_name: String,
        /// Unix time just before `sbatch` was run.
        submitted_at: f64,
    },
    /// A job was submitted for query `query` (cell `arch`, trial seed `seed`).
    Submitted {
        /// The query.
        query: u64,
        /// The cell's architecture string.
        arch: String,
        /// The trial seed.
        seed: u64,
        /// Slurm's job id.
        job_id: String,
        /// The job's name (as in its `submitting` entry).
        job_name: String,
        /// Unix time just before `sbatch` was run.
        submitted_at: f64,
    },
    /// emprox cancelled the job (Ctrl-C, SIGTERM): a resume submits the query again.
    Cancelled {
        /// The query.
        query: u64,
        /// Slurm's job id.
        job_id: String,
    },
}

/// The `slurm_job` record of `timings.jsonl` (`kind = "slurm_job"`): one per finished job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTiming {
    /// The query (as in `trials.jsonl`).
    pub query: u64,
    /// Slurm's job id.
    pub job_id: String,
    /// The job's final state (`COMPLETED`, `FAILED`, `TIMEOUT`, `CANCELLED`, ...; `UNKNOWN`
    /// when Slurm had forgotten the job and it left no exit marker).
    pub state: String,
    /// Seconds from submission to the job's start (`null` if it never started, or the start
    /// is unknown).
    pub queue_seconds: Option<f64>,
    /// Seconds the job ran (`null` if unknown).
    pub run_seconds: Option<f64>,
    /// The job was submitted by an earlier, interrupted emprox and waited for or read back.
    pub resumed: bool,
}

/// A job found in the ledger for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Slurm's job id; `None` when emprox stopped while `sbatch` ran.
    pub job_id: Option<String>,
    /// The job's name.
    pub job_name: String,
    /// Unix time of the submission.
    pub submitted_at: f64,
    /// emprox cancelled it.
    pub cancelled: bool,
}

/// The ledger of one run folder.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// The ledger in `slurm_dir` (the run folder's `slurm/`).
    pub fn new(slurm_dir: &Path) -> Ledger {
        Ledger {
            path: slurm_dir.join(FILE),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry as one `write`, synced (a job id must survive a crash).
    pub fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("ledger entries serialise");
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // A torn last line (a crash mid-write) must not swallow this one.
        if f.metadata()?.len() > 0 && !ends_with_newline(&self.path)? {
            line.insert(0, b'\n');
        }
        f.write_all(&line)?;
        f.sync_data()
    }

    /// Every readable entry (a torn or foreign line is skipped).
    pub fn entries(&self) -> Vec<Entry> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last job submitted for `query` on `arch` with trial seed `seed`, if any.
    pub fn find(&self, query: u64, arch: &str, seed: u64) -> Option<Found> {
        let mut found: Option<Found> = None;
        for e in self.entries() {
            match e {
                Entry::Submitting {
                    query: q,
                    arch: a,
                    seed: s,
                    job_name,
                    submitted_at,
                } if q == query && a == arch && s == seed => {
                    found = Some(Found {
                        job_id: None,
                        job_name,
                        submitted_at,
                        cancelled: false,
                    })
                }
                Entry::Submitted {
                    query: q,
                    arch: a,
                    seed: s,
                    job_id,
                    job_name,
                    submitted_at,
                } if q == query && a == arch && s == seed => {
                    found = Some(Found {
                        job_id: Some(job_id),
                        job_name,
                        submitted_at,
                        cancelled: false,
                    })
                }
                Entry::Cancelled { job_id, .. } => {
                    if let Some(f) = found
                        .as_mut()
                        .filter(|f| f.job_id.as_ref() == Some(&job_id))
                    {
                        f.cancelled = true;
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// Every job id the ledger names.
    pub fn job_ids(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Submitted { job_id, .. } | Entry::Cancelled { job_id, .. } => Some(job_id),
                Entry::Submitting { .. } => None,
            })
            .collect()
    }
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_last_job_of_a_query_and_whether_it_was_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::new(dir.path());
        assert_eq!(l.find(1, "a", 7), None);
        let sub = |q: u64, arch: &str, id: &str| Entry::Submitted {
            query: q,
            arch: arch.into(),
            seed: 7,
            job_id: id.into(),
            job_name: format!("n{id}"),
            submitted_at: 1.5,
        };
        l.append(&sub(1, "a", "10")).unwrap();
        l.append(&sub(2, "b", "11")).unwrap();
        assert_eq!(l.find(1, "a", 7).unwrap().job_id.as_deref(), Some("10"));
        assert_eq!(l.find(1, "b", 7), None, "another cell at that query");
        assert_eq!(l.find(1, "a", 8), None, "another seed");
        l.append(&Entry::Cancelled {
            query: 1,
            job_id: "10".into(),
        })
        .unwrap();
        assert!(l.find(1, "a", 7).unwrap().cancelled);
        // A torn line is skipped, and the next entry starts on a line of its own.
        std::fs::OpenOptions::new()
            .append(true)
            .open(l.path())
            .unwrap()
            .write_all(b"{\"event\":\"subm")
            .unwrap();
        l.append(&Entry::Submitting {
            query: 1,
            arch: "a".into(),
            seed: 7,
            job_name: "n12".into(),
            submitted_at: 2.5,
        })
        .unwrap();
        // Stopped while sbatch ran: the name, no id yet.
        let f = l.find(1, "a", 7).unwrap();
        assert_eq!(
            (f.job_id, f.job_name.as_str(), f.cancelled),
            (None, "n12", false)
        );
        l.append(&sub(1, "a", "12")).unwrap();
        let f = l.find(1, "a", 7).unwrap();
        assert_eq!((f.job_id.as_deref(), f.cancelled), (Some("12"), false));
        assert_eq!(l.job_ids(), ["10", "11", "10", "12"]);
        assert_eq!(l.entries().len(), 5);
    }
}
