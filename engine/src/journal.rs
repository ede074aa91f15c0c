//! The append-only trial journal (`trials.jsonl`): one JSON object per evaluated cell, written
//! and flushed line by line, never rewritten. Nothing in it depends on the machine's speed.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One evaluated cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    /// Run number within the experiment (0-based; the run's folder is `seed-<run>`).
    pub run: u64,
    /// 1-based query number.
    pub query: u64,
    /// Index of the cell in the benchmark (its row), where the space has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Architecture string.
    pub arch: String,
    /// The fidelity the cell was evaluated at (epochs: 12 or 200 on NAS-Bench-201), on every
    /// line of a run with a `[scheduler]`; absent: the benchmark's only (full) fidelity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<f64>,
    /// This query's own validation accuracy (%): the search signal (the incumbent's is
    /// `best_val_acc` in `trajectory.csv`). `None` for a failed evaluation.
    pub val_acc: Option<f64>,
    /// Test accuracy (%): reported only (`null` for a failed evaluation or a table without a
    /// test column).
    pub test_acc: Option<f64>,
    /// Simulated training seconds of this query (the benchmark's; `null` when the cost is
    /// measured wall-clock time, which goes to `timings.jsonl`).
    pub cost_seconds: Option<f64>,
    /// Cumulative simulated training seconds after this query (`null` as above).
    pub sim_seconds: Option<f64>,
    /// True when this cell became the best so far (by validation accuracy).
    pub incumbent: bool,
    /// The estimator's predicted score, in the objective's units, when a filter chose this cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<f64>,
    /// Why the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The outcome's other metrics (params, FLOPs, device latencies, ...), a JSON object in the
    /// evaluator's order, so that every objective of a run is in its journal. Written for a
    /// benchmark's simulated evaluations (table lookups, deterministic); absent when there are
    /// none, for a failed evaluation, and for measured evaluations, whose extras may hold
    /// wall-clock values (a trainer's images per second) that the journal must not.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "extras_object")]
    pub extras: Vec<(String, f64)>,
}

/// `Vec<(name, value)>` as a JSON object that keeps the order of the names (a NaN, which JSON
/// cannot hold, is written as `null` and read back as NaN).
pub(crate) mod extras_object {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(v.len()))?;
        for (name, value) in v {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Vec<(String, f64)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Option<f64>>()? {
                    out.push((name, value.unwrap_or(f64::NAN)));
                }
                Ok(out)
            }
        }
        d.deserialize_map(Entries)
    }
}

/// One record of `timings.jsonl` (wall-clock times, kept out of the deterministic journal):
/// one schema per `kind`, every field always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Timing {
    /// One evaluation.
    Evaluation {
        /// The query (as in `trials.jsonl`).
        query: u64,
        /// Wall seconds from proposal to result.
        wall_seconds: f64,
        /// The evaluator's measured cost (`null` for a table's simulated cost, which is in the
        /// journal).
        cost_seconds: Option<f64>,
        /// Answered from the result cache.
        cached: bool,
    },
    /// One fit of the estimator.
    EstimatorFit {
        /// Queries made before the fit.
        after_query: u64,
        /// Training set size.
        train_size: usize,
        /// Wall seconds.
        wall_seconds: f64,
    },
    /// One scoring of a candidate pool.
    EstimatorQuery {
        /// Queries made before the scoring.
        after_query: u64,
        /// Candidates scored.
        pool_size: usize,
        /// Wall seconds.
        wall_seconds: f64,
    },
    /// One Slurm job (written by the Slurm evaluator when the job ends): job id, final state,
    /// queue wait and run time.
    SlurmJob(emprox_benchmarks::slurm::ledger::JobTiming),
}

/// A journal open for appending.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    sync: bool,
}

/// An I/O error on a journal or results file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

