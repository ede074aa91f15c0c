//! Progress display. On a terminal: an indicatif bar with an ETA that ticks on time. Elsewhere
//! (nohup, a pipe, a cluster job): plain lines on stderr, one per evaluation for slow evaluators
//! (training, external commands) and, for table lookups, every [`LINE_EVERY`] queries (or every
//! tenth of the experiment, if that is more) and at the end, each with the incumbent of the run
//! that made the query and an ETA; no colour codes. `--quiet`: nothing but errors and
//! the final result.

use crate::search::{ExperimentStart, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed evaluations whose reason is printed in full; later ones are only counted.
pub const FAILURES_SHOWN: u64 = 3;

/// Outside a terminal, table lookups print a line at least this many queries apart (over all
/// runs), and at the last query.
pub const LINE_EVERY: u64 = 50;

static QUIET: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline to stderr. A stderr that cannot be written (a full disk, a closed
/// descriptor) is ignored: progress, warnings and log lines must never stop a run (`eprintln!`
/// would panic).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `--quiet`: no progress and no warnings, only errors and the final result.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

/// True under `--quiet`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::SeqCst)
}

enum Display {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

/// The experiment being run (a comparison runs several, one after another).
struct Current {
    label: String,
    queries_per_run: Option<u64>,
    total: Option<u64>,
    every: u64,
    done: u64,
    started: Instant,
}

/// Progress over all runs of an experiment (or of each experiment of a comparison in turn).
pub struct Reporter {
    display: Display,
    current: Mutex<Current>,
    failed: AtomicU64,
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter {
    /// A reporter: a bar on a terminal, plain lines otherwise, nothing under `--quiet`.
    pub fn new() -> Self {
        let display = if quiet() {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(200));
            Display::Bar(b)
        } else {
            Display::Lines
        };
        Self {
            display,
            current: Mutex::new(Current {
                label: String::new(),
                queries_per_run: None,
                total: None,
                every: LINE_EVERY,
                done: 0,
                started: Instant::now(),
            }),
            failed: AtomicU64::new(0),
        }
    }

    /// New failed evaluations reported so far.
    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Display::Bar(b) = &self.display {
            b.finish_and_clear();
        }
        let n = self.failures();
        if n > FAILURES_SHOWN && !matches!(self.display, Display::Quiet) {
            say(&format!(
                "warning: {} more evaluation(s) failed (reasons in the runs' trials.jsonl)",
                n - FAILURES_SHOWN
            ));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Seconds as `4.2s`, `3m 05s` or `2h 07m`.
pub fn human_secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    let whole = s.round() as u64;
    if s < 60.0 {
        format!("{s:.1}s")
    } else if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

/// A run's incumbent, as plain text.
fn incumbent(best: Option<(f64, f64)>) -> String {
    match best {
        Some((v, t)) if t.is_finite() => format!("run's best val {v:.4} (test {t:.4})"),
        Some((v, _)) => format!("run's best val {v:.4}"),
        None => "no successful evaluation yet".into(),
    }
}

impl Progress for Reporter {
    fn experiment(&self, start: &ExperimentStart) {
        let mut c = self.lock();
        c.label = format!("{} on {}", start.name, start.dataset);
        c.queries_per_run = start.queries_per_run;
        c.total = start.queries_per_run.map(|q| q.saturating_mul(start.runs));
        c.every = match (start.slow, c.total) {
            (true, _) => 1,
            (false, Some(t)) => (t / 10).max(LINE_EVERY),
            (false, None) => LINE_EVERY,
        };
        c.done = 0;
        c.started = Instant::now();
        if let Display::Bar(bar) = &self.display {
            let template = match c.total {
                Some(_) => {
                    "{prefix} {bar:30} {pos}/{len} queries  {msg}  [{elapsed_precise}, ETA {eta}]"
                }
                None => "{prefix} {spinner} {pos} queries  {msg}  [{elapsed_precise}]",
            };
            bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
            bar.set_prefix(c.label.clone());
            bar.set_length(c.total.unwrap_or(0));
            bar.reset();
            bar.set_message("");
        }
    }

    fn failed(&self, run: u64, query: u64, arch: &str, reason: &str) {
        let n = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= FAILURES_SHOWN {
            let msg = format!("warning: run {run} query {query} ({arch}) failed: {reason}");
            match &self.display {
                Display::Bar(bar) => bar.suspend(|| say(&msg)),
                Display::Lines => say(&msg),
                Display::Quiet => {}
            }
        }
    }

    fn query(&self, run: u64, query: u64, best: Option<(f64, f64)>) {
        let mut c = self.lock();
        c.done += 1;
        match &self.display {
            Display::Quiet => {}
            Display::Bar(bar) => {
                bar.inc(1);
                bar.set_message(format!("run {run}: {}", incumbent(best)));
            }
            Display::Lines => {
                if !(c.done.is_multiple_of(c.every) || c.total == Some(c.done)) {
                    return;
                }
                let of = c
                    .queries_per_run
                    .map(|q| format!("/{q}"))
                    .unwrap_or_default();
                let elapsed = c.started.elapsed().as_secs_f64();
                let overall = match c.total {
                    Some(total) => {
                        let left = total.saturating_sub(c.done) as f64;
                        format!(
                            "{}/{total} queries in {}, ETA {}",
                            c.done,
                            human_secs(elapsed),
                            human_secs(elapsed / c.done as f64 * left)
                        )
                    }
                    None => format!("{} queries in {}", c.done, human_secs(elapsed)),
                };
                say(&format!(
                    "{}: run {run} query {query}{of}: {}; {overall}",
                    c.label,
                    incumbent(best)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(human_secs(4.24), "4.2s");
        assert_eq!(human_secs(185.0), "3m 05s");
        assert_eq!(human_secs(7620.0), "2h 07m");
        assert_eq!(human_secs(f64::NAN), "?");
        assert_eq!(incumbent(None), "no successful evaluation yet");
        assert_eq!(incumbent(Some((91.5, f64::NAN))), "run's best val 91.5000");
    }
}
