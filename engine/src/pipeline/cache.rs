//! Cache middleware: a result cache shared by runs (and processes) in a JSONL file, consulted
//! before a cell is evaluated and filled after. An evaluation is keyed by
//! [`Evaluation::key`]: (space, arch, dataset, evaluator config, trial seed).

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

/// How every line of a cache file begins (`CacheLine`'s first field).
const RECORD_START: &[u8] = b"{\"key\":";

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
    /// Opens (creating) a cache file and loads its valid entries. Torn lines (a kill or a full
    /// disk in the middle of an append) are removed from the file under its exclusive lock, so
    /// that they are reported once: no append is in progress while the lock is held, and every
    /// whole line is kept.
    pub fn open(path: &Path) -> Result<CacheFile, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.lock()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let loaded = load_and_repair(path);
        let _ = file.unlock();
        let (cache, skipped) = loaded.map_err(|e| format!("{}: {e}", path.display()))?;
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

/// Reads the cache file (its lock held) into a cache, with why each line that was skipped was
/// skipped, and rewrites the file without its torn lines (those that are not whole records: the
/// remains of an interrupted append), in place, since other processes hold it open.
fn load_and_repair(path: &Path) -> std::io::Result<(ResultCache, Vec<String>)> {
    use std::io::Write;
    let bytes = std::fs::read(path)?;
    // Only a file emprox wrote is read as a cache, let alone repaired: every record, and so
    // every torn first record, begins as a serialised `CacheLine` does.
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| !bytes[i..].starts_with(RECORD_START)) {
        return Err(std::io::Error::other(
            "not an emprox result cache (its first line is no cache record): name a new file \
             or one emprox wrote; this one is left as it is",
        ));
    }
    let mut cache = ResultCache::new();
    let mut skipped = Vec::new();
    let mut whole = Vec::with_capacity(bytes.len());
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = if line.ends_with(b"\n") {
            // As text first: `from_slice` lets invalid UTF-8 through in the strings of fields it
            // ignores, and such a line is no JSON for any other reader of the file.
            std::str::from_utf8(line)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<CacheLine>(t).map_err(|e| e.to_string()))
                .map_err(|e| format!("{e} (a torn line, removed)"))
        } else {
            Err("a torn last line (removed)".to_string())
        };
        let Ok(l) = parsed.map_err(|why| skipped.push(format!("line {}: {why}", i + 1))) else {
            continue;
        };
        whole.extend_from_slice(line);
        match check_cached(&l.outcome) {
            Ok(()) => cache.insert(l.key, &Ok(l.outcome)),
            Err(why) => skipped.push(format!("line {}: {why}", i + 1)),
        }
    }
    if whole.len() != bytes.len() {
        // The whole lines only move towards the start: a crash part-way leaves whole lines and
        // at worst a torn one, which the next open removes.
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.write_all(&whole)?;
        f.set_len(whole.len() as u64)?;
        f.sync_data()?;
    }
    Ok((cache, skipped))
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

/// Looks up an evaluation in `cache` (none: no lookup and no key), computing its key once with
/// `key` (for [`store`]); the key is [`crate::evaluators::Evaluation::key`] in the loop.
pub fn lookup(cache: Option<&CacheFile>, key: impl FnOnce() -> String) -> Lookup {
    let Some(cache) = cache else {
        return Lookup::default();
    };
    let key = key();
    Lookup {
        hit: cache.get(&key),
        key: Some(key),
    }
}

