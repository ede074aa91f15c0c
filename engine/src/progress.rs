//! Progress display: an indicatif bar on a terminal, plain tracing logs otherwise.

use crate::search::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

/// Progress over all runs of an experiment.
pub struct Reporter {
    bar: Option<ProgressBar>,
    best: Mutex<Option<(f64, f64)>>,
    total: Option<u64>,
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
        }
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
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
