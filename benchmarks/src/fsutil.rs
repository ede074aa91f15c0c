//! File-system helpers shared by every crate that writes results.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary partner of `path` used by [`write_atomic`]: `NAME.tmp` beside it.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file beside it, synced and then renamed over
/// `path`: a crash or power loss leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_data()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if res.is_err() {
        // Only our own temporary file, never the target.
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(tmp_path(&p), dir.path().join("summary.json.tmp"));
        assert!(!tmp_path(&p).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-folder").join("x.svg");
        assert!(write_atomic(&p, b"x").is_err());
        let q = dir.path().join("x.svg");
        write_atomic(&q, b"old").unwrap();
        // A folder in the way of the temporary file makes the write fail.
        std::fs::create_dir(tmp_path(&q)).unwrap();
        assert!(write_atomic(&q, b"new").is_err());
        assert_eq!(std::fs::read(&q).unwrap(), b"old");
    }
}
