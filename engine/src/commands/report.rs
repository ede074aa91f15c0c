//! `emprox report`: write `report.html`, one self-contained page, into an experiment or
//! comparison folder (see [`crate::report`]); `run` and `compare` call [`write_locked`] at their
//! end.

use crate::rundir::FolderLock;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `emprox report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A folder written by `emprox run` or `emprox compare`.
    pub folder: PathBuf,
    /// Open the report in the default browser (`xdg-open`, or `open` on macOS) where there is one.
    #[arg(long)]
    pub open: bool,
}

/// Runs `emprox report`: takes the folder's lock (no run writes there meanwhile), writes the
/// page and prints its path.
pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let dir = &args.folder;
    anyhow::ensure!(dir.is_dir(), "{} is not a folder", dir.display());
    crate::report::kind(dir)?;
    let _lock = FolderLock::acquire(dir)?;
    let path = crate::report::write(dir)?;
    super::print_out(&format!("report in {}\n", path.display()))?;
    if args.open {
        open(&path);
    }
    Ok(())
}

/// Writes the report of a folder whose lock the caller holds (the end of `run` and `compare`);
/// a report that cannot be written is a warning: the results are on disk.
pub fn write_locked(dir: &Path) -> Option<PathBuf> {
    match crate::report::write(dir) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("no report written: {e}");
            None
        }
    }
}

/// Opens `path` in the default browser, or says how to.
fn open(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_err() {
        crate::progress::say(&format!(
            "no browser opener ({opener}) here: open {} in a browser",
            path.display()
        ));
    }
}
