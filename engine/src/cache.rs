//! Cache middleware: a result cache shared by runs (and processes) in a JSONL file, consulted
//! before a cell is evaluated and filled after. An evaluation is keyed by
//! [`Evaluation::key`]: (space, arch, dataset, evaluator config, trial seed).

use crate::evaluators::Evaluation;
use crate::journal::WriteError;
use emprox_benchmarks::evaluator::{EvalFailure, Outcome};
use emprox_benchmarks::workers::ResultCache;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A shared result cache backed by a JSONL file.
///
/// Several runs, and several processes, may share one cache: each append takes the file's
/// exclusive lock, starts on a new line even after a torn last line (a kill or a full disk in
/// the middle of an append), and is one write. Reading skips lines that are not complete,
/// valid records, and cached values that no evaluation could have produced, with a warning:
/// those cells are evaluated again.
pub struct CacheFile {
    path: PathBuf,
    inner: Mutex<(ResultCache, std::fs::File)>,
}

#[derive(Serialize, Deserialize)]
struct CacheLine {
    key: String,
    outcome: Outcome,
}

/// Checks a cached outcome: accuracies are percentages, the cost a non-negative number.
fn check_cached(o: &Outcome) -> Result<(), String> {
    for (name, x) in [("val_acc", Some(o.val_acc)), ("test_acc", o.test_acc)] {
        let Some(x) = x else { continue };
        if !(x.is_finite() && (0.0..=100.0).contains(&x)) {
            return Err(format!("`{name}` = {x} is not a percentage in [0, 100]"));
        }
    }
    if !(o.cost_seconds.is_finite() && o.cost_seconds >= 0.0) {
        return Err(format!(
            "`cost_seconds` = {} is not a non-negative number",
            o.cost_seconds
        ));
    }
    Ok(())
}

impl CacheFile {
    /// Opens (creating) a cache file and loads its valid entries.
    pub fn open(path: &Path) -> Result<CacheFile, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        let bytes = {
            file.lock_shared().map_err(|e| e.to_string())?;
            let bytes = std::fs::read(path);
            let _ = file.unlock();
            bytes.map_err(|e| e.to_string())?
        };
        let mut cache = ResultCache::new();
        let mut skipped = Vec::new();
        for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
            let parsed = if line.ends_with(b"\n") {
                serde_json::from_slice::<CacheLine>(line).map_err(|e| e.to_string())
            } else {
                Err("a torn last line".to_string())
            };
            match parsed.and_then(|l| check_cached(&l.outcome).map(|_| l)) {
                Ok(l) => cache.insert(l.key, &Ok(l.outcome)),
                Err(why) if line.iter().all(u8::is_ascii_whitespace) => drop(why),
                Err(why) => skipped.push(format!("line {}: {why}", i + 1)),
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "result cache {}: ignored {} invalid entr{} (evaluated again): {}",
                path.display(),
                skipped.len(),
                if skipped.len() == 1 { "y" } else { "ies" },
                skipped.join("; ")
            );
        }
        Ok(CacheFile {
            path: path.to_path_buf(),
            inner: Mutex::new((cache, file)),
        })
    }

    /// The cached outcome of `key`.
    pub fn get(&self, key: &str) -> Option<Outcome> {
        self.inner.lock().expect("cache lock").0.get(key).cloned()
    }

    /// Stores a result (successes only) and appends it to the file.
    pub fn put(
        &self,
        key: String,
        result: &Result<Outcome, EvalFailure>,
    ) -> Result<(), WriteError> {
        let Ok(o) = result else { return Ok(()) };
        let mut g = self.inner.lock().expect("cache lock");
        if g.0.get(&key).is_some() {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&CacheLine {
            key: key.clone(),
            outcome: o.clone(),
        })
        .expect("cache lines serialise");
        line.push(b'\n');
        append_locked(&mut g.1, &line).map_err(|source| WriteError {
            path: self.path.clone(),
            source,
        })?;
        g.0.insert(key, result);
        Ok(())
    }
}

/// Appends `line` under the file's exclusive lock, on a new line, with one write, synced.
fn append_locked(file: &mut std::fs::File, line: &[u8]) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    file.lock()?;
    let res = (|| {
        let len = file.seek(SeekFrom::End(0))?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        if len > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(line);
        // O_APPEND: the write goes to the end whatever the position.
        file.write_all(&buf)?;
        file.sync_data()
    })();
    let _ = file.unlock();
    res
}

/// What the cache says of one evaluation about to run.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The evaluation's key (`None` without a cache): where [`store`] puts the result.
    pub key: Option<String>,
    /// The cached outcome, if any.
    pub hit: Option<Outcome>,
}

/// Looks up the evaluation of the cell whose architecture string is `arch` with trial seed
/// `seed` in `ev`'s cache (computing its key once, for [`store`]).
pub fn lookup<C>(ev: &Evaluation<C>, arch: &str, seed: u64) -> Lookup {
    let Some(cache) = &ev.cache else {
        return Lookup::default();
    };
    let key = ev.key(arch, seed);
    Lookup {
        hit: cache.get(&key),
        key: Some(key),
    }
}

/// Stores the result of an evaluation looked up as `key` (a success only).
pub fn store<C>(
    ev: &Evaluation<C>,
    key: Option<String>,
    result: &Result<Outcome, EvalFailure>,
) -> Result<(), WriteError> {
    match (&ev.cache, key) {
        (Some(c), Some(k)) => c.put(k, result),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::Cell;
    use std::sync::Arc;

    struct Never;
    impl emprox_benchmarks::Evaluator<Cell> for Never {
        fn evaluate(&self, _: &Cell, _: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
            unreachable!("the cache tests evaluate nothing")
        }
    }

    fn outcome(v: f64) -> Outcome {
        Outcome {
            val_acc: v,
            test_acc: Some(v - 1.0),
            cost_seconds: 3.0,
            extras: vec![],
        }
    }

    #[test]
    fn a_stored_success_is_found_again_by_arch_and_seed_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let mut ev = Evaluation::<Cell>::table(
            Arc::new(Never),
            "nasbench201",
            "cifar10",
            emprox_benchmarks::Signal::accuracy(),
        );
        assert!(lookup(&ev, "|a|", 1).key.is_none(), "no cache, no key");
        ev.cache = Some(Arc::new(CacheFile::open(&path).unwrap()));
        let miss = lookup(&ev, "|a|", 1);
        assert!(miss.hit.is_none());
        assert_eq!(miss.key.as_deref(), Some(ev.key("|a|", 1).as_str()));
        store(&ev, miss.key, &Ok(outcome(90.0))).unwrap();
        let failure = EvalFailure {
            reason: "timeout".into(),
            cost_seconds: 1.0,
        };
        store(&ev, lookup(&ev, "|b|", 1).key, &Err(failure)).unwrap();
        assert_eq!(lookup(&ev, "|a|", 1).hit.map(|o| o.val_acc), Some(90.0));
        assert!(
            lookup(&ev, "|a|", 2).hit.is_none(),
            "the seed is part of the key"
        );
        assert!(
            lookup(&ev, "|b|", 1).hit.is_none(),
            "failures are not cached"
        );
        ev.cache = Some(Arc::new(CacheFile::open(&path).unwrap()));
        assert_eq!(
            lookup(&ev, "|a|", 1).hit.map(|o| o.test_acc),
            Some(Some(89.0))
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