impl JournalWriter {
    /// Opens (creating if needed) a JSONL file for appending.
    pub fn append(path: &Path) -> Result<Self, WriteError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| WriteError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            sync: false,
        })
    }

    /// Syncs every record to the disk before `write` returns (`fdatasync`), so that a power
    /// loss keeps it. Worth its cost when each record stands for seconds of evaluation.
    pub fn synced(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// [`JournalWriter::synced`] from the next record on.
    pub fn set_synced(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Appends one record as a single line, written with one system call.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<(), WriteError> {
        let mut line = serde_json::to_vec(record).expect("records serialise");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| {
                if self.sync {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(|source| WriteError {
                path: self.path.clone(),
                source,
            })
    }
}

/// What was read back from a journal.
#[derive(Debug)]
pub struct JournalContents<T> {
    /// The complete records, in order.
    pub records: Vec<T>,
    /// Byte length of the valid prefix (complete lines).
    pub valid_len: u64,
    /// A half-written last line that was discarded, if any.
    pub discarded_tail: Option<String>,
}

/// A journal that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O failure.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A complete line that is not a valid record.
    #[error("{path}:{line}: not a valid journal record ({reason})")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Reads a JSONL journal. A last line without its newline (a write cut short by a crash) is
/// discarded and reported; any other invalid line is an error.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<JournalContents<T>, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path)
}

/// Parses the bytes of a JSONL journal read from `path` (see [`read`]).
pub fn parse<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    path: &Path,
) -> Result<JournalContents<T>, ReadError> {
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = &bytes[complete..];
    let mut records = Vec::new();
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let rec = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(s).map_err(|e| e.to_string()))
            .map_err(|reason| ReadError::Corrupt {
                path: path.to_path_buf(),
                line: i + 1,
                reason,
            })?;
        records.push(rec);
    }
    Ok(JournalContents {
        records,
        valid_len: complete as u64,
        discarded_tail: (!tail.is_empty()).then(|| String::from_utf8_lossy(tail).into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(q: u64) -> Trial {
        Trial {
            run: 2,
            query: q,
            index: Some(q * 7),
            arch: "a".into(),
            fidelity: None,
            val_acc: Some(90.0 + q as f64),
            test_acc: Some(91.0),
            cost_seconds: Some(1.5),
            sim_seconds: Some(1.5 * q as f64),
            incumbent: true,
            predicted: None,
            error: None,
            extras: vec![],
        }
    }

    #[test]
    fn extras_are_an_ordered_object_absent_when_empty() {
        let plain = serde_json::to_string(&trial(1)).unwrap();
        assert!(!plain.contains("extras"), "{plain}");
        let t = Trial {
            extras: vec![
                ("latency_pixel3_ms".into(), 3.60585),
                ("c10_flops_M".into(), 17.9586),
                ("nan".into(), f64::NAN),
            ],
            ..trial(1)
        };
        let line = serde_json::to_string(&t).unwrap();
        assert!(
            line.ends_with(
                r#","extras":{"latency_pixel3_ms":3.60585,"c10_flops_M":17.9586,"nan":null}}"#
            ),
            "{line}"
        );
        let back: Trial = serde_json::from_str(&line).unwrap();
        assert_eq!(back.extras[..2], t.extras[..2]);
        assert_eq!(back.extras[2].0, "nan");
        assert!(back.extras[2].1.is_nan());
        let old: Trial = serde_json::from_str(&plain).unwrap();
        assert_eq!(old, trial(1));
        assert!(serde_json::from_str::<Trial>(&line.replace("3.60585", "\"x\"")).is_err());
    }

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.jsonl");
        let mut w = JournalWriter::append(&p).unwrap();
        w.write(&trial(1)).unwrap();
        w.write(&trial(2)).unwrap();
        drop(w);
        let full = std::fs::read(&p).unwrap();
        let r = read::<Trial>(&p).unwrap();
        assert_eq!(r.records, vec![trial(1), trial(2)]);
        assert!(r.discarded_tail.is_none());
        // Cut the last line in half.
        std::fs::write(&p, &full[..full.len() - 10]).unwrap();
        let r = read::<Trial>(&p).unwrap();
        assert_eq!(r.records, vec![trial(1)]);
        assert!(r.discarded_tail.is_some());
        // A corrupt complete line is an error naming the line.
        std::fs::write(&p, b"{\"query\":1}\n").unwrap();
        let e = read::<Trial>(&p).unwrap_err().to_string();
        assert!(e.contains("trials.jsonl:1"), "{e}");
    }

    #[test]
    fn scores_read_back_bit_for_bit() {
        // serde_json's default float parser misreads this by one ulp (read back as
        // ...197): a cached or replayed score then differs from the one first written.
        let t = Trial {
            val_acc: Some(10.584958217270195),
            test_acc: Some(11.420612813370473),
            ..trial(1)
        };
        let back: Trial = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
        assert_eq!(
            back.val_acc.unwrap().to_bits(),
            t.val_acc.unwrap().to_bits()
        );
        assert_eq!(
            back.test_acc.unwrap().to_bits(),
            t.test_acc.unwrap().to_bits()
        );
    }

    #[test]
    fn timing_records_name_their_kind_and_keep_one_schema() {
        let keys = |t: &Timing| {
            let v = serde_json::to_value(t).unwrap();
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k.join(",")
        };
        let eval = |cost, cached| Timing::Evaluation {
            query: 3,
            wall_seconds: 0.5,
            cost_seconds: cost,
            cached,
        };
        assert_eq!(keys(&eval(None, false)), keys(&eval(Some(2.0), true)));
        assert_eq!(
            keys(&eval(None, false)),
            "cached,cost_seconds,kind,query,wall_seconds"
        );
        let fit = Timing::EstimatorFit {
            after_query: 20,
            train_size: 20,
            wall_seconds: 0.1,
        };
        let line = serde_json::to_string(&fit).unwrap();
        assert!(line.starts_with(r#"{"kind":"estimator_fit","#), "{line}");
        assert_eq!(serde_json::from_str::<Timing>(&line).unwrap(), fit);
    }
}
