//! Progress display: an indicatif bar on a terminal, plain tracing logs otherwise.

use crate::search::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Failed evaluations whose reason is printed in full; later ones are only counted.
pub const FAILURES_SHOWN: u64 = 3;

/// Progress over all runs of an experiment.
pub struct Reporter {
    bar: Option<ProgressBar>,
    best: Mutex<Option<(f64, f64)>>,
    total: Option<u64>,
    failed: AtomicU64,
}

impl Reporter {
    /// A reporter for `total` queries over all runs (if known).
    pub fn new(total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            b.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} queries  {msg}  [{elapsed_precise}]",
                )
                .expect("valid template"),
            );
            b
        });
        Self {
            bar,
            best: Mutex::new(None),
            total,
            failed: AtomicU64::new(0),
        }
    }

    /// New failed evaluations reported so far.
    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        let n = self.failures();
        if n > FAILURES_SHOWN {
            eprintln!(
                "warning: {} more evaluation(s) failed (reasons in the runs' trials.jsonl)",
                n - FAILURES_SHOWN
            );
        }
    }
}

impl Progress for Reporter {
    fn failed(&self, run: u64, query: u64, arch: &str, reason: &str) {
        let n = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= FAILURES_SHOWN {
            let msg = format!("warning: run {run} query {query} ({arch}) failed: {reason}");
            match &self.bar {
                Some(bar) => bar.suspend(|| eprintln!("{msg}")),
                None => eprintln!("{msg}"),
            }
        }
    }

    fn query(&self, run: u64, query: u64, best: Option<(f64, f64)>) {
        let mut g = self.best.lock().expect("progress lock");
        if let Some((v, t)) = best {
            if g.is_none_or(|(bv, _)| v > bv) {
                *g = Some((v, t));
            }
        }
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if let Some((v, t)) = *g {
                    bar.set_message(format!("best val {v:.2}%  test {t:.2}%"));
                }
            }
            None => {
                if query.is_multiple_of(50) {
                    tracing::info!(run, query, total = ?self.total, best_val = ?g.map(|b| b.0), best_test = ?g.map(|b| b.1), "progress");
                }
            }
        }
    }
}