/// Stores the result of an evaluation looked up as `key` (a success only).
pub fn store(
    cache: Option<&CacheFile>,
    key: Option<String>,
    result: &Result<Outcome, EvalFailure>,
) -> Result<(), WriteError> {
    match (cache, key) {
        (Some(c), Some(k)) => c.put(k, result),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(v: f64) -> Outcome {
        Outcome {
            val_acc: v,
            test_acc: Some(v - 1.0),
            cost_seconds: 3.0,
            extras: vec![],
        }
    }

    #[test]
    fn a_line_with_invalid_utf8_is_removed_even_in_a_field_that_is_ignored() {
        // Found by fuzzing (`fuzz/regressions/cache/invalid-utf8-in-ignored-field`).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let good = b"{\"key\":\"a\",\"outcome\":{\"val_acc\":1.0,\"cost_seconds\":0.0}}\n";
        let mut bytes = good.to_vec();
        bytes.extend_from_slice(
            b"{\"key\":\"b\",\"outcome\":{\"val_acc\":1.0,\"cost_seconds\":0.0,",
        );
        bytes.extend_from_slice(b"\"x\":\"\xff\"}}\n");
        std::fs::write(&path, &bytes).unwrap();
        let c = CacheFile::open(&path).unwrap();
        assert!(c.get("a").is_some());
        assert!(c.get("b").is_none());
        assert_eq!(std::fs::read(&path).unwrap(), good);
    }

    #[test]
    fn a_stored_success_is_found_again_by_key_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        fn key(arch: &'static str, seed: u64) -> impl FnOnce() -> String {
            move || format!("{arch}/{seed}")
        }
        assert!(
            lookup(None, key("|a|", 1)).key.is_none(),
            "no cache, no key"
        );
        let mut cache = CacheFile::open(&path).unwrap();
        let miss = lookup(Some(&cache), key("|a|", 1));
        assert!(miss.hit.is_none());
        assert_eq!(miss.key.as_deref(), Some("|a|/1"));
        store(Some(&cache), miss.key, &Ok(outcome(90.0))).unwrap();
        let failure = EvalFailure {
            reason: "timeout".into(),
            cost_seconds: 1.0,
        };
        let b = lookup(Some(&cache), key("|b|", 1)).key;
        store(Some(&cache), b, &Err(failure)).unwrap();
        let hit = |c: &CacheFile, arch: &'static str, seed| lookup(Some(c), key(arch, seed)).hit;
        assert_eq!(hit(&cache, "|a|", 1).map(|o| o.val_acc), Some(90.0));
        assert!(hit(&cache, "|a|", 2).is_none(), "another key");
        assert!(hit(&cache, "|b|", 1).is_none(), "failures are not cached");
        cache = CacheFile::open(&path).unwrap();
        assert_eq!(hit(&cache, "|a|", 1).map(|o| o.test_acc), Some(Some(89.0)));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_file_emprox_did_not_write_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.jsonl");
        let notes = "my notes\n{\"key\": \"not ours\"}\n";
        std::fs::write(&path, notes).unwrap();
        let e = CacheFile::open(&path).err().expect("refused");
        assert!(e.contains("not an emprox result cache"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), notes);
        // The first record's serialisation is what the check looks for.
        let line = serde_json::to_vec(&CacheLine {
            key: "k".into(),
            outcome: outcome(1.0),
        })
        .unwrap();
        assert!(line.starts_with(RECORD_START));
    }

    #[test]
    fn torn_lines_are_removed_once_and_whole_lines_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let line = |key: &str, v: f64| {
            let mut l = serde_json::to_string(&CacheLine {
                key: key.into(),
                outcome: outcome(v),
            })
            .unwrap();
            l.push('\n');
            l
        };
        let (a, b, absurd) = (line("a", 90.0), line("b", 80.0), line("c", 1e9));
        // A torn fragment that a later append put on its own line, an absurd value (a whole
        // line: kept, and ignored), and a torn last line.
        let torn = &b[..b.len() / 2];
        std::fs::write(&path, format!("{a}{torn}\n{absurd}{b}{torn}")).unwrap();
        let c = CacheFile::open(&path).unwrap();
        assert!(c.get("a").is_some() && c.get("b").is_some() && c.get("c").is_none());
        let repaired = format!("{a}{absurd}{b}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), repaired);
        // Appends follow the whole lines; reopening changes nothing.
        c.put("d".into(), &Ok(outcome(70.0))).unwrap();
        drop(c);
        let c = CacheFile::open(&path).unwrap();
        assert_eq!(c.get("d").map(|o| o.val_acc), Some(70.0));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{repaired}{}", line("d", 70.0))
        );
    }
}
