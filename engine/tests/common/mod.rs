//! Helpers shared by the integration tests: the binary, the repository root, JSON lines.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (examples are given relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `emprox` binary, run in the repository root.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emprox"));
    c.current_dir(root());
    c
}

/// Runs `emprox ARGS` to completion.
pub fn emprox(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

/// Runs `emprox ARGS` and asserts success.
pub fn emprox_ok(args: &[&str]) -> Output {
    let o = emprox(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Asserts a clean refusal: exit 2, one error line that contains `needle`, no panic.
pub fn assert_refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "{needle:?} not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Every file under `dir`, with its bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Files of the user's at `mine`, inside an emprox folder `out`, survive `emprox ARGS` (an
/// `--overwrite`): it succeeds, as `emprox run --overwrite` in its own folder (emprox's files
/// go, the user's stay, the run starts again beside them), and `results` checks what it wrote.
/// Then, with the inner folder's `manifest` removed (no longer an emprox folder, which the
/// inner run's `--overwrite` would refuse), it is refused before anything is deleted.
pub fn users_files_survive_overwrite(
    out: &Path,
    mine: &[PathBuf],
    args: &[&str],
    manifest: &Path,
    results: impl FnOnce(),
) {
    for f in mine {
        std::fs::write(f, "the user's").unwrap();
    }
    let users_kept = || {
        for f in mine {
            assert_eq!(std::fs::read_to_string(f).unwrap(), "the user's");
        }
    };
    emprox_ok(args);
    users_kept();
    results();
    std::fs::remove_file(manifest).unwrap();
    // The locks are rewritten with the process id of whoever takes them.
    let files = || {
        let mut t = tree(out);
        t.retain(|p, _| p.file_name().unwrap() != ".emprox.lock");
        t
    };
    let before = files();
    assert_refused(&emprox(args), "is not an emprox output folder");
    assert_eq!(files(), before, "nothing deleted");
    users_kept();
}

/// The records of a JSON-lines file.
pub fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The text of a shipped example whose relative paths (`"spaces/…"`, `"../benchmarks/…"`) are
/// made absolute, to be written anywhere.
pub fn example_anywhere(name: &str) -> String {
    let root = root();
    std::fs::read_to_string(root.join("examples").join(name))
        .unwrap()
        .replace(
            "\"spaces/",
            &format!("\"{}/examples/spaces/", root.display()),
        )
        .replace(
            "\"../benchmarks/",
            &format!("\"{}/benchmarks/", root.display()),
        )
}

/// The `summary.json` of a run folder.
pub fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

/// A path as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `emprox ARGS` with its stdout closed before it writes (a reader that went away, as in
/// `emprox ... | head -1`).
pub fn emprox_closed_stdout<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("binary runs")
}

/// Limits the size of every file `cmd` writes to `bytes` (RLIMIT_FSIZE): a write past it fails
/// with EFBIG ("File too large"), as on a full disk, instead of killing the process.
#[cfg(unix)]
pub fn limit_file_size(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs between fork and
    // exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// Runs emprox with `args` and kills it once `journal` holds `n` lines (or after 60 s).
pub fn kill_when<S: AsRef<std::ffi::OsStr>>(args: &[S], journal: &Path, n: usize) {
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < 60
        && std::fs::read_to_string(journal).map_or(0, |t| t.lines().count()) < n
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
